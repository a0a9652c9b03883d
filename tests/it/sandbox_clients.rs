//! Real GitLab clients nobody on this team wrote, against the sandbox: the `gitlab` crate
//! here, python-gitlab in `tests/fidelity/python_gitlab.py`; and fault injection.

use crate::common;

use common::{TOKEN, sandbox};
use gitlab::api::{self, AsyncQuery, Pagination};
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Debug, Deserialize)]
struct Issue {
    iid: u64,
    title: String,
    state: String,
    labels: Vec<String>,
}

async fn client(url: &str) -> gitlab::AsyncGitlab {
    let host = url.trim_start_matches("http://");
    gitlab::GitlabBuilder::new(host, TOKEN)
        .insecure()
        .build_async()
        .await
        .expect("the gitlab crate connects (GET /user)")
}

#[tokio::test]
async fn the_gitlab_crate_creates_pages_edits_and_closes_issues() {
    let sb = sandbox().await;
    let gl = client(&sb.url).await;
    for n in 0..230 {
        let create = api::projects::issues::CreateIssue::builder()
            .project("acme/roadmap")
            .title(format!("responsibility {n}"))
            .labels(["handbook-sync", if n % 2 == 0 { "even" } else { "odd" }])
            .build()
            .unwrap();
        let issue: Issue = create.query_async(&gl).await.unwrap();
        assert_eq!(issue.iid, n + 1);
    }
    let all = api::issues::ProjectIssues::builder()
        .project("acme/roadmap")
        .build()
        .unwrap();
    let issues: Vec<Issue> = api::paged(all, Pagination::All)
        .query_async(&gl)
        .await
        .unwrap();
    assert_eq!(issues.len(), 230, "offset paging over three pages of 100");

    let even = api::issues::ProjectIssues::builder()
        .project("acme/roadmap")
        .labels(["handbook-sync", "even"])
        .build()
        .unwrap();
    let evens: Vec<Issue> = api::paged(even, Pagination::All)
        .query_async(&gl)
        .await
        .unwrap();
    assert_eq!(evens.len(), 115, "labels are ANDed");

    let edit = api::projects::issues::EditIssue::builder()
        .project("acme/roadmap")
        .issue(1)
        .add_label("section::Marketing")
        .remove_label("even")
        .state_event(api::projects::issues::IssueStateEvent::Close)
        .build()
        .unwrap();
    let edited: Issue = edit.query_async(&gl).await.unwrap();
    assert_eq!(edited.state, "closed");
    assert_eq!(edited.labels, ["handbook-sync", "section::Marketing"]);

    let closed = api::issues::ProjectIssues::builder()
        .project("acme/roadmap")
        .state(api::issues::IssueState::Closed)
        .build()
        .unwrap();
    let closed: Vec<Issue> = api::paged(closed, Pagination::All)
        .query_async(&gl)
        .await
        .unwrap();
    assert_eq!(
        closed.iter().map(|i| i.title.as_str()).collect::<Vec<_>>(),
        ["responsibility 0"]
    );

    let label = api::projects::labels::CreateLabel::builder()
        .project("acme/roadmap")
        .name("fresh")
        .color("#ff0000")
        .build()
        .unwrap();
    api::ignore(label).query_async(&gl).await.unwrap();
    let again = api::projects::labels::CreateLabel::builder()
        .project("acme/roadmap")
        .name("fresh")
        .color("#ff0000")
        .build()
        .unwrap();
    match api::ignore(again).query_async(&gl).await {
        Err(api::ApiError::GitlabWithStatus { status, msg }) => {
            assert_eq!(
                (status.as_u16(), msg.as_str()),
                (409, "Label already exists")
            );
        }
        other => panic!("expected a 409, got {other:?}"),
    }

    #[derive(Deserialize)]
    struct User {
        username: String,
    }
    let users: Vec<User> = api::users::Users::builder()
        .username("drew")
        .build()
        .unwrap()
        .query_async(&gl)
        .await
        .unwrap();
    assert_eq!(
        users
            .iter()
            .map(|u| u.username.as_str())
            .collect::<Vec<_>>(),
        ["drew"]
    );

    let missing = api::projects::issues::CreateIssue::builder()
        .project("nobody/nothing")
        .title("x")
        .build()
        .unwrap();
    match api::ignore(missing).query_async(&gl).await {
        Err(api::ApiError::GitlabWithStatus { status, msg }) => assert_eq!(
            (status.as_u16(), msg.as_str()),
            (404, "404 Project Not Found")
        ),
        other => panic!("expected a 404, got {other:?}"),
    }
}

#[tokio::test]
async fn a_wrong_token_fails_the_gitlab_crate_at_connect() {
    let sb = sandbox().await;
    let host = sb.url.trim_start_matches("http://");
    let err = gitlab::GitlabBuilder::new(host, "not-the-token")
        .insecure()
        .build_async()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("401"), "{err}");
}

// ---------------------------------------------------------------------------------------
// Fault injection.

async fn put_faults(url: &str, faults: Value) {
    let r = reqwest::Client::new()
        .put(format!("{url}/-/sandbox/faults"))
        .json(&faults)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
}

