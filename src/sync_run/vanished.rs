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
//! Across projects, issues are counted and listed by who opened them, never everyone's
//! (a stranger can copy our labels and marker into an issue of their own project, never
//! its author): the token's user's (`scope=created_by_me`), and each other user's who
//! opened an open issue of the block in a project the run read (`author_id`: a former
//! token's user, a person whose issue was adopted), each against the issues of that
//! same user the run knows of, so a new token does not hide its predecessor's issues.
//! And only in projects the block's project template could name
//! ([`Template::could_give`](handbook_sync_core::discover::Template::could_give)), here
//! and in the projects read: another team's handbook-sync with a block of the same name
//! and the same bot writes elsewhere, and its pages are never ours.
//!
//! Only a run over the whole handbook looks (`--page` and a push's pages do not), and only
//! for a block whose listing was complete: a directory that could not be read, or a
//! file whose page is unknown, never makes pages look vanished.

use std::collections::{BTreeMap, BTreeSet};

use crate::config::{Config, Discovered, PageSettings};
use crate::discover::BlockListing;
use crate::gitlab::{Gitlab, Opener};
use crate::source::{OpenCounts, SourceCache};
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
    // Each page of the handbook and its project now.
    let current: BTreeMap<&str, &str> = config
        .pages
        .iter()
        .map(|p| (p.id.as_str(), p.project.as_str()))
        .collect();
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
    // (project, page) → (block, the project the page is in now if it moved).
    let mut gone: BTreeMap<Gone, (String, Option<String>)> = BTreeMap::new();
    // The token's user's id, read once when a block looks across projects.
    let mut me = None;
    let mut judge = |project: String, page: String, block: &str| match current.get(page.as_str()) {
        None => {
            gone.insert(Gone { project, page }, (block.to_owned(), None));
        }
        // Its file moved to a directory whose project is another: the issues left here
        // would stay open for ever, and the page's items be created there beside them.
        // Only into a project read now: a typo in front matter names one that does not
        // exist (or cannot be read), and the page fails there, named, closing nothing.
        Some(now) if !now.eq_ignore_ascii_case(&project) => {
            if matches!(projects.get(*now), Some(Ok(_))) {
                let now = (*now).to_owned();
                gone.insert(Gone { project, page }, (block.to_owned(), Some(now)));
            } else {
                tracing::warn!(page = %page, project = %project, now = %now, block = %block, "a discovered page names a project that was not read: not taken as moved");
            }
        }
        Some(_) => {}
    };
    for block in blocks.iter().filter(|b| b.complete) {
        for (project, state) in projects.iter() {
            let Ok(state) = state else { continue };
            if !block.project_template.could_give(project) {
                continue;
            }
            for page in pages_of(&state.issues, managed, &block.label) {
                judge(project.clone(), page, &block.name);
            }
        }
        // A block of one project has it read whenever a page of it is in the handbook;
        // once none is, the count below finds them.
        if block
            .one_project
            .as_ref()
            .is_some_and(|p| projects.keys().any(|k| k.eq_ignore_ascii_case(p)))
        {
            continue;
        }
        for (project, page) in
            elsewhere(config, block, gitlab, pages, projects, counts, &mut me).await
        {
            judge(project, page, &block.name);
        }
    }
    if gone.is_empty() {
        return;
    }
    // A moved page is planned once, as its issues in the old project: its id twice in one
    // plan would mix the two projects' actions. Its issues in the new one are created on
    // the run after the old ones are closed (`--allow-removed-pages`).
    let moved: BTreeSet<&str> = gone
        .iter()
        .filter(|(_, (_, to))| to.is_some())
        .map(|(g, _)| g.page.as_str())
        .collect();
    pages.retain(|p| !moved.contains(p.settings.id.as_str()));
    let mut added = Vec::new();
    for (Gone { project, page }, (block, moved_to)) in gone {
        let settings = config
            .discover
            .iter()
            .find(|b| b.name == block)
            .expect("a vanished page's block is configured");
        let why = match &moved_to {
            Some(to) => {
                tracing::warn!(page = %page, project = %project, now = %to, block = %block, "a discovered page moved to another project");
                format!(
                    "its file gives it in project {to} now: its open issues in {project} are no longer synced"
                )
            }
            None => {
                tracing::warn!(page = %page, project = %project, block = %block, "a discovered page is no longer in the handbook");
                let file = blocks
                    .iter()
                    .find(|b| b.name == block)
                    .and_then(|b| b.not_pages.get(&page));
                match file {
                    Some((path, not)) => format!(
                        "its file `{}` is no page of [[discover]] `{block}` any more: {not}",
                        crate::discover::shown(path)
                    ),
                    None => format!(
                        "no file of [[discover]] `{block}` gives this id any more: deleted, renamed or no longer qualifying"
                    ),
                }
            }
        };
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
                    owner_from_page: false,
                    blob: None,
                }),
            },
            read: PageRead::Vanished { why, moved_to },
        });
    }
    let unread: Vec<PageInput> = added
        .iter()
        .filter(|p| !projects.contains_key(&p.settings.project))
        .map(|p| PageInput {
            settings: p.settings.clone(),
            // Only its kind matters for reading its project.
            read: PageRead::Vanished {
                why: String::new(),
                moved_to: None,
            },
        })
        .collect();
    let read =
        super::projects::read_projects_at(gitlab, &unread, &config.sync, config.gitlab.concurrency)
            .await;
    projects.extend(read);
    pages.extend(added);
}

