//! One sync: read the pages, read GitLab, plan, and (for `apply`) execute. The shell
//! around the pure core in [`crate::parse`] and [`crate::sync`].

use std::collections::{BTreeMap, BTreeSet};

use secrecy::SecretString;

use crate::config::{Config, PageSettings};
use crate::gitlab::{Client, Gitlab, GitlabError, IssueEdit, ProjectInfo};
use crate::parse::{self, ParseOptions};
use crate::source;
use crate::sync::board::{self, BoardPlan, ObservedBoard};
use crate::sync::desired::{self, IssueState, PageSpec, People};
use crate::sync::plan::{self, PlanSettings};
use crate::sync::{ActionKind, ObservedIssue, PageOutcome, PageReport, Plan, Write};

/// What to do.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Only these page ids (all when empty).
    pub pages: Vec<String>,
    /// Let plans close many issues at once.
    pub allow_mass_close: bool,
    /// `YYYY-MM-DD`, for reason lines.
    pub today: String,
    /// The daemon's memory of page sources: an unchanged, already synced page is skipped.
    pub cache: Option<std::sync::Arc<source::SourceCache>>,
    /// Where the GitLab client counts requests and rate-limit waits (the daemon's
    /// `/metrics`); `None` counts nothing.
    pub metrics: Option<std::sync::Arc<crate::metrics::GitlabMetrics>>,
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
}

struct PageInput<'c> {
    settings: &'c PageSettings,
    page: Result<parse::Page, String>,
    /// The source is unchanged since its last successful sync: `Some(items)`.
    skip_unchanged: Option<usize>,
}

struct ProjectState {
    info: ProjectInfo,
    labels: BTreeMap<String, u64>,
    issues: Vec<ObservedIssue>,
    boards: Vec<ObservedBoard>,
}

/// A planned run, ready to print and to apply.
pub struct Prepared {
    /// The plan.
    pub plan: Plan,
    gitlab: Gitlab,
    projects: BTreeMap<String, u64>,
    user_ids: BTreeMap<String, u64>,
    label_colors: BTreeMap<String, (String, String)>,
    /// Per project: label name → id (labels created by `apply` are added).
    label_ids: BTreeMap<String, BTreeMap<String, u64>>,
    /// (project id, iid) of every issue read while planning.
    known_iids: BTreeSet<(u64, u64)>,
    managed_label: String,
    /// When cancelled, no further action starts (the one in flight finishes).
    cancel: tokio_util::sync::CancellationToken,
    /// Actions in flight at once.
    concurrency: usize,
}

/// The colour and description of a managed label.
fn label_style(config: &Config, name: &str) -> (String, String) {
    let s = &config.sync;
    let (color, what) = if name == s.managed_label {
        ("#1f75cb", "Kept in step with the handbook by handbook-sync")
    } else if name.starts_with(&s.page_label_prefix) {
        ("#6666c4", "Handbook page (handbook-sync)")
    } else if name.starts_with(&s.section_label_prefix) {
        ("#009966", "Handbook section (handbook-sync)")
    } else {
        (
            "#737278",
            "Handed over to someone else in the handbook (handbook-sync)",
        )
    };
    (color.to_owned(), what.to_owned())
}

