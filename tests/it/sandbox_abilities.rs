//! Abilities outside issues, as `app/policies/project_policy.rb` gives them: issue boards
//! on every tier for Planner, Reporter and up, the repository for Reporter and up on a
//! private project, merge requests for Planner and up, deleting an issue for Planner and
//! Owner. Everything is set up through GitLab's own API, on the default tier (Free).

use crate::as_user::As;
use crate::common::sandbox;

use reqwest::{Method, StatusCode};
use serde_json::json;

const ROADMAP: &str = "/projects/acme%2Froadmap";
const SECRET: &str = "/projects/acme%2Fsecret";

/// `lib/api/boards.rb`: `post` authorizes `admin_issue_board` (Planner, Reporter and up)
/// and, since `Project#multiple_issue_boards_available?` is `true` (GitLab 12.1+,
/// `app/models/project.rb`), a project has as many boards as people make, on Free too.
/// Lists need `admin_issue_board_list` (the same roles); reading needs
/// `read_issue_board` (whoever reads the project).
#[tokio::test]
async fn on_free_a_reporter_creates_two_boards_and_a_guest_is_refused() {
    let sb = sandbox().await;
    let root = As::root(&sb.url);
    let (rid, reporter) = root.new_user("reporter").await;
    let (gid, guest) = root.new_user("guest").await;
    let (pid, planner) = root.new_user("planner").await;
    root.add_member(ROADMAP, rid, 20).await;
    root.add_member(ROADMAP, gid, 10).await;
    root.add_member(ROADMAP, pid, 15).await;
    let boards = format!("{ROADMAP}/boards");
    let first = reporter.post(&boards, &[("name", "Handbook: PM")]).await;
    reporter.post(&boards, &[("name", "Handbook: CEO")]).await;
    let names: Vec<String> = reporter
        .get(&boards)
        .await
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["Handbook: PM", "Handbook: CEO"]);

    let (status, body) = guest.call(Method::POST, &boards, &[("name", "Mine")]).await;
    assert_eq!(
        (status, body),
        (StatusCode::FORBIDDEN, json!({"message": "403 Forbidden"}))
    );
    // Grape checks the parameters before the endpoint authorizes.
    let (status, body) = guest.call(Method::POST, &boards, &[]).await;
    assert_eq!(
        (status, body),
        (StatusCode::BAD_REQUEST, json!({"error": "name is missing"}))
    );
    assert_eq!(guest.get(&boards).await.as_array().unwrap().len(), 2);

    let label = root
        .post(
            &format!("{ROADMAP}/labels"),
            &[("name", "section::Duties"), ("color", "#ff0000")],
        )
        .await;
    let label_id = label["id"].to_string();
    let lists = format!("{boards}/{}/lists", first["id"]);
    let (status, _) = guest
        .call(Method::POST, &lists, &[("label_id", &label_id)])
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let list = planner.post(&lists, &[("label_id", &label_id)]).await;
    let list_path = format!("{lists}/{}", list["id"]);
    for (method, form) in [
        (Method::PUT, &[("position", "0")][..]),
        (Method::DELETE, &[][..]),
    ] {
        let (status, _) = guest.call(method.clone(), &list_path, form).await;
        assert_eq!(
            status,
            StatusCode::FORBIDDEN,
            "{method} of a list by a Guest"
        );
    }
    assert_eq!(guest.get(&lists).await.as_array().unwrap().len(), 1);
    let (status, _) = planner.call(Method::DELETE, &list_path, &[]).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}

