//! Handbook page → items: the pure core of the product.
//!
//! Nothing in here performs I/O, reads a clock or draws randomness: the same text and
//! options always give the same [`Page`]. The Markdown is read by `pulldown-cmark`
//! (CommonMark + GFM strikethrough, task lists and tables); no line of the page is ever
//! interpreted with a regular expression, so code fences, HTML comments and tables can
//! never leak items.

mod inline;
mod key;
mod select;

use std::ops::Range;

use pulldown_cmark::{Event, HeadingLevel, LinkType, MetadataBlockKind, Options, Parser, Tag};
use rustc_hash::FxHashSet;
use serde::Serialize;
use url::Url;

pub use key::item_key;
pub use select::{HeadingPatterns, PatternError, front_matter, headings};

use inline::{InlineText, Segment};

/// GitLab refuses issue titles longer than this many characters.
pub const MAX_TITLE_CHARS: usize = 255;

/// The longest text after a handoff arrow that is still read as a name. A longer tail is
/// a sentence that happens to contain an arrow (`convert A -> B before each release`).
const MAX_OWNER_CHARS: usize = 80;

/// What the parser needs to know besides the text.
#[derive(Debug, Clone, Default)]
pub struct ParseOptions {
    /// Fallback title when the page has neither front matter `title` nor an H1.
    pub page_id: String,
    /// The page's public URL; relative links in bodies are made absolute against it.
    pub page_url: Option<Url>,
    /// When not empty, only items under a heading (at any depth above them) that matches
    /// one of these patterns are kept ([`HeadingPatterns`]).
    pub include_sections: Vec<String>,
    /// Items under a heading that matches one of these patterns are dropped.
    pub exclude_sections: Vec<String>,
}

/// The state a responsibility is in, as the handbook says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemStatus {
    /// A plain item or an unticked task (`- [ ]`).
    Active,
    /// A ticked task (`- [x]`).
    Done,
    /// Struck through as a whole (`~~…~~`), optionally with `=> Name`.
    HandedOver,
}

impl ItemStatus {
    /// Every status, so that a count can be said for each, zeros included.
    pub const ALL: [ItemStatus; 3] = [ItemStatus::Active, ItemStatus::Done, ItemStatus::HandedOver];

    /// The word used in logs, plans and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            ItemStatus::Active => "active",
            ItemStatus::Done => "done",
            ItemStatus::HandedOver => "handed_over",
        }
    }
}

/// One responsibility of a page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Item {
    /// Stable identity inside the page (see [`item_key`]).
    pub key: String,
    /// Path of the headings above the item, outermost first.
    pub section: Vec<String>,
    /// Plain-text title, at most [`MAX_TITLE_CHARS`] characters.
    pub title: String,
    /// What the handbook says about the item.
    pub status: ItemStatus,
    /// The name after a handoff arrow, as written (mapped to a username later).
    pub owner: Option<String>,
    /// 1-based line of the item's marker in the file.
    pub line: usize,
    /// The item's Markdown, links absolute, nested items as a checklist.
    pub body: String,
}

/// A parsed page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Page {
    /// Front matter `title`, else the only H1, else the page id.
    pub title: String,
    /// The items in page order.
    pub items: Vec<Item>,
    /// Things a person may want to know (bad front matter, empty items); never fatal.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

fn parser_options() -> Options {
    Options::ENABLE_TABLES
        | Options::ENABLE_STRIKETHROUGH
        // With subscripts on, only `~~x~~` is a strikethrough: GitLab's `~"label"`
        // references and stray single tildes can never hand an item over.
        | Options::ENABLE_SUBSCRIPT
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_HEADING_ATTRIBUTES
        | Options::ENABLE_YAML_STYLE_METADATA_BLOCKS
        | Options::ENABLE_PLUSES_DELIMITED_METADATA_BLOCKS
}

