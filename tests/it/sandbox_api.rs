//! The sandbox speaks GitLab's API: checked over HTTP with plain requests, against GitLab's
//! documented examples in `tests/data/gitlab-api/`, and with the `gitlab` crate. Lists and
//! pages are `sandbox_listing`'s, repository files and boards `sandbox_files_boards`'s.

use crate::common;

use std::collections::BTreeSet;

use common::{TOKEN, sandbox, sandbox_with_tier};
use gitlab_sandbox::Tier;
use reqwest::{Client, Method, Response, StatusCode};
use serde_json::{Value, json};

pub(crate) struct Api {
    pub(crate) http: Client,
    pub(crate) base: String,
}

impl Api {
    pub(crate) fn new(url: &str) -> Self {
        Api {
            http: Client::new(),
            base: format!("{url}/api/v4"),
        }
    }

    pub(crate) async fn send(&self, method: Method, path: &str, form: &[(&str, &str)]) -> Response {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("PRIVATE-TOKEN", TOKEN);
        if !form.is_empty() {
            let body: String = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(form)
                .finish();
            request = request
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body);
        }
        request.send().await.unwrap()
    }

    pub(crate) async fn json(
        &self,
        method: Method,
        path: &str,
        form: &[(&str, &str)],
    ) -> (StatusCode, Value) {
        let r = self.send(method, path, form).await;
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub(crate) async fn get(&self, path: &str) -> Value {
        let (status, body) = self.json(Method::GET, path, &[]).await;
        assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
        body
    }

    pub(crate) async fn create_issue(&self, form: &[(&str, &str)]) -> Value {
        let (status, body) = self
            .json(Method::POST, "/projects/acme%2Froadmap/issues", form)
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body
    }
}

