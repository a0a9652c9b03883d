//! Projects: one project by id or by URL-encoded path (GitLab: `lib/api/projects.rb`),
//! and the lookup every project-scoped handler starts with.

use axum::extract::{Path, State};

use super::extract::Shared;
use super::reply::{ApiResult, ok};
use crate::error::ApiError;
use crate::model::State as Data;

/// `GET /projects/:id`.
pub(super) async fn get_project(State(app): Shared, Path(id): Path<String>) -> ApiResult {
    let state = app.state.lock();
    let pi = project_idx(&state, &id)?;
    ok(app.render(&state).project(&state.projects[pi]))
}

/// The index of the project `id` names (a number or `group%2Fname`), or GitLab's
/// `404 Project Not Found`.
pub(super) fn project_idx(state: &Data, id: &str) -> Result<usize, ApiError> {
    state
        .project_index(id)
        .ok_or_else(|| ApiError::not_found("Project"))
}
