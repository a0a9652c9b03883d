//! Adoption (`--adopt`, or `adopt = true` on a page): a team that already tracks its
//! responsibilities in hand-made issues gets them taken over instead of duplicated. An
//! item that would be created takes over the open issue of its project whose title is
//! exactly the item's (as GitLab stores titles) and that carries no handbook-sync block
//! or marker: the managed block goes below the person's description, the managed labels
//! and the handbook's assignee are added, and from then on it is managed like any other.
//!
//! Never guessed: an issue is adopted only when exactly one open issue has the title and
//! exactly one item of the page wants it. Two candidates, or two items with one title,
//! adopt nothing and say so. Closed issues are never adopted (finished work is not
//! reopened or rewritten; the item gets a new issue), nor issues with another page's
//! marker, nor items that are done or handed over (closing a person's open issue is not
//! worth it; they are created closed as before).

use std::collections::BTreeMap;

use super::{Action, ActionKind, AssigneeSwap, Change, NewIssue, ObservedIssue, Write};
use crate::sync::desired::IssueState;
use crate::sync::marker;

/// A title as GitLab stores it: Rails' `strip_attributes! :title`
/// (`app/models/concerns/issuable.rb`) removes leading and trailing whitespace as Ruby's
/// `String#strip` knows it (space, tab, line feed, vertical tab, form feed, carriage
/// return, NUL), nothing else; case and inner spaces are kept.
pub fn gitlab_title(title: &str) -> &str {
    title.trim_matches(|c| matches!(c, ' ' | '\t' | '\n' | '\u{b}' | '\u{c}' | '\r' | '\0'))
}

/// What an adoption writes, beside its [`Action`]: the item's text to render the block
/// from, and the handbook's assignee to put in handbook-sync's place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Adoption {
    /// The issue taken over.
    pub iid: u64,
    /// The item, as a create would have written it.
    pub new: NewIssue,
    /// The handbook's assignee, added first among the issue's (on GitLab Free, which
    /// keeps one, it replaces the person's).
    pub assignee: AssigneeSwap,
}

impl Action {
    /// For an adoption, the description to write onto the issue as it is right before
    /// the write: the person's text kept above the managed block. `Err` says why the
    /// issue is no longer the one planned (closed, retitled, or taken over by another
    /// run meanwhile), and nothing is written.
    pub fn adoption_onto(
        &self,
        title: &str,
        state: IssueState,
        description: &str,
    ) -> Result<String, String> {
        let Some(Write::Adopt(adoption)) = &self.write else {
            return Err("not an adoption".into());
        };
        let iid = adoption.iid;
        if state != IssueState::Opened {
            return Err(format!(
                "issue #{iid} was closed since the plan; not adopted"
            ));
        }
        if gitlab_title(title) != gitlab_title(&self.title) {
            return Err(format!(
                "issue #{iid} was retitled “{title}” since the plan; not adopted"
            ));
        }
        if marker::parse(description).is_some() {
            return Err(format!(
                "issue #{iid} carries a handbook-sync block since the plan; not adopted"
            ));
        }
        let block = adoption.new.block();
        let marker = adoption.new.marker(self, &block);
        let kept = description.trim_end();
        let before = if kept.is_empty() {
            String::new()
        } else {
            format!("{kept}\n\n")
        };
        Ok(marker::render(&before, &block, &marker, ""))
    }
}

