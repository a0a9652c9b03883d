//! Sandbox throughput: `cargo bench --bench sandbox`.
//!
//! Prints (asserts nothing): issue-list requests per second on loopback against a project
//! of 1,000 issues, from 8 concurrent keep-alive clients in this process (so the load
//! generator shares the machine's two cores with the server), and the resident memory of
//! the sandbox holding 100,000 issues.

use std::time::Instant;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const TOKEN: &str = "bench-token";

fn rss_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

async fn create_issues(url: &str, project: &str, count: usize) {
    let mut tasks = tokio::task::JoinSet::new();
    let workers = 8;
    for w in 0..workers {
        let url = format!("{url}/api/v4/projects/{project}/issues");
        tasks.spawn(async move {
            let http = reqwest::Client::new();
            for n in (w..count).step_by(workers) {
                let title = format!("Responsibility number {n} of the generated handbook");
                let labels = format!("handbook-sync,handbook::bench,section::S{}", n % 40);
                let description =
                    format!("<!-- handbook-sync marker -->\nBody of item {n}.\n\n- [ ] a step\n");
                let r = http
                    .post(&url)
                    .header("PRIVATE-TOKEN", TOKEN)
                    .form(&[
                        ("title", title.as_str()),
                        ("labels", &labels),
                        ("description", &description),
                    ])
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 201);
            }
        });
    }
    tasks.join_all().await;
}

async fn list_rate(url: &str, query: &str, requests: usize) -> f64 {
    let workers = 8;
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..workers {
        let target = format!("{url}/api/v4/projects/acme%2Fsmall/issues?{query}");
        tasks.spawn(async move {
            let http = reqwest::Client::new();
            for _ in 0..requests / workers {
                let r = http
                    .get(&target)
                    .header("PRIVATE-TOKEN", TOKEN)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 200);
                r.bytes().await.unwrap();
            }
        });
    }
    tasks.join_all().await;
    (requests / workers * workers) as f64 / start.elapsed().as_secs_f64()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let config = gitlab_sandbox::Config {
        token: TOKEN.into(),
        projects: vec![
            ("acme/small".into(), "public".into()),
            ("acme/large".into(), "public".into()),
        ],
        users: vec![],
        state_file: None,
        ..Default::default()
    };
    let sandbox = gitlab_sandbox::Sandbox::bind("127.0.0.1:0".parse().unwrap(), config)
        .await
        .unwrap()
        .spawn();
    let url = sandbox.url.clone();

    create_issues(&url, "acme%2Fsmall", 1_000).await;
    for (what, query) in [
        ("per_page=20 (the default), all issues", "per_page=20"),
        (
            "per_page=100, filtered by two labels",
            "per_page=100&labels=handbook-sync,section::S7&state=opened",
        ),
        (
            "per_page=100, updated_after (nothing changed)",
            "per_page=100&updated_after=2100-01-01T00:00:00Z",
        ),
    ] {
        list_rate(&url, query, 400).await;
        let rate = list_rate(&url, query, 8_000).await;
        println!("issue list, {what}: {rate:.0} requests/s");
    }

    let before = rss_kib("VmRSS:");
    let start = Instant::now();
    create_issues(&url, "acme%2Flarge", 100_000).await;
    let created = start.elapsed();
    println!(
        "100,000 issues created over HTTP in {:.1} s ({:.0}/s); resident memory {} MiB -> {} MiB (peak {} MiB)",
        created.as_secs_f64(),
        100_000.0 / created.as_secs_f64(),
        before / 1024,
        rss_kib("VmRSS:") / 1024,
        rss_kib("VmHWM:") / 1024,
    );
    sandbox.stop().await;
}