/// Reads everything and plans. Writes nothing.
pub async fn prepare(
    config: &Config,
    token: SecretString,
    options: &RunOptions,
) -> Result<Prepared, RunError> {
    if config.pages.is_empty() {
        return Err(RunError::NoPages);
    }
    for id in &options.pages {
        if !config.pages.iter().any(|p| &p.id == id) {
            return Err(RunError::UnknownPage(id.clone()));
        }
    }
    let client = Client::new(&config.gitlab_url, token, config.policy())?
        .with_metrics(options.metrics.clone());
    let gitlab = Gitlab::new(client);

    let selected: Vec<&PageSettings> = config
        .pages
        .iter()
        .filter(|p| options.pages.is_empty() || options.pages.contains(&p.id))
        .collect();

    // Pages first: a page that cannot be read is skipped, and nothing of it is closed.
    let http = crate::gitlab::http_client(config.policy().timeout)?;
    let mut inputs: Vec<PageInput<'_>> = Vec::new();
    for settings in &selected {
        let cached = options.cache.as_ref().and_then(|c| c.get(&settings.id));
        let fetched = source::fetch(&config.source(settings), &http, &gitlab, cached.as_ref())
            .await
            .map_err(|e| e.to_string());
        // An unchanged page whose last sync succeeded needs no work (unless enforce
        // asks to look for manual changes every time).
        if let (Ok(f), Some(c)) = (&fetched, &cached)
            && f.unchanged
            && !config.sync.enforce
        {
            inputs.push(PageInput {
                settings,
                page: Err(String::new()),
                skip_unchanged: Some(c.items),
            });
            continue;
        }
        let page = fetched.and_then(|f| {
            let parse_options = ParseOptions {
                page_id: settings.id.clone(),
                page_url: settings
                    .url
                    .as_deref()
                    .and_then(|u| url::Url::parse(u).ok()),
                include_sections: settings.include_sections.clone(),
                exclude_sections: settings.exclude_sections.clone(),
            };
            let page = parse::parse_page(&f.text, &parse_options);
            if let Some(cache) = &options.cache {
                cache.put(
                    &settings.id,
                    source::Cached {
                        version: f.version,
                        text: f.text,
                        synced: false,
                        items: page.items.len(),
                    },
                );
            }
            if page.items.is_empty() {
                Err(format!(
                    "page `{}` ({}) has no items: skipped, nothing of it is closed",
                    settings.id, settings.source
                ))
            } else {
                Ok(page)
            }
        });
        inputs.push(PageInput {
            settings,
            page,
            skip_unchanged: None,
        });
    }

    // Everything GitLab holds for these projects, read before anything is written.
    let mut projects: BTreeMap<String, Result<ProjectState, String>> = BTreeMap::new();
    for input in &inputs {
        let name = &input.settings.project;
        if projects.contains_key(name) || input.page.is_err() || input.skip_unchanged.is_some() {
            continue;
        }
        let with_boards = selected.iter().any(|p| &p.project == name && p.board);
        let state = read_project(&gitlab, name, &config.sync.managed_label, with_boards)
            .await
            .map_err(|e| e.to_string());
        if let Ok(state) = &state
            && state
                .info
                .visibility
                .as_deref()
                .is_some_and(|v| v != "public")
        {
            tracing::warn!(
                project = %name,
                visibility = state.info.visibility.as_deref().unwrap_or(""),
                "the project is not public: the handbook asks for a public roadmap"
            );
        }
        projects.insert(name.clone(), state);
    }

    // People: every name and owner, looked up once.
    let mut wanted: BTreeSet<String> = config.people.values().cloned().collect();
    for input in &inputs {
        wanted.insert(input.settings.owner.clone());
        if let Ok(page) = &input.page {
            for item in &page.items {
                if let Some(owner) = &item.owner
                    && !config.people.contains_key(owner)
                {
                    wanted.insert(owner.trim_start_matches('@').to_owned());
                }
            }
        }
    }
    let user_ids = if projects.values().any(Result::is_ok) {
        gitlab.user_ids(wanted.iter().map(String::as_str)).await?
    } else {
        BTreeMap::new()
    };
    let people = People {
        map: config.people.clone(),
        existing: user_ids.keys().cloned().collect(),
    };

    let settings = PlanSettings {
        managed_label: config.sync.managed_label.clone(),
        enforce: config.sync.enforce,
        max_close_fraction: config.sync.max_close_fraction,
        allow_mass_close: options.allow_mass_close,
        today: options.today.clone(),
    };
    let labels = config.sync.labels();
    let mut plan = Plan::default();
    let mut project_ids = BTreeMap::new();
    let mut label_colors = BTreeMap::new();
    let mut labels_planned: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut label_ids: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    let mut known_iids = BTreeSet::new();
    for input in &inputs {
        let s = input.settings;
        let mut report = PageReport {
            id: s.id.clone(),
            project: s.project.clone(),
            outcome: PageOutcome::Ok,
            create_labels: Vec::new(),
            items: BTreeMap::new(),
        };
        if let Ok(page) = &input.page {
            for item in &page.items {
                *report.items.entry(item.status.as_str()).or_default() += 1;
            }
        }
        if let Some(items) = input.skip_unchanged {
            plan.add_page(
                report,
                plan::PagePlan {
                    actions: Vec::new(),
                    refused: None,
                    unchanged: items,
                },
            );
            continue;
        }
        let page = match &input.page {
            Ok(page) => page,
            Err(e) => {
                report.outcome = PageOutcome::Skipped(e.clone());
                plan.add_page(report, empty_plan());
                continue;
            }
        };
        let project = match projects.get(&s.project) {
            Some(Ok(p)) => p,
            Some(Err(e)) => {
                report.outcome =
                    PageOutcome::Failed(format!("{e}; nothing is written to this project"));
                plan.add_page(report, empty_plan());
                continue;
            }
            None => unreachable!("every readable page's project was read"),
        };
        project_ids.insert(s.project.clone(), project.info.id);
        known_iids.extend(project.issues.iter().map(|i| (project.info.id, i.iid)));
        let spec = PageSpec {
            id: s.id.clone(),
            title: page.title.clone(),
            url: s.url.clone(),
            page_label: desired::label_name(&format!("{}{}", config.sync.page_label_prefix, s.id)),
        };
        let desired = desired::desired_issues(page, &spec, &s.owner, &labels, &people);
        let page_plan = plan::plan_page(&spec, &desired, &project.issues, &settings);
        let planned = labels_planned.entry(s.project.clone()).or_default();
        for d in &desired {
            for label in &d.labels {
                if !project.labels.keys().any(|l| l.eq_ignore_ascii_case(label))
                    && planned.insert(label.clone())
                {
                    report.create_labels.push(label.clone());
                    label_colors.insert(label.clone(), label_style(config, label));
                }
            }
        }
        if s.board {
            let mut sections: Vec<String> = Vec::new();
            for d in &desired {
                if let Some(label) = desired::section_label(&labels, &d.section)
                    && !sections.contains(&label)
                {
                    sections.push(label);
                }
            }
            plan.boards.push(board::plan_board(
                &s.id,
                &page.title,
                &sections,
                &project.boards,
            ));
        }
        label_ids
            .entry(s.project.clone())
            .or_insert_with(|| project.labels.clone());
        if let Some(refusal) = &page_plan.refused {
            report.outcome = PageOutcome::Refused(refusal.clone());
        }
        plan.add_page(report, page_plan);
    }
    Ok(Prepared {
        plan,
        gitlab,
        projects: project_ids,
        user_ids,
        label_colors,
        label_ids,
        known_iids,
        managed_label: config.sync.managed_label.clone(),
        cancel: tokio_util::sync::CancellationToken::new(),
        concurrency: config.gitlab.concurrency.max(1),
    })
}

