//! A whole handbook: `cargo bench --bench handbook [-- --no-limit]`.
//!
//! 500 job-family pages of 50 responsibilities each (25,000 items, plus requirements that
//! must not become issues) in a GitLab repository of the sandbox, found by one
//! `[[discover]]` block (`gitlab://acme/handbook/-/job-families`), ten pages to each of
//! 50 roadmap projects. Printed, never asserted:
//!
//! - the first sync: requests (reads / writes) and wall time with the client and the
//!   sandbox both at 2,000 requests per minute (gitlab.com's limit per user; issue
//!   creations at 2,000 too, where gitlab.com allows 200: there a first sync of 25,000
//!   items takes at least 125 minutes whatever the tool); `--no-limit` runs it unpaced;
//! - a cold no-op (a run in a new process) without and with `sync.cache_dir`;
//! - one page edited, then a new page added (with the cache);
//! - CPU time and peak resident memory of `handbook-sync plan` as a process
//!   (`/usr/bin/time`): the no-op plan of the 25,000 items, and the first plan of one page
//!   of 100,000 items.

use std::path::Path;
use std::time::Instant;

use handbook_sync::config::Config;
use handbook_sync::sync_run::{self, RunOptions};
use serde_json::{Value, json};

const TOKEN: &str = "bench-token";
const PROJECTS: usize = 50;
const PAGES: usize = 500;
const ITEMS: usize = 50;

/// Page `p`'s Markdown: 50 responsibilities in two levels, and requirements.
fn page(p: usize, edited: bool) -> String {
    let mut text = format!("---\ntitle: Role {p}\n---\n# Role {p}\n\n## Responsibilities\n\n");
    for i in 0..ITEMS {
        if i == ITEMS / 2 {
            text.push_str("\n### Senior Role Responsibilities\n\n");
        }
        let extra = if edited && i == 0 {
            " and document it"
        } else {
            ""
        };
        text.push_str(&format!(
            "- Own part {i} of role {p}, with its weekly review{extra}\n"
        ));
    }
    text.push_str("\n## Requirements\n\n- Five years of experience\n- Ability to use GitLab\n");
    text
}

fn path(p: usize) -> String {
    format!("job-families/team-{:02}/role-{p:03}.md", p % PROJECTS)
}

fn config_text(url: &str, limit: Option<u32>, cache: bool) -> String {
    let pace = limit.map_or(
        "requests_per_minute = 100000000\nissue_creations_per_minute = 100000000\n".to_owned(),
        |l| format!("requests_per_minute = {l}\nissue_creations_per_minute = {l}\n"),
    );
    let cache = if cache {
        "[sync]\ncache_dir = \"cache\"\ncache_clock_margin_seconds = 1\n"
    } else {
        ""
    };
    format!(
        r#"[gitlab]
url = "{url}"
{pace}concurrency = 4

{cache}
[[discover]]
name = "job-families"
source = "gitlab://acme/handbook/-/job-families?ref=main"
require_heading = "Responsibilities"
sections = ["Responsibilities", "* Responsibilities"]
id = "{{name}}"
project = "roadmaps/{{dir}}"
owner = "owner"
board = false
"#
    )
}

fn load(dir: &Path, name: &str, text: &str) -> Config {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    Config::load(Some(&path)).unwrap()
}

