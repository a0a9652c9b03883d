//! The lease and the write-after-read attacked: waits that fall after the fence's answer,
//! concurrent creates answered the ways GitLab answers them, and the edges of the lease's
//! life. Through the library (the client, `Leases`) against the sandbox.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use handbook_sync::gitlab::{Client, Fence, Gitlab, IssueEdit, Onto, Policy};
use handbook_sync::sync_run::lease::{Identity, LeasePolicy, Leases};
use reqwest::Method;
use serde_json::json;

use crate::common::{TOKEN, World};

const PROJECT: &str = "acme/roadmap";

/// A client of the sandbox (as `lease.rs` builds it).
fn gitlab(world: &World) -> Gitlab {
    let url = url::Url::parse(&world.sandbox.url).unwrap();
    let policy = Policy {
        timeout: Duration::from_secs(5),
        retry_initial_delay: Duration::from_millis(1),
        ..Policy::default()
    };
    Gitlab::new(Client::new(&url, TOKEN.to_owned().into(), policy).unwrap())
}

/// A fence whose lease holds when it is first asked and has lapsed by the next time:
/// what a real lease does when a wait longer than what is left of it falls after the
/// fence's answer. While it answers the first time, a read through the same client gets
/// an answer saying GitLab's rate limit is spent, which starts a pause (as any request
/// in flight beside the edit, or the lease's own renewal, can).
struct LapsesDuringAPause {
    gitlab: Gitlab,
    project: u64,
    iid: u64,
    asked: AtomicUsize,
}

#[async_trait]
impl Fence for LapsesDuringAPause {
    async fn admit(&self, _budget: Duration) -> Result<(), String> {
        if self.asked.fetch_add(1, Ordering::SeqCst) > 0 {
            return Err("the lease lapsed during the rate-limit pause".into());
        }
        self.gitlab
            .issue(self.project, self.iid)
            .await
            .map_err(|e| e.to_string())?;
        Ok(())
    }
}

/// `Turn`: every wait comes before the fence's answer. A rate-limit pause that starts
/// while the fence is being asked (here: set by an answer the fence's own read got) is
/// waited out after the fence said yes; a lease can lapse during it (the renewal waits
/// for the same pause), and another run take the project over. The edit must then not go
/// out on the fence's earlier answer: the fence is asked again after the pause, and says
/// no, so nothing is written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pause_after_the_fence_said_yes_makes_the_turn_ask_it_again() {
    let world = World::new("", "").await;
    let created = world
        .api(
            Method::POST,
            "/projects/acme%2Froadmap/issues",
            &[("title", "Weekly numbers"), ("description", "As typed.")],
        )
        .await;
    let iid = created["iid"].as_u64().unwrap();
    let gitlab = gitlab(&world);
    let project = gitlab.project(PROJECT).await.unwrap().id;
    gitlab.set_fence(Some(Arc::new(LapsesDuringAPause {
        gitlab: gitlab.clone(),
        project,
        iid,
        asked: AtomicUsize::new(0),
    })));
    // Two requests per two-second window, said on every answer (GitLab's flag
    // `rate_limiting_headers_for_unthrottled_requests`): the fence's read is the window's
    // first, and its answer (one left) pauses the client until the window ends.
    crate::as_user::enable_feature(
        &world.sandbox.url,
        "rate_limiting_headers_for_unthrottled_requests",
    )
    .await;
    world
        .set_faults(json!({"rate_limit_per_minute": 2, "rate_limit_period_seconds": 2}))
        .await;
    world.reset_stats().await;
    let result = gitlab
        .edit_after_read(project, iid, &IssueEdit::default(), |current| {
            Ok(Onto {
                description: Some(format!("{}\n\nWritten by the run.", current.description)),
                ..Onto::default()
            })
        })
        .await;
    gitlab.set_fence(None);
    world.set_faults(json!({})).await;
    let err = result.expect_err("written on a lapsed lease");
    assert!(
        err.to_string()
            .contains("lapsed during the rate-limit pause"),
        "{err}"
    );
    let stats = world.stats().await;
    assert_eq!(stats["writes"], 0, "nothing was sent: {stats}");
    let issue = world
        .api(
            Method::GET,
            &format!("/projects/acme%2Froadmap/issues/{iid}"),
            &[],
        )
        .await;
    assert_eq!(issue["description"], "As typed.");
}

/// A lease policy for `run` on `host`: no waiting, renewed every 300 ms.
fn policy(run: &str, host: &str) -> LeasePolicy {
    LeasePolicy {
        label: "handbook-sync-lease".into(),
        wait: Duration::ZERO,
        ttl: Duration::from_secs(90),
        renew_every: Duration::from_millis(300),
        poll: Duration::from_millis(100),
        margin: Duration::from_millis(500),
        me: Identity {
            run: run.into(),
            host: host.into(),
            pid: 1,
            command: "handbook-sync apply".into(),
        },
    }
}