fn empty_plan() -> plan::PagePlan {
    plan::PagePlan {
        actions: Vec::new(),
        refused: None,
        unchanged: 0,
    }
}

async fn read_project(
    gitlab: &Gitlab,
    project: &str,
    managed_label: &str,
    with_boards: bool,
) -> Result<ProjectState, GitlabError> {
    let info = gitlab.project(project).await?;
    let labels = gitlab.labels(info.id).await?;
    let issues = gitlab.managed_issues(info.id, managed_label).await?;
    let boards = if with_boards {
        gitlab.boards(info.id).await?
    } else {
        Vec::new()
    };
    Ok(ProjectState {
        info,
        labels,
        issues,
        boards,
    })
}

impl Prepared {
    /// Executes the plan: labels first, then every action of every page that is not
    /// refused or failed. One failing action does not stop the others.
    pub async fn apply(self) -> Plan {
        self.apply_with_progress(indicatif::ProgressBar::hidden())
            .await
    }

    /// Stops starting new actions once `token` is cancelled (SIGTERM in the daemon).
    pub fn with_cancel(mut self, token: tokio_util::sync::CancellationToken) -> Self {
        self.cancel = token;
        self
    }

    /// [`Prepared::apply`], advancing `progress` by one per action (a bar on a terminal;
    /// hidden for JSON output and logs).
    pub async fn apply_with_progress(mut self, progress: indicatif::ProgressBar) -> Plan {
        let writes = self
            .plan
            .actions
            .iter()
            .filter(|a| a.write.is_some())
            .count();
        progress.set_length(writes as u64);
        let pages: Vec<PageReport> = self.plan.pages.clone();
        for (index, page) in pages.iter().enumerate() {
            if page.outcome != PageOutcome::Ok {
                continue;
            }
            let Some(&project) = self.projects.get(&page.project) else {
                continue;
            };
            let mut failed = 0;
            for label in &page.create_labels {
                let (color, description) =
                    self.label_colors.get(label).cloned().unwrap_or_default();
                match self
                    .gitlab
                    .create_label(project, label, &color, &description)
                    .await
                {
                    Ok(id) => {
                        self.label_ids
                            .entry(page.project.clone())
                            .or_default()
                            .insert(label.clone(), id);
                    }
                    Err(e) => {
                        tracing::error!(page = %page.id, "{e}");
                        failed += 1;
                    }
                }
            }
            let actions: Vec<_> = self
                .plan
                .actions
                .iter()
                .filter(|a| a.page == page.id && a.action != ActionKind::Drift)
                .filter_map(|a| a.write.clone().map(|w| (a.key.clone(), w)))
                .collect();
            // Actions touch different issues, so `concurrency` of them run at once (the
            // client still paces every request). After a cancel no new one starts.
            use futures_util::StreamExt as _;
            let this = &self;
            let page_id = page.id.as_str();
            let progress_ref = &progress;
            failed += futures_util::stream::iter(actions)
                .map(|(key, write)| async move {
                    if this.cancel.is_cancelled() {
                        return 0;
                    }
                    let result = this.execute(project, page_id, &key, &write).await;
                    progress_ref.inc(1);
                    match result {
                        Ok(()) => 0,
                        Err(e) => {
                            progress_ref
                                .suspend(|| tracing::error!(page = %page_id, key = %key, "{e}"));
                            1
                        }
                    }
                })
                .buffer_unordered(this.concurrency)
                .fold(0, |total, n| async move { total + n })
                .await;
            if let Some(board) = self.plan.boards.iter().find(|b| b.page == page.id).cloned()
                && let Err(e) = self.apply_board(project, &page.project, &board).await
            {
                tracing::error!(page = %page.id, "{e}");
                failed += 1;
            }
            if failed > 0 {
                self.plan.summary.failed += failed;
                self.plan.pages[index].outcome =
                    PageOutcome::Failed(format!("{failed} request(s) failed; see the log"));
            }
        }
        progress.finish_and_clear();
        self.plan
    }

