//! What the daemon says about its syncs: per page, the last outcome and the last
//! success; `/readyz` from them (`readiness` in the core), the Prometheus metrics, and a
//! log line with the reason for every page that did not sync.
//!
//! A sync covers some pages (a push's) or all (a tick's), and changes only what it
//! covered. Gauges are set for every known label value each time a page is planned, so a
//! count that drops to zero reads zero; a page that was not planned (unchanged on both
//! sides, or not read) keeps the values of its last planning, which still hold.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use chrono::{DateTime, Utc};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::metrics::GitlabMetrics;
use crate::parse::ItemStatus;
use crate::schedule::Schedule;
use crate::sync::{ActionKind, PageOutcome, Plan};
use handbook_sync_core::readiness::{PageHealth, readiness};

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
    page_last_success: Family<Page, Gauge>,
    page_ok: Family<Page, Gauge>,
    items: Family<PageItems, Gauge>,
    drift: Family<Page, Gauge>,
}

impl Metrics {
    fn new(gitlab: &GitlabMetrics) -> Self {
        let mut registry = Registry::with_prefix("handbook_sync");
        let syncs = Family::<Outcome, Counter>::default();
        registry.register(
            "syncs",
            "Syncs by outcome (ok, failed, refused, lease_held)",
            syncs.clone(),
        );
        // Every outcome from the start, at 0: a rate or increase over a series that is
        // born at 1 misses the first failure (deploy/prometheus/ alerts on them).
        for outcome in ["ok", "failed", "refused", "lease_held"] {
            let _ = syncs.get_or_create(&Outcome {
                outcome: outcome.into(),
            });
        }
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
            "Unix time up to which every page is known synced: the oldest of the pages' last successes (0 while a page never succeeded)",
            last_success.clone(),
        );
        let page_last_success = Family::<Page, Gauge>::default();
        registry.register(
            "page_last_success_timestamp_seconds",
            "Unix time of the page's last successful sync (0: none yet)",
            page_last_success.clone(),
        );
        let page_ok = Family::<Page, Gauge>::default();
        registry.register(
            "page_last_sync_success",
            "1 when the page's last sync succeeded, else 0 (/readyz and the log say why)",
            page_ok.clone(),
        );
        let items = Family::<PageItems, Gauge>::default();
        registry.register("items", "Handbook items per page and status", items.clone());
        let drift = Family::<Page, Gauge>::default();
        registry.register(
            "drift",
            "Issues a person changed against the handbook, per page, as last read from GitLab",
            drift.clone(),
        );
        registry.register(
            "build",
            "The version and commit of this handbook-sync",
            prometheus_client::metrics::info::Info::new(vec![
                ("version", crate::build_info::VERSION),
                ("commit", crate::build_info::COMMIT),
            ]),
        );
        gitlab.register(&mut registry);
        Metrics {
            registry,
            syncs,
            actions,
            ticks_skipped,
            last_success,
            page_last_success,
            page_ok,
            items,
            drift,
        }
    }
}

/// The daemon's knowledge of its syncs, shared with the HTTP endpoints.
pub struct Health {
    metrics: Metrics,
    schedule: Schedule,
    pages: std::sync::Mutex<BTreeMap<String, PageHealth>>,
}

impl Health {
    /// For `pages`, synced on `schedule`; the GitLab client counts into `gitlab`.
    pub fn new(pages: &[String], schedule: Schedule, gitlab: &GitlabMetrics) -> Self {
        let metrics = Metrics::new(gitlab);
        for page in pages {
            let label = Page { page: page.clone() };
            // Present from the start, so an alert on them fires before the first sync.
            metrics.page_ok.get_or_create(&label).set(0);
            metrics.page_last_success.get_or_create(&label).set(0);
        }
        Health {
            metrics,
            schedule,
            pages: std::sync::Mutex::new(
                pages
                    .iter()
                    .map(|p| (p.clone(), PageHealth::default()))
                    .collect(),
            ),
        }
    }

    /// Counts scheduled ticks that fell during a sync.
    pub fn ticks_skipped(&self, n: u64) {
        self.metrics.ticks_skipped.inc_by(n);
    }

