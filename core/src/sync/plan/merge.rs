//! The three-way merge of an item with its issue. Per owned field, three values decide:
//! the handbook's (desired), the one last applied (the marker) and GitLab's (actual).
//! Equal desired and actual: nothing to do. Desired differs from last applied: the
//! handbook changed, write it. Otherwise a person changed the field: drift, restored
//! only with `enforce = true`.

use super::actions::{block_text, desired_marker, reason_line};
use super::matching::Managed;
use super::{
    Action, ActionKind, AssigneeSwap, BlockText, BlockWrite, Change, Changes, PlanSettings, Write,
};
use crate::parse::ItemStatus;
use crate::sync::desired::{DesiredIssue, IssueState, PageSpec};
use crate::sync::marker::{Marker, MarkerStatus};

/// What one field's three values call for.
#[derive(Debug, PartialEq)]
enum Decision {
    /// GitLab already holds the handbook's value.
    Same,
    /// The handbook changed: write its value.
    Apply,
    /// A person changed the field since the last apply.
    Drift,
}

fn three_way<T: PartialEq>(desired: &T, last: &T, actual: &T) -> Decision {
    if desired == actual {
        Decision::Same
    } else if desired != last {
        Decision::Apply
    } else {
        Decision::Drift
    }
}

/// What the merge of one item's fields decided: the changes to show, the fields to
/// write, the drift to report and why.
#[derive(Debug, Default)]
struct Merge {
    /// Restore drifted fields rather than report them.
    enforce: bool,
    /// For people and JSON.
    changes: Changes,
    /// Fields (and labels) a person changed and that are kept.
    drift: Vec<String>,
    /// Fields a person and the handbook both changed; the handbook's value is written.
    conflicts: Vec<String>,
    /// One phrase per written field, for the reason line.
    why: Vec<String>,
    /// New title to write.
    title: Option<String>,
    /// Rewrite the managed block.
    block: bool,
    /// The assignee swap to write.
    assignee: Option<AssigneeSwap>,
    /// New state to write.
    state: Option<IssueState>,
}

impl Merge {
    /// Records one field's decision; true when the field is to be written.
    fn decide(&mut self, decision: Decision, field: &str) -> bool {
        match decision {
            Decision::Same => false,
            Decision::Apply => {
                self.why.push(format!("{field} changed in the handbook"));
                true
            }
            Decision::Drift if self.enforce => {
                self.why.push(format!(
                    "{field} changed by a person; restored (enforce = true)"
                ));
                true
            }
            Decision::Drift => {
                self.drift.push(field.to_owned());
                false
            }
        }
    }

    /// Labels: managed labels the handbook wants are added (unless a person removed one
    /// and `enforce` is off: drift); labels last applied that the handbook dropped are
    /// removed. Labels the tool never applied are a person's and stay.
    fn labels(&mut self, d: &DesiredIssue, last: &Marker, issue: &super::ObservedIssue) {
        let has = |l: &String| issue.labels.contains(l);
        for label in &d.labels {
            if has(label) {
                continue;
            }
            if last.labels.contains(label) && !self.enforce {
                self.drift.push(format!("label {label}"));
            } else {
                self.changes.add_labels.push(label.clone());
            }
        }
        for label in &last.labels {
            if !d.labels.contains(label) && has(label) {
                self.changes.remove_labels.push(label.clone());
            }
        }
        if !self.changes.add_labels.is_empty() || !self.changes.remove_labels.is_empty() {
            self.why.push("labels changed".into());
        }
    }

    /// True when a field is to be written.
    fn writes(&self) -> bool {
        self.title.is_some()
            || self.block
            || self.assignee.is_some()
            || self.state.is_some()
            || !self.changes.add_labels.is_empty()
            || !self.changes.remove_labels.is_empty()
    }
}

