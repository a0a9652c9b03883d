//! `handbook-sync run` as a process, answering GitLab's push hooks: a push opens the issue
//! within seconds (a wrong token changes nothing), a push of 25 commits is synced from its
//! first, a compare GitLab cut short syncs every page on the branch, and a slow compare
//! does not hold the hook's answer.

use crate::common;
use crate::daemon::{commit_actions, main_head, start};

use std::process::Child;
use std::time::{Duration, Instant};

use common::{World, free_port, get_local as get, terminate};
use serde_json::json;

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
