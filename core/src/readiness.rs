//! Whether the daemon is ready: every page's last sync succeeded, and none is overdue by
//! its schedule. Pure: the clock comes in, so a weekend is a test away.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};

use crate::schedule::Schedule;

/// What the daemon knows of one page's syncs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageHealth {
    /// How its last sync ended: `Ok`, or why it failed. `None`: not synced yet.
    pub last: Option<Result<(), String>>,
    /// When its last successful sync ended.
    pub last_success: Option<DateTime<Utc>>,
    /// How long that sync took.
    pub took: TimeDelta,
}

impl PageHealth {
    /// A sync of the page that ended at `at` after `took` succeeded.
    pub fn succeeded(&mut self, at: DateTime<Utc>, took: TimeDelta) {
        self.last = Some(Ok(()));
        self.last_success = Some(at);
        self.took = took;
    }

    /// A sync of the page failed, for `why`; its last success stays what it was.
    pub fn failed(&mut self, why: String) {
        self.last = Some(Err(why));
    }
}

/// One page's part of the verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageVerdict {
    /// The page id.
    pub page: String,
    /// Synced and on time.
    pub ready: bool,
    /// Why, in a line.
    pub text: String,
}

/// The verdict on every page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Readiness {
    /// Every page is ready (and there is at least one).
    pub ready: bool,
    /// Per page, the pages that are not ready first.
    pub pages: Vec<PageVerdict>,
}

impl Readiness {
    /// The text `/readyz` answers: a first line with the verdict, then one per page.
    pub fn to_text(&self) -> String {
        let waiting = self.pages.iter().filter(|p| !p.ready).count();
        let mut text = if self.ready {
            "ready: every page's last sync succeeded and is on time\n".to_owned()
        } else if self.pages.is_empty() {
            "not ready: no page is configured\n".to_owned()
        } else {
            format!("not ready: {waiting} of {} pages\n", self.pages.len())
        };
        for page in &self.pages {
            text.push_str(&format!("page `{}`: {}\n", page.page, page.text));
        }
        text
    }
}

fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The verdict at `now` on `pages` synced on `schedule`: a page is ready when its last
/// sync succeeded and `now` is not past [`Schedule::due_by`] of that success.
pub fn readiness(
    pages: &BTreeMap<String, PageHealth>,
    schedule: &Schedule,
    now: DateTime<Utc>,
) -> Readiness {
    let mut verdicts: Vec<PageVerdict> = pages
        .iter()
        .map(|(page, health)| {
            let (ready, text) = page_verdict(health, schedule, now);
            PageVerdict {
                page: page.clone(),
                ready,
                text,
            }
        })
        .collect();
    verdicts.sort_by_key(|v| v.ready);
    Readiness {
        ready: !verdicts.is_empty() && verdicts.iter().all(|v| v.ready),
        pages: verdicts,
    }
}

fn page_verdict(health: &PageHealth, schedule: &Schedule, now: DateTime<Utc>) -> (bool, String) {
    let last_success = health.last_success.map_or_else(
        || "never succeeded".to_owned(),
        |t| format!("last success {}", time(t)),
    );
    match (&health.last, health.last_success) {
        (None, _) => (false, "not synced yet".to_owned()),
        (Some(Err(why)), _) => (false, format!("not synced ({last_success}): {why}")),
        (Some(Ok(())), Some(at)) => match schedule.due_by(at, health.took) {
            Some(due) if now > due => (
                false,
                format!("overdue: {last_success}, due again by {}", time(due)),
            ),
            Some(due) => (true, format!("{last_success}, due again by {}", time(due))),
            None => (
                true,
                format!("{last_success}; the schedule has no next sync"),
            ),
        },
        // A success always records its time; without one the page is not known good.
        (Some(Ok(())), None) => (false, "never succeeded".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn one_page(health: PageHealth) -> BTreeMap<String, PageHealth> {
        BTreeMap::from([("pm".to_owned(), health)])
    }

    /// `0 9 * * 1-5`: a Friday sync is followed by Monday's, then Tuesday's. Two periods
    /// of the first gap (one day) would have said 503 from Sunday morning on a healthy
    /// daemon; the allowance follows the gaps, weekend included, and ends only when
    /// Monday's and Tuesday's syncs both did not succeed.
    #[test]
    fn a_weekday_schedule_stays_ready_over_the_weekend_and_not_beyond_two_missed_ticks() {
        let schedule = Schedule::parse("0 9 * * 1-5", "UTC").unwrap();
        let mut health = PageHealth::default();
        // Friday 2026-11-27, 09:00 sync that took 30 s.
        health.succeeded(at("2026-11-27T09:00:30Z"), TimeDelta::seconds(30));
        let pages = one_page(health);
        assert_eq!(
            schedule.due_by(at("2026-11-27T09:00:30Z"), TimeDelta::seconds(30)),
            Some(at("2026-12-01T09:01:30Z")),
            "Tuesday's tick, plus the sync's time and a minute"
        );
        for now in [
            "2026-11-27T18:00:00Z",
            "2026-11-28T12:00:00Z",
            "2026-11-29T09:00:00Z",
            "2026-11-29T23:59:59Z",
            "2026-11-30T10:00:00Z",
            "2026-12-01T09:01:30Z",
        ] {
            let verdict = readiness(&pages, &schedule, at(now));
            assert!(verdict.ready, "{now}: {}", verdict.to_text());
        }
        let late = readiness(&pages, &schedule, at("2026-12-01T09:01:31Z"));
        assert!(!late.ready);
        assert_eq!(
            late.to_text(),
            "not ready: 1 of 1 pages\npage `pm`: overdue: last success 2026-11-27T09:00:30Z, due again by 2026-12-01T09:01:30Z\n"
        );
    }

    #[test]
    fn a_failed_page_is_named_with_its_reason_whatever_the_others_say() {
        let schedule = Schedule::parse("*/15 * * * *", "UTC").unwrap();
        let now = at("2026-11-27T10:01:00Z");
        let mut good = PageHealth::default();
        good.succeeded(at("2026-11-27T10:00:20Z"), TimeDelta::seconds(20));
        let mut bad = good.clone();
        bad.failed("cannot read page `b.md`: No such file or directory".into());
        let mut pages = BTreeMap::from([("a".to_owned(), good), ("b".to_owned(), bad)]);
        pages.insert("c".into(), PageHealth::default());
        let verdict = readiness(&pages, &schedule, now);
        assert!(!verdict.ready);
        assert_eq!(
            verdict.to_text(),
            "not ready: 2 of 3 pages\n\
             page `b`: not synced (last success 2026-11-27T10:00:20Z): cannot read page `b.md`: No such file or directory\n\
             page `c`: not synced yet\n\
             page `a`: last success 2026-11-27T10:00:20Z, due again by 2026-11-27T10:31:20Z\n"
        );
        pages
            .get_mut("b")
            .unwrap()
            .succeeded(now, TimeDelta::seconds(1));
        pages
            .get_mut("c")
            .unwrap()
            .succeeded(now, TimeDelta::seconds(1));
        assert!(readiness(&pages, &schedule, now).ready);
        assert!(
            !readiness(&BTreeMap::new(), &schedule, now).ready,
            "no page: nothing is known good"
        );
    }
}
