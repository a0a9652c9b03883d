//! The plan as Markdown for a merge request note (`plan --format markdown`): pure
//! rendering, snapshot-tested, inert (no mentions, label references or quick actions),
//! and always within GitLab's note size (`Gitlab::Database::MAX_TEXT_SIZE_LIMIT`, the
//! `length: { maximum: }` of `app/models/note.rb`).

use std::collections::BTreeMap;

use handbook_sync::sync::markdown::{GITLAB_NOTE_LIMIT, MarkdownOptions, NOTE_MARKER};
use handbook_sync::sync::plan::{Change, Changes};
use handbook_sync::sync::{
    Action, ActionKind, IssueState, PageOutcome, PagePlan, PageReport, Plan,
};

fn action(
    kind: ActionKind,
    iid: Option<u64>,
    title: &str,
    changes: Changes,
    reason: &str,
) -> Action {
    Action {
        action: kind,
        page: "product-manager".into(),
        key: title.to_lowercase().replace(' ', "-"),
        iid,
        title: title.into(),
        changes,
        reason: reason.into(),
        warnings: Vec::new(),
        write: None,
        result: None,
    }
}

fn page(id: &str, outcome: PageOutcome, labels: &[&str]) -> PageReport {
    PageReport {
        id: id.into(),
        project: "acme/roadmap".into(),
        outcome,
        create_labels: labels.iter().map(|l| l.to_string()).collect(),
        warnings: Vec::new(),
        items: BTreeMap::new(),
    }
}

fn user(name: Option<&str>) -> Option<String> {
    name.map(str::to_owned)
}

/// One action of each kind, a refused and a failed page, and text that would mention,
/// reference or break a table if written as is.
fn varied_plan() -> Plan {
    let mut create = action(
        ActionKind::Create,
        None,
        "Do regular feature highlights",
        Changes {
            assignee: Some(Change {
                from: None,
                to: user(Some("sytses")),
            }),
            ..Default::default()
        },
        "new in the handbook",
    );
    create
        .warnings
        .push("“Pat” is not a GitLab user: left unassigned".into());
    let actions = vec![
        create,
        action(
            ActionKind::Update,
            Some(12),
            "Maintain the mailing lists | and ~labels",
            Changes {
                title: Some(Change {
                    from: "Maintain the list".into(),
                    to: "Maintain the mailing lists | and ~labels".into(),
                }),
                description: true,
                ..Default::default()
            },
            "reworded (was “Maintain the list”)",
        ),
        action(
            ActionKind::Conflict,
            Some(12),
            "Maintain the mailing lists | and ~labels",
            Changes::default(),
            "a person and the handbook both changed the text; the person's version is kept in a note",
        ),
        action(
            ActionKind::Close,
            Some(35),
            "Maintain CF Tile",
            Changes {
                assignee: Some(Change {
                    from: user(Some("sytses")),
                    to: user(Some("drew")),
                }),
                state: Some(Change {
                    from: IssueState::Opened,
                    to: IssueState::Closed,
                }),
                add_labels: vec!["handed-over".into()],
                ..Default::default()
            },
            "handed over to @drew in the handbook",
        ),
        action(
            ActionKind::Reopen,
            Some(40),
            "/close the loop on #12",
            Changes {
                state: Some(Change {
                    from: IssueState::Closed,
                    to: IssueState::Opened,
                }),
                ..Default::default()
            },
            "back in the handbook",
        ),
        action(
            ActionKind::Drift,
            Some(14),
            "Handle feature requests",
            Changes {
                drifted: vec!["state".into()],
                ..Default::default()
            },
            "changed by a person: state; kept (enforce = false)",
        ),
    ];
    let mut plan = Plan::default();
    let mut product_manager = page("product-manager", PageOutcome::Ok, &["section::Marketing"]);
    product_manager
        .warnings
        .push("label `Section::Marketing` differs from `section::Marketing` only in case".into());
    plan.add_page(
        product_manager,
        PagePlan {
            actions,
            refused: None,
            unchanged: 44,
        },
    );
    plan.add_page(
        page(
            "engineering",
            PageOutcome::Refused("would close 9 of 12 open issues (more than 25%)".into()),
            &[],
        ),
        PagePlan {
            actions: Vec::new(),
            refused: None,
            unchanged: 0,
        },
    );
    plan.add_page(
        page(
            "design",
            PageOutcome::Skipped("reading handbook/design.md: No such file or directory".into()),
            &[],
        ),
        PagePlan {
            actions: Vec::new(),
            refused: None,
            unchanged: 0,
        },
    );
    plan
}

fn options() -> MarkdownOptions<'static> {
    MarkdownOptions {
        heading: "handbook-sync plan",
        gitlab_url: Some("https://gitlab.example.com/"),
        max_len: GITLAB_NOTE_LIMIT,
        applied: false,
    }
}

