//! The API cost and wall time of a sync, against the request-per-item baseline:
//! `cargo bench --bench sync -- [N...]` (default 50 1000 10000; latency 20 ms, or
//! `SYNC_BENCH_LATENCY_MS`).
//!
//! For each N it generates pages (sections of 25 items, up to 10 pages), runs the real
//! sync in-process against the sandbox with injected latency, and prints requests (reads,
//! writes) and wall time for: the first sync, a no-op sync in a new process (cold), a
//! no-op tick of a running daemon (warm: its cache in memory, which asks GitLab once per
//! project whether an issue changed), and a sync after 1% of the
//! items were reworded, and a no-op in a new process with `sync.cache_dir`. Beside each, the baseline: the request-per-item strategy of
//! declarative tools (Terraform's gitlab_project_issue: every managed issue read on each
//! refresh, and read again after each write), executed against the same sandbox with the
//! same concurrency. It also prints CPU time and peak memory of parse + plan alone at
//! 10,000 and 100,000 items. Figures are printed, never asserted.
//!
//! `cargo bench --bench sync -- core` prints only the core's figures: parse + plan of
//! 10,000 and 100,000 items, each in a new process of this program (CPU time, the peak of
//! the heap as a counting allocator sees it, and the process's peak resident memory,
//! `VmHWM`), and the peak resident memory of a no-op sync of 10,000 items in a new process
//! against a sandbox in this one.

use std::alloc::{GlobalAlloc, Layout};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering};
use std::time::Instant;

use handbook_sync::config::Config;
use handbook_sync::sync_run::cache::Memory;
use handbook_sync::sync_run::{self, RunOptions};
use serde_json::{Value, json};

#[global_allocator]
static GLOBAL: Counting = Counting;

/// mimalloc (the binary's allocator), counting the bytes held and their peak: a process's
/// resident memory also holds the allocator's cached pages, the heap peak only what the
/// program asked for.
struct Counting;

// Signed: memory allocated before counting began may be freed while counting.
static HELD: AtomicIsize = AtomicIsize::new(0);
static PEAK: AtomicIsize = AtomicIsize::new(0);
/// Off unless the heap is measured: the counters cost CPU time on every allocation.
static COUNTING: AtomicBool = AtomicBool::new(false);

fn held(change: isize) {
    if !COUNTING.load(Ordering::Relaxed) {
        return;
    }
    let now = HELD.fetch_add(change, Ordering::Relaxed) + change;
    if change > 0 {
        PEAK.fetch_max(now, Ordering::Relaxed);
    }
}

