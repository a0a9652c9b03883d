//! The label titles a GitLab keeps, so that the title handbook-sync asks for is the title
//! it finds on the next run, on every GitLab version. Pure.
//!
//! GitLab before gitlab-org/gitlab!207594 (autumn 2025) stored
//! `CGI.unescapeHTML(Sanitize.clean(title))`, stripped (`app/models/label.rb`); GitLab
//! since keeps the title as sent, stripped. A title that the old rule leaves as it is
//! ([`is_kept`]) is stored unchanged by both, so that is what [`stable_title`] makes.
//!
//! [`sanitized`] models the old rule on its own (the sandbox has its own, separate
//! model; both are tested against `tests/data/label_titles.json`): the HTML tokenizer's
//! tags, comments and character references (named and numeric, decoded by `htmlize` as
//! the HTML standard says), Sanitize's default config (every element removed, the text of
//! `script`-like ones with it, spaces around block elements), and what the
//! serialization and `CGI.unescapeHTML` leave (a no-break space as `&nbsp;`). The HTML
//! tree builder is followed only where it moves spaces: open and implied end tags of
//! `p`, `li`, `dd`, `dt` and headings; not the adoption agency of misnested formatting
//! elements (`<b><h3>x</b>y`), where a space can differ. That gap cannot reach GitLab:
//! a title [`stable_title`] settles on holds no tag at all, and both rules store such a
//! title as it is.

/// Elements removed with their content (`Sanitize::Config::DEFAULT[:remove_contents]`).
/// The first seven hold raw text, which no tag inside them ends early.
const RAW_TEXT_DROPPED: [&str; 7] = [
    "script", "style", "xmp", "iframe", "noembed", "noframes", "noscript",
];
/// Foreign elements, removed with everything inside.
const FOREIGN: [&str; 2] = ["math", "svg"];
/// Elements whose content is text with references decoded (RCDATA); it is kept.
const RCDATA: [&str; 2] = ["title", "textarea"];
/// Sanitize's `whitespace_elements`: a space before, and one after when not empty.
const BLOCKS: [&str; 26] = [
    "address",
    "article",
    "aside",
    "blockquote",
    "br",
    "dd",
    "div",
    "dl",
    "dt",
    "footer",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hgroup",
    "hr",
    "li",
    "nav",
    "ol",
    "p",
    "pre",
    "section",
    "ul",
];
/// Elements that never have content.
const VOID: [&str; 14] = [
    "area", "base", "br", "col", "embed", "hr", "img", "input", "keygen", "link", "meta", "param",
    "source", "wbr",
];
/// Start tags that close an open `p` first (the HTML standard's "in body" rules).
const CLOSES_P: [&str; 40] = [
    "address",
    "article",
    "aside",
    "blockquote",
    "center",
    "details",
    "dialog",
    "dir",
    "div",
    "dl",
    "fieldset",
    "figcaption",
    "figure",
    "footer",
    "header",
    "hgroup",
    "main",
    "menu",
    "nav",
    "ol",
    "p",
    "search",
    "section",
    "summary",
    "ul",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "pre",
    "listing",
    "form",
    "li",
    "dd",
    "dt",
    "table",
    "hr",
    "xmp",
];
/// The standard's "special" elements that stop an `li`, `dd` or `dt` from closing an
/// earlier one (`address`, `div` and `p` excepted), as far as they hold text.
const SPECIAL: [&str; 30] = [
    "article",
    "aside",
    "blockquote",
    "button",
    "caption",
    "center",
    "details",
    "dir",
    "dl",
    "fieldset",
    "figcaption",
    "figure",
    "footer",
    "form",
    "header",
    "hgroup",
    "listing",
    "main",
    "menu",
    "nav",
    "ol",
    "pre",
    "section",
    "select",
    "summary",
    "table",
    "td",
    "th",
    "ul",
    "template",
];
const HEADINGS: [&str; 6] = ["h1", "h2", "h3", "h4", "h5", "h6"];

