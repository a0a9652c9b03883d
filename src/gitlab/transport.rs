//! The HTTP client under the `gitlab` crate's endpoints: timeouts, a client-side throttle,
//! `RateLimit-*` pacing, retries, and no redirects.
//!
//! - Every request waits for the throttle (`governor`: requests per minute, optionally
//!   per hour, and issue creations per minute, GitLab's tighter application limit) and
//!   for a concurrency slot.
//! - When a response says `RateLimit-Remaining` is nearly spent, requests pause until
//!   `RateLimit-Reset`, however far away, before GitLab has to say 429. The pause belongs
//!   to the client, so a daemon that keeps its client keeps it across syncs.
//! - 429: wait `Retry-After`, or 60 s when it is missing (older GitLab versions'
//!   application limits and the Projects and Users API limits send none), then retry:
//!   the request was not applied. Most instances send `RateLimit-*` on 429s only (on
//!   other answers only behind `rate_limiting_headers_for_unthrottled_requests`), so
//!   the throttle and 429s alone must pace a sync.
//! - 5xx (whatever the body), timeouts and connection errors: exponential backoff with
//!   jitter (`backon`), bounded in attempts. Only for requests that are safe to repeat: a
//!   `POST` whose outcome is unknown is handed back to the caller, which looks before it
//!   creates again.
//! - Redirects are never followed (the token would go with them): a 3xx is an error
//!   naming where it points. A URL on another origin than `gitlab.url` (a `Link` header
//!   could name one) is never requested.
//! - Every wait (throttle, pause, backoff) ends at once when the client's cancellation
//!   token is cancelled, and so does a read in flight; a write already sent is left to
//!   finish, so that its outcome is known.
//! - A write that replaces what a person may have typed follows its read with nothing in
//!   between: a [`Turn`] waits for everything (slot, pause, throttles for both requests,
//!   the fence) before the read, then sends the read and the write at once, each tried
//!   once; the caller reads again before trying the write again (`Gitlab::edit_after_read`).
//! - With a [`Fence`] set (the projects' leases), no write goes out unless the fence
//!   admits it, after every other wait.
//! - Until GitLab has answered once, a connection that cannot be made (refused, unknown
//!   host, no connection within the connect timeout) is not retried: the URL is wrong or
//!   GitLab is down, and a minute of silent retries would only hide it. Once it has
//!   answered, such failures are retried.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use backon::{ExponentialBuilder, Retryable};
use bytes::Bytes;
use gitlab::api::{self, ApiError};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use http::{HeaderMap, Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::{Mutex, Semaphore};
use tokio_util::sync::CancellationToken;
use url::Url;

use super::{GitlabError, TransportError};
use crate::metrics::GitlabMetrics;

/// How long GitLab may still run a request after the client gave up on it: gitlab.com
/// ends a request after about 60 s (`Rack::Timeout`). A write admitted by the [`Fence`]
/// must be done within its timeout plus this.
pub const GITLAB_GRACE: Duration = Duration::from_secs(60);

/// What every write waits for, after every other wait and right before it is sent: the
/// lease of the projects a run writes to (`sync_run::lease`).
#[async_trait]
pub trait Fence: Send + Sync {
    /// Returns once writes may go out and be done within `budget` from now (waiting for
    /// a renewal if need be), or why no write may go out any more.
    async fn admit(&self, budget: Duration) -> Result<(), String>;
}

/// How a request goes out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    /// Waits for a concurrency slot, the rate-limit pause and the throttles, and a write
    /// also for the fence; tried again when that is safe.
    Queued,
    /// Sent at once and tried once: the read and the write of a [`Turn`], whose waits
    /// came before the read, and a lease's release at a shutdown.
    AtOnce,
    /// The lease's own requests: no slot (writers waiting at the fence hold them) and no
    /// fence (they are what opens it); the pause, the throttles and retries as usual.
    Lease,
}

