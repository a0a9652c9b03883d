//! What every handler takes from a request: the shared state and the parameters.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request, State};
use axum::http::Uri;
use chrono::{DateTime, Utc};

use crate::App;
use crate::error::ApiError;
use crate::params::Params;

/// The sandbox's state, as every handler receives it.
pub(super) type Shared = State<Arc<App>>;

/// The merged query and body parameters, and the URI (for pagination links).
pub(crate) struct Req {
    /// Query and body parameters in one multi-map, as Grape merges them.
    pub(super) params: Params,
    /// The URI as the client sent it, `/api/v4` prefix included.
    pub(super) uri: Uri,
}

impl<S: Send + Sync> FromRequest<S> for Req {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        // Inside a nested router the URI lacks the `/api/v4` prefix; links need it.
        let uri = request
            .extensions()
            .get::<axum::extract::OriginalUri>()
            .map_or_else(|| request.uri().clone(), |o| o.0.clone());
        let headers = request.headers().clone();
        let body = Bytes::from_request(request, state)
            .await
            .map_err(|_| ApiError::bad_request("400 Bad request - unreadable body"))?;
        let params = Params::parse(&headers, uri.query(), &body)?;
        Ok(Req { params, uri })
    }
}

/// An optional ISO 8601 time parameter; an empty value counts as absent, as in Grape.
pub(super) fn parse_time(params: &Params, name: &str) -> Result<Option<DateTime<Utc>>, ApiError> {
    match params.get(name) {
        None | Some("") => Ok(None),
        Some(v) => DateTime::parse_from_rfc3339(v)
            .map(|t| Some(t.with_timezone(&Utc)))
            .map_err(|_| ApiError::bad_request_error(format!("{name} is invalid"))),
    }
}