/// Two runs on two machines find no lease and create it at the same instant (writes
/// slowed so that both creates are in GitLab before either is done). GitLab answers the
/// create that lost the race `409` when its first check sees the winner's label, but
/// `400 {"message":{"title":["has already been taken"]}}` when only the model's
/// uniqueness validation does (`app/models/label.rb`; the check in
/// `lib/api/helpers/label_helpers.rb` ran a moment before the winner's insert committed).
/// Either way the loser holds no lease and another run does: it must say so (exit 75,
/// or the daemon's `lease_held`) and write nothing, not fail as if GitLab were broken.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_that_loses_the_race_to_the_validation_finds_the_lease_held() {
    let world = World::new("", "").await;
    world
        .set_faults(json!({"slow_write_ms": 1500, "label_create_race": "validation"}))
        .await;
    let mut first = Leases::new(gitlab(&world), policy("00000000000000a1", "ci-runner-1"));
    let mut second = Leases::new(gitlab(&world), policy("00000000000000b2", "cron-pod-2"));
    let (a, b) = tokio::join!(
        first.acquire(PROJECT, &|_, _| {}),
        second.acquire(PROJECT, &|_, _| {})
    );
    let (won, lost, loser) = match (a, b) {
        (Ok(()), Err(e)) => ("ci-runner-1", e, "second"),
        (Err(e), Ok(())) => ("cron-pod-2", e, "first"),
        other => panic!("exactly one run holds the lease: {other:?}"),
    };
    assert!(
        lost.is_held(),
        "the {loser} run must find the lease held, not fail: {lost}"
    );
    assert!(lost.to_string().contains(&format!("host {won}")), "{lost}");
    world.set_faults(json!({})).await;
    first.release().await;
    second.release().await;
}

/// The lease is found again by its title. One GitLab stores otherwise (`app/models/
/// label.rb`: `CGI.unescapeHTML(Sanitize.clean(title))`) is never found: every run then
/// creates it anew, the losers are refused for a title they cannot read, and the holder's
/// renewal reads back another name and stops its writes. A number is looked up as a
/// label's id first (`find_label`, `lib/api/helpers/label_helpers.rb`). Both are
/// configuration errors, named.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lease_label_gitlab_would_not_keep_as_written_is_a_configuration_error() {
    for (lease, says) in [
        ("lock &amp; key", "it would store `lock & key`"),
        ("<b>lock</b>", "it would store `lock`"),
        ("lock  key", "it would store `lock key`"),
        ("2024", "is a number"),
    ] {
        let world = World::new(
            &crate::common::page_toml("pm", "pm.md", PROJECT),
            &format!("[sync]\nlease_label = \"{lease}\"\n"),
        )
        .await;
        world.write_page("pm.md", "# Duties\n\n- Weekly numbers\n");
        let (code, _, err) = world.run(&["plan"]).await;
        assert_eq!(code, 3, "{lease}: {err}");
        assert!(
            err.contains("sync.lease_label") && err.contains(says),
            "{err}"
        );
    }
}

/// The sandbox's `label_create_race`: a create of a taken title answered as GitLab
/// answers one that met the create taking the title inside it: `409` from the check in
/// `create_label` (`lib/api/helpers/label_helpers.rb`), `400` from the model's
/// uniqueness validation (`app/models/label.rb`, `render_validation_error!`), `500` from
/// the database's unique index (`ActiveRecord::RecordNotUnique`, unhandled). The label
/// that took the title stays as it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sandbox_answers_a_racing_label_create_as_each_of_gitlabs_checks_does() {
    let world = World::new("", "").await;
    let labels = "/projects/acme%2Froadmap/labels";
    world
        .api(
            Method::POST,
            labels,
            &[
                ("name", "taken"),
                ("color", "#000000"),
                ("description", "first"),
            ],
        )
        .await;
    for (race, status, body) in [
        ("check", 409, json!({"message": "Label already exists"})),
        (
            "validation",
            400,
            json!({"message": {"title": ["has already been taken"]}}),
        ),
        (
            "index",
            500,
            json!({"message": "500 Internal Server Error"}),
        ),
    ] {
        world.set_faults(json!({"label_create_race": race})).await;
        let r = world
            .http
            .post(format!("{}/api/v4{labels}", world.sandbox.url))
            .header("PRIVATE-TOKEN", TOKEN)
            .form(&[
                ("name", "taken"),
                ("color", "#ffffff"),
                ("description", "second"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), status, "{race}");
        assert_eq!(r.json::<serde_json::Value>().await.unwrap(), body, "{race}");
    }
    world.set_faults(json!({})).await;
    let kept = world
        .api(Method::GET, &format!("{labels}/taken"), &[])
        .await;
    assert_eq!(kept["description"], "first");
}

/// A run with nothing to change takes no lease and sends no write: not the label's
/// create, renewal or delete, nor a second reading of the project (GitLab Free, the page's
/// board made by the first run).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_with_nothing_to_change_takes_no_lease() {
    let pages = crate::common::page_toml("pm", "pm.md", PROJECT);
    let world = World::new(&pages, "").await;
    world.write_page("pm.md", "# Duties\n\n## Weekly\n\n- Weekly numbers\n");
    world.apply_ok().await;
    world.reset_stats().await;
    let (code, out, err) = world.run(&["apply"]).await;
    assert_eq!(code, 0, "{out}\n{err}");
    let stats = world.stats().await;
    assert_eq!(stats["writes"], 0, "{stats}");
    let routes = stats["by_route"].as_object().unwrap();
    assert!(
        routes.keys().all(|r| !r.contains("/labels/")),
        "the lease was looked at: {stats}"
    );
    assert_eq!(routes["GET /projects/:id"], 1, "read once: {stats}");
}