/// (reads, writes) since the last call, which resets them.
async fn requests(http: &reqwest::Client, url: &str) -> (u64, u64) {
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

/// One `apply`, in-process as a run in a new process does it (`prepare` builds a new
/// client; the cache, if configured, comes from disk): wall seconds.
async fn apply(config: &Config) -> f64 {
    let start = Instant::now();
    let options = RunOptions {
        today: "2026-12-01".into(),
        ..Default::default()
    };
    let plan = sync_run::prepare(config, TOKEN.to_owned().into(), &options)
        .await
        .unwrap()
        .apply()
        .await;
    assert_eq!(plan.summary.failed, 0, "{}", plan.to_text());
    assert!(!plan.has_refusals(), "{}", plan.to_text());
    start.elapsed().as_secs_f64()
}

/// Commits `files` (path, text) to the handbook's repository in one commit.
async fn push(http: &reqwest::Client, url: &str, action: &str, files: &[(String, String)]) {
    let actions: Vec<Value> = files
        .iter()
        .map(|(path, content)| json!({"action": action, "file_path": path, "content": content}))
        .collect();
    let r = http
        .post(format!(
            "{url}/api/v4/projects/acme%2Fhandbook/repository/commits"
        ))
        .header("PRIVATE-TOKEN", TOKEN)
        .header("x-sandbox-observer", "1")
        .json(&json!({"branch": "main", "commit_message": "handbook", "actions": actions}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
}

/// `handbook-sync plan` as a process under `/usr/bin/time`: (user + system CPU seconds,
/// peak resident KiB), or `None` without it.
fn plan_process(config: &Path) -> Option<(f64, u64)> {
    let out = std::process::Command::new("/usr/bin/time")
        .args(["-f", "%U %S %M"])
        .arg(env!("CARGO_BIN_EXE_handbook-sync"))
        .args(["plan", "--config"])
        .arg(config)
        .env("GITLAB_TOKEN", TOKEN)
        .env_remove("RUST_LOG")
        .stdout(std::process::Stdio::null())
        .output()
        .ok()?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    let last = stderr.lines().last()?;
    let f: Vec<&str> = last.split_whitespace().collect();
    let cpu = f.first()?.parse::<f64>().ok()? + f.get(1)?.parse::<f64>().ok()?;
    Some((cpu, f.get(2)?.parse().ok()?))
}

fn process_line(what: &str, measured: Option<(f64, u64)>) {
    match measured {
        Some((cpu, kib)) => println!(
            "| `plan` as a process: {what} | {cpu:.2} s CPU | {:.0} MiB peak (max RSS) |",
            kib as f64 / 1024.0
        ),
        None => println!("| `plan` as a process: {what} | /usr/bin/time not found | |"),
    }
}

fn main() {
    let limit = (!std::env::args().any(|a| a == "--no-limit")).then_some(2000);
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(run(limit));
}

async fn run(limit: Option<u32>) {
    let mut projects: Vec<(String, String)> = (0..PROJECTS)
        .map(|t| (format!("roadmaps/team-{t:02}"), "public".into()))
        .collect();
    projects.push(("acme/handbook".into(), "public".into()));
    projects.push(("acme/big".into(), "public".into()));
    let members = projects
        .iter()
        .map(|(p, _)| (p.clone(), "owner".into(), 30))
        .collect();
    let sandbox = gitlab_sandbox::Sandbox::bind(
        "127.0.0.1:0".parse().unwrap(),
        gitlab_sandbox::Config {
            token: TOKEN.into(),
            projects,
            users: vec![("owner".into(), "Owner".into())],
            members,
            state_file: None,
            ..Default::default()
        },
    )
    .await
    .unwrap()
    .spawn();
    let url = sandbox.url.clone();
    let http = reqwest::Client::new();
    let dir = std::env::temp_dir().join(format!("hs-bench-handbook-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let files: Vec<(String, String)> = (0..PAGES).map(|p| (path(p), page(p, false))).collect();
    push(&http, &url, "create", &files).await;
    if let Some(limit) = limit {
        http.put(format!("{url}/-/sandbox/faults"))
            .json(&json!({"rate_limit_per_minute": limit}))
            .send()
            .await
            .unwrap();
    }
    let paced = load(&dir, "paced.toml", &config_text(&url, limit, false));
    let plain = load(&dir, "plain.toml", &config_text(&url, None, false));
    let cached = load(&dir, "cached.toml", &config_text(&url, None, true));

    println!(
        "{PAGES} pages × {ITEMS} items ({} items) across {PROJECTS} projects, discovered in a repository tree\n",
        PAGES * ITEMS
    );
    println!("| measure | reads / writes | time |\n|---|---|---|");
    requests(&http, &url).await;
    let t = apply(&paced).await;
    let (r, w) = requests(&http, &url).await;
    let pace = limit.map_or("unpaced".to_owned(), |l| format!("at {l}/min"));
    println!("| first sync ({pace}) | {r} / {w} | {t:.1} s |");
    http.put(format!("{url}/-/sandbox/faults"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();

    // The first no-op after an apply reads once more in full; then the cache is warm.
    apply(&plain).await;
    requests(&http, &url).await;
    let t = apply(&plain).await;
    let (r, w) = requests(&http, &url).await;
    println!("| no-op, new process, no cache | {r} / {w} | {t:.2} s |");
    apply(&cached).await;
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    apply(&cached).await;
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    requests(&http, &url).await;
    let t = apply(&cached).await;
    let (r, w) = requests(&http, &url).await;
    println!("| no-op, new process, with cache | {r} / {w} | {t:.2} s |");

    push(&http, &url, "update", &[(path(7), page(7, true))]).await;
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    requests(&http, &url).await;
    let t = apply(&cached).await;
    let (r, w) = requests(&http, &url).await;
    println!("| one page edited (one item reworded), with cache | {r} / {w} | {t:.2} s |");

    push(&http, &url, "create", &[(path(PAGES), page(PAGES, false))]).await;
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    requests(&http, &url).await;
    let t = apply(&cached).await;
    let (r, w) = requests(&http, &url).await;
    println!("| a new page added ({ITEMS} items), with cache | {r} / {w} | {t:.2} s |");

    println!("\n| measure | CPU | memory |\n|---|---|---|");
    process_line(
        &format!("no-op of {} items, no cache", (PAGES + 1) * ITEMS),
        plan_process(&dir.join("plain.toml")),
    );
    // One page of 100,000 items into an empty project: every item a create.
    let mut big = String::from("# Role\n");
    for i in 0..100_000 {
        if i % 25 == 0 {
            big.push_str(&format!("\n## Area {}\n\n", i / 25));
        }
        if i % 10 == 7 {
            big.push_str(&format!("- ~~Own part {i} of the role~~ => owner\n"));
        } else {
            big.push_str(&format!("- Keep part {i} of the role in good shape\n"));
        }
    }
    std::fs::write(dir.join("big.md"), &big).unwrap();
    std::fs::write(
        dir.join("big.toml"),
        format!(
            "[gitlab]\nurl = \"{url}\"\n\n[sync]\nmax_page_bytes = 16777216\n\n[[pages]]\nid = \"big\"\nsource = \"big.md\"\nproject = \"acme/big\"\nowner = \"owner\"\nboard = false\n"
        ),
    )
    .unwrap();
    process_line(
        &format!(
            "first plan of one page of 100,000 items ({:.1} MB)",
            big.len() as f64 / 1e6
        ),
        plan_process(&dir.join("big.toml")),
    );
    sandbox.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}