/// The actions for an item and its issue: an edit when something is to be written, a
/// drift report when a person changed something that is kept; none when they agree.
pub(super) fn reconcile(
    spec: &PageSpec,
    d: &DesiredIssue,
    m: &Managed<'_>,
    reworded: bool,
    settings: &PlanSettings,
) -> Vec<Action> {
    let (block, new_marker) = handbook_block(spec, d, m.marker, settings);
    let mut merge = merge_fields(d, m, &new_marker, settings.enforce);
    // A key that moved must be written even when no field changed, so that the marker
    // carries the new key and the next run matches by key.
    let key_moved = m.marker.key != d.key;
    if reworded || key_moved {
        merge
            .why
            .insert(0, format!("reworded (was “{}”)", m.marker.title));
    }
    let drift = std::mem::take(&mut merge.drift);
    let conflicts = std::mem::take(&mut merge.conflicts);
    let mut actions = Vec::new();
    if merge.writes() || key_moved {
        actions.push(edit_action(spec, d, m, &block, &new_marker, merge));
    }
    if !conflicts.is_empty() {
        actions.push(conflict_action(spec, d, m.issue.iid, conflicts));
    }
    if !drift.is_empty() {
        actions.push(drift_action(spec, d, m.issue.iid, drift));
    }
    actions
}

/// The block and marker the handbook calls for. The reason line's date carries over
/// while the status and assignee stay, so that it tells when they began.
fn handbook_block(
    spec: &PageSpec,
    d: &DesiredIssue,
    last: &Marker,
    settings: &PlanSettings,
) -> (String, Marker) {
    let since = match d.status {
        ItemStatus::Active => None,
        _ if last.status == MarkerStatus::from(d.status) && last.assignee == d.assignee => {
            last.since.clone().or_else(|| Some(settings.today.clone()))
        }
        _ => Some(settings.today.clone()),
    };
    let reason = since.as_deref().and_then(|s| reason_line(d, s));
    let block = block_text(&d.body, &d.source, reason.as_deref());
    let new_marker = desired_marker(spec, d, &block, since);
    (block, new_marker)
}

/// Merges the owned fields, in the order their reasons are told: title, description,
/// state, assignee, labels.
fn merge_fields(d: &DesiredIssue, m: &Managed<'_>, new_marker: &Marker, enforce: bool) -> Merge {
    let last = &m.marker;
    let issue = m.issue;
    let mut merge = Merge {
        enforce,
        ..Merge::default()
    };
    if merge.decide(three_way(&d.title, &last.title, &issue.title), "title") {
        merge.changes.title = Some(Change {
            from: issue.title.clone(),
            to: d.title.clone(),
        });
        merge.title = Some(d.title.clone());
    }
    let decision = three_way(
        &new_marker.block.as_str(),
        &last.block.as_str(),
        &m.block_hash,
    );
    if decision == Decision::Apply && m.block_hash != last.block {
        merge.conflicts.push("description".into());
    }
    if merge.decide(decision, "description") {
        merge.changes.description = true;
        merge.block = true;
    }
    if merge.decide(
        three_way(&Some(d.state), &last.state, &Some(issue.state)),
        "state",
    ) {
        merge.changes.state = Some(Change {
            from: issue.state,
            to: d.state,
        });
        merge.state = Some(d.state);
    }
    merge.assignee(d, last, &issue.assignees);
    merge.labels(d, last, issue);
    merge
}

/// The assignee that holds handbook-sync's place among `assignees`: the handbook's when
/// it is there, else the one last set when it is there, else (a person took it out) the
/// first one, whom a person put in its place. Assignees people added beside it are
/// theirs and never compared.
fn assignee_in_place(
    desired: &Option<String>,
    last: &Option<String>,
    assignees: &[String],
) -> Option<String> {
    let present = |u: &Option<String>| u.as_ref().filter(|u| assignees.contains(u)).cloned();
    if let Some(u) = present(desired).or_else(|| present(last)) {
        return Some(u);
    }
    if desired.is_none() && last.is_none() {
        return None;
    }
    assignees.first().cloned()
}

