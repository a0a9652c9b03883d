//! Sending one request: an attempt (slot, waits, the token, no redirect, no foreign
//! origin), and the retries around it for what is safe to repeat.

use std::sync::atomic::Ordering;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use bytes::Bytes;
use gitlab::api::ApiError;
use http::{HeaderMap, Method, StatusCode};
use secrecy::ExposeSecret;
use url::Url;

use super::pacing::retry_after;
use super::{Client, Mode, TransportError};

impl Client {
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
pub(super) enum Failure {
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

impl Client {
    /// Sends one request built by the `gitlab` crate (or by hand) as `mode` says: every
    /// status comes back as a response (the crate turns a non-2xx into an error); `Err`
    /// only when no answer could be had.
    pub(in crate::gitlab) async fn send(
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
