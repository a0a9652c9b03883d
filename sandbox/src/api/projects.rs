//! Projects: one project by id or by URL-encoded path (GitLab: `lib/api/projects.rb`),
//! and the lookup every project-scoped handler starts with.

use axum::extract::{Path, State};
use serde_json::json;

use super::access::Caller;
use super::extract::Shared;
use super::reply::{ApiResult, ok};
use crate::error::ApiError;
use crate::model::State as Data;

/// `GET /projects/:id`, with the caller's `permissions`: `project_access` is the direct
/// membership or null (also for an admin who is not a member), `group_access` null as
/// the sandbox has no groups (`lib/api/entities/project_with_access.rb`).
pub(super) async fn get_project(
    State(app): Shared,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult {
    let state = app.state.lock();
    let pi = project_idx(&state, &id)?;
    let project = &state.projects[pi];
    let mut v = app.render(&state).project(project);
    let project_access = project.member(caller.0).map(|m| {
        // `notification_level` 3 is `global`, the default of a new membership.
        json!({"access_level": m.access_level, "notification_level": 3})
    });
    v["permissions"] = json!({"project_access": project_access, "group_access": null});
    ok(v)
}

/// The index of the project `id` names (a number or `group%2Fname`), or GitLab's
/// `404 Project Not Found`.
pub(super) fn project_idx(state: &Data, id: &str) -> Result<usize, ApiError> {
    state
        .project_index(id)
        .ok_or_else(|| ApiError::not_found("Project"))
}
