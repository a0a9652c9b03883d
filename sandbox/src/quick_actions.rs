//! Quick actions in issue descriptions: finding the command lines and reading their
//! arguments (GitLab: `lib/gitlab/quick_actions/extractor.rb`,
//! `lib/banzai/filter/quick_action_filter.rb`). What a command does, and when it is
//! available, is decided in `api/issues/commands.rs`, on create and on edit through
//! the REST API, as `app/services/issuable_base_service.rb` runs them.
//!
//! Modelled commands: `/close`, `/reopen`, `/title`, `/label` (`/labels`), `/unlabel`
//! (`/remove_label`), `/relabel`, `/assign`, `/unassign`. Every other GitLab command
//! name in [`COMMAND_NAMES`] is recognised, so its line is removed from the stored
//! description as GitLab removes it, but it does nothing here (`/milestone`, `/due`,
//! `/estimate`, `/spend`, `/confidential`, `/lock`, `/duplicate`, `/move`, …). Quick
//! actions in notes are not modelled.
//!
//! The line rules: a command is a line of a top-level paragraph that starts with `/`
//! in its first column, then a known name in any case, then nothing, whitespace, or a
//! space and the arguments. Lines in fenced code (```` ``` ````, `~~~`), `>>>` quote
//! fences, blockquotes, list items (and their lazy continuation lines, and a fence in an
//! item, which a line indented less ends), indented code, HTML blocks (CommonMark's
//! seven kinds: a comment or `<pre>` ends on the line closing it, an autolink starts a
//! paragraph) and inline code spans are never commands. A command line is removed with
//! the blank lines right after it, and the result loses its trailing whitespace, even
//! when the command then does nothing (the extractor strips every known name).
//! Setext headings and tables are not recognised as such.

/// The names of GitLab's issue, merge request and work item commands and their
/// aliases (`lib/gitlab/quick_actions/*_actions.rb`, `doc/user/project/quick_actions.md`).
pub const COMMAND_NAMES: &[&str] = &[
    "close",
    "reopen",
    "title",
    "label",
    "labels",
    "unlabel",
    "remove_label",
    "relabel",
    "assign",
    "unassign",
    "assign_reviewer",
    "reviewer",
    "request_review",
    "unassign_reviewer",
    "remove_reviewer",
    "milestone",
    "remove_milestone",
    "due",
    "remove_due_date",
    "estimate",
    "estimate_time",
    "remove_estimate",
    "remove_time_estimate",
    "spend",
    "spent",
    "spend_time",
    "remove_time_spent",
    "todo",
    "done",
    "subscribe",
    "unsubscribe",
    "award",
    "react",
    "lock",
    "unlock",
    "confidential",
    "duplicate",
    "move",
    "clone",
    "copy_metadata",
    "create_merge_request",
    "zoom",
    "remove_zoom",
    "board_move",
    "target_branch",
    "draft",
    "ready",
    "merge",
    "rebase",
    "approve",
    "unapprove",
    "submit_review",
    "severity",
    "promote_to_incident",
    "relate",
    "unrelate",
    "blocks",
    "blocked_by",
    "weight",
    "clear_weight",
    "remove_weight",
    "epic",
    "remove_epic",
    "iteration",
    "remove_iteration",
    "health_status",
    "clear_health_status",
    "timeline",
    "add_contacts",
    "remove_contacts",
    "invite_email",
    "remove_email",
    "set_parent",
    "remove_parent",
    "add_child",
    "remove_child",
    "type",
    "status",
];

/// A command found in a text: its name in lower case and its argument text, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// The name, lower-cased.
    pub name: String,
    /// What followed the name and a space, trimmed; empty if nothing.
    pub arg: String,
}

/// Where the scan is, between lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Block {
    /// After a blank line or at the start.
    None,
    /// In a top-level paragraph: the only place commands live.
    Paragraph,
    /// In a blockquote or list item, whose lazy continuation lines belong to it.
    Container,
}

