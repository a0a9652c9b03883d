//! The sandbox's own endpoints under `/-/sandbox`, which GitLab does not have: request
//! statistics and the fault settings. They pass no middleware, so looking at them never
//! counts, fails or throttles.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::extract::Shared;
use crate::error::ApiError;
use crate::faults::Faults;

/// `GET /-/sandbox/stats`: requests counted per method, route and status.
pub(super) async fn get_stats(State(app): Shared) -> Response {
    axum::Json(app.stats.lock().clone()).into_response()
}

/// `POST /-/sandbox/stats/reset`.
pub(super) async fn reset_stats(State(app): Shared) -> Response {
    *app.stats.lock() = Default::default();
    StatusCode::NO_CONTENT.into_response()
}

/// `GET /-/sandbox/faults`.
pub(super) async fn get_faults(State(app): Shared) -> Response {
    axum::Json(app.faults.lock().clone()).into_response()
}

/// `PUT /-/sandbox/faults`: sets the faults and restarts the request count and the rate
/// windows, so that a seed means the same faults at the same requests from here on.
pub(super) async fn put_faults(State(app): Shared, body: Bytes) -> Response {
    match serde_json::from_slice::<Faults>(&body) {
        Ok(faults) => {
            *app.faults.lock() = faults.clone();
            app.seq.store(0, std::sync::atomic::Ordering::SeqCst);
            *app.windows.lock() = crate::faults::Windows::for_faults(&faults);
            axum::Json(faults).into_response()
        }
        Err(e) => ApiError::bad_request(&format!("invalid faults: {e}")).into_response(),
    }
}
