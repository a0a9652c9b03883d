//! `handbook-sync run`: sync at start, then on the schedule; `/healthz`, `/readyz`,
//! `/metrics`; on SIGTERM or SIGINT, stop scheduling, let the action in flight finish, exit.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use chrono::Utc;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use secrecy::{ExposeSecret as _, SecretString};
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::metrics::GitlabMetrics;
use crate::sync::Plan;
use crate::sync_run::{self, RunOptions};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Outcome {
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Kind {
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Page {
    page: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PageItems {
    page: String,
    status: String,
}

/// The daemon's metrics, in Prometheus' text format.
struct Metrics {
    registry: Registry,
    syncs: Family<Outcome, Counter>,
    actions: Family<Kind, Counter>,
    ticks_skipped: Counter,
    last_success: Gauge,
    items: Family<PageItems, Gauge>,
    drift: Family<Page, Gauge>,
    gitlab: Arc<GitlabMetrics>,
}

impl Metrics {
    fn new() -> Self {
        let mut registry = Registry::with_prefix("handbook_sync");
        let syncs = Family::<Outcome, Counter>::default();
        registry.register(
            "syncs",
            "Syncs by outcome (ok, failed, refused)",
            syncs.clone(),
        );
        let actions = Family::<Kind, Counter>::default();
        registry.register(
            "actions",
            "Issue writes done, by kind (create, update, close, reopen)",
            actions.clone(),
        );
        let ticks_skipped = Counter::default();
        registry.register(
            "ticks_skipped",
            "Scheduled ticks that fell while a sync was running",
            ticks_skipped.clone(),
        );
        let last_success = Gauge::default();
        registry.register(
            "last_success_timestamp_seconds",
            "Unix time of the last successful sync",
            last_success.clone(),
        );
        let items = Family::<PageItems, Gauge>::default();
        registry.register("items", "Handbook items per page and status", items.clone());
        let drift = Family::<Page, Gauge>::default();
        registry.register(
            "drift",
            "Issues a person changed against the handbook, per page, at the last sync",
            drift.clone(),
        );
        // The client's counters: one value for the daemon's life, handed to every run.
        let gitlab = Arc::new(GitlabMetrics::default());
        gitlab.register(&mut registry);
        Metrics {
            registry,
            syncs,
            actions,
            ticks_skipped,
            last_success,
            items,
            drift,
            gitlab,
        }
    }

    fn record(&self, plan: &Plan) {
        let outcome = if plan.has_failures() {
            "failed"
        } else if plan.has_refusals() {
            "refused"
        } else {
            "ok"
        };
        self.syncs
            .get_or_create(&Outcome {
                outcome: outcome.into(),
            })
            .inc();
        // Writes done only: drift is a report, and the same drift is reported every sync
        // until someone acts on it.
        let s = &plan.summary;
        for (kind, n) in [
            ("create", s.create),
            ("update", s.update),
            ("close", s.close),
            ("reopen", s.reopen),
        ] {
            self.actions
                .get_or_create(&Kind { kind: kind.into() })
                .inc_by(n as u64);
        }
        for page in &plan.pages {
            let drifted = plan
                .actions
                .iter()
                .filter(|a| a.page == page.id && a.action == crate::sync::ActionKind::Drift)
                .count();
            self.drift
                .get_or_create(&Page {
                    page: page.id.clone(),
                })
                .set(drifted as i64);
            for (status, n) in &page.items {
                self.items
                    .get_or_create(&PageItems {
                        page: page.id.clone(),
                        status: (*status).into(),
                    })
                    .set(*n as i64);
            }
        }
    }
}

/// What the HTTP endpoints read.
struct Shared {
    metrics: Metrics,
    /// Unix time of the last successful sync (0: none yet).
    last_success: AtomicI64,
    last_ok: AtomicU64,
    /// Seconds: ready while the last success is at most this old.
    stale_after: i64,
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(shared): State<Arc<Shared>>) -> impl IntoResponse {
    let last = shared.last_success.load(Ordering::SeqCst);
    let ok = shared.last_ok.load(Ordering::SeqCst) == 1;
    let age = Utc::now().timestamp() - last;
    if last > 0 && ok && age <= shared.stale_after {
        (
            StatusCode::OK,
            format!("ready: last sync succeeded {age} s ago\n"),
        )
    } else if last == 0 || !ok {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: the last sync did not succeed\n".to_owned(),
        )
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: the last success is {age} s old\n"),
        )
    }
}

async fn metrics(State(shared): State<Arc<Shared>>) -> impl IntoResponse {
    let mut text = String::new();
    if prometheus_client::encoding::text::encode(&mut text, &shared.metrics.registry).is_err() {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            [(header::CONTENT_TYPE, "text/plain")],
            String::new(),
        );
    }
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
}

