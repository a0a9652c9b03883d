//! Desired issues + observed issues → a plan (DESIGN §5–§6). Pure: the clock comes in as
//! `today`, GitLab's state as data.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::desired::{DesiredIssue, IssueState, PageSpec};
use super::marker::{self, Marker, MarkerStatus};
use crate::parse::ItemStatus;

/// An issue as read from GitLab.
#[derive(Debug, Clone, PartialEq)]
pub struct ObservedIssue {
    /// Project-scoped id.
    pub iid: u64,
    /// Title.
    pub title: String,
    /// Description (empty when none).
    pub description: String,
    /// Open or closed.
    pub state: IssueState,
    /// Every label, managed or not.
    pub labels: Vec<String>,
    /// The first assignee's username.
    pub assignee: Option<String>,
}

/// What an action does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ActionKind {
    /// A new issue.
    Create,
    /// Fields of an issue change; it stays open or closed.
    Update,
    /// The issue is closed (and maybe updated).
    Close,
    /// The issue is reopened (and maybe updated).
    Reopen,
    /// A person changed an owned field; reported, not changed (`enforce = false`).
    Drift,
}

/// `from` → `to`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change<T> {
    /// Before.
    pub from: T,
    /// After.
    pub to: T,
}

/// The changes of one action, for people and for JSON.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Changes {
    /// New title.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<Change<String>>,
    /// The managed part of the description is rewritten.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub description: bool,
    /// Labels added.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub add_labels: Vec<String>,
    /// Labels removed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub remove_labels: Vec<String>,
    /// New assignee.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assignee: Option<Change<Option<String>>>,
    /// New state.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<Change<IssueState>>,
    /// Fields a person changed (drift).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub drifted: Vec<String>,
}

/// The requests an action makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    /// Create an issue (then close it when `close` is set).
    Create {
        /// Title.
        title: String,
        /// Full description.
        description: String,
        /// Labels.
        labels: Vec<String>,
        /// Username to assign.
        assignee: Option<String>,
        /// For an item created closed: the description of the closing edit that follows.
        /// The issue is created open, with a marker that says so, so that a failed close
        /// is retried by the next run rather than taken for a person's reopening.
        close_description: Option<String>,
    },
    /// Edit an issue.
    Edit {
        /// The issue.
        iid: u64,
        /// New title.
        title: Option<String>,
        /// New description.
        description: Option<String>,
        /// Labels to add.
        add_labels: Vec<String>,
        /// Labels to remove.
        remove_labels: Vec<String>,
        /// `Some(None)` unassigns.
        assignee: Option<Option<String>>,
        /// `close` or `reopen`.
        state_event: Option<&'static str>,
    },
}

/// One line of the plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Action {
    /// What it does.
    pub action: ActionKind,
    /// Page id.
    pub page: String,
    /// Item key.
    pub key: String,
    /// The issue, when it exists.
    pub iid: Option<u64>,
    /// The item's (or issue's) title.
    pub title: String,
    /// What changes.
    pub changes: Changes,
    /// Why.
    pub reason: String,
    /// Things to know that do not stop the action (unknown people).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// The requests; `None` for drift reports.
    #[serde(skip)]
    pub write: Option<Write>,
}

/// Settings the planner needs.
#[derive(Debug, Clone)]
pub struct PlanSettings {
    /// The managed label.
    pub managed_label: String,
    /// Revert drift.
    pub enforce: bool,
    /// Mass-close guard threshold.
    pub max_close_fraction: f64,
    /// `--allow-mass-close`.
    pub allow_mass_close: bool,
    /// `YYYY-MM-DD`, for reason lines.
    pub today: String,
}

/// The plan of one page.
#[derive(Debug, Clone, PartialEq)]
pub struct PagePlan {
    /// The actions, in page order (creates and updates), then closes.
    pub actions: Vec<Action>,
    /// Set when the mass-close guard refused the page.
    pub refused: Option<String>,
    /// Items whose issue needs nothing.
    pub unchanged: usize,
}

/// Below this similarity, a reworded bullet is a new item rather than the old one.
const MIN_SIMILARITY: f64 = 0.55;

struct Managed<'a> {
    issue: &'a ObservedIssue,
    parsed: marker::Parsed<'a>,
    marker: Marker,
}

