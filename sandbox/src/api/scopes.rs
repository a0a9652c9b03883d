//! Token scopes: what a personal access token may do, whatever its user's role.
//!
//! GitLab registers the scopes an endpoint accepts with `allow_access_with_scope`:
//! `lib/api/api.rb` gives every API route `api`, and `read_api` only for `GET` and
//! `HEAD`; `lib/api/users.rb` adds `read_user` for `GET`/`HEAD` of `/user` and `/users`.
//! A token with none of them is refused before the endpoint runs, so before any project
//! lookup (`lib/gitlab/auth/auth_finders.rb`, `validate_access_token!` raising
//! `InsufficientScopeError`), answered by `lib/api/api_guard.rb` as rack-oauth2's
//! `Bearer::Forbidden`: `403` with `error`, `error_description` and the accepted scopes
//! joined by spaces. Root's configured token (`--token`) has every scope.

use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::access::request_token;
use super::extract::Shared;

/// Refuses a request whose token lacks every scope the route accepts.
pub(super) async fn require_scope(State(app): Shared, request: Request, next: Next) -> Response {
    let scopes = request_token(request.headers()).and_then(|token| app.token_scopes(token));
    if let Some(scopes) = scopes {
        let read = matches!(*request.method(), Method::GET | Method::HEAD);
        // Inside the `/api/v4` router the path has lost its prefix.
        let path = request.uri().path();
        let user_route = path == "/user" || path == "/users" || path.starts_with("/users/");
        let mut accepted = vec!["api", "read_api"];
        if user_route {
            accepted.push("read_user");
        }
        let has = |s: &str| scopes.iter().any(|t| t == s);
        let allowed = has("api") || (read && (has("read_api") || (user_route && has("read_user"))));
        if !allowed {
            let body = json!({
                "error": "insufficient_scope",
                "error_description": "The request requires higher privileges than provided by the access token.",
                "scope": accepted.join(" "),
            });
            return (StatusCode::FORBIDDEN, axum::Json(body)).into_response();
        }
    }
    next.run(request).await
}
