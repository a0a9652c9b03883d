//! GitLab's feature flags in the sandbox: set as on GitLab, through the features API
//! (`lib/api/features.rb`, administrators only), or from the start with the `sandbox`
//! command's `--feature`; each at GitLab's default until set.

use crate::as_user::As;
use crate::common::{TOKEN, sandbox, sandbox_process, terminate};

use reqwest::{Client, Method, StatusCode};
use serde_json::json;

const HEADERS: &str = "rate_limiting_headers_for_unthrottled_requests";

/// Whether a `GET` of the project's issues carries `RateLimit-*`, under a per-minute
/// Rack::Attack limit far from spent.
async fn rate_limit_headers_on_a_200(url: &str) -> bool {
    let http = Client::new();
    http.put(format!("{url}/-/sandbox/faults"))
        .json(&json!({"rate_limit_per_minute": 1000}))
        .send()
        .await
        .unwrap();
    let r = http
        .get(format!("{url}/api/v4/projects/acme%2Froadmap/issues"))
        .header("PRIVATE-TOKEN", TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    r.headers().contains_key("ratelimit-remaining")
}

/// `POST /features/:name` (`value`), `GET /features`, `DELETE /features/:name`, all
/// `authenticated_as_admin!`; `Entities::Feature` shows the boolean gate.
#[tokio::test]
async fn an_administrator_turns_the_rate_limit_headers_on_and_off() {
    let sb = sandbox().await;
    let root = As::root(&sb.url);
    assert!(
        !rate_limit_headers_on_a_200(&sb.url).await,
        "off by default"
    );
    let path = format!("/features/{HEADERS}");
    let (_, user) = root.new_user("someone").await;
    let (status, _) = user.call(Method::POST, &path, &[("value", "true")]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let flag = root.post(&path, &[("value", "true")]).await;
    assert_eq!(
        flag,
        json!({
            "name": HEADERS, "state": "on",
            "gates": [{"key": "boolean", "value": true}], "definition": null,
        })
    );
    assert_eq!(root.get("/features").await, json!([flag]));
    assert!(rate_limit_headers_on_a_200(&sb.url).await);
    let (status, _) = root.call(Method::DELETE, &path, &[]).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(!rate_limit_headers_on_a_200(&sb.url).await, "back to off");
    let (status, body) = root
        .call(Method::POST, "/features/no_such_flag", &[("value", "true")])
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains(HEADERS),
        "{body}"
    );
}

#[tokio::test]
async fn the_sandbox_command_turns_a_flag_on_from_the_start() {
    let (child, url) = sandbox_process(&[
        "--token",
        TOKEN,
        "--project",
        "acme/roadmap",
        "--feature",
        HEADERS,
    ]);
    assert!(rate_limit_headers_on_a_200(&url).await);
    terminate(child);
}
