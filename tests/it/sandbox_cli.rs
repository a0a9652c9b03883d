//! `handbook-sync sandbox` as a process: the first line, persistence, shutdown.

use crate::common;

use common::TOKEN;
use serde_json::Value;

/// The sandbox with `--state`, two projects (one private) and a user with a full name.
fn start(state: &std::path::Path) -> (std::process::Child, String) {
    common::sandbox_process(&[
        "--listen",
        "127.0.0.1:0",
        "--token",
        TOKEN,
        "--project",
        "acme/roadmap",
        "--project",
        "acme/hidden:private",
        "--user",
        "drew:Drew Dev",
        "--state",
        state.to_str().unwrap(),
    ])
}

fn terminate(child: std::process::Child) -> i32 {
    common::terminate(child).0
}

#[tokio::test]
async fn the_sandbox_keeps_its_data_across_a_restart_and_stops_on_sigterm() {
    let dir = std::env::temp_dir().join(format!("hs-sandbox-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let state = dir.join("state.json");
    let http = reqwest::Client::new();

    let (child, url) = start(&state);
    let created: Value = http
        .post(format!("{url}/api/v4/projects/acme%2Froadmap/issues"))
        .header("PRIVATE-TOKEN", TOKEN)
        .form(&[("title", "survives restarts")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(created["iid"], 1);
    let project: Value = http
        .get(format!("{url}/api/v4/projects/acme%2Fhidden"))
        .header("PRIVATE-TOKEN", TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(project["visibility"], "private");
    assert_eq!(terminate(child), 0);

    let (child, url) = start(&state);
    let issues: Vec<Value> = http
        .get(format!("{url}/api/v4/projects/acme%2Froadmap/issues"))
        .header("PRIVATE-TOKEN", TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(issues.len(), 1);
    assert_eq!(issues[0]["title"], "survives restarts");
    let users: Vec<Value> = http
        .get(format!("{url}/api/v4/users?username=drew"))
        .header("PRIVATE-TOKEN", TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(users[0]["name"], "Drew Dev");
    assert_eq!(terminate(child), 0);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A client that sent half a request holds a graceful shutdown open (GitLab's clients
/// keep connections alive too); the sandbox stops anyway after
/// `gitlab_sandbox::SHUTDOWN_GRACE`, and keeps its data.
#[tokio::test]
async fn a_half_open_connection_does_not_keep_the_sandbox_from_stopping() {
    let dir = std::env::temp_dir().join(format!("hs-sandbox-held-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let state = dir.join("state.json");
    let (child, url) = start(&state);
    // Serving (and listening for signals) once it has answered a request.
    let answered = reqwest::get(format!("{url}/api/v4/user")).await.unwrap();
    assert_eq!(answered.status(), 401);
    let address = url.trim_start_matches("http://").to_owned();
    let mut held = std::net::TcpStream::connect(address).unwrap();
    std::io::Write::write_all(&mut held, b"GET /api/v4/user HTTP/1.1\r\nHost: x\r\n").unwrap();
    let (code, took) = common::terminate(child);
    assert_eq!(code, 0);
    assert!(
        took < gitlab_sandbox::SHUTDOWN_GRACE + std::time::Duration::from_secs(5),
        "{took:?}"
    );
    assert!(state.exists(), "the state was saved");
    drop(held);
    std::fs::remove_dir_all(&dir).unwrap();
}
