//! Groups (GitLab: `lib/api/groups.rb`, `Groups::CreateService`) and their members
//! (`lib/api/members.rb`): create one (top-level or nested), read it, add and list its
//! members. A group's members are members of every project and subgroup inside it, at
//! their role there unless a project membership is higher (`model/groups.rs`).

use axum::extract::{Path, State};
use serde_json::{Value, json};

use super::access::Caller;
use super::extract::{Req, Shared};
use super::members::{filtered, member_json, new_member};
use super::pagination::paginate;
use super::reply::{ApiResult, created, ok};
use crate::error::ApiError;
use crate::model::{Group, Member, State as Data, ts};
use crate::policy::{MAINTAINER, OWNER};

/// `Entities::Group`, with what `GroupDetail` adds that a client reads: the projects
/// directly in the group (none shared: sharing is not modelled).
fn group_json(app: &crate::App, state: &Data, group: &Group) -> Value {
    let web_url = format!("{}/groups/{}", app.base_url, group.full_path);
    let render = app.render(state);
    let projects: Vec<Value> = state
        .projects
        .iter()
        .filter(|p| p.namespace_id == Some(group.id))
        .map(|p| render.project(p))
        .collect();
    let full_name = state
        .group_chain(group.id)
        .iter()
        .rev()
        .map(|g| g.name.as_str())
        .collect::<Vec<_>>()
        .join(" / ");
    json!({
        "id": group.id,
        "web_url": web_url,
        "name": group.name,
        "path": group.path,
        "description": group.description,
        "visibility": group.visibility,
        "full_name": full_name,
        "full_path": group.full_path,
        "created_at": ts(group.created_at),
        "parent_id": group.parent_id,
        "projects": projects,
        "shared_projects": [],
    })
}

/// `read_group` (`app/policies/group_policy.rb`): a public or internal group to anyone
/// signed in; a private one to admins and to members of it, of an ancestor, or of
/// something inside it (a subgroup or a project: `can_read_group` via descendants).
fn can_read(state: &Data, group: &Group, caller: Caller) -> bool {
    if caller.is_admin() || group.visibility != "private" {
        return true;
    }
    let user = caller.0;
    if state.highest_group_member(group.id, user).is_some() {
        return true;
    }
    let inside = |mut id: Option<u64>| {
        while let Some(g) = id.and_then(|id| state.group(id)) {
            if g.id == group.id {
                return true;
            }
            id = g.parent_id;
        }
        false
    };
    state
        .groups
        .iter()
        .any(|g| g.member(user).is_some() && inside(Some(g.id)))
        || state
            .projects
            .iter()
            .any(|p| p.member(user).is_some() && inside(p.namespace_id))
}

/// The group `id` names, if the caller may read it; else GitLab's
/// `404 Group Not Found` (`find_group!`: no existence leak).
fn readable_group(state: &Data, id: &str, caller: Caller) -> Result<usize, ApiError> {
    state
        .group_index(id)
        .filter(|&gi| can_read(state, &state.groups[gi], caller))
        .ok_or_else(|| ApiError::not_found("Group"))
}

/// The caller's highest role in group `gi` or an ancestor; an admin counts as Owner.
fn role_in(state: &Data, gi: usize, caller: Caller) -> Option<u8> {
    if caller.is_admin() {
        return Some(OWNER);
    }
    state
        .highest_group_member(state.groups[gi].id, caller.0)
        .map(|(_, m)| m.access_level)
}

