//! Injected faults and request statistics (`/-/sandbox/faults`, `/-/sandbox/stats`).
//!
//! Every API request gets a sequence number; every random decision about it is drawn from
//! a ChaCha stream selected by `(seed, sequence number)`, so the same seed gives the same
//! faults at the same requests, whatever happened before.

use std::collections::BTreeMap;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// What to break, set with `PUT /-/sandbox/faults`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Added to every API request.
    pub latency_ms: u64,
    /// Up to this much more, drawn per request.
    pub latency_jitter_ms: u64,
    /// Share of requests answered 500, 502 or 503 without being applied.
    pub error_rate: f64,
    /// The body of every injected 5xx: an HTML page, as a proxy in front of GitLab
    /// answers, or the JSON GitLab's API answers itself.
    pub error_body: ErrorBody,
    /// Share of writes applied whose response is then lost (connection dropped or 502).
    pub lost_response_rate: f64,
    /// Every write is answered after this many milliseconds and applied at the end of
    /// them, whether or not the client still waits: a request GitLab keeps running after
    /// the client gave up (gitlab.com lets one run about 60 s).
    pub slow_write_ms: u64,
    /// Rack::Attack-style limit on all API requests per user per minute (with
    /// `RateLimit-*` headers on every response); `None` means unlimited and no headers.
    pub rate_limit_per_minute: Option<u64>,
    /// The length in seconds of `rate_limit_per_minute`'s window, 60 when unset: GitLab's
    /// period is an application setting (`throttle_authenticated_api_period_in_seconds`,
    /// `lib/gitlab/rack_attack.rb`), and `RateLimit-Limit` is still said per minute.
    pub rate_limit_period_seconds: Option<u64>,
    /// The same per hour, beside the per-minute one (GitLab.com's proposed plan limits:
    /// a per-minute burst and an hourly quota); the headers name the tighter one.
    pub rate_limit_per_hour: Option<u64>,
    /// GitLab's application limit on issue creation per minute: 429 JSON, no `Retry-After`.
    pub issue_create_limit_per_minute: Option<u64>,
    /// Share of requests answered with a Rack::Attack 429 (`Retry later`), in bursts
    /// that need no minute of traffic to provoke.
    pub throttle_rate: f64,
    /// The `Retry-After` those 429s carry, in seconds.
    pub throttle_retry_after: u64,
    /// Share of requests answered with a 429 that has no rate-limit headers at all, as
    /// the Projects and Users API limits answer.
    pub headerless_429_rate: f64,
    /// How a label create whose title is taken is answered: as when it met the create
    /// that took the title inside GitLab (see [`LabelCreateRace`]).
    pub label_create_race: LabelCreateRace,
    /// Routes answered `403 Forbidden` whatever the caller's role, as `"POST
    /// /projects/:id/boards"` (method, space, the route as GitLab's docs write it): what a
    /// GitLab answers where a project setting forbids the endpoint (its issues turned
    /// off, an archived project), which the sandbox does not model otherwise.
    pub forbid: Vec<String>,
    /// Seed of every random decision.
    pub seed: u64,
}

/// The answer to `POST /projects/:id/labels` for a title another create took an instant
/// before. GitLab checks in three places, one after the other, each seeing only what was
/// committed when it ran: `create_label`'s `find_by_title` (`409 Label already exists`,
/// `lib/api/helpers/label_helpers.rb`), the model's uniqueness validation (`400
/// {"message":{"title":["has already been taken"]}}`, `app/models/label.rb` `validates
/// :title, uniqueness:`, through `render_validation_error!`), and the database's unique
/// index (`index_labels_on_project_id_and_title_varchar_unique`: an unhandled
/// `ActiveRecord::RecordNotUnique`, `500 {"message":"500 Internal Server Error"}`).
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LabelCreateRace {
    /// The first check saw it: `409` (a create that comes later is always answered so).
    #[default]
    Check,
    /// Only the validation saw it: `400`, for every create of a taken title.
    Validation,
    /// Only the unique index saw it: `500`, for every create of a taken title.
    Index,
}

/// What an injected 5xx carries.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ErrorBody {
    /// An HTML error page, as the proxies in front of GitLab's API answer.
    #[default]
    Html,
    /// `{"message":"500 Internal Server Error"}`, as GitLab's API answers an exception.
    Json,
}

