//! Project members: add one with a role, list them (GitLab: `lib/api/members.rb`,
//! entity `lib/api/entities/member.rb`). `/members` lists the project's own members,
//! `/members/all` also those of its group and the group's ancestors, each user once at
//! their highest level. Group members are in `groups.rs`, rendered as here.

use axum::extract::{Path, State};
use serde_json::{Value, json};

use super::access::Caller;
use super::extract::{Req, Shared};
use super::pagination::paginate;
use super::projects::project_idx;
use super::reply::{ApiResult, created};
use crate::error::ApiError;
use crate::model::{Member, Render, State as Data, ts};
use crate::policy::LEVELS;

/// `Entities::Member`: the user's basic fields at the top level, then the membership.
pub(super) fn member_json(render: &Render<'_>, m: &Member) -> Value {
    let mut v = render.user_basic(m.user_id);
    if let Value::Object(map) = &mut v {
        map.insert("access_level".into(), json!(m.access_level));
        map.insert("created_at".into(), json!(ts(m.created_at)));
        map.insert("created_by".into(), render.user_basic(m.created_by));
        map.insert("expires_at".into(), Value::Null);
        map.insert("membership_state".into(), json!("active"));
    }
    v
}

/// The member `user_id` becomes at `level` among `members` (a project's or a group's),
/// after `lib/api/members.rb`'s checks in their order: an unknown user is `404 User Not
/// Found`, a member already there `409 Member already exists`, a level not in the list
/// `400`.
pub(super) fn new_member(
    state: &Data,
    members: &[Member],
    user_id: i64,
    level: i64,
    caller: &Caller,
) -> Result<Member, ApiError> {
    let user_id = u64::try_from(user_id)
        .ok()
        .filter(|u| state.user(*u).is_some())
        .ok_or_else(|| ApiError::not_found("User"))?;
    if members.iter().any(|m| m.user_id == user_id) {
        return Err(ApiError::conflict("Member already exists"));
    }
    let access_level = u8::try_from(level)
        .ok()
        .filter(|l| LEVELS.contains(l))
        .ok_or_else(|| ApiError::invalid("access_level", "is not included in the list"))?;
    Ok(Member {
        user_id,
        access_level,
        created_at: crate::model::now(),
        created_by: caller.0,
    })
}

/// `POST /projects/:id/members`: `user_id` and `access_level`; Maintainers, Owners and
/// admins only (`authorize_admin_source!`, 403), an unknown user is `404 User Not
/// Found`, a member already there `409 Member already exists`.
pub(super) async fn add_member(
    State(app): Shared,
    caller: Caller,
    Path(id): Path<String>,
    req: Req,
) -> ApiResult {
    let p = &req.params;
    let user_id = p
        .int("user_id")?
        .ok_or_else(|| ApiError::bad_request_error("user_id is missing".into()))?;
    let level = p
        .int("access_level")?
        .ok_or_else(|| ApiError::bad_request_error("access_level is missing".into()))?;
    let mut state = app.state.lock();
    let pi = project_idx(&state, &id)?;
    if !caller
        .access(&state, &state.projects[pi])
        .admin_project_member()
    {
        return Err(ApiError::forbidden());
    }
    let member = new_member(&state, &state.projects[pi].members, user_id, level, &caller)?;
    state.projects[pi].members.push(member);
    let member = state.projects[pi].members.last().expect("just pushed");
    created(member_json(&app.render(&state), member))
}

/// `GET /projects/:id/members`: the project's own members.
pub(super) async fn list_members(
    State(app): Shared,
    Path(id): Path<String>,
    req: Req,
) -> ApiResult {
    let items = {
        let state = app.state.lock();
        let pi = project_idx(&state, &id)?;
        let members = state.projects[pi].members.clone();
        filtered(&app.render(&state), &state, &members, &req)
    };
    paginate(&app, &req, items)
}

/// `GET /projects/:id/members/all`: the project's members and those inherited from its
/// groups, each user once with their highest level (`lib/api/members.rb`:
/// `find_all_members`; docs: "only its membership with the highest `access_level` is
/// returned").
pub(super) async fn list_all_members(
    State(app): Shared,
    Path(id): Path<String>,
    req: Req,
) -> ApiResult {
    let items = {
        let state = app.state.lock();
        let pi = project_idx(&state, &id)?;
        let members = state.all_members(&state.projects[pi]);
        filtered(&app.render(&state), &state, &members, &req)
    };
    paginate(&app, &req, items)
}

/// Members as the list endpoints give them: `query` matches part of the username or name
/// ignoring case (`User.search`), `user_ids` keeps those users.
pub(super) fn filtered(
    render: &Render<'_>,
    state: &crate::model::State,
    members: &[Member],
    req: &Req,
) -> Vec<Value> {
    let query = req.params.get("query").map(str::to_lowercase);
    let user_ids: Option<Vec<u64>> = req
        .params
        .list("user_ids")
        .map(|ids| ids.iter().filter_map(|i| i.parse().ok()).collect());
    members
        .iter()
        .filter(|m| user_ids.as_ref().is_none_or(|ids| ids.contains(&m.user_id)))
        .filter(|m| {
            query.as_ref().is_none_or(|q| {
                state.user(m.user_id).is_some_and(|u| {
                    u.username.to_lowercase().contains(q) || u.name.to_lowercase().contains(q)
                })
            })
        })
        .map(|m| member_json(render, m))
        .collect()
}