/// How hard to push GitLab, and how to recover.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Every request is abandoned after this.
    pub timeout: Duration,
    /// Client-side limit on all requests.
    pub requests_per_minute: u32,
    /// Client-side limit on issue creations.
    pub issue_creations_per_minute: u32,
    /// Client-side limit on all requests per hour; 0 sets none.
    pub requests_per_hour: u32,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Retries after the first attempt.
    pub max_retries: usize,
    /// First backoff delay; it doubles up to 30 s, with jitter.
    pub retry_initial_delay: Duration,
    /// The wait after a 429 that carries no `Retry-After`: [`DEFAULT_RETRY_AFTER`].
    pub default_retry_after: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            timeout: Duration::from_secs(30),
            requests_per_minute: 1800,
            issue_creations_per_minute: 180,
            requests_per_hour: 0,
            concurrency: 4,
            max_retries: 5,
            retry_initial_delay: Duration::from_millis(500),
            default_retry_after: DEFAULT_RETRY_AFTER,
        }
    }
}

/// The default wait after a 429 that carries no `Retry-After`: GitLab's Rack::Attack
/// period, one minute; its application limits (issue creation) and the Projects and
/// Users API limits answer 429 with no header at all. (`gitlab.default_retry_after_seconds`.)
pub const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(60);

/// How long a 429 asks to wait: its `Retry-After` in seconds, else `default` (GitLab's
/// application limits send none, and some limits no header at all).
fn retry_after(headers: &http::HeaderMap, default: Duration) -> Duration {
    headers
        .get(http::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map_or(default, Duration::from_secs)
}

/// The HTTP client the `gitlab` crate's endpoints run on.
pub struct Client {
    http: reqwest::Client,
    /// `gitlab.url` as configured, for messages.
    base: Url,
    rest: Url,
    token: SecretString,
    policy: Policy,
    requests: Arc<DefaultDirectRateLimiter>,
    hourly: Option<Arc<DefaultDirectRateLimiter>>,
    creations: Arc<DefaultDirectRateLimiter>,
    slots: Semaphore,
    /// Set from `RateLimit-*` headers: no request before this instant (and the wall-clock
    /// time it stands for, for the log).
    paused_until: Mutex<Option<Pause>>,
    /// Where answers and rate-limit waits are counted; `None` counts nothing.
    metrics: Option<Arc<GitlabMetrics>>,
    /// When cancelled, no further request is sent and every wait ends.
    cancel: CancellationToken,
    /// What every write must pass (the leases of a run), if any.
    fence: std::sync::Mutex<Option<Arc<dyn Fence>>>,
    /// Whether GitLab has answered anything yet: before, a connection that cannot be made
    /// fails at once ([`TransportError::Unreachable`]).
    reached: AtomicBool,
}

/// A rate-limit pause: until `until` (monotonic), which is `wall` on the clock.
#[derive(Debug, Clone, Copy)]
struct Pause {
    until: tokio::time::Instant,
    wall: chrono::DateTime<chrono::Utc>,
    /// Whether a request already said in the log that it waits for this pause.
    announced: bool,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("rest", &crate::redact::url(&self.rest))
            .field("token", &"[redacted]")
            .finish()
    }
}

fn per_minute(n: u32) -> Quota {
    let burst = NonZeroU32::new((n / 60).clamp(1, 10)).expect("at least one");
    let n = NonZeroU32::new(n.max(1)).expect("at least one");
    // A small burst, then a steady pace: GitLab counts per minute, but a full minute's
    // quota at once would trip its shorter windows.
    Quota::per_minute(n).allow_burst(burst)
}

/// An HTTP client with handbook-sync's user agent and timeouts; certificates are always
/// verified. It follows redirects (at most 10, as reqwest does): it fetches `http(s)`
/// page sources, which carry no token.
pub fn http_client(timeout: Duration) -> Result<reqwest::Client, GitlabError> {
    build_http(timeout, reqwest::redirect::Policy::default())
}

fn build_http(
    timeout: Duration,
    redirects: reqwest::redirect::Policy,
) -> Result<reqwest::Client, GitlabError> {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .user_agent(concat!("handbook-sync/", env!("CARGO_PKG_VERSION")))
        .redirect(redirects)
        .build()
        .map_err(|e| GitlabError::Other {
            what: "building the HTTP client".into(),
            message: e.to_string(),
        })
}