/// The decisions about one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// Total injected delay.
    pub latency_ms: u64,
    /// Answer this 5xx instead of handling the request.
    pub error: Option<u16>,
    /// If it is a successful write: lose the response after applying it.
    pub lose: Option<LostResponse>,
    /// Answer a Rack::Attack 429 instead of handling the request.
    pub throttle: bool,
    /// Answer a 429 without headers instead of handling the request.
    pub headerless_429: bool,
}

/// How a response gets lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LostResponse {
    /// Headers sent, then the connection breaks mid-body.
    Dropped,
    /// A gateway error although the write went through.
    BadGateway,
}

impl Faults {
    /// The decisions for request number `seq`.
    pub fn decide(&self, seq: u64) -> Decision {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        rng.set_stream(seq);
        // Always draw every value, in the same order, so that changing one rate never
        // shifts the others' decisions.
        let jitter: u64 = rng.random_range(0..=self.latency_jitter_ms);
        let error_roll: f64 = rng.random();
        let error_code = [500u16, 502, 503][rng.random_range(0..3usize)];
        let lose_roll: f64 = rng.random();
        let dropped: bool = rng.random();
        let throttle_roll: f64 = rng.random();
        // Drawn last, so that the decisions drawn before it stay what they were.
        let headerless_roll: f64 = rng.random();
        Decision {
            throttle: throttle_roll < self.throttle_rate,
            headerless_429: headerless_roll < self.headerless_429_rate,
            latency_ms: self.latency_ms + jitter,
            error: (error_roll < self.error_rate).then_some(error_code),
            lose: (lose_roll < self.lost_response_rate).then_some(if dropped {
                LostResponse::Dropped
            } else {
                LostResponse::BadGateway
            }),
        }
    }
}

/// A fixed window counter, as Rack::Attack keeps them: windows start at multiples of
/// the period since the Unix epoch.
#[derive(Debug, Clone)]
pub struct Window {
    period: i64,
    epoch: i64,
    count: u64,
}

impl Window {
    /// A window of `period` seconds.
    pub fn new(period: i64) -> Self {
        Window {
            period,
            epoch: 0,
            count: 0,
        }
    }

    /// Counts a request at `now` (unix seconds); returns the count in its window.
    pub fn hit(&mut self, now: i64) -> u64 {
        let epoch = now.div_euclid(self.period);
        if epoch != self.epoch {
            self.epoch = epoch;
            self.count = 0;
        }
        self.count += 1;
        self.count
    }

    /// The window's length in seconds.
    pub fn period(&self) -> i64 {
        self.period
    }
}

/// The rate windows of the API: Rack::Attack's per minute and per hour, and the
/// application's issue-creation limit.
#[derive(Debug, Clone)]
pub struct Windows {
    /// `rate_limit_per_minute`.
    pub minute: Window,
    /// `rate_limit_per_hour`.
    pub hour: Window,
    /// `issue_create_limit_per_minute`.
    pub issue_create: Window,
}

impl Windows {
    /// Fresh windows for `faults`: the per-minute throttle's of its period.
    pub fn for_faults(faults: &Faults) -> Self {
        let period = faults.rate_limit_period_seconds.unwrap_or(60).max(1);
        Windows {
            minute: Window::new(i64::try_from(period).unwrap_or(60)),
            ..Windows::default()
        }
    }
}

impl Default for Windows {
    fn default() -> Self {
        Windows {
            minute: Window::new(60),
            hour: Window::new(3600),
            issue_create: Window::new(60),
        }
    }
}

/// What one Rack::Attack throttle knew about a request when it counted it, and the
/// headers GitLab derives from that (`lib/gitlab/rack_attack/request_throttle_data.rb`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThrottleData {
    /// The throttle's name, sent as `RateLimit-Name`.
    pub name: &'static str,
    /// Requests allowed per period.
    pub limit: u64,
    /// The period in seconds.
    pub period: i64,
    /// Requests counted in the window, this one included.
    pub observed: u64,
    /// When it was counted, in Unix seconds.
    pub now: i64,
}

impl ThrottleData {
    /// The limit scaled to a 60-second window and rounded up, which GitLab sends as
    /// `RateLimit-Limit` whatever the period (`rounded_limit`).
    pub fn rounded_limit(&self) -> u64 {
        (self.limit * 60).div_ceil(self.period.max(1) as u64)
    }

    /// What is left of the limit in the window, never below zero.
    pub fn remaining(&self) -> u64 {
        self.limit.saturating_sub(self.observed)
    }

    /// Seconds until the window ends.
    pub fn retry_after(&self) -> i64 {
        self.period - self.now.rem_euclid(self.period)
    }

