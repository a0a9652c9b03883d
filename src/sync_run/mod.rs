//! One sync, as named stages around the pure core in [`crate::parse`] and [`crate::sync`]:
//!
//! 1. [`select_pages`] — the configured pages a run covers;
//! 2. [`read_pages`] — their sources, parsed (an unchanged page is not planned again);
//!    with `sync.cache_dir`, a project none of whose pages and issues changed since its
//!    last sync is not read further ([`cache`]);
//! 3. [`read_projects`] — everything GitLab holds for their projects, before any write;
//! 4. [`resolve_people`] — every name and owner, looked up once;
//! 5. [`plan()`] — desired against observed: the [`Plan`] (no I/O);
//! 6. [`apply()`] — the plan's writes (labels first; one failing action never stops the
//!    rest).
//!
//! [`prepare`] runs stages 1–5 in order, [`Prepared::apply`] the last; a test can call
//! each on its own. [`status`] reads the issues that `status::page_progress` counts.

use std::collections::BTreeMap;
use std::sync::Arc;

use secrecy::SecretString;
use tokio_util::sync::CancellationToken;

use crate::config::{Config, PageSettings};
use crate::gitlab::{Client, Gitlab, GitlabError};
use crate::metrics::GitlabMetrics;
use crate::source::SourceCache;
use crate::sync::ObservedIssue;

mod adopt;
mod apply;
pub mod cache;
pub mod lease;
mod pages;
mod people;
mod planning;
mod projects;
mod vanished;

pub use apply::{Prepared, apply};
pub use pages::{PageError, PageInput, PageRead, parse_options, read_pages};
pub use people::{ResolvedPeople, resolve_people};
pub use planning::{Planned, plan};
pub use projects::{
    ProjectError, ProjectState, Projects, read_projects, read_projects_at, writers_refused,
};

/// What to do.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Only these page ids (all when empty).
    pub pages: Vec<String>,
    /// Let plans close many issues at once.
    pub allow_mass_close: bool,
    /// Let plans create many issues while the project holds unrecognised issues of the
    /// page.
    pub allow_mass_create: bool,
    /// Let plans close the issues of pages that left a `[[discover]]` block.
    pub allow_removed_pages: bool,
    /// `YYYY-MM-DD`, for reason lines.
    pub today: String,
    /// The daemon's cache, in memory: like `sync.cache_dir`'s, an unchanged page of a
    /// project where GitLab lists no changed issue is not read further. `None`: the
    /// files of `sync.cache_dir`, if set.
    pub cache: Option<Arc<cache::Memory>>,
    /// Take over open hand-made issues whose title is an item's, on every page
    /// (`--adopt`; a page can ask for it with `adopt = true`).
    pub adopt: bool,
    /// Where the GitLab client counts requests and rate-limit waits; `None` counts
    /// nothing. Used by [`prepare`], which builds the client; [`prepare_on`] takes one
    /// that already counts where it should.
    pub metrics: Option<Arc<GitlabMetrics>>,
}

/// Errors that stop a run before any page is looked at.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// `--page` named a page that is not configured.
    #[error("--page {0}: no such page in the configuration")]
    UnknownPage(String),
    /// The configuration has no pages.
    #[error("the configuration has no [[pages]]")]
    NoPages,
    /// The client could not be built.
    #[error(transparent)]
    Gitlab(#[from] GitlabError),
    /// A project's lease could not be taken (`lease::prepare_leased`).
    #[error(transparent)]
    Lease(Box<lease::LeaseError>),
}

/// What a run talks through: GitLab, and plain HTTP for `http(s)` page sources. Clones
/// share the client, with its throttle and rate-limit pause.
#[derive(Debug, Clone)]
pub struct Connection {
    /// The GitLab operations.
    pub gitlab: Gitlab,
    /// For `http(s)` pages (same timeouts and user agent as the GitLab client).
    pub http: reqwest::Client,
    /// Once cancelled, no page is read and a read in progress is abandoned (the GitLab
    /// client stops on the same token).
    pub cancel: CancellationToken,
}

