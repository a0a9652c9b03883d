//! The public roadmap (`handbook-sync roadmap`, the daemon's `/roadmap/`): every page's
//! responsibilities as GitLab tracks them, with progress and a burn-up chart, as a
//! static site. Pure: the shell reads the tracker (and the pages, for their titles and
//! order) and hands the data in, with the time the data was read; [`build`] makes the
//! [`Roadmap`] (the data of `roadmap.json`) and [`render`] the site's files.
//!
//! The counters are `status`'s own ([`crate::status::page_progress`] over the same
//! issues), so the roadmap and `status --format json` always agree.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::parse::Page;
use crate::status::{self, PageProgress};
use crate::sync::desired::{Labels, section_label};
use crate::sync::marker::{self, MarkerStatus};
use crate::sync::{IssueState, ObservedIssue};

mod burnup;
mod html;
mod style;

pub use burnup::burn_up;
pub use html::{CONTENT_SECURITY_POLICY, SiteFile, render};
pub use style::{Palette, contrast_ratio};

/// A GitLab user as an issue names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Person {
    /// `@username`, without the `@`.
    pub username: String,
    /// The display name.
    pub name: String,
}

/// An issue as the roadmap needs it: what `status` counts, and what a reader sees.
#[derive(Debug, Clone)]
pub struct TrackedIssue {
    /// The issue as the planner and `status` see it (its marker says page and key).
    pub issue: ObservedIssue,
    /// Where people see it.
    pub web_url: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was closed, while it is closed.
    pub closed_at: Option<DateTime<Utc>>,
    /// Its assignees, in GitLab's order.
    pub assignees: Vec<Person>,
    /// For an item handed over to someone who is no GitLab user: the name the managed
    /// block's reason line gives (`Handed over to Forwarded to service engineers on …`).
    pub handed_over_name: Option<String>,
    /// A person made the issue confidential: it is counted, but its title and people
    /// are not published.
    pub confidential: bool,
}

impl TrackedIssue {
    /// The issue from what GitLab answers; the description is read for the managed
    /// block's marker and reason line, then dropped.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        iid: u64,
        title: String,
        description: &str,
        state: IssueState,
        labels: Vec<String>,
        assignees: Vec<Person>,
        web_url: String,
        created_at: DateTime<Utc>,
        closed_at: Option<DateTime<Utc>>,
        confidential: bool,
    ) -> Self {
        let handed_over_name = marker::parse(description).and_then(|p| handed_over_name(&p.block));
        let usernames = assignees.iter().map(|p| p.username.clone()).collect();
        TrackedIssue {
            issue: ObservedIssue::new(iid, title, description, state, labels, usernames),
            web_url,
            created_at,
            closed_at,
            assignees,
            handed_over_name,
            confidential,
        }
    }
}

/// The name in a managed block's reason line `Handed over to NAME on YYYY-MM-DD.`, when
/// it names no GitLab user (`@user` is read from the marker instead).
fn handed_over_name(block: &str) -> Option<String> {
    let line = block
        .lines()
        .rev()
        .find_map(|l| l.trim().strip_prefix("Handed over to "))?;
    let (name, date) = line.rsplit_once(" on ")?;
    let date = date.strip_suffix('.')?;
    NaiveDate::parse_from_str(date, "%Y-%m-%d").ok()?;
    (!name.starts_with('@') && !name.trim().is_empty()).then(|| name.trim().to_owned())
}

/// What the handbook page says about order and title, when the shell could read it.
#[derive(Debug, Clone, Default)]
pub struct PageOrder {
    /// The page's title.
    pub title: String,
    /// Item keys with their section's name (as `status` names sections), in page order.
    pub items: Vec<(String, String)>,
}

impl PageOrder {
    /// The order of `page`'s items; sections named as their labels are.
    pub fn of(page: &Page, labels: &Labels) -> Self {
        PageOrder {
            title: page.title.clone(),
            items: page
                .items
                .iter()
                .map(|item| {
                    let name = section_label(labels, &item.section)
                        .and_then(|l| {
                            l.strip_prefix(&labels.section_label_prefix)
                                .map(str::to_owned)
                        })
                        .unwrap_or_else(|| NO_SECTION.to_owned());
                    (item.key.clone(), name)
                })
                .collect(),
        }
    }
}

/// `status`'s name for the issues of items above any heading.
const NO_SECTION: &str = "(no section)";

/// One configured page, as the shell read it.
#[derive(Debug, Clone)]
pub struct PageInput<'a> {
    /// The page id.
    pub id: String,
    /// The project, `group/name`.
    pub project: String,
    /// The project's web page.
    pub project_url: String,
    /// The handbook page's public URL (`pages[].url`).
    pub url: Option<String>,
    /// The page's title and order; `None` when its source could not be read (then the
    /// title is the id and the order the issues').
    pub order: Option<PageOrder>,
    /// The project's managed issues (of every page in it).
    pub issues: &'a [TrackedIssue],
}