/// Plans one page against the issues of its project.
pub fn plan_page(
    spec: &PageSpec,
    desired: &[DesiredIssue],
    observed: &[ObservedIssue],
    settings: &PlanSettings,
) -> PagePlan {
    let managed: Vec<Managed<'_>> = observed
        .iter()
        .filter(|i| {
            i.labels
                .iter()
                .any(|l| l.eq_ignore_ascii_case(&settings.managed_label))
        })
        .filter_map(|issue| {
            let parsed = marker::parse(&issue.description)?;
            let marker = parsed.marker.clone()?;
            (marker.page == spec.id).then_some(Managed {
                issue,
                parsed,
                marker,
            })
        })
        .collect();
    let open_count = managed
        .iter()
        .filter(|m| m.issue.state == IssueState::Opened)
        .count();

    // One issue per key: the oldest open one (else the oldest closed one); other open
    // issues with the same key are duplicates.
    let mut by_key: BTreeMap<&str, Vec<&Managed<'_>>> = BTreeMap::new();
    for m in &managed {
        by_key.entry(m.marker.key.as_str()).or_default().push(m);
    }
    let mut actions = Vec::new();
    let mut winners: Vec<&Managed<'_>> = Vec::new();
    let mut duplicates = 0;
    for group in by_key.values_mut() {
        group.sort_by_key(|m| (m.issue.state != IssueState::Opened, m.issue.iid));
        let winner = group[0];
        winners.push(winner);
        for dup in &group[1..] {
            if dup.issue.state == IssueState::Opened {
                actions.push(duplicate_close(spec, dup, winner.issue.iid));
                duplicates += 1;
            }
        }
    }

    // Match by key, then by similarity of the rest.
    let mut pairs: Vec<(&DesiredIssue, &Managed<'_>, bool)> = Vec::new();
    let mut unmatched_desired: Vec<&DesiredIssue> = Vec::new();
    let mut taken = BTreeSet::new();
    let winner_by_key: BTreeMap<&str, &Managed<'_>> = winners
        .iter()
        .map(|w| (w.marker.key.as_str(), *w))
        .collect();
    for d in desired {
        match winner_by_key.get(d.key.as_str()) {
            Some(w) => {
                taken.insert(w.issue.iid);
                pairs.push((d, w, false));
            }
            None => unmatched_desired.push(d),
        }
    }
    let mut candidates: Vec<(f64, usize, usize)> = Vec::new();
    let free: Vec<&Managed<'_>> = winners
        .iter()
        .copied()
        .filter(|w| !taken.contains(&w.issue.iid))
        .collect();
    for (di, d) in unmatched_desired.iter().enumerate() {
        for (wi, w) in free.iter().enumerate() {
            let score = similarity(&d.title, &w.marker.title);
            if score >= MIN_SIMILARITY {
                candidates.push((score, di, wi));
            }
        }
    }
    candidates.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    let mut used_d = BTreeSet::new();
    let mut used_w = BTreeSet::new();
    for (_, di, wi) in candidates {
        if used_d.contains(&di) || used_w.contains(&wi) {
            continue;
        }
        used_d.insert(di);
        used_w.insert(wi);
        pairs.push((unmatched_desired[di], free[wi], true));
    }
    pairs.sort_by_key(|(d, _, _)| d.line);

    let mut unchanged = 0;
    let mut item_actions = Vec::new();
    for (d, m, reworded) in &pairs {
        let found = reconcile(spec, d, m, *reworded, settings);
        if found.is_empty() {
            unchanged += 1;
        }
        item_actions.extend(found);
    }
    for (di, d) in unmatched_desired.iter().enumerate() {
        if !used_d.contains(&di) {
            item_actions.push(create(spec, d, settings));
        }
    }
    let position: BTreeMap<&str, usize> = desired
        .iter()
        .enumerate()
        .map(|(i, d)| (d.key.as_str(), i))
        .collect();
    item_actions.sort_by_key(|a| position.get(a.key.as_str()).copied().unwrap_or(usize::MAX));
    actions.splice(0..0, item_actions);
    for (wi, w) in free.iter().enumerate() {
        if !used_w.contains(&wi) && w.issue.state == IssueState::Opened {
            actions.push(removed_close(spec, w, settings));
        }
    }

    // Closing a duplicate loses nothing (its twin stays open): the guard counts the
    // closes that take a responsibility off the board, against the page's distinct items.
    let closes = actions
        .iter()
        .filter(|a| a.action == ActionKind::Close && a.iid.is_some())
        .count()
        - duplicates;
    let open_count = open_count - duplicates;
    let refused = (closes > 5
        && (closes as f64) > settings.max_close_fraction * open_count as f64
        && !settings.allow_mass_close)
        .then(|| {
            format!(
                "would close {closes} of {open_count} open issues (more than {:.0}% and more than 5); \
                 nothing of this page is applied; re-run with --allow-mass-close if the handbook really changed this much",
                settings.max_close_fraction * 100.0
            )
        });
    PagePlan {
        actions,
        refused,
        unchanged,
    }
}

/// How alike two titles are, 0 to 1 (Sørensen–Dice over character bigrams).
pub fn similarity(a: &str, b: &str) -> f64 {
    strsim::sorensen_dice(&a.to_lowercase(), &b.to_lowercase())
}

fn reason_line(d: &DesiredIssue, since: &str) -> Option<String> {
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

fn block_text(body: &str, source: &str, reason: Option<&str>) -> String {
    let mut block = String::new();
    if !body.is_empty() {
        block.push_str(body);
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

fn desired_marker(spec: &PageSpec, d: &DesiredIssue, block: &str, since: Option<String>) -> Marker {
    Marker {
        v: 1,
        page: spec.id.clone(),
        key: d.key.clone(),
        title: d.title.clone(),
        status: d.status.into(),
        state: d.state,
        assignee: d.assignee.clone(),
        labels: d.labels.iter().cloned().collect(),
        block: marker::hash(block),
        since,
    }
}

fn create(spec: &PageSpec, d: &DesiredIssue, settings: &PlanSettings) -> Action {
    let since = (d.status != ItemStatus::Active).then(|| settings.today.clone());
    let reason = since.as_deref().and_then(|s| reason_line(d, s));
    let block = block_text(&d.body, &d.source, reason.as_deref());
    let marker = desired_marker(spec, d, &block, since);
    let open_marker = Marker {
        state: IssueState::Opened,
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
            state: (d.state == IssueState::Closed).then(|| Change {
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

#[derive(PartialEq)]
enum Decision {
    Same,
    Apply,
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

fn reconcile(
    spec: &PageSpec,
    d: &DesiredIssue,
    m: &Managed<'_>,
    reworded: bool,
    settings: &PlanSettings,
) -> Vec<Action> {
    let last = &m.marker;
    let issue = m.issue;
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

    let mut changes = Changes::default();
    let mut drift = Vec::new();
    let mut why = Vec::new();
    let mut write_title = None;
    let mut write_block = false;
    let mut write_assignee = None;
    let mut state_event = None;

    let mut decide = |decision: Decision, field: &str, drift: &mut Vec<String>| -> bool {
        match decision {
            Decision::Same => false,
            Decision::Apply => {
                why.push(format!("{field} changed in the handbook"));
                true
            }
            Decision::Drift if settings.enforce => {
                why.push(format!(
                    "{field} changed by a person; restored (enforce = true)"
                ));
                true
            }
            Decision::Drift => {
                drift.push(field.to_owned());
                false
            }
        }
    };

    if decide(
        three_way(&d.title, &last.title, &issue.title),
        "title",
        &mut drift,
    ) {
        changes.title = Some(Change {
            from: issue.title.clone(),
            to: d.title.clone(),
        });
        write_title = Some(d.title.clone());
    }
    let actual_block = marker::hash(&m.parsed.block);
    if decide(
        three_way(&new_marker.block, &last.block, &actual_block),
        "description",
        &mut drift,
    ) {
        changes.description = true;
        write_block = true;
    }
    if decide(
        three_way(&d.state, &last.state, &issue.state),
        "state",
        &mut drift,
    ) {
        changes.state = Some(Change {
            from: issue.state,
            to: d.state,
        });
        state_event = Some(if d.state == IssueState::Closed {
            "close"
        } else {
            "reopen"
        });
    }
    if decide(
        three_way(&d.assignee, &last.assignee, &issue.assignee),
        "assignee",
        &mut drift,
    ) {
        changes.assignee = Some(Change {
            from: issue.assignee.clone(),
            to: d.assignee.clone(),
        });
        write_assignee = Some(d.assignee.clone());
    }
    let has = |l: &String| issue.labels.iter().any(|a| a.eq_ignore_ascii_case(l));
    for label in &d.labels {
        if has(label) {
            continue;
        }
        if last.labels.contains(label) && !settings.enforce {
            drift.push(format!("label {label}"));
        } else {
            changes.add_labels.push(label.clone());
        }
    }
    for label in &last.labels {
        if !d.labels.contains(label) && has(label) {
            changes.remove_labels.push(label.clone());
        }
    }
    if !changes.add_labels.is_empty() || !changes.remove_labels.is_empty() {
        why.push("labels changed".into());
    }
    let key_moved = last.key != d.key;
    if reworded || key_moved {
        why.insert(0, format!("reworded (was “{}”)", last.title));
    }

    let mut actions = Vec::new();
    let any_write = write_title.is_some()
        || write_block
        || write_assignee.is_some()
        || state_event.is_some()
        || !changes.add_labels.is_empty()
        || !changes.remove_labels.is_empty()
        || key_moved;
    if any_write {
        let block_to_write = if write_block {
            block.clone()
        } else {
            m.parsed.block.clone()
        };
        // The marker records the handbook's values; a field left drifted keeps its
        // recorded value, which equals the handbook's, so it stays reported as drift.
        let description = marker::render(
            m.parsed.before,
            &block_to_write,
            &new_marker,
            m.parsed.after,
        );
        let kind = match state_event {
            Some("close") => ActionKind::Close,
            Some(_) => ActionKind::Reopen,
            None => ActionKind::Update,
        };
        let reason = match (kind, d.status) {
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
        };
        actions.push(Action {
            action: kind,
            page: spec.id.clone(),
            key: d.key.clone(),
            iid: Some(issue.iid),
            title: d.title.clone(),
            changes: changes.clone(),
            reason,
            warnings: d.assignee_problem.iter().cloned().collect(),
            write: Some(Write::Edit {
                iid: issue.iid,
                title: write_title,
                description: Some(description),
                add_labels: changes.add_labels.clone(),
                remove_labels: changes.remove_labels.clone(),
                assignee: write_assignee,
                state_event,
            }),
        });
    }
    if !drift.is_empty() {
        actions.push(Action {
            action: ActionKind::Drift,
            page: spec.id.clone(),
            key: d.key.clone(),
            iid: Some(issue.iid),
            title: d.title.clone(),
            changes: Changes {
                drifted: drift.clone(),
                ..Default::default()
            },
            reason: format!(
                "changed by a person: {}; kept (enforce = false)",
                drift.join(", ")
            ),
            warnings: Vec::new(),
            write: None,
        });
    }
    actions
}

fn duplicate_close(spec: &PageSpec, dup: &Managed<'_>, winner: u64) -> Action {
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
            state_event: Some("close"),
        }),
    }
}

fn removed_close(spec: &PageSpec, m: &Managed<'_>, settings: &PlanSettings) -> Action {
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
        state: IssueState::Closed,
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
            description: Some(marker::render(
                m.parsed.before,
                &block,
                &new_marker,
                m.parsed.after,
            )),
            add_labels: Vec::new(),
            remove_labels: Vec::new(),
            assignee: None,
            state_event: Some("close"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    fn spec() -> PageSpec {
        PageSpec {
            id: "pm".into(),
            title: "PM".into(),
            url: None,
            page_label: "handbook::pm".into(),
        }
    }

    fn settings() -> PlanSettings {
        PlanSettings {
            managed_label: "handbook-sync".into(),
            enforce: false,
            max_close_fraction: 0.25,
            allow_mass_close: false,
            today: "2026-11-27".into(),
        }
    }

    fn desired(key: &str, title: &str) -> DesiredIssue {
        DesiredIssue {
            key: key.into(),
            title: title.into(),
            body: title.into(),
            source: "Source: PM".into(),
            section: vec!["S".into()],
            status: ItemStatus::Active,
            owner_name: None,
            labels: BTreeSet::from(["handbook-sync".to_owned(), "handbook::pm".to_owned()]),
            assignee: Some("owner".into()),
            assignee_problem: None,
            state: IssueState::Opened,
            line: 1,
        }
    }

    /// The issue `apply` would have created for `d`, as GitLab returns it.
    fn observed_for(d: &DesiredIssue, iid: u64) -> ObservedIssue {
        let action = create(&spec(), d, &settings());
        let Some(Write::Create {
            description,
            labels,
            assignee,
            ..
        }) = action.write
        else {
            unreachable!()
        };
        ObservedIssue {
            iid,
            title: d.title.clone(),
            description,
            state: IssueState::Opened,
            labels,
            assignee,
        }
    }

    #[test]
    fn an_issue_equal_to_its_item_needs_nothing() {
        let d = desired("a", "Write docs");
        let plan = plan_page(
            &spec(),
            std::slice::from_ref(&d),
            &[observed_for(&d, 1)],
            &settings(),
        );
        assert!(plan.actions.is_empty(), "{:?}", plan.actions);
        assert_eq!(plan.unchanged, 1);
    }

    #[test]
    fn a_handbook_change_is_applied_and_a_persons_change_is_drift() {
        let d = desired("a", "Write docs");
        let mut issue = observed_for(&d, 1);
        issue.assignee = Some("someone".into());
        let mut changed = d.clone();
        changed.title = "Write good docs".into();
        let plan = plan_page(
            &spec(),
            std::slice::from_ref(&changed),
            &[issue.clone()],
            &settings(),
        );
        let kinds: Vec<ActionKind> = plan.actions.iter().map(|a| a.action).collect();
        assert_eq!(kinds, [ActionKind::Update, ActionKind::Drift]);
        assert_eq!(
            plan.actions[0].changes.title.as_ref().unwrap().to,
            "Write good docs"
        );
        assert_eq!(
            plan.actions[0].changes.assignee, None,
            "the person's assignee is kept"
        );
        assert_eq!(plan.actions[1].changes.drifted, ["assignee"]);

        let enforce = PlanSettings {
            enforce: true,
            ..settings()
        };
        let plan = plan_page(&spec(), std::slice::from_ref(&d), &[issue], &enforce);
        assert_eq!(plan.actions.len(), 1);
        assert_eq!(
            plan.actions[0]
                .changes
                .assignee
                .as_ref()
                .unwrap()
                .to
                .as_deref(),
            Some("owner")
        );
    }

    #[test]
    fn a_reworded_item_keeps_its_issue_and_an_unrelated_one_does_not() {
        let old = desired("maintain-the-mailing-lists", "Maintain the mailing lists");
        let issue = observed_for(&old, 7);
        let reworded = desired(
            "maintain-the-mailing-lists-and-automation",
            "Maintain the mailing lists and automation",
        );
        let plan = plan_page(
            &spec(),
            std::slice::from_ref(&reworded),
            std::slice::from_ref(&issue),
            &settings(),
        );
        assert_eq!(plan.actions.len(), 1);
        assert_eq!(
            (plan.actions[0].action, plan.actions[0].iid),
            (ActionKind::Update, Some(7))
        );

        let unrelated = desired("hire-a-designer", "Hire a designer");
        let plan = plan_page(
            &spec(),
            std::slice::from_ref(&unrelated),
            &[issue],
            &settings(),
        );
        let kinds: Vec<ActionKind> = plan.actions.iter().map(|a| a.action).collect();
        assert_eq!(kinds, [ActionKind::Create, ActionKind::Close]);
    }

    #[test]
    fn closing_many_is_refused_but_a_few_are_not() {
        let items: Vec<DesiredIssue> = (0..20)
            .map(|i| desired(&format!("k{i}"), &format!("Item number {i}")))
            .collect();
        let issues: Vec<ObservedIssue> = items
            .iter()
            .enumerate()
            .map(|(i, d)| observed_for(d, i as u64 + 1))
            .collect();
        let plan = plan_page(&spec(), &items[..16], &issues, &settings());
        assert!(plan.refused.is_none(), "4 of 20 is not more than 5");
        let plan = plan_page(&spec(), &items[..10], &issues, &settings());
        assert!(plan.refused.is_some(), "10 of 20");
        let allowed = PlanSettings {
            allow_mass_close: true,
            ..settings()
        };
        assert!(
            plan_page(&spec(), &items[..10], &issues, &allowed)
                .refused
                .is_none()
        );
    }
}