impl Merge {
    /// The assignee: the three-way merge of handbook-sync's place among the assignees;
    /// a write swaps that one for the handbook's and keeps the others.
    fn assignee(&mut self, d: &DesiredIssue, last: &Marker, assignees: &[String]) {
        let actual = assignee_in_place(&d.assignee, &last.assignee, assignees);
        if !self.decide(three_way(&d.assignee, &last.assignee, &actual), "assignee") {
            return;
        }
        let swap = AssigneeSwap {
            remove: actual.clone(),
            add: d.assignee.clone(),
        };
        if swap.is_noop(assignees) {
            self.why.pop();
            return;
        }
        self.changes.assignee = Some(Change {
            from: actual,
            to: d.assignee.clone(),
        });
        self.assignee = Some(swap);
    }
}

/// The edit that writes what the merge decided.
fn edit_action(
    spec: &PageSpec,
    d: &DesiredIssue,
    m: &Managed<'_>,
    block: &str,
    new_marker: &Marker,
    merge: Merge,
) -> Action {
    // The marker records the handbook's values; a field left drifted keeps its
    // recorded value, which equals the handbook's, so it stays reported as drift.
    let description = Box::new(BlockWrite {
        block: if merge.block {
            BlockText::Handbook(block.to_owned())
        } else {
            BlockText::Kept
        },
        marker: new_marker.clone(),
        last_block: m.marker.block.clone(),
    });
    let kind = match merge.state {
        Some(IssueState::Closed) => ActionKind::Close,
        Some(IssueState::Opened) => ActionKind::Reopen,
        None => ActionKind::Update,
    };
    Action {
        result: None,
        action: kind,
        page: spec.id.clone(),
        key: d.key.clone(),
        iid: Some(m.issue.iid),
        title: d.title.clone(),
        reason: edit_reason(kind, d, m.marker, &merge.why),
        warnings: d.assignee_problem.iter().cloned().collect(),
        write: Some(Write::Edit {
            iid: m.issue.iid,
            title: merge.title,
            description: Some(description),
            add_labels: merge.changes.add_labels.clone(),
            remove_labels: merge.changes.remove_labels.clone(),
            assignee: merge.assignee,
            state: merge.state,
        }),
        changes: merge.changes,
    }
}

/// Why an edit happens: what the handbook says for closes and returns, else the list of
/// changed fields.
fn edit_reason(kind: ActionKind, d: &DesiredIssue, last: &Marker, why: &[String]) -> String {
    match (kind, d.status) {
        (ActionKind::Close, ItemStatus::HandedOver) => match (&d.assignee, &d.owner_name) {
            (Some(u), _) => format!("handed over to @{u} in the handbook"),
            (None, Some(n)) => format!("handed over to {n} in the handbook"),
            _ => "struck through in the handbook".into(),
        },
        (ActionKind::Close, ItemStatus::Done) => "ticked in the handbook".into(),
        (ActionKind::Reopen, _) if last.status == MarkerStatus::Removed => {
            "back in the handbook".into()
        }
        _ => why.join("; "),
    }
}

/// The report of fields a person and the handbook both changed: the handbook's version is
/// written, the person's kept in a note first.
fn conflict_action(spec: &PageSpec, d: &DesiredIssue, iid: u64, fields: Vec<String>) -> Action {
    Action {
        result: None,
        action: ActionKind::Conflict,
        page: spec.id.clone(),
        key: d.key.clone(),
        iid: Some(iid),
        title: d.title.clone(),
        reason: format!(
            "changed by a person and in the handbook: {}; the handbook's version is written, the person's kept in a note on the issue",
            fields.join(", ")
        ),
        changes: Changes::default(),
        warnings: Vec::new(),
        write: None,
    }
}

/// The report of fields a person changed and that are kept (`enforce = false`).
fn drift_action(spec: &PageSpec, d: &DesiredIssue, iid: u64, drift: Vec<String>) -> Action {
    Action {
        result: None,
        action: ActionKind::Drift,
        page: spec.id.clone(),
        key: d.key.clone(),
        iid: Some(iid),
        title: d.title.clone(),
        reason: format!(
            "changed by a person: {}; kept (enforce = false)",
            drift.join(", ")
        ),
        changes: Changes {
            drifted: drift,
            ..Default::default()
        },
        warnings: Vec::new(),
        write: None,
    }
}