/// Turns creates of active items into adoptions of the open, marker-less issues among
/// `vetted` (the candidates the shell read and vetted, never the page's other observed
/// issues) that have their title; warns on the creates where that is ambiguous.
pub(super) fn take_over(actions: &mut [Action], vetted: &[ObservedIssue]) {
    let mut candidates: BTreeMap<&str, Vec<&ObservedIssue>> = BTreeMap::new();
    let mut seen = std::collections::BTreeSet::new();
    for issue in vetted {
        let free = issue.state == IssueState::Opened
            && issue.marker.is_none()
            && issue.block_hash.is_none();
        if free && seen.insert(issue.iid) {
            candidates
                .entry(gitlab_title(&issue.title))
                .or_default()
                .push(issue);
        }
    }
    let mut wanted: BTreeMap<&str, usize> = BTreeMap::new();
    for action in actions.iter().filter(|a| adoptable(a)) {
        *wanted.entry(gitlab_title(&action.title)).or_default() += 1;
    }
    let wanted: BTreeMap<String, usize> =
        wanted.into_iter().map(|(t, n)| (t.to_owned(), n)).collect();
    for action in actions.iter_mut().filter(|a| adoptable(a)) {
        let title = gitlab_title(&action.title).to_owned();
        let Some(issues) = candidates.get(title.as_str()) else {
            continue;
        };
        let items = wanted[&title];
        match (issues.as_slice(), items) {
            ([issue], 1) => adopt(action, issue),
            ([issue], _) => action.warnings.push(format!(
                "issue #{} has this title, as do {items} items of the page: not adopted, as one issue never takes two items",
                issue.iid
            )),
            (several, _) => {
                let iids: Vec<String> = several.iter().map(|i| format!("#{}", i.iid)).collect();
                action.warnings.push(format!(
                    "{} open issues without a handbook-sync marker have this title ({}): none is adopted; close or retitle all but one and plan again",
                    several.len(),
                    iids.join(", ")
                ));
            }
        }
    }
}

/// A create of an item that is active: created open, so an open issue can stand for it.
fn adoptable(action: &Action) -> bool {
    action.action == ActionKind::Create
        && matches!(&action.write, Some(Write::Create(new)) if new.state == IssueState::Opened)
}

/// Makes `action`, a create, the adoption of `issue`.
fn adopt(action: &mut Action, issue: &ObservedIssue) {
    let Some(Write::Create(new)) = action.write.take() else {
        return;
    };
    let to = action.changes.assignee.as_ref().and_then(|c| c.to.clone());
    let swap = AssigneeSwap {
        remove: None,
        add: to.clone(),
    };
    // What the issue shows now, where it will change.
    action.changes.assignee = (!swap.is_noop(&issue.assignees)).then(|| Change {
        from: issue.assignees.first().cloned(),
        to,
    });
    action.action = ActionKind::Adopt;
    action.iid = Some(issue.iid);
    action.reason = "an open issue with this title, made by hand: taken over (adopt)".into();
    action.write = Some(Write::Adopt(Box::new(Adoption {
        iid: issue.iid,
        new: *new,
        assignee: swap,
    })));
}

