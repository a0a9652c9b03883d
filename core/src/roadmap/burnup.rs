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
    let issues: Vec<(NaiveDate, Option<NaiveDate>)> = issues
        .into_iter()
        .map(|(created, closed)| (created.date_naive(), closed.map(|c| c.date_naive())))
        .collect();
    let Some(first) = issues.iter().map(|(c, _)| *c).min() else {
        return Vec::new();
    };
    let mut days: BTreeSet<NaiveDate> = issues
        .iter()
        .flat_map(|(c, closed)| std::iter::once(*c).chain(*closed))
        .collect();
    days.insert(first.pred_opt().unwrap_or(first));
    days.insert(generated_at.date_naive());
    days.into_iter()
        .map(|day| BurnUpPoint {
            date: day.format("%Y-%m-%d").to_string(),
            total: issues.iter().filter(|(c, _)| *c <= day).count(),
            closed: issues
                .iter()
                .filter(|(_, closed)| closed.is_some_and(|d| d <= day))
                .count(),
        })
        .collect()
}
