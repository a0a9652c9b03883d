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
//! fences, blockquotes, list items (and their lazy continuation lines), indented code,
//! HTML blocks and inline code spans are never commands. A command line is removed with
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
    /// The fence character and length of an open code fence.
    fence: Option<(char, usize)>,
    /// Inside a `>>>` quote fence.
    quote_fence: bool,
    /// Inside an HTML block (ends at a blank line).
    html: bool,
    /// An inline code span opened in this paragraph is still open.
    open_code_span: bool,
}

impl Default for Scan {
    fn default() -> Self {
        Scan {
            block: Block::None,
            fence: None,
            quote_fence: false,
            html: false,
            open_code_span: false,
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
        if let Some((c, n)) = self.fence {
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
        if t.is_empty() {
            self.html = false;
            self.block = Block::None;
            self.open_code_span = false;
            return false;
        }
        if self.html {
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
                self.fence = Some((c, n));
                self.block = Block::None;
                return true;
            }
        }
        if text.trim_end() == ">>>" {
            self.quote_fence = true;
            self.block = Block::None;
            return true;
        }
        if t.starts_with('>') || is_list_marker(t) {
            self.block = Block::Container;
            return true;
        }
        let hashes = t.chars().take_while(|c| *c == '#').count();
        if (1..=6).contains(&hashes) && t[hashes..].chars().next().is_none_or(char::is_whitespace) {
            self.block = Block::None;
            return true;
        }
        // HTML blocks of the kinds that cannot interrupt a paragraph only start after one.
        if t.starts_with('<') && self.block != Block::Paragraph {
            self.html = true;
            self.block = Block::None;
            return true;
        }
        false
    }
}

/// Columns of leading whitespace, a tab counting as four.
fn indent_width(text: &str) -> usize {
    text.chars()
        .take_while(|c| *c == ' ' || *c == '\t')
        .map(|c| if c == '\t' { 4 } else { 1 })
        .sum()
}

/// `- `, `* `, `+ `, `1. `, `1) ` (or the marker alone on its line).
fn is_list_marker(t: &str) -> bool {
    let after_bullet = t.strip_prefix(['-', '*', '+']);
    let digits = t.chars().take_while(char::is_ascii_digit).count();
    let after_number = (1..=9)
        .contains(&digits)
        .then(|| t[digits..].strip_prefix(['.', ')']))
        .flatten();
    after_bullet
        .or(after_number)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t']))
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
        ] {
            assert!(names(text).is_empty(), "{text:?}");
            assert_eq!(extract(text).0, text.trim_end(), "{text:?}");
        }
    }

    #[test]
    fn users_split_on_spaces_commas_and_and() {
        assert_eq!(usernames("@a, @b and c"), ["a", "b", "c"]);
    }
}