impl Connection {
    /// Clients for `config`'s instance; requests are counted in `metrics` if given.
    pub fn new(
        config: &Config,
        token: SecretString,
        metrics: Option<Arc<GitlabMetrics>>,
    ) -> Result<Self, GitlabError> {
        Self::with_cancel(config, token, metrics, CancellationToken::new())
    }

    /// [`Connection::new`] whose GitLab client stops waiting and sending once `cancel` is
    /// cancelled.
    pub fn with_cancel(
        config: &Config,
        token: SecretString,
        metrics: Option<Arc<GitlabMetrics>>,
        cancel: CancellationToken,
    ) -> Result<Self, GitlabError> {
        let client = Client::new(&config.gitlab_url, token, config.policy())?
            .with_metrics(metrics)
            .with_cancel(cancel.clone());
        Ok(Connection {
            gitlab: Gitlab::new(client),
            http: crate::gitlab::http_client(config.policy().timeout)?,
            cancel,
        })
    }
}

/// Stage 1: the pages of `config` that `wanted` names (all when empty), in configuration
/// order. Fails when there are no pages or `wanted` names one that is not configured.
pub fn select_pages(config: &Config, wanted: &[String]) -> Result<Vec<PageSettings>, RunError> {
    // Discovery may find no page (an emptied directory): its vanished pages are the plan.
    if config.pages.is_empty() && config.discover.is_empty() {
        return Err(RunError::NoPages);
    }
    if let Some(id) = wanted
        .iter()
        .find(|id| !config.pages.iter().any(|p| &p.id == *id))
    {
        return Err(RunError::UnknownPage(id.clone()));
    }
    Ok(config
        .pages
        .iter()
        .filter(|p| wanted.is_empty() || wanted.contains(&p.id))
        .cloned()
        .collect())
}

/// Reads everything and plans: stages 1 to 5 in order, on a new connection. Writes
/// nothing.
pub async fn prepare(
    config: &Config,
    token: SecretString,
    options: &RunOptions,
) -> Result<Prepared, RunError> {
    // Before any request, unless `--page` may name a page discovery has yet to find.
    if config.discover.is_empty() {
        select_pages(config, &options.pages)?;
    }
    let connection = Connection::new(config, token, options.metrics.clone())?;
    prepare_on(config, &connection, options).await
}