/// The webhook's view: which pages a push touches.
struct Hooks {
    secret: Option<SecretString>,
    /// (project path lower-cased, file path, ref) → page id, for `gitlab://` sources.
    sources: Vec<(String, String, String, String)>,
    /// `[[discover]]` blocks in GitLab repositories: a push touching a file one matches
    /// (added, changed or removed) syncs the whole handbook, new pages included.
    discovered: Vec<crate::discover::PushWatch>,
    trigger: tokio::sync::mpsc::UnboundedSender<Vec<String>>,
    /// Asks GitLab which files a push changed when its event lists only some commits.
    gitlab: crate::gitlab::Gitlab,
}

impl Hooks {
    /// The webhook of `config`: its secret, and its `gitlab://` pages by source file.
    async fn new(
        config: &Config,
        trigger: tokio::sync::mpsc::UnboundedSender<Vec<String>>,
        gitlab: crate::gitlab::Gitlab,
    ) -> Result<Self, crate::config::ConfigError> {
        Ok(Hooks {
            gitlab,
            secret: config.webhook_secret().await?,
            sources: config
                .pages
                .iter()
                .filter_map(|p| match config.source(p) {
                    crate::source::SourceSpec::Gitlab {
                        project,
                        path,
                        git_ref,
                    } => Some((project.to_lowercase(), path, git_ref, p.id.clone())),
                    _ => None,
                })
                .collect(),
            discovered: crate::discover::PushWatch::of(config),
            trigger,
        })
    }
}

/// The daemon's endpoints: health, readiness, metrics and the push webhook.
fn router(shared: Arc<Shared>, hooks: Arc<Hooks>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(shared)
        .merge(
            Router::new()
                .route("/hooks/gitlab", axum::routing::post(push_hook))
                .with_state(hooks),
        )
}

/// How long a push hook waits for the compare API before it answers.
const HOOK_COMPARE_DEADLINE: std::time::Duration = std::time::Duration::from_secs(5);