/// `lib/api/files.rb`, `repositories.rb` (compare), `branches.rb`: `authorize!
/// :download_code` (or `:read_code`) before anything else. `reporter_access` enables
/// `download_code`, `planner_access` does not, and on a public project `public_access`
/// gives it to everyone signed in.
#[tokio::test]
async fn a_private_repository_is_read_by_reporters_not_by_guests_or_planners() {
    let sb = sandbox().await;
    let root = As::root(&sb.url);
    let (gid, guest) = root.new_user("guest").await;
    let (pid, planner) = root.new_user("planner").await;
    let (rid, reporter) = root.new_user("reporter").await;
    let (_, outsider) = root.new_user("outsider").await;
    for (project, user, level) in [
        (SECRET, gid, 10),
        (SECRET, pid, 15),
        (SECRET, rid, 20),
        (ROADMAP, gid, 10),
    ] {
        root.add_member(project, user, level).await;
    }
    for project in [SECRET, ROADMAP] {
        root.post(
            &format!("{project}/repository/files/README.md"),
            &[
                ("branch", "main"),
                ("content", "hello"),
                ("commit_message", "add"),
            ],
        )
        .await;
    }
    let reads = |project: &str| {
        [
            format!("{project}/repository/files/README.md?ref=main"),
            format!("{project}/repository/files/README.md/raw"),
            format!("{project}/repository/branches/main"),
            format!("{project}/repository/compare?from=main&to=main"),
        ]
    };
    for path in reads(SECRET) {
        for who in [&guest, &planner] {
            let (status, body) = who.call(Method::GET, &path, &[]).await;
            assert_eq!(
                (status, body),
                (StatusCode::FORBIDDEN, json!({"message": "403 Forbidden"})),
                "{path}"
            );
        }
        let (status, _) = reporter.call(Method::GET, &path, &[]).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        let (status, _) = outsider.call(Method::GET, &path, &[]).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: no existence leak");
    }
    for path in reads(ROADMAP) {
        for who in [&guest, &outsider] {
            let (status, _) = who.call(Method::GET, &path, &[]).await;
            assert_eq!(status, StatusCode::OK, "{path} on a public project");
        }
    }
}

/// `read_merge_request`: `planner_access` and `reporter_access` enable it; a Guest of a
/// private project has neither (and `public_access` only exists on public and internal
/// projects), so every merge request endpoint answers 403.
#[tokio::test]
async fn a_private_projects_merge_requests_are_read_by_planners_not_by_guests() {
    let sb = sandbox().await;
    let root = As::root(&sb.url);
    let (gid, guest) = root.new_user("guest").await;
    let (pid, planner) = root.new_user("planner").await;
    root.add_member(SECRET, gid, 10).await;
    root.add_member(SECRET, pid, 15).await;
    root.post(
        &format!("{SECRET}/repository/files/a.md"),
        &[
            ("branch", "main"),
            ("content", "a"),
            ("commit_message", "a"),
        ],
    )
    .await;
    root.post(
        &format!("{SECRET}/repository/files/b.md"),
        &[
            ("branch", "topic"),
            ("start_branch", "main"),
            ("content", "b"),
            ("commit_message", "b"),
        ],
    )
    .await;
    let mr = root
        .post(
            &format!("{SECRET}/merge_requests"),
            &[
                ("source_branch", "topic"),
                ("target_branch", "main"),
                ("title", "Topic"),
            ],
        )
        .await;
    let path = format!("{SECRET}/merge_requests/{}", mr["iid"]);
    for p in [path.clone(), format!("{path}/notes")] {
        let (status, _) = guest.call(Method::GET, &p, &[]).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{p}");
        planner.get(&p).await;
    }
    let (status, _) = guest
        .call(Method::POST, &format!("{path}/notes"), &[("body", "hi")])
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    planner
        .post(&format!("{path}/notes"), &[("body", "hi")])
        .await;
}

/// `destroy_issue`: `planner_access` (exactly Planner) and `owner_access` enable it;
/// Reporters, Developers and Maintainers may not delete an issue (403).
#[tokio::test]
async fn planners_and_owners_delete_issues_and_developers_and_maintainers_do_not() {
    let sb = sandbox().await;
    let root = As::root(&sb.url);
    for (name, level, may) in [
        ("reporter", 20, false),
        ("developer", 30, false),
        ("maintainer", 40, false),
        ("planner", 15, true),
        ("owner", 50, true),
    ] {
        let (id, user) = root.new_user(name).await;
        root.add_member(ROADMAP, id, level).await;
        let issue = root
            .post(&format!("{ROADMAP}/issues"), &[("title", name)])
            .await;
        let path = format!("{ROADMAP}/issues/{}", issue["iid"]);
        let (status, _) = user.call(Method::DELETE, &path, &[]).await;
        let expected = if may {
            StatusCode::NO_CONTENT
        } else {
            StatusCode::FORBIDDEN
        };
        assert_eq!(status, expected, "{name}");
        let (status, _) = root.call(Method::GET, &path, &[]).await;
        let kept = if may {
            StatusCode::NOT_FOUND
        } else {
            StatusCode::OK
        };
        assert_eq!(status, kept, "{name}: the issue after the delete");
    }
}