/// The roadmap: the data of `roadmap.json` and of every HTML page.
#[derive(Debug, Clone, Serialize)]
pub struct Roadmap {
    /// Version of this shape; grows only by new keys while it is 1.
    pub version: u32,
    /// When the data was read (GitLab's clock where it said), RFC 3339 in UTC.
    #[serde(serialize_with = "as_rfc3339")]
    pub generated_at: DateTime<Utc>,
    /// The published pages, in configuration order.
    pub pages: Vec<RoadmapPage>,
}

/// One page of the roadmap.
#[derive(Debug, Clone, Serialize)]
pub struct RoadmapPage {
    /// The page id (`status`'s `id`).
    pub id: String,
    /// The page's title (its id when its source could not be read).
    pub title: String,
    /// The handbook page's public URL.
    pub url: Option<String>,
    /// The project (`status`'s `project`).
    pub project: String,
    /// The project's web page.
    pub project_url: String,
    /// The page's HTML file in the site, relative to its root.
    pub file: String,
    /// Issues of the page's current items (`status`'s `total`).
    pub total: usize,
    /// Open (`status`'s `open`).
    pub open: usize,
    /// Closed, handed-over ones included (`status`'s `closed`).
    pub closed: usize,
    /// Closed because handed over (`status`'s `handed_over`).
    pub handed_over: usize,
    /// Sections in page order (sections the page no longer has come last).
    pub sections: Vec<RoadmapSection>,
    /// Issues in total and closed, day by day (see [`burn_up`]).
    pub burn_up: Vec<BurnUpPoint>,
}

/// A section of a page.
#[derive(Debug, Clone, Serialize)]
pub struct RoadmapSection {
    /// The section path, as `status` names it.
    pub name: String,
    /// Issues.
    pub total: usize,
    /// Open.
    pub open: usize,
    /// Closed.
    pub closed: usize,
    /// Closed because handed over.
    pub handed_over: usize,
    /// The responsibilities, in page order.
    pub items: Vec<RoadmapItem>,
}

/// One responsibility and its issue.
#[derive(Debug, Clone, Serialize)]
pub struct RoadmapItem {
    /// The issue's iid.
    pub iid: u64,
    /// The item key (stable across rewordings); empty for a confidential issue (a key is
    /// its title's words).
    pub key: String,
    /// The issue's title; [`CONFIDENTIAL_TITLE`] for a confidential issue.
    pub title: String,
    /// A person made the issue confidential: counted, but its title, key and people are
    /// left out.
    pub confidential: bool,
    /// The issue's web URL.
    pub url: String,
    /// `opened` or `closed`.
    pub state: IssueState,
    /// `open`, `done` (closed) or `handed_over` (closed because handed over).
    pub status: ItemProgress,
    /// Who has it.
    pub assignees: Vec<Person>,
    /// To whom it was handed over: a GitLab user's name, or the name the handbook
    /// gives; `None` unless handed over.
    pub handed_over_to: Option<String>,
    /// When the issue was created (RFC 3339, UTC).
    #[serde(serialize_with = "as_rfc3339")]
    pub created_at: DateTime<Utc>,
    /// When it was closed (RFC 3339, UTC), while it is closed.
    #[serde(serialize_with = "as_rfc3339_or_null")]
    pub closed_at: Option<DateTime<Utc>>,
}

/// What the roadmap shows for the title of a confidential issue.
pub const CONFIDENTIAL_TITLE: &str = "Confidential issue";

/// Where a responsibility stands, as the counters count it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemProgress {
    /// The issue is open.
    Open,
    /// Closed (ticked, or closed by a person).
    Done,
    /// Closed because the handbook hands it over.
    HandedOver,
}

/// One day of the burn-up chart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BurnUpPoint {
    /// `YYYY-MM-DD` (UTC).
    pub date: String,
    /// Issues created by the end of that day.
    pub total: usize,
    /// Issues closed by the end of that day.
    pub closed: usize,
}

fn as_rfc3339<S: serde::Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

fn as_rfc3339_or_null<S: serde::Serializer>(
    t: &Option<DateTime<Utc>>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => as_rfc3339(t, s),
        None => s.serialize_none(),
    }
}

/// The roadmap of `pages` as of `generated_at` (the time the data was read).
pub fn build(pages: &[PageInput<'_>], labels: &Labels, generated_at: DateTime<Utc>) -> Roadmap {
    let files = file_names(pages.iter().map(|p| p.id.as_str()));
    Roadmap {
        version: 1,
        generated_at,
        pages: pages
            .iter()
            .zip(files)
            .map(|(p, file)| build_page(p, file, labels, generated_at))
            .collect(),
    }
}

/// `pages/<id>.html`, unique even where file names ignore case (`PM` and `pm` on
/// macOS): a later id equal but for case gets `-2`, `-3`, …. Ids hold letters, digits,
/// `-`, `_` and `.` only (the configuration checks), so no name leaves `pages/`.
fn file_names<'a>(ids: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut taken = std::collections::BTreeSet::new();
    ids.map(|id| {
        let mut name = id.to_owned();
        let mut n = 1;
        while !taken.insert(name.to_lowercase()) {
            n += 1;
            name = format!("{id}-{n}");
        }
        format!("pages/{name}.html")
    })
    .collect()
}

