//! The sandbox's repository files (versioned on `main`, blob ids as git computes them)
//! and boards (one list per label, on every tier), checked over HTTP with plain requests.

use crate::common;
use crate::sandbox_api::{Api, header};

use common::{sandbox, sandbox_with_tier};
use gitlab_sandbox::Tier;
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn repository_files_are_versioned_on_main() {
    let sb = sandbox().await;
    let api = Api::new(&sb.url);
    let path = "/projects/acme%2Froadmap/repository/files/handbook%2Fpm.md";
    let (status, body) = api
        .json(
            Method::POST,
            path,
            &[
                ("branch", "main"),
                ("content", "- one\n"),
                ("commit_message", "add"),
            ],
        )
        .await;
    assert_eq!(
        (status, body),
        (
            StatusCode::CREATED,
            json!({"file_path": "handbook/pm.md", "branch": "main"})
        )
    );
    let (status, _) = api
        .json(
            Method::POST,
            path,
            &[
                ("branch", "main"),
                ("content", "x"),
                ("commit_message", "again"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let meta = api.get(&format!("{path}?ref=main")).await;
    use base64::Engine as _;
    let content = base64::engine::general_purpose::STANDARD
        .decode(meta["content"].as_str().unwrap())
        .unwrap();
    assert_eq!(content, b"- one\n");
    // Git's own blob id of "- one\n".
    assert_eq!(meta["blob_id"], git_blob_id(b"- one\n"));
    let first_commit = meta["last_commit_id"].as_str().unwrap().to_owned();

    let head = api
        .send(Method::HEAD, &format!("{path}?ref=main"), &[])
        .await;
    assert_eq!(
        header(&head, "x-gitlab-blob-id").as_deref(),
        meta["blob_id"].as_str()
    );
    let raw = api
        .send(Method::GET, &format!("{path}/raw?ref=main"), &[])
        .await;
    assert_eq!(raw.text().await.unwrap(), "- one\n");

    let (status, _) = api
        .json(
            Method::PUT,
            path,
            &[
                ("branch", "main"),
                ("content", "- one\n- two\n"),
                ("commit_message", "edit"),
                ("last_commit_id", &first_commit),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let meta2 = api.get(&format!("{path}?ref=main")).await;
    assert_ne!(meta2["blob_id"], meta["blob_id"]);
    assert_ne!(meta2["last_commit_id"], first_commit);
    let (status, _) = api
        .json(
            Method::PUT,
            path,
            &[
                ("branch", "main"),
                ("content", "stale"),
                ("commit_message", "edit"),
                ("last_commit_id", &first_commit),
            ],
        )
        .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "an update based on an old commit is refused"
    );
    let (status, body) = api
        .json(
            Method::GET,
            "/projects/acme%2Froadmap/repository/files/missing.md?ref=main",
            &[],
        )
        .await;
    assert_eq!(
        (status, body),
        (
            StatusCode::NOT_FOUND,
            json!({"message": "404 File Not Found"})
        )
    );
}

/// `git hash-object` computed independently of the sandbox, from the git object format.
fn git_blob_id(content: &[u8]) -> String {
    let output = std::process::Command::new("git")
        .args(["hash-object", "--stdin"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write as _;
            child.stdin.take().unwrap().write_all(content)?;
            child.wait_with_output()
        })
        .expect("git runs");
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

#[tokio::test]
async fn boards_take_one_list_per_label() {
    let sb = sandbox_with_tier(Tier::Premium).await;
    let api = Api::new(&sb.url);
    let (_, label) = api
        .json(
            Method::POST,
            "/projects/acme%2Froadmap/labels",
            &[("name", "section::Marketing"), ("color", "#428BCA")],
        )
        .await;
    let (_, board) = api
        .json(
            Method::POST,
            "/projects/acme%2Froadmap/boards",
            &[("name", "Handbook: PM")],
        )
        .await;
    let lists = format!("/projects/acme%2Froadmap/boards/{}/lists", board["id"]);
    let label_id = label["id"].to_string();
    let (status, list) = api
        .json(Method::POST, &lists, &[("label_id", &label_id)])
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(list["label"]["name"], "section::Marketing");
    let (status, _) = api
        .json(Method::POST, &lists, &[("label_id", &label_id)])
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // GitLab answers an unknown label 400, not 404 (`base_create_service.rb`; the
    // bodies are shown in `sandbox_answers`).
    let (status, _) = api
        .json(Method::POST, &lists, &[("label_id", "999999")])
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let board = api
        .get(&format!("/projects/acme%2Froadmap/boards/{}", board["id"]))
        .await;
    assert_eq!(board["lists"].as_array().unwrap().len(), 1);
}

/// Boards are created on every tier: `Project#multiple_issue_boards_available?` has been
/// `true` since GitLab 12.1 (`app/models/project.rb`), so `create_board` in
/// `lib/api/boards_responses.rb` never refuses a project, Free included.
#[tokio::test]
async fn every_tier_creates_boards_through_the_api() {
    for tier in [Tier::Free, Tier::Premium] {
        let sb = sandbox_with_tier(tier).await;
        let api = Api::new(&sb.url);
        for name in ["Handbook: PM", "Handbook: CEO"] {
            let (status, _) = api
                .json(
                    Method::POST,
                    "/projects/acme%2Froadmap/boards",
                    &[("name", name)],
                )
                .await;
            assert_eq!(status, StatusCode::CREATED, "{tier:?}");
        }
        let boards = api.get("/projects/acme%2Froadmap/boards").await;
        assert_eq!(boards.as_array().unwrap().len(), 2, "{tier:?}");
    }
}
