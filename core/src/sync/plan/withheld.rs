//! Creates withheld, and the issues that make them so: an issue of the page that the
//! plan cannot take as an item's (its block damaged, or its description another
//! issue's) may still be that item's issue. Creating a second one would leave two open
//! issues for the item for good, so the item's create becomes a report naming the issue,
//! and the issue itself is reported with what to do. Nothing is closed, created or
//! written for either until a person repairs the issue (or deletes what is left of its
//! block, which hands the issue to them and the item to a new issue).

use super::adopt::gitlab_title;
use super::matching::Managed;
use super::{Action, ActionKind, Changes, ObservedIssue, PlanSettings};
use crate::sync::desired::PageSpec;

/// An issue that may be the own of an item the plan would create.
pub(super) struct Claimant<'a> {
    /// The issue.
    pub issue: &'a ObservedIssue,
    /// The item key its readable marker names, if any.
    pub key: Option<&'a str>,
    /// Why it is not taken as the item's issue, for the reports.
    pub why: String,
}

/// The page's damaged issues (a marker naming the page, or the page's label, with the
/// managed label and a block that does not parse whole) and the claims of pasted-over
/// descriptions ([`super::matching::Deduplicated::claims`]).
pub(super) fn claimants<'a>(
    spec: &PageSpec,
    settings: &PlanSettings,
    observed: &'a [ObservedIssue],
    claims: &[(&Managed<'a>, u64)],
) -> Vec<Claimant<'a>> {
    let mut found: Vec<Claimant<'a>> = Vec::new();
    for issue in observed {
        let Some(damaged) = &issue.damaged else {
            continue;
        };
        let names_page = damaged.marker.as_ref().map(|m| m.page == spec.id);
        let of_page = names_page.unwrap_or(false)
            || (names_page.is_none() && issue.labels.contains(&spec.page_label));
        if !of_page
            || !issue.labels.contains(&settings.managed_label)
            || found.iter().any(|c| c.issue.iid == issue.iid)
        {
            continue;
        }
        found.push(Claimant {
            issue,
            key: damaged.marker.as_ref().map(|m| m.key.as_str()),
            why: match damaged.marker {
                Some(_) => "its handbook-sync block lost its begin or end line".to_owned(),
                None => "its handbook-sync marker is unreadable".to_owned(),
            },
        });
    }
    found.extend(claims.iter().map(|(m, winner)| Claimant {
        issue: m.issue,
        key: None,
        why: format!(
            "its description holds the marker of `{}`, whose issue is #{winner}, but its title or block is not the marker's \
             (another issue's description pasted over its own?)",
            m.marker.key
        ),
    }));
    found
}

/// The pasted copies ([`super::matching::Deduplicated::pasted_copies`]) as claimants of
/// the item their title is: the issue may still be that item's own, its block replaced
/// by a person's paste, so the item gets no second issue while it is (they are reported
/// by [`super::actions::pasted_copy_report`], not here).
pub(super) fn copies<'a>(copies: &[(&Managed<'a>, u64)]) -> Vec<Claimant<'a>> {
    copies
        .iter()
        .map(|(m, kept)| Claimant {
            issue: m.issue,
            key: None,
            why: format!(
                "its description holds the marker of `{}`, whose issue is #{kept}, below text of its own \
                 (#{kept}'s description pasted into it?)",
                m.marker.key
            ),
        })
        .collect()
}

/// Turns every create (or adoption) of an item a claimant or a pasted copy may be the
/// issue of (by the key its marker names, or by its title) into a report naming it, and
/// adds a report per claimant.
pub(super) fn withhold(
    spec: &PageSpec,
    actions: &mut Vec<Action>,
    claimants: &[Claimant<'_>],
    copies: &[Claimant<'_>],
) {
    for action in actions
        .iter_mut()
        .filter(|a| matches!(a.action, ActionKind::Create | ActionKind::Adopt))
    {
        let Some(claimant) = claimants.iter().chain(copies).find(|c| {
            c.key == Some(action.key.as_str())
                || gitlab_title(&c.issue.title) == gitlab_title(&action.title)
        }) else {
            continue;
        };
        *action = Action {
            result: None,
            action: ActionKind::Drift,
            page: spec.id.clone(),
            key: std::mem::take(&mut action.key),
            iid: None,
            title: std::mem::take(&mut action.title),
            changes: Changes::default(),
            reason: format!(
                "not created: #{} may be its issue ({}); nothing is created while it is",
                claimant.issue.iid, claimant.why
            ),
            warnings: Vec::new(),
            write: None,
        };
    }
    actions.extend(claimants.iter().map(|c| Action {
        result: None,
        action: ActionKind::Drift,
        page: spec.id.clone(),
        key: c.key.unwrap_or_default().to_owned(),
        iid: Some(c.issue.iid),
        title: c.issue.title.clone(),
        changes: Changes {
            drifted: vec!["description".into()],
            ..Default::default()
        },
        reason: format!(
            "{}: it is left as it is, and not taken for any item; restore its description from the issue's history, \
             or delete what is left of its handbook-sync block to take it over",
            c.why
        ),
        warnings: Vec::new(),
        write: None,
    }));
}
