//! The API cost and wall time of a sync, against the request-per-item baseline:
//! `cargo bench --bench sync -- [N...]` (default 50 1000 10000; latency 20 ms, or
//! `SYNC_BENCH_LATENCY_MS`).
//!
//! For each N it generates pages (sections of 25 items, up to 10 pages), runs the real
//! sync in-process against the sandbox with injected latency, and prints requests (reads,
//! writes) and wall time for: the first sync, a no-op sync in a new process (cold), a
//! no-op tick of a running daemon (warm: the source cache), and a sync after 1% of the
//! items were reworded, and a no-op in a new process with `sync.cache_dir`. Beside each, the baseline: the request-per-item strategy of
//! declarative tools (Terraform's gitlab_project_issue: every managed issue read on each
//! refresh, and read again after each write), executed against the same sandbox with the
//! same concurrency. It also prints CPU time and peak memory of parse + plan alone at
//! 10,000 and 100,000 items. Figures are printed, never asserted.

use std::sync::Arc;
use std::time::Instant;

use handbook_sync::config::Config;
use handbook_sync::source::SourceCache;
use handbook_sync::sync_run::{self, RunOptions};
use serde_json::{Value, json};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const TOKEN: &str = "bench-token";
const CONCURRENCY: usize = 4;

fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn cpu_seconds() -> f64 {
    // utime + stime of this process, in clock ticks (100 per second on Linux).
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(") ")
        .map(|(_, r)| r.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

fn page(n: usize, page: usize, reworded: &std::collections::BTreeSet<usize>) -> String {
    let mut text = format!("# Role {page}\n");
    for i in 0..n {
        if i % 25 == 0 {
            text.push_str(&format!("\n## Area {}\n\n", i / 25));
        }
        let extra = if reworded.contains(&i) {
            " and document it"
        } else {
            ""
        };
        if i % 10 == 7 {
            text.push_str(&format!(
                "- ~~Own part {i} of role {page}{extra}~~ => owner\n"
            ));
        } else {
            text.push_str(&format!(
                "- Keep part {i} of role {page} in good shape{extra}\n"
            ));
        }
    }
    text
}

struct Setup {
    dir: std::path::PathBuf,
    pages: usize,
    per_page: usize,
}

impl Setup {
    fn write(&self, reworded: &std::collections::BTreeSet<usize>) {
        for p in 0..self.pages {
            std::fs::write(
                self.dir.join(format!("p{p}.md")),
                page(self.per_page, p, reworded),
            )
            .unwrap();
        }
    }
}

async fn stats(http: &reqwest::Client, url: &str) -> (u64, u64) {
    let s: Value = http
        .get(format!("{url}/-/sandbox/stats"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    http.post(format!("{url}/-/sandbox/stats/reset"))
        .send()
        .await
        .unwrap();
    (s["reads"].as_u64().unwrap(), s["writes"].as_u64().unwrap())
}

async fn sync(config: &Config, cache: Option<Arc<SourceCache>>) -> f64 {
    let start = Instant::now();
    let options = RunOptions {
        today: "2026-11-27".into(),
        cache: cache.clone(),
        ..Default::default()
    };
    let plan = sync_run::prepare(config, TOKEN.to_owned().into(), &options)
        .await
        .unwrap()
        .apply()
        .await;
    assert_eq!(plan.summary.failed, 0, "{}", plan.to_text());
    if let Some(cache) = cache {
        for p in &plan.pages {
            cache.mark(&p.id, true);
        }
    }
    start.elapsed().as_secs_f64()
}

/// The request-per-item strategy, run for real: `creates` new issues, each read back; a
/// refresh reading every issue one by one; `edits` issues written and read back.
async fn baseline(
    http: &reqwest::Client,
    url: &str,
    refresh: &[u64],
    creates: usize,
    edits: &[u64],
) -> f64 {
    use futures_util::StreamExt as _;
    let start = Instant::now();
    let api = format!("{url}/api/v4/projects/acme%2Fbaseline/issues");
    let get = |iid: u64| {
        let (http, api) = (http.clone(), api.clone());
        async move {
            http.get(format!("{api}/{iid}"))
                .header("PRIVATE-TOKEN", TOKEN)
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap();
        }
    };
    futures_util::stream::iter(refresh.iter().copied())
        .map(get)
        .buffer_unordered(CONCURRENCY)
        .collect::<Vec<_>>()
        .await;
    futures_util::stream::iter(0..creates)
        .map(|i| {
            let (http, api) = (http.clone(), api.clone());
            async move {
                let r: Value = http
                    .post(&api)
                    .header("PRIVATE-TOKEN", TOKEN)
                    .form(&[
                        ("title", format!("baseline {i}")),
                        ("labels", "managed".into()),
                    ])
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                let iid = r["iid"].as_u64().unwrap();
                http.get(format!("{api}/{iid}"))
                    .header("PRIVATE-TOKEN", TOKEN)
                    .send()
                    .await
                    .unwrap()
                    .bytes()
                    .await
                    .unwrap();
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect::<Vec<_>>()
        .await;
    futures_util::stream::iter(edits.iter().copied())
        .map(|iid| {
            let (http, api) = (http.clone(), api.clone());
            async move {
                http.put(format!("{api}/{iid}"))
                    .header("PRIVATE-TOKEN", TOKEN)
                    .form(&[("title", "edited")])
                    .send()
                    .await
                    .unwrap();
                http.get(format!("{api}/{iid}"))
                    .header("PRIVATE-TOKEN", TOKEN)
                    .send()
                    .await
                    .unwrap()
                    .bytes()
                    .await
                    .unwrap();
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect::<Vec<_>>()
        .await;
    start.elapsed().as_secs_f64()
}

fn parse_and_plan(n: usize) -> (f64, u64) {
    use handbook_sync::parse::{ParseOptions, parse_page};
    use handbook_sync::sync::desired::{self, PageSpec, People};
    use handbook_sync::sync::plan::{self, PlanSettings};
    let text = page(n, 0, &Default::default());
    let before_cpu = cpu_seconds();
    let parsed = parse_page(
        &text,
        &ParseOptions {
            page_id: "bench".into(),
            ..Default::default()
        },
    );
    let spec = PageSpec {
        id: "bench".into(),
        title: parsed.title.clone(),
        url: None,
        page_label: "handbook::bench".into(),
    };
    let settings = handbook_sync::config::SyncSettings::default().labels();
    let desired = desired::desired_issues(&parsed, &spec, "owner", &settings, &People::default());
    let plan_settings = PlanSettings {
        managed_label: "handbook-sync".into(),
        enforce: false,
        max_close_fraction: 0.25,
        allow_mass_close: false,
        allow_mass_create: false,
        today: "2026-11-27".into(),
    };
    let planned = plan::plan_page(&spec, &desired, &[], &plan_settings);
    std::hint::black_box(&planned);
    (cpu_seconds() - before_cpu, status_kib("VmHWM:"))
}

// Long on purpose: the measurements in the order the table prints them, as one script.
#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let sizes: Vec<usize> = {
        let args: Vec<usize> = std::env::args()
            .skip(1)
            .filter_map(|a| a.parse().ok())
            .collect();
        if args.is_empty() {
            vec![50, 1000, 10_000]
        } else {
            args
        }
    };
    let latency: u64 = std::env::var("SYNC_BENCH_LATENCY_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);

    // Pure core first, while the process is small: its peak is parse + plan alone.
    let base = status_kib("VmHWM:");
    for n in [10_000, 100_000] {
        let (cpu, peak) = parse_and_plan(n);
        println!(
            "parse + plan of {n} items: {cpu:.2} s CPU, peak memory {} MiB above start",
            peak.saturating_sub(base) / 1024
        );
    }

    println!(
        "\n| N | measure | ours: reads / writes | ours: time | baseline: requests | baseline: time |"
    );
    println!("|---|---|---|---|---|---|");
    for n in sizes {
        let sandbox = gitlab_sandbox::Sandbox::bind(
            "127.0.0.1:0".parse().unwrap(),
            gitlab_sandbox::Config {
                token: TOKEN.into(),
                projects: vec![
                    ("acme/bench".into(), "public".into()),
                    ("acme/baseline".into(), "public".into()),
                ],
                users: vec![("owner".into(), "Owner".into())],
                // Handbook names are assigned only to members.
                members: vec![("acme/bench".into(), "owner".into(), 30)],
                state_file: None,
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .spawn();
        let url = sandbox.url.clone();
        let http = reqwest::Client::new();
        http.put(format!("{url}/-/sandbox/faults"))
            .json(&json!({"latency_ms": latency}))
            .send()
            .await
            .unwrap();

        let pages = n.div_ceil(1000).clamp(1, 10);
        let setup = Setup {
            dir: std::env::temp_dir().join(format!("hs-bench-sync-{}-{n}", std::process::id())),
            pages,
            per_page: n / pages,
        };
        std::fs::create_dir_all(&setup.dir).unwrap();
        setup.write(&Default::default());
        let mut config = format!(
            "[gitlab]\nurl = \"{url}\"\nrequests_per_minute = 10000000\nissue_creations_per_minute = 10000000\nconcurrency = {CONCURRENCY}\n\n"
        );
        for p in 0..pages {
            config.push_str(&format!(
                "[[pages]]\nid = \"p{p}\"\nsource = \"p{p}.md\"\nproject = \"acme/bench\"\nowner = \"owner\"\nboard = false\n\n"
            ));
        }
        std::fs::write(setup.dir.join("config.toml"), config).unwrap();
        let config = Config::load(Some(&setup.dir.join("config.toml"))).unwrap();
        let total = setup.per_page * pages;
        let edited: std::collections::BTreeSet<usize> = (0..setup.per_page).step_by(100).collect();
        let row = |what: &str, ours: (u64, u64), t: f64, base: u64, bt: f64| {
            println!(
                "| {total} | {what} | {} / {} | {t:.2} s | {base} ({:.1}×) | {bt:.2} s ({:.1}×) |",
                ours.0,
                ours.1,
                base as f64 / (ours.0 + ours.1).max(1) as f64,
                bt / t.max(1e-9)
            );
        };

        stats(&http, &url).await;
        let t = sync(&config, None).await;
        let ours = stats(&http, &url).await;
        let bt = baseline(&http, &url, &[], total, &[]).await;
        let base = stats(&http, &url).await;
        row("first sync", ours, t, base.0 + base.1, bt);

        let all: Vec<u64> = (1..=total as u64).collect();
        let t = sync(&config, None).await;
        let ours = stats(&http, &url).await;
        let bt = baseline(&http, &url, &all, 0, &[]).await;
        let base = stats(&http, &url).await;
        row("no-op, new process (cold)", ours, t, base.0 + base.1, bt);

        // The same run with `sync.cache_dir`: one run writes the cache, the next is
        // measured. The clock margin is one second and the runs two apart, as a timer's
        // runs are 15 minutes apart with the default margin of five.
        let cached_config = {
            let text = std::fs::read_to_string(setup.dir.join("config.toml")).unwrap();
            let text = text.replacen(
                "\n\n[[pages]]",
                "\n\n[sync]\ncache_dir = \"cache\"\ncache_clock_margin_seconds = 1\n\n[[pages]]",
                1,
            );
            std::fs::write(setup.dir.join("config-cache.toml"), text).unwrap();
            Config::load(Some(&setup.dir.join("config-cache.toml"))).unwrap()
        };
        sync(&cached_config, None).await;
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        stats(&http, &url).await;
        let t = sync(&cached_config, None).await;
        let ours = stats(&http, &url).await;
        row(
            "no-op, new process, with cache",
            ours,
            t,
            base.0 + base.1,
            bt,
        );

        let cache = Arc::new(SourceCache::default());
        sync(&config, Some(cache.clone())).await;
        stats(&http, &url).await;
        let t = sync(&config, Some(cache.clone())).await;
        let ours = stats(&http, &url).await;
        row("no-op, daemon tick (warm)", ours, t, base.0 + base.1, bt);

        setup.write(&edited);
        let t = sync(&config, None).await;
        let ours = stats(&http, &url).await;
        let edits: Vec<u64> = (1..=(edited.len() * pages) as u64).collect();
        let bt = baseline(&http, &url, &all, 0, &edits).await;
        let base = stats(&http, &url).await;
        row(
            &format!("{} items reworded (1%)", edited.len() * pages),
            ours,
            t,
            base.0 + base.1,
            bt,
        );

        sandbox.stop().await;
        let _ = std::fs::remove_dir_all(&setup.dir);
    }
}
