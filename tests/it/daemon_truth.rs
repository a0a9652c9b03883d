//! `handbook-sync run`'s readiness and metrics never lie: a push covers only its pages,
//! every tick asks GitLab what changed, a failing page is named with its reason (in
//! `/readyz` and in the log), gauges drop to zero, and the allowance follows the
//! schedule. The daemon runs as a process; GitLab is the sandbox.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::common::{self, TOKEN, World, terminate};
use crate::common::{free_port, get_local as get};
use crate::daemon::{commit_actions, main_head, start_logging};

/// A sample of `/metrics`, if the daemon shows it.
async fn metric(port: u16, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let (_, text) = get(port, "/metrics").await?;
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_owned())))
        .expect("/metrics is Prometheus text");
    scrape
        .samples
        .iter()
        .find(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| match s.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => v,
            _ => f64::NAN,
        })
}

/// Polls `check` every 50 ms until it holds; fails after `within` saying `what`.
async fn until<F, Fut>(within: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    while !check().await {
        assert!(Instant::now() < deadline, "{what}: not within {within:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `/readyz`'s status and text.
async fn readyz(port: u16) -> (u16, String) {
    get(port, "/readyz").await.unwrap_or((0, String::new()))
}

fn page(bullets: &[&str]) -> String {
    let items: String = bullets.iter().map(|b| format!("- {b}\n")).collect();
    format!("## Duties\n\n{items}")
}

fn gitlab_page(id: &str, git_ref: &str) -> String {
    format!(
        "[[pages]]\nid = \"{id}\"\nsource = \"gitlab://acme/roadmap/handbook/{id}.md?ref={git_ref}\"\nproject = \"acme/roadmap\"\nowner = \"sytses\"\n"
    )
}

fn local_page(id: &str) -> String {
    format!(
        "[[pages]]\nid = \"{id}\"\nsource = \"{id}.md\"\nproject = \"acme/roadmap\"\nowner = \"sytses\"\n"
    )
}

fn server(port: u16, schedule: &str, extra: &str) -> String {
    format!(
        "[sync]\nschedule = \"{schedule}\"\n{extra}\n[server]\nlisten = \"127.0.0.1:{port}\"\n\n[webhook]\nsecret = \"s3cret\"\n"
    )
}

/// Registers the daemon's webhook on `acme/roadmap`.
async fn add_hook(world: &World, port: u16) {
    world
        .api(
            reqwest::Method::POST,
            "/projects/acme%2Froadmap/hooks",
            &[
                ("url", &format!("http://127.0.0.1:{port}/hooks/gitlab")),
                ("push_events", "true"),
                ("token", "s3cret"),
            ],
        )
        .await;
}

async fn stop(daemon: Child) {
    let (code, _) = tokio::task::spawn_blocking(move || terminate(daemon))
        .await
        .unwrap();
    assert_eq!(code, 0);
}

/// Page b's file does not exist, so every full sync fails it. A push that changes page a
/// syncs a alone: it changes a's readiness and metrics, not b's, so `/readyz` stays 503
/// and names b with its reason (before, the push's sync made it say 200 "ready"), and
/// the log said why b failed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_for_page_a_while_page_b_fails_keeps_readyz_at_503_naming_b() {
    let port = free_port();
    let world = World::new(
        &format!("{}{}", gitlab_page("a", "main"), gitlab_page("b", "main")),
        &server(port, "0 0 1 1 *", ""),
    )
    .await;
    let api = common::Rest::new(&world.sandbox.url);
    commit_actions(
        &api,
        "Add page a",
        json!([{"action": "create", "file_path": "handbook/a.md", "content": page(&["Keep the roadmap public"])}]),
    )
    .await;
    let log = world.dir.join("daemon.log");
    let daemon = start_logging(&world, &log);
    until(Duration::from_secs(20), "the first sync", || async {
        readyz(port).await.1.contains("page `a`: last success")
    })
    .await;
    let (status, text) = readyz(port).await;
    assert_eq!(status, 503, "{text}");
    assert!(
        text.contains("page `b`: not synced (never succeeded)") && text.contains("handbook/b.md"),
        "{text}"
    );
    add_hook(&world, port).await;
    commit_actions(
        &api,
        "Add a bullet to page a",
        json!([{"action": "update", "file_path": "handbook/a.md", "content": page(&["Keep the roadmap public", "Answer partner questions"])}]),
    )
    .await;
    // The push's sync is recorded once it is over: the second sync, and the first ok.
    until(Duration::from_secs(5), "the push's sync", || async {
        metric(port, "handbook_sync_syncs_total", &[("outcome", "ok")]).await == Some(1.0)
    })
    .await;
    assert!(
        world
            .issues("acme/roadmap")
            .await
            .iter()
            .any(|i| i["title"] == "Answer partner questions"),
        "the push synced page a"
    );
    let (status, text) = readyz(port).await;
    assert_eq!(status, 503, "{text}");
    assert!(
        text.starts_with("not ready: 1 of 2 pages\npage `b`: not synced"),
        "{text}"
    );
    let ok = |page: &'static str| async move {
        metric(
            port,
            "handbook_sync_page_last_sync_success",
            &[("page", page)],
        )
        .await
    };
    assert_eq!((ok("a").await, ok("b").await), (Some(1.0), Some(0.0)));
    let success = |page: &'static str| async move {
        metric(
            port,
            "handbook_sync_page_last_success_timestamp_seconds",
            &[("page", page)],
        )
        .await
    };
    assert!(success("a").await.unwrap() > 0.0);
    assert_eq!(success("b").await, Some(0.0));
    assert_eq!(
        metric(port, "handbook_sync_last_success_timestamp_seconds", &[]).await,
        Some(0.0),
        "not every page was ever synced"
    );
    stop(daemon).await;
    let text = std::fs::read_to_string(&log).unwrap();
    let line = text
        .lines()
        .find(|l| l.contains("page not synced"))
        .unwrap_or_else(|| panic!("no line says why b failed:\n{text}"));
    assert!(
        line.contains("page=b") && line.contains("handbook/b.md"),
        "{line}"
    );
    assert!(line.contains("WARN") || line.contains("ERROR"), "{line}");
}

