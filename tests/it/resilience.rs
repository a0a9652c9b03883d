//! Resilience: convergence under injected faults, as gitlab.com fails: 5xx with HTML
//! and with GitLab's JSON bodies, lost answers, writes that land after the client gave
//! up, Rack::Attack 429 bursts, headerless 429s and an hourly throttle.

use crate::common;

use std::collections::BTreeMap;

use common::{TOKEN, World, page_toml, pm_page};
use handbook_sync::config::Config;
use handbook_sync::sync::marker;
use handbook_sync::sync_run::{self, RunOptions};
use serde_json::{Value, json};

const PROJECT: &str = "acme/roadmap";

/// The client's settings for one apply: many retries (the faults are many; the World's
/// configuration already retries without waiting), no wait after a headerless 429 (the
/// documented 60 s would make a seed last minutes), and for an apply under slow writes a
/// timeout shorter than the writes, with fewer retries of what times out.
fn configure(world: &World, seed: u64, slow: bool) {
    let mut gitlab = String::from("default_retry_after_seconds = 0\n");
    if slow {
        gitlab.push_str(&format!(
            "timeout_seconds = {}\nmax_retries = 2\n",
            CLIENT_TIMEOUT_MS as f64 / 1000.0
        ));
    } else {
        gitlab.push_str("max_retries = 8\n");
    }
    if hourly(seed) {
        gitlab.push_str(&format!("requests_per_hour = {HOURLY_LIMIT}\n"));
    }
    world.write_config(&page_toml("product-manager", "pm.md", PROJECT), &gitlab);
}

/// The client's timeout in an apply under slow writes, and how long those writes take.
const CLIENT_TIMEOUT_MS: u64 = 200;
const SLOW_WRITE_MS: u64 = 300;
/// The hourly throttle of the seeds that have one, on both sides.
const HOURLY_LIMIT: u64 = 1000;

/// A third of the seeds run under an hourly throttle.
fn hourly(seed: u64) -> bool {
    seed.is_multiple_of(3)
}

/// Writes land only after the client gave up: in the first apply of the last step for
/// half of the seeds (one create and a few edits), and of the first step (fifty creates)
/// for one seed in twenty.
fn slow(seed: u64, step: usize, attempt: usize) -> bool {
    attempt == 0 && ((step == 2 && seed.is_multiple_of(2)) || (step == 0 && seed % 20 == 5))
}

/// The faults of one apply. Each apply gets its own fault seed (the sandbox numbers
/// requests from each `PUT faults`, so the same seed would repeat the same faults).
fn faults_of(seed: u64, step: usize, attempt: usize) -> Value {
    json!({
        "error_rate": 0.10,
        // Half of the 5xx carry GitLab's JSON body, half a proxy's HTML page.
        "error_body": if (seed + attempt as u64).is_multiple_of(2) { "json" } else { "html" },
        "lost_response_rate": 0.05,
        // Bursts of Rack::Attack 429s; they wait Retry-After (0 s here, to keep the run
        // short; the real wait is tested in resilience_process.rs).
        "throttle_rate": if seed.is_multiple_of(2) { 0.15 } else { 0.02 },
        "throttle_retry_after": 0,
        // The Projects and Users API limits: 429 with no header at all.
        "headerless_429_rate": 0.03,
        "rate_limit_per_hour": hourly(seed).then_some(HOURLY_LIMIT),
        "slow_write_ms": if slow(seed, step, attempt) { SLOW_WRITE_MS } else { 0 },
        "seed": seed * 100 + step as u64 * 10 + attempt as u64,
    })
}

/// Keys with more than one open issue.
fn open_duplicates(issues: &[Value]) -> Vec<String> {
    let mut open: BTreeMap<String, usize> = BTreeMap::new();
    for issue in issues.iter().filter(|i| i["state"] == "opened") {
        if let Some(m) =
            marker::parse(issue["description"].as_str().unwrap_or("")).and_then(|p| p.marker)
        {
            *open.entry(m.key).or_default() += 1;
        }
    }
    open.into_iter()
        .filter(|(_, n)| *n > 1)
        .map(|(k, _)| k)
        .collect()
}

