//! The one middleware in front of every GitLab route: authentication, fault injection,
//! rate limits, statistics, and saving the state after a successful write. Handlers
//! never see faults, so every handler stays what GitLab does on a good day.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{MatchedPath, OriginalUri, Request, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde_json::json;

use super::extract::Shared;
use super::reply::set_header;
use crate::App;
use crate::error::ApiError;
use crate::faults::{
    Decision, ErrorBody, Faults, LabelCreateRace, LostResponse, ThrottleData, Window, Windows,
};
use crate::flags;

/// A request with this header is not faulted, throttled or counted.
pub const OBSERVER_HEADER: &str = "x-sandbox-observer";

/// Wraps every `/api/v4` request: decides its faults, may answer in the handler's
/// place, runs the handler, saves after a successful write, adds the rate-limit
/// headers, and counts the request.
pub(super) async fn gitlab(State(app): Shared, request: Request, next: Next) -> Response {
    let method = request.method().clone();
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
    let call = Call {
        route: route_template(&request),
        is_write: !matches!(method, Method::GET | Method::HEAD),
        method,
        observer,
        faults,
        decision,
        app,
    };
    if call.is_write && call.faults.slow_write_ms > 0 {
        // A client that gives up drops this future, and with it anything it awaits; a
        // spawned task is not dropped with it, so the write still happens at the end of
        // the delay, as on a GitLab that keeps running a request the client left.
        tokio::spawn(call.handle(request, next))
            .await
            .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
    } else {
        call.handle(request, next).await
    }
}

/// One API request and what was decided about it.
struct Call {
    app: std::sync::Arc<App>,
    method: Method,
    route: String,
    is_write: bool,
    observer: bool,
    faults: Faults,
    decision: Decision,
}

impl Call {
    /// Everything after the decisions: the delays, the throttles and other refusals, the
    /// handler, the rate-limit headers and the statistics.
    async fn handle(self, request: Request, next: Next) -> Response {
        let now = Utc::now().timestamp(); // rate-limit windows: whole seconds
        if self.decision.latency_ms > 0 {
            tokio::time::sleep(Duration::from_millis(self.decision.latency_ms)).await;
        }
        let gate = Gate {
            app: &self.app,
            faults: &self.faults,
            decision: &self.decision,
            now,
        };
        let (mut response, throttles) = match gate.throttles() {
            Err(refusing) => (throttled(&refusing), Vec::new()),
            Ok(throttles) => match gate.refusal(&self.method, &self.route, request.headers()) {
                Some(refused) => (refused, throttles),
                None => {
                    if self.is_write && self.faults.slow_write_ms > 0 {
                        let delay = Duration::from_millis(self.faults.slow_write_ms);
                        tokio::time::sleep(delay).await;
                    }
                    let response = next.run(request).await;
                    let response = label_create_race(&self, response);
                    let lose = self.decision.lose;
                    let body = self.faults.error_body;
                    let response = after_handler(&self.app, response, self.is_write, lose, body);
                    (response, throttles)
                }
            },
        };
        // Only behind the flag does GitLab add the headers to answers it does not
        // throttle, and never to a 429, which carries the refusing throttle's own or,
        // from the application's limits, none (`lib/gitlab/middleware/
        // rack_attack_headers.rb`, `rate_limiting_headers_for_unthrottled_requests`).
        if response.status() != StatusCode::TOO_MANY_REQUESTS
            && let Some(tightest) = throttles.iter().min_by_key(|t| t.remaining())
            && self.app.feature(flags::RATE_LIMIT_HEADERS)
        {
            set_headers(&mut response, &tightest.common_headers());
        }
        if !self.observer {
            let status = response.status().as_u16();
            self.app
                .stats
                .lock()
                .record(self.method.as_str(), &self.route, status);
        }
        response
    }
}