/// Where a 3xx points, said as the instance to configure: `https://new.example.com`
/// when the target is the same API path on another base, else the whole target.
fn redirect_target(rest: &Url, requested: &Url, location: &Url) -> String {
    let path = requested
        .as_str()
        .strip_prefix(rest.as_str())
        .map(|p| format!("api/v4/{p}"));
    let shown = crate::redact::url(location);
    match path.and_then(|p| shown.strip_suffix(&p).map(str::to_owned)) {
        Some(base) => base.trim_end_matches('/').to_owned(),
        None => shown,
    }
}

impl Client {
    /// A client for the instance at `base` (e.g. `https://gitlab.com`). It never follows
    /// a redirect.
    pub fn new(base: &Url, token: SecretString, policy: Policy) -> Result<Self, GitlabError> {
        let mut rest = base.clone();
        if !rest.path().ends_with('/') {
            rest.set_path(&format!("{}/", rest.path()));
        }
        let rest = rest.join("api/v4/").map_err(|e| GitlabError::Other {
            what: "the GitLab URL".into(),
            message: e.to_string(),
        })?;
        let http = build_http(policy.timeout, reqwest::redirect::Policy::none())?;
        let hourly = NonZeroU32::new(policy.requests_per_hour)
            .map(|n| Arc::new(RateLimiter::direct(Quota::per_hour(n).allow_burst(n))));
        Ok(Client {
            http,
            base: base.clone(),
            rest,
            token,
            hourly,
            cancel: CancellationToken::new(),
            requests: Arc::new(RateLimiter::direct(per_minute(policy.requests_per_minute))),
            creations: Arc::new(RateLimiter::direct(per_minute(
                policy.issue_creations_per_minute,
            ))),
            slots: Semaphore::new(policy.concurrency.max(1)),
            paused_until: Mutex::new(None),
            policy,
            metrics: None,
            fence: std::sync::Mutex::new(None),
            reached: AtomicBool::new(false),
        })
    }

    /// Makes every write pass `fence` from now on (`None`: no fence).
    pub fn set_fence(&self, fence: Option<Arc<dyn Fence>>) {
        *self
            .fence
            .lock()
            .expect("never poisoned: no panic while held") = fence;
    }

    /// The policy it was built with.
    pub(super) fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Its cancellation token (a shutdown).
    pub(super) fn cancel_token(&self) -> &CancellationToken {
        &self.cancel
    }

    /// How long a write admitted now may take: its timeout, and what GitLab may run
    /// after the client gave up.
    fn write_budget(&self) -> Duration {
        self.policy.timeout + GITLAB_GRACE
    }

    /// Waits until the fence, if any, admits writes for `budget`.
    async fn admit(&self, budget: Duration) -> Result<(), Failure> {
        let fence = self
            .fence
            .lock()
            .expect("never poisoned: no panic while held")
            .clone();
        let Some(fence) = fence else {
            return Ok(());
        };
        tokio::select! {
            admitted = fence.admit(budget) => admitted.map_err(|why| Failure::Final(TransportError::Fenced(why))),
            () = self.cancel.cancelled() => Err(Failure::Final(TransportError::Cancelled)),
        }
    }

