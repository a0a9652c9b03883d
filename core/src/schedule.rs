//! When the daemon syncs: a cron expression in a time zone. Pure: the clock comes in.

use std::str::FromStr;

mod fields;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

/// A `sync.schedule` / `sync.timezone` pair that cannot be used; the message says why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// Not 5, 6 or 7 fields.
    #[error(
        "`{expression}` has {fields} fields; expected 5 (minute hour day month weekday), 6 or 7"
    )]
    FieldCount {
        /// The expression as configured.
        expression: String,
        /// How many fields it has.
        fields: usize,
    },
    /// The expression does not parse (a bad weekday, a value out of range…).
    #[error("`{expression}`: {reason}")]
    Expression {
        /// The expression as configured.
        expression: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Not an IANA time zone name.
    #[error("`{timezone}` is not a known time zone (use e.g. UTC or Europe/Berlin)")]
    TimeZone {
        /// The time zone as configured.
        timezone: String,
    },
}

/// A parsed `sync.schedule`.
#[derive(Debug, Clone)]
pub struct Schedule {
    cron: cron::Schedule,
    tz: Tz,
}

impl Schedule {
    /// Standard 5-field cron (`*/15 * * * *`) or its macros (`@hourly`, `@daily`,
    /// `@weekly`, `@monthly`, `@yearly`), or the `cron` crate's 6/7-field form with
    /// seconds (and years); `timezone` is an IANA name such as `Europe/Berlin`. A field
    /// out of range is said in the form written: `minute 61 is out of range 0–59`.
    pub fn parse(expression: &str, timezone: &str) -> Result<Schedule, ScheduleError> {
        let bad = |reason: String| ScheduleError::Expression {
            expression: expression.to_owned(),
            reason,
        };
        let written = expression;
        let expression = match fields::expand_macro(written) {
            Some(expanded) => expanded.map_err(bad)?,
            None => written,
        };
        let parts: Vec<&str> = expression.split_whitespace().collect();
        if let Some(layout) = fields::layout(parts.len()) {
            for (field, text) in layout.iter().zip(&parts) {
                fields::check(field, text).map_err(bad)?;
            }
        }
        let fields = parts.len();
        let full = match fields {
            5 => {
                // Standard cron counts weekdays 0-7 from Sunday (0 and 7); the cron crate
                // counts 1-7 from Sunday. Names (MON-FRI) mean the same in both.
                let mut parts: Vec<&str> = expression.split_whitespace().collect();
                let weekday = standard_weekdays(parts[4]).map_err(bad)?;
                parts[4] = &weekday;
                format!("0 {}", parts.join(" "))
            }
            6 | 7 => expression.to_owned(),
            fields => {
                return Err(ScheduleError::FieldCount {
                    expression: written.to_owned(),
                    fields,
                });
            }
        };
        let cron = cron::Schedule::from_str(&full).map_err(|e| bad(e.to_string()))?;
        let tz = Tz::from_str(timezone).map_err(|_| ScheduleError::TimeZone {
            timezone: timezone.to_owned(),
        })?;
        Ok(Schedule { cron, tz })
    }

    /// The first tick strictly after `now`.
    pub fn next_after(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron
            .after(&now.with_timezone(&self.tz))
            .next()
            .map(|t| t.with_timezone(&Utc))
    }

    /// How many ticks fall in `(from, to]`: ticks a long sync ran over.
    pub fn ticks_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> u64 {
        self.cron
            .after(&from.with_timezone(&self.tz))
            .take_while(|t| t.with_timezone(&Utc) <= to)
            .take(100_000)
            .count() as u64
    }

    /// When a page whose last sync succeeded at `last` (a sync that took `took`) must
    /// have succeeded again, one missed tick allowed: the second tick after `last`, plus
    /// `took` (the next sync takes about as long) and [`READY_SLACK`]. It follows the
    /// schedule's actual gaps, so a weekday schedule's Friday success is good until
    /// Tuesday's sync. `None` when no second tick comes.
    pub fn due_by(&self, last: DateTime<Utc>, took: chrono::TimeDelta) -> Option<DateTime<Utc>> {
        let second = self.cron.after(&last.with_timezone(&self.tz)).nth(1)?;
        Some(second.with_timezone(&Utc) + took.max(chrono::TimeDelta::zero()) + READY_SLACK)
    }