/// The text without its command lines, and the commands in order.
pub fn extract(content: &str) -> (String, Vec<Command>) {
    let content = content.replace('\r', "");
    let lines: Vec<&str> = content.split_inclusive('\n').collect();
    let mut scan = Scan::default();
    let mut out = String::with_capacity(content.len());
    let mut commands = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        i += 1;
        if scan.is_paragraph_command_line(line)
            && let Some(command) = parse_command(line)
        {
            commands.push(command);
            // `(?:\s*\n|$)`: the blank lines after a command go with it.
            while i < lines.len() && lines[i].ends_with('\n') && lines[i].trim().is_empty() {
                i += 1;
                scan.block = Block::None;
            }
            continue;
        }
        out.push_str(line);
    }
    (out.trim_end().to_owned(), commands)
}

/// The Markdown block structure, as far as commands care.
#[derive(Debug)]
struct Scan {
    block: Block,
    /// The fence character and length of an open code fence, and, when it was opened in
    /// a list item or quote, the indent a line needs to stay in it.
    fence: Option<(char, usize, Option<usize>)>,
    /// Inside a `>>>` quote fence.
    quote_fence: bool,
    /// Inside an HTML block, and what ends it.
    html: Option<HtmlEnd>,
    /// An inline code span opened in this paragraph is still open.
    open_code_span: bool,
    /// The content column of the list item the lines are in, if any: a blank line does
    /// not end it, a line indented less after a blank line does.
    list: Option<usize>,
    /// The previous line was blank.
    after_blank: bool,
}

impl Default for Scan {
    fn default() -> Self {
        Scan {
            block: Block::None,
            fence: None,
            quote_fence: false,
            html: None,
            open_code_span: false,
            list: None,
            after_blank: false,
        }
    }
}

impl Scan {
    /// Takes in `line`; true if it is a line of a top-level paragraph that starts
    /// with `/` outside any code span, i.e. a candidate command line.
    fn is_paragraph_command_line(&mut self, line: &str) -> bool {
        let text = line.trim_end_matches('\n');
        let indent = indent_width(text);
        let t = text.trim_start();
        let after_blank = std::mem::replace(&mut self.after_blank, t.is_empty());
        if let Some(content) = self.list
            && !t.is_empty()
            && indent < content
            && (after_blank || self.fence.is_some() || starts_block(t, self.block))
        {
            // A line not indented enough for the list item ends it (a lazy line only
            // continues a paragraph), and a fence in it with it.
            self.list = None;
            if self.fence.is_some_and(|(_, _, inside)| inside.is_some()) {
                self.fence = None;
                self.block = Block::None;
            }
        }
        if let Some((c, n, _)) = self.fence {
            if indent < 4
                && t.starts_with(&c.to_string().repeat(n))
                && t.trim_matches(c).trim().is_empty()
            {
                self.fence = None;
            }
            return false;
        }
        if self.quote_fence {
            self.quote_fence = text.trim_end() != ">>>";
            return false;
        }
        match self.html {
            Some(HtmlEnd::Containing(end)) => {
                if contains_ignoring_case(text, end) {
                    self.html = None;
                }
                return false;
            }
            Some(HtmlEnd::BlankLine) if !t.is_empty() => return false,
            _ => {}
        }
        if t.is_empty() {
            self.html = None;
            self.block = Block::None;
            self.open_code_span = false;
            return false;
        }
        if indent < 4 && self.opens_block(text, t) {
            return false;
        }
        if self.block == Block::Container {
            return false; // a lazy continuation line
        }
        if indent >= 4 && self.block == Block::None {
            return false; // indented code
        }
        self.block = Block::Paragraph;
        let candidate = text.starts_with('/') && !self.open_code_span;
        if text.matches('`').count() % 2 == 1 {
            self.open_code_span = !self.open_code_span;
        }
        candidate
    }

