//! Stage 3½: pages that vanished from a `[[discover]]` block — a file deleted, renamed
//! to another id, or no longer qualifying — while the tracker still holds open issues of
//! them. They become [`PageRead::Vanished`] pages, which the plan refuses to close unless
//! the run allows it (`--allow-removed-pages`).
//!
//! Every issue of a discovered page carries its block's label, and its marker names the
//! page, so the tracker itself says which pages existed: no cache is needed. Where to
//! look without listing every issue of every project again:
//!
//! - in each project the run read in full, its managed issues are already at hand;
//! - a block whose pages all go to one project has that project read as long as one of
//!   its pages is in the handbook;
//! - a block whose project is templated (`roadmaps/{slug}`), or whose one project no
//!   page of the handbook writes to now, may have had a page in a project the run did
//!   not read. One `GET /issues_statistics` counts the block's
//!   open issues everywhere; when that is more than the run knows of (the projects it
//!   read, and those it skipped as unchanged, by their counts at their last full read),
//!   the block's open issues are listed across projects to find where the others are.
//!
//! Only a run over the whole handbook looks (`--page` and a push's pages do not), and only
//! for a block whose listing was complete: a directory that could not be read, or a
//! file whose page is unknown, never makes pages look vanished.

use std::collections::{BTreeMap, BTreeSet};

use crate::config::{Config, Discovered, PageSettings};
use crate::discover::BlockListing;
use crate::gitlab::Gitlab;
use crate::source::SourceCache;
use crate::sync::{IssueState, ObservedIssue};

use super::{PageInput, PageRead, Projects};

/// A page of a block that is in the tracker and not in the handbook.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Gone {
    project: String,
    page: String,
}

/// Adds the vanished pages of `blocks` to `pages`, and reads their projects into
/// `projects` when the run has not. `counts` holds each project's open issues per block
/// label at its last full read (updated here for the projects read now).
pub(super) async fn add_vanished(
    config: &Config,
    blocks: &[BlockListing],
    gitlab: &Gitlab,
    pages: &mut Vec<PageInput>,
    projects: &mut Projects,
    counts: &SourceCache,
) {
    let current: BTreeSet<&str> = config.pages.iter().map(|p| p.id.as_str()).collect();
    let managed = &config.sync.managed_label;
    for block in blocks {
        for (name, state) in projects.iter() {
            if let Ok(state) = state {
                counts.set_open_count(
                    name,
                    &block.label,
                    open_with(&state.issues, managed, &block.label),
                );
            }
        }
    }
    let mut gone: BTreeMap<Gone, String> = BTreeMap::new();
    for block in blocks.iter().filter(|b| b.complete) {
        for (project, state) in projects.iter() {
            let Ok(state) = state else { continue };
            for page in pages_of(&state.issues, managed, &block.label) {
                if !current.contains(page.as_str()) {
                    gone.insert(
                        Gone {
                            project: project.clone(),
                            page,
                        },
                        block.name.clone(),
                    );
                }
            }
        }
        // A block of one project has it read whenever a page of it is in the handbook;
        // once none is, the count below finds them.
        if block
            .one_project
            .as_ref()
            .is_some_and(|p| projects.contains_key(p))
        {
            continue;
        }
        for (project, page) in elsewhere(config, block, gitlab, pages, projects, counts).await {
            if !current.contains(page.as_str()) {
                gone.insert(Gone { project, page }, block.name.clone());
            }
        }
    }
    if gone.is_empty() {
        return;
    }
    let mut added = Vec::new();
    for (Gone { project, page }, block) in gone {
        let settings = config
            .discover
            .iter()
            .find(|b| b.name == block)
            .expect("a vanished page's block is configured");
        tracing::warn!(page = %page, project = %project, block = %block, "a discovered page is no longer in the handbook");
        added.push(PageInput {
            settings: PageSettings {
                id: page,
                source: String::new(),
                url: None,
                project,
                owner: String::new(),
                include_sections: Vec::new(),
                exclude_sections: Vec::new(),
                board: false,
                adopt: false,
                page_label: None,
                discovered: Some(Discovered {
                    block: block.clone(),
                    label: settings.label(),
                    path: String::new(),
                    project_template: settings.project.clone(),
                    blob: None,
                }),
            },
            read: PageRead::Vanished,
        });
    }
    let unread: Vec<PageInput> = added
        .iter()
        .filter(|p| !projects.contains_key(&p.settings.project))
        .map(|p| PageInput {
            settings: p.settings.clone(),
            read: PageRead::Vanished,
        })
        .collect();
    let read =
        super::projects::read_projects_at(gitlab, &unread, &config.sync, config.gitlab.concurrency)
            .await;
    projects.extend(read);
    pages.extend(added);
}

/// Open managed issues carrying `label`.
fn open_with(issues: &[ObservedIssue], managed: &str, label: &str) -> u64 {
    issues
        .iter()
        .filter(|i| i.state == IssueState::Opened && has(i, managed) && has(i, label))
        .count() as u64
}

fn has(issue: &ObservedIssue, label: &str) -> bool {
    issue.labels.iter().any(|l| l == label)
}

/// The pages (by marker) of the open managed issues carrying `label`.
fn pages_of(issues: &[ObservedIssue], managed: &str, label: &str) -> BTreeSet<String> {
    issues
        .iter()
        .filter(|i| i.state == IssueState::Opened && has(i, managed) && has(i, label))
        .filter_map(|i| i.marker.as_ref().map(|m| m.page.clone()))
        .collect()
}

/// (project, page) of the block's open issues in projects the run did not read, when
/// GitLab counts more of them than the run knows of; nothing when it cannot tell.
async fn elsewhere(
    config: &Config,
    block: &BlockListing,
    gitlab: &Gitlab,
    pages: &[PageInput],
    projects: &Projects,
    counts: &SourceCache,
) -> BTreeSet<(String, String)> {
    let mut known: BTreeSet<&str> = projects.keys().map(String::as_str).collect();
    known.extend(
        pages
            .iter()
            .filter(|p| in_block(&p.settings, &block.name))
            .map(|p| p.settings.project.as_str()),
    );
    let mut local = 0;
    for project in &known {
        match counts.open_count(project, &block.label) {
            Some(n) => local += n,
            None => {
                // A page of it could not be read, so its project was not: the count is
                // unknown, and looking elsewhere waits for a run that reads it.
                tracing::debug!(block = %block.name, project, "open issues unknown; not looking for vanished pages elsewhere");
                return BTreeSet::new();
            }
        }
    }
    let labels = [config.sync.managed_label.clone(), block.label.clone()];
    let everywhere = match gitlab.count_issues_everywhere(&labels).await {
        Ok((opened, _)) => opened,
        Err(e) => {
            tracing::warn!(block = %block.name, "{e}; pages that vanished in other projects are looked for next run");
            return BTreeSet::new();
        }
    };
    if everywhere <= local {
        return BTreeSet::new();
    }
    tracing::info!(
        block = %block.name,
        everywhere,
        known = local,
        "more open issues of the block than its pages' projects hold: listing them"
    );
    match gitlab.open_issues_everywhere(&labels).await {
        Ok(found) => found
            .into_iter()
            .filter(|f| !known.contains(f.project.as_str()))
            .filter_map(|f| Some((f.project, f.issue.marker?.page)))
            .collect(),
        Err(e) => {
            tracing::warn!(block = %block.name, "{e}; pages that vanished in other projects are looked for next run");
            BTreeSet::new()
        }
    }
}

fn in_block(settings: &PageSettings, block: &str) -> bool {
    settings
        .discovered
        .as_ref()
        .is_some_and(|d| d.block == block)
}
