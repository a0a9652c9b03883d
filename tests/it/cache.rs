//! The optional cache (`sync.cache_dir`): `plan` and `apply` run as processes against the
//! sandbox, as a systemd timer, a CronJob or a CI schedule runs them. A run that finds
//! neither a changed page nor a changed issue costs one request; without a cache a no-op
//! costs one issue list per 100 issues plus three reads (project, members, boards). The
//! cache is never needed for correctness: deleted, corrupt or from another configuration
//! it gives exactly the plan a run without it gives, and what people change on GitLab is
//! seen by the next run.
//!
//! The check asks for issues `updated_after` the last sync without a label filter.
//! GitLab moves an issue's `updated_at` when its labels or assignees change
//! (`app/services/issuable_base_service.rb`: `assign_requested_labels` and
//! `assign_requested_assignees` call `issuable.touch`; title, description and state are
//! saved with `touch` through `transaction_update`), so an issue whose managed label a
//! person removed is among the answers; the sandbox moves `updated_at` on any change
//! (`sandbox/src/api/issues/edit.rs`).

use crate::common;

use common::{World, page_toml};
use reqwest::Method;
use serde_json::Value;

const PROJECT: &str = "acme/roadmap";
const CACHE: &str = "[sync]\ncache_dir = \"cache\"\n";

/// A page of `n` items in sections of 25.
fn many(n: usize) -> String {
    let mut text = String::from("# Many\n");
    for i in 0..n {
        if i % 25 == 0 {
            text.push_str(&format!("\n## Area {}\n\n", i / 25));
        }
        text.push_str(&format!("- Keep part {i} in good shape\n"));
    }
    text
}

fn pages(board: bool) -> String {
    let mut toml = page_toml("many", "many.md", PROJECT);
    if !board {
        toml.push_str("board = false\n");
    }
    toml
}

/// Requests the sandbox counted since the last reset: (total, writes), then resets.
async fn requests(world: &World) -> (u64, u64, Value) {
    let stats = world.stats().await;
    world.reset_stats().await;
    (
        stats["total"].as_u64().unwrap(),
        stats["writes"].as_u64().unwrap(),
        stats,
    )
}

async fn plan_json(world: &World) -> (Value, String) {
    let (code, out, err) = world.run(&["plan", "--format", "json"]).await;
    assert!(matches!(code, 0 | 2), "plan failed ({code}):\n{out}\n{err}");
    (serde_json::from_str(&out).unwrap(), err)
}

/// The plan a run without `sync.cache_dir` makes (the cache is left as it is).
async fn cacheless_plan(world: &World, pages_toml: &str, extra: &str) -> Value {
    world.write_config(pages_toml, extra);
    plan_json(world).await.0
}

/// The check asks from the last sync minus the clock margin: issues written within the
/// margin come back again (unchanged: still a no-op, but one request per 100 of them).
/// A timer runs every 15 minutes, more than the default margin of 5 minutes; here the
/// margin is one second and the runs wait two.
const CACHE_1S: &str = "[sync]\ncache_dir = \"cache\"\ncache_clock_margin_seconds = 1\n";