    /// Records a sync that started at `started`, ended at `ended` and gave `plan`: the
    /// outcome of each of its pages (a failed one logged with its reason), its writes,
    /// and the gauges of the pages it planned.
    pub fn record(&self, plan: &Plan, started: DateTime<Utc>, ended: DateTime<Utc>) {
        let m = &self.metrics;
        let outcome = if plan.has_failures() {
            "failed"
        } else if plan.has_refusals() {
            "refused"
        } else {
            "ok"
        };
        m.syncs
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
            m.actions
                .get_or_create(&Kind { kind: kind.into() })
                .inc_by(n as u64);
        }
        let mut pages = self.pages.lock().expect("the page lock is never poisoned");
        for page in &plan.pages {
            let health = pages.entry(page.id.clone()).or_default();
            let label = Page {
                page: page.id.clone(),
            };
            match &page.outcome {
                PageOutcome::Ok => {
                    health.succeeded(ended, ended - started);
                    m.page_last_success
                        .get_or_create(&label)
                        .set(ended.timestamp());
                }
                other => {
                    let why = describe(other);
                    if matches!(other, PageOutcome::Failed(_)) {
                        tracing::error!(page = %page.id, project = %page.project, "page not synced: {why}");
                    } else {
                        tracing::warn!(page = %page.id, project = %page.project, "page not synced: {why}");
                    }
                    health.failed(why);
                }
            }
            m.page_ok
                .get_or_create(&label)
                .set(i64::from(page.outcome == PageOutcome::Ok));
            // Items are counted when the page was parsed; none means it was not (unchanged
            // since its last planning, or unreadable): its gauges keep their values.
            if page.items.is_empty() {
                continue;
            }
            for status in ItemStatus::ALL {
                let n = page.items.get(status.as_str()).copied().unwrap_or(0);
                m.items
                    .get_or_create(&PageItems {
                        page: page.id.clone(),
                        status: status.as_str().into(),
                    })
                    .set(n as i64);
            }
            // Drift is known only when the page was planned against GitLab's issues.
            if matches!(page.outcome, PageOutcome::Ok | PageOutcome::Refused(_)) {
                let drifted = plan
                    .actions
                    .iter()
                    .filter(|a| a.page == page.id && a.action == ActionKind::Drift)
                    .count();
                m.drift.get_or_create(&label).set(drifted as i64);
            }
        }
        self.set_last_success(&pages);
    }

    /// Records a sync of `pages` that failed as a whole, for `why`.
    pub fn record_failure(&self, pages: &[String], why: &str) {
        tracing::error!("sync failed: {why}");
        self.record_not_done(pages, why, "failed");
    }

    /// A sync of `pages` that did not run (another run held a project's lease): counted
    /// under `outcome`, and the pages are not ready until a later sync of them runs.
    pub fn record_not_run(&self, pages: &[String], why: &str, outcome: &str) {
        self.record_not_done(pages, &format!("the last sync did not run: {why}"), outcome);
    }

    fn record_not_done(&self, pages: &[String], why: &str, outcome: &str) {
        self.metrics
            .syncs
            .get_or_create(&Outcome {
                outcome: outcome.into(),
            })
            .inc();
        let mut health = self.pages.lock().expect("the page lock is never poisoned");
        for page in pages {
            health
                .entry(page.clone())
                .or_default()
                .failed(why.to_owned());
            self.metrics
                .page_ok
                .get_or_create(&Page { page: page.clone() })
                .set(0);
        }
    }

    /// The oldest last success: every page is known synced up to it.
    fn set_last_success(&self, pages: &BTreeMap<String, PageHealth>) {
        let oldest = pages
            .values()
            .map(|h| h.last_success.map_or(0, |t| t.timestamp()))
            .min()
            .unwrap_or(0);
        self.metrics.last_success.set(oldest);
    }
}

/// A page's outcome in words, for the log and `/readyz`.
fn describe(outcome: &PageOutcome) -> String {
    match outcome {
        PageOutcome::Ok => "ok".to_owned(),
        PageOutcome::Skipped(why) => format!("skipped: {why}"),
        PageOutcome::Refused(why) => format!("refused: {why}"),
        PageOutcome::Failed(why) => format!("failed: {why}"),
    }
}

/// `GET /healthz`: the process answers.
pub async fn healthz() -> &'static str {
    "ok\n"
}

/// `GET /readyz`: 200 when every page's last sync succeeded and none is overdue by the
/// schedule; else 503. The body says, per page, why.
pub async fn readyz(State(health): State<Arc<Health>>) -> impl IntoResponse {
    let verdict = {
        let pages = health
            .pages
            .lock()
            .expect("the page lock is never poisoned");
        readiness(&pages, &health.schedule, Utc::now())
    };
    let status = if verdict.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, verdict.to_text())
}

/// `GET /metrics`: OpenMetrics, or Prometheus' text format 0.0.4 to a scraper that does
/// not ask for OpenMetrics (`crate::exposition`).
pub async fn metrics(
    State(health): State<Arc<Health>>,
    headers: axum::http::HeaderMap,
) -> impl IntoResponse {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    match crate::exposition::render(&health.metrics.registry, accept) {
        Ok((kind, text)) => (StatusCode::OK, [(header::CONTENT_TYPE, kind)], text),
        Err(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            [(header::CONTENT_TYPE, "text/plain")],
            String::new(),
        ),
    }
}
