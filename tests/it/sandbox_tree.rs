//! The sandbox's repository tree and its issues across projects behave as GitLab's
//! source says: `lib/api/repositories.rb` (`get ':id/repository/tree'`),
//! `app/finders/repositories/tree_finder.rb`, `lib/gitlab/pagination/gitaly_keyset_pager.rb`
//! (keyset pages with a `Link` carrying `page_token`, merge request 136586), and
//! `lib/api/issues.rb` (`GET /issues`, `GET /issues_statistics`, both `IssuesFinder`).

use crate::common;

use common::{Rest, sandbox};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const PROJECT: &str = "/projects/acme%2Froadmap";

async fn commit(api: &Rest, files: &[(&str, &str)]) -> Value {
    let actions: Vec<Value> = files
        .iter()
        .map(|(path, content)| json!({"action": "create", "file_path": path, "content": content}))
        .collect();
    let (status, body) = api
        .json(
            Method::POST,
            &format!("{PROJECT}/repository/commits"),
            &json!({"branch": "main", "commit_message": "pages", "actions": actions}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body
}

fn paths(entries: &Value) -> Vec<String> {
    entries
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{} {}",
                e["type"].as_str().unwrap(),
                e["path"].as_str().unwrap()
            )
        })
        .collect()
}

#[tokio::test]
async fn a_tree_lists_directories_then_files_at_one_level_or_recursively() {
    let sandbox = sandbox().await;
    let api = Rest::new(&sandbox.url);
    commit(
        &api,
        &[
            ("README.md", "root"),
            ("handbook/jobs/pm.md", "pm"),
            ("handbook/jobs/eng/backend.md", "backend"),
            ("handbook/values.md", "values"),
        ],
    )
    .await;
    let top = api.get(&format!("{PROJECT}/repository/tree")).await;
    assert_eq!(paths(&top), ["tree handbook", "blob README.md"]);
    let jobs = api
        .get(&format!(
            "{PROJECT}/repository/tree?path=handbook/jobs&ref=main"
        ))
        .await;
    assert_eq!(
        paths(&jobs),
        ["tree handbook/jobs/eng", "blob handbook/jobs/pm.md"]
    );
    let all = api
        .get(&format!(
            "{PROJECT}/repository/tree?path=handbook&recursive=true"
        ))
        .await;
    assert_eq!(
        paths(&all),
        [
            "tree handbook/jobs",
            "tree handbook/jobs/eng",
            "blob handbook/jobs/eng/backend.md",
            "blob handbook/jobs/pm.md",
            "blob handbook/values.md",
        ]
    );
    // A blob's id is git's (the files API's `blob_id`); a tree's is git's tree id, so
    // `git hash-object` and `git ls-tree` agree.
    let file = api
        .get(&format!(
            "{PROJECT}/repository/files/handbook%2Fvalues.md?ref=main"
        ))
        .await;
    let values = all.as_array().unwrap().last().unwrap();
    assert_eq!(values["id"], file["blob_id"]);
    assert_eq!(values["mode"], "100644");
    assert_eq!(values["name"], "values.md");
    // What git itself computes: `printf 'backend' | git hash-object --stdin`, and
    // `git mktree` of a tree holding only `backend.md` with that blob.
    assert_eq!(all[2]["id"], "98cd9e7113e58813c2e467a0f63a3a6a69ccd4fc");
    assert_eq!(all[1]["id"], "e0f966adb8cfa947ecd98985d9fbe4db13ed8123");
    assert_eq!(all[1]["mode"], "040000");
}

#[tokio::test]
async fn an_unknown_ref_or_path_is_404_tree_not_found_and_none_needs_recursive() {
    let sandbox = sandbox().await;
    let api = Rest::new(&sandbox.url);
    commit(&api, &[("a.md", "a")]).await;
    for query in ["ref=nope", "path=missing"] {
        let response = api
            .get_raw(&format!("{PROJECT}/repository/tree?{query}"))
            .await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{query}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body, json!({"message": "404 Tree Not Found"}));
    }
    let response = api
        .get_raw(&format!("{PROJECT}/repository/tree?pagination=none"))
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let everything = api
        .get(&format!(
            "{PROJECT}/repository/tree?pagination=none&recursive=true"
        ))
        .await;
    assert_eq!(paths(&everything), ["blob a.md"]);
}

#[tokio::test]
async fn keyset_pages_follow_the_link_s_page_token_to_the_end() {
    let sandbox = sandbox().await;
    let api = Rest::new(&sandbox.url);
    let files: Vec<(String, String)> = (0..7)
        .map(|i| (format!("pages/p{i}.md"), format!("page {i}")))
        .collect();
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, c)| (p.as_str(), c.as_str()))
        .collect();
    commit(&api, &refs).await;
    let mut url =
        format!("{PROJECT}/repository/tree?path=pages&recursive=true&pagination=keyset&per_page=3");
    let mut seen = Vec::new();
    let mut requests = 0;
    loop {
        let response = api.get_raw(&url).await;
        requests += 1;
        assert_eq!(response.status(), StatusCode::OK);
        let link = response
            .headers()
            .get("link")
            .map(|l| l.to_str().unwrap().to_owned());
        assert!(
            response.headers().get("x-total").is_none(),
            "keyset sends no totals"
        );
        let page: Value = response.json().await.unwrap();
        seen.extend(paths(&page));
        let Some(link) = link else { break };
        assert!(link.ends_with("rel=\"next\""), "{link}");
        let next = link.trim_start_matches('<').split('>').next().unwrap();
        assert!(next.contains("page_token="), "{next}");
        url = next.split("/api/v4").nth(1).unwrap().to_owned();
    }
    assert_eq!(requests, 3);
    let expected: Vec<String> = (0..7).map(|i| format!("blob pages/p{i}.md")).collect();
    assert_eq!(seen, expected);
    let bad = api
        .get_raw(&format!(
            "{PROJECT}/repository/tree?pagination=keyset&page_token=bm9wZQ"
        ))
        .await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
}

