//! A first sync of 1,000 items against a sandbox that enforces and advertises a rate
//! limit: `cargo bench --bench rate_limit [-- LIMIT_PER_MINUTE]` (default 3000).
//!
//! Prints (asserts nothing) how many 429s the sync received and what share of the allowed
//! rate it kept. The client is configured with the same limit as the server, as a user
//! would configure it for gitlab.com.

use std::time::Instant;

use handbook_sync::config::Config;
use handbook_sync::sync_run::{self, RunOptions};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const TOKEN: &str = "bench-token";

// Long on purpose: one measurement, set up and printed in a straight line.
#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let limit: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(3000);
    let sandbox = gitlab_sandbox::Sandbox::bind(
        "127.0.0.1:0".parse().unwrap(),
        gitlab_sandbox::Config {
            token: TOKEN.into(),
            projects: vec![("acme/big".into(), "public".into())],
            users: vec![("owner".into(), "Owner".into())],
            members: vec![("acme/big".into(), "owner".into(), 30)],
            state_file: None,
            ..Default::default()
        },
    )
    .await
    .unwrap()
    .spawn();
    let http = reqwest::Client::new();
    http.put(format!("{}/-/sandbox/faults", sandbox.url))
        .json(&serde_json::json!({"rate_limit_per_minute": limit}))
        .send()
        .await
        .unwrap();

    let dir = std::env::temp_dir().join(format!("hs-bench-rate-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut page = String::from("# Big role\n");
    for i in 0..1000 {
        if i % 50 == 0 {
            page.push_str(&format!("\n## Area {}\n\n", i / 50));
        }
        page.push_str(&format!(
            "- Responsibility {i}: keep part {i} of the product in good shape\n"
        ));
    }
    std::fs::write(dir.join("big.md"), page).unwrap();
    std::fs::write(
        dir.join("config.toml"),
        format!(
            "[gitlab]\nurl = \"{}\"\nrequests_per_minute = {limit}\nissue_creations_per_minute = {limit}\n\n\
             [[pages]]\nid = \"big\"\nsource = \"big.md\"\nproject = \"acme/big\"\nowner = \"owner\"\n",
            sandbox.url
        ),
    )
    .unwrap();
    let config = Config::load(Some(&dir.join("config.toml"))).unwrap();
    let options = RunOptions {
        today: "2026-11-27".into(),
        ..Default::default()
    };

    let start = Instant::now();
    let plan = sync_run::prepare(&config, TOKEN.to_owned().into(), &options)
        .await
        .unwrap()
        .apply()
        .await;
    let elapsed = start.elapsed().as_secs_f64();
    let stats: serde_json::Value = http
        .get(format!("{}/-/sandbox/stats", sandbox.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let total = stats["total"].as_u64().unwrap();
    let throttled = stats["by_status"]["429"].as_u64().unwrap_or(0);
    let allowed = limit as f64 / 60.0;
    let achieved = total as f64 / elapsed;
    println!(
        "first sync of 1,000 items at a limit of {limit}/min: {} created, {} failed, {total} requests in {elapsed:.1} s, \
         {throttled} answered 429; {achieved:.1} requests/s of {allowed:.1} allowed ({:.0}%)",
        plan.summary.create,
        plan.summary.failed,
        100.0 * achieved / allowed
    );
    sandbox.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}
