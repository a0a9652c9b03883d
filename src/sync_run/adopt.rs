//! Reading what adoption may take over (`--adopt`, `adopt = true`): the open issues of a
//! project that carry no handbook-sync block and that one of its members opened, in one
//! paged listing per project, and only for projects where an adopting page would create
//! an issue. Which issue goes with which item is the core's to decide (`sync::plan`
//! adoption); this only reads, and says which issues it left out and why.
//!
//! Only members' issues: on a public project anyone signed in may open issues, and a
//! stranger who opened one with an item's title before a team's first `--adopt` would
//! otherwise have their text, and their issue, made part of the team's tracker.

use crate::config::Config;
use crate::gitlab::Gitlab;
use crate::sync::plan::gitlab_title;
use crate::sync::{ActionKind, Plan};

use super::{ProjectError, Projects, RunOptions};

/// An issue with an item's title that is not adopted because a non-member opened it.
#[derive(Debug, Clone)]
pub(super) struct Stranger {
    project: String,
    iid: u64,
    title: String,
    author: String,
}

/// Lists the open issues of every project where a page that adopts would create one,
/// keeping those its members opened as the project's `candidates`. `None` when nothing
/// was read (the plan stands); else the issues left out for their author, to say so once
/// the plan is made again. A project whose listing fails gets no writes this run, as for
/// any read that fails.
pub(super) async fn read_candidates(
    gitlab: &Gitlab,
    config: &Config,
    options: &RunOptions,
    plan: &Plan,
    projects: &mut Projects,
) -> Option<Vec<Stranger>> {
    let adopting: Vec<&str> = config
        .pages
        .iter()
        .filter(|p| options.adopt || p.adopt)
        .filter(|p| {
            plan.actions
                .iter()
                .any(|a| a.page == p.id && a.action == ActionKind::Create)
        })
        .map(|p| p.project.as_str())
        .collect();
    let mut read = false;
    let mut strangers = Vec::new();
    for (name, state) in projects.iter_mut() {
        let Ok(project) = state else { continue };
        if !adopting.contains(&name.as_str()) {
            continue;
        }
        read = true;
        match gitlab.open_unmanaged_issues(project.info.id).await {
            Ok(issues) => {
                for unmanaged in issues {
                    match unmanaged.author {
                        Some(author) if project.members.contains_key(&author) => {
                            project.candidates.push(unmanaged.issue);
                        }
                        author => strangers.push(Stranger {
                            project: name.clone(),
                            iid: unmanaged.issue.iid,
                            title: unmanaged.issue.title,
                            author: author.unwrap_or_else(|| "someone unknown".into()),
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
    read.then_some(strangers)
}

/// Says on each create whose title a non-member's open issue has that this issue was not
/// adopted, and why.
pub(super) fn warn_strangers(plan: &mut Plan, config: &Config, strangers: &[Stranger]) {
    for action in plan
        .actions
        .iter_mut()
        .filter(|a| a.action == ActionKind::Create)
    {
        let Some(page) = config.pages.iter().find(|p| p.id == action.page) else {
            continue;
        };
        for s in strangers.iter().filter(|s| {
            s.project == page.project && gitlab_title(&s.title) == gitlab_title(&action.title)
        }) {
            action.warnings.push(format!(
                "issue #{} has this title but was opened by `{}`, who is not a member of {}: not adopted (only issues the project's members opened are)",
                s.iid, s.author, s.project
            ));
        }
    }
}
