//! The model-based adversarial simulation: random sequences of steps against the sandbox,
//! each a handbook edit (hostile text: fragments of handbook-sync's own lines, quick
//! actions, lone carriage returns, HTML and entities, no-break spaces, decomposed
//! accents, very long lines, duplicated bullets), people's edits through the API
//! (retitle, write outside and inside the managed block, paste another issue's
//! description and take it out again, close, reopen, relabel, take an issue over, delete
//! its block, delete it, rename a label and rename the managed label away and back), then
//! a sync, sometimes under injected faults (5xx, lost answers, 429 with `Retry-After`,
//! writes that land after the client gave up), or two syncs at once (each as `apply`
//! runs it, under the project's lease). The page is served over HTTP from a URL signed
//! with `sig=`, `jwt=` and `foo=`.
//!
//! After every sync: no secret in the plan (text, JSON, Markdown) or the logs; no issue
//! without the managed label or with other than one marker changed or commented on; every
//! line a person wrote still in its issue or in a note on it; no item with two open
//! issues (an issue holding only a description a person pasted into it is theirs, not
//! the item's, while the item's own issue exists); no open issue of an active item
//! closed because a person pasted its description into another issue. After a sync
//! without faults: every item has its issue (or one that holds it by a pasted marker,
//! or an open one titled as it whose description was pasted over, which withholds its
//! create), no item more than one per faulty sync so far, under `enforce` each in its
//! state, and a second sync writes nothing.
//!
//! Sync runs in-process through the `sync_run` stages. `HANDBOOK_SYNC_SIM_CASES` sets the
//! number of cases (default 12: a few tens of seconds on two cores); the figures of the
//! long soak are in RELIABILITY.md.

use crate::common::{TOKEN, World};

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use handbook_sync::config::Config;
use handbook_sync::parse::{ItemStatus, ParseOptions, parse_page};
use handbook_sync::sync::markdown::{MarkdownOptions, plan_to_markdown};
use handbook_sync::sync::{Plan, marker};
use handbook_sync::sync_run::lease::{self, LeasePolicy, Leases};
use handbook_sync::sync_run::{self, RunOptions};
use proptest::prelude::*;
use proptest::test_runner::{Config as RunnerConfig, TestCaseError, TestRunner};
use reqwest::Method;
use serde_json::{Value, json};
use tracing::instrument::WithSubscriber as _;

const PROJECT: &str = "acme/roadmap";
const PATH: &str = "/projects/acme%2Froadmap";
const MANAGED: &str = "handbook-sync";
const LEASE: &str = "handbook-sync-lease";
const PAGE_URL: &str = "https://handbook.example/pm/";
/// The source URL's credentials, under names no list of credential words holds.
const SECRETS: [&str; 3] = ["sig-S1mul4tedSas", "jwt-eyJS1mul4ted", "foo-S1mul4tedVal"];
const SECTIONS: usize = 3;

use model::*;

// ---------------------------------------------------------------------------------------
// The world.

/// A log writer into a shared buffer.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Serves the page at `/pm.md`, only with the three secrets in the query.
async fn page_server(page: Arc<Mutex<String>>) -> String {
    let app = axum::Router::new().route(
        "/pm.md",
        axum::routing::get(
            move |query: axum::extract::Query<BTreeMap<String, String>>| {
                let page = page.clone();
                async move {
                    let signed = ["sig", "jwt", "foo"]
                        .iter()
                        .zip(SECRETS)
                        .all(|(k, v)| query.get(*k).map(String::as_str) == Some(v));
                    if signed {
                        (axum::http::StatusCode::OK, page.lock().unwrap().clone())
                    } else {
                        (axum::http::StatusCode::FORBIDDEN, String::new())
                    }
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/pm.md?ref=main&sig={}&jwt={}&foo={}",
        listener.local_addr().unwrap(),
        SECRETS[0],
        SECRETS[1],
        SECRETS[2]
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

/// What a case counted, for the soak's figures.
#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    steps: u64,
    syncs: u64,
    faulty_syncs: u64,
    injected: u64,
    handbook_edits: u64,
    person_edits: u64,
    refusals: u64,
    overlaps: u64,
    stale_leases: u64,
}

/// One issue as the checks see it.
#[derive(Debug, Clone, PartialEq)]
struct Seen {
    title: Value,
    description: String,
    state: Value,
    labels: Value,
    assignees: Value,
    updated_at: Value,
    notes: usize,
}

struct Sim {
    world: World,
    page: Arc<Mutex<String>>,
    pages_toml: String,
    logs: Logs,
    dispatch: tracing::Dispatch,
    enforce: bool,
    bullets: Vec<Bullet>,
    /// Per issue, the lines people wrote that are still theirs to find.
    owed: BTreeMap<u64, BTreeSet<String>>,
    /// Per issue, the text a person pasted above its description.
    pasted: BTreeMap<u64, String>,
    next_line: usize,
    counts: Counts,
    /// Before a sync, the open issues whose marker a person pasted into another issue
    /// (whose own block they had deleted), with the key and the other issue: the sync
    /// must not take the paste for the item's issue and close this one.
    pasted_twins: BTreeMap<u64, (String, u64)>,
}

type Check = Result<(), TestCaseError>;

macro_rules! ensure {
    ($cond:expr, $($arg:tt)+) => {
        if !$cond {
            return Err(TestCaseError::fail(format!($($arg)+)));
        }
    };
}

// After the macro: its scope is the text below it, these modules included.
mod checks;
mod model;
mod people;

/// Where a check failed, written out only when one does.
enum Context<'a> {
    First,
    Step(usize, &'a Step),
}

impl std::fmt::Display for Context<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Context::First => write!(f, "the first sync"),
            Context::Step(n, step) => write!(f, "step {n} {}", abbreviated(&format!("{step:?}"))),
        }
    }
}

/// `text` with every run of more than 20 of one character (the very long lines) written
/// as its first 20 and their number, so that a failing case stays readable.
fn abbreviated(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let mut run = 1;
        while chars.next_if_eq(&c).is_some() {
            run += 1;
        }
        if run > 20 {
            out.extend(std::iter::repeat_n(c, 20));
            out.push_str(&format!("…({run} in all)"));
        } else {
            out.extend(std::iter::repeat_n(c, run));
        }
    }
    out
}