    /// The time between the next two ticks after `now`.
    pub fn period(&self, now: DateTime<Utc>) -> chrono::TimeDelta {
        let mut ticks = self.cron.after(&now.with_timezone(&self.tz));
        match (ticks.next(), ticks.next()) {
            (Some(a), Some(b)) => b - a,
            _ => chrono::TimeDelta::days(365),
        }
    }
}

/// What [`Schedule::due_by`] allows beyond the ticks: a sync starts a moment after its
/// tick, and GitLab's answers take time.
pub const READY_SLACK: chrono::TimeDelta = chrono::TimeDelta::seconds(60);

/// A standard cron weekday field (0-7, Sunday = 0 or 7) in the cron crate's numbering
/// (1-7, Sunday = 1). The error is the reason only; [`Schedule::parse`] adds the
/// expression.
fn standard_weekdays(field: &str) -> Result<String, String> {
    let day = |text: &str| -> Result<u32, String> {
        match text.parse::<u32>() {
            Ok(d) if d <= 7 => Ok(d),
            _ => Err(format!("weekday `{text}` is not 0-7")),
        }
    };
    let shift = |d: u32| d % 7 + 1;
    let mut out = Vec::new();
    for part in field.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (r, Some(s)),
            None => (part, None),
        };
        if range == "*" || range.chars().any(|c| c.is_ascii_alphabetic()) {
            out.push(part.to_owned());
            continue;
        }
        let step = step.map(|s| format!("/{s}")).unwrap_or_default();
        match range.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (day(a)?, day(b)?);
                if b == 7 && a > 0 {
                    // Up to Sunday: Saturday is the crate's 7, Sunday its 1.
                    if !step.is_empty() {
                        return Err(
                            "a weekday range ending in 7 cannot take a step; use names (FRI-SUN)"
                                .into(),
                        );
                    }
                    out.push(format!("{}-7", shift(a)));
                    out.push("1".into());
                } else {
                    out.push(format!("{}-{}{step}", shift(a), shift(b)));
                }
            }
            None => out.push(format!("{}{step}", shift(day(range)?))),
        }
    }
    Ok(out.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn five_field_cron_ticks_on_the_minute() {
        let s = Schedule::parse("*/15 * * * *", "UTC").unwrap();
        assert_eq!(
            s.next_after(at("2026-11-27T10:07:30Z")),
            Some(at("2026-11-27T10:15:00Z"))
        );
        assert_eq!(
            s.next_after(at("2026-11-27T10:15:00Z")),
            Some(at("2026-11-27T10:30:00Z"))
        );
        assert_eq!(
            s.period(at("2026-11-27T10:00:00Z")),
            chrono::TimeDelta::minutes(15)
        );
    }

    #[test]
    fn six_field_cron_has_seconds_and_time_zones_shift_ticks() {
        let s = Schedule::parse("30 0 9 * * *", "UTC").unwrap();
        assert_eq!(
            s.next_after(at("2026-11-27T08:00:00Z")),
            Some(at("2026-11-27T09:00:30Z"))
        );
        let berlin = Schedule::parse("0 9 * * *", "Europe/Berlin").unwrap();
        assert_eq!(
            berlin.next_after(at("2026-11-27T00:00:00Z")),
            Some(at("2026-11-27T08:00:00Z")),
            "09:00 CET is 08:00 UTC"
        );
    }

    proptest::proptest! {
        /// The field check and the crate agree: numbers in range parse, and a number out
        /// of range is refused by the check, naming its field, before the crate sees it.
        #[test]
        fn in_range_numbers_parse_and_out_of_range_ones_are_named(
            values in proptest::collection::vec(0u32..80, 5),
        ) {
            let ranges = [("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31), ("month", 1, 12), ("weekday", 0, 7)];
            let expression = values.iter().map(u32::to_string).collect::<Vec<_>>().join(" ");
            let outside = ranges
                .iter()
                .zip(&values)
                .find(|((_, min, max), v)| *v < min || *v > max);
            match (Schedule::parse(&expression, "UTC"), outside) {
                (Ok(_), None) => {}
                (Err(e), Some(((name, _, _), v))) => {
                    proptest::prop_assert!(e.to_string().contains(&format!("{name} {v} is out of range")), "{e}");
                }
                (result, outside) => proptest::prop_assert!(false, "{expression}: {result:?} with {outside:?} out of range"),
            }
        }
    }

    #[test]
    fn macros_tick_as_standard_cron_says() {
        let next = |e: &str| {
            Schedule::parse(e, "UTC")
                .unwrap()
                .next_after(at("2026-11-27T10:07:30Z"))
                .unwrap()
        };
        assert_eq!(next("@hourly"), at("2026-11-27T11:00:00Z"));
        assert_eq!(next("@daily"), at("2026-11-28T00:00:00Z"));
        assert_eq!(
            next("@weekly"),
            at("2026-11-29T00:00:00Z"),
            "Sunday midnight"
        );
        assert_eq!(next("@monthly"), at("2026-12-01T00:00:00Z"));
        assert_eq!(next("@yearly"), at("2027-01-01T00:00:00Z"));
    }

    #[test]
    fn ticks_a_long_sync_ran_over_are_counted() {
        let s = Schedule::parse("* * * * *", "UTC").unwrap();
        assert_eq!(
            s.ticks_between(at("2026-11-27T10:00:10Z"), at("2026-11-27T10:03:05Z")),
            3
        );
        assert_eq!(
            s.ticks_between(at("2026-11-27T10:00:10Z"), at("2026-11-27T10:00:50Z")),
            0
        );
    }

    #[test]
    fn weekdays_count_from_sunday_0_as_in_standard_cron() {
        let sunday = at("2026-11-29T00:00:00Z");
        let next = |e: &str| {
            Schedule::parse(e, "UTC")
                .unwrap()
                .next_after(sunday)
                .unwrap()
        };
        assert_eq!(next("0 9 * * 1"), at("2026-11-30T09:00:00Z"), "1 is Monday");
        assert_eq!(next("0 9 * * MON"), at("2026-11-30T09:00:00Z"));
        assert_eq!(next("0 9 * * 0"), at("2026-11-29T09:00:00Z"), "0 is Sunday");
        assert_eq!(
            next("0 9 * * 7"),
            at("2026-11-29T09:00:00Z"),
            "7 is Sunday too"
        );
        assert_eq!(next("0 9 * * 1-5"), at("2026-11-30T09:00:00Z"));
        assert_eq!(
            next("0 9 * * 6"),
            at("2026-12-05T09:00:00Z"),
            "6 is Saturday"
        );
        assert_eq!(
            next("0 9 * * 5-7"),
            at("2026-11-29T09:00:00Z"),
            "Friday to Sunday includes Sunday"
        );
        assert!(Schedule::parse("0 9 * * 8", "UTC").is_err());
    }

    #[test]
    fn bad_schedules_say_what_is_wrong() {
        assert!(
            Schedule::parse("* * *", "UTC")
                .unwrap_err()
                .to_string()
                .contains("3 fields")
        );
        assert_eq!(
            Schedule::parse("61 * * * *", "UTC")
                .unwrap_err()
                .to_string(),
            "`61 * * * *`: minute 61 is out of range 0–59"
        );
        assert_eq!(
            Schedule::parse("0 0 24 * * *", "UTC")
                .unwrap_err()
                .to_string(),
            "`0 0 24 * * *`: hour 24 is out of range 0–23",
            "six fields start with seconds"
        );
        assert!(
            Schedule::parse("@often", "UTC")
                .unwrap_err()
                .to_string()
                .contains("@hourly")
        );
        assert!(
            Schedule::parse("* * * * *", "Mars/Olympus")
                .unwrap_err()
                .to_string()
                .contains("time zone")
        );
    }
}
