//! Failures as a real GitLab has them, injected with `PUT /-/sandbox/faults`: JSON 5xx
//! bodies, writes that finish after the client gave up, hourly throttles beside the
//! per-minute one, 429s without headers; and statistics that count every request. Each
//! test names the GitLab source or documentation it follows (paths in gitlab-org/gitlab).

use std::time::{Duration, Instant};

use crate::common::{TOKEN, sandbox};

use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};

const ISSUES: &str = "/api/v4/projects/acme%2Froadmap/issues";

async fn put_faults(url: &str, faults: Value) {
    let r = Client::new()
        .put(format!("{url}/-/sandbox/faults"))
        .json(&faults)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
}

async fn get(url: &str, path: &str) -> Response {
    Client::new()
        .get(format!("{url}{path}"))
        .header("PRIVATE-TOKEN", TOKEN)
        .send()
        .await
        .unwrap()
}

fn header(r: &Response, name: &str) -> Option<String> {
    r.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
}

/// The issue titles of `acme/roadmap`, looked at without being counted or faulted.
async fn titles(url: &str) -> Vec<String> {
    let issues: Vec<Value> = Client::new()
        .get(format!("{url}{ISSUES}"))
        .header("PRIVATE-TOKEN", TOKEN)
        .header("x-sandbox-observer", "1")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    issues
        .iter()
        .map(|i| i["title"].as_str().unwrap().to_owned())
        .collect()
}