    /// True if `t` (the line without its indent) starts a block that is not a
    /// paragraph: a fence, a blockquote, a list item, a heading, an HTML block.
    fn opens_block(&mut self, text: &str, t: &str) -> bool {
        for c in ['`', '~'] {
            let n = t.chars().take_while(|x| *x == c).count();
            if n >= 3 {
                let inside = self.list.filter(|content| indent_width(text) >= *content);
                self.fence = Some((c, n, inside));
                self.block = Block::None;
                return true;
            }
        }
        if text.trim_end() == ">>>" {
            self.quote_fence = true;
            self.block = Block::None;
            return true;
        }
        if let Some(width) = list_marker_width(t) {
            let spaces = t[width..].len() - t[width..].trim_start_matches(' ').len();
            let gap = if (1..=4).contains(&spaces) { spaces } else { 1 };
            self.list = Some(indent_width(text) + width + gap);
            self.block = Block::Container;
            return true;
        }
        if t.starts_with('>') {
            self.block = Block::Container;
            return true;
        }
        let hashes = t.chars().take_while(|c| *c == '#').count();
        if (1..=6).contains(&hashes) && t[hashes..].chars().next().is_none_or(char::is_whitespace) {
            self.block = Block::None;
            return true;
        }
        if let Some(end) = html_block_start(t, self.block == Block::Paragraph) {
            // Kinds 1–5 end on the line holding their end, which may be this one.
            self.html = match end {
                HtmlEnd::Containing(s) if contains_ignoring_case(t, s) => None,
                end => Some(end),
            };
            self.block = Block::None;
            return true;
        }
        false
    }
}

/// `t` (a line without its indent) starts a block of its own, so it cannot be a lazy
/// continuation line of a list item.
fn starts_block(t: &str, block: Block) -> bool {
    let hashes = t.chars().take_while(|c| *c == '#').count();
    ['`', '~']
        .iter()
        .any(|c| t.starts_with(&c.to_string().repeat(3)))
        || t.starts_with('>')
        || list_marker_width(t).is_some()
        || ((1..=6).contains(&hashes) && t[hashes..].chars().next().is_none_or(char::is_whitespace))
        || html_block_start(t, block == Block::Paragraph).is_some()
}

/// What ends an HTML block: a line containing a string (CommonMark's kinds 1–5), or a
/// blank line (kinds 6 and 7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HtmlEnd {
    Containing(&'static str),
    BlankLine,
}

/// The tag names of CommonMark's kind 6 HTML blocks.
const BLOCK_TAGS: &[&str] = &[
    "address",
    "article",
    "aside",
    "base",
    "basefont",
    "blockquote",
    "body",
    "caption",
    "center",
    "col",
    "colgroup",
    "dd",
    "details",
    "dialog",
    "dir",
    "div",
    "dl",
    "dt",
    "fieldset",
    "figcaption",
    "figure",
    "footer",
    "form",
    "frame",
    "frameset",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "head",
    "header",
    "hr",
    "html",
    "iframe",
    "legend",
    "li",
    "link",
    "main",
    "menu",
    "menuitem",
    "nav",
    "noframes",
    "ol",
    "optgroup",
    "option",
    "p",
    "param",
    "search",
    "section",
    "summary",
    "table",
    "tbody",
    "td",
    "tfoot",
    "th",
    "thead",
    "title",
    "tr",
    "track",
    "ul",
];

/// Whether `t` (a line without its indent of at most three spaces) starts an HTML
/// block, and what ends it. GitLab renders Markdown with a CommonMark parser (comrak,
/// through `glfm_markdown`), and `quick_action_filter.rb` takes only the top-level `<p>`
/// of its output, so a command line is one exactly when CommonMark makes it a paragraph
/// line: the HTML block start conditions of the CommonMark spec (§4.6). Kinds 1–6 may
/// interrupt a paragraph, kind 7 (any other complete tag alone on its line) may not.
/// `spec/lib/banzai/pipeline/quick_action_pipeline_spec.rb`: after a
/// `<!-- HTML comment -->` line, `/quick` is a paragraph, hence a command. A line that
/// starts with `<` and matches none (an autolink, `<b>x</b> and text`) is a paragraph.
fn html_block_start(t: &str, in_paragraph: bool) -> Option<HtmlEnd> {
    let lower = t.to_ascii_lowercase();
    let rest = lower.strip_prefix('<')?;
    let name_end = |name: &str| {
        rest.strip_prefix(name)
            .is_some_and(|after| after.is_empty() || after.starts_with([' ', '\t', '>']))
    };
    for (name, end) in [
        ("pre", "</pre>"),
        ("script", "</script>"),
        ("style", "</style>"),
        ("textarea", "</textarea>"),
    ] {
        if name_end(name) {
            return Some(HtmlEnd::Containing(end));
        }
    }
    if rest.starts_with("!--") {
        return Some(HtmlEnd::Containing("-->"));
    }
    if rest.starts_with('?') {
        return Some(HtmlEnd::Containing("?>"));
    }
    if rest.starts_with("![cdata[") {
        return Some(HtmlEnd::Containing("]]>"));
    }
    if rest
        .strip_prefix('!')
        .is_some_and(|r| r.starts_with(|c: char| c.is_ascii_alphabetic()))
    {
        return Some(HtmlEnd::Containing(">"));
    }
    let tag = rest.strip_prefix('/').unwrap_or(rest);
    let name: String = tag
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect();
    let after = &tag[name.len()..];
    if BLOCK_TAGS.contains(&name.as_str())
        && (after.is_empty() || after.starts_with([' ', '\t', '>']) || after.starts_with("/>"))
    {
        return Some(HtmlEnd::BlankLine);
    }
    (!in_paragraph && is_complete_tag_alone(rest)).then_some(HtmlEnd::BlankLine)
}

