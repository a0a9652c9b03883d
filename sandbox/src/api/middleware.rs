//! The one middleware in front of every GitLab route: authentication, fault injection,
//! rate limits, statistics, and saving the state after a successful write. Handlers
//! never see faults, so every handler stays what GitLab does on a good day.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde_json::json;

use super::extract::Shared;
use super::reply::set_header;
use crate::App;
use crate::error::ApiError;
use crate::faults::{Decision, Faults, LostResponse};

/// A request with this header is not faulted, throttled or counted.
pub const OBSERVER_HEADER: &str = "x-sandbox-observer";

/// Wraps every `/api/v4` request: decides its faults, may answer in the handler's
/// place, runs the handler, saves after a successful write, adds the rate-limit
/// headers, and counts the request.
pub(super) async fn gitlab(State(app): Shared, request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let route = route_template(&request);
    let is_write = !matches!(method, Method::GET | Method::HEAD);
    // Tests looking at the sandbox's state ask to be left out of faults and statistics,
    // so that looking does not change what is being measured.
    let observer = request.headers().contains_key(OBSERVER_HEADER);
    let faults = if observer {
        Faults::default()
    } else {
        app.faults.lock().clone()
    };
    let decision = if observer {
        Faults::default().decide(0)
    } else {
        faults.decide(app.next_seq())
    };
    let now = Utc::now().timestamp(); // rate-limit windows: whole seconds

    if decision.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(decision.latency_ms)).await;
    }

    let gate = Gate {
        app: &app,
        faults: &faults,
        decision: &decision,
        now,
    };
    let mut response = match gate.refusal(&method, &route, request.headers()) {
        Some(refused) => refused,
        None => {
            let response = next.run(request).await;
            after_handler(&app, response, is_write, decision.lose)
        }
    };
    if let Some(limit) = faults.rate_limit_per_minute {
        rate_limit_headers(&app, &mut response, limit, now);
    }
    if !observer {
        app.stats
            .lock()
            .record(method.as_str(), &route, response.status().as_u16());
    }
    response
}

/// The route as GitLab's docs write it (`/projects/:id/issues`), for statistics and
/// the per-route create limit.
fn route_template(request: &Request) -> String {
    request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| {
            p.as_str()
                .trim_start_matches("/api/v4")
                .replace('{', ":")
                .replace('}', "")
        })
        .unwrap_or_else(|| "(no route)".to_owned())
}

/// What decides whether a request reaches its handler.
struct Gate<'a> {
    app: &'a App,
    faults: &'a Faults,
    decision: &'a Decision,
    now: i64,
}

impl Gate<'_> {
    /// The answer given in the handler's place, if any. Rack::Attack throttles before
    /// the API authenticates, so the rate limits come first; GitLab checks the
    /// issue-create limit inside the endpoint, so it comes last. The order also decides
    /// which rate window counts a request, so it must not change.
    fn refusal(&self, method: &Method, route: &str, headers: &HeaderMap) -> Option<Response> {
        let faults = self.faults;
        if let Some(limit) = faults.rate_limit_per_minute {
            let observed = self.app.api_window.lock().hit(self.now);
            if observed > limit {
                return Some(rate_limited(self.now));
            }
        }
        if self.decision.throttle {
            let mut r = (StatusCode::TOO_MANY_REQUESTS, "Retry later\n").into_response();
            set_header(
                &mut r,
                "retry-after",
                &faults.throttle_retry_after.to_string(),
            );
            return Some(r);
        }
        if !authenticated(self.app, headers) {
            return Some(ApiError::unauthorized().into_response());
        }
        if let Some(code) = self.decision.error {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let body = format!("<html><body><h1>{code}</h1>injected by the sandbox</body></html>");
            return Some((status, [("content-type", "text/html")], body).into_response());
        }
        if *method == Method::POST
            && route == "/projects/:id/issues"
            && let Some(limit) = faults.issue_create_limit_per_minute
            && self.app.create_window.lock().hit(self.now) > limit
        {
            return Some(issue_create_limited());
        }
        None
    }
}

/// Rack::Attack's 429 once the per-minute limit is spent: plain text, and when the
/// window ends.
fn rate_limited(now: i64) -> Response {
    let mut r = (StatusCode::TOO_MANY_REQUESTS, "Retry later\n").into_response();
    let reset = window_end(now);
    set_header(&mut r, "retry-after", &(reset - now).max(1).to_string());
    let reset_time = DateTime::from_timestamp(reset, 0).unwrap_or_default();
    set_header(
        &mut r,
        "ratelimit-resettime",
        &reset_time.format("%a, %d %b %Y %H:%M:%S GMT").to_string(),
    );
    r
}

/// The application-level limit on creating issues answers JSON, unlike Rack::Attack
/// (GitLab: `lib/gitlab/application_rate_limiter.rb`).
fn issue_create_limited() -> Response {
    let message = "This endpoint has been requested too many times. Try again later.";
    (
        StatusCode::TOO_MANY_REQUESTS,
        axum::Json(json!({"message": {"error": message}})),
    )
        .into_response()
}

/// After the handler: a successful write is saved before anyone hears of it, then its
/// answer may be lost on the way back (the write still happened).
fn after_handler(
    app: &App,
    response: Response,
    is_write: bool,
    lose: Option<LostResponse>,
) -> Response {
    if is_write && response.status().is_success() {
        app.save();
        if let Some(lost) = lose {
            return lose_response(response, lost);
        }
    }
    response
}

/// The `RateLimit-*` headers GitLab sends on every response while a limit is set.
fn rate_limit_headers(app: &App, response: &mut Response, limit: u64, now: i64) {
    let observed = app.api_window.lock().observed(now);
    set_header(response, "ratelimit-limit", &limit.to_string());
    set_header(response, "ratelimit-name", "throttle_authenticated_api");
    set_header(response, "ratelimit-observed", &observed.to_string());
    set_header(
        response,
        "ratelimit-remaining",
        &limit.saturating_sub(observed).to_string(),
    );
    set_header(response, "ratelimit-reset", &window_end(now).to_string());
}

/// The end of the minute-long rate window holding `now`, in Unix seconds.
fn window_end(now: i64) -> i64 {
    (now.div_euclid(60) + 1) * 60
}

/// A write went through but its answer never arrives whole.
fn lose_response(response: Response, how: LostResponse) -> Response {
    match how {
        LostResponse::BadGateway => (
            StatusCode::BAD_GATEWAY,
            [("content-type", "text/html")],
            "<html><body><h1>502 Bad Gateway</h1></body></html>",
        )
            .into_response(),
        LostResponse::Dropped => {
            let (mut parts, _) = response.into_parts();
            parts.headers.remove(axum::http::header::CONTENT_LENGTH);
            let broken = futures_util::stream::once(async {
                Err::<Bytes, std::io::Error>(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "dropped by the sandbox",
                ))
            });
            Response::from_parts(parts, Body::from_stream(broken))
        }
    }
}

/// GitLab takes the token as `PRIVATE-TOKEN` or as an OAuth-style bearer; it must be
/// root's or a personal access token made through the API.
fn authenticated(app: &App, headers: &HeaderMap) -> bool {
    let private = headers.get("private-token").and_then(|v| v.to_str().ok());
    let bearer = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    private
        .or(bearer)
        .is_some_and(|t| app.token_user(t).is_some())
}
