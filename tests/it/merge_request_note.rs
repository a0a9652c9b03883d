//! A handbook merge request carries exactly one handbook-sync note with the plan of what
//! merging it would do, updated on every push; after the merge, `apply` makes the tracker
//! match. The CLI runs as a process against the sandbox, and the page is read from a
//! local "checkout" of the merge request's commit, as a CI job reads it. The CI template's
//! and component's jobs doing the same are `ci_jobs`'.
//!
//! Sandbox behaviour follows `lib/api/notes.rb` (create and edit of merge request notes,
//! list with `order_by`/`sort`), `lib/api/merge_requests.rb` (create, merge) and
//! `lib/api/commits.rb` (multi-action commits).

use crate::common;

use std::path::Path;

use common::{Rest, World, page_toml};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// The handbook project (the roadmap is `acme/roadmap`).
pub(crate) const HANDBOOK: &str = "/projects/acme%2Fother";
pub(crate) const PAGE: &str = "handbook/pm.md";

pub(crate) const MAIN_PAGE: &str = "# Product Manager\n\n## Responsibilities\n\n- Maintain the mailing lists\n- Maintain CF Tile\n- Handle feature requests\n";
pub(crate) const BRANCH_PAGE: &str = "# Product Manager\n\n## Responsibilities\n\n- Maintain the mailing lists\n- ~~Maintain CF Tile~~ => Drew\n- Handle feature requests\n- Do regular feature highlights\n";
const BRANCH_PAGE_2: &str = "# Product Manager\n\n## Responsibilities\n\n- Maintain the mailing lists\n- ~~Maintain CF Tile~~ => Drew\n- Handle feature requests\n- Do regular feature highlights\n- Write the release post\n";

