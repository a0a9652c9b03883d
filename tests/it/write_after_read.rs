//! The write follows its read: a person typing into an issue while `apply` waits out a
//! rate limit or a `429 Retry-After` loses nothing. `apply` as a process against the
//! sandbox, a person appending a line to every issue once a second while the client is
//! idle (that is, waiting), and every line read back afterwards.
//!
//! The person types only while the client has sent nothing for a while, and stops well
//! before the client resumes (the end of the rate-limit window, or `Retry-After` after
//! the refused request): so no line can fall between a read and its write, which is the
//! window that remains (stated in README), and the outcome does not depend on timing.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

use crate::common::World;

const ISSUES: &str = "/projects/acme%2Froadmap/issues";

/// The items, with a body each: the second version of the page changes every body, so
/// every issue gets a description edit.
fn page(version: &str) -> String {
    let items: String = (1..=6)
        .map(|n| format!("- Duty number {n}\n\n  Done every week ({version}).\n\n"))
        .collect();
    format!("# Duties\n\n## Weekly\n\n{items}")
}

/// A world whose client sends one request at a time and retries often enough to outlast
/// a burst of 429s; no board (its refused create would be one more write).
async fn world() -> World {
    let pages = "[[pages]]\nid = \"pm\"\nsource = \"pm.md\"\nurl = \"https://about.gitlab.com/jobs/pm/\"\nproject = \"acme/roadmap\"\nowner = \"sytses\"\nboard = false\n";
    let world = World::new(pages, "concurrency = 1\nmax_retries = 12\n").await;
    world.write_page("pm.md", &page("first"));
    world.apply_ok().await;
    world.write_page("pm.md", &page("second"));
    world
}

/// How many times the client read one issue (the read before an edit).
async fn issue_reads(world: &World) -> u64 {
    world.stats().await["by_route"]["GET /projects/:id/issues/:iid"]
        .as_u64()
        .unwrap_or(0)
}

/// When the person may type, given how long the client has been idle.
type MayType = fn(idle: Duration) -> bool;

/// A person who appends a numbered line to every issue, at most once a second, while the
/// client is idle and `may_type` says so, until `done`. Returns (iid, line) of every line
/// written. Their requests are observers: neither throttled nor counted, so they do not
/// change what the client sees.
async fn person(
    world: &World,
    iids: &[u64],
    done: &AtomicBool,
    may_type: MayType,
) -> Vec<(u64, String)> {
    let mut written = Vec::new();
    let mut total = world.stats().await["total"].as_u64().unwrap();
    let mut last_change = Instant::now();
    let mut last_typed: Option<Instant> = None;
    while !done.load(Ordering::SeqCst) {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let now_total = world.stats().await["total"].as_u64().unwrap();
        if now_total != total {
            total = now_total;
            last_change = Instant::now();
            continue;
        }
        if !may_type(last_change.elapsed())
            || last_typed.is_some_and(|t| t.elapsed() < Duration::from_secs(1))
        {
            continue;
        }
        last_typed = Some(Instant::now());
        for &iid in iids {
            let line = format!("Ashley, line {} on #{iid}: numbers are in.", written.len());
            let issue = world
                .api(Method::GET, &format!("{ISSUES}/{iid}"), &[])
                .await;
            let description = issue["description"].as_str().unwrap_or_default();
            world
                .api(
                    Method::PUT,
                    &format!("{ISSUES}/{iid}"),
                    &[("description", &format!("{description}\n\n{line}"))],
                )
                .await;
            written.push((iid, line));
        }
    }
    written
}

