//! Smaller behaviours of GitLab's that a client can trip on: a note moves its issue's
//! `updated_at`, an edit closes the issue before it validates the rest, Grape's
//! parameter errors, the issue orders that exist and those keyset pages take, and the
//! order of an issue's labels. Each test names the GitLab source it follows.

use crate::common::{Rest, sandbox};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const ISSUES: &str = "/projects/acme%2Froadmap/issues";

/// `app/models/note.rb`: `after_save :touch_noteable`: the issue's `updated_at` becomes
/// the note's time, so `updated_after` finds an issue someone only commented on.
#[tokio::test]
async fn a_note_moves_its_issues_updated_at() {
    let sb = sandbox().await;
    let api = Rest::new(&sb.url);
    let (_, issue) = api
        .form(Method::POST, ISSUES, &[("title", "Commented")])
        .await;
    let path = format!("{ISSUES}/{}", issue["iid"]);
    let (status, note) = api
        .form(
            Method::POST,
            &format!("{path}/notes"),
            &[("body", "A word")],
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let after = api.get(&path).await;
    assert_eq!(after["updated_at"], note["created_at"]);
    let since = note["created_at"].as_str().unwrap();
    let found = api
        .get(&format!(
            "{ISSUES}?updated_after={}",
            form_urlencoded::byte_serialize(since.as_bytes()).collect::<String>()
        ))
        .await;
    let iids: Vec<&Value> = found
        .as_array()
        .unwrap()
        .iter()
        .map(|i| &i["iid"])
        .collect();
    assert_eq!(iids, [&issue["iid"]]);
}

/// `app/services/issuable_base_service.rb`: `change_additional_attributes` runs
/// `change_state` (the close service saves the issue) before `update` assigns and
/// validates the rest, so a close with a title over 255 characters is answered 400 and
/// leaves the issue closed, its title as it was.
#[tokio::test]
async fn an_edit_closes_the_issue_before_its_title_is_refused() {
    let sb = sandbox().await;
    let api = Rest::new(&sb.url);
    let (_, issue) = api.form(Method::POST, ISSUES, &[("title", "Kept")]).await;
    let path = format!("{ISSUES}/{}", issue["iid"]);
    let long = "x".repeat(256);
    let (status, body) = api
        .form(
            Method::PUT,
            &path,
            &[("state_event", "close"), ("title", &long)],
        )
        .await;
    assert_eq!(
        (status, body),
        (
            StatusCode::BAD_REQUEST,
            json!({"message": {"title": ["is too long (maximum is 255 characters)"]}})
        )
    );
    let now = api.get(&path).await;
    assert_eq!(
        (now["state"].as_str(), now["title"].as_str()),
        (Some("closed"), Some("Kept"))
    );
    assert!(now["closed_at"].is_string());
}

/// Grape's presence validator (`requires :title` in `lib/api/issues.rb`) answers
/// `{"error":"title is missing"}`; `order_by` outside `sort_options`
/// (`lib/api/helpers/issues_helpers.rb`: no `id` for issues) is `does not have a valid
/// value`.
#[tokio::test]
async fn grape_refuses_a_missing_title_and_an_order_issues_do_not_have() {
    let sb = sandbox().await;
    let api = Rest::new(&sb.url);
    let (status, body) = api
        .form(Method::POST, ISSUES, &[("description", "no title")])
        .await;
    assert_eq!(
        (status, body),
        (
            StatusCode::BAD_REQUEST,
            json!({"error": "title is missing"})
        )
    );
    let r = api.get_raw(&format!("{ISSUES}?order_by=id")).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"error": "order_by does not have a valid value"})
    );
}

/// Keyset pages of project issues exist for the orders of `Issue.supported_keyset_orderings`
/// (gitlab-org/gitlab!199887); an order that needs joins, as `popularity`, falls back to
/// offset pages instead of failing.
#[tokio::test]
async fn keyset_pagination_falls_back_to_offset_pages_for_an_order_it_cannot_keyset() {
    let sb = sandbox().await;
    let api = Rest::new(&sb.url);
    for n in 0..3 {
        api.form(Method::POST, ISSUES, &[("title", &format!("i{n}"))])
            .await;
    }
    let header = |r: &reqwest::Response, name: &str| {
        r.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let keyset = api
        .get_raw(&format!(
            "{ISSUES}?pagination=keyset&order_by=created_at&per_page=2"
        ))
        .await;
    assert_eq!(keyset.status(), StatusCode::OK);
    assert_eq!(
        header(&keyset, "x-page"),
        None,
        "keyset pages have no number"
    );
    assert!(header(&keyset, "link").unwrap().contains("cursor="));
    let fallback = api
        .get_raw(&format!(
            "{ISSUES}?pagination=keyset&order_by=popularity&per_page=2"
        ))
        .await;
    assert_eq!(fallback.status(), StatusCode::OK);
    assert_eq!(header(&fallback, "x-page").as_deref(), Some("1"));
    assert_eq!(header(&fallback, "x-total").as_deref(), Some("3"));
    assert!(header(&fallback, "link").unwrap().contains("page=2"));
}

/// `lib/api/entities/issue_basic.rb`: `labels` is `issue.labels.map(&:title).sort`,
/// whatever order they were given or added in.
#[tokio::test]
async fn an_issues_labels_are_listed_sorted() {
    let sb = sandbox().await;
    let api = Rest::new(&sb.url);
    let (_, issue) = api
        .form(
            Method::POST,
            ISSUES,
            &[("title", "Labeled"), ("labels", "zeta,Alpha,beta")],
        )
        .await;
    assert_eq!(issue["labels"], json!(["Alpha", "beta", "zeta"]));
    let (_, edited) = api
        .form(
            Method::PUT,
            &format!("{ISSUES}/{}", issue["iid"]),
            &[("add_labels", "Aardvark")],
        )
        .await;
    assert_eq!(
        edited["labels"],
        json!(["Aardvark", "Alpha", "beta", "zeta"])
    );
}
