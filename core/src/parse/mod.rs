//! Handbook page → items: the pure core of the product.
//!
//! Nothing in here performs I/O, reads a clock or draws randomness: the same text and
//! options always give the same [`Page`]. The Markdown is read by `pulldown-cmark`
//! (CommonMark + GFM strikethrough, task lists and tables); no line of the page is ever
//! interpreted with a regular expression, so code fences, HTML comments and tables can
//! never leak items.

mod inline;
mod item;
mod key;
mod select;

use std::ops::Range;

use pulldown_cmark::{Event, HeadingLevel, MetadataBlockKind, Options, Parser, Tag};
use rustc_hash::FxHashSet;
use serde::Serialize;
use url::Url;

pub use key::item_key;
pub use select::{HeadingPatterns, PatternError, front_matter, headings};

use inline::InlineText;
use item::Ctx;

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