/// `POST /hooks/gitlab`: a GitLab Push Hook. The token is compared in constant time; a
/// wrong one gets a bare 401. Pages whose source file the push touched are synced at once.
async fn push_hook(
    State(hooks): State<Arc<Hooks>>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> impl IntoResponse {
    let Some(secret) = &hooks.secret else {
        return (StatusCode::NOT_FOUND, String::new());
    };
    let given = headers
        .get("x-gitlab-token")
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    let matches: bool =
        subtle::ConstantTimeEq::ct_eq(given, secret.expose_secret().as_bytes()).into();
    if !matches {
        return (StatusCode::UNAUTHORIZED, String::new());
    }
    let Ok(event) = serde_json::from_slice::<serde_json::Value>(&body) else {
        return (
            StatusCode::BAD_REQUEST,
            "not a JSON push event\n".to_owned(),
        );
    };
    if event["object_kind"] != "push" {
        return (StatusCode::OK, "{\"pages\":[]}".to_owned());
    }
    let project = event["project"]["path_with_namespace"]
        .as_str()
        .unwrap_or("")
        .to_lowercase();
    let git_ref = event["ref"].as_str().unwrap_or("");
    let on_branch = |(p, _, r, _): &&(String, String, String, String)| {
        *p == project && (git_ref == format!("refs/heads/{r}") || git_ref == r)
    };
    let discovering: Vec<&crate::discover::PushWatch> = hooks
        .discovered
        .iter()
        .filter(|w| w.on_branch(&project, git_ref))
        .collect();
    let touched = if hooks.sources.iter().any(|s| on_branch(&s)) || !discovering.is_empty() {
        // GitLab gives a webhook 10 s (`webhook_timeout`, `config/gitlab.yml.example`)
        // and disables one that keeps failing; the compare shares the client with the
        // syncs and may wait behind a throttle. Past the deadline, every page on the
        // branch is synced instead.
        tokio::time::timeout(HOOK_COMPARE_DEADLINE, touched_files(&hooks.gitlab, &event))
            .await
            .unwrap_or_else(|_| {
                tracing::warn!(
                    "push hook: the compare took longer than {HOOK_COMPARE_DEADLINE:?}; syncing every page on the branch"
                );
                None
            })
    } else {
        Some(std::collections::BTreeSet::new())
    };
    let pages: Vec<String> = hooks
        .sources
        .iter()
        .filter(on_branch)
        .filter(|(_, path, _, _)| touched.as_ref().is_none_or(|t| t.contains(path)))
        .map(|(_, _, _, id)| id.clone())
        .collect();
    let blocks: Vec<&str> = discovering
        .iter()
        .filter(|w| touched.as_ref().is_none_or(|t| w.touches(t)))
        .map(|w| w.block.as_str())
        .collect();
    if !blocks.is_empty() {
        // A new file's page is known only once discovery judged it, and a removed one
        // must meet the vanished-page guard: the whole handbook (unchanged blobs cost no
        // read, unchanged pages no issue request).
        tracing::info!(
            ?blocks,
            "push hook: files of discovered pages changed; syncing the handbook"
        );
        let _ = hooks.trigger.send(Vec::new());
    } else if !pages.is_empty() {
        tracing::info!(?pages, "push hook: syncing the pages it touched");
        let _ = hooks.trigger.send(pages.clone());
    }
    (
        StatusCode::ACCEPTED,
        serde_json::json!({"pages": pages, "discover": blocks}).to_string(),
    )
}

/// The files a push changed: those its listed commits name and, when GitLab listed only
/// the last 20 of more (`total_commits_count`), those the compare API finds between
/// `before` and `after`. `None` when that cannot be known (a new branch, a failed
/// compare): then every page on the branch is synced, never none.
async fn touched_files(
    gitlab: &crate::gitlab::Gitlab,
    event: &serde_json::Value,
) -> Option<std::collections::BTreeSet<String>> {
    let commits = event["commits"].as_array().map_or(&[][..], Vec::as_slice);
    let mut touched: std::collections::BTreeSet<String> = commits
        .iter()
        .flat_map(|c| ["added", "modified", "removed"].map(|kind| &c[kind]))
        .filter_map(|files| files.as_array())
        .flatten()
        .filter_map(|f| f.as_str().map(str::to_owned))
        .collect();
    let total = event["total_commits_count"]
        .as_u64()
        .unwrap_or(commits.len() as u64);
    if total <= commits.len() as u64 {
        return Some(touched);
    }
    let (before, after) = (
        event["before"].as_str().unwrap_or(""),
        event["after"].as_str().unwrap_or(""),
    );
    let project = event["project"]["path_with_namespace"]
        .as_str()
        .unwrap_or("");
    if before.is_empty() || before.bytes().all(|b| b == b'0') || after.is_empty() {
        tracing::info!(total, "push hook: a new branch; syncing every page on it");
        return None;
    }
    match gitlab.changed_paths(project, before, after).await {
        Ok(paths) => {
            touched.extend(paths);
            Some(touched)
        }
        Err(e) => {
            tracing::warn!("push hook: {e}; syncing every page on the branch");
            None
        }
    }
}

/// Runs until `shutdown` is cancelled.
pub async fn run(
    config: Config,
    token: SecretString,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let now = Utc::now();
    let shared = Arc::new(Shared {
        metrics: Metrics::new(),
        last_success: AtomicI64::new(0),
        last_ok: AtomicU64::new(0),
        stale_after: 2 * config.schedule.period(now).num_seconds().max(60),
    });
    let (trigger, mut triggered) = tokio::sync::mpsc::unbounded_channel::<Vec<String>>();
    // One client for the daemon's life: its throttle and a `RateLimit-Reset` pause carry
    // over from one sync to the next, and a shutdown ends its waits.
    let connection = sync_run::Connection::with_cancel(
        &config,
        token,
        Some(shared.metrics.gitlab.clone()),
        shutdown.clone(),
    )?;
    let hooks = Arc::new(Hooks::new(&config, trigger, connection.gitlab.clone()).await?);
    let roadmap = crate::roadmap::Served::new();
    let router = router(shared.clone(), hooks).merge(roadmap.router());
    let listener = tokio::net::TcpListener::bind(config.server.listen)
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot listen on {} (server.listen): {e}",
                config.server.listen
            )
        })?;
    tracing::info!(listen = %config.server.listen, schedule = %config.sync.schedule, "handbook-sync daemon started");
    let server_shutdown = shutdown.clone();
    let server = tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async move { server_shutdown.cancelled().await })
            .await
    });

    let cache = Arc::new(crate::source::SourceCache::default());
    // The first sync covers every page; later ones every page on a tick, or the pages a
    // push touched.
    let mut pages: Vec<String> = Vec::new();
    loop {
        let started = Utc::now();
        let plan = sync_once(&config, &connection, &shared, &cache, &shutdown, pages).await;
        if shutdown.is_cancelled() {
            break;
        }
        if let Some(plan) = &plan {
            roadmap.after_sync(&config, &connection, plan, &cache).await;
        }
        let finished = Utc::now();
        let skipped = config.schedule.ticks_between(started, finished);
        if skipped > 0 {
            tracing::warn!(
                skipped,
                "scheduled ticks fell during the sync and were skipped"
            );
            shared.metrics.ticks_skipped.inc_by(skipped);
        }
        let next = config.schedule.next_after(finished);
        let wait = next
            .map(|n| (n - Utc::now()).to_std().unwrap_or_default())
            .unwrap_or(std::time::Duration::MAX);
        tokio::select! {
            _ = tokio::time::sleep(wait.min(std::time::Duration::from_secs(366 * 24 * 3600))) => pages = Vec::new(),
            Some(mut asked) = triggered.recv() => {
                // An empty list asks for every page, and wins over any other.
                let mut all = asked.is_empty();
                while let Ok(more) = triggered.try_recv() {
                    all |= more.is_empty();
                    asked.extend(more);
                }
                asked.sort();
                asked.dedup();
                pages = if all { Vec::new() } else { asked };
            }
            _ = shutdown.cancelled() => break,
        }
    }
    tracing::info!("stopping");
    // A scraper's idle keep-alive connection (or half a request) can hold a graceful
    // shutdown open indefinitely; the orchestrator would then kill the process.
    let mut server = server;
    match tokio::time::timeout(SERVER_SHUTDOWN_GRACE, &mut server).await {
        Ok(served) => served??,
        Err(_) => {
            tracing::warn!(
                "HTTP connections still open {} s after the signal: stopping anyway",
                SERVER_SHUTDOWN_GRACE.as_secs()
            );
            server.abort();
        }
    }
    Ok(())
}

