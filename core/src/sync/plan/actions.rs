//! The actions that are not a field merge: create an item's issue, close a duplicate,
//! close the issue of an item that left the handbook; and the managed block's text and
//! marker, which the merge writes too.

use super::matching::Managed;
use super::{
    Action, ActionKind, BlockText, BlockWrite, Change, Changes, NewIssue, ObservedIssue,
    PlanSettings, Write,
};
use crate::parse::ItemStatus;
use crate::sync::desired::{DesiredIssue, IssueState, PageSpec};
use crate::sync::marker::{self, Marker, MarkerStatus};

/// The reason line of a done or handed-over item (`since` is when that began).
pub(super) fn reason_line(d: &DesiredIssue, since: &str) -> Option<String> {
    match d.status {
        ItemStatus::Active => None,
        ItemStatus::Done => Some(format!("Done (ticked in the handbook) on {since}.")),
        ItemStatus::HandedOver => Some(match (&d.assignee, &d.owner_name) {
            (Some(user), _) => format!("Handed over to @{user} on {since}."),
            (None, Some(name)) => format!("Handed over to {name} on {since}."),
            (None, None) => format!("Handed over on {since}."),
        }),
    }
}

/// The managed block: the item's body, the Source line, and the reason line if any, as
/// GitLab will store them ([`marker::canonical`]: its line endings, no marker-like text).
pub(super) fn block_text(body: &str, source: &str, reason: Option<&str>) -> String {
    let mut block = String::new();
    if !body.is_empty() {
        // Stored and shown as written: GitLab would run `/close` in a bullet's body. The
        // line endings first: a `\r/close` is a command line once GitLab drops the `\r`.
        block.push_str(&crate::sync::quick_actions::neutralise(&marker::canonical(
            body,
        )));
        block.push_str("\n\n");
    }
    block.push_str("---\n");
    block.push_str(&marker::canonical(source));
    if let Some(reason) = reason {
        block.push_str("\n\n");
        block.push_str(&marker::canonical(reason));
    }
    block
}

/// The marker recording the handbook's values for `d`, with the block's hash.
pub(super) fn desired_marker(
    spec: &PageSpec,
    d: &DesiredIssue,
    block: &str,
    since: Option<String>,
) -> Marker {
    Marker {
        v: 1,
        page: spec.id.clone(),
        key: d.key.clone(),
        title: d.title.clone(),
        status: d.status.into(),
        state: Some(d.state),
        assignee: d.assignee.clone(),
        labels: d.labels.clone(),
        block: marker::hash(block),
        since,
    }
}

/// Creates the issue of an item no issue belongs to. Takes the item by value: its text
/// moves into the action rather than being copied, and the description is rendered only
/// when the create is applied ([`Action::new_issue`]).
pub(super) fn create(spec: &PageSpec, d: DesiredIssue, settings: &PlanSettings) -> Action {
    let since = (d.status != ItemStatus::Active).then(|| settings.today.clone());
    let reason = since.as_deref().and_then(|s| reason_line(&d, s));
    Action {
        result: None,
        action: ActionKind::Create,
        page: spec.id.clone(),
        iid: None,
        changes: Changes {
            add_labels: d.labels,
            assignee: d.assignee.map(|a| Change {
                from: None,
                to: Some(a),
            }),
            state: (d.state == IssueState::Closed).then_some(Change {
                from: IssueState::Opened,
                to: IssueState::Closed,
            }),
            description: true,
            ..Default::default()
        },
        reason: match d.status {
            ItemStatus::Active => "new in the handbook".into(),
            ItemStatus::Done => "new in the handbook, already done".into(),
            ItemStatus::HandedOver => "new in the handbook, already handed over".into(),
        },
        warnings: d.assignee_problem.into_iter().collect(),
        write: Some(Write::Create(Box::new(NewIssue {
            body: d.body,
            source: d.source,
            reason,
            status: d.status.into(),
            state: d.state,
            since,
        }))),
        key: d.key,
        title: d.title,
    }
}

