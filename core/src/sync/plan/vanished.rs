//! A page that left the handbook whole (its file deleted, renamed to another id, or no
//! longer qualifying for its `[[discover]]` block) while its issues are still open.
//!
//! Its plan is the plan of a page without items — every open issue closed as removed,
//! duplicates and issues a person reopened as usual — with two differences: the closes
//! name the page (in the plan's reason and in the issue's reason line), and the page is
//! always refused unless the run allows removed pages, however few issues it has. A page
//! vanishing is more often a moved or broken file than a decision to drop a role's work.

use super::write::BlockText;
use super::{ObservedIssue, PagePlan, PlanSettings, Write, plan_page};
use crate::sync::desired::PageSpec;

/// Plans the closes of a vanished page's open issues. `why` says how it vanished (for
/// the reason and the refusal); `moved_to` is the project the page is synced to now, when
/// it is still in the handbook but these issues are in another project; without `allow`
/// the plan is refused.
pub fn plan_vanished_page(
    spec: &PageSpec,
    observed: &[ObservedIssue],
    settings: &PlanSettings,
    why: &str,
    moved_to: Option<&str>,
    allow: bool,
) -> PagePlan {
    let mut plan = plan_page(spec, Vec::new(), observed, settings);
    let mut closes = 0;
    for action in &mut plan.actions {
        let Some(Write::Edit {
            description: Some(block),
            ..
        }) = &mut action.write
        else {
            continue;
        };
        if let BlockText::Removed { today } = &block.block {
            block.block = BlockText::PageRemoved {
                today: today.clone(),
                page: spec.id.clone(),
                moved_to: moved_to.map(str::to_owned),
            };
            action.reason = match moved_to {
                Some(to) => format!("its page `{}` moved to project {to} ({why})", spec.id),
                None => format!("its page `{}` left the handbook ({why})", spec.id),
            };
            closes += 1;
        }
    }
    // Any write: the closes, and duplicates' (or, with `enforce`, reopened ones').
    let writes = plan.actions.iter().any(|a| a.write.is_some());
    plan.refused = (!allow && writes).then(|| match moved_to {
        Some(to) => format!(
            "page `{}` moved to project {to} ({why}) and {closes} of its issues here are open; nothing of it is closed or created; re-run with --allow-removed-pages to close them here (the page's issues are created in {to} on the run after), or move its file back",
            spec.id
        ),
        None => format!(
            "page `{}` is no longer in the handbook ({why}) and {closes} of its issues are open; nothing of it is closed; re-run with --allow-removed-pages if it really left the handbook, or restore the page",
            spec.id
        ),
    });
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::marker::{self, Marker, MarkerStatus};
    use crate::sync::{ActionKind, IssueState};

    fn spec() -> PageSpec {
        PageSpec {
            id: "backend".into(),
            title: "Backend".into(),
            url: None,
            page_label: "handbook::backend".into(),
        }
    }

    fn settings() -> PlanSettings {
        PlanSettings {
            managed_label: "handbook-sync".into(),
            enforce: false,
            max_close_fraction: 0.25,
            allow_mass_close: true,
            allow_mass_create: false,
            today: "2026-11-30".into(),
            adopt: false,
        }
    }

    fn issue(iid: u64, key: &str, state: IssueState) -> ObservedIssue {
        let block = format!("Body {key}\n\n---\nSource: Backend");
        let m = Marker {
            v: 1,
            page: "backend".into(),
            key: key.into(),
            title: key.into(),
            status: MarkerStatus::Active,
            state: Some(IssueState::Opened),
            assignee: None,
            labels: vec!["handbook-sync".into(), "handbook::backend".into()],
            block: marker::hash(&block),
            since: None,
        };
        ObservedIssue::new(
            iid,
            key.into(),
            &marker::render("", &block, &m, ""),
            state,
            m.labels.clone(),
            vec![],
        )
    }

    #[test]
    fn a_vanished_page_is_refused_even_with_one_issue_and_even_with_mass_close_allowed() {
        let observed = [issue(1, "ship", IssueState::Opened)];
        let plan = plan_vanished_page(&spec(), &observed, &settings(), "deleted", None, false);
        let refusal = plan.refused.expect("refused");
        assert!(
            refusal.contains("page `backend`") && refusal.contains("--allow-removed-pages"),
            "{refusal}"
        );
        assert_eq!(plan.actions.len(), 1);
        assert_eq!(plan.actions[0].action, ActionKind::Close);
    }

    #[test]
    fn allowed_it_closes_the_open_issues_naming_the_page() {
        let observed = [
            issue(1, "ship", IssueState::Opened),
            issue(2, "mentor", IssueState::Closed),
        ];
        let plan = plan_vanished_page(&spec(), &observed, &settings(), "deleted", None, true);
        assert_eq!(plan.refused, None);
        assert_eq!(plan.actions.len(), 1, "a closed issue stays as it is");
        let close = &plan.actions[0];
        assert_eq!(close.iid, Some(1));
        assert!(
            close
                .reason
                .contains("page `backend` left the handbook (deleted)"),
            "{}",
            close.reason
        );
        let Some(Write::Edit {
            description: Some(block),
            state,
            ..
        }) = &close.write
        else {
            panic!("a close that rewrites the block");
        };
        assert_eq!(*state, Some(IssueState::Closed));
        let current = marker::render("", "Body ship\n\n---\nSource: Backend", &block.marker, "");
        let written = block.apply_to(&current).unwrap().description;
        assert!(
            written.contains("Removed from the handbook on 2026-11-30: its page `backend` is no longer in the handbook."),
            "{written}"
        );
    }

    #[test]
    fn a_vanished_page_with_nothing_open_is_not_refused() {
        let observed = [issue(1, "ship", IssueState::Closed)];
        let plan = plan_vanished_page(&spec(), &observed, &settings(), "deleted", None, false);
        assert_eq!(plan.refused, None);
        assert!(plan.actions.is_empty());
    }
}