/// CommonMark's kind 7: an open tag (name, attributes, `/>` or `>`) or a closing tag,
/// and nothing after it but whitespace. `rest` is the line after `<`, lower-cased.
fn is_complete_tag_alone(rest: &str) -> bool {
    let (closing, tag) = match rest.strip_prefix('/') {
        Some(tag) => (true, tag),
        None => (false, rest),
    };
    if !tag.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return false;
    }
    let name_len = tag
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .unwrap_or(tag.len());
    let mut s = &tag[name_len..];
    if !closing {
        // Attributes: whitespace, a name, and an optional unquoted or quoted value.
        loop {
            let trimmed = s.trim_start_matches([' ', '\t']);
            if trimmed.len() == s.len() {
                break;
            }
            let attr_len = trimmed
                .find(|c: char| !(c.is_ascii_alphanumeric() || "_.:-".contains(c)))
                .unwrap_or(trimmed.len());
            if attr_len == 0
                || !trimmed.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_' || c == ':')
            {
                s = trimmed;
                break;
            }
            s = &trimmed[attr_len..];
            let value = s.trim_start_matches([' ', '\t']);
            if let Some(v) = value.strip_prefix('=') {
                let v = v.trim_start_matches([' ', '\t']);
                let consumed = match v.chars().next() {
                    Some(q @ ('"' | '\'')) => v[1..].find(q).map(|end| end + 2),
                    Some(_) => Some(
                        v.find(|c: char| c.is_whitespace() || "\"'=<>`".contains(c))
                            .unwrap_or(v.len()),
                    )
                    .filter(|n| *n > 0),
                    None => None,
                };
                let Some(consumed) = consumed else {
                    return false;
                };
                s = &v[consumed..];
            }
        }
        s = s.strip_prefix('/').unwrap_or(s);
    } else {
        s = s.trim_start_matches([' ', '\t']);
    }
    s.strip_prefix('>')
        .is_some_and(|after| after.trim().is_empty())
}

/// `text` holds `needle` (lower case), in any case.
fn contains_ignoring_case(text: &str, needle: &str) -> bool {
    text.to_ascii_lowercase().contains(needle)
}

/// Columns of leading whitespace, a tab counting as four.
fn indent_width(text: &str) -> usize {
    text.chars()
        .take_while(|c| *c == ' ' || *c == '\t')
        .map(|c| if c == '\t' { 4 } else { 1 })
        .sum()
}

/// `- `, `* `, `+ `, `1. `, `1) ` (or the marker alone on its line): the marker's width.
fn list_marker_width(t: &str) -> Option<usize> {
    let digits = t.chars().take_while(char::is_ascii_digit).count();
    let width = if t.starts_with(['-', '*', '+']) {
        1
    } else if (1..=9).contains(&digits) && t[digits..].starts_with(['.', ')']) {
        digits + 1
    } else {
        return None;
    };
    let rest = &t[width..];
    (rest.is_empty() || rest.starts_with([' ', '\t'])).then_some(width)
}

