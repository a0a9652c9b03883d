//! Building responses: JSON with a status, and headers that may not parse.

use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::error::ApiError;

/// What every GitLab handler returns: a response, or GitLab's error body.
pub(super) type ApiResult = Result<Response, ApiError>;

/// `value` as JSON with `status`.
pub(super) fn json_status(status: StatusCode, value: Value) -> Response {
    (status, axum::Json(value)).into_response()
}

/// `200 OK` with `value`.
pub(super) fn ok(value: Value) -> ApiResult {
    Ok(json_status(StatusCode::OK, value))
}

/// `201 Created` with `value`.
pub(super) fn created(value: Value) -> ApiResult {
    Ok(json_status(StatusCode::CREATED, value))
}

/// Sets a header; a value that is not a valid header value is left out rather than
/// failing the request (values come from stored data, e.g. file names).
pub(super) fn set_header(response: &mut Response, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        response
            .headers_mut()
            .insert(HeaderName::from_static(name), v);
    }
}