async fn no_op_costs(n: usize) {
    // On Free, with the page's board (the default): a no-op reads the boards, not the
    // labels, and the cache is kept, as the board exists after the first apply.
    let world = World::new(&pages(true), CACHE_1S).await;
    world.write_page("many.md", &many(n));
    world.apply_ok().await;
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    // The first run after an apply that wrote sees its own writes as changed issues: it
    // reads in full, finds nothing to do and keeps the cache.
    world.apply_ok().await;
    world.reset_stats().await;

    world.write_config(&pages(true), "");
    let (code, out, err) = world.run(&["plan"]).await;
    assert_eq!(code, 0, "{out}\n{err}");
    let (without, writes, stats) = requests(&world).await;
    let bound = n.div_ceil(100) as u64 + 3;
    eprintln!("N = {n}: a cold no-op without a cache: {without} requests (bound {bound})");
    assert!(without <= bound, "{without} > {bound}: {stats}");
    assert_eq!(writes, 0);

    world.write_config(&pages(true), CACHE_1S);
    for command in ["plan", "apply"] {
        let (code, out, err) = world.run(&[command]).await;
        assert_eq!(code, 0, "{out}\n{err}");
        let (with, writes, stats) = requests(&world).await;
        eprintln!("N = {n}: a cold no-op `{command}` with a cache: {with} request(s)");
        assert!(with <= 3, "{with} > 3: {stats}");
        assert_eq!(writes, 0);
        assert!(err.contains("nothing to read or write"), "{err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cold_no_op_of_1000_items_costs_at_most_3_requests_with_a_cache_and_13_without() {
    no_op_costs(1000).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cold_no_op_of_10000_items_costs_at_most_3_requests_with_a_cache_and_103_without() {
    no_op_costs(10_000).await;
}

/// A cache that is gone, unreadable or from another configuration is not used: the run
/// reads in full, says why, and plans exactly what a run without a cache plans. The
/// configuration change (`enforce = true`) changes the plan without any page or issue
/// changing since the cache was written, so a cache used anyway would miss it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_corrupt_or_foreign_cache_gives_the_plan_of_a_run_without_one() {
    // No board: GitLab Free refuses to create one, so a plan with one always has a write
    // to make, and `plan` keeps no cache of a project it would write to.
    let pages = format!(
        "{}board = false\n",
        page_toml("product-manager", "pm.md", PROJECT)
    );
    let world = World::new(&pages, CACHE).await;
    world.write_page("pm.md", &common::pm_page());
    world.apply_ok().await;
    world.apply_ok().await;
    world
        .api(
            Method::PUT,
            "/projects/acme%2Froadmap/issues/1",
            &[("title", "A title a person chose")],
        )
        .await;
    let cache_dir = world.dir.join("cache");

    let expected = cacheless_plan(&world, &pages, "").await;
    assert_eq!(expected["summary"]["drift"], 1, "{expected:#}");
    world.write_config(&pages, CACHE);
    let (plan, _) = plan_json(&world).await;
    assert_eq!(plan, expected, "the intact cache sees the edit");

    std::fs::remove_dir_all(&cache_dir).unwrap();
    let (plan, err) = plan_json(&world).await;
    assert_eq!(plan, expected, "deleted cache");
    assert!(err.contains("no cache yet"), "{err}");

    let files: Vec<_> = std::fs::read_dir(&cache_dir)
        .expect("a plan without writes keeps the cache")
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let text = std::fs::read_to_string(&files[0]).unwrap();
    std::fs::write(&files[0], &text[..text.len() / 2]).unwrap();
    let (plan, err) = plan_json(&world).await;
    assert_eq!(plan, expected, "corrupt cache");
    assert!(err.contains("is corrupt"), "{err}");

    // The cache now holds this state, drift included, under the old configuration.
    let enforce = "[sync]\nenforce = true\n";
    let expected = cacheless_plan(&world, &pages, enforce).await;
    assert_eq!(expected["summary"]["update"], 1, "{expected:#}");
    world.write_config(&pages, &format!("{enforce}cache_dir = \"cache\"\n"));
    let (plan, err) = plan_json(&world).await;
    assert_eq!(plan, expected, "a cache of another configuration");
    assert!(err.contains("another configuration"), "{err}");
}

/// An issue deleted on GitLab leaves no trace in the "updated since" check, so a cached
/// run cannot see it (the documented limit); the cache is trusted for a day at most, and
/// the first run after that reads in full, says why, and plans what a run without a cache
/// plans: the deleted item is created again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cache_whose_last_full_read_is_over_a_day_old_is_read_in_full() {
    let pages = format!(
        "{}board = false\n",
        page_toml("product-manager", "pm.md", PROJECT)
    );
    let world = World::new(&pages, CACHE).await;
    world.write_page("pm.md", &common::pm_page());
    world.apply_ok().await;
    world.apply_ok().await;
    world
        .api(Method::DELETE, "/projects/acme%2Froadmap/issues/1", &[])
        .await;

    let (plan, err) = plan_json(&world).await;
    assert!(err.contains("nothing to read or write"), "{err}");
    assert_eq!(
        plan["summary"]["create"], 0,
        "the cache cannot see a deletion"
    );

    let files: Vec<_> = std::fs::read_dir(world.dir.join("cache"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let mut cache: Value = serde_json::from_slice(&std::fs::read(&files[0]).unwrap()).unwrap();
    let mut last_full_read = |hours: i64| {
        let at = chrono::Utc::now() - chrono::TimeDelta::hours(hours);
        cache["full_read_at"] = Value::String(at.to_rfc3339());
        std::fs::write(&files[0], serde_json::to_vec(&cache).unwrap()).unwrap();
    };
    last_full_read(23);
    let (_, err) = plan_json(&world).await;
    assert!(
        err.contains("nothing to read or write"),
        "23 hours: still used\n{err}"
    );

    last_full_read(25);
    let (plan, err) = plan_json(&world).await;
    assert!(err.contains("the last full read was 25 hours ago"), "{err}");
    assert_eq!(plan["summary"]["create"], 1, "{:#}", plan["summary"]);
    assert_eq!(plan, cacheless_plan(&world, &pages, "").await);
}

/// A person's edit between two cached runs is seen by the second: the check finds the
/// issue updated, the project is read in full and the edit is reported as drift.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_issue_a_person_edits_between_two_cached_runs_is_reported_as_drift() {
    let world = World::new(&page_toml("product-manager", "pm.md", PROJECT), CACHE).await;
    world.write_page("pm.md", &common::pm_page());
    world.apply_ok().await;
    world.apply_ok().await;
    let (plan, err) = plan_json(&world).await;
    assert!(err.contains("nothing to read or write"), "{err}");
    assert_eq!(plan["summary"]["drift"], 0, "{plan:#}");
    world
        .api(
            Method::PUT,
            "/projects/acme%2Froadmap/issues/2",
            &[("title", "Renamed by a person")],
        )
        .await;
    let (plan, err) = plan_json(&world).await;
    assert!(err.contains("issues changed on GitLab"), "{err}");
    assert_eq!(plan["summary"]["drift"], 1, "{plan:#}");
}

/// An issue whose managed label a person removed is found by the check (no label
/// filter), and from then on it is not handbook-sync's: the cached run plans what a run
/// without a cache plans, and applying it leaves the issue as the person left it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_issue_whose_managed_label_a_person_removed_is_no_longer_touched() {
    let pages = page_toml("product-manager", "pm.md", PROJECT);
    let world = World::new(&pages, CACHE).await;
    world.write_page("pm.md", &common::pm_page());
    world.apply_ok().await;
    world.apply_ok().await;
    world
        .api(
            Method::PUT,
            "/projects/acme%2Froadmap/issues/3",
            &[("remove_labels", "handbook-sync")],
        )
        .await;
    let before = world.issues(PROJECT).await[2].clone();
    let (cached, err) = plan_json(&world).await;
    assert!(err.contains("issues changed on GitLab"), "{err}");
    let expected = cacheless_plan(&world, &pages, "").await;
    assert_eq!(cached, expected);
    let touches_3 = |plan: &Value| {
        plan["actions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["iid"] == 3)
    };
    assert!(!touches_3(&cached), "{cached:#}");
    world.write_config(&pages, CACHE);
    world.apply_ok().await;
    let after = world.issues(PROJECT).await[2].clone();
    assert_eq!(after, before, "the person's issue is left alone");
    world.apply_ok().await;
    let (plan, err) = plan_json(&world).await;
    assert!(err.contains("nothing to read or write"), "{err}");
    assert_eq!(plan["summary"]["create"], 0, "{plan:#}");
}
