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

/// In most organisations people are members of a group, not of the project. Such a
/// member is listed by `/projects/:id/members/all` (inherited members at their highest
/// role), so a page that names them assigns them; and a token of a Developer of the
/// group passes the role check through `permissions.group_access` and syncs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_member_is_assigned_and_a_group_developers_token_syncs() {
    let mut world = World::new(&page_toml("small", "small.md", PROJECT), "").await;
    world.write_page(
        "small.md",
        "## Duties\n\n- Keep the roadmap public => gdev\n- Answer the phone\n",
    );
    let group = world.api(reqwest::Method::GET, "/groups/acme", &[]).await;
    let members = format!("/groups/{}/members", group["id"]);
    let gdev = world.create_user("gdev", false).await;
    let bot = world.create_user("syncbot", false).await;
    for user in [gdev, bot] {
        world
            .api(
                reqwest::Method::POST,
                &members,
                &[("user_id", &user.to_string()), ("access_level", "30")],
            )
            .await;
    }
    let direct = world
        .api(
            reqwest::Method::GET,
            "/projects/acme%2Froadmap/members",
            &[],
        )
        .await;
    assert!(
        direct
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["username"] != "gdev"),
        "gdev is no direct member: {direct}"
    );
    let token = world.create_token(bot, &["api"]).await;
    world.env("GITLAB_TOKEN", &token);
    let out = world.apply_ok().await;
    let issues = world.issues(PROJECT).await;
    let assignee = |title: &str| {
        issues
            .iter()
            .find(|i| i["title"] == title)
            .and_then(|i| i["assignee"]["username"].as_str())
            .map(str::to_owned)
    };
    assert_eq!(
        assignee("Keep the roadmap public").as_deref(),
        Some("gdev"),
        "{out}"
    );
    assert!(
        issues
            .iter()
            .all(|i| i["author"]["username"] == "syncbot"
                && !i["labels"].as_array().unwrap().is_empty()),
        "created by the group Developer's token, labels kept"
    );
    let (code, out, err) = world.run(&["plan"]).await;
    assert_eq!(code, 0, "{out}\n{err}");
}
