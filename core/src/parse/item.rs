//! One list item read from the page's events: its first paragraph (title, status, the
//! owner after a handoff arrow) and the rest of it as Markdown (the body), the source
//! spliced as the author wrote it, links made absolute.

use std::ops::Range;

use pulldown_cmark::{Event, LinkType, Tag};
use url::Url;

use super::inline::{self, InlineText, Segment};
use super::{ItemStatus, MAX_OWNER_CHARS, collapse, collapse_all, key};

pub(super) struct Ctx<'e, 'a> {
    pub(super) text: &'a str,
    pub(super) events: &'e [(Event<'a>, Range<usize>)],
    pub(super) ends: &'e [usize],
    pub(super) page_url: Option<&'e Url>,
}

pub(super) struct ParsedItem {
    /// The whole title text; the title is this, cut to GitLab's limit.
    pub(super) key_text: String,
    pub(super) status: ItemStatus,
    pub(super) owner: Option<String>,
    pub(super) body: String,
}

impl<'a> Ctx<'_, 'a> {
    /// The events that make up an item's first paragraph, and where its other blocks start.
    fn lead_range(&self, item: usize) -> (Range<usize>, usize) {
        let first = item + 1;
        match self.events.get(first).map(|(e, _)| e) {
            Some(Event::Start(Tag::Paragraph)) => {
                (first + 1..self.ends[first], self.ends[first] + 1)
            }
            _ => {
                let mut j = first;
                while j < self.ends[item] && !is_block_start(&self.events[j].0) {
                    j = self.ends[j] + 1;
                }
                (first..j, j)
            }
        }
    }

    pub(super) fn item(&self, item: usize) -> Option<ParsedItem> {
        let (lead, _) = self.lead_range(item);
        let lead_events = &self.events[lead];
        let checked = lead_events
            .iter()
            .any(|(e, _)| matches!(e, Event::TaskListMarker(true)));
        let text = InlineText::from_events(lead_events);
        let (before, owner) = split_owner(text.segments);
        let key_text =
            key::strip_kramdown_attributes(collapse_all(before.iter().map(|s| s.text.as_str())));
        if key_text.is_empty() || key_text == "TOC" {
            return None;
        }
        let struck_whole = before.iter().any(|s| s.struck && !s.text.trim().is_empty())
            && before.iter().all(|s| s.struck || s.text.trim().is_empty());
        let status = if struck_whole {
            ItemStatus::HandedOver
        } else if checked {
            ItemStatus::Done
        } else {
            ItemStatus::Active
        };
        Some(ParsedItem {
            key_text,
            status,
            owner,
            body: self.body(item),
        })
    }

    fn body(&self, item: usize) -> String {
        let mut checklist = Vec::new();
        let mut nested_lists = Vec::new();
        let mut j = item + 1;
        while j < self.ends[item] {
            if matches!(self.events[j].0, Event::Start(Tag::List(_))) {
                self.checklist(j, 0, &mut checklist);
                nested_lists.push(j);
            }
            j = self.ends[j] + 1;
        }
        let mut body = self.source_markdown(item + 1..self.ends[item], &nested_lists);
        if !checklist.is_empty() {
            if !body.is_empty() {
                body.push_str("\n\n");
            }
            body.push_str(&checklist.join("\n"));
        }
        body
    }

    fn checklist(&self, list: usize, depth: usize, out: &mut Vec<String>) {
        let mut j = list + 1;
        while j < self.ends[list] {
            if matches!(self.events[j].0, Event::Start(Tag::Item)) {
                let (lead, rest) = self.lead_range(j);
                let checked = self.events[lead.clone()]
                    .iter()
                    .any(|(e, _)| matches!(e, Event::TaskListMarker(true)));
                let text = collapse(&self.source_markdown(lead, &[]));
                if !text.is_empty() {
                    let mark = if checked { "x" } else { " " };
                    out.push(format!("{}- [{mark}] {text}", "  ".repeat(depth)));
                }
                let mut k = rest;
                while k < self.ends[j] {
                    if matches!(self.events[k].0, Event::Start(Tag::List(_))) {
                        self.checklist(k, depth + 1, out);
                    }
                    k = self.ends[k] + 1;
                }
                j = self.ends[j] + 1;
            } else {
                j += 1;
            }
        }
    }

    /// The Markdown of a run of an item's events: its source text, as the author wrote it,
    /// with the list indentation taken off, the `skip`ped blocks (nested lists) left out,
    /// and links made absolute and self-contained (reference links inlined).
    ///
    /// Splicing the source keeps every construct intact without a Markdown serialiser,
    /// which is also what keeps parsing 10,000 items within a few milliseconds.
    fn source_markdown(&self, events: Range<usize>, skip: &[usize]) -> String {
        let Some(span) = self.events[events.clone()]
            .iter()
            .filter(|(e, _)| !matches!(e, Event::TaskListMarker(_)))
            .map(|(_, r)| r.clone())
            .reduce(|a, b| a.start.min(b.start)..a.end.max(b.end))
        else {
            return String::new();
        };
        let mut splices: Vec<(Range<usize>, String)> = Vec::new();
        let mut j = events.start;
        while j < events.end {
            if skip.contains(&j) {
                let (_, range) = &self.events[j];
                let line_start = self.text[..range.start]
                    .rfind('\n')
                    .map_or(0, |i| i + 1)
                    .max(span.start);
                splices.push((line_start..range.end, String::new()));
                j = self.ends[j] + 1;
                continue;
            }
            if let Some(splice) = self.link_splice(j) {
                splices.push(splice);
            }
            j += 1;
        }
        splices.sort_by_key(|(r, _)| r.start);

        let mut spliced = String::with_capacity(span.len());
        let mut at = span.start;
        for (range, replacement) in splices {
            if range.start < at || range.end > span.end {
                continue;
            }
            spliced.push_str(&self.text[at..range.start]);
            spliced.push_str(&replacement);
            at = range.end;
        }
        spliced.push_str(&self.text[at..span.end]);

        // Continuation lines are indented to the item's content column; lazy ones less.
        let line_start = self.text[..span.start].rfind('\n').map_or(0, |i| i + 1);
        let indent = self.text[line_start..span.start].chars().count();
        let mut out = String::with_capacity(spliced.len());
        let mut blank_run = 0;
        for (i, line) in spliced.lines().enumerate() {
            let line = if i == 0 {
                line
            } else {
                strip_indent(line, indent)
            };
            blank_run = if line.trim().is_empty() {
                blank_run + 1
            } else {
                0
            };
            if blank_run > 1 {
                continue;
            }
            if i > 0 {
                out.push('\n');
            }
            out.push_str(line.trim_end_matches(['\r']));
        }
        out.truncate(out.trim_end().len());
        out
    }

    /// How to rewrite the link or image starting at event `j`, if it needs it: a relative
    /// destination made absolute, a reference link made inline. The splice replaces
    /// everything after the link text (`](dest "title")`, `][ref]`, `]`).
    fn link_splice(&self, j: usize) -> Option<(Range<usize>, String)> {
        let (
            Event::Start(
                Tag::Link {
                    link_type,
                    dest_url,
                    title,
                    ..
                }
                | Tag::Image {
                    link_type,
                    dest_url,
                    title,
                    ..
                },
            ),
            range,
        ) = &self.events[j]
        else {
            return None;
        };
        if matches!(link_type, LinkType::Autolink | LinkType::Email) {
            return None;
        }
        let absolute = match self.page_url {
            Some(base) if !dest_url.is_empty() && Url::parse(dest_url).is_err() => {
                base.join(dest_url).ok().map(String::from)
            }
            _ => None,
        };
        if absolute.is_none() && *link_type == LinkType::Inline {
            return None;
        }
        let text_end = if self.ends[j] > j + 1 {
            self.events[self.ends[j] - 1].1.end
        } else {
            let opener = if matches!(self.events[j].0, Event::Start(Tag::Image { .. })) {
                2
            } else {
                1
            };
            range.start + opener
        };
        if !self.text.get(text_end..)?.starts_with(']') || text_end > range.end {
            return None;
        }
        let dest = absolute.unwrap_or_else(|| dest_url.to_string());
        let dest = if dest.contains([' ', '(', ')', '<', '>']) {
            format!("<{}>", dest.replace('>', "%3E"))
        } else {
            dest
        };
        let title = if title.is_empty() {
            String::new()
        } else {
            format!(" \"{}\"", title.replace('"', "\\\""))
        };
        Some((text_end..range.end, format!("]({dest}{title})")))
    }
}

