//! Answers the sandbox gives as GitLab gives them, where a client was seen to depend on
//! the difference: the description limit in bytes, the board-list errors, milestones,
//! linked issues. Each test names the GitLab source it follows (paths in
//! gitlab-org/gitlab); everything goes through GitLab's own API.

use crate::common::{Rest, TOKEN, sandbox, sandbox_with_tier};
use gitlab_sandbox::Tier;

use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};

const ROADMAP: &str = "/projects/acme%2Froadmap";

/// A description is limited to 1 MiB in *bytes*, not characters
/// (`app/models/concerns/issuable.rb`: `validates :description, bytesize: { maximum: ->
/// { DESCRIPTION_LENGTH_MAX } }`, `DESCRIPTION_LENGTH_MAX = 1.megabyte`), with the message
/// of `app/validators/bytesize_validator.rb` (sizes from Rails' `number_to_human_size`).
/// 600,000 two-byte characters are too many although fewer than 1,048,576 characters.
#[tokio::test]
async fn the_description_limit_counts_bytes() {
    let sb = sandbox().await;
    let api = Rest::new(&sb.url);
    let issues = format!("{ROADMAP}/issues");
    let too_long = "é".repeat(600_000);
    let (status, body) = api
        .json(
            Method::POST,
            &issues,
            &json!({"title": "long", "description": too_long}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({"message": {"description": ["is too long (1.14 MB). The maximum size is 1 MB."]}})
    );

    // Exactly 1 MiB of bytes is allowed, also form-encoded (3 MiB on the wire), as the
    // `gitlab` crate sends it.
    let at_limit = "é".repeat(524_288);
    let (status, issue) = api
        .form(
            Method::POST,
            &issues,
            &[("title", "at the limit"), ("description", &at_limit)],
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{}", issue["message"]);
    assert_eq!(issue["description"].as_str().unwrap().len(), 1_048_576);

    // An edit is held to the same limit; one byte over is refused.
    let over = format!("{at_limit}x");
    let (status, body) = api
        .json(
            Method::PUT,
            &format!("{issues}/{}", issue["iid"]),
            &json!({"description": over}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["message"]["description"][0],
        "is too long (1 MB). The maximum size is 1 MB."
    );
}

/// A board with two label lists, and the labels' ids: (lists path, [label ids], label
/// without a list).
async fn board_with_two_lists(api: &Rest) -> (String, Vec<String>, String) {
    let mut labels = Vec::new();
    for name in ["Doing", "Done", "Later"] {
        let (status, label) = api
            .form(
                Method::POST,
                &format!("{ROADMAP}/labels"),
                &[("name", name), ("color", "#428BCA")],
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
        labels.push(label["id"].to_string());
    }
    let (_, board) = api
        .form(
            Method::POST,
            &format!("{ROADMAP}/boards"),
            &[("name", "Work")],
        )
        .await;
    let lists = format!("{ROADMAP}/boards/{}/lists", board["id"]);
    for label in &labels[..2] {
        let (status, _) = api.form(Method::POST, &lists, &[("label_id", label)]).await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let spare = labels.pop().unwrap();
    (lists, labels, spare)
}

/// Creating a list answers the service's first error as `400 {"message":{"error":…}}`
/// (`lib/api/boards_responses.rb`, `create_list`: `render_api_error!({ error:
/// response.errors.first }, 400)`): `Label not found` for a label the project does not
/// have (`app/services/boards/lists/base_create_service.rb`) and `Label has already been
/// taken` for a second list of a label (`List`'s uniqueness of `label` per board).
#[tokio::test]
async fn board_list_creation_errors_are_gitlabs() {
    let sb = sandbox_with_tier(Tier::Premium).await;
    let api = Rest::new(&sb.url);
    let (lists, labels, _) = board_with_two_lists(&api).await;
    let (status, body) = api
        .form(Method::POST, &lists, &[("label_id", &labels[0])])
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({"message": {"error": "Label has already been taken"}})
    );
    let (status, body) = api
        .form(Method::POST, &lists, &[("label_id", "999999")])
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body, json!({"message": {"error": "Label not found"}}));
    assert_eq!(api.get(&lists).await.as_array().unwrap().len(), 2);
}

/// A list moves only to another position among the board's lists
/// (`app/services/boards/lists/move_service.rb`, `valid_move?`: `new_position !=
/// old_position && new_position >= 0 && new_position < board.lists.movable.size`);
/// otherwise `400 {"message":{"error":"List could not be moved!"}}`
/// (`lib/api/boards_responses.rb`, `move_list`), and nothing moves.
#[tokio::test]
async fn a_list_moved_out_of_range_or_onto_itself_is_refused() {
    let sb = sandbox_with_tier(Tier::Premium).await;
    let api = Rest::new(&sb.url);
    let (lists, _, _) = board_with_two_lists(&api).await;
    let before = api.get(&lists).await;
    let second = before[1]["id"].to_string();
    let refused = json!({"message": {"error": "List could not be moved!"}});
    for position in ["2", "-1", "1", "99"] {
        let (status, body) = api
            .form(
                Method::PUT,
                &format!("{lists}/{second}"),
                &[("position", position)],
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "position {position}");
        assert_eq!(body, refused, "position {position}");
    }
    assert_eq!(api.get(&lists).await, before, "nothing moved");
    let (status, moved) = api
        .form(
            Method::PUT,
            &format!("{lists}/{second}"),
            &[("position", "0")],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(moved["position"], 0);
    let after = api.get(&lists).await;
    assert_eq!(after[0]["id"], before[1]["id"]);
    assert_eq!(after[1]["position"], 1);
}

/// Milestones (`lib/api/milestones.rb`, `lib/api/milestone_responses.rb`): a project
/// without any answers `200 []`; a created one has `API::Entities::Milestone`'s fields,
/// `state` `active`, `iid` counted per project; titles are unique
/// (`Timebox#uniqueness_of_title`); the list filters by `state`, `title` and `iids[]`
/// and puts those without a due date last (`MilestonesFinder`, `due_date_asc`).
#[tokio::test]
async fn milestones_are_listed_and_created() {
    let sb = sandbox().await;
    let api = Rest::new(&sb.url);
    let path = format!("{ROADMAP}/milestones");
    assert_eq!(api.get(&path).await, json!([]));

    let (status, q3) = api
        .form(
            Method::POST,
            &path,
            &[("title", "Q3"), ("description", "third quarter")],
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{q3}");
    assert_eq!(q3["iid"], 1);
    assert_eq!(q3["state"], "active");
    assert_eq!(q3["due_date"], Value::Null);
    assert_eq!(q3["expired"], false);
    assert!(q3["project_id"].is_u64());
    assert!(
        q3["web_url"]
            .as_str()
            .unwrap()
            .ends_with("/acme/roadmap/-/milestones/1")
    );
    let (status, q2) = api
        .json(
            Method::POST,
            &path,
            &json!({"title": "Q2", "start_date": "2026-04-01", "due_date": "2026-06-30"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(q2["iid"], 2);
    assert_eq!(q2["due_date"], "2026-06-30");

    let (status, body) = api.form(Method::POST, &path, &[("title", "Q3")]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({"message": "Failed to create milestone {:title=>[\"already being used for another group or project milestone.\"]}"})
    );
    let (status, body) = api
        .form(
            Method::POST,
            &path,
            &[
                ("title", "Backwards"),
                ("start_date", "2026-05-01"),
                ("due_date", "2026-04-01"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["message"],
        "Failed to create milestone {:due_date=>[\"must be greater than start date\"]}"
    );
    let (status, body) = api.form(Method::POST, &path, &[]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body, json!({"error": "title is missing"}));

    let titles = |v: Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|m| m["title"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(titles(api.get(&path).await), ["Q2", "Q3"]);
    assert_eq!(titles(api.get(&format!("{path}?title=Q3")).await), ["Q3"]);
    assert_eq!(titles(api.get(&format!("{path}?iids[]=2")).await), ["Q2"]);
    assert_eq!(api.get(&format!("{path}?state=closed")).await, json!([]));
}

/// Only Planner/Reporter and up create milestones (`lib/api/milestones.rb`:
/// `authorize! :admin_milestone`; `app/policies/project_policy.rb`); a Guest gets
/// `403` but may list them.
#[tokio::test]
async fn a_guest_lists_milestones_but_cannot_create_one() {
    let sb = sandbox().await;
    let root = Rest::new(&sb.url);
    let (_, user) = root
        .form(
            Method::POST,
            "/users",
            &[
                ("username", "gus"),
                ("name", "Gus"),
                ("email", "gus@example.com"),
                ("password", "a-long-password-1"),
            ],
        )
        .await;
    let (_, token) = root
        .form(
            Method::POST,
            &format!("/users/{}/personal_access_tokens", user["id"]),
            &[("name", "t"), ("scopes[]", "api")],
        )
        .await;
    let (status, _) = root
        .form(
            Method::POST,
            &format!("{ROADMAP}/members"),
            &[("user_id", &user["id"].to_string()), ("access_level", "10")],
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let guest = |method: Method| {
        Client::new()
            .request(method, format!("{}/api/v4{ROADMAP}/milestones", sb.url))
            .header("PRIVATE-TOKEN", token["token"].as_str().unwrap())
    };
    let r = guest(Method::POST)
        .form(&[("title", "Mine")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = guest(Method::GET).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

/// `GET /projects/:id/issues/:issue_iid/links` answers `200` with the linked issues,
/// `[]` when there are none (`lib/api/issue_links.rb`), and `404` for an issue that
/// does not exist (`find_project_issue`).
#[tokio::test]
async fn an_issue_without_links_lists_none() {
    let sb = sandbox().await;
    let api = Rest::new(&sb.url);
    let (_, issue) = api
        .form(
            Method::POST,
            &format!("{ROADMAP}/issues"),
            &[("title", "alone")],
        )
        .await;
    let links = format!("{ROADMAP}/issues/{}/links", issue["iid"]);
    assert_eq!(api.get(&links).await, json!([]));
    let missing = Client::new()
        .get(format!("{}/api/v4{ROADMAP}/issues/999/links", sb.url))
        .header("PRIVATE-TOKEN", TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        missing.json::<Value>().await.unwrap(),
        json!({"message": "404 Not found"})
    );
}

/// What GitLab does to an issue's text before it stores it: the title loses leading and
/// trailing ASCII whitespace (`app/models/concerns/issuable.rb`, `strip_attributes!
/// :title`: Ruby's `String#strip!`), a no-break space stays; the description loses every
/// carriage return and its trailing whitespace (`lib/gitlab/quick_actions/extractor.rb`,
/// `content.delete!("\r")` and `content.rstrip`), inner trailing spaces stay.
#[tokio::test]
async fn titles_are_stripped_and_descriptions_lose_carriage_returns_as_on_gitlab() {
    let sb = sandbox().await;
    let api = Rest::new(&sb.url);
    let (status, issue) = api
        .json(
            Method::POST,
            &format!("{ROADMAP}/issues"),
            &json!({"title": " \t Plan\u{a0} \r\n", "description": "a\rb\r\nc  \nd \n\n"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{issue}");
    assert_eq!(issue["title"], "Plan\u{a0}");
    assert_eq!(issue["description"], "ab\nc  \nd");
    let (status, issue) = api
        .json(
            Method::PUT,
            &format!("{ROADMAP}/issues/{}", issue["iid"]),
            &json!({"title": "  Again  "}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{issue}");
    assert_eq!(issue["title"], "Again");
    let (status, body) = api
        .json(
            Method::POST,
            &format!("{ROADMAP}/issues"),
            &json!({"title": " \n "}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}
