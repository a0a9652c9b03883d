//! Stage 4: the people. A handbook name is assigned through `[people]` or when a member
//! of the project has exactly that username (the member lists come with the projects,
//! one listing per project); the configuration's own usernames (`[people]` values, page
//! owners) that are not members are looked up once each, concurrently.

use std::collections::{BTreeMap, BTreeSet};

use futures_util::StreamExt as _;

use crate::config::Config;
use crate::gitlab::Gitlab;
use crate::sync::People;

use super::{PageInput, PageRead, Projects};

/// Who the handbook names, as GitLab knows them.
#[derive(Debug, Clone, Default)]
pub struct ResolvedPeople {
    /// Per project path: how names resolve there (what desired issues use).
    pub people: BTreeMap<String, People>,
    /// Username → user id: what writes use.
    pub user_ids: BTreeMap<String, u64>,
}

impl ResolvedPeople {
    /// How names resolve in `project` (nobody is a member of a project not read).
    pub fn of(&self, project: &str) -> People {
        self.people.get(project).cloned().unwrap_or_else(|| People {
            project: project.to_owned(),
            ..People::default()
        })
    }
}

/// Stage 4: resolves the people of every project that was read. Never fails: a user who
/// cannot be looked up is left unassigned with a warning, and the run goes on.
pub async fn resolve_people(
    config: &Config,
    gitlab: &Gitlab,
    pages: &[PageInput],
    projects: &Projects,
) -> ResolvedPeople {
    let mut resolved = ResolvedPeople::default();
    // The configured usernames each project needs: every `[people]` value, and the owners
    // of its pages.
    let mut configured: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for input in pages {
        let Some(Ok(state)) = projects.get(&input.settings.project) else {
            continue;
        };
        if !matches!(input.read, PageRead::Parsed(_)) {
            continue;
        }
        let wanted = configured.entry(&input.settings.project).or_default();
        wanted.extend(config.people.values().map(|u| clean(u)));
        wanted.insert(clean(&input.settings.owner));
        for (username, id) in &state.members {
            resolved.user_ids.insert(username.clone(), *id);
        }
    }
    let strangers: BTreeSet<String> = configured
        .iter()
        .flat_map(|(project, wanted)| {
            let members = projects[*project].as_ref().map(|s| &s.members).ok();
            wanted
                .iter()
                .filter(move |u| members.is_none_or(|m| !m.contains_key(*u)))
                .cloned()
        })
        .collect();
    let looked_up = look_up(gitlab, strangers, config.gitlab.concurrency.max(1)).await;
    let mut unavailable = BTreeMap::new();
    for (username, found) in looked_up {
        match found {
            Ok(Some(id)) => {
                resolved.user_ids.insert(username, id);
            }
            Ok(None) => {}
            Err(why) => {
                unavailable.insert(username, why);
            }
        }
    }
    for (project, wanted) in configured {
        if let Some(Ok(state)) = projects.get(project) {
            let people = people_of(config, project, state, &wanted, &resolved.user_ids);
            resolved.people.insert(
                project.to_owned(),
                People {
                    unavailable: unavailable.clone(),
                    ..people
                },
            );
        }
    }
    resolved
}

/// How names resolve in `project`: its members, and which of the configured usernames it
/// needs (`wanted`) exist.
fn people_of(
    config: &Config,
    project: &str,
    state: &super::ProjectState,
    wanted: &BTreeSet<String>,
    user_ids: &BTreeMap<String, u64>,
) -> People {
    let members: BTreeSet<String> = state.members.keys().cloned().collect();
    for username in wanted.iter().filter(|u| !members.contains(*u)) {
        if user_ids.contains_key(username) {
            tracing::warn!(
                project,
                username,
                "a configured user is not a member of the project; assigned as configured (GitLab drops an assignee who cannot see the project)"
            );
        }
    }
    People {
        map: config.people.clone(),
        known: wanted
            .iter()
            .filter(|u| user_ids.contains_key(*u))
            .cloned()
            .collect(),
        members,
        unavailable: BTreeMap::new(),
        project: project.to_owned(),
    }
}

/// A configured username as GitLab spells it: no surrounding space, no `@`.
fn clean(username: &str) -> String {
    username.trim().trim_start_matches('@').to_owned()
}

/// Looks `usernames` up, `concurrency` at once (the client still paces every request):
/// found, not found, or why the lookup failed.
async fn look_up(
    gitlab: &Gitlab,
    usernames: BTreeSet<String>,
    concurrency: usize,
) -> Vec<(String, Result<Option<u64>, String>)> {
    futures_util::stream::iter(usernames)
        .map(|username| async move {
            let found = gitlab.find_user(&username).await.map_err(|e| {
                tracing::warn!(username, "{e}; left unassigned");
                format!("could not be looked up ({e})")
            });
            (username, found)
        })
        .buffer_unordered(concurrency)
        .collect()
        .await
}