#[test]
fn every_kind_of_action_reads_as_a_table_row_with_problems_first() {
    let text = varied_plan().to_markdown(&options());
    insta::assert_snapshot!("plan_markdown_varied", text);
    assert!(text.starts_with(NOTE_MARKER));
    // Nobody is mentioned, nothing referenced, no line could be a quick action: every
    // `@`, `~` and `#` outside links is inside code or escaped.
    for line in text.lines() {
        assert!(!line.starts_with('/'), "{line}");
    }
    let outside_code: String = text.split('`').step_by(2).collect();
    assert!(!outside_code.contains('@'), "{outside_code}");
    assert!(!outside_code.contains(" ~"), "{outside_code}");
    assert!(text.contains("`@sytses → @drew`"));
    assert!(text.contains("[#35](https://gitlab.example.com/acme/roadmap/-/issues/35)"));
    assert!(text.contains("`~labels`"), "{text}");
    assert!(text.contains(r"lists \| and"), "{text}");
    assert!(text.contains("| **conflict** | [#12]"), "{text}");
    assert!(text.contains("**1 in conflict**"), "{text}");
    assert!(
        text.contains("> :warning: Page `product-manager`: label"),
        "{text}"
    );
}

#[test]
fn an_empty_plan_says_there_is_nothing_to_do() {
    let mut plan = Plan::default();
    plan.add_page(
        page("product-manager", PageOutcome::Ok, &[]),
        PagePlan {
            actions: Vec::new(),
            refused: None,
            unchanged: 50,
        },
    );
    insta::assert_snapshot!("plan_markdown_empty", plan.to_markdown(&options()));
}

fn big_plan(n: usize) -> Plan {
    let long =
        "Own the quarterly planning of the product area and everything that follows from it "
            .repeat(3);
    let actions = (0..n)
        .map(|i| {
            action(
                ActionKind::Close,
                Some(i as u64 + 1),
                &format!("{i} {}", &long[..200]),
                Changes {
                    assignee: Some(Change {
                        from: user(Some("sytses")),
                        to: user(Some("drew")),
                    }),
                    state: Some(Change {
                        from: IssueState::Opened,
                        to: IssueState::Closed,
                    }),
                    add_labels: vec!["handed-over".into()],
                    remove_labels: vec!["section::Some long section › Subsection".into()],
                    ..Default::default()
                },
                "handed over to @drew in the handbook",
            )
        })
        .collect();
    let mut plan = Plan::default();
    plan.add_page(
        page("product-manager", PageOutcome::Ok, &[]),
        PagePlan {
            actions,
            refused: None,
            unchanged: 0,
        },
    );
    plan
}

#[test]
fn a_page_with_500_changes_fits_in_one_note_collapsed() {
    let text = big_plan(500).to_markdown(&options());
    assert!(text.chars().count() <= GITLAB_NOTE_LIMIT, "{}", text.len());
    assert!(text.contains("<details><summary>500 actions</summary>"));
    assert_eq!(
        text.lines()
            .filter(|l| l.starts_with("| **close** |"))
            .count(),
        500
    );
    assert!(!text.contains("more action(s)"));
}

#[test]
fn a_plan_too_big_for_a_note_ends_with_a_truncation_line_instead() {
    let limit = 20_000;
    let text = big_plan(500).to_markdown(&MarkdownOptions {
        max_len: limit,
        ..options()
    });
    assert!(text.len() <= limit, "{}", text.len());
    let shown = text
        .lines()
        .filter(|l| l.starts_with("| **close** |"))
        .count();
    assert!(shown > 10 && shown < 500, "{shown}");
    assert!(
        text.contains(&format!("… and {} more action(s)", 500 - shown)),
        "{}",
        &text[text.len() - 400..]
    );
    assert!(
        text.contains("**0 to create, 0 to update, 500 to close"),
        "the summary stays"
    );
    assert_eq!(
        text.matches("</details>").count(),
        1,
        "the collapsed table is closed"
    );
}

/// GitLab's reference patterns need no space before them, only no word character
/// (`lib/banzai/filter/references/user_reference_filter.rb` matches `User.reference_pattern`,
/// `(?<!\w)@username`): `(@alice)` in a title or a reason mentions Alice, `"#12"` links
/// issue 12. Such words are written as code; an e-mail address is left as text.
#[test]
fn mentions_and_references_inside_punctuation_are_inert_too() {
    let mut plan = Plan::default();
    let mut act = action(
        ActionKind::Update,
        Some(7),
        "Ask Alice (@alice) about \"#12\", [~backlog] and !3",
        Changes {
            description: true,
            ..Default::default()
        },
        "reworded by (@bob); see alice@example.com",
    );
    act.warnings.push("handed over to \"@carol\"".into());
    plan.add_page(
        page("product-manager", PageOutcome::Ok, &[]),
        PagePlan {
            actions: vec![act],
            refused: None,
            unchanged: 0,
        },
    );
    let text = plan.to_markdown(&options());
    let outside_code: String = text.split('`').step_by(2).collect();
    for reference in ["@alice", "@bob", "@carol", "#12", "~backlog", "!3"] {
        assert!(
            !outside_code.contains(reference),
            "{reference} outside code:\n{text}"
        );
    }
    assert!(text.contains("`(@alice)`"), "{text}");
    assert!(text.contains("alice@example.com"), "{text}");
    assert!(!text.contains("`alice@example.com`"), "{text}");
}