/// The title GitLab before gitlab-org/gitlab!207594 stored for `title`:
/// `CGI.unescapeHTML(Sanitize.clean(title))`, then Ruby's `strip`.
pub fn sanitized(title: &str) -> String {
    let mut text = Text::default();
    let pre = preprocessed(title);
    let mut raw: &str = &pre;
    loop {
        let Some(open) = raw.find('<') else {
            text.characters(raw);
            break;
        };
        text.characters(&raw[..open]);
        let after = &raw[open + 1..];
        match Markup::read(after) {
            Markup::Text => {
                text.characters("<");
                raw = after;
            }
            Markup::Ignored(len) => raw = &after[len..],
            Markup::Unterminated => break,
            Markup::EndTag { name, len } => {
                text.end_tag(&name);
                raw = &after[len..];
            }
            Markup::StartTag { name, len } => {
                raw = &after[len..];
                if name == "plaintext" {
                    break;
                }
                if RAW_TEXT_DROPPED.contains(&name.as_str()) {
                    raw = after_end_tag(raw, &name);
                } else if FOREIGN.contains(&name.as_str()) {
                    raw = after_foreign(raw, &name);
                } else if RCDATA.contains(&name.as_str()) {
                    let end = end_tag_at(raw, &name).unwrap_or(raw.len());
                    text.start_tag(&name);
                    text.characters(&raw[..end]);
                    text.end_tag(&name);
                    raw = after_end_tag(raw, &name);
                } else {
                    text.start_tag(&name);
                }
            }
        }
    }
    text.finish();
    let out = text.out.replace('\u{a0}', "&nbsp;");
    ruby_strip(&out).to_owned()
}

/// Whether GitLab stores `title` as it is, whichever way it stores titles.
pub fn is_kept(title: &str) -> bool {
    sanitized(title) == title
}

/// `title` as the old rule stores it, applied until nothing changes, with no comma and
/// at most 255 characters (GitLab refuses titles with commas or longer ones). The result
/// is stored unchanged by every GitLab version, so the next run finds the label. A title
/// that does not settle in a few rounds loses every `<` and `&`, which settles it.
pub fn stable_title(title: &str) -> String {
    let mut current = normalized(title);
    for _ in 0..8 {
        let next = normalized(&sanitized(&current));
        if next == current {
            return current;
        }
        current = next;
    }
    normalized(&current.replace(['<', '&'], " "))
}

/// No comma, at most 255 characters, trimmed.
fn normalized(title: &str) -> String {
    let title = title.replace(',', " ");
    let cut: String = ruby_strip(&title).chars().take(255).collect();
    ruby_strip(&cut).to_owned()
}

/// Sanitize's `preprocess` (control characters and noncharacters removed) and the HTML
/// standard's newline normalization (CRLF and CR become LF); NUL, which the tree builder
/// ignores in text.
fn preprocessed(title: &str) -> String {
    let mut out = String::with_capacity(title.len());
    let mut chars = title.chars().peekable();
    while let Some(c) = chars.next() {
        let n = c as u32;
        let control = matches!(n, 0x00..=0x08 | 0x0B | 0x0E..=0x1F | 0x7F..=0x9F);
        let noncharacter = (0xFDD0..=0xFDEF).contains(&n) || n & 0xFFFE == 0xFFFE;
        if c == '\r' {
            out.push('\n');
            if chars.peek() == Some(&'\n') {
                chars.next();
            }
        } else if !control && !noncharacter {
            out.push(c);
        }
    }
    out
}

/// What follows a `<`.
enum Markup {
    /// Not markup: the `<` is text.
    Text,
    /// A comment, doctype, processing instruction or `</>`, this long (its `>`
    /// included).
    Ignored(usize),
    /// A tag or comment the input ends inside of: nothing more comes out.
    Unterminated,
    /// A start tag (lower case name) and its length, `>` included.
    StartTag { name: String, len: usize },
    /// An end tag and its length.
    EndTag { name: String, len: usize },
}

impl Markup {
    fn read(after: &str) -> Markup {
        let bytes = after.as_bytes();
        match bytes.first() {
            Some(b) if b.is_ascii_alphabetic() => match tag_end(after) {
                Some(len) => Markup::StartTag {
                    name: tag_name(after),
                    len,
                },
                None => Markup::Unterminated,
            },
            Some(b'/') => match bytes.get(1) {
                Some(b'>') => Markup::Ignored(2),
                Some(b) if b.is_ascii_alphabetic() => match tag_end(&after[1..]) {
                    Some(len) => Markup::EndTag {
                        name: tag_name(&after[1..]),
                        len: len + 1,
                    },
                    None => Markup::Unterminated,
                },
                // `</` at the very end is text; anything else opens a bogus comment.
                None => Markup::Text,
                Some(_) => bogus_comment(after),
            },
            Some(b'!') if after.starts_with("!--") => {
                let body = &after[3..];
                if body.starts_with('>') {
                    Markup::Ignored(4)
                } else if body.starts_with("->") {
                    Markup::Ignored(5)
                } else {
                    match body.find("-->") {
                        Some(end) => Markup::Ignored(3 + end + 3),
                        None => Markup::Unterminated,
                    }
                }
            }
            Some(b'!' | b'?') => bogus_comment(after),
            _ => Markup::Text,
        }
    }
}

