//! Pacing: the client-side throttles, the pause `RateLimit-*` headers call for, and the
//! wait a 429 asks for.

use std::num::NonZeroU32;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use governor::Quota;
use http::HeaderMap;

use super::send::Failure;
use super::{Client, TransportError};

/// How long a 429 asks to wait: its `Retry-After` in seconds, else `default` (GitLab's
/// application limits send none, and some limits no header at all).
pub(super) fn retry_after(headers: &http::HeaderMap, default: Duration) -> Duration {
    headers
        .get(http::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map_or(default, Duration::from_secs)
}

/// A rate-limit pause: until `until` (monotonic), which is `wall` on the clock.
#[derive(Debug, Clone, Copy)]
pub(super) struct Pause {
    until: tokio::time::Instant,
    wall: chrono::DateTime<chrono::Utc>,
    /// Whether a request already said in the log that it waits for this pause.
    announced: bool,
}

pub(super) fn per_minute(n: u32) -> Quota {
    let burst = NonZeroU32::new((n / 60).clamp(1, 10)).expect("at least one");
    let n = NonZeroU32::new(n.max(1)).expect("at least one");
    // A small burst, then a steady pace: GitLab counts per minute, but a full minute's
    // quota at once would trip its shorter windows.
    Quota::per_minute(n).allow_burst(burst)
}

impl Client {
    /// Waits for the pause and the throttles; `Err` when cancelled meanwhile.
    pub(super) async fn wait_turn(&self, creates_issue: bool) -> Result<(), Failure> {
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
    pub(super) async fn wait_for_pause(&self) -> bool {
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
    pub(super) async fn pace(&self, headers: &HeaderMap) {
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
}

#[cfg(test)]
mod tests {
    use super::super::{DEFAULT_RETRY_AFTER, Policy};
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