/// A `git push --force` that takes the page's branch back to the commit before a bullet
/// was added: GitLab's event lists no commit (`commits: []`, `total_commits_count: 0`),
/// and the daemon asks the compare API what changed, so the reverted bullet's issue is
/// closed within seconds (before, such a push synced nothing until the next tick).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_force_push_with_no_commits_reverting_a_bullet_closes_its_issue_within_5_s() {
    let port = free_port();
    let world = World::new(
        &gitlab_page("pm", "handbook"),
        &server(port, "0 0 1 1 *", ""),
    )
    .await;
    let api = common::Rest::new(&world.sandbox.url);
    commit_actions(
        &api,
        "Add the page",
        json!([{"action": "create", "file_path": "handbook/pm.md", "content": page(&["Keep the roadmap public"])}]),
    )
    .await;
    let before_bullet = main_head(&world).await;
    let (status, body) = api
        .form(
            reqwest::Method::POST,
            "/projects/acme%2Froadmap/repository/branches",
            &[("branch", "handbook"), ("ref", "main")],
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = api
        .json(
            reqwest::Method::POST,
            "/projects/acme%2Froadmap/repository/commits",
            &json!({"branch": "handbook", "commit_message": "Add a bullet", "actions": [
                {"action": "update", "file_path": "handbook/pm.md", "content": page(&["Keep the roadmap public", "Answer partner questions"])}
            ]}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let daemon = start_logging(&world, &world.dir.join("daemon.log"));
    until(Duration::from_secs(20), "ready", || async {
        readyz(port).await.0 == 200
    })
    .await;
    // Sorted: the two creates run at once, so GitLab's order is theirs to arrive in.
    let open = |issues: &[serde_json::Value]| -> Vec<String> {
        let mut titles: Vec<String> = issues
            .iter()
            .filter(|i| i["state"] == "opened")
            .map(|i| i["title"].as_str().unwrap().to_owned())
            .collect();
        titles.sort();
        titles
    };
    assert_eq!(
        open(&world.issues("acme/roadmap").await),
        ["Answer partner questions", "Keep the roadmap public"]
    );
    add_hook(&world, port).await;
    let (events_url, mut events) = common::hook_receiver().await;
    world
        .api(
            reqwest::Method::POST,
            "/projects/acme%2Froadmap/hooks",
            &[("url", events_url.as_str()), ("push_events", "true")],
        )
        .await;
    let pushed = Instant::now();
    let r = reqwest::Client::new()
        .post(format!(
            "{}/-/sandbox/projects/acme%2Froadmap/push",
            world.sandbox.url
        ))
        .json(&json!({"branch": "handbook", "to": before_bullet}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let event = common::wait_for_event(&mut events, |e| e["ref"] == "refs/heads/handbook").await;
    assert_eq!(
        (
            event["commits"].clone(),
            event["total_commits_count"].clone()
        ),
        (json!([]), json!(0))
    );
    until(
        Duration::from_secs(5),
        "the reverted bullet's issue closed",
        || async { open(&world.issues("acme/roadmap").await) == ["Keep the roadmap public"] },
    )
    .await;
    assert!(pushed.elapsed() < Duration::from_secs(5));
    stop(daemon).await;
}

/// A person closes a managed issue between handbook edits. The next tick asks GitLab for
/// the issues updated since the last sync, so the change is drift within a tick, and it
/// stays drift on the ticks after (nothing changed on either side) until the person
/// reopens it (before, a tick that did not read GitLab set it back to 0).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_closing_an_issue_is_drift_within_a_tick_until_it_is_resolved() {
    let port = free_port();
    let world = World::new(&local_page("pm"), &server(port, "* * * * * *", "")).await;
    world.write_page(
        "pm.md",
        &page(&["Keep the roadmap public", "Answer partner questions"]),
    );
    let daemon = start_logging(&world, &world.dir.join("daemon.log"));
    until(Duration::from_secs(20), "ready", || async {
        readyz(port).await.0 == 200
    })
    .await;
    let drift = || async { metric(port, "handbook_sync_drift", &[("page", "pm")]).await };
    assert_eq!(drift().await, Some(0.0));
    let iid = world.issues("acme/roadmap").await[0]["iid"]
        .as_u64()
        .unwrap();
    let issue = format!("/projects/acme%2Froadmap/issues/{iid}");
    world
        .api(reqwest::Method::PUT, &issue, &[("state_event", "close")])
        .await;
    until(
        Duration::from_secs(10),
        "drift of the closed issue",
        || async { drift().await == Some(1.0) },
    )
    .await;
    let syncs = || async {
        metric(port, "handbook_sync_syncs_total", &[("outcome", "ok")])
            .await
            .unwrap()
    };
    let seen = syncs().await;
    until(Duration::from_secs(15), "three more ticks", || async {
        assert_eq!(
            drift().await,
            Some(1.0),
            "the drift stays while the issue is closed"
        );
        syncs().await >= seen + 3.0
    })
    .await;
    assert_eq!(
        world.issues("acme/roadmap").await[0]["state"],
        "closed",
        "reported, not enforced"
    );
    world
        .api(reqwest::Method::PUT, &issue, &[("state_event", "reopen")])
        .await;
    until(Duration::from_secs(10), "the drift resolved", || async {
        drift().await == Some(0.0)
    })
    .await;
    stop(daemon).await;
}

/// With `sync.enforce = true` a person's close is undone within a tick, without any
/// handbook edit: the tick sees the issue change and plans it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_enforce_a_person_closing_an_issue_is_undone_within_a_tick() {
    let port = free_port();
    let world = World::new(
        &local_page("pm"),
        &server(port, "* * * * * *", "enforce = true"),
    )
    .await;
    world.write_page("pm.md", &page(&["Keep the roadmap public"]));
    let daemon = start_logging(&world, &world.dir.join("daemon.log"));
    until(Duration::from_secs(20), "ready", || async {
        readyz(port).await.0 == 200
    })
    .await;
    let iid = world.issues("acme/roadmap").await[0]["iid"]
        .as_u64()
        .unwrap();
    world
        .api(
            reqwest::Method::PUT,
            &format!("/projects/acme%2Froadmap/issues/{iid}"),
            &[("state_event", "close")],
        )
        .await;
    until(Duration::from_secs(10), "the issue reopened", || async {
        world.issues("acme/roadmap").await[0]["state"] == "opened"
    })
    .await;
    stop(daemon).await;
}

/// The items gauge says every status of every planned page, zeros included: `done`
/// reads 0 from the start, and `handed_over` reads 0 once the page's last handed-over
/// bullet is gone (before, it kept its last value).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_items_gauge_dropping_to_zero_reads_zero() {
    let port = free_port();
    let world = World::new(&local_page("pm"), &server(port, "* * * * * *", "")).await;
    let active = [
        "Keep the roadmap public",
        "Answer partner questions",
        "Write the release post",
        "Run the planning meeting",
        "Review the board",
    ];
    let mut bullets: Vec<&str> = active.to_vec();
    bullets.push("~~Own the pricing page~~ => Drew");
    world.write_page("pm.md", &page(&bullets));
    let daemon = start_logging(&world, &world.dir.join("daemon.log"));
    until(Duration::from_secs(20), "ready", || async {
        readyz(port).await.0 == 200
    })
    .await;
    let items = |status: &'static str| async move {
        metric(
            port,
            "handbook_sync_items",
            &[("page", "pm"), ("status", status)],
        )
        .await
    };
    assert_eq!(items("active").await, Some(5.0));
    assert_eq!(items("handed_over").await, Some(1.0));
    assert_eq!(
        items("done").await,
        Some(0.0),
        "a status with no item reads 0"
    );
    world.write_page("pm.md", &page(&active));
    until(Duration::from_secs(10), "handed_over at 0", || async {
        items("handed_over").await == Some(0.0)
    })
    .await;
    assert_eq!(items("active").await, Some(5.0));
    stop(daemon).await;
}