/// Closes an open issue whose key an older issue of the page already carries.
pub(super) fn duplicate_close(spec: &PageSpec, dup: &Managed<'_>, winner: u64) -> Action {
    Action {
        result: None,
        action: ActionKind::Close,
        page: spec.id.clone(),
        key: dup.marker.key.clone(),
        iid: Some(dup.issue.iid),
        title: dup.issue.title.clone(),
        changes: Changes {
            state: Some(Change {
                from: IssueState::Opened,
                to: IssueState::Closed,
            }),
            ..Default::default()
        },
        reason: format!("duplicate of #{winner} (same key; the older issue wins)"),
        warnings: Vec::new(),
        write: Some(Write::Edit {
            iid: dup.issue.iid,
            title: None,
            description: None,
            add_labels: Vec::new(),
            remove_labels: Vec::new(),
            assignee: None,
            state: Some(IssueState::Closed),
        }),
    }
}

/// Closes the issue of an item that left the handbook, saying so in its block.
pub(super) fn removed_close(spec: &PageSpec, m: &Managed<'_>, settings: &PlanSettings) -> Action {
    // The block is built from the issue's text when the write is applied (the plan holds
    // no descriptions), and so is the marker's hash of it.
    let new_marker = Marker {
        status: MarkerStatus::Removed,
        state: Some(IssueState::Closed),
        block: String::new(),
        since: Some(settings.today.clone()),
        ..m.marker.clone()
    };
    Action {
        result: None,
        action: ActionKind::Close,
        page: spec.id.clone(),
        key: m.marker.key.clone(),
        iid: Some(m.issue.iid),
        title: m.issue.title.clone(),
        changes: Changes {
            description: true,
            state: Some(Change {
                from: IssueState::Opened,
                to: IssueState::Closed,
            }),
            ..Default::default()
        },
        reason: "removed from the handbook".into(),
        warnings: Vec::new(),
        write: Some(Write::Edit {
            iid: m.issue.iid,
            title: None,
            description: Some(Box::new(BlockWrite {
                block: BlockText::Removed {
                    today: settings.today.clone(),
                },
                marker: new_marker,
                last_block: m.marker.block.clone(),
            })),
            add_labels: Vec::new(),
            remove_labels: Vec::new(),
            assignee: None,
            state: Some(IssueState::Closed),
        }),
    }
}

/// An issue closed because its item left the handbook, that a person reopened: the state
/// drifted. Reported and kept, or with `enforce` closed again without touching its
/// description (its reason line keeps the date the item left).
pub(super) fn reopened_removed(
    spec: &PageSpec,
    m: &Managed<'_>,
    settings: &PlanSettings,
) -> Action {
    let mut action = Action {
        result: None,
        action: ActionKind::Drift,
        page: spec.id.clone(),
        key: m.marker.key.clone(),
        iid: Some(m.issue.iid),
        title: m.issue.title.clone(),
        changes: Changes {
            drifted: vec!["state".into()],
            ..Default::default()
        },
        reason: "reopened by a person after it left the handbook: state; kept (enforce = false)"
            .into(),
        warnings: Vec::new(),
        write: None,
    };
    if settings.enforce {
        action.action = ActionKind::Close;
        action.changes = Changes {
            state: Some(Change {
                from: IssueState::Opened,
                to: IssueState::Closed,
            }),
            ..Default::default()
        };
        action.reason =
            "reopened by a person after it left the handbook; closed again (enforce = true)".into();
        action.write = Some(Write::Edit {
            iid: m.issue.iid,
            title: None,
            description: None,
            add_labels: Vec::new(),
            remove_labels: Vec::new(),
            assignee: None,
            state: Some(IssueState::Closed),
        });
    }
    action
}

/// The report of an issue whose description holds more than one marker, one naming
/// `spec`'s page: most likely a person pasted another issue's description into it. It is
/// never written; the report says what to do.
pub(super) fn pasted_report(spec: &PageSpec, issue: &ObservedIssue) -> Action {
    let named: Vec<String> = issue
        .pasted
        .iter()
        .map(|m| format!("`{}/{}`", m.page, m.key))
        .collect();
    let key = issue
        .pasted
        .iter()
        .find(|m| m.page == spec.id)
        .map(|m| m.key.clone())
        .unwrap_or_default();
    Action {
        result: None,
        action: ActionKind::Drift,
        page: spec.id.clone(),
        key,
        iid: Some(issue.iid),
        title: issue.title.clone(),
        changes: Changes {
            drifted: vec!["description".into()],
            ..Default::default()
        },
        reason: format!(
            "its description holds {} handbook-sync markers ({}), likely another issue's description pasted into it: \
             it is not taken for any of these items, nothing is created or closed for them, and it is left as it is; \
             delete the handbook-sync block (begin line to end line) that does not belong to it",
            named.len(),
            named.join(", ")
        ),
        warnings: Vec::new(),
        write: None,
    }
}