fn strip_indent(line: &str, indent: usize) -> &str {
    let mut rest = line;
    for _ in 0..indent {
        match rest.strip_prefix([' ', '\t']) {
            Some(r) => rest = r,
            None => break,
        }
    }
    rest
}

fn is_block_start(event: &Event<'_>) -> bool {
    match event {
        Event::Start(tag) => matches!(
            tag,
            Tag::Paragraph
                | Tag::Heading { .. }
                | Tag::BlockQuote(_)
                | Tag::CodeBlock(_)
                | Tag::HtmlBlock
                | Tag::List(_)
                | Tag::Item
                | Tag::FootnoteDefinition(_)
                | Tag::DefinitionList
                | Tag::Table(_)
                | Tag::MetadataBlock(_)
        ),
        Event::Rule => true,
        _ => false,
    }
}

/// Splits the first paragraph at its last handoff arrow (`=>`, `->`, `→`) that stands
/// between spaces, outside strikethrough, code and links, and is followed by a short name.
fn split_owner(mut segments: Vec<Segment>) -> (Vec<Segment>, Option<String>) {
    for (idx, seg) in segments.iter().enumerate().rev() {
        if seg.struck || seg.protected {
            continue;
        }
        let Some((at, len)) = inline::last_arrow(&seg.text) else {
            continue;
        };
        let tail = format!("{}{}", &seg.text[at + len..], concat(&segments[idx + 1..]));
        let name = collapse(&tail);
        let name = name.trim_end_matches(['.', ',', ';']).trim_end();
        let nothing_before = segments[..idx].iter().all(|s| s.text.trim().is_empty())
            && seg.text[..at].trim().is_empty();
        if name.is_empty() || name.chars().count() > MAX_OWNER_CHARS || nothing_before {
            break;
        }
        let name = name.to_owned();
        segments.truncate(idx + 1);
        segments[idx].text.truncate(at);
        return (segments, Some(name));
    }
    (segments, None)
}

fn concat(segments: &[Segment]) -> String {
    segments.iter().map(|s| s.text.as_str()).collect()
}