/// `POST /groups`: `name` and `path` (Grape `requires`), optional `parent_id`,
/// `visibility` (`private` by default, the application's `default_group_visibility`),
/// `description`. A top-level group may be made by any user (`can_create_group`, true
/// by default); a subgroup needs `create_subgroup` in its parent (Maintainer and up,
/// the default `subgroup_creation_level`). The creator becomes its Owner
/// (`Groups::CreateService`: `@group.add_owner(current_user)`).
pub(super) async fn create_group(State(app): Shared, caller: Caller, req: Req) -> ApiResult {
    let p = &req.params;
    let name = p
        .get("name")
        .ok_or_else(|| ApiError::missing("name"))?
        .to_owned();
    let path = p
        .get("path")
        .ok_or_else(|| ApiError::missing("path"))?
        .to_owned();
    let visibility = p.get("visibility").unwrap_or("private").to_owned();
    if !matches!(visibility.as_str(), "private" | "internal" | "public") {
        return Err(ApiError::bad_request_error(
            "visibility does not have a valid value".into(),
        ));
    }
    let parent_id = p.int("parent_id")?;
    let mut state = app.state.lock();
    let parent = match parent_id {
        Some(id) => {
            let gi = readable_group(&state, &id.to_string(), caller)?;
            if role_in(&state, gi, caller).is_none_or(|l| l < MAINTAINER) {
                return Err(ApiError::forbidden());
            }
            Some(gi)
        }
        None => None,
    };
    let full_path = match parent {
        Some(gi) => format!("{}/{path}", state.groups[gi].full_path),
        None => path.clone(),
    };
    let valid_path = !path.is_empty()
        && path
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if !valid_path {
        return Err(ApiError::bad_request(
            "Failed to save group {:path=>[\"can contain only letters, digits, '_', '-' and '.'\"]}",
        ));
    }
    if state.group_index(&full_path).is_some() {
        return Err(ApiError::bad_request(
            "Failed to save group {:path=>[\"has already been taken\"]}",
        ));
    }
    let now = crate::model::now();
    let id = state.next_id();
    let parent_id = parent.map(|gi| state.groups[gi].id);
    state.groups.push(Group {
        id,
        name,
        path,
        full_path,
        parent_id,
        visibility,
        description: p.get("description").unwrap_or_default().to_owned(),
        created_at: now,
        members: vec![Member {
            user_id: caller.0,
            access_level: OWNER,
            created_at: now,
            created_by: caller.0,
        }],
    });
    let group = state.groups.last().expect("just pushed");
    created(group_json(&app, &state, group))
}

/// `GET /groups/:id` (id or URL-encoded full path).
pub(super) async fn get_group(
    State(app): Shared,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult {
    let state = app.state.lock();
    let gi = readable_group(&state, &id, caller)?;
    ok(group_json(&app, &state, &state.groups[gi]))
}

/// `POST /groups/:id/members`: `user_id` and `access_level`; Owners and admins only
/// (`admin_group_member`, else 403), an unknown user is `404 User Not Found`, a member
/// already there `409 Member already exists`.
pub(super) async fn add_group_member(
    State(app): Shared,
    caller: Caller,
    Path(id): Path<String>,
    req: Req,
) -> ApiResult {
    let p = &req.params;
    let user_id = p
        .int("user_id")?
        .ok_or_else(|| ApiError::missing("user_id"))?;
    let level = p
        .int("access_level")?
        .ok_or_else(|| ApiError::missing("access_level"))?;
    let mut state = app.state.lock();
    let gi = readable_group(&state, &id, caller)?;
    if role_in(&state, gi, caller).is_none_or(|l| l < OWNER) {
        return Err(ApiError::forbidden());
    }
    let member = new_member(&state, &state.groups[gi].members, user_id, level, &caller)?;
    state.groups[gi].members.push(member);
    let member = state.groups[gi].members.last().expect("just pushed");
    created(member_json(&app.render(&state), member))
}

/// `GET /groups/:id/members`: the group's own members (`query`, `user_ids`).
pub(super) async fn list_group_members(
    State(app): Shared,
    caller: Caller,
    Path(id): Path<String>,
    req: Req,
) -> ApiResult {
    let items = {
        let state = app.state.lock();
        let gi = readable_group(&state, &id, caller)?;
        let members = state.groups[gi].members.clone();
        filtered(&app.render(&state), &state, &members, &req)
    };
    paginate(&app, &req, items)
}
