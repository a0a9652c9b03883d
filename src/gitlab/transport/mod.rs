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
//!
//! The files: `pacing` (throttles, the `RateLimit-*` pause, a 429's wait), `send` (an
//! attempt and its retries), `fence` (what every write passes last), `turn` (a read and
//! its write back to back).

use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use gitlab::api::{self, ApiError};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use secrecy::SecretString;
use tokio::sync::{Mutex, Semaphore};
use tokio_util::sync::CancellationToken;
use url::Url;

use super::{GitlabError, TransportError};
use crate::metrics::GitlabMetrics;

mod fence;
mod pacing;
mod send;
mod turn;

pub use fence::{Fence, GITLAB_GRACE};
pub use turn::Turn;

use pacing::{Pause, per_minute};

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

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("rest", &crate::redact::url(&self.rest))
            .field("token", &"[redacted]")
            .finish()
    }
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

    /// The policy it was built with.
    pub(super) fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Its cancellation token (a shutdown).
    pub(super) fn cancel_token(&self) -> &CancellationToken {
        &self.cancel
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
}

impl api::RestClient for Client {
    type Error = TransportError;

    fn rest_endpoint(&self, endpoint: &str) -> Result<Url, ApiError<Self::Error>> {
        Ok(self.rest.join(endpoint)?)
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