/// GitLab stops (its process is killed): the next tick's question to GitLab fails, so
/// `/readyz` says 503 within a tick, naming the page and why, and the log says it too
/// (before, a tick of unchanged pages asked GitLab nothing and stayed 200).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gitlab_stopped_makes_readyz_503_within_a_tick() {
    let (mut gitlab, url) = common::sandbox_process(&[
        "--token",
        TOKEN,
        "--project",
        "acme/roadmap",
        "--user",
        "sytses",
    ]);
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    std::fs::write(
        dir.path().join("config.toml"),
        format!(
            "[gitlab]\nurl = \"{url}\"\nretry_initial_delay_ms = 1\n\n{}\n{}",
            server(port, "* * * * * *", ""),
            local_page("pm")
        ),
    )
    .unwrap();
    std::fs::write(dir.path().join("pm.md"), page(&["Keep the roadmap public"])).unwrap();
    let log = dir.path().join("daemon.log");
    let daemon = spawn_daemon(&dir.path().join("config.toml"), TOKEN, &log);
    until(Duration::from_secs(20), "ready", || async {
        readyz(port).await.0 == 200
    })
    .await;
    // A tick with nothing changed: still ready.
    until(Duration::from_secs(10), "a warm tick", || async {
        metric(port, "handbook_sync_syncs_total", &[("outcome", "ok")]).await >= Some(3.0)
    })
    .await;
    assert_eq!(readyz(port).await.0, 200);
    gitlab.kill().unwrap();
    gitlab.wait().unwrap();
    until(
        Duration::from_secs(10),
        "503 after GitLab stopped",
        || async { readyz(port).await.0 == 503 },
    )
    .await;
    let (_, text) = readyz(port).await;
    assert!(
        text.contains("page `pm`: not synced (last success "),
        "{text}"
    );
    stop(daemon).await;
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(
        logged.contains("page not synced") && logged.contains("page=pm"),
        "{logged}"
    );
}