/// The route as GitLab's docs write it (`/projects/:id/issues`), for statistics and
/// the per-route create limit; a path no route serves is counted as itself.
fn route_template(request: &Request) -> String {
    match request.extensions().get::<MatchedPath>() {
        Some(p) => p
            .as_str()
            .trim_start_matches("/api/v4")
            .replace('{', ":")
            .replace('}', ""),
        None => not_served(request),
    }
}

/// `/api/v4/projects/1/milestones (not served)`: the whole path, as the client sent it.
fn not_served(request: &Request) -> String {
    let path = request
        .extensions()
        .get::<OriginalUri>()
        .map_or_else(|| request.uri().path(), |o| o.0.path());
    format!("{path} (not served)")
}

/// Any path outside `/api/v4` and `/-/sandbox` (GraphQL, the web UI): counted, then
/// answered as a route the sandbox does not have.
pub(super) async fn unserved(State(app): Shared, request: Request) -> Response {
    let response = ApiError::no_route().into_response();
    if !request.headers().contains_key(OBSERVER_HEADER) {
        let status = response.status().as_u16();
        let route = not_served(&request);
        app.stats
            .lock()
            .record(request.method().as_str(), &route, status);
    }
    response
}

/// What decides whether a request reaches its handler.
struct Gate<'a> {
    app: &'a App,
    faults: &'a Faults,
    decision: &'a Decision,
    now: i64,
}

impl Gate<'_> {
    /// Rack::Attack's throttles, per minute then per hour: each counts the request in
    /// its window, and the first one over its limit refuses (`429 Retry later` with its
    /// headers); the ones after it do not count the request (Rack::Attack stops at the
    /// first match). They come before the API authenticates, so they come first.
    fn throttles(&self) -> Result<Vec<ThrottleData>, ThrottleData> {
        let mut counted = Vec::new();
        let limits: [(Option<u64>, &'static str, WindowOf); 2] = [
            (self.faults.rate_limit_per_minute, MINUTE_THROTTLE, |w| {
                &mut w.minute
            }),
            (self.faults.rate_limit_per_hour, HOUR_THROTTLE, |w| {
                &mut w.hour
            }),
        ];
        for (limit, name, window_of) in limits {
            let Some(limit) = limit else { continue };
            let mut windows = self.app.windows.lock();
            let window = window_of(&mut windows);
            let data = ThrottleData {
                name,
                limit,
                period: window.period(),
                observed: window.hit(self.now),
                now: self.now,
            };
            if data.observed > limit {
                return Err(data);
            }
            counted.push(data);
        }
        Ok(counted)
    }

    /// The answer given in the handler's place, if any, once the throttles let the
    /// request through. GitLab checks its application limits inside the endpoint, after
    /// authentication, so those come last; the order also decides which window counts a
    /// request, so it must not change.
    fn refusal(&self, method: &Method, route: &str, headers: &HeaderMap) -> Option<Response> {
        let faults = self.faults;
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
            return Some(error_page(code, faults.error_body));
        }
        if self.decision.headerless_429 {
            return Some(application_limited(None));
        }
        if *method == Method::POST
            && route == "/projects/:id/issues"
            && let Some(limit) = faults.issue_create_limit_per_minute
            && self.app.windows.lock().issue_create.hit(self.now) > limit
        {
            return Some(application_limited(Some(ISSUE_CREATE_INTERVAL)));
        }
        let call = format!("{method} {route}");
        if faults.forbid.contains(&call) {
            return Some(ApiError::forbidden().into_response());
        }
        None
    }
}

/// Which of the rate windows a throttle counts in.
type WindowOf = fn(&mut Windows) -> &mut Window;

/// `RateLimit-Name` of the per-minute throttle: GitLab's authenticated API throttle.
const MINUTE_THROTTLE: &str = "throttle_authenticated_api";
/// `RateLimit-Name` of the hourly one. GitLab's plan limits are proposed, not yet
/// named in its source, so this name is the sandbox's own.
const HOUR_THROTTLE: &str = "throttle_authenticated_api_hourly";

