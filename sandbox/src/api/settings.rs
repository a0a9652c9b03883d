//! Application settings (GitLab: `lib/api/settings.rb`): of the many, only
//! `admin_mode`, which decides whether an administrator's token needs the `admin_mode`
//! scope for its powers.

use axum::extract::State;
use serde_json::json;

use super::access::Caller;
use super::extract::{Req, Shared};
use super::reply::{ApiResult, ok};
use super::users::require_admin;
use crate::error::ApiError;

/// `GET /application/settings` (admin only): of GitLab's settings, the one the
/// sandbox models, `admin_mode` (`lib/api/settings.rb`).
pub(super) async fn get_settings(State(app): Shared, caller: Caller) -> ApiResult {
    require_admin(caller)?;
    let state = app.state.lock();
    ok(json!({ "admin_mode": state.admin_mode }))
}

/// `PUT /application/settings` (admin only): `admin_mode`; other settings are not
/// modelled and are refused rather than silently ignored.
pub(super) async fn put_settings(State(app): Shared, caller: Caller, req: Req) -> ApiResult {
    require_admin(caller)?;
    let admin_mode = req.params.bool("admin_mode")?.ok_or_else(|| {
        ApiError::bad_request_error("the sandbox models only the admin_mode setting".into())
    })?;
    let mut state = app.state.lock();
    state.admin_mode = admin_mode;
    ok(json!({ "admin_mode": state.admin_mode }))
}
