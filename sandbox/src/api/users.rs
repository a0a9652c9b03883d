//! Users: the token's own user, the user list and one user, and what an administrator
//! creates: users and their personal access tokens (GitLab: `lib/api/users.rb`).
//! Project membership is in `members.rs`.

use axum::extract::{Path, State};
use serde_json::{Value, json};

use super::access::Caller;
use super::extract::{Req, Shared};
use super::pagination::paginate;
use super::reply::{ApiResult, created, ok};
use crate::error::ApiError;
use crate::model::{AccessToken, User, ts};

/// The scopes a personal access token may have (`Gitlab::Auth.all_available_scopes`).
const SCOPES: [&str; 12] = [
    "api",
    "read_api",
    "read_user",
    "read_repository",
    "write_repository",
    "read_registry",
    "write_registry",
    "sudo",
    "admin_mode",
    "create_runner",
    "manage_runner",
    "k8s_proxy",
];

/// `GET /user`: the token's own user; an administrator also sees `is_admin`
/// (`Entities::UserWithAdmin`, others `Entities::UserPublic`).
pub(super) async fn current_user(State(app): Shared, caller: Caller) -> ApiResult {
    let state = app.state.lock();
    let render = app.render(&state);
    let user = state.user(caller.0).ok_or_else(ApiError::unauthorized)?;
    let mut v = render.user_full(user);
    v["email"] = json!(user_email(user));
    if user.is_admin {
        v["is_admin"] = json!(true);
    }
    ok(v)
}

/// A user's email: the one given at creation, or a made-up one that cannot be mailed.
fn user_email(user: &User) -> String {
    user.email
        .clone()
        .unwrap_or_else(|| format!("{}@sandbox.invalid", user.username))
}

/// GitLab's `authenticated_as_admin!`: `403 Forbidden` for anyone else, and for an
/// administrator's token without admin powers (admin mode on, no `admin_mode` scope).
pub(super) fn require_admin(caller: Caller) -> Result<(), ApiError> {
    if caller.is_admin() {
        Ok(())
    } else {
        Err(ApiError::forbidden())
    }
}

/// `POST /users` (admin only): `email`, `name`, `username` and one of `password`,
/// `reset_password`, `force_random_password`; a taken email or username is a 409.
pub(super) async fn create_user(State(app): Shared, caller: Caller, req: Req) -> ApiResult {
    let p = &req.params;
    for name in ["email", "name", "username"] {
        if p.get(name).is_none_or(str::is_empty) {
            return Err(ApiError::bad_request_error(format!("{name} is missing")));
        }
    }
    if !["password", "reset_password", "force_random_password"]
        .iter()
        .any(|k| p.has(k))
    {
        return Err(ApiError::bad_request_error(
            "password, reset_password, force_random_password are missing, at least one parameter must be provided".into(),
        ));
    }
    let mut state = app.state.lock();
    require_admin(caller)?;
    let (email, name, username) = (
        p.get("email").unwrap_or_default().to_owned(),
        p.get("name").unwrap_or_default().to_owned(),
        p.get("username").unwrap_or_default().to_owned(),
    );
    if state.users.iter().any(|u| {
        u.email
            .as_deref()
            .is_some_and(|e| e.eq_ignore_ascii_case(&email))
    }) {
        return Err(ApiError::conflict("Email has already been taken"));
    }
    if state
        .users
        .iter()
        .any(|u| u.username.eq_ignore_ascii_case(&username))
    {
        return Err(ApiError::conflict("Username has already been taken"));
    }
    let now = crate::model::now();
    let id = state.ensure_user(&username, &name, now);
    let user = state.users.iter_mut().find(|u| u.id == id).expect("added");
    user.email = Some(email);
    user.is_admin = p.bool("admin")?.unwrap_or(false);
    let user = state.user(id).expect("added");
    let mut v = app.render(&state).user_full(user);
    v["email"] = json!(user_email(user));
    v["is_admin"] = json!(user.is_admin);
    created(v)
}

/// `POST /users/:user_id/personal_access_tokens` (admin only): `name` and `scopes`;
/// the answer is the only time the token is shown.
pub(super) async fn create_token(
    State(app): Shared,
    caller: Caller,
    Path(user_id): Path<String>,
    req: Req,
) -> ApiResult {
    let p = &req.params;
    let name = p
        .get("name")
        .filter(|n| !n.is_empty())
        .ok_or_else(|| ApiError::bad_request_error("name is missing".into()))?
        .to_owned();
    let scopes = p
        .list("scopes")
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::bad_request_error("scopes is missing".into()))?;
    if scopes.iter().any(|s| !SCOPES.contains(&s.as_str())) {
        return Err(ApiError::bad_request_error(
            "scopes does not have a valid value".into(),
        ));
    }
    let mut state = app.state.lock();
    require_admin(caller)?;
    let user_id = user_id
        .parse()
        .ok()
        .filter(|id| state.user(*id).is_some())
        .ok_or_else(|| ApiError::not_found("User"))?;
    let id = state.next_id();
    let now = crate::model::now();
    let token = new_token(id, user_id, now);
    state.tokens.push(AccessToken {
        id,
        user_id,
        name,
        scopes,
        token,
        created_at: now,
    });
    created(token_json(state.tokens.last().expect("just pushed")))
}

/// A token nobody can guess from the outside: `glpat-` and a hash of its id, its user
/// and the time to the nanosecond.
fn new_token(id: u64, user_id: u64, now: chrono::DateTime<chrono::Utc>) -> String {
    use sha2::Digest as _;
    let nanos = chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default();
    let seed = format!("{id}:{user_id}:{now}:{nanos}:{:p}", &id);
    let hex: String = sha2::Sha256::digest(seed.as_bytes())
        .iter()
        .take(10)
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("glpat-{hex}")
}

/// `Entities::PersonalAccessTokenWithToken`.
fn token_json(t: &AccessToken) -> Value {
    json!({
        "id": t.id,
        "name": t.name,
        "revoked": false,
        "created_at": ts(t.created_at),
        "description": null,
        "scopes": t.scopes,
        "user_id": t.user_id,
        "last_used_at": null,
        "active": true,
        "expires_at": null,
        "token": t.token,
    })
}

/// `GET /users`: `username` matches exactly, `search` matches part of the username or
/// the name, both ignoring case; newest first. A caller with admin powers
/// (`can_read_all_resources?`) gets `Entities::UserWithAdmin`, with `is_admin`; anyone
/// else `Entities::UserBasic` (`lib/api/users.rb`). Unlike `GET /user`, which shows
/// `is_admin` to every administrator, this tells whether the token's powers are on.
pub(super) async fn list_users(State(app): Shared, caller: Caller, req: Req) -> ApiResult {
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
        users
            .iter()
            .map(|u| {
                let mut v = render.user_basic(u.id);
                if caller.is_admin() {
                    v["is_admin"] = json!(u.is_admin);
                }
                v
            })
            .collect()
    };
    paginate(&app, &req, items)
}

/// `GET /users/:user_id`: `is_admin` only for a caller with admin powers
/// (`Entities::UserDetailsWithAdmin`).
pub(super) async fn get_user(
    State(app): Shared,
    caller: Caller,
    Path(user_id): Path<String>,
) -> ApiResult {
    let state = app.state.lock();
    let render = app.render(&state);
    let user = user_id
        .parse()
        .ok()
        .and_then(|id| state.user(id))
        .ok_or_else(|| ApiError::not_found("User"))?;
    let mut v = render.user_full(user);
    if caller.is_admin() {
        v["is_admin"] = json!(user.is_admin);
    }
    ok(v)
}