/// A bogus comment runs to the next `>`, or to the end.
fn bogus_comment(after: &str) -> Markup {
    match after.find('>') {
        Some(end) => Markup::Ignored(end + 1),
        None => Markup::Unterminated,
    }
}

/// A tag's name: up to whitespace, `/` or `>`, in lower case.
fn tag_name(tag: &str) -> String {
    tag.chars()
        .take_while(|c| !c.is_ascii_whitespace() && *c != '/' && *c != '>')
        .collect::<String>()
        .to_ascii_lowercase()
}

/// The length of a tag up to and with its `>`, skipping quoted attribute values.
fn tag_end(tag: &str) -> Option<usize> {
    let mut quote: Option<char> = None;
    let mut after_equals = false;
    for (i, c) in tag.char_indices() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '>' => return Some(i + 1),
            None if after_equals && (c == '"' || c == '\'') => quote = Some(c),
            None => {}
        }
        if quote.is_none() && !c.is_ascii_whitespace() {
            after_equals = c == '=';
        }
    }
    None
}

/// Where the end tag `</name` (followed by whitespace, `/` or `>`) starts in `raw`.
fn end_tag_at(raw: &str, name: &str) -> Option<usize> {
    let lower = raw.to_ascii_lowercase();
    let pattern = format!("</{name}");
    let mut from = 0;
    while let Some(i) = lower[from..].find(&pattern) {
        let at = from + i;
        match lower[at + pattern.len()..].chars().next() {
            Some(c) if c.is_ascii_whitespace() || c == '/' || c == '>' => return Some(at),
            _ => from = at + pattern.len(),
        }
    }
    None
}

/// `raw` after the end tag of a raw-text or RCDATA element; empty when it has none.
fn after_end_tag<'a>(raw: &'a str, name: &str) -> &'a str {
    let Some(at) = end_tag_at(raw, name) else {
        return "";
    };
    match raw[at..].find('>') {
        Some(end) => &raw[at + end + 1..],
        None => "",
    }
}

/// `raw` after the end of a `math` or `svg` element, counting nested ones.
fn after_foreign<'a>(mut raw: &'a str, name: &str) -> &'a str {
    let mut depth = 1;
    while let Some(open) = raw.find('<') {
        let after = &raw[open + 1..];
        match Markup::read(after) {
            Markup::StartTag { name: n, len } => {
                if n == name {
                    depth += 1;
                }
                raw = &after[len..];
            }
            Markup::EndTag { name: n, len } => {
                raw = &after[len..];
                if n == name {
                    depth -= 1;
                    if depth == 0 {
                        return raw;
                    }
                }
            }
            Markup::Ignored(len) => raw = &after[len..],
            Markup::Text => raw = after,
            Markup::Unterminated => return "",
        }
    }
    ""
}

/// The text Sanitize leaves, built as tags and characters come: elements vanish, block
/// elements leave spaces.
#[derive(Default)]
struct Text {
    out: String,
    /// Open elements: name, and whether anything went into it.
    open: Vec<(String, bool)>,
}

impl Text {
    /// Text with its character references decoded.
    fn characters(&mut self, raw: &str) {
        if raw.is_empty() {
            return;
        }
        let decoded = htmlize::unescape(raw);
        self.content();
        self.out.push_str(&decoded);
    }

    /// Marks every open element as having content.
    fn content(&mut self) {
        for (_, filled) in &mut self.open {
            *filled = true;
        }
    }