    async fn apply_board(
        &self,
        project: u64,
        project_name: &str,
        board: &BoardPlan,
    ) -> Result<(), GitlabError> {
        if !board.has_changes() {
            return Ok(());
        }
        let board_id = match board.board_id {
            Some(id) => id,
            None => self.gitlab.create_board(project, &board.board).await?,
        };
        let ids = self.label_ids.get(project_name);
        for board::ListAdd { label, position } in &board.add_lists {
            let Some(label_id) = ids.and_then(|m| m.get(label)) else {
                return Err(GitlabError::Other {
                    what: format!("adding list {label} to board “{}”", board.board),
                    message: "the label does not exist".into(),
                });
            };
            self.gitlab
                .add_board_list(project, board_id, *label_id, label, *position as u64)
                .await?;
        }
        Ok(())
    }

    fn user_id(&self, username: &Option<String>) -> Option<u64> {
        username
            .as_ref()
            .and_then(|u| self.user_ids.get(u).copied())
    }

    /// Creates an issue, never twice: when a create's outcome is unknown (timeout, lost
    /// answer, 5xx), the issue list is searched for the item's key before trying again.
    async fn create_once(
        &self,
        project: u64,
        page: &str,
        key: &str,
        write: &Write,
    ) -> Result<u64, GitlabError> {
        let Write::Create {
            title,
            description,
            labels,
            assignee,
            ..
        } = write
        else {
            unreachable!("create_once is called with creates")
        };
        let started = chrono::Utc::now();
        crate::gitlab::create_without_duplicates(
            || {
                self.gitlab.create_issue(
                    project,
                    title,
                    description,
                    labels,
                    self.user_id(assignee),
                )
            },
            || async {
                // Clocks differ: look a while back, and skip issues the plan already knew.
                let since = started - chrono::TimeDelta::minutes(10);
                let recent = self
                    .gitlab
                    .managed_issues_since(project, &self.managed_label, Some(since))
                    .await?;
                let found = recent.iter().find(|i| {
                    !self.known_iids.contains(&(project, i.iid))
                        && crate::sync::marker::parse(&i.description)
                            .and_then(|p| p.marker)
                            .is_some_and(|m| m.page == page && m.key == key)
                });
                if let Some(issue) = found {
                    tracing::info!(page, key, iid = issue.iid, "the create had gone through");
                }
                Ok(found.map(|i| i.iid))
            },
        )
        .await
    }

