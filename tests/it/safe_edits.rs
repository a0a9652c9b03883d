//! A tracker people use every day: handbook text never acts as a quick action, a handoff
//! keeps the assignees people added, and what a person writes while a sync runs, or into
//! the managed block before the handbook changes it, is never lost. `plan` and `apply`
//! as processes against the sandbox.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

use crate::common::{World, page_toml};

const ISSUES: &str = "/projects/acme%2Froadmap/issues";

async fn world(tier: gitlab_sandbox::Tier) -> World {
    World::with_tier(&page_toml("pm", "pm.md", "acme/roadmap"), "", tier).await
}

/// The issue titled `title`.
async fn issue(world: &World, title: &str) -> Value {
    world
        .issues("acme/roadmap")
        .await
        .into_iter()
        .find(|i| i["title"] == title)
        .unwrap_or_else(|| panic!("no issue “{title}”"))
}

/// Replaces an issue's description as a person would, in the web editor.
async fn edit_description(world: &World, iid: u64, description: &str) {
    world
        .api(
            Method::PUT,
            &format!("{ISSUES}/{iid}"),
            &[("description", description)],
        )
        .await;
}

/// `plan` must find nothing to do.
async fn assert_plan_empty(world: &World) {
    let (code, out, err) = world.run(&["plan"]).await;
    assert_eq!(code, 0, "a second plan has nothing to do:\n{out}\n{err}");
}

/// GitLab runs a description line that starts with `/` and a command name
/// (`lib/gitlab/quick_actions/extractor.rb`, `^\/(?<cmd>…)`; run on edit by
/// `app/services/issuable_base_service.rb`, `/close` in
/// `lib/gitlab/quick_actions/issue_and_merge_request_actions.rb`) and removes it from
/// what it stores. A bullet whose body says `/close` must neither close its issue nor
/// lose the line, and the stored block must be the one written: no drift afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_close_command_in_a_bullet_is_text_not_an_action() {
    let world = world(gitlab_sandbox::Tier::Free).await;
    world.write_page("pm.md", "## Finance\n\n- Close the books monthly\n");
    world.apply_ok().await;
    world.write_page(
        "pm.md",
        "## Finance\n\n- Close the books monthly\n\n  /close\n  /label ~oops\n",
    );
    world.apply_ok().await;
    let issue = issue(&world, "Close the books monthly").await;
    assert_eq!(issue["state"], "opened", "the issue was not closed");
    let description = issue["description"].as_str().unwrap();
    assert!(
        description.contains("\n\\/close\n\\/label ~oops\n"),
        "the lines are kept, escaped so that Markdown shows `/close`: {description}"
    );
    assert_plan_empty(&world).await;
}

/// User ids by username (`GET /users?username=`, `lib/api/users.rb`).
async fn user_id(world: &World, username: &str) -> String {
    let users = world
        .api(Method::GET, &format!("/users?username={username}"), &[])
        .await;
    users[0]["id"].to_string()
}

fn usernames(issue: &Value) -> Vec<String> {
    let mut names: Vec<String> = issue["assignees"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    names
}

/// GitLab Premium keeps every assignee (`ee/app/models/ee/issue.rb`
/// `allows_multiple_assignees?`; `assignee_ids` replaces the whole set in
/// `app/services/issuable_base_service.rb`). A handoff replaces the owner handbook-sync
/// assigned and keeps the colleague a person added beside them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handoff_on_premium_keeps_the_assignee_a_person_added() {
    let world = world(gitlab_sandbox::Tier::Premium).await;
    world.write_page("pm.md", "## Duties\n\n- Keep the roadmap public\n");
    world.apply_ok().await;
    let iid = issue(&world, "Keep the roadmap public").await["iid"]
        .as_u64()
        .unwrap();
    let (sytses, ashley) = (
        user_id(&world, "sytses").await,
        user_id(&world, "ashley").await,
    );
    world
        .api(
            Method::PUT,
            &format!("{ISSUES}/{iid}"),
            &[("assignee_ids[]", &ashley), ("assignee_ids[]", &sytses)],
        )
        .await;
    assert_eq!(
        usernames(&issue(&world, "Keep the roadmap public").await),
        ["ashley", "sytses"]
    );
    assert_plan_empty(&world).await;

    world.write_page(
        "pm.md",
        "## Duties\n\n- ~~Keep the roadmap public~~ => Drew\n",
    );
    world.apply_ok().await;
    let handed = issue(&world, "Keep the roadmap public").await;
    assert_eq!(handed["state"], "closed");
    assert_eq!(
        usernames(&handed),
        ["ashley", "drew"],
        "the owner is handed over, the colleague stays"
    );
    assert_plan_empty(&world).await;
}

