//! Feature flags (GitLab: `lib/api/features.rb`, entity `lib/api/entities/feature.rb`):
//! list, set and delete, administrators only. Only the flags in [`crate::flags::KNOWN`]
//! exist; any other name is refused, so a misspelt flag in a test fails loudly instead of
//! changing nothing.

use axum::extract::{Path, State};
use axum::response::IntoResponse as _;
use serde_json::{Value, json};

use super::access::Caller;
use super::extract::{Req, Shared};
use super::reply::{ApiResult, created, ok};
use super::users::require_admin;
use crate::error::ApiError;
use crate::flags;

/// `Entities::Feature`: a boolean gate, or none when the flag is at its default.
fn feature_json(name: &str, value: Option<bool>) -> Value {
    let on = value.unwrap_or_else(|| {
        flags::KNOWN
            .iter()
            .any(|(known, default)| *known == name && *default)
    });
    let gates = match value {
        Some(v) => json!([{"key": "boolean", "value": v}]),
        None => json!([]),
    };
    json!({
        "name": name,
        "state": if on { "on" } else { "off" },
        "gates": gates,
        "definition": null,
    })
}

fn known(name: &str) -> Result<(), ApiError> {
    if flags::KNOWN.iter().any(|(known, _)| *known == name) {
        Ok(())
    } else {
        let names: Vec<&str> = flags::KNOWN.iter().map(|(n, _)| *n).collect();
        Err(ApiError::bad_request(&format!(
            "400 Bad request - the sandbox models only the feature flags {}",
            names.join(", ")
        )))
    }
}

/// `GET /features`: the flags that were set.
pub(super) async fn list_features(State(app): Shared, caller: Caller) -> ApiResult {
    require_admin(caller)?;
    let set = app.features.lock().clone();
    let list: Vec<Value> = set
        .iter()
        .map(|(name, value)| feature_json(name, Some(*value)))
        .collect();
    ok(Value::Array(list))
}

/// `POST /features/:name` with `value` `true` or `false` (GitLab also takes a
/// percentage, which the sandbox does not model): 201 with the flag.
pub(super) async fn set_feature(
    State(app): Shared,
    caller: Caller,
    Path(name): Path<String>,
    req: Req,
) -> ApiResult {
    require_admin(caller)?;
    let value = match req.params.get("value") {
        None => return Err(ApiError::missing("value")),
        Some("true") => true,
        Some("false") => false,
        Some(_) => {
            return Err(ApiError::bad_request(
                "400 Bad request - the sandbox models only value=true and value=false",
            ));
        }
    };
    known(&name)?;
    app.set_feature(&name, Some(value));
    created(feature_json(&name, Some(value)))
}

/// `DELETE /features/:name`: back to GitLab's default; `204 No Content`.
pub(super) async fn delete_feature(
    State(app): Shared,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult {
    require_admin(caller)?;
    known(&name)?;
    app.set_feature(&name, None);
    Ok(axum::http::StatusCode::NO_CONTENT.into_response())
}
