//! Stage 4: the people. A handbook name is assigned through `[people]` or when a member
//! of the project has exactly that username (the member lists come with the projects,
//! one listing per project). The configuration's own usernames (`[people]` values, page
//! owners written in it; not an owner a discovered page's front matter names, which is
//! page text: members only) that are not members are taken as configured, and looked up — once each,
//! concurrently — only when a write of the plan needs their id ([`ResolvedPeople::confirm`]):
//! a run that assigns nobody new asks GitLab about nobody.

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

/// Stage 4: resolves the people of every project that was read, from its members; no
/// request (see [`ResolvedPeople::confirm`] for the configured users who are not
/// members). Never fails.
pub async fn resolve_people(
    config: &Config,
    _gitlab: &Gitlab,
    pages: &[PageInput],
    projects: &Projects,
) -> ResolvedPeople {
    let mut resolved = ResolvedPeople::default();
    // The configured usernames each project needs: every `[people]` value, and the owners
    // of its pages.
    let mut configured: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    // Owners a page's front matter names, per project.
    let mut from_page: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for input in pages {
        let Some(Ok(state)) = projects.get(&input.settings.project) else {
            continue;
        };
        if !matches!(input.read, PageRead::Parsed(_)) {
            continue;
        }
        let wanted = configured.entry(&input.settings.project).or_default();
        wanted.extend(config.people.values().map(|u| clean(u)));
        if input
            .settings
            .discovered
            .as_ref()
            .is_some_and(|d| d.owner_from_page)
        {
            // Page text, not configuration: a member or nobody (anyone who can push a
            // page could otherwise assign, and e-mail, any user of the instance).
            from_page
                .entry(&input.settings.project)
                .or_default()
                .insert(clean(&input.settings.owner));
        } else {
            wanted.insert(clean(&input.settings.owner));
        }
        for (username, id) in &state.members {
            resolved.user_ids.insert(username.clone(), *id);
        }
    }
    for (project, wanted) in configured {
        if let Some(Ok(state)) = projects.get(project) {
            let mut people = people_of(config, project, state, &wanted);
            for owner in from_page.get(project).into_iter().flatten() {
                if !wanted.contains(owner) {
                    people.unavailable.insert(
                        owner.clone(),
                        format!("named by the page's front matter, and page text assigns only members of {project}"),
                    );
                }
            }
            resolved.people.insert(project.to_owned(), people);
        }
    }
    resolved
}

impl ResolvedPeople {
    /// Looks up the configured users who are not members and whose id a write of `plan`
    /// needs (a create assigning them, an edit adding them), `concurrency` at once. Those
    /// found get their id; those GitLab does not know, or that could not be looked up,
    /// are no longer assigned anywhere, and the return is true: the plan must be made
    /// again.
    pub async fn confirm(
        &mut self,
        gitlab: &Gitlab,
        plan: &crate::sync::Plan,
        concurrency: usize,
    ) -> bool {
        use crate::sync::Write;
        let needed: BTreeSet<String> = plan
            .actions
            .iter()
            .filter_map(|a| match &a.write {
                Some(Write::Create(_)) => a.changes.assignee.as_ref()?.to.clone(),
                Some(Write::Edit { assignee, .. }) => assignee.as_ref()?.add.clone(),
                Some(Write::Adopt(adoption)) => adoption.assignee.add.clone(),
                None => None,
            })
            .filter(|u| !self.user_ids.contains_key(u))
            .collect();
        if needed.is_empty() {
            return false;
        }
        let mut missing = BTreeMap::new();
        for (username, found) in look_up(gitlab, needed, concurrency.max(1)).await {
            match found {
                Ok(Some(id)) => {
                    tracing::warn!(
                        username,
                        "a configured user is not a member of the project; assigned as configured (GitLab drops an assignee who cannot see the project)"
                    );
                    self.user_ids.insert(username, id);
                }
                Ok(None) => {
                    missing.insert(username, None);
                }
                Err(why) => {
                    missing.insert(username, Some(why));
                }
            }
        }
        for people in self.people.values_mut() {
            for (username, why) in &missing {
                people.known.remove(username);
                if let Some(why) = why {
                    people.unavailable.insert(username.clone(), why.clone());
                }
            }
        }
        !missing.is_empty()
    }
}

/// How names resolve in `project`: its members, and which of the configured usernames it
/// needs (`wanted`) exist.
fn people_of(
    config: &Config,
    project: &str,
    state: &super::ProjectState,
    wanted: &BTreeSet<String>,
) -> People {
    People {
        map: config.people.clone(),
        // Taken to exist until a write needs the id (`confirm`).
        known: wanted.clone(),
        members: state.members.keys().cloned().collect(),
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
