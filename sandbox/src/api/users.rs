//! Users: the token's own user, the user list and one user (GitLab: `lib/api/users.rb`).
//!
//! There are no project members here: handbook-sync looks people up through
//! `/users`, and every project is open to the one token.

use axum::extract::{Path, State};
use serde_json::json;

use super::extract::{Req, Shared};
use super::pagination::paginate;
use super::reply::{ApiResult, ok};
use crate::error::ApiError;

/// `GET /user`: `root`, the owner of the one token, with the admin-only fields.
pub(super) async fn current_user(State(app): Shared) -> ApiResult {
    let state = app.state.lock();
    let render = app.render(&state);
    let root = state.user(app.root_id).expect("root exists");
    let mut v = render.user_full(root);
    v["is_admin"] = json!(true);
    v["email"] = json!(format!("{}@sandbox.invalid", root.username));
    ok(v)
}

/// `GET /users`: `username` matches exactly, `search` matches part of the username or
/// the name, both ignoring case; newest first.
pub(super) async fn list_users(State(app): Shared, req: Req) -> ApiResult {
    let items = {
        let state = app.state.lock();
        let render = app.render(&state);
        let username = req.params.get("username").map(str::to_lowercase);
        let search = req.params.get("search").map(str::to_lowercase);
        let mut users: Vec<_> = state
            .users
            .iter()
            .filter(|u| {
                username
                    .as_ref()
                    .is_none_or(|n| u.username.to_lowercase() == *n)
            })
            .filter(|u| {
                search.as_ref().is_none_or(|s| {
                    u.username.to_lowercase().contains(s) || u.name.to_lowercase().contains(s)
                })
            })
            .collect();
        users.sort_by_key(|u| std::cmp::Reverse(u.id));
        users.iter().map(|u| render.user_basic(u.id)).collect()
    };
    paginate(&app, &req, items)
}

/// `GET /users/:user_id`.
pub(super) async fn get_user(State(app): Shared, Path(user_id): Path<String>) -> ApiResult {
    let state = app.state.lock();
    let render = app.render(&state);
    let user = user_id
        .parse()
        .ok()
        .and_then(|id| state.user(id))
        .ok_or_else(|| ApiError::not_found("User"))?;
    ok(render.user_full(user))
}