pub(crate) async fn commit(api: &Rest, branch: &str, message: &str, action: &str, content: &str) {
    let (status, body) = api
        .json(
            Method::POST,
            &format!("{HANDBOOK}/repository/commits"),
            &json!({"branch": branch, "commit_message": message,
                    "actions": [{"action": action, "file_path": PAGE, "content": content}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{message}: {body}");
}

/// What `git checkout REF` leaves in the job's directory: the page as of `git_ref`.
pub(crate) async fn checkout(api: &Rest, dir: &Path, git_ref: &str) {
    let raw = api
        .get_raw(&format!(
            "{HANDBOOK}/repository/files/{}/raw?ref={git_ref}",
            PAGE.replace('/', "%2F")
        ))
        .await;
    assert_eq!(raw.status(), StatusCode::OK);
    std::fs::create_dir_all(dir.join("handbook")).unwrap();
    std::fs::write(dir.join(PAGE), raw.text().await.unwrap()).unwrap();
}

pub(crate) async fn notes(api: &Rest) -> Vec<Value> {
    api.get(&format!("{HANDBOOK}/merge_requests/1/notes?sort=asc"))
        .await
        .as_array()
        .unwrap()
        .clone()
}

/// The notes that carry handbook-sync's marker.
fn ours(notes: &[Value]) -> Vec<&Value> {
    notes
        .iter()
        .filter(|n| {
            n["body"]
                .as_str()
                .unwrap()
                .starts_with(handbook_sync::sync::markdown::NOTE_MARKER)
        })
        .collect()
}

/// The table row of the action on the issue titled `title`.
pub(crate) fn row<'a>(body: &'a str, title: &str) -> &'a str {
    body.lines()
        .find(|l| l.starts_with('|') && l.contains(&format!("| {title} |")))
        .unwrap_or_else(|| panic!("no row for {title} in\n{body}"))
}

#[tokio::test]
async fn a_merge_request_gets_one_plan_note_updated_per_push_and_apply_after_merge_matches_it() {
    let world = World::new(&page_toml("product-manager", PAGE, "acme/roadmap"), "").await;
    let api = Rest::new(&world.sandbox.url);
    let mr = "acme/other!1";

    // The handbook on main, synced.
    commit(&api, "main", "The PM page", "create", MAIN_PAGE).await;
    checkout(&api, &world.dir, "main").await;
    world.apply_ok().await;
    let synced = world.issues("acme/roadmap").await;
    assert_eq!(synced.len(), 3);
    // The first apply creates concurrently, so which iid each bullet got depends on the
    // order the requests arrived in: read it back rather than assume it.
    let tile_iid = synced
        .iter()
        .find(|i| i["title"] == "Maintain CF Tile")
        .expect("the CF Tile issue")["iid"]
        .as_u64()
        .unwrap();

    // A branch strikes a bullet and hands it to Drew, and adds one; a merge request.
    let (status, body) = api
        .form(
            Method::POST,
            &format!("{HANDBOOK}/repository/branches"),
            &[("branch", "hand-over"), ("ref", "main")],
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    commit(
        &api,
        "hand-over",
        "Hand CF Tile to Drew",
        "update",
        BRANCH_PAGE,
    )
    .await;
    let (status, body) = api
        .form(
            Method::POST,
            &format!("{HANDBOOK}/merge_requests"),
            &[
                ("source_branch", "hand-over"),
                ("target_branch", "main"),
                ("title", "Hand over CF Tile"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, _) = api
        .form(
            Method::POST,
            &format!("{HANDBOOK}/merge_requests/1/notes"),
            &[("body", "Looks good to me")],
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);

    // The pipeline of the merge request: the plan, posted.
    checkout(&api, &world.dir, "hand-over").await;
    let (code, out, err) = world
        .run(&["plan", "--merge-request-note", mr, "--format", "markdown"])
        .await;
    assert_eq!(code, 2, "changes to make, as without a note:\n{out}\n{err}");
    let all = notes(&api).await;
    let posted = ours(&all);
    assert_eq!((all.len(), posted.len()), (2, 1), "{all:#?}");
    let body = posted[0]["body"].as_str().unwrap();
    assert_eq!(body, out, "the note is what --format markdown prints");
    let close = row(body, "Maintain CF Tile");
    assert!(
        close.starts_with(&format!("| **close** | [#{tile_iid}](")),
        "{close}"
    );
    assert!(close.contains("`@sytses → @drew`"), "{close}");
    assert!(close.contains("`opened → closed`"), "{close}");
    assert!(row(body, "Do regular feature highlights").starts_with("| create | new |"));
    assert!(!body.contains("Write the release post"));
    let note_id = posted[0]["id"].clone();

    // A second push to the branch, a second pipeline: still one note, edited.
    commit(
        &api,
        "hand-over",
        "And release posts",
        "update",
        BRANCH_PAGE_2,
    )
    .await;
    checkout(&api, &world.dir, "hand-over").await;
    let (code, _, err) = world.run(&["plan", "--merge-request-note", mr]).await;
    assert_eq!(code, 2, "{err}");
    let all = notes(&api).await;
    let posted = ours(&all);
    assert_eq!((all.len(), posted.len()), (2, 1), "{all:#?}");
    assert_eq!(posted[0]["id"], note_id, "the same note, edited in place");
    let body = posted[0]["body"].as_str().unwrap();
    assert!(row(body, "Write the release post").starts_with("| create | new |"));
    assert!(row(body, "Maintain CF Tile").contains("`@sytses → @drew`"));

    // Merged: the default branch's pipeline applies.
    let (status, body) = api
        .form(
            Method::PUT,
            &format!("{HANDBOOK}/merge_requests/1/merge"),
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    checkout(&api, &world.dir, "main").await;
    world.apply_ok().await;
    let issues = world.issues("acme/roadmap").await;
    assert_eq!(issues.len(), 5);
    let tile = issues
        .iter()
        .find(|i| i["title"] == "Maintain CF Tile")
        .unwrap();
    assert_eq!(tile["state"], "closed");
    assert_eq!(tile["assignees"][0]["username"], "drew");

    // A third plan on the merge request: nothing to do, said in the same note.
    let (code, _, err) = world.run(&["plan", "--merge-request-note", mr]).await;
    assert_eq!(code, 0, "{err}");
    let all = notes(&api).await;
    let posted = ours(&all);
    assert_eq!((all.len(), posted.len()), (2, 1), "{all:#?}");
    assert_eq!(posted[0]["id"], note_id);
    let body = posted[0]["body"].as_str().unwrap();
    assert!(body.contains("Nothing to do"), "{body}");
    assert!(!body.contains("| create |"), "{body}");
}

#[tokio::test]
async fn a_note_that_cannot_be_posted_fails_the_run_and_a_bad_reference_is_refused() {
    let world = World::new(&page_toml("product-manager", PAGE, "acme/roadmap"), "").await;
    let api = Rest::new(&world.sandbox.url);
    commit(&api, "main", "The PM page", "create", MAIN_PAGE).await;
    checkout(&api, &world.dir, "main").await;

    let (code, out, err) = world
        .run(&["plan", "--merge-request-note", "acme/other!7"])
        .await;
    assert_eq!(code, 1, "no merge request !7: posting failed\n{out}");
    assert!(err.contains("acme/other!7") && err.contains("404"), "{err}");
    assert!(!err.contains(common::TOKEN));
    assert!(
        out.contains("3 to create"),
        "the plan is still printed: {out}"
    );

    let (code, _, err) = world
        .run(&["plan", "--merge-request-note", "acme/other#7"])
        .await;
    assert_eq!(
        code, 64,
        "a usage error, not plan's 2 (changes to make): {err}"
    );
    assert!(err.contains("GROUP/PROJECT!IID"), "{err}");
}

/// A note only its author, a Maintainer or an admin may edit (`lib/api/helpers/
/// notes_helpers.rb` `update_note`: `authorize! :admin_note, note`; `app/policies/
/// note_policy.rb` `is_author`; `app/policies/project_policy.rb` `maintainer_access`), and
/// a note's author is who posted it (`Notes::CreateService`): a reviewer's comment that
/// quotes the marker is not taken for handbook-sync's own, nor edited.
#[tokio::test]
async fn another_users_comment_with_the_marker_is_left_alone() {
    let world = World::new(&page_toml("product-manager", PAGE, "acme/roadmap"), "").await;
    let api = Rest::new(&world.sandbox.url);
    commit(&api, "main", "The PM page", "create", MAIN_PAGE).await;
    checkout(&api, &world.dir, "main").await;
    let (status, _) = api
        .form(
            Method::POST,
            &format!("{HANDBOOK}/repository/branches"),
            &[("branch", "b"), ("ref", "main")],
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = api
        .form(
            Method::POST,
            &format!("{HANDBOOK}/merge_requests"),
            &[
                ("source_branch", "b"),
                ("target_branch", "main"),
                ("title", "B"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);

    let drew = api.get("/users?username=drew").await[0]["id"].clone();
    let (status, pat) = api
        .form(
            Method::POST,
            &format!("/users/{drew}/personal_access_tokens"),
            &[("name", "review"), ("scopes[]", "api")],
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{pat}");
    let as_drew = reqwest::Client::new();
    let notes_url = format!(
        "{}/api/v4{HANDBOOK}/merge_requests/1/notes",
        world.sandbox.url
    );
    let quote = format!(
        "{}\n> the plan says 3 to create: why?",
        handbook_sync::sync::markdown::NOTE_MARKER
    );
    let drews: Value = as_drew
        .post(&notes_url)
        .header("PRIVATE-TOKEN", pat["token"].as_str().unwrap())
        .form(&[("body", quote.as_str())])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(drews["author"]["username"], "drew");

    for _ in 0..2 {
        let (code, _, err) = world
            .run(&["plan", "--merge-request-note", "acme/other!1"])
            .await;
        assert_eq!(code, 2, "{err}");
    }
    let all = notes(&api).await;
    assert_eq!(all.len(), 2, "drew's and one of ours: {all:#?}");
    assert_eq!(
        all[0]["body"],
        quote.as_str(),
        "drew's comment is unchanged"
    );
    assert_eq!(all[1]["author"]["username"], "root");
    assert!(all[1]["body"].as_str().unwrap().contains("3 to create"));

    // And GitLab would not have let anyone else edit it anyway.
    let response = as_drew
        .put(format!("{notes_url}/{}", all[1]["id"]))
        .header("PRIVATE-TOKEN", pat["token"].as_str().unwrap())
        .form(&[("body", "mine now")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);

    // `apply` posts its result in the same comment.
    let (code, _, err) = world
        .run(&["apply", "--merge-request-note", "acme/other!1"])
        .await;
    assert_eq!(code, 0, "{err}");
    let all = notes(&api).await;
    assert_eq!(all.len(), 2, "{all:#?}");
    let body = all[1]["body"].as_str().unwrap();
    assert!(
        body.contains("### handbook-sync apply\n") && body.contains("**3 created, 0 updated"),
        "{body}"
    );
    assert_eq!(world.issues("acme/roadmap").await.len(), 3);
}
