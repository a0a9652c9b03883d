//! `handbook-sync run` as a process: first sync, health, readiness, metrics, SIGTERM.

use crate::common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{TOKEN, World, free_port, get_local as get, page_toml, pm_page, terminate};
use serde_json::json;

async fn daemon_world(extra: &str) -> (World, u16) {
    let port = free_port();
    let world = World::new(
        &page_toml("product-manager", "pm.md", "acme/roadmap"),
        &format!(
            "[sync]\nschedule = \"0 0 1 1 *\"\n\n[server]\nlisten = \"127.0.0.1:{port}\"\n{extra}"
        ),
    )
    .await;
    world.write_page("pm.md", &pm_page());
    (world, port)
}

pub(crate) fn start(world: &World) -> Child {
    Command::new(env!("CARGO_BIN_EXE_handbook-sync"))
        .args(["run", "--config"])
        .arg(world.dir.join("config.toml"))
        .env("GITLAB_TOKEN", TOKEN)
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_syncs_at_start_reports_ready_and_metrics_and_stops_on_sigterm() {
    let (world, port) = daemon_world("").await;
    let daemon = start(&world);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some((200, _)) = get(port, "/readyz").await {
            break;
        }
        assert!(Instant::now() < deadline, "never ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(get(port, "/healthz").await.unwrap().0, 200);
    let hook = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/hooks/gitlab"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(
        hook.status(),
        404,
        "without a webhook secret the endpoint is off"
    );
    assert_eq!(
        world.issues("acme/roadmap").await.len(),
        50,
        "the start-up sync ran"
    );

    let (status, text) = get(port, "/metrics").await.unwrap();
    assert_eq!(status, 200);
    let lines = text.lines().map(|l| Ok(l.to_owned()));
    let scrape = prometheus_parse::Scrape::parse(lines).expect("/metrics is Prometheus text");
    let value = |name: &str, label: (&str, &str)| -> f64 {
        scrape
            .samples
            .iter()
            .find(|s| s.metric == name && s.labels.get(label.0) == Some(label.1))
            .map(|s| match s.value {
                prometheus_parse::Value::Counter(v)
                | prometheus_parse::Value::Gauge(v)
                | prometheus_parse::Value::Untyped(v) => v,
                _ => f64::NAN,
            })
            .unwrap_or_else(|| panic!("no sample {name}{{{}={}}} in\n{text}", label.0, label.1))
    };
    assert_eq!(value("handbook_sync_syncs_total", ("outcome", "ok")), 1.0);
    assert_eq!(
        value("handbook_sync_actions_total", ("kind", "create")),
        50.0,
        "counters match the sync's summary"
    );
    assert_eq!(value("handbook_sync_actions_total", ("kind", "close")), 0.0);
    assert!(
        !scrape.samples.iter().any(|s| {
            s.metric == "handbook_sync_actions_total" && s.labels.get("kind") == Some("drift")
        }),
        "drift is a report, not a write: not counted\n{text}"
    );
    assert_eq!(
        value("handbook_sync_drift", ("page", "product-manager")),
        0.0
    );
    assert_eq!(value("handbook_sync_items", ("status", "active")), 43.0);
    assert_eq!(value("handbook_sync_items", ("status", "handed_over")), 7.0);
    assert!(
        value("handbook_sync_gitlab_requests_total", ("status", "201")) >= 50.0,
        "the creates were counted"
    );
    assert!(
        text.contains("handbook_sync_rate_limit_waits_total 0"),
        "{text}"
    );
    assert_eq!(
        value(
            "handbook_sync_build_info",
            ("version", env!("CARGO_PKG_VERSION"))
        ),
        1.0
    );

    // A client that sent half a request (or a scraper's idle keep-alive) holds a
    // graceful shutdown open; the daemon stops anyway after a bounded wait.
    let mut held = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    std::io::Write::write_all(&mut held, b"GET /metrics HTTP/1.1\r\nHost: x\r\n").unwrap();
    let (code, took) = terminate(daemon);
    assert_eq!(code, 0);
    assert!(took < Duration::from_secs(10), "{took:?}");
    drop(held);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_a_sync_exits_0_and_leaves_nothing_half_done() {
    let (world, port) = daemon_world("").await;
    world
        .http
        .put(format!("{}/-/sandbox/faults", world.sandbox.url))
        .json(&json!({"latency_ms": 40}))
        .send()
        .await
        .unwrap();
    let daemon = start(&world);
    // Wait until the sync is writing, then ask it to stop.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let stats = world.stats().await;
        if stats["writes"].as_u64().unwrap() >= 10 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the sync never started writing: {stats}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (code, took) = tokio::task::spawn_blocking(move || terminate(daemon))
        .await
        .unwrap();
    assert_eq!(code, 0);
    assert!(took < Duration::from_secs(10), "{took:?}");
    assert!(
        get(port, "/healthz").await.is_none(),
        "the server stopped too"
    );
    let created = world.issues("acme/roadmap").await.len();
    assert!(created < 50, "it stopped early ({created} issues)");

    world
        .http
        .put(format!("{}/-/sandbox/faults", world.sandbox.url))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    // The next run only does what the handbook still asks: the rest of the creates.
    let (code, out, _) = world.run(&["plan", "--format", "json"]).await;
    assert_eq!(code, 2);
    let plan: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        plan["summary"]["create"].as_u64().unwrap() as usize,
        50 - created,
        "{out}"
    );
    assert_eq!(
        plan["summary"]["update"], 0,
        "nothing half-applied to repair"
    );
    assert_eq!(
        plan["summary"]["close"], 0,
        "nothing half-applied to repair"
    );
    world.apply_ok().await;
    assert_eq!(world.issues("acme/roadmap").await.len(), 50);
}

#[test]
fn the_kubernetes_configmap_holds_a_valid_configuration() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("deploy/kubernetes/base/configmap.yaml")).unwrap();
    let docs = yaml_rust2::YamlLoader::load_from_str(&text).unwrap();
    let data = &docs[0]["data"];
    let dir = std::env::temp_dir().join(format!("hs-configmap-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (name, value) in data.as_hash().unwrap() {
        std::fs::write(dir.join(name.as_str().unwrap()), value.as_str().unwrap()).unwrap();
    }
    // It names nobody real: its placeholders are refused until replaced.
    let path = dir.join("config.toml");
    let error = handbook_sync::config::Config::load(Some(&path)).unwrap_err();
    assert!(error.to_string().contains("placeholder"), "{error}");
    let filled = std::fs::read_to_string(&path)
        .unwrap()
        .replace("example-group/roadmap", "acme/roadmap")
        .replace("your-username", "sytses");
    std::fs::write(&path, filled).unwrap();
    let config = handbook_sync::config::Config::load(Some(&path))
        .expect("the ConfigMap's config.toml loads");
    assert_eq!(
        config.server.listen.to_string(),
        "0.0.0.0:9090",
        "probes must reach the daemon"
    );
    assert!(
        matches!(config.source(&config.pages[0]), handbook_sync::source::SourceSpec::Local(p) if p.is_file()),
        "the page it names is in the ConfigMap"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_to_the_handbook_opens_the_issue_within_seconds_and_a_wrong_token_changes_nothing() {
    let port = free_port();
    let world = World::new(
        "[[pages]]\nid = \"pm\"\nsource = \"gitlab://acme/roadmap/handbook/pm.md?ref=main\"\nproject = \"acme/roadmap\"\nowner = \"sytses\"\n",
        &format!("[sync]\nschedule = \"0 0 1 1 *\"\n\n[server]\nlisten = \"127.0.0.1:{port}\"\n\n[webhook]\nsecret = \"s3cret\"\n"),
    )
    .await;
    let file = "/projects/acme%2Froadmap/repository/files/handbook%2Fpm.md";
    world
        .api(
            reqwest::Method::POST,
            file,
            &[
                ("branch", "main"),
                ("content", "## Duties\n\n- Keep the roadmap public\n"),
                ("commit_message", "Add the page"),
            ],
        )
        .await;
    let daemon = start(&world);
    let deadline = Instant::now() + Duration::from_secs(20);
    while get(port, "/readyz").await.map(|r| r.0) != Some(200) {
        assert!(Instant::now() < deadline, "never ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(world.issues("acme/roadmap").await.len(), 1);
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

    // A wrong token: 401, nothing else said, nothing synced.
    let r = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/hooks/gitlab"))
        .header("X-Gitlab-Token", "wrong")
        .header("X-Gitlab-Event", "Push Hook")
        .body(r#"{"object_kind":"push","ref":"refs/heads/main","project":{"path_with_namespace":"acme/roadmap"},"commits":[{"modified":["handbook/pm.md"]}]}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.text().await.unwrap(), "");

    let pushed = Instant::now();
    world
        .api(
            reqwest::Method::PUT,
            file,
            &[
                ("branch", "main"),
                (
                    "content",
                    "## Duties\n\n- Keep the roadmap public\n- Answer partner questions\n",
                ),
                ("commit_message", "Add a bullet"),
            ],
        )
        .await;
    loop {
        let issues = world.issues("acme/roadmap").await;
        if issues
            .iter()
            .any(|i| i["title"] == "Answer partner questions" && i["state"] == "opened")
        {
            break;
        }
        assert!(
            pushed.elapsed() < Duration::from_secs(5),
            "no issue 5 s after the push"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (code, _) = tokio::task::spawn_blocking(move || terminate(daemon))
        .await
        .unwrap();
    assert_eq!(code, 0);
}

/// A warm tick of an unchanged `http(s)` page costs the page a `304` and GitLab one
/// request per project: the issues updated since the last sync (the cache's check, kept
/// in memory), so that a person's change is seen within a tick. The first tick after the
/// start-up sync reads in full once (it sees the daemon's own create); the ticks after it
/// ask nothing else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_page_answering_304_costs_one_issue_list_per_warm_tick() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    // A handbook site that knows ETags.
    let hits = Arc::new(AtomicUsize::new(0));
    let not_modified = Arc::new(AtomicUsize::new(0));
    let (h, n) = (hits.clone(), not_modified.clone());
    let site = axum::Router::new().route(
        "/pm.md",
        axum::routing::get(move |headers: axum::http::HeaderMap| {
            let (h, n) = (h.clone(), n.clone());
            async move {
                h.fetch_add(1, Ordering::SeqCst);
                if headers.get("if-none-match").is_some_and(|v| v == "\"v1\"") {
                    n.fetch_add(1, Ordering::SeqCst);
                    return (
                        axum::http::StatusCode::NOT_MODIFIED,
                        [("etag", "\"v1\"")],
                        String::new(),
                    );
                }
                (
                    axum::http::StatusCode::OK,
                    [("etag", "\"v1\"")],
                    "## Duties\n\n- Keep the roadmap public\n".to_owned(),
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let site_url = format!("http://{}/pm.md", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, site).await });

    let port = free_port();
    let world = World::new(
        &format!("[[pages]]\nid = \"pm\"\nsource = \"{site_url}\"\nproject = \"acme/roadmap\"\nowner = \"sytses\"\n"),
        // Every second: this test is about what a warm tick costs, so it needs a few.
        &format!("[sync]\nschedule = \"* * * * * *\"\n\n[server]\nlisten = \"127.0.0.1:{port}\"\n"),
    )
    .await;
    let daemon = start(&world);
    let deadline = Instant::now() + Duration::from_secs(20);
    while get(port, "/readyz").await.map(|r| r.0) != Some(200) {
        assert!(Instant::now() < deadline, "never ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The roadmap is read once after the first sync, then served from memory.
    while get(port, "/roadmap/").await.map(|r| r.0) != Some(200) {
        assert!(Instant::now() < deadline, "no roadmap");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Ticks run one after the other: once the second has asked for the page, the first
    // (the full read after the daemon's own write) is over.
    let before = not_modified.load(Ordering::SeqCst);
    while not_modified.load(Ordering::SeqCst) < before + 2 {
        assert!(Instant::now() < deadline, "no warm ticks");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    world.reset_stats().await;
    let from = not_modified.load(Ordering::SeqCst);
    while not_modified.load(Ordering::SeqCst) < from + 2 {
        assert!(Instant::now() < deadline, "no warm ticks");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let stats = world.stats().await;
    let routes = stats["by_route"].as_object().unwrap();
    assert_eq!(
        routes.keys().collect::<Vec<_>>(),
        ["GET /projects/:id/issues"],
        "warm ticks on an unchanged page asked GitLab only for the updated issues: {stats}"
    );
    assert!(stats["total"].as_u64().unwrap() >= 1, "{stats}");
    assert_eq!(world.issues("acme/roadmap").await.len(), 1);
    let (code, _) = tokio::task::spawn_blocking(move || terminate(daemon))
        .await
        .unwrap();
    assert_eq!(code, 0);
}

/// `run`, its stderr (info level) going to `log`.
pub(crate) fn start_logging(world: &World, log: &std::path::Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_handbook-sync"))
        .args(["run", "--config"])
        .arg(world.dir.join("config.toml"))
        .env("GITLAB_TOKEN", TOKEN)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::from(std::fs::File::create(log).unwrap()))
        .spawn()
        .unwrap()
}

/// The sandbox's Rack::Attack-style limit, with `RateLimit-*` headers on every response
/// (GitLab's `rate_limiting_headers_for_unthrottled_requests` flag, turned on here;
/// `lib/gitlab/middleware/rack_attack_headers.rb`), is set to one request
/// more than a sync makes, so the start-up sync's last answer says `RateLimit-Remaining:
/// 1` and the client pauses until `RateLimit-Reset`. The next sync, a second later, must
/// still wait for that reset: the daemon keeps its client, and the sandbox sees no
/// request. SIGTERM ends the wait at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limit_pause_from_one_sync_holds_in_the_next_and_sigterm_ends_it() {
    let port = free_port();
    let world = World::new(
        &page_toml("pm", "pm.md", "acme/roadmap"),
        &format!(
            "[sync]\nenforce = true\nschedule = \"* * * * * *\"\n\n[server]\nlisten = \"127.0.0.1:{port}\"\n"
        ),
    )
    .await;
    world.write_page("pm.md", "## Duties\n\n- Keep the roadmap public\n");
    world.apply_ok().await;
    // What one sync of this page costs: the daemon's start-up sync makes the same reads.
    world.reset_stats().await;
    world.apply_ok().await;
    let per_sync = world.stats().await["total"].as_u64().unwrap();
    // The window is a calendar minute: leave the start-up sync room inside one.
    let second = chrono::Utc::now().timestamp().rem_euclid(60) as u64;
    if second > 45 {
        tokio::time::sleep(Duration::from_secs(61 - second)).await;
    }
    world
        .http
        .put(format!("{}/-/sandbox/faults", world.sandbox.url))
        .json(&json!({"rate_limit_per_minute": per_sync + 1}))
        .send()
        .await
        .unwrap();
    crate::as_user::enable_feature(
        &world.sandbox.url,
        "rate_limiting_headers_for_unthrottled_requests",
    )
    .await;
    let log = world.dir.join("daemon.log");
    let daemon = start_logging(&world, &log);
    let deadline = Instant::now() + Duration::from_secs(20);
    while get(port, "/readyz").await.map(|r| r.0) != Some(200) {
        assert!(Instant::now() < deadline, "never ready");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    world.reset_stats().await;
    let waiting = "waiting for GitLab's rate limit to reset before the next request";
    while !std::fs::read_to_string(&log).unwrap().contains(waiting) {
        assert!(
            Instant::now() < deadline,
            "the next sync never waited:\n{}",
            std::fs::read_to_string(&log).unwrap()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("rate limit is nearly spent: pausing requests until it resets"),
        "{text}"
    );
    // A new client would have asked GitLab at once; the kept one waits for the reset.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let stats = world.stats().await;
    assert_eq!(stats["total"], 0, "the next sync sent nothing: {stats}");
    let (code, took) = tokio::task::spawn_blocking(move || terminate(daemon))
        .await
        .unwrap();
    assert_eq!(code, 0);
    assert!(
        took < Duration::from_secs(5),
        "SIGTERM ended the wait ({took:?})"
    );
}

/// A `git push` of 25 commits: GitLab's event lists only the last 20
/// (`lib/gitlab/data_builder/push.rb`: `commits.last(20)`, `total_commits_count`), and
/// here the page changed in the first. The sandbox has no git protocol, so the test sends
/// the event a real push of the sandbox's 25 commits would send; the daemon must ask the
/// compare API (`lib/api/repositories.rb`) for the rest and sync the page within seconds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_of_25_commits_changing_the_page_in_the_first_syncs_it_within_seconds() {
    let port = free_port();
    let world = World::new(
        "[[pages]]\nid = \"pm\"\nsource = \"gitlab://acme/roadmap/handbook/pm.md?ref=main\"\nproject = \"acme/roadmap\"\nowner = \"sytses\"\n",
        &format!("[sync]\nschedule = \"0 0 1 1 *\"\n\n[server]\nlisten = \"127.0.0.1:{port}\"\n\n[webhook]\nsecret = \"s3cret\"\n"),
    )
    .await;
    let files = "/projects/acme%2Froadmap/repository/files";
    let write = |method: reqwest::Method, path: &'static str, content: String, message: String| {
        let world = &world;
        async move {
            world
                .api(
                    method,
                    &format!("{files}/{path}"),
                    &[
                        ("branch", "main"),
                        ("content", &content),
                        ("commit_message", &message),
                    ],
                )
                .await
        }
    };
    write(
        reqwest::Method::POST,
        "handbook%2Fpm.md",
        "## Duties\n\n- Keep the roadmap public\n".into(),
        "Add the page".into(),
    )
    .await;
    let daemon = start(&world);
    let deadline = Instant::now() + Duration::from_secs(20);
    while get(port, "/readyz").await.map(|r| r.0) != Some(200) {
        assert!(Instant::now() < deadline, "never ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let before = main_head(&world).await;
    write(
        reqwest::Method::PUT,
        "handbook%2Fpm.md",
        "## Duties\n\n- Keep the roadmap public\n- Answer partner questions\n".into(),
        "Add a bullet".into(),
    )
    .await;
    let mut commits = Vec::new();
    for i in 2..=25 {
        let method = if i == 2 {
            reqwest::Method::POST
        } else {
            reqwest::Method::PUT
        };
        let kind = if i == 2 { "added" } else { "modified" };
        write(
            method,
            "notes%2Flog.md",
            format!("{i}\n"),
            format!("log {i}"),
        )
        .await;
        let id = main_head(&world).await;
        commits.push(json!({"id": id, "message": format!("log {i}"), kind: ["notes/log.md"]}));
    }
    let after = main_head(&world).await;
    let event = json!({
        "object_kind": "push",
        "before": before,
        "after": after,
        "ref": "refs/heads/main",
        "project": {"path_with_namespace": "acme/roadmap"},
        "total_commits_count": 25,
        "commits": commits[commits.len() - 20..],
    });
    let pushed = Instant::now();
    let r = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/hooks/gitlab"))
        .header("X-Gitlab-Token", "s3cret")
        .header("X-Gitlab-Event", "Push Hook")
        .body(event.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    assert_eq!(r.text().await.unwrap(), r#"{"pages":["pm"]}"#);
    loop {
        let issues = world.issues("acme/roadmap").await;
        if issues
            .iter()
            .any(|i| i["title"] == "Answer partner questions")
        {
            break;
        }
        assert!(
            pushed.elapsed() < Duration::from_secs(5),
            "no issue 5 s after the push"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (code, _) = tokio::task::spawn_blocking(move || terminate(daemon))
        .await
        .unwrap();
    assert_eq!(code, 0);
}

/// The commit `main` points at.
pub(crate) async fn main_head(world: &World) -> String {
    world
        .api(
            reqwest::Method::GET,
            "/projects/acme%2Froadmap/repository/branches/main",
            &[],
        )
        .await["commit"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// A daemon on `acme/roadmap`'s `handbook/pm.md` (one bullet, synced at start), ready;
/// and the sandbox's REST client.
async fn gitlab_page_daemon() -> (World, u16, Child, common::Rest) {
    let port = free_port();
    let world = World::new(
        "[[pages]]\nid = \"pm\"\nsource = \"gitlab://acme/roadmap/handbook/pm.md?ref=main\"\nproject = \"acme/roadmap\"\nowner = \"sytses\"\n",
        &format!("[sync]\nschedule = \"0 0 1 1 *\"\n\n[server]\nlisten = \"127.0.0.1:{port}\"\n\n[webhook]\nsecret = \"s3cret\"\n"),
    )
    .await;
    let api = common::Rest::new(&world.sandbox.url);
    commit_actions(
        &api,
        "Add the page",
        json!([{"action": "create", "file_path": "handbook/pm.md", "content": "## Duties\n\n- Keep the roadmap public\n"}]),
    )
    .await;
    let daemon = start(&world);
    let deadline = Instant::now() + Duration::from_secs(20);
    while get(port, "/readyz").await.map(|r| r.0) != Some(200) {
        assert!(Instant::now() < deadline, "never ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (world, port, daemon, api)
}

/// One commit on `main` through `POST /repository/commits`; its id.
pub(crate) async fn commit_actions(
    api: &common::Rest,
    message: &str,
    actions: serde_json::Value,
) -> String {
    let (status, body) = api
        .json(
            reqwest::Method::POST,
            "/projects/acme%2Froadmap/repository/commits",
            &json!({"branch": "main", "commit_message": message, "actions": actions}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    body["id"].as_str().unwrap().to_owned()
}

/// Twenty commits that each change `notes/log.md`, and the push event GitLab would send
/// for `before..` them and whatever came first: the last 20 commits, the true count.
async fn push_of_21(api: &common::Rest, before: &str) -> serde_json::Value {
    let mut commits = Vec::new();
    for i in 0..20 {
        let action = if i == 0 { "create" } else { "update" };
        let id = commit_actions(
            api,
            &format!("log {i}"),
            json!([{"action": action, "file_path": "notes/log.md", "content": format!("{i}\n")}]),
        )
        .await;
        let kind = if i == 0 { "added" } else { "modified" };
        commits.push(json!({"id": id, "message": format!("log {i}"), kind: ["notes/log.md"]}));
    }
    json!({
        "object_kind": "push",
        "before": before,
        "after": commits.last().unwrap()["id"],
        "ref": "refs/heads/main",
        "project": {"path_with_namespace": "acme/roadmap"},
        "total_commits_count": 21,
        "commits": commits,
    })
}

async fn send_hook(port: u16, event: &serde_json::Value) -> (u16, String) {
    let r = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/hooks/gitlab"))
        .header("X-Gitlab-Token", "s3cret")
        .header("X-Gitlab-Event", "Push Hook")
        .body(event.to_string())
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// A push whose first, unlisted commit changed the page among more than 1,000 files:
/// GitLab's compare cuts its diff list at `diff_max_files` and says so in
/// `compare_timeout` (`lib/api/entities/compare.rb`), so the page's path may be missing
/// from it. The daemon must not read that as "the page is unchanged".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_whose_compare_gitlab_cut_short_syncs_every_page_on_the_branch() {
    let (world, port, daemon, api) = gitlab_page_daemon().await;
    let before = main_head(&world).await;
    let mut actions: Vec<serde_json::Value> = (0..1000)
        .map(|n| json!({"action": "create", "file_path": format!("data/{n:04}.txt"), "content": "x\n"}))
        .collect();
    actions.push(json!({"action": "update", "file_path": "handbook/pm.md", "content": "## Duties\n\n- Keep the roadmap public\n- Answer partner questions\n"}));
    commit_actions(&api, "Import the data and a bullet", json!(actions)).await;
    let event = push_of_21(&api, &before).await;
    let (status, body) = send_hook(port, &event).await;
    assert_eq!((status, body.as_str()), (202, r#"{"pages":["pm"]}"#));
    let deadline = Instant::now() + Duration::from_secs(20);
    while !world
        .issues("acme/roadmap")
        .await
        .iter()
        .any(|i| i["title"] == "Answer partner questions")
    {
        assert!(Instant::now() < deadline, "the page was never synced");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (code, _) = tokio::task::spawn_blocking(move || terminate(daemon))
        .await
        .unwrap();
    assert_eq!(code, 0);
}

/// GitLab waits 10 s for a webhook's answer (`webhook_timeout`,
/// `config/gitlab.yml.example`) and disables hooks that keep failing. When the compare
/// a push needs is slow (here every API answer takes 8 s), the hook does not wait for it:
/// it answers with every page on the branch, although the compare would have shown the
/// page untouched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_hook_does_not_wait_for_a_slow_compare() {
    let (world, port, daemon, api) = gitlab_page_daemon().await;
    let before = main_head(&world).await;
    commit_actions(
        &api,
        "First log",
        json!([{"action": "create", "file_path": "notes/first.md", "content": "0\n"}]),
    )
    .await;
    let event = push_of_21(&api, &before).await;
    let faults = |body: serde_json::Value| {
        let url = format!("{}/-/sandbox/faults", world.sandbox.url);
        async move {
            let r = reqwest::Client::new()
                .put(url)
                .json(&body)
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success());
        }
    };
    faults(json!({"latency_ms": 8000})).await;
    let (status, body) = send_hook(port, &event).await;
    faults(json!({})).await;
    assert_eq!((status, body.as_str()), (202, r#"{"pages":["pm"]}"#));
    let (code, _) = tokio::task::spawn_blocking(move || terminate(daemon))
        .await
        .unwrap();
    assert_eq!(code, 0);
}
