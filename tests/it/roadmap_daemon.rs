//! The daemon's `/roadmap/`: served from its last sync without asking GitLab per view, and
//! following what people change on GitLab (a confidential issue, a closed one, a project
//! made private or out of the token's sight) though the handbook does not change.

use crate::common;
use crate::roadmap::{PM, assert_counts_equal, status_json};

use std::time::{Duration, Instant};

use common::{TOKEN, World, page_toml, pm_page, terminate};
use serde_json::Value;

/// `GET path` sent byte for byte over a socket; the answer's status line and headers.
async fn raw_get(port: u16, path: &str) -> String {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut socket = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    socket.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    socket.read_to_end(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer).into_owned();
    answer.split("\r\n\r\n").next().unwrap().to_owned()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_serves_the_roadmap_of_its_last_sync_and_asks_gitlab_nothing_per_view() {
    let port = free_port();
    let world = World::new(
        &page_toml(PM, "pm.md", "acme/roadmap"),
        &format!("[sync]\nschedule = \"0 0 1 1 *\"\n\n[server]\nlisten = \"127.0.0.1:{port}\"\n"),
    )
    .await;
    world.write_page("pm.md", &pm_page());
    let daemon = std::process::Command::new(env!("CARGO_BIN_EXE_handbook-sync"))
        .args(["run", "--config"])
        .arg(world.dir.join("config.toml"))
        .env("GITLAB_TOKEN", TOKEN)
        .env_remove("RUST_LOG")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = client.get(format!("{base}/roadmap/")).send().await
            && r.status() == 200
        {
            break;
        }
        assert!(Instant::now() < deadline, "no roadmap 30 s after the start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    world.reset_stats().await;
    for _ in 0..3 {
        for path in [
            "/roadmap/",
            "/roadmap/pages/product-manager.html",
            "/roadmap/roadmap.json",
        ] {
            let r = client.get(format!("{base}{path}")).send().await.unwrap();
            assert_eq!(r.status(), 200, "{path}");
            assert_eq!(r.headers()["x-content-type-options"], "nosniff");
            assert!(
                r.headers()["content-security-policy"]
                    .to_str()
                    .unwrap()
                    .starts_with("default-src 'none'")
            );
        }
    }
    let stats = world.stats().await;
    assert_eq!(stats["total"], 0, "page views asked GitLab: {stats}");

    let r = client.get(format!("{base}/roadmap")).send().await.unwrap();
    assert_eq!(r.status(), 308);
    assert_eq!(r.headers()["location"], "/roadmap/");
    let r = client
        .get(format!("{base}/roadmap/nope.html"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    // A client resolves `..` before it sends (reqwest, like browsers, would ask for
    // `/config.toml`): the path goes over the socket as written.
    for path in [
        "/roadmap/pages/../../config.toml",
        "/roadmap/pages/%2e%2e/%2e%2e/config.toml",
        "/roadmap/..%2f..%2fconfig.toml",
    ] {
        let head = raw_get(port, path).await;
        assert!(head.starts_with("HTTP/1.1 404"), "{path}: {head}");
    }
    let index = client.get(format!("{base}/roadmap/")).send().await.unwrap();
    assert!(
        index.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(
        index
            .text()
            .await
            .unwrap()
            .contains("pages/product-manager.html")
    );
    let json: Value = client
        .get(format!("{base}/roadmap/roadmap.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let status = status_json(&world).await;
    assert_counts_equal(&json["pages"][0], &status["pages"][0]);
    assert_eq!(json["pages"][0]["total"], 50);

    let (code, _) = tokio::task::spawn_blocking(move || terminate(daemon))
        .await
        .unwrap();
    assert_eq!(code, 0);
}

/// `run` with `token`, its output thrown away.
fn start_daemon(world: &World, token: &str) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_handbook-sync"))
        .args(["run", "--config"])
        .arg(world.dir.join("config.toml"))
        .env("GITLAB_TOKEN", token)
        .env_remove("RUST_LOG")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

/// `GET base/path`: status and body.
async fn get_text(base: &str, path: &str) -> Option<(u16, String)> {
    let r = reqwest::get(format!("{base}{path}")).await.ok()?;
    Some((r.status().as_u16(), r.text().await.ok()?))
}

/// Syncs the daemon finished, whatever their outcome (`handbook_sync_syncs_total`).
async fn syncs(base: &str) -> u64 {
    let Some((_, metrics)) = get_text(base, "/metrics").await else {
        return 0;
    };
    metrics
        .lines()
        .filter(|l| l.starts_with("handbook_sync_syncs_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

/// Waits until the daemon has finished two more syncs than now: the first of them, and
/// everything the daemon does after it, is over.
async fn two_more_syncs(base: &str) {
    let before = syncs(base).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while syncs(base).await < before + 2 {
        assert!(Instant::now() < deadline, "no two syncs in 30 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn wait_for_roadmap(base: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while get_text(base, "/roadmap/").await.map(|r| r.0) != Some(200) {
        assert!(Instant::now() < deadline, "no roadmap 30 s after the start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The handbook does not change, but people change GitLab: one makes an issue
/// confidential, one closes another, an owner makes the project private. The pages'
/// syncs have nothing to do, yet the daemon's `/roadmap/` must not go on publishing
/// what is no longer public, nor numbers `status` no longer gives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemons_roadmap_follows_what_people_change_on_gitlab() {
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let world = World::new(
        &page_toml(PM, "pm.md", "acme/roadmap"),
        &format!(
            "[sync]\nschedule = \"* * * * * *\"\n\n[server]\nlisten = \"127.0.0.1:{port}\"\n\n[roadmap]\nmax_age_seconds = 0\n"
        ),
    )
    .await;
    world.write_page("pm.md", &pm_page());
    let daemon = start_daemon(&world, TOKEN);
    wait_for_roadmap(&base).await;
    two_more_syncs(&base).await;

    let issues = world.issues("acme/roadmap").await;
    let open: Vec<&Value> = issues.iter().filter(|i| i["state"] == "opened").collect();
    let secret = open[0];
    let closed = open[1];
    let title = secret["title"].as_str().unwrap().to_owned();
    let (_, json) = get_text(&base, "/roadmap/roadmap.json").await.unwrap();
    assert!(json.contains(&title), "published while public");
    world
        .api(
            reqwest::Method::PUT,
            &format!("/projects/acme%2Froadmap/issues/{}", secret["iid"]),
            &[("confidential", "true")],
        )
        .await;
    world
        .api(
            reqwest::Method::PUT,
            &format!("/projects/acme%2Froadmap/issues/{}", closed["iid"]),
            &[("state_event", "close")],
        )
        .await;
    two_more_syncs(&base).await;
    let (_, json) = get_text(&base, "/roadmap/roadmap.json").await.unwrap();
    assert!(
        !json.contains(&title),
        "the title of an issue made confidential is still published"
    );
    let json: Value = serde_json::from_str(&json).unwrap();
    assert_counts_equal(&json["pages"][0], &status_json(&world).await["pages"][0]);

    world
        .api(
            reqwest::Method::PUT,
            "/projects/acme%2Froadmap",
            &[("visibility", "private")],
        )
        .await;
    two_more_syncs(&base).await;
    let (code, _) = get_text(&base, "/roadmap/pages/product-manager.html")
        .await
        .unwrap();
    assert_eq!(
        code, 404,
        "the page of a project made private is still published"
    );
    let (_, json) = get_text(&base, "/roadmap/roadmap.json").await.unwrap();
    let json: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(json["pages"], serde_json::json!([]));

    let (code, _) = tokio::task::spawn_blocking(move || terminate(daemon))
        .await
        .unwrap();
    assert_eq!(code, 0);
}

/// The daemon's token loses sight of the project (made private, and the token's user is
/// no member): GitLab answers 404, the sync fails, and the roadmap, which cannot tell
/// whether the project is still public, takes its page down rather than keep it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemons_roadmap_drops_a_page_whose_project_it_can_no_longer_see() {
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let world = World::new(
        &page_toml(PM, "pm.md", "acme/roadmap"),
        &format!(
            "[sync]\nschedule = \"* * * * * *\"\n\n[server]\nlisten = \"127.0.0.1:{port}\"\n\n[roadmap]\nmax_age_seconds = 0\n"
        ),
    )
    .await;
    world.write_page("pm.md", &pm_page());
    world.apply_ok().await;
    // A reader's token: it sees the public project, and nothing once it is private.
    let reader = world.create_user("reader", false).await;
    let token = world.create_token(reader, &["api"]).await;
    let daemon = start_daemon(&world, &token);
    wait_for_roadmap(&base).await;
    let (code, _) = get_text(&base, "/roadmap/pages/product-manager.html")
        .await
        .unwrap();
    assert_eq!(code, 200);

    world
        .api(
            reqwest::Method::PUT,
            "/projects/acme%2Froadmap",
            &[("visibility", "private")],
        )
        .await;
    two_more_syncs(&base).await;
    let (code, _) = get_text(&base, "/roadmap/pages/product-manager.html")
        .await
        .unwrap();
    assert_eq!(
        code, 404,
        "the page of a project the token can no longer see is still published"
    );
    let (_, index) = get_text(&base, "/roadmap/").await.unwrap();
    assert!(!index.contains("product-manager"), "{index}");

    let (code, _) = tokio::task::spawn_blocking(move || terminate(daemon))
        .await
        .unwrap();
    assert_eq!(code, 0);
}