    /// A read and a write with nothing between them: waits here, before the read, for a
    /// concurrency slot (held by the turn), the rate-limit pause, two requests' worth of
    /// every throttle and the fence (for both requests), the fence asked again after any
    /// pause that began meanwhile; the turn's requests then go out at once. `Err` when
    /// cancelled or fenced meanwhile.
    pub(super) async fn turn(&self) -> Result<Turn<'_>, TransportError> {
        let waits = async {
            let slot = self
                .slots
                .acquire()
                .await
                .expect("the semaphore is never closed");
            self.wait_for_pause().await;
            // Two cells, one after the other: with a burst of one (under 120 requests a
            // minute) two at once would never be granted.
            for _ in 0..2 {
                self.requests.until_ready().await;
                if let Some(hourly) = &self.hourly {
                    hourly.until_ready().await;
                }
            }
            let budget = self.policy.timeout * 2 + GITLAB_GRACE;
            // The fence answers last. A pause set while the throttles or the fence held
            // this turn back is waited out, and then the fence is asked again: its yes
            // was for writes sent at once, and the lease may lapse during the pause (its
            // renewal waits for the same pause) and another run take the project.
            loop {
                self.admit(budget).await?;
                if !self.wait_for_pause().await {
                    break;
                }
            }
            Ok(slot)
        };
        let slot = tokio::select! {
            slot = waits => slot.map_err(|f: Failure| match f {
                Failure::Final(e) | Failure::Transport(e, _) => e,
                Failure::Status(..) => TransportError::Cancelled,
            })?,
            () = self.cancel.cancelled() => return Err(TransportError::Cancelled),
        };
        Ok(Turn {
            client: self,
            _slot: slot,
            throttled: std::sync::Mutex::new(None),
        })
    }

    /// Ends every wait, and sends no further request, once `cancel` is cancelled (the
    /// daemon's shutdown).
    pub fn with_cancel(mut self, cancel: CancellationToken) -> Self {
        self.cancel = cancel;
        self
    }

    /// Counts every answer and rate-limit wait in `metrics` (the daemon's `/metrics`).
    pub fn with_metrics(mut self, metrics: Option<Arc<GitlabMetrics>>) -> Self {
        self.metrics = metrics;
        self
    }

    fn count_request(&self, status: Option<u16>) {
        if let Some(m) = &self.metrics {
            m.request(status);
        }
    }

    fn count_rate_limit_wait(&self) {
        if let Some(m) = &self.metrics {
            m.rate_limit_wait();
        }
    }

    /// Waits for the pause and the throttles; `Err` when cancelled meanwhile.
    async fn wait_turn(&self, creates_issue: bool) -> Result<(), Failure> {
        let waits = async {
            self.wait_for_pause().await;
            self.requests.until_ready().await;
            if let Some(hourly) = &self.hourly {
                hourly.until_ready().await;
            }
            if creates_issue {
                self.creations.until_ready().await;
            }
        };
        tokio::select! {
            () = waits => Ok(()),
            () = self.cancel.cancelled() => Err(Failure::Final(TransportError::Cancelled)),
        }
    }

    /// Sleeps until the rate-limit pause ends, saying once per pause until when; true
    /// when there was one to wait for.
    async fn wait_for_pause(&self) -> bool {
        let until = {
            let mut pause = self.paused_until.lock().await;
            match pause.as_mut() {
                Some(p) if p.until > tokio::time::Instant::now() => {
                    if !p.announced {
                        p.announced = true;
                        tracing::info!(
                            until = %p.wall.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                            "waiting for GitLab's rate limit to reset before the next request"
                        );
                    }
                    p.until
                }
                _ => return false,
            }
        };
        tokio::time::sleep_until(until).await;
        true
    }

    /// Slows down before GitLab has to refuse: when the quota is nearly spent, nothing
    /// goes out until it resets, however far away that is.
    async fn pace(&self, headers: &HeaderMap) {
        let number = |name: &str| headers.get(name)?.to_str().ok()?.trim().parse::<u64>().ok();
        let (Some(remaining), Some(reset)) =
            (number("ratelimit-remaining"), number("ratelimit-reset"))
        else {
            return;
        };
        let limit = number("ratelimit-limit").unwrap_or(0);
        if remaining > (limit / 50).max(1) {
            return;
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        // GitLab sends Unix time; the IETF draft (and some proxies) seconds from now. No
        // Unix time this small is in the future, so a small value can only be the latter.
        let reset = if reset < 1_000_000_000 {
            now + reset
        } else {
            reset
        };
        let wait = Duration::from_secs(reset.saturating_sub(now));
        let wall = chrono::DateTime::from_timestamp(reset.min(i64::MAX as u64) as i64, 0)
            .unwrap_or_else(chrono::Utc::now);
        // A reset beyond what the clock can add is a broken header: a year is plenty.
        let until = tokio::time::Instant::now()
            .checked_add(wait)
            .unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(366 * 86_400));
        let mut pause = self.paused_until.lock().await;
        if pause.is_some_and(|p| p.until >= until) {
            return;
        }
        tracing::info!(
            remaining,
            until = %wall.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            wait_seconds = wait.as_secs(),
            "GitLab's rate limit is nearly spent: pausing requests until it resets"
        );
        self.count_rate_limit_wait();
        *pause = Some(Pause {
            until,
            wall,
            announced: false,
        });
    }

    async fn attempt(
        &self,
        method: &Method,
        url: &str,
        headers: &HeaderMap,
        body: &[u8],
        mode: Mode,
    ) -> Result<http::Response<Bytes>, Failure> {
        let creates_issue =
            *method == Method::POST && url.trim_end_matches('/').ends_with("/issues");
        let target = self.own_url(url).map_err(Failure::Final)?;
        let _slot = match mode {
            Mode::Queued => Some(tokio::select! {
                slot = self.slots.acquire() => slot.expect("the semaphore is never closed"),
                () = self.cancel.cancelled() => return Err(Failure::Final(TransportError::Cancelled)),
            }),
            Mode::AtOnce | Mode::Lease => None,
        };
        if mode != Mode::AtOnce {
            self.wait_turn(creates_issue).await?;
        }
        if mode == Mode::Queued && !matches!(*method, Method::GET | Method::HEAD) {
            // After every other wait: a lease that lapsed during a long pause is renewed
            // (or found lost) before this write goes out, not after.
            self.admit(self.write_budget()).await?;
        }
        let mut token = http::HeaderValue::from_str(self.token.expose_secret())
            .map_err(|e| Failure::Transport(TransportError::Build(e.into()), false))?;
        token.set_sensitive(true);
        let request = self
            .http
            .request(method.clone(), url)
            .headers(headers.clone())
            .header("PRIVATE-TOKEN", token)
            .body(body.to_vec());
        let response = match request.send().await {
            Ok(r) => {
                self.count_request(Some(r.status().as_u16()));
                self.reached.store(true, Ordering::Relaxed);
                r
            }
            Err(e) => {
                self.count_request(None);
                let not_sent = e.is_connect();
                if not_sent && !self.reached.load(Ordering::Relaxed) {
                    return Err(Failure::Final(TransportError::Unreachable {
                        url: crate::redact::url(&self.base)
                            .trim_end_matches('/')
                            .to_owned(),
                        reason: root_cause(&e),
                    }));
                }
                return Err(Failure::Transport(e.into(), not_sent));
            }
        };
        let status = response.status();
        if status.is_redirection() {
            return Err(self.redirected(&target, &response));
        }
        let mut builder = http::Response::builder()
            .status(status)
            .version(response.version());
        if let Some(out) = builder.headers_mut() {
            for (name, value) in response.headers() {
                out.append(name, value.clone());
            }
        }
        self.pace(response.headers()).await;
        let bytes = response
            .bytes()
            .await
            .map_err(|e| Failure::Transport(e.into(), false))?;
        let response = builder
            .body(bytes)
            .map_err(|e| Failure::Transport(e.into(), false))?;
        if status == StatusCode::TOO_MANY_REQUESTS {
            let retry_after = retry_after(response.headers(), self.policy.default_retry_after);
            self.count_rate_limit_wait();
            return Err(Failure::Status(response, Some(retry_after)));
        }
        if status.is_server_error() {
            return Err(Failure::Status(response, None));
        }
        Ok(response)
    }

    /// `url` parsed, if it is on `gitlab.url`'s origin: the token goes nowhere else.
    fn own_url(&self, url: &str) -> Result<Url, TransportError> {
        let target = Url::parse(url).map_err(|error| TransportError::BadUrl {
            url: crate::redact::text(url).into_owned(),
            error,
        })?;
        if target.origin() != self.rest.origin() {
            return Err(TransportError::ForeignOrigin {
                url: crate::redact::url(&target),
            });
        }
        Ok(target)
    }

    /// A 3xx to `target`, which is not followed: the error says where it points.
    fn redirected(&self, target: &Url, response: &reqwest::Response) -> Failure {
        let location = response
            .headers()
            .get(http::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| target.join(v).ok());
        Failure::Final(TransportError::Redirect {
            from: crate::redact::url(&self.base)
                .trim_end_matches('/')
                .to_owned(),
            to: location.map_or_else(
                || format!("nowhere (a {} without Location)", response.status()),
                |l| redirect_target(&self.rest, target, &l),
            ),
        })
    }
}

