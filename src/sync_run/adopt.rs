//! Reading what adoption may take over (`--adopt`, `adopt = true`): the open issues of a
//! project that carry no handbook-sync block and that one of its members opened, in one
//! paged listing per project, and only for projects where an adopting page would create
//! an issue. Which issue goes with which item is the core's to decide (`sync::plan`
//! adoption); this only reads, and says which issues it left out and why.
//!
//! Only members' issues: on a public project anyone signed in may open issues, and a
//! stranger who opened one with an item's title before a team's first `--adopt` would
//! otherwise have their text, and their issue, made part of the team's tracker. Never a
//! confidential issue: a person restricted who may see it, and the plan (posted on merge
//! requests, printed in CI logs) would name it and its assignee, and the roadmap count
//! and link it. Never a task or an incident, which the project's issue list returns
//! too: a task with a common title is part of another issue's work. Never an issue that items of two adopting pages of the project want: one
//! issue never takes two items, and each page's plan sees only its own.

use std::collections::{BTreeMap, BTreeSet};

use crate::config::Config;
use crate::gitlab::Gitlab;
use crate::sync::plan::gitlab_title;
use crate::sync::{ActionKind, Plan};

use super::{ProjectError, Projects, RunOptions};

/// An open issue with an item's title that is not adopted, and why.
#[derive(Debug, Clone)]
pub(super) struct Left {
    project: String,
    iid: u64,
    title: String,
    why: Why,
}

/// Why an issue with an item's title is not adopted.
#[derive(Debug, Clone)]
enum Why {
    /// Opened by this username (or someone GitLab does not name), not a member.
    Stranger(String),
    /// A person made it confidential.
    Confidential,
    /// Not an issue but this work item type (a task of another issue, an incident).
    NotAnIssue(String),
    /// Items of these adopting pages of the project (two or more) have its title.
    Shared(Vec<String>),
}

/// The pages that adopt (`--adopt`, or their own `adopt = true`).
fn adopting<'c>(
    config: &'c Config,
    options: &RunOptions,
) -> impl Iterator<Item = &'c crate::config::PageSettings> {
    config
        .pages
        .iter()
        .filter(move |p| options.adopt || p.adopt)
}

/// Lists the open issues of every project where a page that adopts would create one,
/// keeping those its members opened, not confidential and wanted by one adopting page
/// at most, as the project's `candidates`. `None` when nothing was read (the plan
/// stands); else the issues left out, to say so once the plan is made again. A project
/// whose listing fails gets no writes this run, as for any read that fails.
pub(super) async fn read_candidates(
    gitlab: &Gitlab,
    config: &Config,
    options: &RunOptions,
    plan: &Plan,
    projects: &mut Projects,
) -> Option<Vec<Left>> {
    // Per project, per title (as GitLab stores it): the adopting pages that would create it.
    let mut wanted: BTreeMap<&str, BTreeMap<&str, BTreeSet<&str>>> = BTreeMap::new();
    for page in adopting(config, options) {
        for action in plan
            .actions
            .iter()
            .filter(|a| a.page == page.id && a.action == ActionKind::Create)
        {
            wanted
                .entry(page.project.as_str())
                .or_default()
                .entry(gitlab_title(&action.title))
                .or_default()
                .insert(page.id.as_str());
        }
    }
    let mut read = false;
    let mut left = Vec::new();
    for (name, state) in projects.iter_mut() {
        let Ok(project) = state else { continue };
        let Some(titles) = wanted.get(name.as_str()) else {
            continue;
        };
        read = true;
        match gitlab.open_unmanaged_issues(project.info.id).await {
            Ok(issues) => {
                for unmanaged in issues {
                    // An issue no item wants is nobody's candidate.
                    let Some(pages) = titles.get(gitlab_title(&unmanaged.issue.title)) else {
                        continue;
                    };
                    let why = match unmanaged.author {
                        Some(author) if !project.members.contains_key(&author) => {
                            Some(Why::Stranger(author))
                        }
                        None => Some(Why::Stranger("someone unknown".into())),
                        Some(_) if unmanaged.confidential => Some(Why::Confidential),
                        Some(_) if unmanaged.issue_type != "issue" => {
                            Some(Why::NotAnIssue(unmanaged.issue_type))
                        }
                        Some(_) if pages.len() > 1 => {
                            Some(Why::Shared(pages.iter().map(|&p| p.to_owned()).collect()))
                        }
                        Some(_) => None,
                    };
                    match why {
                        None => project.candidates.push(unmanaged.issue),
                        Some(why) => left.push(Left {
                            project: name.clone(),
                            iid: unmanaged.issue.iid,
                            title: unmanaged.issue.title,
                            why,
                        }),
                    }
                }
                tracing::info!(
                    project = %name,
                    candidates = project.candidates.len(),
                    "read the open issues without a handbook-sync marker, to adopt"
                );
            }
            Err(e) => *state = Err(ProjectError::Read(e)),
        }
    }
    read.then_some(left)
}

/// Says on each create of an adopting page whose title an issue left out has that this
/// issue was not adopted, and why.
pub(super) fn warn_left(plan: &mut Plan, config: &Config, options: &RunOptions, left: &[Left]) {
    let pages: Vec<_> = adopting(config, options).collect();
    for action in plan
        .actions
        .iter_mut()
        .filter(|a| a.action == ActionKind::Create)
    {
        let Some(page) = pages.iter().find(|p| p.id == action.page) else {
            continue;
        };
        for l in left.iter().filter(|l| {
            l.project == page.project && gitlab_title(&l.title) == gitlab_title(&action.title)
        }) {
            let (iid, project) = (l.iid, &l.project);
            action.warnings.push(match &l.why {
                Why::Stranger(author) => format!(
                    "issue #{iid} has this title but was opened by `{author}`, who is not a member of {project}: not adopted (only issues the project's members opened are)"
                ),
                Why::Confidential => format!(
                    "issue #{iid} has this title but is confidential: not adopted (a confidential issue is never taken over; make it public and plan again to adopt it)"
                ),
                Why::NotAnIssue(kind) => format!(
                    "issue #{iid} has this title but is a {kind}, not an issue: not adopted (a task belongs to another issue's work)"
                ),
                Why::Shared(pages) => format!(
                    "issue #{iid} has this title, as do items of pages {}: not adopted, as one issue never takes two items",
                    and_list(pages)
                ),
            });
        }
    }
}

/// `a`, `a and b`, `a, b and c`.
fn and_list(words: &[String]) -> String {
    match words {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}