/// Rack::Attack's 429: plain text, with the refusing throttle's headers
/// (`lib/gitlab/rack_attack.rb`, `throttled_response`).
fn throttled(data: &ThrottleData) -> Response {
    let mut r = (
        StatusCode::TOO_MANY_REQUESTS,
        [("content-type", "text/plain")],
        "Retry later\n",
    )
        .into_response();
    set_headers(&mut r, &data.throttled_headers());
    r
}

/// An injected 5xx: the HTML page a proxy answers, or the JSON GitLab's API answers for
/// an exception (`lib/api/helpers.rb`, `handle_api_exception`: `{"message":"500 Internal
/// Server Error"}`), with the same `"<code> <reason>"` message for 502 and 503.
fn error_page(code: u16, body: ErrorBody) -> Response {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let reason = status.canonical_reason().unwrap_or("Error");
    match body {
        ErrorBody::Html => {
            let page = format!(
                "<html><body><h1>{code} {reason}</h1>injected by the sandbox</body></html>"
            );
            (status, [("content-type", "text/html")], page).into_response()
        }
        ErrorBody::Json => (
            status,
            axum::Json(json!({"message": format!("{code} {reason}")})),
        )
            .into_response(),
    }
}

/// The interval of GitLab's `issues_create` application limit, in seconds
/// (`lib/gitlab/application_rate_limiter.rb`: per minute).
const ISSUE_CREATE_INTERVAL: u64 = 60;

/// GitLab's application limits answer JSON without `RateLimit-*`. Recent versions send
/// `Retry-After` with the limit's interval (`lib/api/helpers/rate_limiter.rb`:
/// `too_many_requests!(..., retry_after: interval_value)`), as the issue-creation limit
/// does here; older ones, and the `headerless_429_rate` fault, send none
/// (`app/services/concerns/rate_limited_service.rb` before it).
fn application_limited(retry_after: Option<u64>) -> Response {
    let message = "This endpoint has been requested too many times. Try again later.";
    let mut response = (
        StatusCode::TOO_MANY_REQUESTS,
        axum::Json(json!({"message": {"error": message}})),
    )
        .into_response();
    if let Some(seconds) = retry_after {
        set_header(&mut response, "retry-after", &seconds.to_string());
    }
    response
}

/// A label create refused because its title is taken (`409`), answered as GitLab answers
/// one that met the create taking the title inside it (`faults.label_create_race`).
fn label_create_race(call: &Call, response: Response) -> Response {
    if call.method != Method::POST
        || call.route != "/projects/:id/labels"
        || response.status() != StatusCode::CONFLICT
    {
        return response;
    }
    match call.faults.label_create_race {
        LabelCreateRace::Check => response,
        LabelCreateRace::Validation => (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"message": {"title": ["has already been taken"]}})),
        )
            .into_response(),
        LabelCreateRace::Index => error_page(500, ErrorBody::Json),
    }
}

/// After the handler: a write is saved before anyone hears of it (a refused one too: an
/// edit answered 400 may have closed the issue first, as GitLab's does), then a
/// successful one's answer may be lost on the way back (the write still happened).
fn after_handler(
    app: &App,
    response: Response,
    is_write: bool,
    lose: Option<LostResponse>,
    body: ErrorBody,
) -> Response {
    if is_write {
        app.save();
        if let Some(lost) = lose.filter(|_| response.status().is_success()) {
            return lose_response(response, lost, body);
        }
    }
    response
}

/// Sets each of `headers` on `response`.
fn set_headers(response: &mut Response, headers: &[(&'static str, String)]) {
    for (name, value) in headers {
        set_header(response, name, value);
    }
}

/// A write went through but its answer never arrives whole.
fn lose_response(response: Response, how: LostResponse, body: ErrorBody) -> Response {
    match how {
        LostResponse::BadGateway => error_page(502, body),
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
