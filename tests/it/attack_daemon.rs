//! `handbook-sync run` attacked from the internet, after its hardening: what a client with
//! and without the webhook's secret can still make the daemon do. Each test runs the
//! daemon as a process and talks to it over real sockets.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::common::{TOKEN, World, free_port, get_local as get, page_toml, terminate};

/// A daemon on a local page with the webhook on (secret `s3cret`), a yearly schedule and
/// `server_toml` in its `[server]`; ready. Its log (info) goes to `daemon.log`.
async fn daemon(server_toml: &str) -> (World, u16, Child) {
    let port = free_port();
    let world = World::new(
        &page_toml("pm", "pm.md", "acme/roadmap"),
        &format!(
            "[sync]\nschedule = \"0 0 1 1 *\"\n\n[server]\nlisten = \"127.0.0.1:{port}\"\n{server_toml}\n\n[webhook]\nsecret = \"s3cret\"\n"
        ),
    )
    .await;
    world.write_page("pm.md", "## Duties\n\n- Keep the roadmap public\n");
    let daemon = Command::new(env!("CARGO_BIN_EXE_handbook-sync"))
        .args(["run", "--config"])
        .arg(world.dir.join("config.toml"))
        .env("GITLAB_TOKEN", TOKEN)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::from(
            std::fs::File::create(world.dir.join("daemon.log")).unwrap(),
        ))
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while get(port, "/readyz").await.map(|r| r.0) != Some(200) {
        assert!(Instant::now() < deadline, "never ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (world, port, daemon)
}

async fn stop(daemon: Child) {
    let (code, _) = tokio::task::spawn_blocking(move || terminate(daemon))
        .await
        .unwrap();
    assert_eq!(code, 0);
}

/// `GET path` over a fresh connection: the status line's code, or `None` when the
/// connection was closed without an answer (or none came within 5 s).
async fn raw_get(port: u16, path: &str) -> Option<u16> {
    let attempt = async {
        let mut s = TcpStream::connect(("127.0.0.1", port)).await.ok()?;
        s.write_all(
            format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await
        .ok()?;
        let mut answer = Vec::new();
        let _ = s.read_to_end(&mut answer).await;
        std::str::from_utf8(answer.get(9..12)?).ok()?.parse().ok()
    };
    tokio::time::timeout(Duration::from_secs(5), attempt)
        .await
        .ok()
        .flatten()
}

/// Whoever holds the webhook's secret (GitLab, or anyone it leaked to) can put every
/// connection in a request: a push whose body trickles in is read for up to 10 s, and
/// waits that long for one of the two body-read slots. With every connection so held, a
/// new connection was closed at once, the kubelet's `/healthz` probe included, and the
/// sender could keep it so by reconnecting after each 408.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_bodies_that_trickle_on_every_connection_leave_healthz_answering() {
    const CAP: usize = 16;
    let (_world, port, daemon) = daemon(&format!("max_connections = {CAP}")).await;
    let mut held = Vec::new();
    for _ in 0..CAP {
        let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        s.write_all(b"POST /hooks/gitlab HTTP/1.1\r\nHost: x\r\nX-Gitlab-Token: s3cret\r\nContent-Length: 1000\r\n\r\n{")
            .await
            .unwrap();
        held.push(s);
    }
    // Every head has been read once the last connection is in its request.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let answered = raw_get(port, "/healthz").await;
    assert_eq!(
        answered,
        Some(200),
        "/healthz with every connection in a signed push"
    );
    drop(held);
    stop(daemon).await;
}

/// Anyone can open connections as fast as the daemon accepts them, each taking the
/// place of the oldest idle one. A probe's (or GitLab's) connection counts as idle from
/// its accept until its head is read, so a flood that turned the table over within that
/// gap closed it unanswered: with 16 places, about one probe in twenty. The place a new
/// connection takes is the oldest idle one of the address holding the most, so a flood
/// from one address (here 127.0.0.2) closes only its own connections.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_connections_from_one_address_never_closes_another_s() {
    let (_world, port, daemon) = daemon("max_connections = 16").await;
    let flooding = tokio_util::sync::CancellationToken::new();
    let mut flood = tokio::task::JoinSet::new();
    for _ in 0..4 {
        let flooding = flooding.clone();
        flood.spawn(async move {
            let mut open = std::collections::VecDeque::new();
            let mut opened = 0usize;
            while !flooding.is_cancelled() {
                let socket = tokio::net::TcpSocket::new_v4().unwrap();
                socket.bind("127.0.0.2:0".parse().unwrap()).unwrap();
                if let Ok(s) = socket.connect(([127, 0, 0, 1], port).into()).await {
                    open.push_back(s);
                    opened += 1;
                }
                if open.len() > 100 {
                    open.pop_front();
                }
            }
            opened
        });
    }
    let mut unanswered = 0;
    let probes = 100;
    for _ in 0..probes {
        if raw_get(port, "/healthz").await != Some(200) {
            unanswered += 1;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    flooding.cancel();
    let mut opened = 0;
    while let Some(n) = flood.join_next().await {
        opened += n.unwrap();
    }
    assert!(
        opened > 16 * 10,
        "the flood turned the table over: {opened}"
    );
    assert_eq!(
        unanswered, 0,
        "{unanswered} of {probes} probes unanswered while 127.0.0.2 opened {opened} connections"
    );
    stop(daemon).await;
}

/// Whether the project's lease label exists.
async fn leased(world: &World, project: &str) -> bool {
    let labels = world
        .api(
            reqwest::Method::GET,
            &format!(
                "/projects/{}/labels?per_page=100",
                project.replace('/', "%2F")
            ),
            &[],
        )
        .await;
    labels
        .as_array()
        .unwrap()
        .iter()
        .any(|l| l["name"] == "handbook-sync-lease")
}

/// SIGTERM while a sync holds the leases of two projects and GitLab has stopped
/// answering: the write in flight finishes, and each lease is released with one delete,
/// which GitLab does not answer either. The releases were sent one after the other,
/// each waiting its `gitlab.timeout_seconds`: with the default 30 s, the write in flight
/// and two projects took 90 s, past the 60 s Kubernetes and systemd give the process,
/// which was killed. They are sent together, within one timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_with_two_leases_held_and_gitlab_silent_releases_them_together() {
    const TIMEOUT: u64 = 4;
    let port = free_port();
    let bullets = "## Duties\n\n- One\n- Two\n- Three\n- Four\n- Five\n- Six\n";
    let world = World::new(
        &format!(
            "{}{}",
            page_toml("a", "a.md", "acme/roadmap"),
            page_toml("b", "b.md", "acme/other")
        ),
        &format!("[sync]\nschedule = \"0 0 1 1 *\"\n\n[server]\nlisten = \"127.0.0.1:{port}\"\n"),
    )
    .await;
    // A short request timeout, in the World's own `[gitlab]` table.
    let config = std::fs::read_to_string(world.dir.join("config.toml")).unwrap();
    std::fs::write(
        world.dir.join("config.toml"),
        config.replacen(
            "[gitlab]\n",
            &format!("[gitlab]\ntimeout_seconds = {TIMEOUT}\n"),
            1,
        ),
    )
    .unwrap();
    world.write_page("a.md", bullets);
    world.write_page("b.md", bullets);
    world
        .set_faults(serde_json::json!({"slow_write_ms": 300}))
        .await;
    let daemon = world
        .command(&["run"])
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::from(
            std::fs::File::create(world.dir.join("daemon.log")).unwrap(),
        ))
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !(leased(&world, "acme/roadmap").await && leased(&world, "acme/other").await) {
        assert!(Instant::now() < deadline, "the sync never held both leases");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // GitLab stops answering anything sent from now on.
    world
        .set_faults(serde_json::json!({"latency_ms": 120_000}))
        .await;
    let (code, took) =
        tokio::task::spawn_blocking(move || terminate_within(daemon, Duration::from_secs(60)))
            .await
            .unwrap();
    let log = std::fs::read_to_string(world.dir.join("daemon.log")).unwrap();
    assert_eq!(code, 0, "{log}");
    // The write in flight (0.3 s), then one timeout for both releases; not two.
    let bound = Duration::from_secs(TIMEOUT) + Duration::from_millis(TIMEOUT * 1000 * 3 / 4);
    assert!(took < bound, "exit took {took:?}\n{log}");
    world.set_faults(serde_json::json!({})).await;
}

/// Sends SIGTERM and waits at most `wait` for the exit (then kills it): the exit code
/// (-1 when killed) and how long it took.
fn terminate_within(mut child: Child, wait: Duration) -> (i32, Duration) {
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let sent = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return (status.code().unwrap_or(-1), sent.elapsed());
        }
        if sent.elapsed() > wait {
            let _ = child.kill();
            let _ = child.wait();
            return (-1, sent.elapsed());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Whoever holds the webhook's secret (or GitLab, retrying deliveries) can send pushes
/// as fast as it likes. Each one asked GitLab's compare API which files it changed, on
/// the daemon's token and within its request budget: 50 pushes at once queued 50
/// compares (20 went out here before the 5 s deadline gave up on the rest), and a steady
/// stream used the whole `gitlab.requests_per_minute` and starved the syncs.
/// A push whose pages are already waiting for a sync needs no compare, and while one
/// compare of the project is in flight, another push syncs every page on its branch
/// instead of asking too: the pushes still sync their page, at the cost of about one
/// compare.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_signed_pushes_costs_about_one_compare() {
    let port = free_port();
    let world = World::new(
        "[[pages]]\nid = \"pm\"\nsource = \"gitlab://acme/roadmap/handbook/pm.md?ref=main\"\nproject = \"acme/roadmap\"\nowner = \"sytses\"\n",
        &format!("[sync]\nschedule = \"0 0 1 1 *\"\n\n[server]\nlisten = \"127.0.0.1:{port}\"\n\n[webhook]\nsecret = \"s3cret\"\n"),
    )
    .await;
    let api = crate::common::Rest::new(&world.sandbox.url);
    crate::daemon::commit_actions(
        &api,
        "Add the page",
        serde_json::json!([{"action": "create", "file_path": "handbook/pm.md", "content": "## Duties\n\n- Keep the roadmap public\n"}]),
    )
    .await;
    let daemon = world
        .command(&["run"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while get(port, "/readyz").await.map(|r| r.0) != Some(200) {
        assert!(Instant::now() < deadline, "never ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    world.reset_stats().await;
    // Every GitLab answer takes a second: the pushes all arrive while the first compare
    // is in flight.
    world
        .set_faults(serde_json::json!({"latency_ms": 1000}))
        .await;
    let client = reqwest::Client::new();
    let mut pushes = tokio::task::JoinSet::new();
    for n in 0..50u32 {
        let client = client.clone();
        pushes.spawn(async move {
            let event = format!(
                r#"{{"object_kind":"push","before":"{:040x}","after":"{:040x}","ref":"refs/heads/main","project":{{"path_with_namespace":"acme/roadmap"}},"commits":[],"total_commits_count":0}}"#,
                2 * n + 1,
                2 * n + 2
            );
            let r = client
                .post(format!("http://127.0.0.1:{port}/hooks/gitlab"))
                .header("X-Gitlab-Token", "s3cret")
                .header("X-Gitlab-Event", "Push Hook")
                .body(event)
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        });
    }
    while let Some(answer) = pushes.join_next().await {
        let (status, body) = answer.unwrap();
        assert_eq!((status, body.as_str()), (202, r#"{"pages":["pm"]}"#));
    }
    world.set_faults(serde_json::json!({})).await;
    let stats = world.stats().await;
    let compares = stats["by_route"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(route, _)| route.contains("/repository/compare"))
        .map(|(_, n)| n.as_u64().unwrap())
        .sum::<u64>();
    assert!(compares <= 2, "50 pushes made {compares} compares: {stats}");
    stop(daemon).await;
}