/// `/name`, `/name ARGS` or `/name` and whitespace, with a known name in any case.
fn parse_command(line: &str) -> Option<Command> {
    let text = line.trim_end_matches('\n').strip_prefix('/')?;
    let end = text.find(|c: char| c.is_whitespace()).unwrap_or(text.len());
    let (name, rest) = text.split_at(end);
    let name = name.to_lowercase();
    if !COMMAND_NAMES.contains(&name.as_str()) {
        return None;
    }
    let arg = match rest.strip_prefix(' ') {
        Some(arg) => arg.trim().to_owned(),
        None if rest.trim().is_empty() => String::new(),
        None => return None,
    };
    Some(Command { name, arg })
}

/// Label names in an argument: `~name`, `~"multi word"`, or bare words.
pub fn label_names(arg: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = arg.trim_start();
    while !rest.is_empty() {
        let word = rest.strip_prefix('~').unwrap_or(rest);
        let (name, after) = match word.strip_prefix('"') {
            Some(quoted) => match quoted.find('"') {
                Some(end) => (&quoted[..end], &quoted[end + 1..]),
                None => (quoted, ""),
            },
            None => {
                let end = word.find(char::is_whitespace).unwrap_or(word.len());
                (&word[..end], &word[end..])
            }
        };
        if !name.is_empty() && !names.iter().any(|n| n == name) {
            names.push(name.to_owned());
        }
        rest = after.trim_start();
    }
    names
}

/// Usernames in an argument, split on whitespace and commas, without `and` and `@`
/// (`lib/gitlab/quick_actions/users_extractor.rb`); `me` is kept for the caller.
pub fn usernames(arg: &str) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for word in arg.split(|c: char| c.is_whitespace() || c == ',') {
        if word.is_empty() || word == "and" {
            continue;
        }
        let name = word.trim_start_matches('@').replace("\\_", "_");
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(text: &str) -> Vec<String> {
        extract(text).1.into_iter().map(|c| c.name).collect()
    }

    #[test]
    fn a_command_line_is_removed_with_the_blank_lines_after_it() {
        let (text, commands) = extract("Intro\n/CLOSE\n\n/label ~a ~\"b c\"\nRest\n");
        assert_eq!(text, "Intro\nRest");
        assert_eq!(commands[0].name, "close");
        assert_eq!(commands[1].arg, "~a ~\"b c\"");
        assert_eq!(label_names(&commands[1].arg), ["a", "b c"]);
    }

    #[test]
    fn commands_outside_top_level_paragraphs_stay() {
        for text in [
            "```\n/close\n```",
            "~~~\n/close\n~~~",
            ">>>\n/close\n>>>",
            "> quote\n/close",
            "> /close",
            "- item\n/close",
            "    /close",
            " /close",
            "`x\n/close`",
            "\\/close",
            "/closed",
            "/close\tnow",
            "/unknown",
            "<div>\n/close\n</div>",
            "<!--\n\n/close\n-->",
            "<pre>\n\n/close\n</pre>",
            "<details>\n/close",
            "text\n<div>\n/close",
            "<span class=\"x\">\n/close",
        ] {
            assert!(names(text).is_empty(), "{text:?}");
            assert_eq!(extract(text).0, text.trim_end(), "{text:?}");
        }
    }

    /// CommonMark's HTML blocks (spec §4.6), as GitLab's Markdown parser makes them:
    /// kinds 1–5 end on the line that closes them, an autolink or inline HTML followed by
    /// text starts a paragraph, and kind 7 cannot interrupt one.
    /// `spec/lib/banzai/pipeline/quick_action_pipeline_spec.rb`, "does detect a quick
    /// action": `<!-- HTML comment -->` then `/quick`.
    #[test]
    fn a_command_after_a_closed_html_block_or_inline_html_runs() {
        for text in [
            "<!-- HTML comment -->\n/close",
            "<!-- checklist -->\n/unlabel ~x",
            "<https://example.com/runbook> has the steps\n/close",
            "<b>x</b> text\n/close",
            "<pre>x</pre>\n/close",
            "<!--\nnote\n-->\n/close",
            "<?php x ?>\n/close",
            "<!DOCTYPE html>\n/close",
            "text\n<span>\n/close",
        ] {
            assert_eq!(names(text).len(), 1, "{text:?}");
        }
    }

    #[test]
    fn users_split_on_spaces_commas_and_and() {
        assert_eq!(usernames("@a, @b and c"), ["a", "b", "c"]);
    }
}
