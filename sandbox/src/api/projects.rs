//! Projects: create one in a group or the caller's namespace, read one by id or by
//! URL-encoded path (GitLab: `lib/api/projects.rb`), and the lookup every
//! project-scoped handler starts with.

use axum::extract::{Path, State};
use serde_json::json;

use super::access::Caller;
use super::extract::{Req, Shared};
use super::reply::{ApiResult, created, ok};
use crate::error::ApiError;
use crate::model::{Member, State as Data};
use crate::policy::{DEVELOPER, OWNER};

/// `GET /projects/:id`, with the caller's `permissions`
/// (`lib/api/entities/project_with_access.rb`): `project_access` is the direct
/// membership or null (also for an admin who is not a member), `group_access` the
/// highest membership in the project's group or its ancestors
/// (`Group#highest_group_member`), or null.
pub(super) async fn get_project(
    State(app): Shared,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult {
    let state = app.state.lock();
    let pi = project_idx(&state, &id)?;
    let project = &state.projects[pi];
    let mut v = app.render(&state).project(project);
    // `notification_level` 3 is `global`, the default of a new membership.
    let access = |level: u8| json!({"access_level": level, "notification_level": 3});
    let project_access = project.member(caller.0).map(|m| access(m.access_level));
    let group_access = project
        .namespace_id
        .and_then(|g| state.highest_group_member(g, caller.0))
        .map(|(_, m)| access(m.access_level));
    v["permissions"] = json!({"project_access": project_access, "group_access": group_access});
    ok(v)
}

/// `POST /projects` (`lib/api/projects.rb`, `Projects::CreateService`): `name` and/or
/// `path` (`at_least_one_of`), optional `namespace_id` (a group, where the caller needs
/// `create_projects`: Developer and up, the default `project_creation_level`) and
/// `visibility` (`private` by default). Without a namespace the project is the
/// caller's own, in their user namespace, and they are its Owner. 201 with the project.
pub(super) async fn create_project(State(app): Shared, caller: Caller, req: Req) -> ApiResult {
    let p = &req.params;
    // The sandbox keeps no display name apart from the path: a `name` alone gives the
    // path GitLab would derive from it (lower case, spaces as dashes).
    let path = match (p.get("path"), p.get("name")) {
        (Some(path), _) => path.to_owned(),
        (None, Some(name)) => name.to_lowercase().replace(' ', "-"),
        (None, None) => {
            return Err(ApiError::bad_request_error(
                "name, path are missing, at least one parameter must be provided".into(),
            ));
        }
    };
    let visibility = p.get("visibility").unwrap_or("private").to_owned();
    if !matches!(visibility.as_str(), "private" | "internal" | "public") {
        return Err(ApiError::bad_request_error(
            "visibility does not have a valid value".into(),
        ));
    }
    let mut state = app.state.lock();
    let (namespace, group) = match p.int("namespace_id")? {
        Some(id) => {
            let group = u64::try_from(id)
                .ok()
                .and_then(|id| state.group(id))
                .filter(|g| {
                    caller.is_admin()
                        || state
                            .highest_group_member(g.id, caller.0)
                            .is_some_and(|(_, m)| m.access_level >= DEVELOPER)
                })
                .ok_or_else(|| ApiError::invalid("namespace", "is not valid"))?;
            (group.full_path.clone(), Some(group.id))
        }
        None => {
            let user = state.user(caller.0).ok_or_else(ApiError::unauthorized)?;
            (user.username.clone(), None)
        }
    };
    let full_path = format!("{namespace}/{path}");
    if state.project_index(&full_path).is_some() {
        return Err(ApiError::invalid("path", "has already been taken"));
    }
    let now = crate::model::now();
    let pi = state.add_project(&full_path, &visibility, group, now);
    if group.is_none() {
        state.projects[pi].members.push(Member {
            user_id: caller.0,
            access_level: OWNER,
            created_at: now,
            created_by: caller.0,
        });
    }
    created(app.render(&state).project(&state.projects[pi]))
}

/// The index of the project `id` names (a number or `group%2Fname`), or GitLab's
/// `404 Project Not Found`.
pub(super) fn project_idx(state: &Data, id: &str) -> Result<usize, ApiError> {
    state
        .project_index(id)
        .ok_or_else(|| ApiError::not_found("Project"))
}
