//! `handbook-sync status`: progress per page and section, counted from the issues the
//! shell read from GitLab, and its text form. Pure.

use std::fmt::Write as _;

use serde::Serialize;

use crate::sync::marker::{self, MarkerStatus};
use crate::sync::{IssueState, ObservedIssue};

/// Counts of one section.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct SectionProgress {
    /// Section path (the section label without its prefix).
    pub name: String,
    /// Issues.
    pub total: usize,
    /// Open issues.
    pub open: usize,
    /// Closed issues.
    pub closed: usize,
}

/// Counts of one page.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct PageProgress {
    /// Page id.
    pub id: String,
    /// Project.
    pub project: String,
    /// Issues of the page's current items (issues of removed items are not counted).
    pub total: usize,
    /// Open.
    pub open: usize,
    /// Closed.
    pub closed: usize,
    /// Closed because handed over.
    pub handed_over: usize,
    /// Per section, in the order the page's issues were created: the handbook's order,
    /// except that creates running side by side (`gitlab.concurrency`) may swap
    /// neighbouring short sections.
    pub sections: Vec<SectionProgress>,
}

/// The report of `handbook-sync status`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StatusReport {
    /// Per configured page.
    pub pages: Vec<PageProgress>,
}

/// The issues of `page` that count, each with its marker, by iid: one per item key (the
/// open one, else the oldest), so the duplicates the sync closed are not work done, and
/// none of an item removed from the handbook. `issue` reaches the observed issue inside
/// whatever the caller holds (the roadmap keeps more of each issue).
pub fn counted<'a, T>(
    page: &str,
    issues: &'a [T],
    issue: impl Fn(&T) -> &ObservedIssue,
) -> Vec<(&'a T, &'a marker::Marker)>
where
    T: 'a,
{
    let mut ours: Vec<(&T, &marker::Marker)> = issues
        .iter()
        .filter_map(|t| {
            let m = issue(t).marker.as_ref()?;
            (m.page == page && m.status != MarkerStatus::Removed).then_some((t, m))
        })
        .collect();
    ours.sort_by_key(|(t, _)| (issue(t).state != IssueState::Opened, issue(t).iid));
    let mut keys = std::collections::BTreeSet::new();
    ours.retain(|(_, m)| keys.insert(m.key.clone()));
    ours.sort_by_key(|(t, _)| issue(t).iid);
    ours
}

/// Counts one page's issues; sections are the labels starting with
/// `section_label_prefix` (`sync.section_label_prefix`).
pub fn page_progress(
    section_label_prefix: &str,
    page: &str,
    project: &str,
    issues: &[ObservedIssue],
) -> PageProgress {
    let mut progress = PageProgress {
        id: page.to_owned(),
        project: project.to_owned(),
        ..Default::default()
    };
    for (issue, m) in counted(page, issues, |i| i) {
        let open = issue.state == IssueState::Opened;
        progress.total += 1;
        if open {
            progress.open += 1;
        } else {
            progress.closed += 1;
            if m.status == MarkerStatus::HandedOver {
                progress.handed_over += 1;
            }
        }
        let name = issue
            .labels
            .iter()
            .find_map(|l| l.strip_prefix(section_label_prefix))
            .unwrap_or("(no section)")
            .to_owned();
        let section = match progress.sections.iter().position(|s| s.name == name) {
            Some(i) => &mut progress.sections[i],
            None => {
                progress.sections.push(SectionProgress {
                    name,
                    ..Default::default()
                });
                progress.sections.last_mut().expect("just pushed")
            }
        };
        section.total += 1;
        if open {
            section.open += 1;
        } else {
            section.closed += 1;
        }
    }
    progress
}

fn percent(closed: usize, total: usize) -> usize {
    (closed * 100).checked_div(total).unwrap_or(0)
}

impl StatusReport {
    /// Text with a bar per section (`bars` on a terminal). Pages of several projects are
    /// grouped under a line per project with its totals.
    pub fn to_text(&self, bars: bool) -> String {
        let mut out = String::new();
        let mut projects: Vec<&str> = Vec::new();
        for page in &self.pages {
            if !projects.contains(&page.project.as_str()) {
                projects.push(&page.project);
            }
        }
        if projects.len() > 1 {
            for project in projects {
                let pages: Vec<&PageProgress> =
                    self.pages.iter().filter(|p| p.project == project).collect();
                let total: usize = pages.iter().map(|p| p.total).sum();
                let closed: usize = pages.iter().map(|p| p.closed).sum();
                let open: usize = pages.iter().map(|p| p.open).sum();
                let _ = writeln!(
                    out,
                    "project {project}: {} page(s), {closed} of {total} done ({}%), {open} open",
                    pages.len(),
                    percent(closed, total)
                );
                for page in pages {
                    page_text(page, bars, &mut out);
                }
            }
            return out;
        }
        for page in &self.pages {
            page_text(page, bars, &mut out);
        }
        out
    }
}

/// One page's line and its sections.
fn page_text(page: &PageProgress, bars: bool, out: &mut String) {
    let _ = writeln!(
        out,
        "{} → {}: {} of {} done ({}%), {} open, {} handed over",
        page.id,
        page.project,
        page.closed,
        page.total,
        percent(page.closed, page.total),
        page.open,
        page.handed_over
    );
    let width = page
        .sections
        .iter()
        .map(|s| s.name.chars().count())
        .max()
        .unwrap_or(0);
    for s in &page.sections {
        let bar = if bars {
            let filled = (s.closed * 20).checked_div(s.total).unwrap_or(0);
            format!("[{}{}] ", "#".repeat(filled), ".".repeat(20 - filled))
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "  {:<width$}  {bar}{}/{} done ({}%), {} open",
            s.name,
            s.closed,
            s.total,
            percent(s.closed, s.total),
            s.open
        );
    }
}