fn build_page(
    input: &PageInput<'_>,
    file: String,
    labels: &Labels,
    generated_at: DateTime<Utc>,
) -> RoadmapPage {
    let observed: Vec<ObservedIssue> = input.issues.iter().map(|t| t.issue.clone()).collect();
    let PageProgress {
        total,
        open,
        closed,
        handed_over,
        sections: counted_sections,
        ..
    } = status::page_progress(
        &labels.section_label_prefix,
        &input.id,
        &input.project,
        &observed,
    );
    let counted = status::counted(&input.id, input.issues, |t| &t.issue);
    // Page order: (section's place, item's place); what the page no longer has comes
    // after, in the order `status` lists it.
    let order = input.order.as_ref();
    let mut section_places = std::collections::HashMap::new();
    let mut item_places = std::collections::HashMap::new();
    for (i, (key, section)) in order.iter().flat_map(|o| &o.items).enumerate() {
        section_places.entry(section.as_str()).or_insert(i);
        item_places.entry(key.as_str()).or_insert(i);
    }
    let section_place = |name: &str| section_places.get(name).copied().unwrap_or(usize::MAX);
    let item_place = |key: &str| item_places.get(key).copied().unwrap_or(usize::MAX);
    let mut sections: Vec<(usize, RoadmapSection)> = counted_sections
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            (
                i,
                RoadmapSection {
                    name: s.name,
                    total: s.total,
                    open: s.open,
                    closed: s.closed,
                    handed_over: 0,
                    items: Vec::new(),
                },
            )
        })
        .collect();
    sections.sort_by_key(|(i, s)| (section_place(&s.name), *i));
    let mut sections: Vec<RoadmapSection> = sections.into_iter().map(|(_, s)| s).collect();
    let mut items: Vec<(&TrackedIssue, &marker::Marker)> = counted;
    items.sort_by_key(|(t, m)| (item_place(&m.key), t.issue.iid));
    for (tracked, m) in &items {
        let name = tracked
            .issue
            .labels
            .iter()
            .find_map(|l| l.strip_prefix(&labels.section_label_prefix))
            .unwrap_or(NO_SECTION);
        let Some(section) = sections.iter_mut().find(|s| s.name == name) else {
            continue;
        };
        let item = item(tracked, m);
        if item.status == ItemProgress::HandedOver {
            section.handed_over += 1;
        }
        section.items.push(item);
    }
    RoadmapPage {
        id: input.id.clone(),
        title: order.map_or_else(|| input.id.clone(), |o| o.title.clone()),
        url: input.url.clone(),
        project: input.project.clone(),
        project_url: input.project_url.clone(),
        file,
        total,
        open,
        closed,
        handed_over,
        sections,
        burn_up: burn_up(
            items
                .iter()
                .map(|(t, _)| (t.created_at, closed_at(t, generated_at))),
            generated_at,
        ),
    }
}

/// When a closed issue closed. GitLab always sets `closed_at` on a close; an issue
/// closed without one counts as closed when its data was read.
fn closed_at(t: &TrackedIssue, generated_at: DateTime<Utc>) -> Option<DateTime<Utc>> {
    (t.issue.state == IssueState::Closed).then(|| t.closed_at.unwrap_or(generated_at))
}

fn item(t: &TrackedIssue, m: &marker::Marker) -> RoadmapItem {
    let closed = t.issue.state == IssueState::Closed;
    let status = match (closed, m.status) {
        (false, _) => ItemProgress::Open,
        (true, MarkerStatus::HandedOver) => ItemProgress::HandedOver,
        (true, _) => ItemProgress::Done,
    };
    // The person handbook-sync assigned at the handoff, by their GitLab name; else the
    // name the handbook wrote (no GitLab user).
    let handed_over_to = (m.status == MarkerStatus::HandedOver && !t.confidential)
        .then(|| match &m.assignee {
            Some(user) => Some(
                t.assignees
                    .iter()
                    .find(|p| &p.username == user)
                    .map_or_else(|| format!("@{user}"), |p| p.name.clone()),
            ),
            None => t.handed_over_name.clone(),
        })
        .flatten();
    let shown = |text: &str| {
        if t.confidential {
            String::new()
        } else {
            text.to_owned()
        }
    };
    RoadmapItem {
        iid: t.issue.iid,
        key: shown(&m.key),
        title: if t.confidential {
            CONFIDENTIAL_TITLE.to_owned()
        } else {
            t.issue.title.clone()
        },
        confidential: t.confidential,
        url: t.web_url.clone(),
        state: t.issue.state,
        status,
        assignees: if t.confidential {
            Vec::new()
        } else {
            t.assignees.clone()
        },
        handed_over_to,
        created_at: t.created_at,
        closed_at: t.closed_at.filter(|_| closed),
    }
}

#[cfg(test)]
mod tests;