/// One `apply`: its plan, or why it read nothing (`prepare` failed even after retries:
/// nothing was written, a failed run as the CLI reports it).
async fn sync(world: &World) -> Result<handbook_sync::sync::Plan, String> {
    let config = Config::load(Some(&world.dir.join("config.toml"))).unwrap();
    let options = RunOptions {
        today: "2026-11-27".into(),
        ..Default::default()
    };
    match sync_run::prepare(&config, TOKEN.to_owned().into(), &options).await {
        Ok(prepared) => Ok(prepared.apply().await),
        Err(e) => Err(format!("nothing read: {e}")),
    }
}

/// Issues per marker key, in any state: more than one is a duplicate, even if a later
/// run closed it.
fn issues_per_key(issues: &[Value]) -> BTreeMap<String, usize> {
    let mut all: BTreeMap<String, usize> = BTreeMap::new();
    for issue in issues {
        if let Some(m) =
            marker::parse(issue["description"].as_str().unwrap_or("")).and_then(|p| p.marker)
        {
            *all.entry(m.key).or_default() += 1;
        }
    }
    all
}

/// The product-manager page and three edits, each applied under faults until it
/// converges (at most 3 applies); then the faults stop and nothing is left to do, and
/// no item ever got a second issue. Returns how many applies each step needed.
async fn converge_under_faults(seed: u64) -> [usize; 3] {
    // The board converges too, on the default tier (Free).
    let world = World::new("", "").await;
    let unmanaged = world
        .api(
            reqwest::Method::POST,
            "/projects/acme%2Froadmap/issues",
            &[("title", "Maintain CF Tile")],
        )
        .await;
    let page = pm_page();
    let edits = [
        page.clone(),
        page.replace("- Maintain CF Tile", "- ~~Maintain CF Tile~~ => Drew")
            .replace("- Give trainings to customers\n", ""),
        page.replace(
            "- Maintain the mailinglists + automation",
            "- Maintain the mailing lists and their automation",
        )
        .replace(
            "## Internal\n\n",
            "## Internal\n\n- Write the quarterly product review\n",
        ),
    ];
    let mut needed = [0; 3];
    for (step, text) in edits.iter().enumerate() {
        world.write_page("pm.md", text);
        let mut converged = false;
        let mut last = String::new();
        for attempt in 0..3 {
            needed[step] = attempt + 1;
            configure(&world, seed, slow(seed, step, attempt));
            world.set_faults(faults_of(seed, step, attempt)).await;
            let plan = sync(&world).await;
            if slow(seed, step, attempt) {
                // The next run comes after GitLab finished what the client gave up on (on
                // gitlab.com a request ends within about a minute; runs are minutes apart).
                tokio::time::sleep(std::time::Duration::from_millis(SLOW_WRITE_MS)).await;
            }
            last = plan.as_ref().map_or_else(Clone::clone, |p| p.to_text());
            let issues = world.issues(PROJECT).await;
            let dups = open_duplicates(&issues);
            assert!(
                dups.is_empty(),
                "seed {seed} step {step}: keys with two open issues: {dups:?}"
            );
            let still = issues
                .iter()
                .find(|i| i["iid"] == unmanaged["iid"])
                .unwrap();
            assert_eq!(
                still["updated_at"], unmanaged["updated_at"],
                "seed {seed}: the unmanaged issue changed"
            );
            if let Ok(plan) = plan
                && plan.summary.failed == 0
                && !plan.has_failures()
            {
                converged = true;
                break;
            }
        }
        assert!(
            converged,
            "seed {seed} step {step}: no clean apply within 3 runs; the last:\n{last}"
        );
    }
    configure(&world, seed, false);
    world.set_faults(json!({})).await;
    world.reset_stats().await;
    let plan = sync(&world).await.unwrap();
    assert!(
        !plan.has_changes(),
        "seed {seed}: after the faults, work was left:\n{}",
        plan.to_text()
    );
    assert_eq!(world.stats().await["writes"], 0);
    let issues = world.issues(PROJECT).await;
    // The last page has the 43 active items plus one new one; the unmanaged issue is open too.
    assert_eq!(
        issues.iter().filter(|i| i["state"] == "opened").count(),
        43 + 1 + 1,
        "seed {seed}: open issues"
    );
    let duplicated: Vec<_> = issues_per_key(&issues)
        .into_iter()
        .filter(|(_, n)| *n > 1)
        .collect();
    assert!(
        duplicated.is_empty(),
        "seed {seed}: items with more than one issue: {duplicated:?}"
    );
    // Every item of the three versions once (50 + 1 new), and the unmanaged issue.
    assert_eq!(issues.len(), 50 + 1 + 1, "seed {seed}: issues");
    needed
}

