//! GitLab's error responses, with the bodies GitLab sends (`tests/data/gitlab-api/` at the workspace root).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// An error response: a status and GitLab's JSON body for it.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// The JSON body.
    pub body: Value,
}

impl ApiError {
    fn new(status: StatusCode, body: Value) -> Self {
        ApiError { status, body }
    }

    /// `401 {"message":"401 Unauthorized"}`.
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            json!({"message": "401 Unauthorized"}),
        )
    }

    /// `404 {"message":"404 <What> Not Found"}`, e.g. `Project`.
    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            json!({"message": format!("404 {what} Not Found")}),
        )
    }

    /// `404 {"message":"404 Not found"}`, GitLab's body for a missing issue.
    pub fn not_found_plain() -> Self {
        Self::new(StatusCode::NOT_FOUND, json!({"message": "404 Not found"}))
    }

    /// `404 {"error":"404 Not Found"}`: a route the API does not have.
    pub fn no_route() -> Self {
        Self::new(StatusCode::NOT_FOUND, json!({"error": "404 Not Found"}))
    }

    /// `400 {"message": "..."}`.
    pub fn bad_request(message: &str) -> Self {
        Self::new(StatusCode::BAD_REQUEST, json!({"message": message}))
    }

    /// `400 {"message": {"error": "..."}}`: `render_api_error!({ error: ... }, 400)`.
    pub fn bad_request_with_error(message: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            json!({"message": {"error": message}}),
        )
    }

    /// `400 {"error": "..."}`: Grape's parameter validation errors.
    pub fn bad_request_error(message: String) -> Self {
        Self::new(StatusCode::BAD_REQUEST, json!({"error": message}))
    }

    /// `400 {"error":"title is missing"}`: Grape's answer to a parameter the endpoint
    /// `requires` (`Grape::Validations::Validators::PresenceValidator`, message
    /// `:presence` in Grape's `en.yml`: "is missing"). GitLab's older
    /// `required_attributes!` helper answered `"400 (Bad request) \"title\" not given"`,
    /// which the REST docs still show; no endpoint the sandbox serves uses it.
    pub fn missing(param: &str) -> Self {
        Self::bad_request_error(format!("{param} is missing"))
    }

    /// `400 {"message": {"field": ["message"]}}`: a model validation error.
    pub fn invalid(field: &str, message: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            json!({"message": {field: [message]}}),
        )
    }

    /// `409 {"message": "..."}`.
    pub fn conflict(message: &str) -> Self {
        Self::new(StatusCode::CONFLICT, json!({"message": message}))
    }

    /// `412 {"message":"412 Precondition Failed"}`: `check_unmodified_since!`
    /// (`lib/api/helpers.rb`).
    pub fn precondition_failed() -> Self {
        Self::new(
            StatusCode::PRECONDITION_FAILED,
            json!({"message": "412 Precondition Failed"}),
        )
    }

    /// `403 {"message":"403 Forbidden"}`: GitLab's `forbidden!` after `authorize!`.
    pub fn forbidden() -> Self {
        Self::new(StatusCode::FORBIDDEN, json!({"message": "403 Forbidden"}))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(self.body)).into_response()
    }
}
