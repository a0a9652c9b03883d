//! Desired issues + observed issues → a plan. Pure: the clock comes in as `today`,
//! GitLab's state as data.
//!
//! One idea per file: [`matching`] pairs items with issues, [`merge`] decides per field,
//! [`guard`] refuses mass closes, [`actions`] builds the other actions. This file holds
//! the types and the order in which the steps run.

mod actions;
mod adopt;
mod guard;
mod matching;
mod merge;
mod vanished;
mod withheld;
mod write;

use std::collections::BTreeSet;

use serde::Serialize;

use super::desired::{DesiredIssue, IssueState, PageSpec};
use super::marker::{self, Marker, MarkerStatus};

pub use adopt::{Adoption, gitlab_title};
pub use matching::similarity;
pub use vanished::plan_vanished_page;
pub use write::{
    AssigneeSwap, BlockText, BlockWrite, IssueToCreate, NewIssue, Rewrite, conflict_note,
    removed_block,
};

/// An issue as the planner compares it: GitLab's fields and what its description's
/// managed block says, without the description itself. A plan of a large project holds
/// every managed issue, and their descriptions would be most of its memory; where a write
/// needs the text, `apply` reads the issue again right before it anyway.
#[derive(Debug, Clone, PartialEq)]
pub struct ObservedIssue {
    /// Project-scoped id.
    pub iid: u64,
    /// Title.
    pub title: String,
    /// Open or closed.
    pub state: IssueState,
    /// Every label, managed or not.
    pub labels: Vec<String>,
    /// Every assignee's username, in GitLab's order (GitLab Free keeps one; paid tiers
    /// several).
    pub assignees: Vec<String>,
    /// [`marker::hash`] of the managed block's text as the issue holds it now (a person
    /// may have changed it); `None` when the description has no managed block.
    pub block_hash: Option<String>,
    /// The marker of the managed block, when there is one and it is readable, and it is
    /// the description's only one.
    pub marker: Option<Marker>,
    /// Every marker of a description that holds more than one (a person pasted another
    /// issue's description into it), in order; empty otherwise. No marker of such an
    /// issue is its identity: it is reported and left alone, and the items it names get
    /// no other issue while it holds them (see [`plan_page`]).
    pub pasted: Vec<Marker>,
    /// Text stands above the managed block. handbook-sync writes the block first, so it
    /// is a person's: their notes, or the issue's own text above another issue's
    /// description they pasted in. Of two open issues with one marker, one with text
    /// above it and one without, the first is taken for a paste (see [`plan_page`]).
    pub text_above_block: bool,
    /// What is left of a managed block a person damaged (a begin or end line deleted, the
    /// marker's JSON broken): the issue is not managed, but it is reported, and the item
    /// it names gets no second issue while it is ([`withheld`]). `None` when the block is
    /// whole, absent, or pasted twice.
    pub damaged: Option<Damaged>,
    /// The id of the user who opened it, when GitLab said (the planner ignores it;
    /// discovery compares like with like when it counts the issues of a block).
    pub author: Option<u64>,
}

/// The remains of a damaged managed block ([`ObservedIssue::damaged`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Damaged {
    /// The description's one readable marker, outside any whole block; `None` when no
    /// marker is readable.
    pub marker: Option<Marker>,
}

