//! The burn-up series: how many issues existed and how many were closed, day by day.

use std::collections::BTreeSet;

use chrono::{DateTime, NaiveDate, Utc};

use super::BurnUpPoint;

/// The burn-up of issues given as (created, closed while closed): one point the day
/// before the first issue (nothing yet), one on every day something was created or
/// closed, and one on the day of the data, each with the totals at the end of that day
/// (UTC). Empty without issues.
///
/// It is drawn from the issues as they are now: a reopened issue has no `closed_at`
/// (GitLab clears it), so it counts as never closed; one closed twice counts from its
/// last close.
pub fn burn_up(
    issues: impl IntoIterator<Item = (DateTime<Utc>, Option<DateTime<Utc>>)>,
    generated_at: DateTime<Utc>,
) -> Vec<BurnUpPoint> {
    let mut created = Vec::new();
    let mut closed = Vec::new();
    for (c, x) in issues {
        created.push(c.date_naive());
        closed.extend(x.map(|x| x.date_naive()));
    }
    created.sort_unstable();
    closed.sort_unstable();
    let Some(&first) = created.first() else {
        return Vec::new();
    };
    let mut days: BTreeSet<NaiveDate> = created.iter().chain(&closed).copied().collect();
    days.insert(first.pred_opt().unwrap_or(first));
    days.insert(generated_at.date_naive());
    // Sorted dates: how many are on or before a day is where that day ends in them.
    let by = |dates: &[NaiveDate], day: NaiveDate| dates.partition_point(|d| *d <= day);
    days.into_iter()
        .map(|day| BurnUpPoint {
            date: day.format("%Y-%m-%d").to_string(),
            total: by(&created, day),
            closed: by(&closed, day),
        })
        .collect()
}
