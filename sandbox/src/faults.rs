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
    /// Share of writes applied whose response is then lost (connection dropped or 502).
    pub lost_response_rate: f64,
    /// Rack::Attack-style limit on all API requests per user per minute (with
    /// `RateLimit-*` headers on every response); `None` means unlimited and no headers.
    pub rate_limit_per_minute: Option<u64>,
    /// GitLab's application limit on issue creation per minute: 429 JSON, no `Retry-After`.
    pub issue_create_limit_per_minute: Option<u64>,
    /// Share of requests answered with a Rack::Attack 429 (`Retry later`), in bursts
    /// that need no minute of traffic to provoke.
    pub throttle_rate: f64,
    /// The `Retry-After` those 429s carry, in seconds.
    pub throttle_retry_after: u64,
    /// Seed of every random decision.
    pub seed: u64,
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
        Decision {
            throttle: throttle_roll < self.throttle_rate,
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

/// A fixed one-minute window counter, as Rack::Attack keeps them.
#[derive(Debug, Default, Clone)]
pub struct Window {
    minute: i64,
    count: u64,
}

impl Window {
    /// Counts a request at `now` (unix seconds); returns the count in its window.
    pub fn hit(&mut self, now: i64) -> u64 {
        let minute = now.div_euclid(60);
        if minute != self.minute {
            self.minute = minute;
            self.count = 0;
        }
        self.count += 1;
        self.count
    }

    /// Counts without hitting: what the window holds at `now`.
    pub fn observed(&self, now: i64) -> u64 {
        if now.div_euclid(60) == self.minute {
            self.count
        } else {
            0
        }
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
    fn windows_reset_every_minute() {
        let mut w = Window::default();
        assert_eq!(w.hit(120), 1);
        assert_eq!(w.hit(179), 2);
        assert_eq!(w.observed(179), 2);
        assert_eq!(w.hit(180), 1);
        assert_eq!(w.observed(300), 0);
    }
}