async fn stats(url: &str) -> Value {
    Client::new()
        .get(format!("{url}/-/sandbox/stats"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// GitLab's API answers an unhandled exception with `500 {"message":"500 Internal Server
/// Error"}` as JSON (`lib/api/helpers.rb`, `handle_api_exception`); `error_body: "json"`
/// gives every injected 5xx that shape, `"html"` (the default) a proxy's page.
#[tokio::test]
async fn injected_errors_carry_a_json_body_when_asked() {
    let sb = sandbox().await;
    put_faults(
        &sb.url,
        json!({"error_rate": 1.0, "error_body": "json", "seed": 5}),
    )
    .await;
    let mut seen_500 = false;
    for _ in 0..20 {
        let r = get(&sb.url, ISSUES).await;
        let status = r.status().as_u16();
        assert!(matches!(status, 500 | 502 | 503), "{status}");
        assert_eq!(
            header(&r, "content-type").as_deref(),
            Some("application/json")
        );
        let reason = r.status().canonical_reason().unwrap();
        let body: Value = r.json().await.unwrap();
        assert_eq!(body, json!({"message": format!("{status} {reason}")}));
        if status == 500 {
            assert_eq!(body, json!({"message": "500 Internal Server Error"}));
            seen_500 = true;
        }
    }
    assert!(seen_500, "20 errors of three kinds hold a 500");

    put_faults(&sb.url, json!({"error_rate": 1.0, "seed": 5})).await;
    let r = get(&sb.url, ISSUES).await;
    assert!(r.status().is_server_error());
    assert_eq!(header(&r, "content-type").as_deref(), Some("text/html"));
    assert!(r.text().await.unwrap().starts_with("<html>"));
}

/// A lost response's 502 follows `error_body` too: it is an injected 5xx like the others.
#[tokio::test]
async fn a_lost_responses_502_follows_the_error_body() {
    let sb = sandbox().await;
    put_faults(
        &sb.url,
        json!({"lost_response_rate": 1.0, "error_body": "json", "seed": 2}),
    )
    .await;
    let mut bad_gateways = 0;
    for n in 0..8 {
        let r = Client::new()
            .post(format!("{}{ISSUES}", sb.url))
            .header("PRIVATE-TOKEN", TOKEN)
            .form(&[("title", format!("lost {n}"))])
            .send()
            .await;
        if let Ok(r) = r
            && r.status() == StatusCode::BAD_GATEWAY
        {
            bad_gateways += 1;
            let body: Value = r.json().await.unwrap();
            assert_eq!(body, json!({"message": "502 Bad Gateway"}));
        }
    }
    assert!(bad_gateways > 0, "some losses are 502s");
    assert_eq!(titles(&sb.url).await.len(), 8, "every write went through");
}

/// A request GitLab is running goes on when its client hangs up, and its write commits
/// (Puma does not stop a Rails request on a closed connection; gitlab.com lets one run
/// about 60 s, `doc/user/gitlab_com/_index.md`). `slow_write_ms` answers a write after
/// that delay and applies it at the end of it, whether or not the client still waits.
#[tokio::test]
async fn a_slow_write_lands_although_the_client_gave_up() {
    let sb = sandbox().await;
    put_faults(&sb.url, json!({"slow_write_ms": 700})).await;
    let impatient = Client::builder()
        .timeout(Duration::from_millis(150))
        .build()
        .unwrap();
    let err = impatient
        .post(format!("{}{ISSUES}", sb.url))
        .header("PRIVATE-TOKEN", TOKEN)
        .form(&[("title", "slow one")])
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err}");
    assert!(
        titles(&sb.url).await.is_empty(),
        "applied at the end of the delay, not before"
    );
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert_eq!(titles(&sb.url).await, ["slow one"]);
    assert_eq!(
        stats(&sb.url).await["by_route"]["POST /projects/:id/issues"],
        1,
        "counted although nobody heard the answer"
    );

    // A patient client gets its answer after the delay; reads are not slowed.
    let started = Instant::now();
    let r = Client::new()
        .post(format!("{}{ISSUES}", sb.url))
        .header("PRIVATE-TOKEN", TOKEN)
        .form(&[("title", "waited for")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    assert!(started.elapsed() >= Duration::from_millis(700));
    let started = Instant::now();
    assert_eq!(get(&sb.url, ISSUES).await.status(), StatusCode::OK);
    assert!(started.elapsed() < Duration::from_millis(500));
}

/// Waits until the current hour has at least 10 seconds left, so that no window of the
/// test resets while it runs.
async fn away_from_an_hour_boundary() {
    let second = chrono::Utc::now().timestamp().rem_euclid(3600);
    if second >= 3590 {
        tokio::time::sleep(Duration::from_secs((3601 - second) as u64)).await;
    }
}

/// GitLab's flag for `RateLimit-*` on answers that are not throttled (off by default).
const RATE_LIMIT_HEADERS: &str = "rate_limiting_headers_for_unthrottled_requests";

/// Waits until the current minute has at least 5 seconds left.
async fn away_from_a_minute_boundary() {
    let second = chrono::Utc::now().timestamp().rem_euclid(60);
    if second >= 55 {
        tokio::time::sleep(Duration::from_secs((61 - second) as u64)).await;
    }
}

/// An hourly throttle, as Rack::Attack keeps any throttle
/// (`lib/gitlab/rack_attack/request_throttle_data.rb`): `RateLimit-Limit` is the limit
/// scaled to a minute and rounded up, `RateLimit-Remaining` and `RateLimit-Reset` are of
/// the hour; once spent, `429 Retry later` with `Retry-After` up to the end of the hour.
#[tokio::test]
async fn an_hourly_limit_throttles_and_its_headers_say_so() {
    let sb = sandbox().await;
    crate::as_user::enable_feature(&sb.url, RATE_LIMIT_HEADERS).await;
    away_from_an_hour_boundary().await;
    put_faults(&sb.url, json!({"rate_limit_per_hour": 3})).await;
    let first = get(&sb.url, ISSUES).await;
    let now = chrono::Utc::now().timestamp();
    assert_eq!(first.status(), StatusCode::OK);
    let hour_end = (now.div_euclid(3600) + 1) * 3600;
    assert_eq!(
        header(&first, "ratelimit-name").as_deref(),
        Some("throttle_authenticated_api_hourly")
    );
    assert_eq!(header(&first, "ratelimit-limit").as_deref(), Some("1"));
    assert_eq!(header(&first, "ratelimit-observed").as_deref(), Some("1"));
    assert_eq!(header(&first, "ratelimit-remaining").as_deref(), Some("2"));
    assert_eq!(
        header(&first, "ratelimit-reset"),
        Some(hour_end.to_string())
    );
    assert_eq!(header(&first, "retry-after"), None, "only on a 429");
    for _ in 0..2 {
        assert_eq!(get(&sb.url, ISSUES).await.status(), StatusCode::OK);
    }
    let throttled = get(&sb.url, ISSUES).await;
    assert_eq!(throttled.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        header(&throttled, "ratelimit-name").as_deref(),
        Some("throttle_authenticated_api_hourly")
    );
    assert_eq!(
        header(&throttled, "ratelimit-remaining").as_deref(),
        Some("0")
    );
    let retry_after: i64 = header(&throttled, "retry-after").unwrap().parse().unwrap();
    let now = chrono::Utc::now().timestamp();
    assert!(
        (hour_end - now - 2..=hour_end - now + 1).contains(&retry_after),
        "Retry-After {retry_after} runs to the end of the hour"
    );
    assert!(header(&throttled, "ratelimit-resettime").is_some());
    assert_eq!(throttled.text().await.unwrap(), "Retry later\n");
}

/// With both limits set, every answer carries the headers of the throttle with the
/// least left (`lib/gitlab/middleware/rack_attack_headers.rb`,
/// `find_most_restrictive_throttle`, behind `rate_limiting_headers_for_unthrottled_requests`),
/// and a 429 those of the throttle that refused (`lib/gitlab/rack_attack.rb`,
/// `throttled_response`), flag or not.
#[tokio::test]
async fn with_both_limits_the_headers_name_the_tighter_one() {
    let sb = sandbox().await;
    crate::as_user::enable_feature(&sb.url, RATE_LIMIT_HEADERS).await;
    away_from_an_hour_boundary().await;
    away_from_a_minute_boundary().await;
    put_faults(
        &sb.url,
        json!({"rate_limit_per_minute": 10, "rate_limit_per_hour": 4}),
    )
    .await;
    let r = get(&sb.url, ISSUES).await;
    assert_eq!(
        header(&r, "ratelimit-name").as_deref(),
        Some("throttle_authenticated_api_hourly")
    );
    assert_eq!(header(&r, "ratelimit-remaining").as_deref(), Some("3"));

    put_faults(
        &sb.url,
        json!({"rate_limit_per_minute": 2, "rate_limit_per_hour": 100}),
    )
    .await;
    let r = get(&sb.url, ISSUES).await;
    assert_eq!(
        header(&r, "ratelimit-name").as_deref(),
        Some("throttle_authenticated_api")
    );
    assert_eq!(header(&r, "ratelimit-limit").as_deref(), Some("2"));
    assert_eq!(get(&sb.url, ISSUES).await.status(), StatusCode::OK);
    let throttled = get(&sb.url, ISSUES).await;
    assert_eq!(throttled.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        header(&throttled, "ratelimit-name").as_deref(),
        Some("throttle_authenticated_api")
    );
    let retry_after: u64 = header(&throttled, "retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
}

/// The Projects, Groups and Users API limits answer `429` without any informational
/// header (`doc/user/gitlab_com/rate_limits.md`: "Rate limiting responses for the
/// Projects, Groups, and Users APIs do not include informational headers"), with the
/// application limiter's JSON body (`lib/api/helpers/rate_limiter.rb`). They come from
/// the application, so even a Rack::Attack limit adds no `RateLimit-*` to them
/// (`lib/gitlab/middleware/rack_attack_headers.rb` skips every 429).
#[tokio::test]
async fn a_headerless_429_has_no_rate_limit_headers_at_all() {
    let sb = sandbox().await;
    away_from_a_minute_boundary().await;
    put_faults(
        &sb.url,
        json!({"headerless_429_rate": 1.0, "rate_limit_per_minute": 100}),
    )
    .await;
    let r = get(&sb.url, "/api/v4/projects/acme%2Froadmap").await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    for name in r.headers().keys() {
        assert!(
            !name.as_str().starts_with("ratelimit") && name != "retry-after",
            "unexpected header {name}"
        );
    }
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"message": {"error": "This endpoint has been requested too many times. Try again later."}})
    );

    put_faults(&sb.url, json!({"headerless_429_rate": 0.5, "seed": 9})).await;
    let mut statuses = Vec::new();
    for _ in 0..30 {
        statuses.push(get(&sb.url, ISSUES).await.status().as_u16());
    }
    let limited = statuses.iter().filter(|&&s| s == 429).count();
    assert!((5..=25).contains(&limited), "{statuses:?}");
    assert!(statuses.iter().all(|s| matches!(s, 200 | 429)));
}

/// Statistics count every request, also those to paths the sandbox does not serve:
/// GitLab's GraphQL endpoint (`POST /api/graphql`, `app/controllers/graphql_controller.rb`)
/// is not modelled and answers the API's unknown-route `404 {"error":"404 Not Found"}`
/// (`lib/api/api.rb`, the catch-all `route :any, '*path'`), and an unknown API v4 path
/// is counted under its own path too.
#[tokio::test]
async fn statistics_count_requests_to_paths_not_served() {
    let sb = sandbox().await;
    let http = Client::new();
    let r = http
        .post(format!("{}/api/graphql", sb.url))
        .header("PRIVATE-TOKEN", TOKEN)
        .json(&json!({"query": "{ currentUser { username } }"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"error": "404 Not Found"})
    );
    assert_eq!(
        get(&sb.url, "/api/v4/projects/acme%2Froadmap/wikis")
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(get(&sb.url, ISSUES).await.status(), StatusCode::OK);
    let s = stats(&sb.url).await;
    assert_eq!(s["total"], 3, "{s}");
    assert_eq!(s["writes"], 1);
    assert_eq!(s["by_route"]["POST /api/graphql (not served)"], 1, "{s}");
    assert_eq!(
        s["by_route"]["GET /api/v4/projects/acme%2Froadmap/wikis (not served)"], 1,
        "{s}"
    );
    assert_eq!(s["by_status"]["404"], 2);
}
