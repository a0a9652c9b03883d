//! Groups as GitLab models them: nested groups (`lib/api/groups.rb`,
//! `Groups::CreateService`), their members (`lib/api/members.rb`), projects made in them
//! (`POST /projects` with `namespace_id`), and what a project's members inherit: a group
//! member is a member of every project inside, at their highest role
//! (`Project#team`, `/members/all`), and `permissions.group_access` says so.

use crate::as_user::As;
use crate::common::sandbox;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// `(username, access_level)` of a member list, sorted by username.
fn levels(members: &Value) -> Vec<(String, u64)> {
    let mut out: Vec<(String, u64)> = members
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["username"].as_str().unwrap().to_owned(),
                m["access_level"].as_u64().unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

/// A Developer of a top-level group is a member of a private project in its subgroup:
/// only in `/members/all`, at 30 (the higher of 30 there and a Reporter membership of
/// the project itself), with `group_access` 30; they read the project, and create an
/// issue whose new label is made (`admin_label`, Planner/Reporter and up). Someone else
/// finds neither the private group nor the project.
#[tokio::test]
async fn a_group_developer_inherits_the_groups_projects() {
    let sb = sandbox().await;
    let root = As::root(&sb.url);
    let corp = root
        .post("/groups", &[("name", "Corp"), ("path", "corp")])
        .await;
    assert_eq!(
        (corp["full_path"].as_str(), corp["visibility"].as_str()),
        (Some("corp"), Some("private"))
    );
    let plan = root
        .post(
            "/groups",
            &[
                ("name", "Planning"),
                ("path", "plan"),
                ("parent_id", &corp["id"].to_string()),
            ],
        )
        .await;
    assert_eq!(plan["full_path"], "corp/plan");
    assert_eq!(plan["parent_id"], corp["id"]);
    let project = root
        .post(
            "/projects",
            &[
                ("name", "Roadmap"),
                ("path", "roadmap"),
                ("namespace_id", &plan["id"].to_string()),
            ],
        )
        .await;
    assert_eq!(project["path_with_namespace"], "corp/plan/roadmap");
    assert_eq!(project["visibility"], "private");
    assert_eq!(
        (
            project["namespace"]["kind"].as_str(),
            project["namespace"]["full_path"].as_str()
        ),
        (Some("group"), Some("corp/plan"))
    );
    let path = "/projects/corp%2Fplan%2Froadmap";

    let (dev_id, dev) = root.new_user("dev").await;
    let (_, stranger) = root.new_user("stranger").await;
    root.post(
        &format!("/groups/{}/members", corp["id"]),
        &[("user_id", &dev_id.to_string()), ("access_level", "30")],
    )
    .await;
    root.add_member(path, dev_id, 20).await;

    assert_eq!(
        levels(&root.get(&format!("{path}/members")).await),
        [("dev".to_owned(), 20)]
    );
    // The group's creator is its Owner (`Groups::CreateService`), so root is inherited
    // too; each user once, at their highest level.
    assert_eq!(
        levels(&root.get(&format!("{path}/members/all")).await),
        [("dev".to_owned(), 30), ("root".to_owned(), 50)]
    );

    let seen = dev.get(path).await;
    assert_eq!(
        seen["permissions"],
        json!({
            "project_access": {"access_level": 20, "notification_level": 3},
            "group_access": {"access_level": 30, "notification_level": 3},
        })
    );
    let issue = dev
        .post(
            &format!("{path}/issues"),
            &[("title", "Plan Q3"), ("labels", "brand-new")],
        )
        .await;
    assert_eq!(issue["labels"], json!(["brand-new"]));
    let labels = root.get(&format!("{path}/labels")).await;
    assert_eq!(labels[0]["name"], "brand-new");

    for p in [
        path.to_owned(),
        "/groups/corp".to_owned(),
        "/groups/corp%2Fplan".to_owned(),
    ] {
        let (status, _) = stranger.call(Method::GET, &p, &[]).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{p}");
    }
    let group = dev.get("/groups/corp%2Fplan").await;
    let projects: Vec<&str> = group["projects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["path_with_namespace"].as_str().unwrap())
        .collect();
    assert_eq!(projects, ["corp/plan/roadmap"]);
}

/// Who may change a group: `admin_group_member` (Owners) adds members, `create_subgroup`
/// (Maintainers and up, the default `subgroup_creation_level`) makes subgroups, and
/// `create_projects` (Developers and up) makes projects in it; a member already there
/// is `409`, a path already taken `400`.
#[tokio::test]
async fn owners_add_members_maintainers_make_subgroups_developers_make_projects() {
    let sb = sandbox().await;
    let root = As::root(&sb.url);
    let (mid, maintainer) = root.new_user("maintainer").await;
    let (did, developer) = root.new_user("developer").await;
    let (rid, reporter) = root.new_user("reporter").await;
    let corp = root
        .post("/groups", &[("name", "Corp"), ("path", "corp")])
        .await;
    let members = format!("/groups/{}/members", corp["id"]);
    for (id, level) in [(mid, "40"), (did, "30"), (rid, "20")] {
        root.post(
            &members,
            &[("user_id", &id.to_string()), ("access_level", level)],
        )
        .await;
    }
    let (status, body) = root
        .call(
            Method::POST,
            &members,
            &[("user_id", &did.to_string()), ("access_level", "30")],
        )
        .await;
    assert_eq!(
        (status, body),
        (
            StatusCode::CONFLICT,
            json!({"message": "Member already exists"})
        )
    );
    let (status, _) = maintainer
        .call(
            Method::POST,
            &members,
            &[("user_id", &rid.to_string()), ("access_level", "10")],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "only Owners add members");

    let parent = corp["id"].to_string();
    let form = |path: &'static str| {
        [
            ("name", path),
            ("path", path),
            ("parent_id", parent.as_str()),
        ]
    };
    maintainer.post("/groups", &form("team")).await;
    let (status, _) = developer
        .call(Method::POST, "/groups", &form("other"))
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "a Developer makes no subgroup"
    );
    let (status, body) = root.call(Method::POST, "/groups", &form("team")).await;
    assert_eq!(
        (status, body),
        (
            StatusCode::BAD_REQUEST,
            json!({"message": "Failed to save group {:path=>[\"has already been taken\"]}"})
        )
    );

    let in_corp = |path: &'static str| [("path", path), ("namespace_id", parent.as_str())];
    developer.post("/projects", &in_corp("dev-project")).await;
    let (status, body) = reporter
        .call(Method::POST, "/projects", &in_corp("rep-project"))
        .await;
    assert_eq!(
        (status, body),
        (
            StatusCode::BAD_REQUEST,
            json!({"message": {"namespace": ["is not valid"]}})
        )
    );
    // Without a namespace the project is the caller's own, and they are its Owner.
    let own = reporter.post("/projects", &[("name", "Notes")]).await;
    assert_eq!(own["path_with_namespace"], "reporter/notes");
    assert_eq!(own["namespace"]["kind"], "user");
    let seen = reporter.get("/projects/reporter%2Fnotes").await;
    assert_eq!(seen["permissions"]["project_access"]["access_level"], 50);
}

/// The start-up configuration's projects are in groups named by their namespace, made
/// without members: `acme/roadmap` is in the public group `acme`.
#[tokio::test]
async fn a_configured_projects_namespace_is_a_group() {
    let sb = sandbox().await;
    let root = As::root(&sb.url);
    let project = root.get("/projects/acme%2Froadmap").await;
    let group = root.get("/groups/acme").await;
    assert_eq!(project["namespace"]["id"], group["id"]);
    assert_eq!(project["namespace"]["kind"], "group");
    assert_eq!(root.get("/groups/acme/members").await, json!([]));
}