    fn start_tag(&mut self, name: &str) {
        if name == "li" {
            self.close_list_item(&["li"]);
        } else if name == "dd" || name == "dt" {
            self.close_list_item(&["dd", "dt"]);
        }
        if CLOSES_P.contains(&name) {
            self.close_p();
        }
        if HEADINGS.contains(&name)
            && self
                .open
                .last()
                .is_some_and(|(n, _)| HEADINGS.contains(&n.as_str()))
        {
            self.pop();
        }
        self.content();
        if BLOCKS.contains(&name) {
            self.out.push(' ');
        }
        if !VOID.contains(&name) {
            self.open.push((name.to_owned(), false));
        }
    }

    fn end_tag(&mut self, name: &str) {
        match name {
            // `</br>` is parsed as `<br>`.
            "br" => {
                self.content();
                self.out.push(' ');
            }
            // `</p>` with no open `p` makes an empty one.
            "p" if !self.open.iter().any(|(n, _)| n == "p") => {
                self.content();
                self.out.push(' ');
            }
            _ => {
                let names: &[&str] = if HEADINGS.contains(&name) {
                    &HEADINGS
                } else {
                    &[name]
                };
                if self.open.iter().any(|(n, _)| names.contains(&n.as_str())) {
                    self.close_up_to(names);
                }
            }
        }
    }

    /// A new `li` (or `dd`, `dt`) closes the innermost open one, unless a special
    /// element stands between them (a nested list).
    fn close_list_item(&mut self, names: &[&str]) {
        for (name, _) in self.open.iter().rev() {
            if names.contains(&name.as_str()) {
                self.close_up_to(names);
                return;
            }
            if SPECIAL.contains(&name.as_str())
                || (BLOCKS.contains(&name.as_str())
                    && !["address", "div", "p"].contains(&name.as_str()))
            {
                return;
            }
        }
    }

    /// Closes an open `p`, and what is open inside it.
    fn close_p(&mut self) {
        if self.open.iter().any(|(n, _)| n == "p") {
            self.close_up_to(&["p"]);
        }
    }

    /// Pops elements up to and with the innermost one named in `names`, if any is open.
    fn close_up_to(&mut self, names: &[&str]) {
        if !self.open.iter().any(|(n, _)| names.contains(&n.as_str())) {
            return;
        }
        while let Some((name, _)) = self.open.last() {
            let last = names.contains(&name.as_str());
            self.pop();
            if last {
                break;
            }
        }
    }

    /// Closes the innermost element: a block element with content leaves a space after.
    fn pop(&mut self) {
        if let Some((name, filled)) = self.open.pop()
            && filled
            && BLOCKS.contains(&name.as_str())
        {
            self.out.push(' ');
        }
    }

    /// The end of the input closes everything.
    fn finish(&mut self) {
        while !self.open.is_empty() {
            self.pop();
        }
    }
}

/// Ruby's `String#strip`: NUL and ASCII whitespace only.
fn ruby_strip(text: &str) -> &str {
    text.trim_matches(['\0', '\t', '\n', '\u{b}', '\u{c}', '\r', ' '])
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// `tests/data/label_titles.json`, the table the sandbox's model is tested against
    /// too: every input's `sanitized` title.
    #[test]
    fn the_old_rule_gives_every_title_of_the_shared_table() {
        let table: serde_json::Value =
            serde_json::from_str(include_str!("../../../tests/data/label_titles.json"))
                .expect("the table is JSON");
        let vectors = table["vectors"].as_array().expect("a list of vectors");
        assert!(vectors.len() > 50, "the whole table is read");
        let wrong: Vec<String> = vectors
            .iter()
            .filter_map(|v| {
                let input = v["input"].as_str().unwrap();
                let expected = v["sanitized"].as_str().unwrap();
                let got = sanitized(input);
                (got != expected).then(|| format!("{input:?}: {got:?}, GitLab {expected:?}"))
            })
            .collect();
        assert!(wrong.is_empty(), "{wrong:#?}");
    }

    proptest! {
        /// Whatever a heading holds, the title asked for is one both GitLab rules keep.
        #[test]
        fn a_stable_title_is_kept_by_every_gitlab(title in "[<>&;#a-z0-9 /!?\"'=,\u{a0}-]{0,40}") {
            let stable = stable_title(&title);
            prop_assert!(is_kept(&stable), "{title:?} -> {stable:?} -> {:?}", sanitized(&stable));
            prop_assert_eq!(ruby_strip(&stable), stable.as_str());
            prop_assert!(!stable.contains(','));
        }
    }
}