    /// When the window ends, in Unix seconds.
    pub fn reset(&self) -> i64 {
        self.now + self.retry_after()
    }

    /// `RateLimit-Name`, `-Limit`, `-Observed`, `-Remaining`, `-Reset`: on every response
    /// GitLab does not throttle (`common_response_headers`).
    pub fn common_headers(&self) -> Vec<(&'static str, String)> {
        vec![
            ("ratelimit-name", self.name.to_owned()),
            ("ratelimit-limit", self.rounded_limit().to_string()),
            ("ratelimit-observed", self.observed.to_string()),
            ("ratelimit-remaining", self.remaining().to_string()),
            ("ratelimit-reset", self.reset().to_string()),
        ]
    }

    /// The common headers and `Retry-After`, `RateLimit-ResetTime`: on the 429 of the
    /// throttle that refused (`throttled_response_headers`).
    pub fn throttled_headers(&self) -> Vec<(&'static str, String)> {
        let mut headers = self.common_headers();
        let reset = chrono::DateTime::from_timestamp(self.reset(), 0).unwrap_or_default();
        headers.push(("retry-after", self.retry_after().to_string()));
        headers.push((
            "ratelimit-resettime",
            reset.format("%a, %d %b %Y %H:%M:%S GMT").to_string(),
        ));
        headers
    }
}

/// Request counts since the last reset.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Stats {
    pub total: u64,
    pub reads: u64,
    pub writes: u64,
    pub by_route: BTreeMap<String, u64>,
    pub by_status: BTreeMap<String, u64>,
}

impl Stats {
    /// Records one answered request.
    pub fn record(&mut self, method: &str, route: &str, status: u16) {
        self.total += 1;
        if matches!(method, "GET" | "HEAD") {
            self.reads += 1;
        } else {
            self.writes += 1;
        }
        *self
            .by_route
            .entry(format!("{method} {route}"))
            .or_default() += 1;
        *self.by_status.entry(status.to_string()).or_default() += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_decisions_and_another_seed_others() {
        let faults = Faults {
            error_rate: 0.3,
            lost_response_rate: 0.3,
            latency_jitter_ms: 50,
            seed: 7,
            ..Default::default()
        };
        let a: Vec<Decision> = (0..200).map(|s| faults.decide(s)).collect();
        let b: Vec<Decision> = (0..200).map(|s| faults.decide(s)).collect();
        assert_eq!(a, b);
        let other = Faults {
            seed: 8,
            ..faults.clone()
        };
        let c: Vec<Decision> = (0..200).map(|s| other.decide(s)).collect();
        assert_ne!(a, c);
        let errors = a.iter().filter(|d| d.error.is_some()).count();
        assert!((30..90).contains(&errors), "{errors} errors of 200 at 30%");
    }

    #[test]
    fn windows_reset_at_each_multiple_of_their_period() {
        let mut w = Window::new(60);
        assert_eq!(w.hit(120), 1);
        assert_eq!(w.hit(179), 2);
        assert_eq!(w.hit(180), 1);
        let mut h = Window::new(3600);
        assert_eq!(h.hit(3600), 1);
        assert_eq!(h.hit(7199), 2);
        assert_eq!(h.hit(7200), 1);
    }

    /// `lib/gitlab/rack_attack/request_throttle_data.rb`: an hourly limit is sent as its
    /// share of a minute, rounded up; what remains is of the whole hour.
    #[test]
    fn an_hourly_throttle_reports_its_limit_per_minute_and_its_hour() {
        let t = ThrottleData {
            name: "x",
            limit: 5000,
            period: 3600,
            observed: 4990,
            now: 3600 * 10 + 600,
        };
        assert_eq!(t.rounded_limit(), 84);
        assert_eq!(t.remaining(), 10);
        assert_eq!(t.retry_after(), 3000);
        assert_eq!(t.reset(), 3600 * 11);
    }

    #[test]
    fn adding_the_headerless_draw_left_the_earlier_decisions_alone() {
        let before = Faults {
            error_rate: 0.3,
            throttle_rate: 0.2,
            seed: 3,
            ..Default::default()
        };
        let after = Faults {
            headerless_429_rate: 0.5,
            ..before.clone()
        };
        for seq in 0..100 {
            let (a, b) = (before.decide(seq), after.decide(seq));
            assert_eq!((a.error, a.throttle), (b.error, b.throttle));
        }
    }
}