impl ObservedIssue {
    /// The issue with its description (empty when none) reduced to what the planner
    /// compares: the managed block's hash and its marker.
    pub fn new(
        iid: u64,
        title: String,
        description: &str,
        state: IssueState,
        labels: Vec<String>,
        assignees: Vec<String>,
    ) -> Self {
        let parsed = marker::parse(description);
        let mut pasted = marker::markers(description);
        let damaged = match (&parsed, pasted.len()) {
            (Some(p), 0) if p.marker.is_none() => Some(Damaged { marker: None }),
            (None, 1) => Some(Damaged {
                marker: pasted.pop(),
            }),
            _ => None,
        };
        if pasted.len() < 2 {
            pasted.clear();
        }
        ObservedIssue {
            iid,
            title,
            state,
            labels,
            assignees,
            block_hash: parsed.as_ref().map(|p| marker::hash(&p.block)),
            text_above_block: parsed.as_ref().is_some_and(|p| !p.before.trim().is_empty()),
            marker: parsed.and_then(|p| p.marker).filter(|_| pasted.is_empty()),
            pasted,
            damaged,
            author: None,
        }
    }
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
    /// A person and the handbook both changed the managed block since the last sync:
    /// reported beside the update, in which the handbook's version wins after the
    /// person's is kept in a note on the issue.
    Conflict,
    /// An open issue a person made, without a marker, whose title is the item's: taken
    /// over (`--adopt`) instead of creating a second one.
    Adopt,
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
    /// Create an issue (then close it, for an item created closed), as
    /// [`Action::new_issue`] renders it. Boxed: most actions of a first sync are creates,
    /// and the other writes are larger.
    Create(Box<NewIssue>),
    /// Edit an issue.
    Edit {
        /// The issue.
        iid: u64,
        /// New title.
        title: Option<String>,
        /// The managed block and marker, re-applied onto the description as it is right
        /// before the write, so text a person wrote meanwhile stays.
        description: Option<Box<BlockWrite>>,
        /// Labels to add.
        add_labels: Vec<String>,
        /// Labels to remove.
        remove_labels: Vec<String>,
        /// The assignee handbook-sync set, swapped among the issue's assignees as they are
        /// right before the write (the ones people added stay).
        assignee: Option<AssigneeSwap>,
        /// The state to move the issue to (GitLab's `state_event`: see
        /// [`IssueState::event`]).
        state: Option<IssueState>,
    },
    /// Take over an issue a person made ([`Adoption`]): the managed block below their
    /// description, the managed labels, the handbook's assignee.
    Adopt(Box<Adoption>),
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
    /// What became of the write, once `apply` ran (absent in a plan, and for reports).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<WriteResult>,
}

/// What became of an action's write in `apply`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WriteResult {
    /// GitLab made the change.
    Applied,
    /// A request failed; the log says why, and the next run tries again.
    Failed,
    /// Never sent: the token may not write to the project, the project was stopped
    /// (GitLab dropped labels), or the run shut down.
    NotRun,
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
    /// `--allow-mass-create`.
    pub allow_mass_create: bool,
    /// `YYYY-MM-DD`, for reason lines.
    pub today: String,
    /// Take over open issues without a marker whose title is an item's, instead of
    /// creating ([`ActionKind::Adopt`]); the observed issues then include them.
    pub adopt: bool,
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

/// Plans one page against the issues of its project.
///
/// The actions come in page order (creates and updates, each item's drift report after
/// its update), then the closes of duplicates, then the closes of items that left the
/// handbook, then the reports (or, with `enforce`, closes) of removed items a person
/// reopened, then the reports of issues with more than one marker (a pasted
/// description), then those of open issues holding another issue's marker below text
/// of their own while that issue holds it with none (a description pasted into an issue
/// whose own block was deleted: never written or closed, the other issue stays the
/// item's). An issue with more than one marker is never written, never closed, and the items its
/// markers name are neither created nor paired with another issue while it holds them
/// (unless an issue of their own exists). `observed` may hold issues without the managed
/// label (those carrying the page's label): they are never touched, only counted by the
/// mass-create guard.
///
/// `desired` is taken by value: the creates move their items' text into the plan
/// instead of copying it. Nothing is adopted: see [`plan_page_adopting`].
pub fn plan_page(
    spec: &PageSpec,
    desired: Vec<DesiredIssue>,
    observed: &[ObservedIssue],
    settings: &PlanSettings,
) -> PagePlan {
    plan_page_adopting(spec, desired, observed, &[], settings)
}

