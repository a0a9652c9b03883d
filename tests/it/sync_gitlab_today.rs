//! The client against GitLab as most instances are today: no `RateLimit-*` on answers
//! that are not throttled, boards on Free, members through groups, and a Guest member.

use crate::common::{World, page_toml};

use serde_json::json;

const PROJECT: &str = "acme/roadmap";

/// Waits until the current minute has at least 10 seconds left, so that a sync of a few
/// requests lands in one Rack::Attack window.
async fn away_from_a_minute_boundary() {
    let second = chrono::Utc::now().timestamp().rem_euclid(60);
    if second >= 50 {
        tokio::time::sleep(std::time::Duration::from_secs((61 - second) as u64)).await;
    }
}

/// With `rate_limiting_headers_for_unthrottled_requests` off (GitLab's default), the
/// client learns of a Rack::Attack limit only from its 429, whose `Retry-After` runs to
/// the end of the window (`lib/gitlab/rack_attack.rb`): a limit below what a sync needs,
/// and a client configured far above it, still end in every item created once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_rate_limit_headers_a_429_and_its_retry_after_pace_the_sync() {
    let world = World::new(&page_toml("small", "small.md", PROJECT), "").await;
    world.write_page(
        "small.md",
        "## Duties\n\n- Keep the roadmap public\n- Answer the phone\n- Write the notes\n",
    );
    away_from_a_minute_boundary().await;
    let r = world
        .http
        .put(format!("{}/-/sandbox/faults", world.sandbox.url))
        .json(&json!({"rate_limit_per_minute": 6}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let (code, out, err) = world.run(&["apply"]).await;
    assert_eq!(code, 0, "{out}\n{err}");
    let stats = world.stats().await;
    assert!(
        stats["by_status"]["429"].as_u64().unwrap_or(0) >= 1,
        "the limit was hit: {stats}"
    );
    // Concurrent creates decide the iids: compare the titles, not their order.
    let mut titles: Vec<String> = world
        .issues(PROJECT)
        .await
        .iter()
        .map(|i| i["title"].as_str().unwrap().to_owned())
        .collect();
    titles.sort();
    assert_eq!(
        titles,
        [
            "Answer the phone",
            "Keep the roadmap public",
            "Write the notes"
        ]
    );
}

/// A comment moves its issue's `updated_at` (`app/models/note.rb`: `after_save
/// :touch_noteable`), so the cache's "updated since" check lists that issue; a comment
/// changes nothing the planner compares, so the run stays a no-op.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cache_check_sees_an_issue_someone_commented_on() {
    let world = World::new(
        &page_toml("small", "small.md", PROJECT),
        "[sync]\ncache_dir = \"cache\"\ncache_clock_margin_seconds = 1\n",
    )
    .await;
    world.write_page("small.md", "## Duties\n\n- Keep the roadmap public\n");
    // Each run past the one-second margin of the last, so that only issues updated
    // after it come back.
    let past_the_margin = || tokio::time::sleep(std::time::Duration::from_secs(2));
    world.apply_ok().await;
    past_the_margin().await;
    world.apply_ok().await;
    past_the_margin().await;
    let (code, _, err) = world.run(&["plan"]).await;
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("nothing to read or write") && err.contains("updated=0"),
        "{err}"
    );
    world
        .api(
            reqwest::Method::POST,
            "/projects/acme%2Froadmap/issues/1/notes",
            &[("body", "Done for this quarter?")],
        )
        .await;
    let (code, _, err) = world.run(&["plan"]).await;
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("nothing to read or write") && err.contains("updated=1"),
        "the commented issue is seen, and changes nothing:\n{err}"
    );
}
