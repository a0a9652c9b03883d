//! Reading what adoption may take over (`--adopt`, `adopt = true`): the open issues of a
//! project that carry no handbook-sync block, in one paged listing per project, and only
//! for projects where an adopting page would create an issue. Which issue goes with which
//! item is the core's to decide (`sync::plan` adoption); this only reads.

use crate::config::Config;
use crate::gitlab::Gitlab;
use crate::sync::{ActionKind, Plan};

use super::{ProjectError, Projects, RunOptions};

/// Lists the open issues of every project where a page that adopts would create one, into
/// its `candidates`; true when any were read, so the plan is made again with them. A
/// project whose listing fails gets no writes this run, as for any read that fails.
pub(super) async fn read_candidates(
    gitlab: &Gitlab,
    config: &Config,
    options: &RunOptions,
    plan: &Plan,
    projects: &mut Projects,
) -> bool {
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
    for (name, state) in projects.iter_mut() {
        let Ok(project) = state else { continue };
        if !adopting.contains(&name.as_str()) {
            continue;
        }
        match gitlab.open_unmanaged_issues(project.info.id).await {
            Ok(issues) => {
                tracing::info!(
                    project = %name,
                    candidates = issues.len(),
                    "read the open issues without a handbook-sync marker, to adopt"
                );
                project.candidates = issues;
                read = true;
            }
            Err(e) => {
                *state = Err(ProjectError::Read(e));
                read = true;
            }
        }
    }
    read
}
