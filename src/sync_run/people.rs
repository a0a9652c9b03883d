//! Stage 4: the people. Every name and owner of a run is looked up once, not per issue.

use std::collections::{BTreeMap, BTreeSet};

use crate::config::Config;
use crate::gitlab::{Gitlab, GitlabError};
use crate::sync::People;

use super::{PageInput, PageRead, Projects};

/// Who the handbook names, as GitLab knows them.
#[derive(Debug, Clone, Default)]
pub struct ResolvedPeople {
    /// `[people]` and the names that exist as usernames: what desired issues use.
    pub people: People,
    /// Username (as written and as GitLab spells it) → user id: what writes use.
    pub user_ids: BTreeMap<String, u64>,
}

/// Stage 4: looks up every `[people]` username, page owner and item owner of `pages`.
/// Nothing is looked up when no project could be read (nothing will be planned).
pub async fn resolve_people(
    config: &Config,
    gitlab: &Gitlab,
    pages: &[PageInput],
    projects: &Projects,
) -> Result<ResolvedPeople, GitlabError> {
    let mut wanted: BTreeSet<String> = config.people.values().cloned().collect();
    for input in pages {
        wanted.insert(input.settings.owner.clone());
        if let PageRead::Parsed(page) = &input.read {
            for item in &page.items {
                if let Some(owner) = &item.owner
                    && !config.people.contains_key(owner)
                {
                    wanted.insert(owner.trim_start_matches('@').to_owned());
                }
            }
        }
    }
    let user_ids = if projects.values().any(Result::is_ok) {
        gitlab.user_ids(wanted.iter().map(String::as_str)).await?
    } else {
        BTreeMap::new()
    };
    Ok(ResolvedPeople {
        people: People {
            map: config.people.clone(),
            existing: user_ids.keys().cloned().collect(),
        },
        user_ids,
    })
}