fn fixture(name: &str) -> Value {
    let path = common::data_dir().join("gitlab-api").join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Every field of the documented example is in `actual`, with the same JSON type, nested
/// objects included. `nullable` fields may be null where the example has a value (the
/// sandbox has no milestones or due dates; an open issue has no `closed_at`).
fn assert_shape(what: &str, example: &Value, actual: &Value, nullable: &[&str]) {
    let (Value::Object(example), Value::Object(actual)) = (example, actual) else {
        panic!("{what}: expected objects, got {example} and {actual}");
    };
    for (key, ex) in example {
        let path = format!("{what}.{key}");
        let Some(got) = actual.get(key) else {
            panic!("{path} is missing")
        };
        if ex.is_null() || (got.is_null() && nullable.contains(&key.as_str())) {
            continue;
        }
        assert_eq!(
            type_name(got),
            type_name(ex),
            "{path}: {got} vs documented {ex}"
        );
        match (ex, got) {
            (Value::Object(_), Value::Object(_)) => assert_shape(&path, ex, got, nullable),
            (Value::Array(exs), Value::Array(gots)) => {
                if let (Some(e), Some(g)) = (exs.first(), gots.first()) {
                    if e.is_object() {
                        assert_shape(&format!("{path}[0]"), e, g, nullable);
                    } else {
                        assert_eq!(type_name(g), type_name(e), "{path}[0]");
                    }
                }
            }
            _ => {}
        }
    }
}

const NULLABLE: &[&str] = &[
    "milestone",
    "due_date",
    "closed_at",
    "closed_by",
    "assignee",
    "description",
    "closed_as_duplicate_of",
    "avatar_url",
    "pronouns",
    "public_email",
    "local_time",
    "email",
    "priority",
    "description_html",
];

#[tokio::test]
async fn responses_have_the_fields_and_types_of_gitlabs_examples() {
    let sb = sandbox_with_tier(Tier::Premium).await;
    let api = Api::new(&sb.url);
    let drew = api.get("/users?username=drew").await[0]["id"]
        .as_u64()
        .unwrap()
        .to_string();

    let created = api
        .create_issue(&[("title", "Issues with auth"), ("labels", "bug")])
        .await;
    assert_shape(
        "create issue",
        &fixture("issue_create_response.json"),
        &created,
        NULLABLE,
    );

    let iid = created["iid"].to_string();
    let (status, closed) = api
        .json(
            Method::PUT,
            &format!("/projects/acme%2Froadmap/issues/{iid}"),
            &[("state_event", "close"), ("assignee_ids[]", &drew)],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_shape(
        "close issue",
        &fixture("issue_edit_close_response.json"),
        &closed,
        NULLABLE,
    );
    assert_eq!(closed["state"], "closed");
    assert!(closed["closed_at"].is_string() && closed["closed_by"]["username"] == "root");

    let listed = api.get("/projects/acme%2Froadmap/issues").await;
    assert_shape(
        "list issues",
        &fixture("issues_list_project.json")[0],
        &listed[0],
        NULLABLE,
    );

    let (status, label) = api
        .json(
            Method::POST,
            "/projects/acme%2Froadmap/labels",
            &[("name", "feature"), ("color", "#5843AD")],
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_shape(
        "create label",
        &fixture("label_create_response.json"),
        &label,
        NULLABLE,
    );
    let (_, edited) = api
        .json(
            Method::PUT,
            "/projects/acme%2Froadmap/labels/feature",
            &[("new_name", "docs"), ("description", "Documentation")],
        )
        .await;
    assert_shape(
        "edit label",
        &fixture("label_edit_response.json"),
        &edited,
        NULLABLE,
    );
    let labels = api
        .get("/projects/acme%2Froadmap/labels?with_counts=true")
        .await;
    assert_shape(
        "list labels",
        &fixture("labels_list.json")[0],
        &labels[0],
        NULLABLE,
    );

    let (status, board) = api
        .json(
            Method::POST,
            "/projects/acme%2Froadmap/boards",
            &[("name", "newboard")],
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_shape(
        "create board",
        &fixture("board_create_response.json"),
        &board,
        NULLABLE,
    );
    let board_id = board["id"].to_string();
    let label_id = label["id"].to_string();
    let (status, list) = api
        .json(
            Method::POST,
            &format!("/projects/acme%2Froadmap/boards/{board_id}/lists"),
            &[("label_id", &label_id)],
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{list}");
    assert_shape(
        "create list",
        &fixture("board_list_create_response.json"),
        &list,
        NULLABLE,
    );
    let lists = api
        .get(&format!("/projects/acme%2Froadmap/boards/{board_id}/lists"))
        .await;
    assert_shape(
        "list lists",
        &fixture("board_lists_list.json")[0],
        &lists[0],
        NULLABLE,
    );
    let boards = api.get("/projects/acme%2Froadmap/boards").await;
    assert_shape(
        "list boards",
        &fixture("boards_list.json")[0],
        &boards[0],
        &[NULLABLE, &["milestone"]].concat(),
    );

    let users = api.get("/users?search=drew").await;
    assert_shape(
        "list users",
        &fixture("users_list_regular.json")[0],
        &users[0],
        NULLABLE,
    );
    let user = api.get(&format!("/users/{drew}")).await;
    assert_shape(
        "single user",
        &fixture("user_single_regular.json"),
        &user,
        NULLABLE,
    );

    let (status, _) = api
        .json(
            Method::POST,
            &format!("/projects/acme%2Froadmap/issues/{iid}/notes"),
            &[("body", "Text of the comment")],
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let notes = api
        .get(&format!("/projects/acme%2Froadmap/issues/{iid}/notes"))
        .await;
    assert_shape(
        "list notes",
        &fixture("issue_notes_list.json")[0],
        &notes[0],
        NULLABLE,
    );
}

#[tokio::test]
async fn authentication_and_error_bodies_are_gitlabs() {
    let sb = sandbox().await;
    let api = Api::new(&sb.url);
    let http = Client::new();
    let user = format!("{}/user", api.base);
    for (name, value) in [
        ("PRIVATE-TOKEN", TOKEN.to_owned()),
        ("Authorization", format!("Bearer {TOKEN}")),
    ] {
        let r = http.get(&user).header(name, value).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{name}");
        assert_eq!(r.json::<Value>().await.unwrap()["username"], "root");
    }
    for request in [
        http.get(&user),
        http.get(&user).header("PRIVATE-TOKEN", "wrong"),
    ] {
        let r = request.send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            r.json::<Value>().await.unwrap(),
            json!({"message": "401 Unauthorized"})
        );
    }
    let (status, body) = api
        .json(Method::GET, "/projects/nobody%2Fnothing", &[])
        .await;
    assert_eq!(
        (status, body),
        (
            StatusCode::NOT_FOUND,
            json!({"message": "404 Project Not Found"})
        )
    );
    let (status, body) = api
        .json(
            Method::POST,
            "/projects/acme%2Froadmap/issues",
            &[("description", "no title")],
        )
        .await;
    // `lib/api/issues.rb` `requires :title`: Grape's presence validator answers
    // `{"error":"title is missing"}` (the REST docs still show the older
    // `required_attributes!` body, `400 (Bad request) "title" not given`).
    assert_eq!(
        (status, body),
        (
            StatusCode::BAD_REQUEST,
            json!({"error": "title is missing"})
        )
    );
    let long = "x".repeat(256);
    let (status, body) = api
        .json(
            Method::POST,
            "/projects/acme%2Froadmap/issues",
            &[("title", &long)],
        )
        .await;
    assert_eq!(
        (status, body),
        (
            StatusCode::BAD_REQUEST,
            json!({"message": {"title": ["is too long (maximum is 255 characters)"]}})
        )
    );
    let ok_255 = "é".repeat(255);
    api.create_issue(&[("title", &ok_255)]).await;
    let (status, body) = api
        .json(
            Method::POST,
            "/projects/acme%2Froadmap/labels",
            &[("name", "x"), ("color", "#000000")],
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = api
        .json(
            Method::POST,
            "/projects/acme%2Froadmap/labels",
            &[("name", "x"), ("color", "#000000")],
        )
        .await;
    assert_eq!(
        (status, body),
        (
            StatusCode::CONFLICT,
            json!({"message": "Label already exists"})
        )
    );
    let (status, _) = api
        .json(Method::GET, "/projects/acme%2Froadmap/issues/999", &[])
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn json_bodies_work_like_form_bodies() {
    let sb = sandbox().await;
    let api = Api::new(&sb.url);
    let r = Client::new()
        .post(format!("{}/projects/acme%2Froadmap/issues", api.base))
        .header("PRIVATE-TOKEN", TOKEN)
        .json(&json!({"title": "From JSON", "labels": ["one", "two"], "confidential": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let issue: Value = r.json().await.unwrap();
    assert_eq!(issue["labels"], json!(["one", "two"]));
    let r = Client::new()
        .put(format!(
            "{}/projects/acme%2Froadmap/issues/{}",
            api.base, issue["iid"]
        ))
        .header("PRIVATE-TOKEN", TOKEN)
        .json(&json!({"add_labels": "three", "remove_labels": "one"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.json::<Value>().await.unwrap()["labels"],
        // Sorted, as `lib/api/entities/issue_basic.rb` lists them.
        json!(["three", "two"])
    );
    // Labels named on an issue exist as project labels afterwards, as in GitLab.
    let names: BTreeSet<String> = api
        .get("/projects/acme%2Froadmap/labels")
        .await
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        names,
        BTreeSet::from(["one".into(), "two".into(), "three".into()])
    );
}

#[tokio::test]
async fn free_tier_keeps_one_assignee_and_unassigns_with_zero() {
    let sb = sandbox().await;
    let api = Api::new(&sb.url);
    let drew = api.get("/users?username=drew").await[0]["id"]
        .as_u64()
        .unwrap()
        .to_string();
    let ashley = api.get("/users?username=ashley").await[0]["id"]
        .as_u64()
        .unwrap()
        .to_string();
    let issue = api
        .create_issue(&[
            ("title", "t"),
            ("assignee_ids[]", &drew),
            ("assignee_ids[]", &ashley),
        ])
        .await;
    assert_eq!(issue["assignees"].as_array().unwrap().len(), 1);
    assert_eq!(issue["assignee"]["username"], "drew");
    let (_, edited) = api
        .json(
            Method::PUT,
            "/projects/acme%2Froadmap/issues/1",
            &[("assignee_ids", "0")],
        )
        .await;
    assert!(edited["assignees"].as_array().unwrap().is_empty() && edited["assignee"].is_null());
    let (_, edited) = api
        .json(
            Method::PUT,
            "/projects/acme%2Froadmap/issues/1",
            &[("assignee_ids[]", "424242")],
        )
        .await;
    assert!(
        edited["assignees"].as_array().unwrap().is_empty(),
        "unknown users are dropped silently"
    );
}

pub(crate) fn header(r: &Response, name: &str) -> Option<String> {
    r.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
}

#[tokio::test]
async fn stats_count_requests_by_route_and_status() {
    let sb = sandbox().await;
    let api = Api::new(&sb.url);
    api.get("/projects/acme%2Froadmap/issues").await;
    api.create_issue(&[("title", "x")]).await;
    api.json(Method::GET, "/projects/none%2Fhere", &[]).await;
    let stats: Value = Client::new()
        .get(format!("{}/-/sandbox/stats", sb.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["total"], 3);
    assert_eq!(stats["reads"], 2);
    assert_eq!(stats["writes"], 1);
    assert_eq!(stats["by_route"]["GET /projects/:id/issues"], 1);
    assert_eq!(stats["by_route"]["POST /projects/:id/issues"], 1);
    assert_eq!(stats["by_status"]["404"], 1);
    let r = Client::new()
        .post(format!("{}/-/sandbox/stats/reset", sb.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let stats: Value = Client::new()
        .get(format!("{}/-/sandbox/stats", sb.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["total"], 0);
}