/// GitLab links the next keyset page only when Gitaly gave a cursor
/// (`GitalyKeysetPager#apply_headers`: `records.count == params[:per_page] &&
/// next_cursor.present?`), and Gitaly's `paginateTreeEntries` gives none when the page
/// reaches the last entry: a tree of exactly `per_page` entries ends on a full page
/// without a `Link`. A token built as Gitaly builds it (base64 of `{"file_name": PATH}`)
/// naming the last entry asks for what follows it: nothing.
#[tokio::test]
async fn a_keyset_page_that_reaches_the_last_entry_has_no_link_though_full() {
    let sandbox = sandbox().await;
    let api = Rest::new(&sandbox.url);
    let files: Vec<(String, String)> = (0..6)
        .map(|i| (format!("p{i}.md"), format!("page {i}")))
        .collect();
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, c)| (p.as_str(), c.as_str()))
        .collect();
    commit(&api, &refs).await;
    let first = api
        .get_raw(&format!(
            "{PROJECT}/repository/tree?pagination=keyset&per_page=3"
        ))
        .await;
    assert!(first.headers().get("link").is_some(), "three more follow");
    let token = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        r#"{"file_name":"p2.md"}"#,
    );
    let second = api
        .get_raw(&format!(
            "{PROJECT}/repository/tree?pagination=keyset&per_page=3&page_token={token}"
        ))
        .await;
    assert_eq!(second.status(), StatusCode::OK);
    assert!(second.headers().get("link").is_none(), "the last page");
    let second: Value = second.json().await.unwrap();
    assert_eq!(paths(&second), ["blob p3.md", "blob p4.md", "blob p5.md"]);
    let token = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        r#"{"file_name":"p5.md"}"#,
    );
    let after = api
        .get(&format!(
            "{PROJECT}/repository/tree?pagination=keyset&per_page=3&page_token={token}"
        ))
        .await;
    assert_eq!(after, json!([]));
}

#[tokio::test]
async fn issues_across_projects_are_listed_and_counted_by_label_state_and_scope() {
    let sandbox = sandbox().await;
    let api = Rest::new(&sandbox.url);
    for (project, title, labels) in [
        ("acme%2Froadmap", "one", "hs,block"),
        ("acme%2Froadmap", "two", "hs"),
        ("acme%2Fsecret", "three", "hs,block"),
    ] {
        let (status, _) = api
            .form(
                Method::POST,
                &format!("/projects/{project}/issues"),
                &[("title", title), ("labels", labels)],
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let (status, _) = api
        .form(
            Method::PUT,
            "/projects/acme%2Froadmap/issues/1",
            &[("state_event", "close")],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let listed = api.get("/issues?scope=all&labels=hs,block&state=all").await;
    let titles: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["three", "one"], "newest first by default");
    assert_eq!(listed[0]["references"]["full"], "acme/secret#1");
    let stats = api
        .get("/issues_statistics?scope=all&labels=hs,block")
        .await;
    assert_eq!(
        stats,
        json!({"statistics": {"counts": {"all": 2, "closed": 1, "opened": 1}}})
    );
    // `created_by_me` is the default (root made them all), and the counts are per state
    // whatever `state` says.
    let mine = api.get("/issues_statistics?labels=hs&state=closed").await;
    assert_eq!(mine["statistics"]["counts"]["all"], 3);
    let bad = api.get_raw("/issues?scope=everyone").await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    // Another user: none are theirs, and with `scope=all` a private project they are
    // not a member of stays hidden.
    let (_, user) = api
        .form(
            Method::POST,
            "/users",
            &[
                ("email", "e@example.com"),
                ("name", "Eve"),
                ("username", "eve"),
                ("password", "a-long-password-1"),
            ],
        )
        .await;
    let (_, token) = api
        .form(
            Method::POST,
            &format!("/users/{}/personal_access_tokens", user["id"]),
            &[("name", "t"), ("scopes[]", "api")],
        )
        .await;
    let as_eve = |query: &str| {
        reqwest::Client::new()
            .get(format!("{}/api/v4{query}", sandbox.url))
            .header("PRIVATE-TOKEN", token["token"].as_str().unwrap())
            .send()
    };
    let theirs: Value = as_eve("/issues_statistics?labels=hs")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(theirs["statistics"]["counts"]["all"], 0);
    // `author_id` (`issues_params`, `IssuableFinder#by_author`): another's issues, those
    // the caller may read.
    let root = api.get("/user").await["id"].as_u64().unwrap();
    let roots: Value = as_eve(&format!(
        "/issues_statistics?scope=all&labels=hs&author_id={root}"
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(roots["statistics"]["counts"]["all"], 2, "not acme/secret's");
    let eves: Value = as_eve(&format!(
        "/issues?scope=all&labels=hs&author_id={}",
        user["id"]
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(eves, json!([]));
    let visible: Value = as_eve("/issues?scope=all&labels=hs")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let projects: Vec<&str> = visible
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["references"]["full"].as_str().unwrap())
        .collect();
    assert_eq!(projects, ["acme/roadmap#2", "acme/roadmap#1"]);
}