/// Parses one handbook page. Pure and total: any text gives a page, never a panic.
pub fn parse_page(text: &str, options: &ParseOptions) -> Page {
    // Handbook text makes one event per 6–10 bytes: reserving for one per 4 means a
    // single allocation (pages never touched are never faulted in) and no copying.
    let mut events: Vec<(Event<'_>, Range<usize>)> = Vec::with_capacity(text.len() / 4 + 16);
    events.extend(Parser::new_ext(text, parser_options()).into_offset_iter());
    let ends = matching_ends(&events);
    let Outline {
        front_matter_title,
        first_h1,
        raw_items,
        mut warnings,
    } = outline(&events, &ends);
    let ctx = Ctx {
        text,
        events: &events,
        ends: &ends,
        page_url: options.page_url.as_ref(),
    };
    let items = items(&ctx, raw_items, options, &mut warnings);
    let title = front_matter_title
        .or(first_h1)
        .filter(|t| !t.trim().is_empty())
        .unwrap_or_else(|| options.page_id.clone());
    Page {
        title,
        items,
        warnings,
    }
}

/// What the walk over a page's top-level blocks finds.
struct Outline {
    /// `title` of the front matter.
    front_matter_title: Option<String>,
    /// The text of the first H1.
    first_h1: Option<String>,
    /// Top-level list items: their section path and the index of their `Start(Item)`.
    raw_items: Vec<(Vec<String>, usize)>,
    /// Front matter that could not be read.
    warnings: Vec<String>,
}

/// Walks the top-level blocks: front matter, headings (the section path) and the items
/// of top-level lists. Blocks that cannot hold responsibilities are skipped whole.
fn outline(events: &[(Event<'_>, Range<usize>)], ends: &[usize]) -> Outline {
    let mut outline = Outline {
        front_matter_title: None,
        first_h1: None,
        raw_items: Vec::new(),
        warnings: Vec::new(),
    };
    let mut headings: Vec<(HeadingLevel, String)> = Vec::new();
    let h1_count = events
        .iter()
        .filter(|(e, _)| {
            matches!(
                e,
                Event::Start(Tag::Heading {
                    level: HeadingLevel::H1,
                    ..
                })
            )
        })
        .count();
    let mut i = 0;
    while i < events.len() {
        match &events[i].0 {
            Event::Start(Tag::MetadataBlock(kind)) => {
                let content: String = events[i + 1..ends[i]]
                    .iter()
                    .filter_map(|(e, _)| match e {
                        Event::Text(t) => Some(t.as_ref()),
                        _ => None,
                    })
                    .collect();
                match front_matter_field(*kind, &content, "title") {
                    Ok(title) => outline.front_matter_title = title,
                    Err(reason) => outline
                        .warnings
                        .push(format!("front matter ignored: {reason}")),
                }
                i = ends[i] + 1;
            }
            Event::Start(Tag::Heading { level, .. }) => {
                let level = *level;
                let text = InlineText::from_events(&events[i + 1..ends[i]]).plain();
                if level == HeadingLevel::H1 && outline.first_h1.is_none() {
                    outline.first_h1 = Some(text.clone());
                }
                // A page with a single H1 uses it as its title, not as a section.
                if !(level == HeadingLevel::H1 && h1_count == 1) {
                    while headings.last().is_some_and(|(l, _)| *l >= level) {
                        headings.pop();
                    }
                    headings.push((level, text));
                }
                i = ends[i] + 1;
            }
            Event::Start(Tag::List(_)) => {
                let section: Vec<String> = headings.iter().map(|(_, t)| t.clone()).collect();
                let mut j = i + 1;
                while j < ends[i] {
                    if matches!(events[j].0, Event::Start(Tag::Item)) {
                        outline.raw_items.push((section.clone(), j));
                        j = ends[j] + 1;
                    } else {
                        j += 1;
                    }
                }
                i = ends[i] + 1;
            }
            // Lists inside these are quotes, markup or cells, never responsibilities.
            Event::Start(
                Tag::BlockQuote(_)
                | Tag::HtmlBlock
                | Tag::CodeBlock(_)
                | Tag::Table(_)
                | Tag::FootnoteDefinition(_)
                | Tag::DefinitionList,
            ) => i = ends[i] + 1,
            _ => i += 1,
        }
    }
    outline
}

/// The items of the selected sections, with unique keys; items without text become
/// warnings.
fn items(
    ctx: &Ctx<'_, '_>,
    raw_items: Vec<(Vec<String>, usize)>,
    options: &ParseOptions,
    warnings: &mut Vec<String>,
) -> Vec<Item> {
    let lines = LineIndex::new(ctx.text);
    let selection = Selection {
        include: HeadingPatterns::lenient(&options.include_sections),
        exclude: HeadingPatterns::lenient(&options.exclude_sections),
    };
    let mut items = Vec::new();
    let mut used_keys = FxHashSet::with_capacity_and_hasher(raw_items.len(), Default::default());
    for (section, start) in raw_items {
        if !selection.selects(&section) {
            continue;
        }
        let line = lines.line_of(ctx.events[start].1.start);
        let Some(parsed) = ctx.item(start) else {
            warnings.push(format!("line {line}: list item without text skipped"));
            continue;
        };
        let key = key::unique_key(&parsed.key_text, &mut used_keys);
        items.push(Item {
            key,
            section,
            title: truncate_title(&parsed.key_text),
            status: parsed.status,
            owner: parsed.owner,
            line,
            body: parsed.body,
        });
    }
    items
}

/// Which sections' items a page keeps.
struct Selection {
    include: HeadingPatterns,
    exclude: HeadingPatterns,
}

impl Selection {
    /// True when an item under the headings `section` is kept: no heading above it
    /// matches an exclude pattern and, when there are include patterns, one matches.
    fn selects(&self, section: &[String]) -> bool {
        if section.iter().any(|h| self.exclude.matches(h)) {
            return false;
        }
        self.include.is_empty() || section.iter().any(|h| self.include.matches(h))
    }
}

/// For every `Start` event, the index of its `End`; other events map to themselves.
fn matching_ends(events: &[(Event<'_>, Range<usize>)]) -> Vec<usize> {
    let mut ends: Vec<usize> = (0..events.len()).collect();
    let mut open = Vec::new();
    for (i, (event, _)) in events.iter().enumerate() {
        match event {
            Event::Start(_) => open.push(i),
            Event::End(_) => {
                if let Some(start) = open.pop() {
                    ends[start] = i;
                }
            }
            _ => {}
        }
    }
    ends
}

fn front_matter_field(
    kind: MetadataBlockKind,
    content: &str,
    field: &str,
) -> Result<Option<String>, String> {
    match kind {
        MetadataBlockKind::YamlStyle => {
            let docs =
                yaml_rust2::YamlLoader::load_from_str(content).map_err(|e| format!("YAML: {e}"))?;
            Ok(docs
                .first()
                .and_then(|d| d[field].as_str())
                .map(|s| s.trim().to_owned()))
        }
        MetadataBlockKind::PlusesStyle => {
            let table: toml::Table =
                toml::from_str(content).map_err(|e| format!("TOML: {}", e.message()))?;
            Ok(table
                .get(field)
                .and_then(|v| v.as_str())
                .map(|s| s.trim().to_owned()))
        }
    }
}

/// Cuts a title to GitLab's limit on a character boundary, marking the cut with `…`.
pub fn truncate_title(title: &str) -> String {
    if title.chars().count() <= MAX_TITLE_CHARS {
        return title.to_owned();
    }
    let mut cut: String = title.chars().take(MAX_TITLE_CHARS - 1).collect();
    cut.truncate(cut.trim_end().len());
    cut.push('…');
    cut
}

struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    fn new(text: &str) -> Self {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        LineIndex { starts }
    }

    fn line_of(&self, offset: usize) -> usize {
        self.starts.partition_point(|&s| s <= offset)
    }
}

struct Ctx<'e, 'a> {
    text: &'a str,
    events: &'e [(Event<'a>, Range<usize>)],
    ends: &'e [usize],
    page_url: Option<&'e Url>,
}

struct ParsedItem {
    /// The whole title text; the title is this, cut to GitLab's limit.
    key_text: String,
    status: ItemStatus,
    owner: Option<String>,
    body: String,
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

    fn item(&self, item: usize) -> Option<ParsedItem> {
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

/// Collapses every run of whitespace to one space and trims the ends.
pub fn collapse(text: &str) -> String {
    collapse_all([text])
}

/// [`collapse`] over the concatenation of `parts`, without building it first.
fn collapse_all<'s>(parts: impl IntoIterator<Item = &'s str>) -> String {
    let mut out = String::new();
    let mut space = false;
    for part in parts {
        for c in part.chars() {
            if c.is_whitespace() {
                space = !out.is_empty();
            } else {
                if space {
                    out.push(' ');
                    space = false;
                }
                out.push(c);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests;
