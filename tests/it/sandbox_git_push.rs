//! The sandbox's `git push` of an existing commit (`/-/sandbox/projects/:id/push`): a
//! rollback sends the push event GitLab sends for it (`commits: []`,
//! `app/services/git/branch_push_service.rb` listing `commits_between(oldrev, newrev)`),
//! and a forced push to the protected default branch is refused as
//! `lib/gitlab/checks/branch_check.rb` refuses it.

use crate::common;

use common::{Rest, hook_receiver, sandbox, wait_for_event};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const PROJECT: &str = "/projects/acme%2Froadmap";

async fn commit(api: &Rest, branch: &str, content: &str) -> String {
    let (status, body) = api
        .json(
            Method::POST,
            &format!("{PROJECT}/repository/commits"),
            &json!({"branch": branch, "commit_message": "Edit", "actions": [
                {"action": if content.starts_with("v1") { "create" } else { "update" }, "file_path": "pm.md", "content": content}
            ]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["id"].as_str().unwrap().to_owned()
}

async fn push(url: &str, branch: &str, to: &str) -> (StatusCode, Value) {
    let r = reqwest::Client::new()
        .post(format!("{url}/-/sandbox{PROJECT}/push"))
        .json(&json!({"branch": branch, "to": to}))
        .send()
        .await
        .unwrap();
    (r.status(), r.json().await.unwrap())
}

#[tokio::test]
async fn a_forced_push_back_to_an_older_commit_lists_no_commit_and_main_refuses_it() {
    let sandbox = sandbox().await;
    let api = Rest::new(&sandbox.url);
    let v1 = commit(&api, "main", "v1\n").await;
    let (status, body) = api
        .form(
            Method::POST,
            &format!("{PROJECT}/repository/branches"),
            &[("branch", "handbook"), ("ref", "main")],
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let v2 = commit(&api, "handbook", "v2\n").await;
    let (url, mut events) = hook_receiver().await;
    let (status, body) = api
        .form(
            Method::POST,
            &format!("{PROJECT}/hooks"),
            &[("url", &url), ("push_events", "true")],
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    let (status, body) = push(&sandbox.url, "handbook", &v1).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["forced"], true, "{body}");
    let event = wait_for_event(&mut events, |e| e["ref"] == "refs/heads/handbook").await;
    assert_eq!(event["before"], v2.as_str());
    assert_eq!(event["after"], v1.as_str());
    assert_eq!(event["commits"], json!([]), "a rollback brings no commit");
    assert_eq!(event["total_commits_count"], 0);
    let branch = api
        .get(&format!("{PROJECT}/repository/branches/handbook"))
        .await;
    assert_eq!(branch["commit"]["id"], v1.as_str());
    let raw = api
        .get_raw(&format!(
            "{PROJECT}/repository/files/pm.md/raw?ref=handbook"
        ))
        .await;
    assert_eq!(
        raw.text().await.unwrap(),
        "v1\n",
        "the branch has v1's files"
    );

    // Forward again: not forced, and the event lists the commit it brings.
    let (status, body) = push(&sandbox.url, "handbook", &v2).await;
    assert_eq!(
        (status, body["forced"].clone()),
        (StatusCode::OK, json!(false))
    );
    let event = wait_for_event(&mut events, |e| e["ref"] == "refs/heads/handbook").await;
    assert_eq!(event["commits"][0]["id"], v2.as_str());
    assert_eq!(event["total_commits_count"], 1);

    // `main` is protected, without force pushes, as every project's default branch is.
    let v3 = commit(&api, "main", "v3\n").await;
    let (status, body) = push(&sandbox.url, "main", &v1).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        body["message"],
        "You are not allowed to force push code to a protected branch on this project."
    );
    let main = api
        .get(&format!("{PROJECT}/repository/branches/main"))
        .await;
    assert_eq!(main["commit"]["id"], v3.as_str(), "main did not move");
    let (status, _) = push(&sandbox.url, "nope", &v1).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = push(&sandbox.url, "handbook", &"f".repeat(40)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