    async fn execute(
        &self,
        project: u64,
        page: &str,
        key: &str,
        write: &Write,
    ) -> Result<(), GitlabError> {
        match write {
            Write::Create {
                close_description, ..
            } => {
                let iid = self.create_once(project, page, key, write).await?;
                if let Some(closing) = close_description {
                    let close = IssueEdit {
                        description: Some(closing),
                        state: Some(IssueState::Closed),
                        ..IssueEdit::default()
                    };
                    self.gitlab.edit_issue(project, iid, &close).await?;
                }
                Ok(())
            }
            Write::Edit {
                iid,
                title,
                description,
                add_labels,
                remove_labels,
                assignee,
                state,
            } => {
                let edit = IssueEdit {
                    title: title.as_deref(),
                    description: description.as_deref(),
                    add_labels,
                    remove_labels,
                    assignee: assignee.as_ref().map(|a| self.user_id(a)),
                    state: *state,
                };
                self.gitlab.edit_issue(project, *iid, &edit).await
            }
        }
    }
}

/// Reads the configured pages' issues from GitLab and counts them.
pub async fn status(
    config: &Config,
    token: SecretString,
) -> Result<crate::status::StatusReport, RunError> {
    let client = Client::new(&config.gitlab_url, token, config.policy())?;
    let gitlab = Gitlab::new(client);
    let mut issues_of: BTreeMap<String, Vec<ObservedIssue>> = BTreeMap::new();
    let mut report = crate::status::StatusReport::default();
    for page in &config.pages {
        if !issues_of.contains_key(&page.project) {
            let info = gitlab.project(&page.project).await?;
            issues_of.insert(
                page.project.clone(),
                gitlab
                    .managed_issues(info.id, &config.sync.managed_label)
                    .await?,
            );
        }
        report.pages.push(crate::status::page_progress(
            &config.sync.section_label_prefix,
            &page.id,
            &page.project,
            &issues_of[&page.project],
        ));
    }
    Ok(report)
}