/// Seeds `HANDBOOK_SYNC_FAULT_SEED_START` (default 0) and on, `HANDBOOK_SYNC_FAULT_SEEDS`
/// of them (default 40; BENCHMARKS.md has a release run of 1,000). Prints how many
/// applies each step needed (`--nocapture` shows it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sync_converges_under_injected_faults_for_many_seeds() {
    // This test's logs, for this test only: a global subscriber would log every other
    // test in the binary too.
    let logs = tracing::Dispatch::new(tracing_subscriber::fmt().with_test_writer().finish());
    let number = |name: &str, default: u64| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let start = number("HANDBOOK_SYNC_FAULT_SEED_START", 0);
    let seeds = number("HANDBOOK_SYNC_FAULT_SEEDS", 40);
    let began = std::time::Instant::now();
    // applies[n - 1]: steps that needed n applies.
    let mut applies = [0usize; 3];
    for seed in start..start + seeds {
        let needed = tracing::instrument::WithSubscriber::with_subscriber(
            converge_under_faults(seed),
            logs.clone(),
        )
        .await;
        for n in needed {
            applies[n - 1] += 1;
        }
    }
    println!(
        "fault seeds {start}..{}: {seeds} runs converged in {:.1} s; steps clean after 1/2/3 applies: {}/{}/{}; 0 duplicates, 0 missing, 0 unmanaged touched",
        start + seeds,
        began.elapsed().as_secs_f64(),
        applies[0],
        applies[1],
        applies[2],
    );
}

/// A daemon's next sync can come before GitLab finished a create the client gave up on
/// (a push hook a second later). The sandbox's `slow_write_ms` answers and applies a
/// write only after the delay, as GitLab's Puma keeps running a request whose client
/// left until `Rack::Timeout` ends it after 60 s (`config/initializers/rack_timeout.rb`).
/// On the connection a daemon keeps, the second sync looks and does not send the create
/// again; once it landed, the next sync finds it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_that_timed_out_is_not_sent_again_by_a_sync_soon_after() {
    let world = World::with_tier(
        &page_toml("small", "small.md", PROJECT),
        "timeout_seconds = 0.2\nmax_retries = 0\n",
        gitlab_sandbox::Tier::Premium,
    )
    .await;
    world.write_page("small.md", "## Duties\n\n- Keep the roadmap public\n");
    world.apply_ok().await;
    world.write_page(
        "small.md",
        "## Duties\n\n- Keep the roadmap public\n- Answer partner questions\n",
    );
    world.set_faults(json!({"slow_write_ms": 1000})).await;
    world.reset_stats().await;
    let config = Config::load(Some(&world.dir.join("config.toml"))).unwrap();
    let connection = sync_run::Connection::new(&config, TOKEN.to_owned().into(), None).unwrap();
    let options = RunOptions {
        today: "2026-11-28".into(),
        ..Default::default()
    };
    let started = std::time::Instant::now();
    for _ in 0..2 {
        let prepared = sync_run::prepare_on(&config, &connection, &options)
            .await
            .unwrap();
        assert_eq!(prepared.plan.summary.create, 1, "not there yet: planned");
        let plan = prepared.apply().await;
        assert_eq!(plan.summary.failed, 1, "{}", plan.to_text());
    }
    assert!(started.elapsed() < std::time::Duration::from_millis(1000));
    // The sandbox counts a request when it answers it: after the slow write landed.
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    let stats = world.stats().await;
    assert_eq!(
        stats["by_route"]["POST /projects/:id/issues"], 1,
        "the create was sent once: {stats}"
    );
    world.set_faults(json!({})).await;
    let prepared = sync_run::prepare_on(&config, &connection, &options)
        .await
        .unwrap();
    assert!(!prepared.plan.has_changes(), "{}", prepared.plan.to_text());
    let issues = world.issues(PROJECT).await;
    let per_key = issues_per_key(&issues);
    assert_eq!(
        per_key.get("answer-partner-questions"),
        Some(&1),
        "{per_key:?}"
    );
}
