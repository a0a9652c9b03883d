//! `plan` and `apply` end to end: the binary as a process, against the sandbox over HTTP.
//! What they refuse or leave alone is `sync_e2e_guards`'.

use crate::common;

use common::{World, page_toml, pm_page};
use reqwest::Method;
use serde_json::Value;

pub(crate) const PROJECT: &str = "acme/roadmap";

pub(crate) async fn pm_world() -> World {
    let world = World::new(&page_toml("product-manager", "pm.md", PROJECT), "").await;
    world.write_page("pm.md", &pm_page());
    world
}

fn titled<'a>(issues: &'a [Value], title: &str) -> &'a Value {
    issues
        .iter()
        .find(|i| i["title"] == title)
        .unwrap_or_else(|| panic!("no issue titled {title:?}"))
}

fn labels(issue: &Value) -> Vec<&str> {
    issue["labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect()
}

fn assignee(issue: &Value) -> Option<&str> {
    issue["assignee"]["username"].as_str()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_product_manager_page_becomes_fifty_labeled_assigned_issues_and_a_second_apply_writes_nothing()
 {
    // The default tier, Free: the board is created too (GitLab 12.1 and later), so the
    // second apply has nothing to do.
    let world = pm_world().await;
    world.apply_ok().await;
    let issues = world.issues(PROJECT).await;
    assert_eq!(issues.len(), 50);
    let open: Vec<&Value> = issues.iter().filter(|i| i["state"] == "opened").collect();
    let closed: Vec<&Value> = issues.iter().filter(|i| i["state"] == "closed").collect();
    assert_eq!((open.len(), closed.len()), (43, 7));
    for issue in &issues {
        let l = labels(issue);
        assert!(
            l.contains(&"handbook-sync") && l.contains(&"handbook::product-manager"),
            "{l:?}"
        );
        assert!(l.iter().any(|l| l.starts_with("section::")), "{l:?}");
    }
    for issue in &open {
        assert_eq!(
            assignee(issue),
            Some("sytses"),
            "active items go to the page owner"
        );
        assert!(!labels(issue).contains(&"handed-over"));
    }
    for issue in &closed {
        assert!(labels(issue).contains(&"handed-over"));
    }
    assert_eq!(
        assignee(titled(&issues, "Maintain doc.gitlab.com (code/deploy)")),
        Some("drew")
    );
    assert_eq!(
        assignee(titled(&issues, "Maintain Gitlab Artwork")),
        Some("andriy")
    );
    assert_eq!(
        assignee(titled(&issues, "Ownership of Google Ads")),
        Some("ashley")
    );
    assert_eq!(
        assignee(titled(&issues, "Reply to Disqus comments")),
        None,
        "an unknown name leaves the issue unassigned"
    );
    let marketing = titled(&issues, "Do regular feature highlights");
    assert!(labels(marketing).contains(&"section::Marketing"));
    let description = marketing["description"].as_str().unwrap();
    assert!(description.contains("Source: [Product Manager Responsibilities and Tasks › Marketing](https://about.gitlab.com/jobs/product-manager/#marketing)"), "{description}");
    let handed = titled(&issues, "Maintain doc.gitlab.com (code/deploy)")["description"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(handed.contains("Handed over to @drew on "), "{handed}");

    let (code, out, _) = world.run(&["plan"]).await;
    assert_eq!(code, 0, "nothing to do:\n{out}");
    world.reset_stats().await;
    world.apply_ok().await;
    let stats = world.stats().await;
    assert_eq!(stats["writes"], 0, "a second apply writes nothing: {stats}");
    assert!(stats["reads"].as_u64().unwrap() <= 10, "{stats}");
}

/// A board to create is a change like any other: `plan` exits 2 for it alone, and once
/// `apply` made it (on Free, as on every tier since GitLab 12.1), 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_board_to_create_is_a_change_and_plan_says_so() {
    let world = World::new(
        &format!(
            "{}board = false\n",
            page_toml("product-manager", "pm.md", PROJECT)
        ),
        "",
    )
    .await;
    world.write_page("pm.md", &pm_page());
    world.apply_ok().await;
    world.write_config(&page_toml("product-manager", "pm.md", PROJECT), "");
    let (code, out, err) = world.run(&["plan"]).await;
    assert_eq!(code, 2, "only the board is left to make:\n{out}\n{err}");
    world.apply_ok().await;
    let boards = world
        .api(Method::GET, "/projects/acme%2Froadmap/boards", &[])
        .await;
    assert_eq!(boards.as_array().unwrap().len(), 1, "{boards}");
    let (code, out, err) = world.run(&["plan"]).await;
    assert_eq!(code, 0, "{out}\n{err}");
}

/// A board GitLab refuses although the token may write issues (a project whose issues or
/// boards a setting turns off; the sandbox's `forbid` fault) is a failure that names
/// what the token needs (`admin_issue_board`), not a tier: the issues are written all the
/// same and `apply` exits 1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_board_fails_with_the_right_it_needs_and_the_issues_still_sync() {
    let world = pm_world().await;
    let faults = serde_json::json!({"forbid": ["POST /projects/:id/boards"]});
    let r = world
        .http
        .put(format!("{}/-/sandbox/faults", world.sandbox.url))
        .json(&faults)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let (code, _, err) = world.run(&["apply"]).await;
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("403 Forbidden"), "{err}");
    assert!(
        err.contains("may not change issue boards in acme/roadmap (`admin_issue_board`"),
        "{err}"
    );
    assert_eq!(world.issues(PROJECT).await.len(), 50);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handbook_edits_reword_move_hand_over_remove_restore_and_add() {
    let world = pm_world().await;
    world.apply_ok().await;
    let before = world.issues(PROJECT).await;
    let iid_of = |issues: &[Value], title: &str| titled(issues, title)["iid"].as_u64().unwrap();
    let mut page = pm_page();
    let mut edit = |from: &str, to: &str| {
        assert!(page.contains(from), "{from}");
        page = page.replacen(from, to, 1);
        page.clone()
    };

    // Reworded: same issue, new title.
    world.write_page(
        "pm.md",
        &edit(
            "- Maintain the mailinglists + automation",
            "- Maintain the mailing lists and their automation",
        ),
    );
    world.apply_ok().await;
    let issues = world.issues(PROJECT).await;
    assert_eq!(issues.len(), 50);
    assert_eq!(
        iid_of(&issues, "Maintain the mailing lists and their automation"),
        iid_of(&before, "Maintain the mailinglists + automation")
    );

    // Moved to another section: same issue, section label swapped.
    let moved = "- Give trainings to customers\n";
    edit(moved, "");
    world.write_page(
        "pm.md",
        &edit("## Internal\n\n", &format!("## Internal\n\n{moved}")),
    );
    world.apply_ok().await;
    let issues = world.issues(PROJECT).await;
    let training = titled(&issues, "Give trainings to customers");
    assert_eq!(
        training["iid"].as_u64().unwrap(),
        iid_of(&before, "Give trainings to customers")
    );
    assert!(labels(training).contains(&"section::Internal"));
    assert!(
        !labels(training)
            .iter()
            .any(|l| l.starts_with("section::Things")),
        "{:?}",
        labels(training)
    );

    // Struck and handed over: closed, assigned, labeled.
    world.write_page(
        "pm.md",
        &edit("- Maintain CF Tile", "- ~~Maintain CF Tile~~ => Drew"),
    );
    let (code, out, _) = world.run(&["plan"]).await;
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("- close")
            && out.contains("Maintain CF Tile")
            && out.contains("handed over to @drew"),
        "{out}"
    );
    world.apply_ok().await;
    let issues = world.issues(PROJECT).await;
    let tile = titled(&issues, "Maintain CF Tile");
    assert_eq!(
        (tile["state"].as_str(), assignee(tile)),
        (Some("closed"), Some("drew"))
    );
    assert!(labels(tile).contains(&"handed-over"));

    // Removed: closed, with the reason in its description.
    let removed = "- Be support back up / handle European calls\n";
    world.write_page("pm.md", &edit(removed, ""));
    world.apply_ok().await;
    let issues = world.issues(PROJECT).await;
    let gone = titled(&issues, "Be support back up / handle European calls");
    assert_eq!(gone["state"], "closed");
    assert!(
        gone["description"]
            .as_str()
            .unwrap()
            .contains("Removed from the handbook on "),
        "{}",
        gone["description"]
    );

    // Put back: the same issue reopens.
    world.write_page(
        "pm.md",
        &edit(
            "- Interview candidates",
            &format!("{removed}- Interview candidates"),
        ),
    );
    world.apply_ok().await;
    let issues = world.issues(PROJECT).await;
    let back = titled(&issues, "Be support back up / handle European calls");
    assert_eq!(
        (back["state"].as_str(), back["iid"].as_u64()),
        (Some("opened"), Some(gone["iid"].as_u64().unwrap()))
    );
    assert!(
        !back["description"]
            .as_str()
            .unwrap()
            .contains("Removed from the handbook")
    );

    // New bullet: a new issue.
    world.write_page(
        "pm.md",
        &edit(
            "## Internal\n\n",
            "## Internal\n\n- Write the quarterly product review\n",
        ),
    );
    world.apply_ok().await;
    let issues = world.issues(PROJECT).await;
    assert_eq!(issues.len(), 51);
    assert_eq!(
        titled(&issues, "Write the quarterly product review")["state"],
        "opened"
    );

    let (code, out, _) = world.run(&["plan"]).await;
    assert_eq!(code, 0, "converged:\n{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manual_changes_are_kept_and_reported_or_restored_with_enforce() {
    let mut world = pm_world().await;
    world.apply_ok().await;
    let issues = world.issues(PROJECT).await;
    let a = titled(&issues, "Handle feature requests from sales")["iid"]
        .as_u64()
        .unwrap();
    let b = titled(&issues, "Do regular feature highlights")["iid"]
        .as_u64()
        .unwrap();
    let ashley = world.api(Method::GET, "/users?username=ashley", &[]).await[0]["id"].to_string();
    world
        .api(
            Method::PUT,
            &format!("/projects/acme%2Froadmap/issues/{a}"),
            &[("state_event", "close"), ("add_labels", "customer-request")],
        )
        .await;
    world
        .api(
            Method::PUT,
            &format!("/projects/acme%2Froadmap/issues/{b}"),
            &[("assignee_ids[]", &ashley)],
        )
        .await;

    let (code, out, _) = world.run(&["apply"]).await;
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(&format!("! drift  #{a}")) && out.contains("state"),
        "{out}"
    );
    assert!(
        out.contains(&format!("! drift  #{b}")) && out.contains("assignee"),
        "{out}"
    );
    let issues = world.issues(PROJECT).await;
    let issue_a = issues.iter().find(|i| i["iid"] == a).unwrap();
    let issue_b = issues.iter().find(|i| i["iid"] == b).unwrap();
    assert_eq!(issue_a["state"], "closed", "the person's close is kept");
    assert!(labels(issue_a).contains(&"customer-request"));
    assert_eq!(
        assignee(issue_b),
        Some("ashley"),
        "the person's assignment is kept"
    );

    world.env("HANDBOOK_SYNC__SYNC__ENFORCE", "true");
    world.apply_ok().await;
    let issues = world.issues(PROJECT).await;
    let issue_a = issues.iter().find(|i| i["iid"] == a).unwrap();
    let issue_b = issues.iter().find(|i| i["iid"] == b).unwrap();
    assert_eq!(issue_a["state"], "opened", "enforce restores the state");
    assert!(
        labels(issue_a).contains(&"customer-request"),
        "a person's label always stays"
    );
    assert_eq!(
        assignee(issue_b),
        Some("sytses"),
        "enforce restores the assignee"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_outside_the_managed_block_survives_updates() {
    let world = pm_world().await;
    world.apply_ok().await;
    let issues = world.issues(PROJECT).await;
    let issue = titled(&issues, "Handle feature requests from sales");
    let iid = issue["iid"].as_u64().unwrap();
    let description = format!(
        "Context from the team: see the sales board.\n\n{}\n\nFollow-up: ask Ashley.",
        issue["description"].as_str().unwrap()
    );
    world
        .api(
            Method::PUT,
            &format!("/projects/acme%2Froadmap/issues/{iid}"),
            &[("description", &description)],
        )
        .await;

    world.write_page(
        "pm.md",
        &pm_page().replace(
            "- Handle feature requests from sales",
            "- Handle feature requests from **sales and support**",
        ),
    );
    world.apply_ok().await;
    let issues = world.issues(PROJECT).await;
    let issue = issues.iter().find(|i| i["iid"] == iid).unwrap();
    let text = issue["description"].as_str().unwrap();
    assert_eq!(
        issue["title"],
        "Handle feature requests from sales and support"
    );
    assert!(
        text.starts_with("Context from the team: see the sales board.\n\n"),
        "{text}"
    );
    assert!(text.ends_with("\n\nFollow-up: ask Ashley."), "{text}");
    assert!(text.contains("**sales and support**"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_share_a_project_or_go_to_different_ones() {
    let pages = [
        page_toml("alpha", "alpha.md", PROJECT),
        page_toml("beta", "beta.md", PROJECT),
        page_toml("gamma", "gamma.md", "acme/other"),
    ]
    .concat();
    let world = World::new(&pages, "").await;
    world.write_page(
        "alpha.md",
        "## A\n\n- Same words in two pages\n- Only in alpha\n",
    );
    world.write_page("beta.md", "## B\n\n- Same words in two pages\n");
    world.write_page("gamma.md", "## G\n\n- Only in gamma\n");
    world.apply_ok().await;
    let roadmap = world.issues(PROJECT).await;
    assert_eq!(roadmap.len(), 3);
    assert_eq!(
        roadmap
            .iter()
            .filter(|i| labels(i).contains(&"handbook::beta"))
            .count(),
        1
    );
    assert_eq!(world.issues("acme/other").await.len(), 1);
    // Removing a bullet from one page leaves the other page's twin alone.
    world.write_page("beta.md", "## B\n\n- Something else for beta\n");
    world.apply_ok().await;
    let roadmap = world.issues(PROJECT).await;
    let alpha_twin = roadmap
        .iter()
        .find(|i| i["title"] == "Same words in two pages" && labels(i).contains(&"handbook::alpha"))
        .unwrap();
    assert_eq!(alpha_twin["state"], "opened");
    let (code, _, _) = world.run(&["plan"]).await;
    assert_eq!(code, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_person_leaves_the_issue_unassigned_and_the_run_succeeds() {
    let world = World::new(&page_toml("product-manager", "pm.md", PROJECT), "").await;
    world.write_page(
        "pm.md",
        "## Duties\n\n- ~~Answer the phone~~ => Somebody New\n- Maintain CF Tile => drew\n",
    );
    let (code, out, _) = world.run(&["plan"]).await;
    assert_eq!(code, 2);
    assert!(out.contains("unknown person `Somebody New`"), "{out}");
    world.apply_ok().await;
    let issues = world.issues(PROJECT).await;
    assert_eq!(assignee(titled(&issues, "Answer the phone")), None);
    assert_eq!(
        assignee(titled(&issues, "Maintain CF Tile")),
        Some("drew"),
        "an exact username works without [people]"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_plan_of_the_product_manager_page_reads_as_a_diff_and_as_json() {
    let world = pm_world().await;
    let (code, text, _) = world.run(&["plan"]).await;
    assert_eq!(code, 2);
    insta::assert_snapshot!("plan_product_manager_text", text);
    let (code, json, _) = world.run(&["plan", "--format", "json"]).await;
    assert_eq!(code, 2);
    let mut plan: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(plan["summary"]["create"], 50);
    plan["actions"].as_array_mut().unwrap().truncate(3);
    insta::assert_json_snapshot!("plan_product_manager_json", plan);
}

/// The stages of `prepare` and `apply`, called one by one as a library user would: each
/// returns what the next takes, and nothing is written before `apply`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stages_of_a_sync_can_be_called_one_by_one() {
    use handbook_sync::sync::PageOutcome;
    use handbook_sync::sync_run::{self, Connection, PageError, PageRead, Prepared, RunError};

    let pages = format!(
        "{}\n{}",
        page_toml("product-manager", "pm.md", PROJECT),
        page_toml("missing", "missing.md", "acme/other")
    );
    let world = World::new(&pages, "").await;
    world.write_page("pm.md", &pm_page());
    let config = handbook_sync::config::Config::load(Some(&world.dir.join("config.toml"))).unwrap();
    let options = sync_run::RunOptions {
        today: "2026-11-27".into(),
        ..Default::default()
    };

    let selected = sync_run::select_pages(&config, &[]).unwrap();
    let ids: Vec<&str> = selected.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["product-manager", "missing"]);
    assert!(matches!(
        sync_run::select_pages(&config, &["nope".into()]),
        Err(RunError::UnknownPage(id)) if id == "nope"
    ));

    let connection = Connection::new(&config, common::TOKEN.to_owned().into(), None).unwrap();
    let pages = sync_run::read_pages(&config, &connection, &selected, None).await;
    match &pages[0].read {
        PageRead::Parsed(page) => assert_eq!(page.items.len(), 50),
        other => panic!("the page parses: {other:?}"),
    }
    assert!(
        matches!(
            &pages[1].read,
            PageRead::Failed(PageError::RelativeSource { .. })
        ),
        "{:?}",
        pages[1].read
    );

    let projects = sync_run::read_projects(&connection.gitlab, &pages, &config.sync).await;
    let read: Vec<&str> = projects.keys().map(String::as_str).collect();
    assert_eq!(read, [PROJECT], "the project of an unread page is not read");
    let roadmap = projects[PROJECT].as_ref().unwrap();
    assert!(roadmap.issues.is_empty());

    let people = sync_run::resolve_people(&config, &connection.gitlab, &pages, &projects).await;
    for name in ["sytses", "drew", "andriy", "ashley"] {
        assert!(people.user_ids.contains_key(name), "{name} is looked up");
    }

    let planned = sync_run::plan(&config, &options, &pages, &projects, &people);
    assert_eq!(planned.plan.summary.create, 50);
    assert_eq!(planned.plan.pages[0].outcome, PageOutcome::Ok);
    assert!(matches!(
        planned.plan.pages[1].outcome,
        PageOutcome::Skipped(_)
    ));
    assert!(
        world.issues(PROJECT).await.is_empty(),
        "nothing is written before apply"
    );

    let prepared = Prepared::new(&config, connection, planned, people);
    let applied = sync_run::apply(prepared, indicatif::ProgressBar::hidden()).await;
    assert_eq!(applied.summary.failed, 0);
    assert_eq!(applied.pages[0].outcome, PageOutcome::Ok);
    assert_eq!(world.issues(PROJECT).await.len(), 50);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_cancel_no_page_writes_anything_and_none_counts_as_applied() {
    // The daemon cancels on SIGTERM. A page reached after that must not get labels or a
    // board for issues never written, and must not be reported (and cached) as synced.
    use handbook_sync::sync::PageOutcome;
    use handbook_sync::sync_run::{self, Connection, Prepared};

    let world = pm_world().await;
    let config = handbook_sync::config::Config::load(Some(&world.dir.join("config.toml"))).unwrap();
    let options = sync_run::RunOptions {
        today: "2026-11-27".into(),
        ..Default::default()
    };
    let selected = sync_run::select_pages(&config, &[]).unwrap();
    let connection = Connection::new(&config, common::TOKEN.to_owned().into(), None).unwrap();
    let pages = sync_run::read_pages(&config, &connection, &selected, None).await;
    let projects = sync_run::read_projects(&connection.gitlab, &pages, &config.sync).await;
    let people = sync_run::resolve_people(&config, &connection.gitlab, &pages, &projects).await;
    let planned = sync_run::plan(&config, &options, &pages, &projects, &people);
    assert_eq!(planned.plan.summary.create, 50);

    world.reset_stats().await;
    let cancel = tokio_util::sync::CancellationToken::new();
    cancel.cancel();
    let applied = Prepared::new(&config, connection, planned, people)
        .with_cancel(cancel)
        .apply()
        .await;
    assert!(
        matches!(&applied.pages[0].outcome, PageOutcome::Skipped(why) if why.contains("shutting down")),
        "{:?}",
        applied.pages[0].outcome
    );
    assert_eq!(world.stats().await["writes"], 0, "nothing is written");
    assert_eq!(
        (applied.summary.create, applied.summary.failed),
        (0, 0),
        "writes that never ran are counted nowhere"
    );
}
