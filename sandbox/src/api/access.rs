//! Who is asking, and whether they may see the project at all.
//!
//! `Caller` gives a handler the token's user. `project_visibility` answers
//! `404 Project Not Found` for a project the caller cannot read, before any handler
//! runs, exactly as for a project that does not exist (GitLab: `lib/api/helpers.rb`
//! `find_project!`: no existence leak), and `403 Forbidden` where a whole resource
//! needs an ability its endpoints authorize before anything else ([`route_ability`]).

use std::sync::Arc;

use axum::extract::{FromRequestParts, MatchedPath, RawPathParams, Request, State};
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
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    if let (Some(id), Some((user, admin))) = (id, caller) {
        let state = app.state.lock();
        if let Some(pi) = state.project_index(&id) {
            let access = Access::of(&state, &state.projects[pi], user).as_admin(admin);
            if !access.read_project() {
                return ApiError::not_found("Project").into_response();
            }
            if route_ability(&route).is_some_and(|ability| !ability(&access)) {
                return ApiError::forbidden().into_response();
            }
        }
    }
    next.run(request).await
}

/// The ability every endpoint under a route needs before it looks at anything, if any:
/// the repository (`lib/api/files.rb`, `branches.rb`, `commits.rb`, `repositories.rb`:
/// `authorize! :download_code` or `:read_code` in their `before` blocks) and merge
/// requests (`read_merge_request`). Boards check their own, in GitLab's order.
fn route_ability(route: &str) -> Option<fn(&Access) -> bool> {
    let route = route.strip_prefix("/api/v4").unwrap_or(route);
    let rest = route.strip_prefix("/projects/{id}/")?;
    if rest.starts_with("repository/") {
        Some(Access::download_code)
    } else if rest == "merge_requests" || rest.starts_with("merge_requests/") {
        Some(Access::read_merge_request)
    } else {
        None
    }
}