/// `run` with `config`, token `token`, at the default log level (no `RUST_LOG`), its
/// stderr going to `log`.
fn spawn_daemon(config: &Path, token: &str, log: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_handbook-sync"))
        .args(["run", "--config"])
        .arg(config)
        .env("GITLAB_TOKEN", token)
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::from(std::fs::File::create(log).unwrap()))
        .spawn()
        .unwrap()
}

/// A wrong token: GitLab answers 401, and the daemon says so where an operator looks: a
/// log line at the default level naming the page and the 401, and `/readyz` naming them
/// (before, the only line was `sync finished … ok=false`, and `/readyz` said "the last
/// sync did not succeed"). The token itself is in neither.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daemon_with_a_wrong_token_logs_the_401_and_readyz_names_it() {
    let port = free_port();
    let world = World::new(&local_page("pm"), &server(port, "0 0 1 1 *", "")).await;
    world.write_page("pm.md", &page(&["Keep the roadmap public"]));
    let log = world.dir.join("daemon.log");
    let wrong = "glpat-not-the-sandbox-token";
    let daemon = spawn_daemon(&world.dir.join("config.toml"), wrong, &log);
    until(Duration::from_secs(20), "the first sync", || async {
        readyz(port).await.1.contains("page `pm`: not synced")
    })
    .await;
    let (status, text) = readyz(port).await;
    assert_eq!(status, 503);
    assert!(
        text.contains("401 Unauthorized: the token is wrong, expired or revoked"),
        "{text}"
    );
    stop(daemon).await;
    let logged = std::fs::read_to_string(&log).unwrap();
    let line = logged
        .lines()
        .find(|l| l.contains("page not synced"))
        .unwrap_or_else(|| panic!("no line says why:\n{logged}"));
    assert!(
        line.contains("ERROR") && line.contains("401") && line.contains("page=pm"),
        "{line}"
    );
    assert!(
        !logged.contains(wrong) && !text.contains(wrong),
        "the token is never shown"
    );
}

