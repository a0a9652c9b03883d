//! Time as a lease needs it: this machine's two clocks, and GitLab's as its answers tell it.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::time::Instant;

/// A moment on both of this machine's clocks. The monotonic one stands still while the
/// machine is suspended (a laptop's lid closed, a virtual machine paused: Linux's
/// `CLOCK_MONOTONIC`, which `Instant` reads), so after a night asleep it would say a
/// lease taken the evening before still holds; the wall clock moves on, but can be set
/// back. Time between two moments is the longer of the two readings.
#[derive(Debug, Clone, Copy)]
pub(super) struct Moment {
    pub(super) mono: Instant,
    pub(super) wall: DateTime<Utc>,
}

impl Moment {
    pub(super) fn now() -> Moment {
        Moment {
            mono: Instant::now(),
            wall: Utc::now(),
        }
    }

    /// How long since `earlier`, counting a suspend.
    pub(super) fn since(self, earlier: Moment) -> Duration {
        let mono = self.mono.saturating_duration_since(earlier.mono);
        let wall = (self.wall - earlier.wall).to_std().unwrap_or_default();
        mono.max(wall)
    }
}

/// GitLab's clock, as far as its answers tell it: the last `Date`, and when it came.
#[derive(Debug, Clone, Copy)]
pub(super) struct Clock {
    pub(super) date: Option<(DateTime<Utc>, Moment)>,
}

impl Clock {
    pub(super) fn observe(&mut self, date: Option<DateTime<Utc>>) {
        if let Some(date) = date {
            self.date = Some((date, Moment::now()));
        }
    }

    /// GitLab's time now, or this machine's when GitLab never sent a `Date`.
    pub(super) fn now(&self) -> DateTime<Utc> {
        self.now_at(Moment::now())
    }

    /// GitLab's time at `at`: the last `Date` and the time since it came, a suspend
    /// included (else a renewal after one writes an expiry already past).
    pub(super) fn now_at(&self, at: Moment) -> DateTime<Utc> {
        match self.date {
            Some((date, seen)) => {
                date + chrono::TimeDelta::from_std(at.since(seen)).unwrap_or_default()
            }
            None => at.wall,
        }
    }
}

/// How long from when a lease surely holds, on this machine's clocks.
#[derive(Debug, Clone, Copy)]
pub(super) struct Validity {
    pub(super) from: Moment,
    pub(super) length: Duration,
}

impl Validity {
    /// Whether the lease holds from `at` for `budget` more (one of no length holds never).
    pub(super) fn admits(&self, at: Moment, budget: Duration) -> bool {
        at.since(self.from) + budget < self.length
    }

    /// What is left of it at `at`.
    pub(super) fn left_at(&self, at: Moment) -> Duration {
        self.length.saturating_sub(at.since(self.from))
    }
}