// SAFETY: every call is passed on to mimalloc unchanged; only counters are updated.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        held(layout.size() as isize);
        // SAFETY: the caller's contract, passed on.
        unsafe { mimalloc::MiMalloc.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        held(layout.size() as isize);
        // SAFETY: the caller's contract, passed on.
        unsafe { mimalloc::MiMalloc.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        held(-(layout.size() as isize));
        // SAFETY: the caller's contract, passed on.
        unsafe { mimalloc::MiMalloc.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        held(new_size as isize - layout.size() as isize);
        // SAFETY: the caller's contract, passed on.
        unsafe { mimalloc::MiMalloc.realloc(ptr, layout, new_size) }
    }
}

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

async fn sync(config: &Config, cache: Option<Arc<Memory>>) -> f64 {
    let start = Instant::now();
    let options = RunOptions {
        today: "2026-11-27".into(),
        cache,
        ..Default::default()
    };
    let plan = sync_run::prepare(config, TOKEN.to_owned().into(), &options)
        .await
        .unwrap()
        .apply()
        .await;
    assert_eq!(plan.summary.failed, 0, "{}", plan.to_text());
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

/// Parse + plan of a first sync of one page of `n` items: CPU seconds and the heap's peak
/// above what was held before, in bytes. The page text is generated before.
fn parse_and_plan(n: usize) -> (f64, isize) {
    use handbook_sync::parse::{ParseOptions, parse_page};
    use handbook_sync::sync::desired::{self, PageSpec, People};
    use handbook_sync::sync::plan::{self, PlanSettings};
    let text = page(n, 0, &Default::default());
    let before_cpu = cpu_seconds();
    let before_heap = HELD.load(Ordering::Relaxed);
    PEAK.store(before_heap, Ordering::Relaxed);
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
        adopt: false,
    };
    let planned = plan::plan_page(&spec, desired, &[], &plan_settings);
    std::hint::black_box(&planned);
    let cpu = cpu_seconds() - before_cpu;
    // The parsed page stays alive to here, as it does in a run.
    drop(parsed);
    (cpu, PEAK.load(Ordering::Relaxed) - before_heap)
}

/// Runs this program again as `args`, and returns what it printed.
fn child(args: &[&str]) -> String {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Parse + plan of `n` items in a new process: its own figures, without the sandbox's
/// or an earlier measurement's memory. CPU time and resident memory from a run without
/// the heap counters, the heap's peak from a run with them.
fn core_line(n: usize) -> String {
    let figures = |args: &[&str]| -> Vec<f64> {
        child(args)
            .split_whitespace()
            .map(|v| v.parse().unwrap())
            .collect()
    };
    let plain = figures(&["core-child", &n.to_string()]);
    let counted = figures(&["core-child", &n.to_string(), "count"]);
    format!(
        "parse + plan of {n} items: {:.2} s CPU, heap peak {:.0} MiB, process peak (VmHWM) {:.0} MiB",
        plain[0],
        counted[1] / 1_048_576.0,
        plain[2] / 1024.0
    )
}

/// The peak resident memory of a no-op sync of 10,000 items (10 pages of 1,000), in a new
/// process, against a sandbox in this one.
async fn noop_peak() -> String {
    let n = 10_000;
    let sandbox = gitlab_sandbox::Sandbox::bind(
        "127.0.0.1:0".parse().unwrap(),
        gitlab_sandbox::Config {
            token: TOKEN.into(),
            projects: vec![("acme/bench".into(), "public".into())],
            users: vec![("owner".into(), "Owner".into())],
            members: vec![("acme/bench".into(), "owner".into(), 30)],
            state_file: None,
            ..Default::default()
        },
    )
    .await
    .unwrap()
    .spawn();
    let pages = 10;
    let setup = Setup {
        dir: std::env::temp_dir().join(format!("hs-bench-noop-{}", std::process::id())),
        pages,
        per_page: n / pages,
    };
    std::fs::create_dir_all(&setup.dir).unwrap();
    setup.write(&Default::default());
    let mut config = format!(
        "[gitlab]\nurl = \"{}\"\nrequests_per_minute = 10000000\nissue_creations_per_minute = 10000000\nconcurrency = {CONCURRENCY}\n\n",
        sandbox.url
    );
    for p in 0..pages {
        config.push_str(&format!(
            "[[pages]]\nid = \"p{p}\"\nsource = \"p{p}.md\"\nproject = \"acme/bench\"\nowner = \"owner\"\nboard = false\n\n"
        ));
    }
    let path = setup.dir.join("config.toml");
    std::fs::write(&path, config).unwrap();
    let config_path = path.to_str().unwrap().to_owned();
    let first = tokio::task::spawn_blocking({
        let config_path = config_path.clone();
        move || child(&["sync-child", &config_path])
    })
    .await
    .unwrap();
    let noop = tokio::task::spawn_blocking(move || child(&["sync-child", &config_path]))
        .await
        .unwrap();
    sandbox.stop().await;
    let _ = std::fs::remove_dir_all(&setup.dir);
    let kib = |s: &str| {
        let f: Vec<f64> = s.split_whitespace().map(|v| v.parse().unwrap()).collect();
        (f[0], f[1] / 1024.0, f[2])
    };
    let (first_t, first_mib, first_writes) = kib(&first);
    let (noop_t, noop_mib, noop_writes) = kib(&noop);
    format!(
        "sync of {n} items in a new process (no latency): first sync {first_t:.2} s, {first_writes} writes, process peak (VmHWM) {first_mib:.0} MiB; no-op {noop_t:.2} s, {noop_writes} writes, process peak {noop_mib:.0} MiB"
    )
}

/// The child processes: `core-child N [count]` prints CPU seconds, heap peak bytes (with
/// `count`; else 0) and `VmHWM` KiB of parse + plan of N items; `sync-child CONFIG` runs one sync and prints its wall
/// seconds, `VmHWM` KiB and the number of writes planned.
fn run_child(args: &[String]) -> bool {
    match args.first().map(String::as_str) {
        Some("core-child") => {
            let n: usize = args[1].parse().unwrap();
            COUNTING.store(args.get(2).is_some_and(|a| a == "count"), Ordering::Relaxed);
            let (cpu, heap) = parse_and_plan(n);
            println!("{cpu} {heap} {}", status_kib("VmHWM:"));
            true
        }
        Some("sync-child") => {
            let config = Config::load(Some(std::path::Path::new(&args[1]))).unwrap();
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            let start = Instant::now();
            let writes = runtime.block_on(async {
                let plan = sync_run::prepare(
                    &config,
                    TOKEN.to_owned().into(),
                    &RunOptions {
                        today: "2026-11-27".into(),
                        ..Default::default()
                    },
                )
                .await
                .unwrap()
                .apply()
                .await;
                assert_eq!(plan.summary.failed, 0, "{}", plan.to_text());
                plan.actions.iter().filter(|a| a.write.is_some()).count()
            });
            let t = start.elapsed().as_secs_f64();
            println!("{t} {} {writes}", status_kib("VmHWM:"));
            true
        }
        _ => false,
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if run_child(&args) {
        return;
    }
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(run(args));
}

// Long on purpose: the measurements in the order the table prints them, as one script.
async fn run(args: Vec<String>) {
    // Pure core first, each size in a process of its own: its peak is parse + plan alone.
    for n in [10_000, 100_000] {
        println!("{}", core_line(n));
    }
    if args.iter().any(|a| a == "core") {
        println!("{}", noop_peak().await);
        return;
    }
    let sizes: Vec<usize> = {
        let args: Vec<usize> = args.iter().filter_map(|a| a.parse().ok()).collect();
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

        // The daemon's cache is the same, in memory (the directory is not used); its
        // ticks are as far apart as the runs above, for the same margin.
        let cache = Arc::new(Memory::default());
        sync(&cached_config, Some(cache.clone())).await;
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        stats(&http, &url).await;
        let t = sync(&cached_config, Some(cache.clone())).await;
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