/// The report of an open issue holding the marker of issue `kept` under text of its own,
/// while `kept` holds it with none: most likely a person deleted the issue's block and
/// pasted `kept`'s description into it. It is never written or closed.
pub(super) fn pasted_copy_report(spec: &PageSpec, copy: &Managed<'_>, kept: u64) -> Action {
    Action {
        result: None,
        action: ActionKind::Drift,
        page: spec.id.clone(),
        key: copy.marker.key.clone(),
        iid: Some(copy.issue.iid),
        title: copy.issue.title.clone(),
        changes: Changes {
            drifted: vec!["description".into()],
            ..Default::default()
        },
        reason: format!(
            "its description holds the handbook-sync marker of `{}/{}` below text of its own, as #{kept} holds it with none: likely #{kept}'s description pasted into it. #{kept} stays the item's issue; this one is not closed and is left as it is; delete the handbook-sync block (begin line to end line) that does not belong to it",
            copy.marker.page, copy.marker.key
        ),
        warnings: Vec::new(),
        write: None,
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// A create's descriptions exactly as the plan used to hold them, rendered at plan
    /// time: the description to create with, and the closing one of an item created
    /// closed. Kept to show that rendering when applied writes the same bytes.
    fn rendered_as_before(
        spec: &PageSpec,
        d: &DesiredIssue,
        settings: &PlanSettings,
    ) -> (String, Option<String>) {
        let since = (d.status != ItemStatus::Active).then(|| settings.today.clone());
        let reason = since.as_deref().and_then(|s| reason_line(d, s));
        let block = block_text(&d.body, &d.source, reason.as_deref());
        let marker = desired_marker(spec, d, &block, since);
        let open_marker = Marker {
            state: Some(IssueState::Opened),
            ..marker.clone()
        };
        (
            marker::render("", &block, &open_marker, ""),
            (d.state == IssueState::Closed).then(|| marker::render("", &block, &marker, "")),
        )
    }

    fn status() -> impl Strategy<Value = ItemStatus> {
        prop_oneof![
            Just(ItemStatus::Active),
            Just(ItemStatus::Done),
            Just(ItemStatus::HandedOver),
        ]
    }

    proptest! {
        /// A create renders, when applied, exactly the descriptions the plan used to hold,
        /// and names the item's title, labels and assignee.
        #[test]
        fn a_create_renders_what_the_plan_held(
            title in "[^\n]{1,40}",
            body in "(/close|[a-z <>`*~-]{0,20}|\n){0,6}",
            status in status(),
            closed in any::<bool>(),
            assignee in proptest::option::of("[a-z]{1,8}"),
            owner_name in proptest::option::of("[A-Za-z ]{1,12}"),
            mut labels in proptest::collection::vec("[a-z:]{1,12}", 0..4),
        ) {
            labels.sort();
            labels.dedup();
            let spec = PageSpec {
                id: "pm".into(),
                title: "PM".into(),
                url: None,
                page_label: "handbook::pm".into(),
            };
            let settings = PlanSettings {
                managed_label: "handbook-sync".into(),
                enforce: false,
                max_close_fraction: 0.25,
                allow_mass_close: false,
                allow_mass_create: false,
                today: "2026-11-27".into(),
                adopt: false,
            };
            let d = DesiredIssue {
                key: "k".into(),
                title,
                body,
                source: "Source: PM › Goals".into(),
                section: vec!["Goals".into()],
                status,
                owner_name,
                labels,
                assignee,
                assignee_problem: None,
                state: if closed { IssueState::Closed } else { IssueState::Opened },
                line: 1,
            };
            let (description, close_description) = rendered_as_before(&spec, &d, &settings);
            let action = create(&spec, d.clone(), &settings);
            let new = action.new_issue().expect("a create");
            prop_assert_eq!(new.description, description);
            prop_assert_eq!(new.close_description, close_description);
            prop_assert_eq!(new.title, d.title.as_str());
            prop_assert_eq!(new.labels, d.labels.as_slice());
            prop_assert_eq!(new.assignee, d.assignee.as_deref());
        }
    }
}