/// A weekday-only schedule (`0 9 * * 1-5`): the daemon reports how long its start-up
/// sync holds, and that is the schedule's second tick after it (plus the sync's time and
/// a minute), whatever the weekend in between: a Friday's sync holds until Tuesday. What
/// this covers: that the process takes its allowance from `Schedule::due_by`. The weekend
/// itself cannot pass in a test without a clock in the process; `readiness`'s unit test
/// in the core walks one through with the clock given.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_weekday_schedule_is_ready_until_its_second_tick_after_the_last_success() {
    let port = free_port();
    let world = World::new(&local_page("pm"), &server(port, "0 9 * * 1-5", "")).await;
    world.write_page("pm.md", &page(&["Keep the roadmap public"]));
    let daemon = start_logging(&world, &world.dir.join("daemon.log"));
    until(Duration::from_secs(20), "ready", || async {
        readyz(port).await.0 == 200
    })
    .await;
    let (_, text) = readyz(port).await;
    let last = metric(
        port,
        "handbook_sync_page_last_success_timestamp_seconds",
        &[("page", "pm")],
    )
    .await
    .unwrap() as i64;
    let last = chrono::DateTime::from_timestamp(last, 0).unwrap();
    let schedule = handbook_sync::schedule::Schedule::parse("0 9 * * 1-5", "UTC").unwrap();
    let earliest = schedule.due_by(last, chrono::TimeDelta::zero()).unwrap();
    let said = text
        .split("due again by ")
        .nth(1)
        .and_then(|t| t.lines().next())
        .unwrap_or_else(|| panic!("{text}"));
    let said = chrono::DateTime::parse_from_rfc3339(said).unwrap().to_utc();
    // The sync's own time is added: a few seconds at most here.
    assert!(
        said >= earliest && said - earliest < chrono::TimeDelta::seconds(10),
        "said {said}, the schedule's second tick after {last} plus a minute is {earliest}\n{text}"
    );
    use chrono::Datelike as _;
    let weekday = (said - handbook_sync::schedule::READY_SLACK).weekday();
    assert!(
        !matches!(weekday, chrono::Weekday::Sat | chrono::Weekday::Sun),
        "{said}"
    );
    assert!(
        said - last >= chrono::TimeDelta::days(1),
        "{said} after {last}"
    );
    stop(daemon).await;
}
