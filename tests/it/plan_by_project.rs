//! A plan over a whole handbook (hundreds of pages, dozens of projects) reads by project:
//! the text plan and the merge request note put each project's pages under one line and
//! count the pages with nothing to do instead of listing them, and the note names every
//! changed page even when its rows no longer fit in GitLab's note size.

use std::collections::BTreeMap;

use handbook_sync::sync::markdown::{GITLAB_NOTE_LIMIT, MarkdownOptions};
use handbook_sync::sync::plan::{Change, Changes};
use handbook_sync::sync::{
    Action, ActionKind, IssueState, PageOutcome, PagePlan, PageReport, Plan,
};

fn close(page: &str, i: usize) -> Action {
    Action {
        action: ActionKind::Close,
        page: page.into(),
        key: format!("k{i}"),
        iid: Some(i as u64 + 1),
        title: format!(
            "{i} Own the quarterly planning of the product area and everything that follows from it"
        ),
        changes: Changes {
            state: Some(Change {
                from: IssueState::Opened,
                to: IssueState::Closed,
            }),
            ..Default::default()
        },
        reason: "removed from the handbook".into(),
        warnings: Vec::new(),
        write: None,
        result: None,
    }
}

/// 500 pages across 50 projects (page `p` in project `p % 50`); the even pages below 250
/// have 50 closes each (so even projects have five such pages, odd ones none), the
/// others nothing to do.
fn handbook_plan() -> Plan {
    let mut plan = Plan::default();
    for p in 0..500 {
        let id = format!("page-{p:03}");
        let actions = if p < 250 && p % 2 == 0 {
            (0..50).map(|i| close(&id, i)).collect()
        } else {
            Vec::new()
        };
        plan.add_page(
            PageReport {
                project: format!("roadmaps/team-{:02}", p % 50),
                id,
                outcome: PageOutcome::Ok,
                create_labels: Vec::new(),
                warnings: Vec::new(),
                items: BTreeMap::new(),
            },
            PagePlan {
                actions,
                refused: None,
                unchanged: 0,
            },
        );
    }
    plan
}

#[test]
fn the_text_plan_groups_pages_by_project_and_counts_the_quiet_ones() {
    let text = handbook_plan().to_text();
    assert_eq!(
        text.matches("\nproject roadmaps/team-").count() + 1,
        50,
        "{}",
        &text[..300]
    );
    assert!(
        text.starts_with("project roadmaps/team-00: 10 page(s), 5 with nothing to do\n"),
        "{}",
        &text[..300]
    );
    assert!(text.contains("project roadmaps/team-01: 10 page(s), nothing to do\n"));
    assert!(text.contains("page page-000 → roadmaps/team-00 [ok]"));
    assert!(
        !text.contains("page page-001 "),
        "a quiet page is counted, not listed"
    );
    // Within a project, its pages stay together.
    let team0 = text.find("project roadmaps/team-00").unwrap();
    let team1 = text.find("project roadmaps/team-01").unwrap();
    let page50 = text.find("page page-050 ").unwrap();
    assert!(team0 < page50 && page50 < team1);
}

#[test]
fn the_note_names_every_changed_page_even_when_rows_are_left_out() {
    let plan = handbook_plan();
    for max_len in [GITLAB_NOTE_LIMIT, 200_000] {
        let text = plan.to_markdown(&MarkdownOptions {
            max_len,
            ..Default::default()
        });
        assert!(text.len() <= max_len, "{}", text.len());
        for p in (0..250).step_by(2) {
            assert!(
                text.contains(&format!(
                    "#### Page `page-{p:03}` → `roadmaps/team-{:02}`: 50 to close",
                    p % 50
                )),
                "page-{p:03} missing at {max_len}"
            );
        }
        assert!(!text.contains("`page-001`"), "quiet pages are counted");
        assert_eq!(text.matches("### Project `roadmaps/team-").count(), 50);
        let rows = text
            .lines()
            .filter(|l| l.starts_with("| **close** |"))
            .count();
        if rows < 6250 {
            assert!(
                text.contains(&format!("… and {} more action(s)", 6250 - rows)),
                "{}",
                &text[text.len() - 300..]
            );
        }
    }
}
