//! `handbook-sync run`: sync at start, then on the schedule; `/healthz`, `/readyz`,
//! `/metrics` and the push webhook on a server built to face the internet; on SIGTERM or
//! SIGINT, stop scheduling, cancel page reads and every wait, let a write in flight
//! finish, exit.

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use chrono::Utc;
use secrecy::SecretString;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::metrics::GitlabMetrics;
use crate::sync_run::{self, RunOptions};

mod asked;
mod health;
mod server;
mod webhook;

pub use server::{HEADER_TIMEOUT, MAX_HEAD_BYTES, REQUEST_TIMEOUT};
pub use webhook::{BODY_READ_TIMEOUT, COMPARE_DEADLINE, MAX_EVENT_BYTES};

use health::Health;
use webhook::Hooks;

/// The daemon's endpoints: health, readiness, metrics and the push webhook.
fn router(health: Arc<Health>, hooks: Arc<Hooks>) -> Router {
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .with_state(health)
        .merge(
            Router::new()
                .route("/hooks/gitlab", post(webhook::push_hook))
                .with_state(hooks),
        )
}

/// How long open HTTP connections may take to finish their requests at shutdown.
const SERVER_SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// Runs until `shutdown` is cancelled.
pub async fn run(
    config: Config,
    token: SecretString,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let gitlab_metrics = Arc::new(GitlabMetrics::default());
    let page_ids: Vec<String> = config.pages.iter().map(|p| p.id.clone()).collect();
    let health = Arc::new(Health::new(
        &page_ids,
        config.schedule.clone(),
        &gitlab_metrics,
    ));
    // One client for the daemon's life: its throttle and a `RateLimit-Reset` pause carry
    // over from one sync to the next, and a shutdown ends its waits.
    let connection =
        sync_run::Connection::with_cancel(&config, token, Some(gitlab_metrics), shutdown.clone())?;
    let hooks = Arc::new(Hooks::new(&config, connection.gitlab.clone()).await?);
    let roadmap = crate::roadmap::Served::new();
    let router = router(health.clone(), hooks.clone()).merge(roadmap.router());
    let listener = tokio::net::TcpListener::bind(config.server.listen)
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot listen on {} (server.listen): {e}",
                config.server.listen
            )
        })?;
    let cap = server::connection_cap(config.server.max_connections);
    tracing::info!(listen = %config.server.listen, schedule = %config.sync.schedule, max_connections = cap, version = crate::build_info::LONG_VERSION, "handbook-sync daemon started");
    let server = tokio::spawn(server::serve(
        listener,
        router,
        cap,
        shutdown.clone(),
        SERVER_SHUTDOWN_GRACE,
    ));

    // What the last successful sync of each project saw: every tick asks GitLab only for
    // the issues updated since, and reads a project in full only when something changed.
    let memory = Arc::new(sync_run::cache::Memory::default());
    // The first sync covers every page; later ones every page on a tick, or the pages a
    // push touched.
    let mut pages: Vec<String> = Vec::new();
    loop {
        let started = Utc::now();
        let plan = sync_once(&config, &connection, &health, &memory, &shutdown, pages).await;
        if shutdown.is_cancelled() {
            break;
        }
        roadmap
            .after_sync(&config, &connection, plan.as_ref(), memory.sources())
            .await;
        let finished = Utc::now();
        let skipped = config.schedule.ticks_between(started, finished);
        if skipped > 0 {
            tracing::warn!(
                skipped,
                "scheduled ticks fell during the sync and were skipped"
            );
            health.ticks_skipped(skipped);
        }
        let next = config.schedule.next_after(finished);
        let wait = next
            .map(|n| (n - Utc::now()).to_std().unwrap_or_default())
            .unwrap_or(std::time::Duration::MAX);
        tokio::select! {
            _ = tokio::time::sleep(wait.min(std::time::Duration::from_secs(366 * 24 * 3600))) => pages = Vec::new(),
            // None asked: every page (a `[[discover]]` block's file changed).
            asked = hooks.asked() => pages = asked,
            _ = shutdown.cancelled() => break,
        }
    }
    tracing::info!("stopping");
    server.await?;
    Ok(())
}

/// One sync of `pages` (all when empty), recorded in `health`; its plan, unless it failed
/// before planning. A sync cut short by the signal records nothing: the process is
/// ending, and the next one starts afresh.
async fn sync_once(
    config: &Config,
    connection: &sync_run::Connection,
    health: &Health,
    memory: &Arc<sync_run::cache::Memory>,
    shutdown: &CancellationToken,
    pages: Vec<String>,
) -> Option<crate::sync::Plan> {
    let started = Utc::now();
    let options = RunOptions {
        today: started.date_naive().to_string(),
        cache: Some(memory.clone()),
        pages: pages.clone(),
        ..Default::default()
    };
    // Each sync holds the lease of the projects it writes to, and gives it back after.
    let mut leases = sync_run::lease::Leases::new(
        connection.gitlab.clone(),
        sync_run::lease::LeasePolicy::new(config, "run"),
    );
    let prepared =
        sync_run::lease::prepare_leased(config, connection, &options, &mut leases, &|_, _| {})
            .await;
    let applied = match prepared {
        Ok(prepared) => Ok(prepared.with_cancel(shutdown.clone()).apply().await),
        Err(e) => Err(e),
    };
    leases.release().await;
    let covered = || -> Vec<String> {
        if pages.is_empty() {
            config.pages.iter().map(|p| p.id.clone()).collect()
        } else {
            pages.clone()
        }
    };
    match applied {
        Err(sync_run::RunError::Lease(e)) if e.is_held() => {
            // Not an error loop: the next tick tries again.
            tracing::warn!("sync skipped: {e}; trying again on the next tick");
            health.record_not_run(&covered(), &e.to_string(), "lease_held");
            None
        }
        Ok(plan) => {
            if shutdown.is_cancelled() {
                tracing::info!("sync interrupted by the signal; the next run does the rest");
                return None;
            }
            health.record(&plan, started, Utc::now());
            let s = &plan.summary;
            let failed_pages = plan
                .pages
                .iter()
                .filter(|p| p.outcome != crate::sync::PageOutcome::Ok)
                .count();
            tracing::info!(
                create = s.create,
                update = s.update,
                close = s.close,
                reopen = s.reopen,
                adopt = s.adopt,
                drift = s.drift,
                unchanged = s.unchanged,
                failed = s.failed,
                failed_pages,
                ok = failed_pages == 0 && s.failed == 0,
                "sync finished"
            );
            Some(plan)
        }
        Err(e) => {
            health.record_failure(&covered(), &e.to_string());
            None
        }
    }
}