#[cfg(test)]
mod tests {
    use super::super::{PlanSettings, plan_page_adopting};
    use super::*;
    use crate::sync::desired::{DesiredIssue, PageSpec};

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
            allow_mass_create: false,
            today: "2026-11-27".into(),
            adopt: true,
        }
    }

    fn item(title: &str) -> DesiredIssue {
        DesiredIssue {
            key: title.to_lowercase().replace(' ', "-"),
            title: title.into(),
            body: String::new(),
            source: "Source: PM".into(),
            section: Vec::new(),
            status: crate::parse::ItemStatus::Active,
            state: IssueState::Opened,
            assignee: Some("sytses".into()),
            owner_name: None,
            assignee_problem: None,
            labels: vec!["handbook-sync".into(), "handbook::pm".into()],
            line: 1,
        }
    }

    fn hand_made(iid: u64, title: &str, state: IssueState) -> ObservedIssue {
        ObservedIssue::new(
            iid,
            title.into(),
            "Written by a person",
            state,
            vec!["bug".into()],
            Vec::new(),
        )
    }

    /// Plans `items` with every issue of `observed` a vetted candidate.
    fn plan_page(
        spec: &PageSpec,
        items: Vec<DesiredIssue>,
        observed: &[ObservedIssue],
        settings: &PlanSettings,
    ) -> super::super::PagePlan {
        plan_page_adopting(spec, items, observed, observed, settings)
    }

    fn kinds(actions: &[Action]) -> Vec<(ActionKind, Option<u64>)> {
        actions.iter().map(|a| (a.action, a.iid)).collect()
    }

    #[test]
    fn an_item_takes_over_the_one_open_issue_with_its_title() {
        let observed = [
            hand_made(3, "Answer the phone", IssueState::Opened),
            hand_made(4, "Keep the roadmap ", IssueState::Opened),
            hand_made(5, "Plan the year", IssueState::Closed),
            hand_made(6, "answer the phone too", IssueState::Opened),
        ];
        let plan = plan_page(
            &spec(),
            vec![
                item("Answer the phone"),
                item("Keep the roadmap"),
                item("Plan the year"),
            ],
            &observed,
            &settings(),
        );
        assert_eq!(
            kinds(&plan.actions),
            [
                (ActionKind::Adopt, Some(3)),
                (ActionKind::Adopt, Some(4)),
                (ActionKind::Create, None),
            ],
            "exact title as GitLab strips it; never a closed issue"
        );
        let without = plan_page(
            &spec(),
            vec![item("Answer the phone")],
            &observed,
            &PlanSettings {
                adopt: false,
                ..settings()
            },
        );
        assert_eq!(kinds(&without.actions), [(ActionKind::Create, None)]);
    }

    /// An issue the plan observes (it carries the managed or the page's label) but that
    /// the shell did not vet (a stranger opened it) is never adopted.
    #[test]
    fn only_vetted_candidates_are_adopted() {
        let observed = [hand_made(3, "Answer the phone", IssueState::Opened)];
        let plan = plan_page_adopting(
            &spec(),
            vec![item("Answer the phone")],
            &observed,
            &[],
            &settings(),
        );
        assert_eq!(kinds(&plan.actions), [(ActionKind::Create, None)]);
        let plan = super::super::plan_page(
            &spec(),
            vec![item("Answer the phone")],
            &observed,
            &settings(),
        );
        assert_eq!(kinds(&plan.actions), [(ActionKind::Create, None)]);
    }

    #[test]
    fn ambiguity_adopts_nothing_and_says_why() {
        let two = [
            hand_made(3, "Answer the phone", IssueState::Opened),
            hand_made(7, "Answer the phone", IssueState::Opened),
        ];
        let plan = plan_page(&spec(), vec![item("Answer the phone")], &two, &settings());
        assert_eq!(kinds(&plan.actions), [(ActionKind::Create, None)]);
        assert!(plan.actions[0].warnings[0].contains("(#3, #7): none is adopted"));

        let one = [hand_made(3, "Answer the phone", IssueState::Opened)];
        let plan = plan_page(
            &spec(),
            vec![item("Answer the phone"), item("Answer the phone")],
            &one,
            &settings(),
        );
        assert_eq!(
            kinds(&plan.actions),
            [(ActionKind::Create, None), (ActionKind::Create, None)]
        );
        assert!(plan.actions[1].warnings[0].contains("one issue never takes two items"));
    }

    #[test]
    fn an_issue_with_a_block_or_another_pages_marker_is_never_adopted() {
        let other = crate::sync::marker::Marker {
            v: 1,
            page: "other".into(),
            key: "answer-the-phone".into(),
            title: "Answer the phone".into(),
            status: crate::sync::marker::MarkerStatus::Active,
            state: Some(IssueState::Opened),
            assignee: None,
            labels: Vec::new(),
            block: marker::hash("b"),
            since: None,
        };
        let observed = [ObservedIssue::new(
            3,
            "Answer the phone".into(),
            &marker::render("", "b", &other, ""),
            IssueState::Opened,
            Vec::new(),
            Vec::new(),
        )];
        let plan = plan_page(
            &spec(),
            vec![item("Answer the phone")],
            &observed,
            &settings(),
        );
        assert_eq!(kinds(&plan.actions), [(ActionKind::Create, None)]);
    }

    #[test]
    fn the_adopted_description_keeps_the_persons_text_above_the_block() {
        let observed = [hand_made(3, "Answer the phone", IssueState::Opened)];
        let plan = plan_page(
            &spec(),
            vec![item("Answer the phone")],
            &observed,
            &settings(),
        );
        let action = &plan.actions[0];
        let written = action
            .adoption_onto(
                "Answer the phone",
                IssueState::Opened,
                "Written by a person\n",
            )
            .unwrap();
        let parsed = marker::parse(&written).unwrap();
        assert_eq!(parsed.before, "Written by a person\n\n");
        let m = parsed.marker.unwrap();
        assert_eq!(
            (m.page.as_str(), m.key.as_str()),
            ("pm", "answer-the-phone")
        );
        assert_eq!(m.block, marker::hash(&parsed.block));
        // Changed since the plan: not written.
        assert!(
            action
                .adoption_onto("Answer the phone", IssueState::Closed, "")
                .is_err()
        );
        assert!(
            action
                .adoption_onto("Answer the phones", IssueState::Opened, "")
                .is_err()
        );
        assert!(
            action
                .adoption_onto("Answer the phone", IssueState::Opened, &written)
                .is_err()
        );
    }
}
