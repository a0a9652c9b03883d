//! The lease and the write-after-read attacked: waits that fall after the fence's answer,
//! concurrent creates answered the ways GitLab answers them, and the edges of the lease's
//! life. Through the library (the client, `Leases`) against the sandbox.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use handbook_sync::gitlab::{Client, Fence, Gitlab, IssueEdit, Onto, Policy};
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
    // Two requests per two-second window: the fence's read is the window's first, and
    // its answer (one left) pauses the client until the window ends.
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
    assert_eq!(world.stats().await["writes"], 0, "nothing was sent");
    let issue = world
        .api(
            Method::GET,
            &format!("/projects/acme%2Froadmap/issues/{iid}"),
            &[],
        )
        .await;
    assert_eq!(issue["description"], "As typed.");
}