/// The `i`th issue, modulo their number.
fn pick(issues: &[Value], i: usize) -> &Value {
    &issues[i % issues.len()]
}

fn description(issue: &Value) -> &str {
    issue["description"].as_str().unwrap_or_default()
}

fn has_label(issue: &Value, label: &str) -> bool {
    issue["labels"]
        .as_array()
        .is_some_and(|l| l.iter().any(|x| x == label))
}

/// The key of a managed issue of the page: the managed label and exactly one marker,
/// naming the page.
fn managed_key(issue: &Value) -> Option<String> {
    if !has_label(issue, MANAGED) {
        return None;
    }
    let mut markers = marker::markers(description(issue));
    (markers.len() == 1 && markers[0].page == "pm").then(|| markers.remove(0).key)
}

impl Sim {
    async fn new(case: &Case) -> Sim {
        let page = Arc::new(Mutex::new(String::new()));
        let source = page_server(page.clone()).await;
        let pages_toml = format!(
            "[[pages]]\nid = \"pm\"\nsource = \"{source}\"\nurl = \"{PAGE_URL}\"\nproject = \"{PROJECT}\"\nowner = \"sytses\"\n"
        );
        let world = World::with_tier(&pages_toml, "", gitlab_sandbox::Tier::Premium).await;
        let logs = Logs::default();
        let writer = logs.clone();
        let dispatch = handbook_sync::logging::dispatch(
            handbook_sync::logging::LogFormat::Json,
            "debug,handbook_sync=trace",
            move || writer.clone(),
        );
        // The capture works, through the redactor: a line naming the source's URL.
        tracing::dispatcher::with_default(&dispatch, || {
            tracing::warn!("probe: fetching {source}");
        });
        let probe = String::from_utf8(std::mem::take(&mut *logs.0.lock().unwrap())).unwrap();
        assert!(
            probe.contains("probe: fetching http://127.0.0.1:")
                && probe.contains("sig=REDACTED")
                && !probe.contains(SECRETS[0]),
            "{probe}"
        );
        let sim = Sim {
            world,
            page,
            pages_toml,
            logs,
            dispatch,
            enforce: case.enforce,
            bullets: case.initial.clone(),
            owed: BTreeMap::new(),
            pasted: BTreeMap::new(),
            next_line: 0,
            counts: Counts::default(),
            pasted_twins: BTreeMap::new(),
        };
        sim.configure(false);
        sim.publish();
        sim
    }

    fn publish(&self) {
        *self.page.lock().unwrap() = render(&self.bullets);
    }

    /// The configuration: retries without waiting (the faults are many), and for a sync
    /// under slow writes a client timeout shorter than them.
    fn configure(&self, slow: bool) {
        let gitlab = if slow {
            "timeout_seconds = 0.2\nmax_retries = 2\n"
        } else {
            "max_retries = 8\n"
        };
        self.world.write_config(
            &self.pages_toml,
            &format!(
                "default_retry_after_seconds = 0\n{gitlab}\n[sync]\nenforce = {}\nlease_wait_seconds = 15\n",
                self.enforce
            ),
        );
    }

    async fn faults(&self, faults: Value) {
        let r = self
            .world
            .http
            .put(format!("{}/-/sandbox/faults", self.world.sandbox.url))
            .json(&faults)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
    }

    async fn issues(&self) -> Vec<Value> {
        self.world.issues(PROJECT).await
    }

