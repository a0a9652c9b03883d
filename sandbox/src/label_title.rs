//! How GitLab stores a label title, in either of its two ways ([`LabelTitles`]).
//!
//! Before gitlab-org/gitlab!207594 (autumn 2025) `Label#title=` stored
//! `CGI.unescapeHTML(Sanitize.clean(value))` and validation stripped it
//! (`app/models/label.rb`, later `app/models/concerns/base_label.rb`); since then the
//! title is kept as sent and only stripped. The sanitizer is modelled from its parts:
//! Sanitize's `preprocess`, Nokogiri's HTML5 fragment parser (here html5ever, through
//! `scraper`: the same WHATWG algorithm), Sanitize's default config (no element allowed;
//! `remove_contents` and `whitespace_elements`), Nokogiri's HTML5 serializer, and Ruby's
//! `CGI.unescapeHTML` and `String#strip`. `tests/data/label_titles.json` holds the cases.

use ego_tree::NodeRef;
use scraper::{Html, Node};

/// Which of GitLab's ways of storing a label title the sandbox follows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LabelTitles {
    /// GitLab since gitlab-org/gitlab!207594: the title as sent, stripped.
    #[default]
    Verbatim,
    /// GitLab before it: `CGI.unescapeHTML(Sanitize.clean(title))`, stripped.
    Sanitized,
}

impl std::str::FromStr for LabelTitles {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "verbatim" => Ok(LabelTitles::Verbatim),
            "sanitized" => Ok(LabelTitles::Sanitized),
            other => Err(format!(
                "unknown label title rule `{other}`: expected verbatim or sanitized"
            )),
        }
    }
}

impl LabelTitles {
    /// The title GitLab stores for `title`.
    pub fn stored(self, title: &str) -> String {
        match self {
            LabelTitles::Verbatim => ruby_strip(title).to_owned(),
            LabelTitles::Sanitized => {
                ruby_strip(&cgi_unescape_html(&sanitize_clean(title))).to_owned()
            }
        }
    }
}

/// Elements removed with their content (`Sanitize::Config::DEFAULT[:remove_contents]`).
const REMOVE_CONTENTS: [&str; 10] = [
    "iframe",
    "math",
    "noembed",
    "noframes",
    "noscript",
    "plaintext",
    "script",
    "style",
    "svg",
    "xmp",
];

/// Elements that leave a space before them, and one after when they had children
/// (`Sanitize::Config::DEFAULT[:whitespace_elements]`, `Transformers::CleanElement`).
const WHITESPACE_ELEMENTS: [&str; 26] = [
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

/// `Sanitize.clean(html)` with the default config: every element removed (its text kept
/// unless it is in [`REMOVE_CONTENTS`]), comments and doctypes dropped, then serialized
/// as Nokogiri's HTML5 serializer escapes text.
fn sanitize_clean(html: &str) -> String {
    let fragment = Html::parse_fragment(&preprocess(html));
    let mut text = String::new();
    collect_text(fragment.tree.root(), &mut text);
    escape_text(&text)
}

/// `Sanitize#preprocess`: control characters and noncharacters are removed before
/// parsing (`REGEX_HTML_CONTROL_CHARACTERS`, `REGEX_HTML_NON_CHARACTERS`).
fn preprocess(html: &str) -> String {
    html.chars()
        .filter(|&c| {
            let n = c as u32;
            let control = matches!(n, 0x01..=0x08 | 0x0B | 0x0E..=0x1F | 0x7F..=0x9F);
            let nonchar = (0xFDD0..=0xFDEF).contains(&n) || (n & 0xFFFE) == 0xFFFE;
            !control && !nonchar
        })
        .collect()
}

/// The text a node leaves once Sanitize removed every element, in document order.
fn collect_text(node: NodeRef<'_, Node>, out: &mut String) {
    match node.value() {
        Node::Text(text) => out.push_str(text),
        Node::Element(element) => {
            let name = element.name();
            if REMOVE_CONTENTS.contains(&name) {
                return;
            }
            let spaced = WHITESPACE_ELEMENTS.contains(&name);
            if spaced {
                out.push(' ');
            }
            for child in node.children() {
                collect_text(child, out);
            }
            if spaced && node.has_children() {
                out.push(' ');
            }
        }
        // The document, the fragment and a `<template>`'s contents hold their children.
        Node::Document | Node::Fragment => {
            for child in node.children() {
                collect_text(child, out);
            }
        }
        Node::Comment(_) | Node::Doctype(_) | Node::ProcessingInstruction(_) => {}
    }
}

/// Nokogiri's `HTML5.escape_text` outside attributes: `&`, U+00A0, `<`, `>`.
fn escape_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '\u{a0}' => out.push_str("&nbsp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// Ruby's `CGI.unescapeHTML`: only `&apos;`, `&amp;`, `&quot;`, `&gt;`, `&lt;` and
/// numeric references, in one left-to-right pass; anything else (`&nbsp;`) stays.
fn cgi_unescape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        match reference(tail) {
            Some((decoded, len)) => {
                out.push(decoded);
                rest = &tail[len..];
            }
            None => {
                out.push('&');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The character a reference at the start of `text` (`&...;`) stands for and its
/// length, if `CGI.unescapeHTML` decodes it.
fn reference(text: &str) -> Option<(char, usize)> {
    let end = text.find(';')?;
    let name = &text[1..end];
    let decoded = match name {
        "apos" => '\'',
        "amp" => '&',
        "quot" => '"',
        "gt" => '>',
        "lt" => '<',
        _ => {
            let number = name.strip_prefix('#')?;
            let code = match number.strip_prefix(['x', 'X']) {
                Some(hex) if !hex.is_empty() && hex.chars().all(|c| c.is_ascii_hexdigit()) => {
                    u32::from_str_radix(hex, 16).ok()?
                }
                Some(_) => return None,
                None if !number.is_empty() && number.chars().all(|c| c.is_ascii_digit()) => {
                    number.parse().ok()?
                }
                None => return None,
            };
            char::from_u32(code)?
        }
    };
    Some((decoded, end + 1))
}

/// Ruby's `String#strip`: NUL and ASCII whitespace only (no U+00A0, no U+2003).
fn ruby_strip(text: &str) -> &str {
    text.trim_matches(['\0', '\t', '\n', '\u{b}', '\u{c}', '\r', ' '])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `CGI.unescapeHTML` decodes once, and not what it does not know.
    #[test]
    fn cgi_unescape_html_decodes_five_names_and_numbers_once() {
        assert_eq!(
            cgi_unescape_html("&amp;lt; &#39;&#x41; &nbsp; &"),
            "&lt; 'A &nbsp; &"
        );
        assert_eq!(cgi_unescape_html("&#xZZ; &#; &amp"), "&#xZZ; &#; &amp");
    }
}