/// [`prepare`] on an existing connection (the daemon keeps one for its life).
pub async fn prepare_on(
    config: &Config,
    connection: &Connection,
    options: &RunOptions,
) -> Result<Prepared, RunError> {
    // What the daemon remembers, or this run's own memory (with `sync.cache_dir`,
    // discovery's memory of repository files comes from there).
    // What the daemon remembers, or this run's own memory (with `sync.cache_dir`,
    // discovery's memory of repository files comes from there).
    let sources = match &options.cache {
        Some(memory) => memory.shared_sources(),
        None => std::sync::Arc::new(SourceCache::default()),
    };
    let persisted = options.cache.is_none();
    if persisted {
        cache::load_discovery(config, &sources).await;
    }
    let expansion = crate::discover::expand_with(
        config,
        &connection.gitlab,
        &sources,
        options.allow_removed_pages,
    )
    .await;
    if persisted {
        cache::save_discovery(config, &sources).await;
    }
    let config = &expansion.config;
    let selected = select_pages(config, &options.pages)?;
    let whole = options.pages.is_empty();
    // The daemon keeps the cache in memory; a run in a new process may keep it in files.
    let mut cache = match &options.cache {
        Some(memory) => Some(cache::Session::in_memory(memory, config, &selected).await),
        None => cache::Session::open(config, &selected, sources.clone()).await,
    };
    let mut pages = read_pages(config, connection, &selected, Some(&sources)).await;
    if whole {
        pages.extend(expansion.problems.iter().map(PageInput::discovery_problem));
    }
    if let Some(cache) = &mut cache {
        cache.skip_unchanged(&connection.gitlab, &mut pages).await;
    }
    let concurrency = config.gitlab.concurrency;
    let mut projects =
        read_projects_at(&connection.gitlab, &pages, &config.sync, concurrency).await;
    if whole && !config.discover.is_empty() {
        vanished::add_vanished(
            config,
            &expansion.blocks,
            &connection.gitlab,
            &mut pages,
            &mut projects,
            &sources,
        )
        .await;
    }
    if let Some(cache) = &mut cache {
        cache.record_reads(config, &pages, &projects);
    }
    let mut people = resolve_people(config, &connection.gitlab, &pages, &projects).await;
    let mut planned = plan(config, options, &pages, &projects, &people);
    // Only when an adopting page would create: a run with nothing to create reads no more.
    let left = adopt::read_candidates(
        &connection.gitlab,
        config,
        options,
        &planned.plan,
        &mut projects,
    )
    .await;
    if let Some(left) = &left {
        planned = plan(config, options, &pages, &projects, &people);
        adopt::warn_left(&mut planned.plan, config, options, left);
    }
    // Configured users who are not members are asked for only when a write needs them.
    if people
        .confirm(&connection.gitlab, &planned.plan, concurrency)
        .await
    {
        planned = plan(config, options, &pages, &projects, &people);
        if let Some(left) = &left {
            adopt::warn_left(&mut planned.plan, config, options, left);
        }
    }
    // Only where the plan writes: a read-only token plans, and `apply` refuses.
    let refused = writers_refused(&connection.gitlab, &projects, &planned.plan).await;
    for page in &mut planned.plan.pages {
        if let Some(why) = refused.get(&page.project) {
            page.warnings
                .push(format!("apply would write nothing to this project: {why}"));
        }
    }
    Ok(Prepared::new(config, connection.clone(), planned, people)
        .with_refusals(refused)
        .with_cache(cache))
}

/// Reads the issues of the configured pages, and of those `[[discover]]` finds, from
/// GitLab and counts them, the pages of each project together. Projects are read
/// `gitlab.concurrency` at once.
pub async fn status(
    config: &Config,
    token: SecretString,
) -> Result<crate::status::StatusReport, RunError> {
    use futures_util::StreamExt as _;
    let client = Client::new(&config.gitlab_url, token, config.policy())?;
    let gitlab = Gitlab::new(client);
    let sources = SourceCache::default();
    cache::load_discovery(config, &sources).await;
    let expansion = crate::discover::expand(config, &gitlab, &sources).await;
    cache::save_discovery(config, &sources).await;
    for problem in &expansion.problems {
        tracing::warn!("{problem}");
    }
    let config = &expansion.config;
    let mut projects: Vec<&str> = Vec::new();
    for page in &config.pages {
        if !projects.contains(&page.project.as_str()) {
            projects.push(&page.project);
        }
    }
    let label = &config.sync.managed_label;
    let issues_of: BTreeMap<&str, Vec<ObservedIssue>> =
        futures_util::stream::iter(projects.clone())
            .map(|project| {
                let gitlab = &gitlab;
                async move {
                    let info = gitlab.project(project).await?;
                    let issues = gitlab.managed_issues(info.id, label).await?;
                    Ok::<_, GitlabError>((project, issues))
                }
            })
            .buffered(config.gitlab.concurrency.max(1))
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .collect::<Result<_, _>>()?;
    let mut report = crate::status::StatusReport::default();
    for project in projects {
        for page in config.pages.iter().filter(|p| p.project == project) {
            report.pages.push(crate::status::page_progress(
                &config.sync.section_label_prefix,
                &page.id,
                &page.project,
                &issues_of[project],
            ));
        }
    }
    Ok(report)
}
