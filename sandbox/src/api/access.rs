//! Who is asking, and whether they may see the project at all.
//!
//! `Caller` gives a handler the token's user. `project_visibility` answers
//! `404 Project Not Found` for a project the caller cannot read, before any handler
//! runs, exactly as for a project that does not exist (GitLab: `lib/api/helpers.rb`
//! `find_project!`: no existence leak).

use std::sync::Arc;

use axum::extract::{FromRequestParts, RawPathParams, Request, State};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::extract::Shared;
use crate::App;
use crate::error::ApiError;
use crate::model::State as Data;
use crate::policy::Access;

/// The token a request carries, as `PRIVATE-TOKEN` or `Authorization: Bearer`.
pub(super) fn request_token(headers: &HeaderMap) -> Option<&str> {
    let private = headers.get("private-token").and_then(|v| v.to_str().ok());
    let bearer = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    private.or(bearer)
}

/// The id of the user whose token the request carries, and whether the token has
/// admin powers (see [`App::token_caller`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Caller(pub u64, pub bool);

impl Caller {
    /// The caller's access to `project`.
    pub(crate) fn access(self, state: &Data, project: &crate::model::Project) -> Access {
        Access::of(state, project, self.0).as_admin(self.1)
    }

    /// Whether the token has admin powers (`can_read_all_resources?`,
    /// `authenticated_as_admin!`).
    pub(crate) fn is_admin(self) -> bool {
        self.1
    }
}

impl FromRequestParts<Arc<App>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, ApiError> {
        request_token(&parts.headers)
            .and_then(|t| app.token_caller(t))
            .map(|(user, admin)| Caller(user, admin))
            .ok_or_else(ApiError::unauthorized)
    }
}

/// In front of every project route: a project the caller cannot read is answered as
/// missing (private project, not a member, not an admin).
pub(super) async fn project_visibility(
    State(app): Shared,
    params: Result<RawPathParams, axum::extract::rejection::RawPathParamsRejection>,
    request: Request,
    next: Next,
) -> Response {
    // Routes without parameters (`/user`) have none to look at.
    let id = params.ok().and_then(|params| {
        params
            .iter()
            .find(|(name, _)| *name == "id")
            .map(|(_, v)| v.to_owned())
    });
    let caller = request_token(request.headers()).and_then(|t| app.token_caller(t));
    if let (Some(id), Some((user, admin))) = (id, caller) {
        let state = app.state.lock();
        if let Some(pi) = state.project_index(&id)
            && !Access::of(&state, &state.projects[pi], user)
                .as_admin(admin)
                .read_project()
        {
            return ApiError::not_found("Project").into_response();
        }
    }
    next.run(request).await
}