/// The innermost cause of `e` (`Connection refused (os error 111)`, `failed to lookup
/// address information: …`), without the URL reqwest puts in front.
fn root_cause(e: &reqwest::Error) -> String {
    let mut cause: &dyn std::error::Error = e;
    while let Some(inner) = cause.source() {
        cause = inner;
    }
    crate::redact::text(&cause.to_string()).into_owned()
}

/// Why an attempt did not give a usable answer.
#[derive(Debug)]
enum Failure {
    /// No answer; `true` when the request certainly never left (connection refused).
    Transport(TransportError, bool),
    /// A 429 (with how long to wait) or a 5xx.
    Status(http::Response<Bytes>, Option<Duration>),
    /// Not to be tried again: a redirect, a foreign origin, a cancel.
    Final(TransportError),
}

impl Failure {
    fn retryable(&self, idempotent: bool) -> bool {
        match self {
            Failure::Status(response, _) if response.status() == StatusCode::TOO_MANY_REQUESTS => {
                true
            }
            Failure::Transport(_, not_sent) => idempotent || *not_sent,
            Failure::Status(..) => idempotent,
            Failure::Final(_) => false,
        }
    }
}

impl api::RestClient for Client {
    type Error = TransportError;

    fn rest_endpoint(&self, endpoint: &str) -> Result<Url, ApiError<Self::Error>> {
        Ok(self.rest.join(endpoint)?)
    }
}

