//! The GitLab client's pacing, called through its public API: the hourly quota, a
//! `RateLimit-Reset` hours away, and a shutdown that ends every wait.

use crate::common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use handbook_sync::gitlab::{Client, Gitlab, GitlabError, Policy};
use secrecy::SecretString;
use tokio_util::sync::CancellationToken;

fn client(url: &str, policy: Policy, cancel: &CancellationToken) -> Gitlab {
    let base = url::Url::parse(url).unwrap();
    let client = Client::new(&base, SecretString::from(common::TOKEN), policy)
        .unwrap()
        .with_cancel(cancel.clone());
    Gitlab::new(client)
}

/// `requests_per_hour = 3`: three reads go at once, the fourth waits (for twenty
/// minutes), and cancelling ends that wait with a "not sent" error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hourly_quota_holds_the_fourth_request_until_cancelled() {
    let sandbox = common::sandbox().await;
    let cancel = CancellationToken::new();
    let policy = Policy {
        requests_per_hour: 3,
        ..Policy::default()
    };
    let gitlab = client(&sandbox.url, policy, &cancel);
    for _ in 0..3 {
        gitlab.project("acme/roadmap").await.unwrap();
    }
    let fourth = tokio::time::timeout(Duration::from_millis(500), gitlab.project("acme/roadmap"));
    assert!(fourth.await.is_err(), "the fourth request waited");
    let waiting = tokio::spawn({
        let gitlab = gitlab.clone();
        async move { gitlab.project("acme/roadmap").await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    cancel.cancel();
    let result = tokio::time::timeout(Duration::from_secs(2), waiting)
        .await
        .expect("the cancel ended the wait")
        .unwrap();
    match result {
        Err(e @ GitlabError::NotSent { .. }) => assert!(e.is_cancelled(), "{e}"),
        other => panic!("expected a request that was not sent, got {other:?}"),
    }
    let stats: serde_json::Value = reqwest::get(format!("{}/-/sandbox/stats", sandbox.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["total"], 3, "{stats}");
}

/// A log sink for one test: what the client logs inside `f`.
#[derive(Clone, Default)]
struct Sink(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// GitLab says the quota is spent and resets in two hours (an hourly throttle, as
/// `lib/gitlab/rack_attack/request_throttle_data.rb` computes `RateLimit-Reset` for a
/// 3,600 s period): the client says until when it pauses, and sends nothing before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limit_reset_hours_away_pauses_until_then_and_says_so() {
    let reset = chrono::Utc::now().timestamp() + 7200;
    let hits = Arc::new(Mutex::new(0usize));
    let counted = hits.clone();
    let app = axum::Router::new().fallback(move || {
        let counted = counted.clone();
        async move {
            *counted.lock().unwrap() += 1;
            (
                [
                    ("content-type", "application/json".to_owned()),
                    ("ratelimit-limit", "600".to_owned()),
                    ("ratelimit-remaining", "0".to_owned()),
                    ("ratelimit-reset", reset.to_string()),
                ],
                r#"{"id":1,"path_with_namespace":"acme/roadmap","web_url":"http://x"}"#,
            )
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });

    let sink = Sink::default();
    let writer = sink.clone();
    let logs = tracing::Dispatch::new(
        tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish(),
    );
    let cancel = CancellationToken::new();
    let gitlab = client(&url, Policy::default(), &cancel);
    let run = async {
        gitlab.project("acme/roadmap").await.unwrap();
        tokio::time::timeout(Duration::from_millis(500), gitlab.project("acme/roadmap")).await
    };
    let second = tracing::instrument::WithSubscriber::with_subscriber(run, logs).await;
    assert!(second.is_err(), "the second request waited for the reset");
    assert_eq!(*hits.lock().unwrap(), 1);
    let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
    let until = chrono::DateTime::from_timestamp(reset, 0)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    assert!(
        text.contains(&format!("until={until}")) && text.contains("pausing requests"),
        "{text}"
    );
}
