//! Resilience of `apply` as a process: the token never shows, concurrent runs, a GitLab
//! that dies mid-apply, and GitLab's application rate limit.

use crate::common;

use std::collections::BTreeMap;
use std::process::{Command, Stdio};

use common::{TOKEN, World, page_toml, pm_page};
use handbook_sync::sync::marker;
use serde_json::{Value, json};

const PROJECT: &str = "acme/roadmap";

async fn pm_world() -> World {
    let world = World::new(&page_toml("product-manager", "pm.md", PROJECT), "").await;
    world.write_page("pm.md", &pm_page());
    world
}

fn open_per_key(issues: &[Value]) -> BTreeMap<String, usize> {
    let mut open = BTreeMap::new();
    for issue in issues.iter().filter(|i| i["state"] == "opened") {
        if let Some(m) =
            marker::parse(issue["description"].as_str().unwrap_or("")).and_then(|p| p.marker)
        {
            *open.entry(m.key).or_default() += 1;
        }
    }
    open
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_appears_nowhere_even_at_trace_level_with_faults() {
    let mut world = pm_world().await;
    world
        .http
        .put(format!("{}/-/sandbox/faults", world.sandbox.url))
        .json(&json!({"error_rate": 0.2, "lost_response_rate": 0.1, "seed": 3}))
        .send()
        .await
        .unwrap();
    world.env("RUST_LOG", "trace");
    for args in [
        &["apply"][..],
        &["plan", "--format", "json"],
        &["apply", "--log-format", "json"],
    ] {
        let (_, out, err) = world.run(args).await;
        assert!(err.len() > 1000, "trace logging is on: {} bytes", err.len());
        assert!(
            !out.contains(TOKEN) && !err.contains(TOKEN),
            "the token leaked in {args:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_applies_at_once_leave_no_duplicates_after_one_more_run() {
    let world = pm_world().await;
    let (a, b) = tokio::join!(world.run(&["apply"]), world.run(&["apply"]));
    assert!(a.0 == 0 || a.0 == 1, "{}", a.2);
    assert!(b.0 == 0 || b.0 == 1, "{}", b.2);
    world.apply_ok().await;
    let issues = world.issues(PROJECT).await;
    let open = open_per_key(&issues);
    assert!(open.values().all(|n| *n == 1), "{open:?}");
    assert_eq!(open.len(), 43);
    let (code, out, _) = world.run(&["plan"]).await;
    assert_eq!(code, 0, "{out}");
}

fn start_sandbox(state: &std::path::Path) -> (std::process::Child, String) {
    let state = state.to_str().unwrap();
    let users = [
        "--user", "sytses", "--user", "drew", "--user", "andriy", "--user", "ashley",
    ];
    common::sandbox_process(
        &[
            &["--token", TOKEN, "--project", PROJECT, "--state", state][..],
            &users,
        ]
        .concat(),
    )
}

fn config(dir: &std::path::Path, url: &str) {
    let text = format!(
        "[gitlab]\nurl = \"{url}\"\nrequests_per_minute = 1000000\nissue_creations_per_minute = 1000000\nretry_initial_delay_ms = 1\nmax_retries = 2\n\n\
         [people]\n\"Drew\" = \"drew\"\n\n{}",
        page_toml("product-manager", "pm.md", PROJECT)
    );
    std::fs::write(dir.join("config.toml"), text).unwrap();
}

fn apply(dir: &std::path::Path) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_handbook-sync"))
        .args(["apply", "--config"])
        .arg(dir.join("config.toml"))
        .env("GITLAB_TOKEN", TOKEN)
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sandbox_killed_mid_apply_fails_the_run_and_the_next_run_converges() {
    let dir = std::env::temp_dir().join(format!("hs-killed-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("pm.md"), pm_page()).unwrap();
    let state = dir.join("sandbox.json");
    let (mut sandbox, url) = start_sandbox(&state);
    let http = reqwest::Client::new();
    http.put(format!("{url}/-/sandbox/faults"))
        .json(&json!({"latency_ms": 25}))
        .send()
        .await
        .unwrap();
    config(&dir, &url);

    let run = apply(&dir);
    // Let it write a part of the page, then take GitLab away.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let stats: Value = http
            .get(format!("{url}/-/sandbox/stats"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if stats["writes"].as_u64().unwrap() >= 15 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the apply never got going"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    sandbox.kill().unwrap();
    sandbox.wait().unwrap();
    let output = tokio::task::spawn_blocking(move || run.wait_with_output().unwrap())
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(
        err.contains("request failed") || err.contains("error"),
        "{err}"
    );
    // GitLab had answered this run: a refused connection is retried, not taken for a
    // wrong gitlab.url.
    assert!(
        err.contains("retrying") && !err.contains("cannot reach GitLab"),
        "{err}"
    );

    let (mut sandbox, url) = start_sandbox(&state);
    config(&dir, &url);
    let output = tokio::task::spawn_blocking({
        let dir = dir.clone();
        move || apply(&dir).wait_with_output().unwrap()
    })
    .await
    .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
    let issues: Vec<Value> = http
        .get(format!(
            "{url}/api/v4/projects/acme%2Froadmap/issues?per_page=100"
        ))
        .header("PRIVATE-TOKEN", TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(issues.len(), 50, "every item once, no duplicates");
    let open = open_per_key(&issues);
    assert!(
        open.values().all(|n| *n == 1) && open.len() == 43,
        "{open:?}"
    );
    sandbox.kill().unwrap();
    sandbox.wait().unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_issue_creation_limit_is_waited_out() {
    let world = World::new(&page_toml("small", "small.md", PROJECT), "").await;
    let bullets: String = (1..=6)
        .map(|n| format!("- Responsibility number {n}\n"))
        .collect();
    world.write_page("small.md", &format!("## Duties\n\n{bullets}"));
    world
        .http
        .put(format!("{}/-/sandbox/faults", world.sandbox.url))
        .json(&json!({"issue_create_limit_per_minute": 4}))
        .send()
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let (code, out, err) = world.run(&["apply"]).await;
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        started.elapsed() >= std::time::Duration::from_secs(1),
        "the run waited"
    );
    assert_eq!(world.issues(PROJECT).await.len(), 6);
    let stats = world.stats().await;
    assert!(
        stats["by_status"]["429"].as_u64().unwrap_or(0) >= 1,
        "{stats}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_project_that_cannot_be_read_gets_no_writes() {
    let world = pm_world().await;
    world.apply_ok().await;
    world.write_page("pm.md", &pm_page().replace("- Maintain CF Tile\n", ""));
    world
        .http
        .put(format!("{}/-/sandbox/faults", world.sandbox.url))
        .json(&json!({"error_rate": 1.0}))
        .send()
        .await
        .unwrap();
    world.reset_stats().await;
    let (code, out, _) = world.run(&["apply"]).await;
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("FAILED") && out.contains("nothing is written to this project"),
        "{out}"
    );
    assert_eq!(world.stats().await["writes"], 0);
}