/// [`plan_page`], where with `settings.adopt` the creates may take over issues among
/// `candidates` only: those the caller vetted (who opened them, whether they are
/// confidential), never any other issue of `observed`, however it was read.
pub fn plan_page_adopting(
    spec: &PageSpec,
    desired: Vec<DesiredIssue>,
    observed: &[ObservedIssue],
    candidates: &[ObservedIssue],
    settings: &PlanSettings,
) -> PagePlan {
    let managed = matching::managed_issues(&spec.id, &settings.managed_label, observed);
    let open = managed.iter().filter(|m| m.is_open()).count();
    let deduplicated = matching::deduplicate(&managed);
    let pasted = matching::pasted_issues(&spec.id, &settings.managed_label, observed);
    let held = matching::held_identities(&spec.id, &pasted, &managed);
    let mut winners = deduplicated.winners.clone();
    winners.extend(&held);
    let items = desired.len();
    let (mut actions, unchanged, orphans) = item_actions(spec, desired, &winners, settings);
    if settings.adopt {
        adopt::take_over(&mut actions, candidates);
    }
    actions.extend(
        deduplicated
            .duplicates
            .iter()
            .map(|(dup, winner)| actions::duplicate_close(spec, dup, *winner)),
    );
    // An issue already closed as removed that is open again was reopened by a person:
    // drift like any other field, never a new removal (which would rewrite its reason line
    // and count toward the guard on every run).
    let (reopened, removed): (Vec<&&matching::Managed<'_>>, Vec<_>) = orphans
        .iter()
        .filter(|m| m.is_open() && !m.held)
        .partition(|m| m.marker.status == MarkerStatus::Removed);
    actions.extend(
        removed
            .iter()
            .map(|m| actions::removed_close(spec, m, settings)),
    );
    actions.extend(
        reopened
            .iter()
            .map(|m| actions::reopened_removed(spec, m, settings)),
    );
    actions.extend(
        pasted
            .iter()
            .map(|issue| actions::pasted_report(spec, issue)),
    );
    let claimants = withheld::claimants(spec, settings, observed, &deduplicated.claims);
    let copies = withheld::copies(&deduplicated.pasted_copies);
    withheld::withhold(spec, &mut actions, &claimants, &copies);
    actions.extend(
        deduplicated
            .pasted_copies
            .iter()
            .map(|(copy, kept)| actions::pasted_copy_report(spec, copy, *kept)),
    );
    let exempt: BTreeSet<u64> = deduplicated
        .duplicates
        .iter()
        .map(|(dup, _)| dup.issue.iid)
        .chain(reopened.iter().map(|m| m.issue.iid))
        .collect();
    let refused = guard::mass_close_refusal(&actions, &exempt, open, settings).or_else(|| {
        guard::mass_create_refusal(spec, &actions, items, observed, &managed, settings)
    });
    PagePlan {
        actions,
        refused,
        unchanged,
    }
}

/// The actions of the page's items (merges of paired items, creates of the others) in
/// page order, how many paired items need nothing, and the issues no item is paired with.
fn item_actions<'m, 'a>(
    spec: &PageSpec,
    desired: Vec<DesiredIssue>,
    winners: &[&'m matching::Managed<'a>],
    settings: &PlanSettings,
) -> (Vec<Action>, usize, Vec<&'m matching::Managed<'a>>) {
    let mut unchanged = 0;
    // Each action with its item's position on the page.
    let mut found: Vec<(usize, Action)> = Vec::new();
    let matched = matching::match_items(&desired, winners);
    for pair in matched.pairs.iter().filter(|p| !p.managed.held) {
        let merged = merge::reconcile(spec, pair.desired, pair.managed, pair.reworded, settings);
        if merged.is_empty() {
            unchanged += 1;
        }
        found.extend(merged.into_iter().map(|a| (pair.index, a)));
    }
    let matching::Matching {
        mut unmatched,
        orphans,
        ..
    } = matched;
    unmatched.sort_unstable();
    // Exactly one action per create: a first sync's plan is mostly creates, and growing by
    // doubling would hold up to twice their size at the last push.
    found.reserve_exact(unmatched.len());
    let mut unmatched = unmatched.into_iter().peekable();
    for (index, d) in desired.into_iter().enumerate() {
        if unmatched.next_if_eq(&index).is_some() {
            found.push((index, actions::create(spec, d, settings)));
        }
    }
    // Stable: an item's drift report stays right after its update.
    found.sort_by_key(|(index, _)| *index);
    (
        found.into_iter().map(|(_, a)| a).collect(),
        unchanged,
        orphans,
    )
}

#[cfg(test)]
mod tests;