impl Client {
    /// Sends one request built by the `gitlab` crate (or by hand) as `mode` says: every
    /// status comes back as a response (the crate turns a non-2xx into an error); `Err`
    /// only when no answer could be had.
    pub(super) async fn send(
        &self,
        request: http::request::Builder,
        body: Vec<u8>,
        mode: Mode,
    ) -> Result<http::Response<Bytes>, ApiError<TransportError>> {
        let (parts, ()) = request
            .body(())
            .map_err(|e| ApiError::client(TransportError::Build(e)))?
            .into_parts();
        let (method, url, headers) = (parts.method, parts.uri.to_string(), parts.headers);
        if mode == Mode::AtOnce {
            return match self.attempt(&method, &url, &headers, &body, mode).await {
                Ok(response) | Err(Failure::Status(response, _)) => Ok(response),
                Err(Failure::Transport(e, _) | Failure::Final(e)) => Err(ApiError::client(e)),
            };
        }
        // GET, HEAD and PUT (issue edits set values, add and remove labels) can be repeated;
        // so can creating a label, whose repeat answers 409, which the caller accepts.
        let idempotent = method != Method::POST || parts.uri.path().ends_with("/labels");
        let backoff = ExponentialBuilder::default()
            .with_min_delay(self.policy.retry_initial_delay)
            .with_max_delay(Duration::from_secs(30))
            .with_max_times(self.policy.max_retries)
            .with_jitter();
        let cancel = self.cancel.clone();
        let attempts = (|| self.attempt(&method, &url, &headers, &body, mode))
            .retry(backoff)
            // A shutdown ends the wait; the next attempt then stops before sending.
            .sleep(move |delay| {
                let cancel = cancel.clone();
                async move {
                    tokio::select! {
                        () = tokio::time::sleep(delay) => {}
                        () = cancel.cancelled() => {}
                    }
                }
            })
            .when(|f: &Failure| f.retryable(idempotent))
            .adjust(|f: &Failure, delay| match f {
                Failure::Status(_, Some(wait)) => Some(*wait),
                _ => delay,
            })
            .notify(|f: &Failure, delay| {
                let what = match f {
                    Failure::Status(r, _) => r.status().to_string(),
                    Failure::Transport(e, _) | Failure::Final(e) => e.to_string(),
                };
                tracing::warn!(%method, path = %parts.uri.path(), retry_in_ms = delay.as_millis() as u64, "GitLab request failed ({what}); retrying");
            });
        // A read is abandoned at once on a cancel; a write already sent is left to finish,
        // so that its outcome is known.
        let result = if matches!(method, Method::GET | Method::HEAD) {
            tokio::select! {
                result = attempts => result,
                () = self.cancel.cancelled() => Err(Failure::Final(TransportError::Cancelled)),
            }
        } else {
            attempts.await
        };
        match result {
            Ok(response) => Ok(response),
            // Out of retries, or not safe to retry: the crate turns the status into an error.
            Err(Failure::Status(response, _)) => Ok(response),
            Err(Failure::Transport(e, _) | Failure::Final(e)) => Err(ApiError::client(e)),
        }
    }
}