/// How long the health and metrics server may take to close its connections at shutdown.
const SERVER_SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// One sync of `pages` (all when empty), recorded in the metrics and the source cache;
/// its plan, unless it failed before planning.
async fn sync_once(
    config: &Config,
    connection: &sync_run::Connection,
    shared: &Shared,
    cache: &Arc<crate::source::SourceCache>,
    shutdown: &CancellationToken,
    pages: Vec<String>,
) -> Option<Plan> {
    let options = RunOptions {
        today: Utc::now().date_naive().to_string(),
        cache: Some(cache.clone()),
        pages,
        ..Default::default()
    };
    match sync_run::prepare_on(config, connection, &options).await {
        Ok(prepared) => {
            let plan = prepared.with_cancel(shutdown.clone()).apply().await;
            shared.metrics.record(&plan);
            for page in &plan.pages {
                cache.mark(&page.id, page.outcome == crate::sync::PageOutcome::Ok);
            }
            let ok = !plan.has_failures() && !plan.has_refusals();
            shared.last_ok.store(u64::from(ok), Ordering::SeqCst);
            if ok {
                shared
                    .last_success
                    .store(Utc::now().timestamp(), Ordering::SeqCst);
                shared.metrics.last_success.set(Utc::now().timestamp());
            }
            let s = &plan.summary;
            tracing::info!(
                create = s.create,
                update = s.update,
                close = s.close,
                reopen = s.reopen,
                drift = s.drift,
                unchanged = s.unchanged,
                failed = s.failed,
                ok,
                "sync finished"
            );
            Some(plan)
        }
        Err(e) => {
            shared.last_ok.store(0, Ordering::SeqCst);
            shared
                .metrics
                .syncs
                .get_or_create(&Outcome {
                    outcome: "failed".into(),
                })
                .inc();
            tracing::error!("sync failed: {e}");
            None
        }
    }
}