    async fn notes(&self, iid: u64) -> Vec<String> {
        let r = self
            .world
            .http
            .get(format!(
                "{}/api/v4{PATH}/issues/{iid}/notes?per_page=100",
                self.world.sandbox.url
            ))
            .header("PRIVATE-TOKEN", TOKEN)
            .header("x-sandbox-observer", "1")
            .send()
            .await
            .unwrap();
        if !r.status().is_success() {
            return Vec::new();
        }
        let notes: Vec<Value> = r.json().await.unwrap_or_default();
        notes
            .iter()
            .filter_map(|n| n["body"].as_str().map(str::to_owned))
            .collect()
    }

    /// A person's request; its answer's status (a deleted issue answers 404).
    async fn person(&self, method: Method, path: &str, form: &[(&str, &str)]) -> u16 {
        self.world
            .http
            .request(method, format!("{}/api/v4{path}", self.world.sandbox.url))
            .header("PRIVATE-TOKEN", TOKEN)
            .header("x-sandbox-observer", "1")
            .form(form)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    fn new_line(&mut self) -> String {
        self.next_line += 1;
        format!("person-line-{}", self.next_line)
    }

    /// A person writes `text` as issue `iid`'s description: their lines still in it stay
    /// owed, `added` becomes owed.
    async fn set_description(&mut self, iid: u64, text: &str, added: Option<String>) {
        self.person(
            Method::PUT,
            &format!("{PATH}/issues/{iid}"),
            &[("description", text)],
        )
        .await;
        let owed = self.owed.entry(iid).or_default();
        owed.retain(|l| text.contains(l.as_str()));
        owed.extend(added);
    }
}

async fn run_case(case: &Case) -> Result<Counts, TestCaseError> {
    let mut sim = Sim::new(case).await;
    let untouchable = sim.untouchable().await;
    let plan = sim.sync_checked(&Context::First).await?;
    ensure!(sim.clean(&plan), "{}:\n{}", Context::First, plan.to_text());
    sim.check_always(&untouchable, &Context::First).await?;
    sim.check_converged(&Context::First).await?;
    for (n, step) in case.steps.iter().enumerate() {
        sim.step(step, n).await?;
    }
    Ok(sim.counts)
}

/// Runs `HANDBOOK_SYNC_SIM_CASES` cases (default 12) from `HANDBOOK_SYNC_SIM_SEED` (a
/// fixed default, so `cargo test` is repeatable) and prints the figures.
#[test]
fn the_model_based_simulation_finds_no_violation() {
    let number = |name: &str, default: u64| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let cases = number("HANDBOOK_SYNC_SIM_CASES", 12);
    let seed = number("HANDBOOK_SYNC_SIM_SEED", 24);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let config = RunnerConfig {
        cases: cases as u32,
        failure_persistence: None,
        max_shrink_iters: 64,
        ..RunnerConfig::default()
    };
    let mut seed_bytes = [0u8; 32];
    seed_bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let mut runner = TestRunner::new_with_rng(
        config,
        proptest::test_runner::TestRng::from_seed(
            proptest::test_runner::RngAlgorithm::ChaCha,
            &seed_bytes,
        ),
    );
    let totals = std::cell::RefCell::new((0u64, Counts::default()));
    let began = std::time::Instant::now();
    let result = runner.run(&case(), |case| {
        let counts = runtime.block_on(run_case(&case))?;
        let mut t = totals.borrow_mut();
        t.0 += 1;
        let c = &mut t.1;
        c.steps += counts.steps;
        c.syncs += counts.syncs;
        c.faulty_syncs += counts.faulty_syncs;
        c.injected += counts.injected;
        c.handbook_edits += counts.handbook_edits;
        c.person_edits += counts.person_edits;
        c.refusals += counts.refusals;
        c.overlaps += counts.overlaps;
        c.stale_leases += counts.stale_leases;
        if t.0 % 100 == 0 {
            // A soak says how far it is.
            eprintln!(
                "simulation: {} cases in {:.0} s",
                t.0,
                began.elapsed().as_secs_f64()
            );
        }
        Ok(())
    });
    let (passed, c) = *totals.borrow();
    println!(
        "simulation (seed {seed}): {passed} cases passed in {:.0} s: {} steps, {} syncs, {} handbook edits, {} people's edits, {} faulty syncs with {} injected 5xx/429 answers, {} pairs of runs at once, {} guard refusals overridden, {} leases left by a faulty run broken",
        began.elapsed().as_secs_f64(),
        c.steps,
        c.syncs,
        c.handbook_edits,
        c.person_edits,
        c.faulty_syncs,
        c.injected,
        c.overlaps,
        c.refusals,
        c.stale_leases,
    );
    if let Err(e) = result {
        panic!(
            "{}\nrepeat with HANDBOOK_SYNC_SIM_SEED={seed} HANDBOOK_SYNC_SIM_CASES={cases}",
            abbreviated(&e.to_string())
        );
    }
}
