//! A project as a sync needs it: its id, visibility and the token user's roles there.

use gitlab::api::{self, AsyncQuery};
use serde::Deserialize;

use super::{Gitlab, GitlabError};

/// A role, as `permissions` in `GET /projects/:id` gives it.
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct AccessLevel {
    /// The level (see [`Member::access_level`](super::Member::access_level)).
    pub access_level: u8,
}

/// The token user's roles in a project, direct and through the project's group.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Permissions {
    /// Direct membership.
    pub project_access: Option<AccessLevel>,
    /// Membership of the project's group.
    pub group_access: Option<AccessLevel>,
}

/// What handbook-sync needs to know of a project.
#[derive(Debug, Clone, Deserialize)]
pub struct ProjectInfo {
    /// Global id.
    pub id: u64,
    /// `group/name`.
    pub path_with_namespace: String,
    /// `public`, `internal` or `private`.
    pub visibility: Option<String>,
    /// Who sees its issues: `enabled` (whoever sees the project), `private` (members
    /// only) or `disabled` (`lib/api/entities/project.rb`).
    #[serde(default)]
    pub issues_access_level: Option<String>,
    /// Where people see it.
    pub web_url: String,
    /// What the token's user may do there (GitLab sends it to signed-in callers).
    #[serde(default)]
    pub permissions: Option<Permissions>,
}

impl Gitlab {
    /// A project by path or id.
    pub async fn project(&self, project: &str) -> Result<ProjectInfo, GitlabError> {
        let ep = api::projects::Project::builder()
            .project(project)
            .build()
            .expect("a project endpoint builds");
        ep.query_async(&*self.client)
            .await
            .map_err(|e| GitlabError::from_api(format!("reading project `{project}`"), e))
    }
}