/// A person's edit that lands after `apply` read the issues and before it writes. Each
/// request is slowed (`/-/sandbox/faults` `latency_ms`); as soon as the issue list has been
/// answered, a person adds a line above the managed block. The edit that follows must go
/// onto that text (`PUT /projects/:id/issues/:iid` replaces the whole description:
/// `lib/api/issues.rb`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_made_while_apply_runs_survives_its_write() {
    let world = world(gitlab_sandbox::Tier::Free).await;
    world.write_page("pm.md", "## Duties\n\n- Keep the roadmap public\n");
    world.apply_ok().await;
    let iid = issue(&world, "Keep the roadmap public").await["iid"]
        .as_u64()
        .unwrap();
    world.write_page(
        "pm.md",
        "## Duties\n\n- Keep the roadmap public\n\n  Review it every month.\n",
    );
    world.set_faults(json!({"latency_ms": 300})).await;
    world.reset_stats().await;
    let person = async {
        let deadline = Instant::now() + Duration::from_secs(20);
        while world.stats().await["by_route"]["GET /projects/:id/issues"]
            .as_u64()
            .unwrap_or(0)
            == 0
        {
            assert!(Instant::now() < deadline, "apply never listed the issues");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let now = issue(&world, "Keep the roadmap public").await;
        let description = now["description"].as_str().unwrap();
        edit_description(
            &world,
            iid,
            &format!("Ashley: the numbers are in the sheet.\n\n{description}"),
        )
        .await;
    };
    let ((code, out, err), ()) = tokio::join!(world.run(&["apply"]), person);
    assert_eq!(code, 0, "{out}\n{err}");
    world.set_faults(json!({})).await;
    let after = issue(&world, "Keep the roadmap public").await;
    let description = after["description"].as_str().unwrap();
    assert!(
        description.starts_with("Ashley: the numbers are in the sheet.\n\n"),
        "the person's line survives: {description}"
    );
    assert!(
        description.contains("Review it every month."),
        "{description}"
    );
    assert_plan_empty(&world).await;
}

/// A person rewrote the managed block, then the handbook changed it too: the plan says
/// `conflict`, and before the handbook's version is written the person's is kept in a
/// note on the issue (`POST /projects/:id/issues/:iid/notes`, `lib/api/notes.rb`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conflicting_block_is_reported_and_the_persons_version_kept_in_a_note() {
    let world = world(gitlab_sandbox::Tier::Free).await;
    world.write_page("pm.md", "## Duties\n\n- Keep the roadmap public\n");
    world.apply_ok().await;
    let before = issue(&world, "Keep the roadmap public").await;
    let iid = before["iid"].as_u64().unwrap();
    let theirs = before["description"].as_str().unwrap().replacen(
        "Keep the roadmap public\n",
        "Keep the roadmap public, and tell Ashley first\n",
        1,
    );
    edit_description(&world, iid, &theirs).await;
    world.write_page(
        "pm.md",
        "## Duties\n\n- Keep the roadmap public\n\n  Review it every month.\n",
    );

    let (code, out, err) = world.run(&["plan"]).await;
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(
        out.lines()
            .any(|l| l.contains("! conflict") && l.contains(&format!("#{iid}"))),
        "{out}"
    );
    world.apply_ok().await;
    let notes = world
        .api(Method::GET, &format!("{ISSUES}/{iid}/notes"), &[])
        .await;
    assert!(
        notes.as_array().unwrap().iter().any(|n| n["body"]
            .as_str()
            .unwrap()
            .contains("> Keep the roadmap public, and tell Ashley first")),
        "the person's version is in a note: {notes}"
    );
    let after = issue(&world, "Keep the roadmap public").await;
    let description = after["description"].as_str().unwrap();
    assert!(
        description.contains("Review it every month."),
        "{description}"
    );
    assert!(!description.contains("tell Ashley first"), "{description}");
    assert_plan_empty(&world).await;
}

/// Between the plan and its write a person takes an issue out of handbook-sync (removes
/// the `handbook-sync` label): the write does not happen, not even one that sets only
/// labels, and the run says so. The other issue is written as planned.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_issue_unmanaged_between_plan_and_apply_is_not_written() {
    use handbook_sync::config::Config;
    use handbook_sync::sync_run::{self, RunOptions};
    let world = world(gitlab_sandbox::Tier::Free).await;
    world.write_page(
        "pm.md",
        "## Duties\n\n- Keep the roadmap public\n- Answer partner questions\n",
    );
    world.apply_ok().await;
    // Both items move to another section: label-only edits of both issues.
    world.write_page(
        "pm.md",
        "## Outreach\n\n- Keep the roadmap public\n- Answer partner questions\n",
    );
    let config = Config::load(Some(&world.dir.join("config.toml"))).unwrap();
    let connection =
        sync_run::Connection::new(&config, crate::common::TOKEN.to_owned().into(), None).unwrap();
    let options = RunOptions {
        today: "2026-11-29".into(),
        ..Default::default()
    };
    let prepared = sync_run::prepare_on(&config, &connection, &options)
        .await
        .unwrap();
    assert_eq!(
        prepared.plan.summary.update,
        2,
        "{}",
        prepared.plan.to_text()
    );
    let taken = issue(&world, "Keep the roadmap public").await;
    let iid = taken["iid"].as_u64().unwrap();
    world
        .api(
            Method::PUT,
            &format!("{ISSUES}/{iid}"),
            &[("remove_labels", "handbook-sync")],
        )
        .await;
    let before = issue(&world, "Keep the roadmap public").await;
    let applied = prepared.apply().await;
    assert_eq!(applied.summary.failed, 1, "{}", applied.to_text());
    let after = issue(&world, "Keep the roadmap public").await;
    assert_eq!(after["labels"], before["labels"], "not written");
    assert_eq!(after["updated_at"], before["updated_at"], "not written");
    let other = issue(&world, "Answer partner questions").await;
    assert!(
        other["labels"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l == "section::Outreach"),
        "{other}"
    );
}
