//! The guards: a page whose plan would close too many of its open issues, or create too
//! many of its items while the project still holds issues of the page that the plan does
//! not recognise, is refused as a whole, because that is more often a broken page,
//! source or identity (a renamed label, stripped markers) than a real change of the
//! handbook.

use std::collections::BTreeSet;

use super::matching::Managed;
use super::{Action, ActionKind, ObservedIssue, PlanSettings};
use crate::sync::desired::PageSpec;

/// Refusals need more than this many closes (or creates, unless every item of the page
/// would be created), however small the page.
const MIN_CLOSES: usize = 5;

/// Why the page's `actions` are refused for closing too much, or `None`.
///
/// `open` counts the page's open managed issues. `exempt` holds the iids whose close takes
/// nothing off the board: duplicates (their twin stays open) and removed items a person
/// reopened (already off the handbook). They count neither as closes nor as open issues:
/// the guard weighs the closes that remove a responsibility against the distinct items.
pub(super) fn mass_close_refusal(
    actions: &[Action],
    exempt: &BTreeSet<u64>,
    open: usize,
    settings: &PlanSettings,
) -> Option<String> {
    let closes = actions
        .iter()
        .filter(|a| a.action == ActionKind::Close)
        .filter(|a| a.iid.is_some_and(|iid| !exempt.contains(&iid)))
        .count();
    let open = open.saturating_sub(exempt.len());
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

/// Why the page's `actions` are refused for creating too much, or `None`.
///
/// Many creates are normal on a first sync and when a page grows. They are refused only
/// when the project already holds issues of this page that the plan does not recognise
/// (they carry the page's label or a marker naming the page, but not the managed label or
/// not a readable marker): then the creates are most likely copies of those issues. "Too
/// much" is more than `max_close_fraction` of the items and more than 5, or every item
/// of the page whatever its size: a renamed label on a page of three items would
/// otherwise give each a second issue, run after run. Below "many", only issues that still
/// carry the page's marker or the managed label count (the two ways an identity is lost
/// leave one of them), not those with the page's label alone. Issues with more than one
/// marker are reported on their own and not counted here.
pub(super) fn mass_create_refusal(
    spec: &PageSpec,
    actions: &[Action],
    items: usize,
    observed: &[ObservedIssue],
    managed: &[Managed<'_>],
    settings: &PlanSettings,
) -> Option<String> {
    let creates = actions
        .iter()
        .filter(|a| a.action == ActionKind::Create)
        .count();
    let every_item = creates > 0 && creates == items;
    let many =
        creates > MIN_CLOSES && (creates as f64) > settings.max_close_fraction * items as f64;
    if !(every_item || many) || settings.allow_mass_create {
        return None;
    }
    let recognised: BTreeSet<u64> = managed.iter().map(|m| m.issue.iid).collect();
    let mut lost = BTreeSet::new();
    let mut unlabeled = false;
    for issue in observed {
        let names_page = issue.marker.as_ref().is_some_and(|m| m.page == spec.id);
        let was_managed = names_page || issue.labels.contains(&settings.managed_label);
        if recognised.contains(&issue.iid)
            || !issue.pasted.is_empty()
            || !(names_page || issue.labels.contains(&spec.page_label))
            // A small page's items all created: only an issue that still shows it was
            // handbook-sync's (its marker or the managed label) stops that. One a
            // person merely gave the page's label (a stranger's, before the first sync)
            // is no lost identity.
            || (!many && !was_managed)
        {
            continue;
        }
        lost.insert(issue.iid);
        unlabeled |= !issue.labels.contains(&settings.managed_label);
    }
    if lost.is_empty() {
        return None;
    }
    let cause = if unlabeled {
        format!(
            "the label `{}` was renamed or removed from them",
            settings.managed_label
        )
    } else {
        "their handbook-sync markers were removed from the descriptions".to_owned()
    };
    Some(format!(
        "would create {creates} of {items} items while the project already holds {} issue(s) of \
         this page that handbook-sync does not recognise (likely cause: {cause}); nothing of this \
         page is applied; restore the label or markers, or re-run with --allow-mass-create if \
         these really are new",
        lost.len()
    ))
}