#[async_trait]
impl api::AsyncClient for Client {
    async fn rest_async(
        &self,
        request: http::request::Builder,
        body: Vec<u8>,
    ) -> Result<http::Response<Bytes>, ApiError<Self::Error>> {
        self.send(request, body, Mode::Queued).await
    }
}

/// A read and the write that follows it, sent back to back with nothing between them:
/// every wait came before the turn was given ([`Client::turn`]), and it holds a
/// concurrency slot. Each request is tried once; a 429's wait is kept
/// ([`Turn::throttled`]) so that the caller waits it out and reads again before it
/// writes.
pub struct Turn<'a> {
    client: &'a Client,
    _slot: tokio::sync::SemaphorePermit<'a>,
    throttled: std::sync::Mutex<Option<Duration>>,
}

impl Turn<'_> {
    /// The wait a 429 answer to this turn asked for (`Retry-After`, or the default), if
    /// one came: the request was not applied.
    pub fn throttled(&self) -> Option<Duration> {
        *self
            .throttled
            .lock()
            .expect("never poisoned: no panic while held")
    }
}

impl api::RestClient for Turn<'_> {
    type Error = TransportError;

    fn rest_endpoint(&self, endpoint: &str) -> Result<Url, ApiError<Self::Error>> {
        self.client.rest_endpoint(endpoint)
    }
}

#[async_trait]
impl api::AsyncClient for Turn<'_> {
    async fn rest_async(
        &self,
        request: http::request::Builder,
        body: Vec<u8>,
    ) -> Result<http::Response<Bytes>, ApiError<Self::Error>> {
        let response = self.client.send(request, body, Mode::AtOnce).await?;
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            // Counted as a rate-limit wait by the attempt already.
            let wait = retry_after(response.headers(), self.client.policy.default_retry_after);
            *self
                .throttled
                .lock()
                .expect("never poisoned: no panic while held") = Some(wait);
        }
        Ok(response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 429 without `Retry-After` (GitLab's issue-creation limit) or with no header at
    /// all (the Projects and Users API limits) waits the documented 60 s by default.
    #[test]
    fn a_429_without_retry_after_waits_the_default_of_60_seconds() {
        assert_eq!(
            Policy::default().default_retry_after,
            Duration::from_secs(60)
        );
        let mut headers = http::HeaderMap::new();
        assert_eq!(
            retry_after(&headers, DEFAULT_RETRY_AFTER),
            Duration::from_secs(60)
        );
        headers.insert(http::header::RETRY_AFTER, "7".parse().unwrap());
        assert_eq!(
            retry_after(&headers, DEFAULT_RETRY_AFTER),
            Duration::from_secs(7)
        );
        // An HTTP date is not GitLab's form: the default, never a busy loop.
        headers.insert(
            http::header::RETRY_AFTER,
            "Wed, 21 Oct 2026 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(
            retry_after(&headers, DEFAULT_RETRY_AFTER),
            Duration::from_secs(60)
        );
    }
}
