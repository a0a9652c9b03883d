//! Inline Markdown reduced to plain text, remembering which parts were struck through
//! or protected (code spans, link texts), because handoff arrows only count outside them.

use std::ops::Range;

use pulldown_cmark::{Event, Tag, TagEnd};

/// A run of plain text with the same formatting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub text: String,
    /// Inside `~~…~~`.
    pub struck: bool,
    /// Inside a code span or a link text: arrows there are not handoffs.
    pub protected: bool,
}

/// The plain text of a run of inline events.
#[derive(Debug, Default)]
pub struct InlineText {
    pub segments: Vec<Segment>,
}

impl InlineText {
    /// From events as the offset iterator yields them.
    pub fn from_events(events: &[(Event<'_>, Range<usize>)]) -> Self {
        let mut out = InlineText::default();
        let mut struck = 0usize;
        let mut protected = 0usize;
        for (event, _) in events {
            let (s, p) = (struck > 0, protected > 0);
            match event {
                Event::Text(t) => out.push(t, s, p),
                Event::Code(t) => out.push(t, s, true),
                Event::InlineMath(t) | Event::DisplayMath(t) => out.push(t, s, true),
                Event::SoftBreak | Event::HardBreak => out.push(" ", s, p),
                Event::InlineHtml(h) | Event::Html(h) => {
                    if h.trim_start().to_ascii_lowercase().starts_with("<br") {
                        out.push(" ", s, p);
                    }
                }
                Event::Start(Tag::Strikethrough) => struck += 1,
                Event::End(TagEnd::Strikethrough) => struck = struck.saturating_sub(1),
                // A single tilde is not a strikethrough here (GitLab's `~label`):
                // show it as the text it is.
                Event::Start(Tag::Subscript) | Event::End(TagEnd::Subscript) => out.push("~", s, p),
                Event::Start(Tag::Superscript) | Event::End(TagEnd::Superscript) => {
                    out.push("^", s, p)
                }
                Event::Start(Tag::Link { .. } | Tag::Image { .. }) => protected += 1,
                Event::End(TagEnd::Link | TagEnd::Image) => protected = protected.saturating_sub(1),
                Event::Start(tag) if is_block_tag(tag) => out.push(" ", s, p),
                Event::End(_) | Event::Start(_) => {}
                Event::Rule => out.push(" ", s, p),
                Event::TaskListMarker(_) | Event::FootnoteReference(_) => {}
            }
        }
        out
    }

    fn push(&mut self, text: &str, struck: bool, protected: bool) {
        match self.segments.last_mut() {
            Some(last) if last.struck == struck && last.protected == protected => {
                last.text.push_str(text)
            }
            _ => self.segments.push(Segment {
                text: text.to_owned(),
                struck,
                protected,
            }),
        }
    }

    /// All the text, whitespace collapsed.
    pub fn plain(&self) -> String {
        let text: String = self.segments.iter().map(|s| s.text.as_str()).collect();
        super::collapse(&text)
    }
}

fn is_block_tag(tag: &Tag<'_>) -> bool {
    matches!(
        tag,
        Tag::Paragraph
            | Tag::Heading { .. }
            | Tag::Item
            | Tag::TableCell
            | Tag::CodeBlock(_)
            | Tag::BlockQuote(_)
    )
}

/// The byte offset and length of the last handoff arrow (`=>`, `->`, `→`) in `text` that
/// starts the text or follows whitespace.
pub fn last_arrow(text: &str) -> Option<(usize, usize)> {
    let bytes = text.as_bytes();
    let mut at = text.len();
    while at > 0 {
        at -= 1;
        let len = match bytes[at] {
            b'=' | b'-' if bytes.get(at + 1) == Some(&b'>') => 2,
            // `→` is E2 86 92 in UTF-8.
            0xE2 if bytes.get(at + 1..at + 3) == Some(&[0x86, 0x92]) => 3,
            _ => continue,
        };
        if at == 0 || text[..at].ends_with(char::is_whitespace) {
            return Some((at, len));
        }
    }
    None
}
