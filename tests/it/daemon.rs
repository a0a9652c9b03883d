//! `handbook-sync run` as a process: first sync, health, readiness, metrics, SIGTERM. Push
//! hooks are `daemon_pushes`'.

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
