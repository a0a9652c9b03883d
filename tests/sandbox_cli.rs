//! `handbook-sync sandbox` as a process: the first line, persistence, shutdown.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::TOKEN;
use serde_json::Value;

fn start(state: &std::path::Path) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_handbook-sync"))
        .args([
            "sandbox",
            "--listen",
            "127.0.0.1:0",
            "--token",
            TOKEN,
            "--project",
            "acme/roadmap",
            "--project",
            "acme/hidden:private",
        ])
        .args([
            "--user",
            "drew:Drew Dev",
            "--state",
            state.to_str().unwrap(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("first line was {line:?}"))
        .to_owned();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    (child, url)
}

fn terminate(mut child: Child) -> i32 {
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code().unwrap_or(-1);
        }
        assert!(
            Instant::now() < deadline,
            "the sandbox did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
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