/// Runs `apply` with `before` set from the start and `faults` from the first read of an
/// issue before an edit (`None`: `before` throughout), while [`person`] types.
async fn apply_while_typing(
    world: &World,
    before: Value,
    faults: Option<Value>,
    may_type: MayType,
) -> (i32, String, Vec<(u64, String)>) {
    let iids: Vec<u64> = world
        .issues("acme/roadmap")
        .await
        .iter()
        .map(|i| i["iid"].as_u64().unwrap())
        .collect();
    assert_eq!(iids.len(), 6);
    world.set_faults(before).await;
    world.reset_stats().await;
    let done = AtomicBool::new(false);
    let run = async {
        let result = world.run(&["apply"]).await;
        done.store(true, Ordering::SeqCst);
        result
    };
    let throttle = async {
        if let Some(faults) = faults {
            let deadline = Instant::now() + Duration::from_secs(120);
            while issue_reads(world).await == 0 && !done.load(Ordering::SeqCst) {
                assert!(Instant::now() < deadline, "apply never read an issue");
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            world.set_faults(faults).await;
        }
        person(world, &iids, &done, may_type).await
    };
    let ((code, out, err), written) = tokio::time::timeout(Duration::from_secs(400), async {
        tokio::join!(run, throttle)
    })
    .await
    .expect("apply ends within 400 s");
    world.set_faults(json!({})).await;
    (code, format!("{out}\n{err}"), written)
}

/// Every line the person wrote is in its issue or in one of its notes, and every issue
/// carries the handbook's new text.
async fn assert_nothing_lost(world: &World, written: &[(u64, String)], output: &str) {
    for issue in world.issues("acme/roadmap").await {
        let iid = issue["iid"].as_u64().unwrap();
        let description = issue["description"].as_str().unwrap();
        assert!(
            description.contains("(second)"),
            "#{iid} has the handbook's new text:\n{description}\n{output}"
        );
        let notes = world
            .api(
                Method::GET,
                &format!("{ISSUES}/{iid}/notes?per_page=100"),
                &[],
            )
            .await;
        let notes: Vec<&str> = notes
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["body"].as_str().unwrap())
            .collect();
        for (_, line) in written.iter().filter(|(i, _)| *i == iid) {
            assert!(
                description.contains(line.as_str())
                    || notes.iter().any(|n| n.contains(line.as_str())),
                "#{iid} lost “{line}”:\n{description}\n{output}"
            );
        }
    }
}

/// GitLab's authenticated API throttle at 4 requests per 30-s window (the period is an
/// application setting), with `RateLimit-*` headers on every answer: the client pauses
/// until the window resets once `RateLimit-Remaining` says 1, three times or more over
/// six edits. On the main branch of 2026-12 the pause fell between an issue's read and
/// its write (the wait was inside the write's request), and the write then sent the
/// description read before the pause: every line typed during the pause was gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lines_typed_during_a_rate_limit_pause_survive_the_edit_after_it() {
    let world = world().await;
    // Planning is not throttled; 50 ms per request lets the limit arrive before the
    // edits are done, wherever it starts among them.
    let before = json!({"latency_ms": 50});
    let faults =
        json!({"latency_ms": 50, "rate_limit_per_minute": 4, "rate_limit_period_seconds": 30});
    // Idle for 2 s: the client is pausing; stop 2 s before the window (a multiple of
    // 30 s since the epoch, as Rack::Attack's) ends and the client resumes.
    let may_type: MayType = |idle| {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        idle >= Duration::from_secs(2) && 30.0 - now % 30.0 >= 2.0
    };
    let (code, output, written) = apply_while_typing(&world, before, Some(faults), may_type).await;
    assert_eq!(code, 0, "{output}");
    assert_nothing_lost(&world, &written, &output).await;
    assert!(
        !written.is_empty(),
        "the person typed during a pause:\n{output}"
    );
    assert!(
        output.contains("pausing requests until it resets"),
        "the client paced itself:\n{output}"
    );
}

/// From the start, a quarter of the requests answered `429 Retry later` with
/// `Retry-After: 4` (the seed fixes which, one request at a time): the throttled edit is not sent again as it was after the wait, it reads
/// the issue again first. On the main branch of 2026-12 the transport retried the edit
/// with the description read before the 429, and the lines typed meanwhile were lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lines_typed_while_a_throttled_edit_waits_out_retry_after_survive_it() {
    let world = world().await;
    let faults = json!({"throttle_rate": 0.25, "throttle_retry_after": 4, "seed": 3});
    // The client resumes 4 s after the refused request: type between 1.2 s and 2.5 s.
    let may_type: MayType =
        |idle| idle >= Duration::from_millis(1200) && idle <= Duration::from_millis(2500);
    let (code, output, written) = apply_while_typing(&world, faults, None, may_type).await;
    assert_eq!(code, 0, "{output}");
    assert_nothing_lost(&world, &written, &output).await;
    assert!(
        !written.is_empty(),
        "the person typed during a wait:\n{output}"
    );
    assert!(
        output.contains("editing issue #")
            && output.contains("reading the issue again before writing it"),
        "an edit was throttled and read again (pick another seed if not):\n{output}"
    );
}
