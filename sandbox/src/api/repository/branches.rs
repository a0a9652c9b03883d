//! Branches: create and read them (GitLab: `lib/api/branches.rb`).

use axum::extract::{Path, State};
use serde_json::{Value, json};

use super::commits::commit_json;
use super::git::{Graph, Push, set_branch, tree_for_ref, valid_branch_name};
use super::required;
use crate::App;
use crate::api::extract::{Req, Shared};
use crate::api::hooks::announce;
use crate::api::projects::project_idx;
use crate::api::reply::{ApiResult, created, ok};
use crate::error::ApiError;
use crate::model::{DEFAULT_BRANCH, Project};

/// `POST /projects/:id/repository/branches` (`branch`, `ref`): 201 with the branch,
/// or 400 with `app/services/branches/validate_new_service.rb`'s and
/// `create_service.rb`'s messages. Creating a branch is a push, so hooks hear of it.
pub(in crate::api) async fn create_branch(
    State(app): Shared,
    Path(id): Path<String>,
    req: Req,
) -> ApiResult {
    let branch = required(&req.params, "branch")?;
    let start = required(&req.params, "ref")?;
    let mut state = app.state.lock();
    let pi = project_idx(&state, &id)?;
    let project = &mut state.projects[pi];
    project.settle_history();
    if !valid_branch_name(branch) {
        return Err(ApiError::bad_request("Branch name is invalid"));
    }
    if project.head(branch).is_some() {
        return Err(ApiError::bad_request("Branch already exists"));
    }
    let Some((head, tree)) = tree_for_ref(project, start).filter(|(head, _)| !head.is_empty())
    else {
        return Err(ApiError::bad_request(&format!(
            "Failed to create branch '{branch}': invalid reference name '{start}'"
        )));
    };
    set_branch(project, branch, &head, tree);
    let push = Push {
        branch: branch.to_owned(),
        before: None,
        after: head,
    };
    announce(&app, &state.projects[pi], &push);
    created(branch_json(&app, &state.projects[pi], branch))
}

/// `GET /projects/:id/repository/branches/:branch`.
pub(in crate::api) async fn get_branch(
    State(app): Shared,
    Path((id, branch)): Path<(String, String)>,
) -> ApiResult {
    let state = app.state.lock();
    let project = &state.projects[project_idx(&state, &id)?];
    if project.head(&branch).is_none() {
        return Err(ApiError::not_found("Branch"));
    }
    ok(branch_json(&app, project, &branch))
}

/// `lib/api/entities/branch.rb`.
fn branch_json(app: &App, project: &Project, branch: &str) -> Value {
    let head = project.head(branch).unwrap_or_default();
    let commit = project.commits.iter().find(|c| c.id == head);
    let web = format!("{}/{}", app.base_url, project.path_with_namespace);
    let merged = branch != DEFAULT_BRANCH
        && project.head(DEFAULT_BRANCH).is_some_and(|main| {
            let graph = Graph::new(project);
            graph.between(Some(main), head).is_empty()
        });
    json!({
        "name": branch,
        "commit": commit.map(|c| commit_json(app, project, c)),
        "merged": merged,
        "protected": branch == DEFAULT_BRANCH,
        "developers_can_push": false,
        "developers_can_merge": false,
        "can_push": true,
        "default": branch == DEFAULT_BRANCH,
        "web_url": format!("{web}/-/tree/{branch}"),
    })
}
