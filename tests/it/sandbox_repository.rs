//! The sandbox's repository and merge requests behave as GitLab's source says: branches,
//! commits of several actions, reads at any ref, compare, merges and the push events
//! they send, and merge request notes. Each test names the GitLab files it follows
//! (gitlab-org/gitlab, read through its mirror gitlabhq/gitlabhq).

use crate::common;

use base64::Engine as _;
use common::{Rest, hook_receiver, sandbox, wait_for_event};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const PROJECT: &str = "/projects/acme%2Froadmap";

/// Registers a push hook at `url` on the test project.
async fn add_hook(api: &Rest, url: &str) {
    let (status, body) = api
        .form(
            Method::POST,
            &format!("{PROJECT}/hooks"),
            &[("url", url), ("push_events", "true")],
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

/// One commit through `POST /repository/commits`, asserting 201; returns the commit.
async fn commit(api: &Rest, branch: &str, message: &str, actions: Value) -> Value {
    let (status, body) = api
        .json(
            Method::POST,
            &format!("{PROJECT}/repository/commits"),
            &json!({"branch": branch, "commit_message": message, "actions": actions}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{message}: {body}");
    body
}

/// A file's content at `git_ref`, or the status when it cannot be read.
async fn read(api: &Rest, path: &str, git_ref: &str) -> Result<String, StatusCode> {
    let path = path.replace('/', "%2F");
    let response = api
        .get_raw(&format!("{PROJECT}/repository/files/{path}?ref={git_ref}"))
        .await;
    if response.status() != StatusCode::OK {
        return Err(response.status());
    }
    let body: Value = response.json().await.unwrap();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(body["content"].as_str().unwrap())
        .unwrap();
    Ok(String::from_utf8(bytes).unwrap())
}

/// Creates branch `name` from `from`, asserting 201.
async fn branch(api: &Rest, name: &str, from: &str) -> Value {
    let (status, body) = api
        .form(
            Method::POST,
            &format!("{PROJECT}/repository/branches"),
            &[("branch", name), ("ref", from)],
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body
}

/// A compare lists at most the instance's `diff_max_files` files (default 1000,
/// `app/models/application_setting.rb`), and says so in `compare_timeout`, which is
/// `compare.diffs.diffs.overflow?` (`lib/api/entities/compare.rb`).
#[tokio::test]
async fn a_compare_of_more_than_1000_files_is_cut_and_says_so() {
    let sb = sandbox().await;
    let api = Rest::new(&sb.url);
    let start = commit(
        &api,
        "main",
        "Start",
        json!([{"action": "create", "file_path": "README.md", "content": "hi\n"}]),
    )
    .await;
    let actions: Vec<Value> = (0..1001)
        .map(|n| json!({"action": "create", "file_path": format!("data/{n:04}.txt"), "content": "x\n"}))
        .collect();
    let many = commit(&api, "main", "Many files", json!(actions)).await;
    let compare = |from: String, to: String| {
        let api = &api;
        async move {
            api.get(&format!(
                "{PROJECT}/repository/compare?from={from}&to={to}&straight=true"
            ))
            .await
        }
    };
    let cut = compare(
        start["id"].as_str().unwrap().into(),
        many["id"].as_str().unwrap().into(),
    )
    .await;
    assert_eq!(cut["compare_timeout"], true);
    assert_eq!(cut["diffs"].as_array().unwrap().len(), 1000);
    let whole = compare(
        start["id"].as_str().unwrap().into(),
        start["id"].as_str().unwrap().into(),
    )
    .await;
    assert_eq!(whole["compare_timeout"], false);
}

/// `lib/gitlab/data_builder/push.rb` (`commits.last(20)`, `total_commits_count:
/// commits_count`), `app/services/git/branch_hooks_service.rb` (an update pushes
/// `commits_between(oldrev, newrev)`: the branch's 25 commits and the merge commit,
/// so 26), `lib/api/merge_requests.rb` (merge; a second merge is `not_allowed!`),
/// `app/models/project.rb` (`DEFAULT_MERGE_COMMIT_TEMPLATE`), `lib/api/repositories.rb`
/// and `lib/api/entities/compare.rb` (compare).
#[tokio::test]
async fn merging_25_commits_pushes_20_listed_with_the_true_count_and_compare_sees_every_file() {
    let sb = sandbox().await;
    let api = Rest::new(&sb.url);
    commit(
        &api,
        "main",
        "Start the handbook",
        json!([{"action": "create", "file_path": "handbook/pm.md", "content": "v0\n"}]),
    )
    .await;
    let (url, mut events) = hook_receiver().await;
    add_hook(&api, &url).await;
    branch(&api, "review", "main").await;
    let created = wait_for_event(&mut events, |e| e["ref"] == "refs/heads/review").await;
    assert_eq!(created["before"], "0".repeat(40), "a new branch's push");
    assert_eq!(created["total_commits_count"], 0, "nothing off main yet");

    let mut branch_commits = Vec::new();
    let first =
        json!([{"action": "create", "file_path": "handbook/first.md", "content": "only here\n"}]);
    branch_commits.push(commit(&api, "review", "step 1", first).await["id"].clone());
    for i in 2..=25 {
        let update = json!([{"action": "update", "file_path": "handbook/pm.md", "content": format!("v{i}\n")}]);
        branch_commits
            .push(commit(&api, "review", &format!("step {i}"), update).await["id"].clone());
    }
    let main_before = api
        .get(&format!("{PROJECT}/repository/branches/main"))
        .await["commit"]["id"]
        .clone();

    let (status, mr) = api
        .form(
            Method::POST,
            &format!("{PROJECT}/merge_requests"),
            &[
                ("source_branch", "review"),
                ("target_branch", "main"),
                ("title", "Review the PM page"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{mr}");
    assert_eq!(
        (mr["iid"].clone(), mr["state"].clone()),
        (json!(1), json!("opened"))
    );
    let (status, merged) = api
        .form(
            Method::PUT,
            &format!("{PROJECT}/merge_requests/1/merge"),
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{merged}");
    assert_eq!(merged["state"], "merged");
    let merge_sha = merged["merge_commit_sha"].as_str().unwrap().to_owned();

    let push = wait_for_event(&mut events, |e| e["ref"] == "refs/heads/main").await;
    assert_eq!(push["before"], main_before);
    assert_eq!(push["after"], merge_sha);
    assert_eq!(
        push["total_commits_count"], 26,
        "25 branch commits and the merge commit"
    );
    let listed = push["commits"].as_array().unwrap();
    assert_eq!(listed.len(), 20, "only the last 20 are listed");
    let ids: Vec<&Value> = listed.iter().map(|c| &c["id"]).collect();
    let mut expected: Vec<&Value> = branch_commits[6..].iter().collect();
    let merge_id = json!(merge_sha);
    expected.push(&merge_id);
    assert_eq!(ids, expected, "oldest first, ending with the merge commit");
    assert!(
        listed[19]["message"]
            .as_str()
            .unwrap()
            .starts_with("Merge branch 'review' into 'main'\n\nReview the PM page"),
        "{}",
        listed[19]["message"]
    );
    assert!(
        !ids.contains(&&branch_commits[0]),
        "the commit that added first.md is not listed"
    );
    // `Commit#hook_attrs` diffs a merge commit against its first parent: the merge
    // commit itself names every file the branch changed.
    assert_eq!(
        (listed[19]["added"].clone(), listed[19]["modified"].clone()),
        (json!(["handbook/first.md"]), json!(["handbook/pm.md"]))
    );

    let compare = api
        .get(&format!(
            "{PROJECT}/repository/compare?from={}&to={}",
            push["before"].as_str().unwrap(),
            push["after"].as_str().unwrap()
        ))
        .await;
    assert_eq!(compare["compare_same_ref"], false);
    assert_eq!(compare["commits"].as_array().unwrap().len(), 26);
    assert_eq!(compare["commit"]["id"], merge_sha, "the newest commit");
    let diffs = compare["diffs"].as_array().unwrap();
    let paths: Vec<&str> = diffs
        .iter()
        .map(|d| d["new_path"].as_str().unwrap())
        .collect();
    assert_eq!(
        paths,
        ["handbook/first.md", "handbook/pm.md"],
        "every changed file"
    );
    assert_eq!(diffs[0]["new_file"], true);
    assert_eq!(diffs[0]["diff"], "@@ -0,0 +1 @@\n+only here\n");
    assert_eq!(diffs[1]["diff"], "@@ -1 +1 @@\n-v0\n+v25\n");
    assert_eq!(
        read(&api, "handbook/first.md", "main").await.as_deref(),
        Ok("only here\n")
    );

    let same = api
        .get(&format!(
            "{PROJECT}/repository/compare?from=main&to={merge_sha}"
        ))
        .await;
    assert_eq!(
        (same["compare_same_ref"].clone(), same["commits"].clone()),
        (json!(true), json!([]))
    );
    let (status, body) = api
        .form(
            Method::PUT,
            &format!("{PROJECT}/merge_requests/1/merge"),
            &[],
        )
        .await;
    assert_eq!(
        (status, body),
        (
            StatusCode::METHOD_NOT_ALLOWED,
            json!({"message": "405 Method Not Allowed"})
        ),
        "an already merged MR is not mergeable"
    );
    let (status, body) = api
        .form(
            Method::GET,
            &format!("{PROJECT}/repository/compare?from=main&to=nope"),
            &[],
        )
        .await;
    assert_eq!(
        (status, body),
        (
            StatusCode::NOT_FOUND,
            json!({"message": "404 Ref Not Found"})
        )
    );
}

/// `lib/api/commits.rb` (`actions[]`, 201 `CommitDetail`, `render_api_error!(…, 400)`),
/// Gitaly's index errors ("A file with this name already exists" / "doesn't exist",
/// notes §8), `app/models/commit.rb` `hook_attrs` (`added`/`modified`/`removed`).
#[tokio::test]
async fn a_multi_action_commit_changes_several_files_at_once_or_nothing() {
    let sb = sandbox().await;
    let api = Rest::new(&sb.url);
    commit(
        &api,
        "main",
        "Two pages",
        json!([
            {"action": "create", "file_path": "a.md", "content": "a\n"},
            {"action": "create", "file_path": "b.md", "content": "Yg==", "encoding": "base64"},
        ]),
    )
    .await;
    assert_eq!(read(&api, "b.md", "main").await.as_deref(), Ok("b"));
    let (url, mut events) = hook_receiver().await;
    add_hook(&api, &url).await;

    // A form body, as the `gitlab` crate sends `actions[]`.
    let (status, made) = api
        .form(
            Method::POST,
            &format!("{PROJECT}/repository/commits"),
            &[
                ("branch", "main"),
                ("commit_message", "Rework"),
                ("actions[][action]", "create"),
                ("actions[][file_path]", "c.md"),
                ("actions[][content]", "c\n"),
                ("actions[][action]", "update"),
                ("actions[][file_path]", "a.md"),
                ("actions[][content]", "a2\n"),
                ("actions[][action]", "delete"),
                ("actions[][file_path]", "b.md"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    assert_eq!(made["title"], "Rework");
    assert_eq!(
        made["stats"],
        json!({"additions": 2, "deletions": 2, "total": 4})
    );
    let push = wait_for_event(&mut events, |e| e["after"] == made["id"]).await;
    assert_eq!(push["total_commits_count"], 1, "one push, one commit");
    let only = &push["commits"][0];
    assert_eq!(
        (
            only["added"].clone(),
            only["modified"].clone(),
            only["removed"].clone()
        ),
        (json!(["c.md"]), json!(["a.md"]), json!(["b.md"]))
    );
    assert_eq!(read(&api, "b.md", "main").await, Err(StatusCode::NOT_FOUND));

    let head = api
        .get(&format!("{PROJECT}/repository/branches/main"))
        .await["commit"]["id"]
        .clone();
    for (actions, message) in [
        (
            json!([
                {"action": "create", "file_path": "d.md", "content": "d"},
                {"action": "create", "file_path": "a.md", "content": "again"},
            ]),
            "A file with this name already exists",
        ),
        (
            json!([
                {"action": "update", "file_path": "a.md", "content": "a3"},
                {"action": "delete", "file_path": "gone.md"},
            ]),
            "A file with this name doesn't exist",
        ),
    ] {
        let (status, body) = api
            .json(
                Method::POST,
                &format!("{PROJECT}/repository/commits"),
                &json!({"branch": "main", "commit_message": "bad", "actions": actions}),
            )
            .await;
        assert_eq!(
            (status, body),
            (StatusCode::BAD_REQUEST, json!({"message": message}))
        );
    }
    assert_eq!(
        read(&api, "d.md", "main").await,
        Err(StatusCode::NOT_FOUND),
        "nothing half-done"
    );
    assert_eq!(read(&api, "a.md", "main").await.as_deref(), Ok("a2\n"));
    let after = api
        .get(&format!("{PROJECT}/repository/branches/main"))
        .await["commit"]["id"]
        .clone();
    assert_eq!(after, head, "no commit was made");
    let (status, body) = api
        .json(
            Method::POST,
            &format!("{PROJECT}/repository/commits"),
            &json!({"branch": "main", "commit_message": "x",
                    "actions": [{"action": "update", "file_path": "a.md"}]}),
        )
        .await;
    assert_eq!(
        (status, body),
        (
            StatusCode::BAD_REQUEST,
            json!({"error": "actions[0][content] is missing"})
        ),
        "Grape: content is required for update"
    );
}

/// `lib/api/files.rb` (`requires :ref`; unknown ref `not_found!('Commit')`; `blob_id`,
/// `last_commit_id`), `lib/api/branches.rb` and `app/services/branches/*_service.rb`
/// (messages), `app/services/commits/create_service.rb` (`start_branch`,
/// `validate_branch_existence!`).
#[tokio::test]
async fn ref_reads_a_file_on_a_branch_that_differs_from_main() {
    let sb = sandbox().await;
    let api = Rest::new(&sb.url);
    let file = format!("{PROJECT}/repository/files/handbook%2Fpm.md");
    let (status, _) = api
        .form(
            Method::POST,
            &file,
            &[
                ("branch", "main"),
                ("content", "main\n"),
                ("commit_message", "add"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let main_meta = api.get(&format!("{file}?ref=main")).await;
    let made = branch(&api, "draft", "main").await;
    assert_eq!(made["name"], "draft");
    assert_eq!(made["commit"]["id"], main_meta["commit_id"]);
    let (status, body) = api
        .form(
            Method::PUT,
            &file,
            &[
                ("branch", "draft"),
                ("content", "draft\n"),
                ("commit_message", "edit"),
            ],
        )
        .await;
    assert_eq!(
        (status, body),
        (
            StatusCode::OK,
            json!({"file_path": "handbook/pm.md", "branch": "draft"})
        )
    );

    assert_eq!(
        read(&api, "handbook/pm.md", "main").await.as_deref(),
        Ok("main\n")
    );
    assert_eq!(
        read(&api, "handbook/pm.md", "draft").await.as_deref(),
        Ok("draft\n")
    );
    assert_eq!(
        read(&api, "handbook/pm.md", "refs%2Fheads%2Fdraft")
            .await
            .as_deref(),
        Ok("draft\n")
    );
    let sha = main_meta["commit_id"].as_str().unwrap();
    assert_eq!(
        read(&api, "handbook/pm.md", sha).await.as_deref(),
        Ok("main\n"),
        "a commit id is a ref"
    );
    let draft_meta = api.get(&format!("{file}?ref=draft")).await;
    assert_eq!(draft_meta["ref"], "draft");
    assert_ne!(draft_meta["blob_id"], main_meta["blob_id"]);
    assert_eq!(
        draft_meta["last_commit_id"], draft_meta["commit_id"],
        "changed by the branch's head"
    );
    assert_eq!(
        api.get(&format!("{file}?ref=main")).await,
        main_meta,
        "main is untouched"
    );
    let raw = api.get_raw(&format!("{file}/raw?ref=draft")).await;
    assert_eq!(raw.headers()["x-gitlab-ref"], "draft");
    assert_eq!(raw.text().await.unwrap(), "draft\n");
    let raw = api.get_raw(&format!("{file}/raw")).await;
    assert_eq!(
        raw.text().await.unwrap(),
        "main\n",
        "raw defaults to the default branch"
    );
    let (status, body) = api
        .form(Method::GET, &format!("{file}?ref=nope"), &[])
        .await;
    assert_eq!(
        (status, body),
        (
            StatusCode::NOT_FOUND,
            json!({"message": "404 Commit Not Found"})
        )
    );

    for (name, from, message) in [
        ("draft", "main", "Branch already exists".to_owned()),
        (
            "new",
            "nope",
            "Failed to create branch 'new': invalid reference name 'nope'".to_owned(),
        ),
        ("bad name", "main", "Branch name is invalid".to_owned()),
    ] {
        let (status, body) = api
            .form(
                Method::POST,
                &format!("{PROJECT}/repository/branches"),
                &[("branch", name), ("ref", from)],
            )
            .await;
        assert_eq!(
            (status, body),
            (StatusCode::BAD_REQUEST, json!({"message": message}))
        );
    }
    // A commit to a branch that exists, from another start branch, is refused.
    let (status, body) = api
        .json(
            Method::POST,
            &format!("{PROJECT}/repository/commits"),
            &json!({"branch": "draft", "start_branch": "main", "commit_message": "x",
                    "actions": [{"action": "create", "file_path": "x.md", "content": "x"}]}),
        )
        .await;
    assert_eq!(
        (status, body),
        (
            StatusCode::BAD_REQUEST,
            json!({"message": "A branch called 'draft' already exists. Switch to that branch in order to make changes"})
        )
    );
    // A commit that starts a new branch leaves main alone.
    commit(
        &api,
        "main",
        "noop check",
        json!([{"action": "create", "file_path": "keep.md", "content": "k"}]),
    )
    .await;
    let (status, body) = api
        .json(
            Method::POST,
            &format!("{PROJECT}/repository/commits"),
            &json!({"branch": "fresh", "start_branch": "main", "commit_message": "x",
                    "actions": [{"action": "delete", "file_path": "keep.md"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        read(&api, "keep.md", "fresh").await,
        Err(StatusCode::NOT_FOUND)
    );
    assert_eq!(read(&api, "keep.md", "main").await.as_deref(), Ok("k"));
}

/// `lib/api/notes.rb` (merge request notes by iid; `requires :body`; `PUT` edits in
/// place; `order_by`/`sort` default `created_at desc`), `lib/api/entities/note.rb`,
/// `lib/api/helpers/notes_helpers.rb` (`bad_request!("Note #{note.errors.messages}")`)
/// with `MAX_TEXT_SIZE_LIMIT = 1_000_000` (`lib/gitlab/database.rb`),
/// `lib/api/helpers/merge_requests_helpers.rb` (422 and 409 error arrays).
#[tokio::test]
async fn merge_request_notes_are_created_listed_and_updated_in_place() {
    let sb = sandbox().await;
    let api = Rest::new(&sb.url);
    commit(
        &api,
        "main",
        "start",
        json!([{"action": "create", "file_path": "a.md", "content": "a"}]),
    )
    .await;
    branch(&api, "topic", "main").await;
    commit(
        &api,
        "topic",
        "change",
        json!([{"action": "update", "file_path": "a.md", "content": "b"}]),
    )
    .await;
    let mrs = format!("{PROJECT}/merge_requests");
    let form = [
        ("source_branch", "topic"),
        ("target_branch", "main"),
        ("title", "Topic"),
    ];
    let (status, mr) = api.form(Method::POST, &mrs, &form).await;
    assert_eq!(status, StatusCode::CREATED, "{mr}");
    assert_eq!(mr["references"]["full"], "acme/roadmap!1");
    let (status, body) = api.form(Method::POST, &mrs, &form).await;
    assert_eq!(
        (status, body),
        (
            StatusCode::CONFLICT,
            json!({"message": ["Another open merge request already exists for this source branch: !1"]})
        )
    );
    let (status, body) = api
        .form(
            Method::POST,
            &mrs,
            &[
                ("source_branch", "main"),
                ("target_branch", "main"),
                ("title", "x"),
            ],
        )
        .await;
    assert_eq!(
        (status, body),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({"message": ["You can't use same project/branch for source and target"]})
        )
    );

    let notes = format!("{mrs}/1/notes");
    let (status, first) = api
        .form(Method::POST, &notes, &[("body", "Looks good")])
        .await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    for (field, value) in [
        ("body", json!("Looks good")),
        ("noteable_type", json!("MergeRequest")),
        ("noteable_id", mr["id"].clone()),
        ("noteable_iid", json!(1)),
        ("system", json!(false)),
        ("type", Value::Null),
        ("commands_changes", json!({})),
    ] {
        assert_eq!(first[field], value, "{field}");
    }
    assert_eq!(first["author"]["username"], "root");
    let (_, second) = api.form(Method::POST, &notes, &[("body", "One nit")]).await;
    let listed = api.get(&notes).await;
    assert_eq!(listed[0]["id"], second["id"], "newest first by default");
    assert_eq!(listed[1]["id"], first["id"]);

    let one = format!("{notes}/{}", first["id"]);
    let (status, edited) = api
        .form(Method::PUT, &one, &[("body", "Looks great")])
        .await;
    assert_eq!(status, StatusCode::OK, "{edited}");
    assert_eq!(
        (edited["id"].clone(), edited["body"].clone()),
        (first["id"].clone(), json!("Looks great"))
    );
    assert_eq!(edited["created_at"], first["created_at"]);
    let listed = api.get(&format!("{notes}?sort=asc")).await;
    assert_eq!(
        listed.as_array().unwrap().len(),
        2,
        "edited in place, not added"
    );
    assert_eq!(listed[0]["body"], "Looks great");
    assert_eq!(api.get(&format!("{mrs}/1")).await["user_notes_count"], 2);

    let long = "x".repeat(1_000_001);
    let (status, body) = api.json(Method::POST, &notes, &json!({"body": long})).await;
    assert_eq!(
        (status, body),
        (
            StatusCode::BAD_REQUEST,
            json!({"message": "400 Bad request - Note {:note=>[\"is too long (maximum is 1000000 characters)\"]}"})
        )
    );
    let (status, _) = api
        .json(Method::PUT, &one, &json!({"body": "x".repeat(1_000_000)}))
        .await;
    assert_eq!(status, StatusCode::OK, "1,000,000 characters are allowed");
    let (status, body) = api
        .form(Method::PUT, &format!("{notes}/999999"), &[("body", "x")])
        .await;
    assert_eq!(
        (status, body),
        (StatusCode::NOT_FOUND, json!({"message": "404 Not found"}))
    );
}
