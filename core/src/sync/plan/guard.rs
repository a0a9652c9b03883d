//! The mass-close guard: a page whose plan would close too many of its open issues is
//! refused as a whole, because that is more often a broken page or source than a real
//! change of the handbook.

use super::{Action, ActionKind, PlanSettings};

/// Refusals need more than this many closes, however small the page.
const MIN_CLOSES: usize = 5;

/// Why the page's `actions` are refused, or `None` when they may be applied.
///
/// `open` counts the page's open managed issues, `duplicates` the duplicate closes among
/// the actions. Closing a duplicate loses nothing (its twin stays open): the guard counts
/// the closes that take a responsibility off the board, against the page's distinct items.
pub(super) fn mass_close_refusal(
    actions: &[Action],
    duplicates: usize,
    open: usize,
    settings: &PlanSettings,
) -> Option<String> {
    let closes = actions
        .iter()
        .filter(|a| a.action == ActionKind::Close && a.iid.is_some())
        .count()
        // Every duplicate is open and closed once, so these never go below zero today;
        // saturating keeps a future caller's mistake from wrapping into "refuse every page".
        .saturating_sub(duplicates);
    let open = open.saturating_sub(duplicates);
    (closes > MIN_CLOSES
        && (closes as f64) > settings.max_close_fraction * open as f64
        && !settings.allow_mass_close)
        .then(|| {
            format!(
                "would close {closes} of {open} open issues (more than {:.0}% and more than 5); \
                 nothing of this page is applied; re-run with --allow-mass-close if the handbook really changed this much",
                settings.max_close_fraction * 100.0
            )
        })
}