/// Statuses of `n` sequential GETs (and `None` where the response was lost).
async fn statuses(url: &str, n: usize) -> Vec<Option<u16>> {
    let http = reqwest::Client::new();
    let mut out = Vec::new();
    for _ in 0..n {
        let r = http
            .get(format!("{url}/api/v4/projects/acme%2Froadmap/issues"))
            .header("PRIVATE-TOKEN", TOKEN)
            .send()
            .await;
        out.push(r.ok().map(|r| r.status().as_u16()));
    }
    out
}

#[tokio::test]
async fn the_same_seed_gives_the_same_faults_at_the_same_requests() {
    let sb = sandbox().await;
    let faults = json!({"error_rate": 0.3, "seed": 42});
    put_faults(&sb.url, faults.clone()).await;
    let first = statuses(&sb.url, 60).await;
    put_faults(&sb.url, faults).await;
    let second = statuses(&sb.url, 60).await;
    assert_eq!(first, second);
    let errors = first
        .iter()
        .filter(|s| matches!(s, Some(500 | 502 | 503)))
        .count();
    assert!(
        (6..=35).contains(&errors),
        "{errors} of 60 failed at a 30% error rate: {first:?}"
    );
    put_faults(&sb.url, json!({"error_rate": 0.3, "seed": 43})).await;
    assert_ne!(
        statuses(&sb.url, 60).await,
        first,
        "another seed, other faults"
    );
}

#[tokio::test]
async fn a_lost_response_still_applies_the_write() {
    let sb = sandbox().await;
    put_faults(&sb.url, json!({"lost_response_rate": 1.0, "seed": 1})).await;
    let http = reqwest::Client::new();
    let mut outcomes = Vec::new();
    for n in 0..6 {
        let r = http
            .post(format!("{}/api/v4/projects/acme%2Froadmap/issues", sb.url))
            .header("PRIVATE-TOKEN", TOKEN)
            .form(&[("title", format!("lost {n}"))])
            .send()
            .await;
        let outcome = match r {
            Err(_) => "connection error".to_owned(),
            Ok(r) => match (r.status().as_u16(), r.bytes().await) {
                (502, _) => "502".to_owned(),
                (_, Err(_)) => "body cut".to_owned(),
                (status, Ok(_)) => format!("complete {status}"),
            },
        };
        outcomes.push(outcome);
    }
    assert!(
        outcomes.iter().all(|o| !o.starts_with("complete")),
        "{outcomes:?}"
    );
    assert!(
        outcomes.iter().any(|o| o == "502") && outcomes.iter().any(|o| o != "502"),
        "both kinds of loss: {outcomes:?}"
    );
    put_faults(&sb.url, json!({})).await;
    let issues: Vec<Value> = http
        .get(format!("{}/api/v4/projects/acme%2Froadmap/issues", sb.url))
        .header("PRIVATE-TOKEN", TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        issues.len(),
        6,
        "every write went through although no answer arrived"
    );
}

/// Waits until a one-minute rate-limit window has at least 5 seconds left, so that a
/// window reset cannot fall inside the test.
async fn away_from_a_minute_boundary() {
    let second = chrono::Utc::now().timestamp().rem_euclid(60);
    if second >= 55 {
        tokio::time::sleep(std::time::Duration::from_secs((61 - second) as u64)).await;
    }
}

#[tokio::test]
async fn rate_limits_answer_429_as_gitlab_does() {
    let sb = sandbox().await;
    let http = reqwest::Client::new();
    away_from_a_minute_boundary().await;
    put_faults(
        &sb.url,
        json!({"rate_limit_per_minute": 5, "issue_create_limit_per_minute": 1}),
    )
    .await;
    let url = format!("{}/api/v4/projects/acme%2Froadmap/issues", sb.url);

    let create = |title: &'static str| {
        http.post(&url)
            .header("PRIVATE-TOKEN", TOKEN)
            .form(&[("title", title)])
            .send()
    };
    let first = create("one").await.unwrap();
    assert_eq!(first.status(), 201);
    // `rate_limiting_headers_for_unthrottled_requests` is off by default (GitLab 18.6,
    // `lib/gitlab/middleware/rack_attack_headers.rb`): no `RateLimit-*` on answers that
    // are not throttled.
    assert!(first.headers().get("ratelimit-limit").is_none());
    let app_limited = create("two").await.unwrap();
    assert_eq!(app_limited.status(), 429);
    // `lib/api/helpers/rate_limiter.rb`: `too_many_requests!(..., retry_after:
    // interval_value)`, the limit's interval (a minute), and no `RateLimit-*`.
    assert_eq!(app_limited.headers()["retry-after"], "60");
    assert!(app_limited.headers().get("ratelimit-limit").is_none());
    assert_eq!(
        app_limited.json::<Value>().await.unwrap(),
        json!({"message": {"error": "This endpoint has been requested too many times. Try again later."}})
    );
    for _ in 0..3 {
        let r = http
            .get(&url)
            .header("PRIVATE-TOKEN", TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert!(
            !r.headers()
                .keys()
                .any(|k| k.as_str().starts_with("ratelimit-")),
            "no RateLimit-* on a 200 by default: {:?}",
            r.headers()
        );
    }
    let throttled = http
        .get(&url)
        .header("PRIVATE-TOKEN", TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(throttled.status(), 429);
    let retry_after: u64 = throttled.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after));
    assert_eq!(throttled.headers()["ratelimit-remaining"], "0");
    assert!(throttled.headers().contains_key("ratelimit-resettime"));
    assert_eq!(throttled.text().await.unwrap(), "Retry later\n");
}
