//! `POST /-/sandbox/projects/:id/push` (`branch`, `to`): what a `git push [--force]` of
//! an existing commit onto a branch does, which GitLab's REST API cannot: move the
//! branch back to an older commit (a rollback) or onto another line of history.
//!
//! Modelled on the push path: the refusal of `lib/gitlab/checks/branch_check.rb`
//! (`force_push_protected_branch`; a push is forced when the old head is not an ancestor
//! of the new one, `lib/gitlab/checks/force_push.rb`, and the default branch is protected
//! without force pushes, GitLab's default), then the push event of
//! `app/services/git/branch_push_service.rb`, whose commits are
//! `commits_between(oldrev, newrev)`: none for a rollback (`commits: []`,
//! `total_commits_count: 0`). The sandbox's own endpoint, not GitLab's API: no token, no
//! statistics, no faults, as for a git client.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::extract::{Req, Shared};
use super::hooks::announce;
use super::projects::project_idx;
use super::repository::{Push, merge_base, set_branch, tree_for_ref};
use crate::error::ApiError;
use crate::model::DEFAULT_BRANCH;

/// Moves `branch` to the commit `to` as a push would, and sends the push event.
pub(super) async fn push(State(app): Shared, Path(id): Path<String>, req: Req) -> Response {
    match move_branch(&app, &id, &req) {
        Ok(body) => (StatusCode::OK, axum::Json(body)).into_response(),
        Err(e) => e.into_response(),
    }
}

fn move_branch(
    app: &std::sync::Arc<crate::App>,
    id: &str,
    req: &Req,
) -> Result<serde_json::Value, ApiError> {
    let branch = req
        .params
        .get("branch")
        .ok_or_else(|| ApiError::missing("branch"))?
        .to_owned();
    let to = req
        .params
        .get("to")
        .ok_or_else(|| ApiError::missing("to"))?
        .to_owned();
    let mut state = app.state.lock();
    let pi = project_idx(&state, id)?;
    let project = &mut state.projects[pi];
    project.settle_history();
    let Some(before) = project.head(&branch).map(str::to_owned) else {
        return Err(ApiError::not_found("Branch"));
    };
    let (after, tree) = tree_for_ref(project, &to)
        .filter(|(head, _)| project.commits.iter().any(|c| c.id == *head))
        .ok_or_else(|| ApiError::not_found("Commit"))?;
    let forced = merge_base(project, &before, &after).as_deref() != Some(before.as_str());
    if forced && branch == DEFAULT_BRANCH {
        return Err(ApiError {
            status: StatusCode::FORBIDDEN,
            body: json!({"message": "You are not allowed to force push code to a protected branch on this project."}),
        });
    }
    set_branch(project, &branch, &after, tree);
    let push = Push {
        branch: branch.clone(),
        before: Some(before.clone()),
        after: after.clone(),
    };
    announce(app, &state.projects[pi], &push);
    drop(state);
    app.save();
    Ok(json!({"branch": branch, "before": before, "after": after, "forced": forced}))
}