/// Open managed issues carrying `label`, by who opened them.
fn open_with(issues: &[ObservedIssue], managed: &str, label: &str) -> OpenCounts {
    let mut counts = OpenCounts::new();
    for i in issues
        .iter()
        .filter(|i| i.state == IssueState::Opened && has(i, managed) && has(i, label))
    {
        *counts.entry(i.author).or_default() += 1;
    }
    counts
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

/// (project, page) of the block's open issues in projects the run did not read, for
/// each user GitLab counts more of them of than the run knows of; nothing when it cannot
/// tell. `me` keeps the token's user's id across blocks.
async fn elsewhere(
    config: &Config,
    block: &BlockListing,
    gitlab: &Gitlab,
    pages: &[PageInput],
    projects: &Projects,
    counts: &SourceCache,
    me: &mut Option<u64>,
) -> BTreeSet<(String, String)> {
    let mut known: BTreeSet<&str> = projects.keys().map(String::as_str).collect();
    known.extend(
        pages
            .iter()
            .filter(|p| in_block(&p.settings, &block.name))
            .map(|p| p.settings.project.as_str()),
    );
    let mut local = OpenCounts::new();
    for project in &known {
        match counts.open_count(project, &block.label) {
            Some(n) => {
                for (author, n) in n {
                    *local.entry(author).or_default() += n;
                }
            }
            None => {
                // A page of it could not be read, so its project was not: the count is
                // unknown, and looking elsewhere waits for a run that reads it.
                tracing::debug!(block = %block.name, project, "open issues unknown; not looking for vanished pages elsewhere");
                return BTreeSet::new();
            }
        }
    }
    let labels = [config.sync.managed_label.clone(), block.label.clone()];
    let me = match me {
        Some(id) => *id,
        None => match gitlab.current_user_id().await {
            Ok(id) => *me.insert(id),
            Err(e) => {
                tracing::warn!(block = %block.name, "{e}; pages that vanished in other projects are looked for next run");
                return BTreeSet::new();
            }
        },
    };
    // Each user's issues against that user's: the token's user's own count says nothing
    // of a former token's issues, and counting everyone's issues in the projects read
    // against the token's user's everywhere hid the pages of either.
    let mut openers = vec![(Opener::Me, local.get(&Some(me)).copied().unwrap_or(0))];
    openers.extend(local.iter().filter_map(|(author, n)| match author {
        Some(id) if *id != me => Some((Opener::User(*id), *n)),
        _ => None,
    }));
    let mut found = BTreeSet::new();
    for (opener, known_count) in openers {
        let everywhere = match gitlab.count_issues_everywhere(&labels, opener).await {
            Ok((opened, _)) => opened,
            Err(e) => {
                tracing::warn!(block = %block.name, "{e}; pages that vanished in other projects are looked for next run");
                return BTreeSet::new();
            }
        };
        if everywhere <= known_count {
            continue;
        }
        tracing::info!(
            block = %block.name,
            ?opener,
            everywhere,
            known = known_count,
            "more open issues of the block than its pages' projects hold: listing them"
        );
        match gitlab.open_issues_everywhere(&labels, opener).await {
            Ok(listed) => found.extend(
                listed
                    .into_iter()
                    // GitLab's own spelling of a path the configuration wrote in
                    // another case is the same project.
                    .filter(|f| !known.iter().any(|k| k.eq_ignore_ascii_case(&f.project)))
                    // Another configuration's block of the same name (another team, the
                    // same bot) writes to projects ours cannot name: theirs are never
                    // our pages.
                    .filter(|f| block.project_template.could_give(&f.project))
                    .filter_map(|f| Some((f.project, f.issue.marker?.page))),
            ),
            Err(e) => {
                tracing::warn!(block = %block.name, "{e}; pages that vanished in other projects are looked for next run");
                return BTreeSet::new();
            }
        }
    }
    found
}

fn in_block(settings: &PageSettings, block: &str) -> bool {
    settings
        .discovered
        .as_ref()
        .is_some_and(|d| d.block == block)
}
