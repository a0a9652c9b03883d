//! The actions that are not a field merge: create an item's issue, close a duplicate,
//! close the issue of an item that left the handbook; and the managed block's text and
//! marker, which the merge writes too.

use super::matching::Managed;
use super::{Action, ActionKind, BlockWrite, Change, Changes, PlanSettings, Write};
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

/// The managed block: the item's body, the Source line, and the reason line if any.
pub(super) fn block_text(body: &str, source: &str, reason: Option<&str>) -> String {
    let mut block = String::new();
    if !body.is_empty() {
        // Stored and shown as written: GitLab would run `/close` in a bullet's body.
        block.push_str(&crate::sync::quick_actions::neutralise(body));
        block.push_str("\n\n");
    }
    block.push_str("---\n");
    block.push_str(source);
    if let Some(reason) = reason {
        block.push_str("\n\n");
        block.push_str(reason);
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
        labels: d.labels.iter().cloned().collect(),
        block: marker::hash(block),
        since,
    }
}

/// Creates the issue of an item no issue belongs to.
pub(super) fn create(spec: &PageSpec, d: &DesiredIssue, settings: &PlanSettings) -> Action {
    let since = (d.status != ItemStatus::Active).then(|| settings.today.clone());
    let reason = since.as_deref().and_then(|s| reason_line(d, s));
    let block = block_text(&d.body, &d.source, reason.as_deref());
    let marker = desired_marker(spec, d, &block, since);
    let open_marker = Marker {
        state: Some(IssueState::Opened),
        ..marker.clone()
    };
    let labels: Vec<String> = d.labels.iter().cloned().collect();
    Action {
        action: ActionKind::Create,
        page: spec.id.clone(),
        key: d.key.clone(),
        iid: None,
        title: d.title.clone(),
        changes: Changes {
            add_labels: labels.clone(),
            assignee: d.assignee.as_ref().map(|a| Change {
                from: None,
                to: Some(a.clone()),
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
        warnings: d.assignee_problem.iter().cloned().collect(),
        write: Some(Write::Create {
            title: d.title.clone(),
            description: marker::render("", &block, &open_marker, ""),
            labels,
            assignee: d.assignee.clone(),
            close_description: (d.state == IssueState::Closed)
                .then(|| marker::render("", &block, &marker, "")),
        }),
    }
}

/// Closes an open issue whose key an older issue of the page already carries.
pub(super) fn duplicate_close(spec: &PageSpec, dup: &Managed<'_>, winner: u64) -> Action {
    Action {
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
    // Keep the body and Source line; replace any earlier reason with the removal.
    let kept = match m.parsed.block.find("---\nSource:") {
        Some(at) => {
            let source_end = m.parsed.block[at + 4..]
                .find('\n')
                .map_or(m.parsed.block.len(), |i| at + 4 + i);
            m.parsed.block[..source_end].to_owned()
        }
        None => m.parsed.block.clone(),
    };
    let block = format!("{kept}\n\nRemoved from the handbook on {}.", settings.today);
    let new_marker = Marker {
        status: MarkerStatus::Removed,
        state: Some(IssueState::Closed),
        block: marker::hash(&block),
        since: Some(settings.today.clone()),
        ..m.marker.clone()
    };
    Action {
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
                block: Some(block),
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
