//! The sync engine's pure core: desired issues, markers, plans and how plans read.

pub mod board;
pub mod by_project;
pub mod desired;
pub mod markdown;
pub mod marker;
pub mod plan;
pub mod quick_actions;

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

pub use desired::{DesiredIssue, IssueState, PageSpec, People};
pub use plan::{Action, ActionKind, ObservedIssue, PagePlan, PlanSettings, Write, WriteResult};

/// How a page fared: one value, so that a reason goes with every outcome but `Ok`, and
/// a refusal cannot be set apart from its skip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageOutcome {
    /// Planned (and, for `apply`, applied without failure).
    Ok,
    /// Not synced: the source could not be read, or gave no items. Holds why.
    Skipped(String),
    /// Not applied: the mass-close guard refused the page's plan. Holds why.
    Refused(String),
    /// Something failed while reading GitLab or applying. Holds what.
    Failed(String),
}

impl PageOutcome {
    /// The word of the JSON `status` field. A refusal is a skip there (with
    /// `refused: true`), as it always was.
    pub fn status_word(&self) -> &'static str {
        match self {
            PageOutcome::Ok => "ok",
            PageOutcome::Skipped(_) | PageOutcome::Refused(_) => "skipped",
            PageOutcome::Failed(_) => "failed",
        }
    }

    /// Why the page was skipped, refused or failed.
    pub fn reason(&self) -> Option<&str> {
        match self {
            PageOutcome::Ok => None,
            PageOutcome::Skipped(why) | PageOutcome::Refused(why) | PageOutcome::Failed(why) => {
                Some(why)
            }
        }
    }

    /// True when the mass-close guard refused the page.
    pub fn is_refused(&self) -> bool {
        matches!(self, PageOutcome::Refused(_))
    }
}

/// One page in the plan's report.
#[derive(Debug, Clone)]
pub struct PageReport {
    /// Page id.
    pub id: String,
    /// Target project.
    pub project: String,
    /// How the page fared.
    pub outcome: PageOutcome,
    /// Labels that do not exist yet and will be created.
    pub create_labels: Vec<String>,
    /// Things to know about the page that stop nothing (a label twin in another case).
    pub warnings: Vec<String>,
    /// The page's items per status (`active`, `done`, `handed_over`), for metrics; not
    /// part of the JSON.
    pub items: BTreeMap<&'static str, usize>,
}

/// A [`PageReport`] as JSON shows it: the outcome spread over `status`, `error` and
/// `refused`, the shape scripts reading `--json` already rely on.
#[derive(Serialize)]
struct PageReportJson<'a> {
    id: &'a str,
    project: &'a str,
    status: &'static str,
    error: Option<&'a str>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    refused: bool,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    create_labels: &'a [String],
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    warnings: &'a [String],
}

impl Serialize for PageReport {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        PageReportJson {
            id: &self.id,
            project: &self.project,
            status: self.outcome.status_word(),
            error: self.outcome.reason(),
            refused: self.outcome.is_refused(),
            create_labels: &self.create_labels,
            warnings: &self.warnings,
        }
        .serialize(serializer)
    }
}

/// Counts per kind of action.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Issues to create.
    pub create: usize,
    /// Issues to update.
    pub update: usize,
    /// Issues to close.
    pub close: usize,
    /// Issues to reopen.
    pub reopen: usize,
    /// Manual changes reported.
    pub drift: usize,
    /// Managed blocks changed by a person and by the handbook (left out of JSON when
    /// none, as before conflicts were reported).
    #[serde(skip_serializing_if = "is_zero")]
    pub conflict: usize,
    /// Items whose issue needs nothing.
    pub unchanged: usize,
    /// Actions that failed (apply only).
    pub failed: usize,
    /// Writes of pages a guard refused: listed, never applied, and counted in none of
    /// the fields above.
    pub refused: usize,
}

impl Summary {
    /// The field that counts actions of `kind`.
    pub fn count_mut(&mut self, kind: ActionKind) -> &mut usize {
        match kind {
            ActionKind::Create => &mut self.create,
            ActionKind::Update => &mut self.update,
            ActionKind::Close => &mut self.close,
            ActionKind::Reopen => &mut self.reopen,
            ActionKind::Drift => &mut self.drift,
            ActionKind::Conflict => &mut self.conflict,
        }
    }
}

/// The whole plan of a run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Plan {
    /// Every configured page (or those asked for).
    pub pages: Vec<PageReport>,
    /// Every action, page by page.
    pub actions: Vec<Action>,
    /// Boards to create or complete.
    pub boards: Vec<board::BoardPlan>,
    /// Counts.
    pub summary: Summary,
}

impl Plan {
    /// Adds a planned page. Actions of a refused page are listed but will not be applied,
    /// so they count as `refused` only: metrics and summaries never report them as done.
    pub fn add_page(&mut self, report: PageReport, page_plan: PagePlan) {
        self.summary.unchanged += page_plan.unchanged;
        if report.outcome.is_refused() {
            self.summary.refused += page_plan
                .actions
                .iter()
                .filter(|a| a.write.is_some())
                .count();
            self.take_actions(page_plan.actions);
            self.pages.push(report);
            return;
        }
        for action in &page_plan.actions {
            match action.action {
                ActionKind::Create => self.summary.create += 1,
                ActionKind::Update => self.summary.update += 1,
                ActionKind::Close => self.summary.close += 1,
                ActionKind::Reopen => self.summary.reopen += 1,
                ActionKind::Drift => self.summary.drift += 1,
                ActionKind::Conflict => self.summary.conflict += 1,
            }
        }
        self.take_actions(page_plan.actions);
        self.pages.push(report);
    }

    /// Appends a page's actions; the first page's vector becomes the plan's, so a plan of
    /// one large page never holds its actions twice.
    fn take_actions(&mut self, actions: Vec<Action>) {
        if self.actions.is_empty() {
            self.actions = actions;
        } else {
            self.actions.extend(actions);
        }
    }

    /// True when applying would write something.
    pub fn has_changes(&self) -> bool {
        let s = &self.summary;
        s.create + s.update + s.close + s.reopen > 0
            || self.pages.iter().any(|p| !p.create_labels.is_empty())
    }

    /// True when a page was skipped for a reason other than the guard, or failed.
    pub fn has_failures(&self) -> bool {
        self.pages
            .iter()
            .any(|p| matches!(p.outcome, PageOutcome::Failed(_) | PageOutcome::Skipped(_)))
            || self.summary.failed > 0
    }

    /// True when the mass-close guard refused a page.
    pub fn has_refusals(&self) -> bool {
        self.pages.iter().any(|p| p.outcome.is_refused())
    }

    /// The plan as GitLab-Flavoured Markdown for a merge request note: see [`markdown`].
    pub fn to_markdown(&self, options: &markdown::MarkdownOptions) -> String {
        markdown::plan_to_markdown(self, options)
    }

    /// The plan as a reviewable diff, one line per action. A plan over several projects
    /// is grouped by project ([`by_project`]), and pages with nothing to do are counted
    /// there rather than listed.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let actions = by_project::actions_by_page(self);
        if by_project::projects(self).len() > 1 {
            by_project::to_text(self, &actions, &mut out);
        } else {
            for page in &self.pages {
                self.page_text(page, &actions, &mut out);
            }
        }
        let s = &self.summary;
        let _ = writeln!(
            out,
            "\n{} to create, {} to update, {} to close, {} to reopen, {} drifted, {}{} unchanged{}{}",
            s.create,
            s.update,
            s.close,
            s.reopen,
            s.drift,
            if s.conflict > 0 {
                format!("{} in conflict, ", s.conflict)
            } else {
                String::new()
            },
            s.unchanged,
            if s.refused > 0 {
                format!(", {} refused (not applied)", s.refused)
            } else {
                String::new()
            },
            if s.failed > 0 {
                format!(", {} failed", s.failed)
            } else {
                String::new()
            }
        );
        out
    }
}

impl Plan {
    /// One page's lines: its status, problems, warnings, labels, actions and board.
    fn page_text(
        &self,
        page: &PageReport,
        actions: &std::collections::HashMap<&str, Vec<&Action>>,
        out: &mut String,
    ) {
        let status = match page.outcome {
            PageOutcome::Ok => "ok",
            PageOutcome::Skipped(_) => "SKIPPED",
            PageOutcome::Refused(_) => "REFUSED",
            PageOutcome::Failed(_) => "FAILED",
        };
        if page.project.is_empty() {
            let _ = writeln!(out, "page {} [{status}]", page.id);
        } else {
            let _ = writeln!(out, "page {} → {} [{status}]", page.id, page.project);
        }
        if let Some(error) = page.outcome.reason() {
            let _ = writeln!(out, "  ! {error}");
        }
        for warning in &page.warnings {
            let _ = writeln!(out, "  warning: {warning}");
        }
        if !page.create_labels.is_empty() {
            let _ = writeln!(out, "  + labels {}", page.create_labels.join(", "));
        }
        for action in actions.get(page.id.as_str()).into_iter().flatten() {
            out.push_str(&action_line(action));
        }
        for board in self
            .boards
            .iter()
            .filter(|b| b.page == page.id && b.has_changes())
        {
            if board.create {
                let _ = writeln!(out, "  + board  “{}”", board.board);
            }
            for list in &board.add_lists {
                let _ = writeln!(
                    out,
                    "  + list   {} (position {})",
                    list.label, list.position
                );
            }
        }
    }
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

fn action_line(a: &Action) -> String {
    let (sign, word) = match a.action {
        ActionKind::Create => ("+", "create"),
        ActionKind::Update => ("~", "update"),
        ActionKind::Close => ("-", "close"),
        ActionKind::Reopen => ("^", "reopen"),
        ActionKind::Drift => ("!", "drift"),
        ActionKind::Conflict => ("!", "conflict"),
    };
    let issue = a
        .iid
        .map_or_else(|| "new".to_owned(), |iid| format!("#{iid}"));
    let mut details = Vec::new();
    let c = &a.changes;
    if let Some(t) = &c.title {
        details.push(format!("title “{}” → “{}”", t.from, t.to));
    }
    if !c.add_labels.is_empty() {
        details.push(format!("labels +{}", c.add_labels.join(" +")));
    }
    if !c.remove_labels.is_empty() {
        details.push(format!("labels -{}", c.remove_labels.join(" -")));
    }
    if let Some(asg) = &c.assignee {
        let name = |u: &Option<String>| u.as_ref().map_or("nobody".to_owned(), |u| format!("@{u}"));
        details.push(format!("assignee {} → {}", name(&asg.from), name(&asg.to)));
    }
    if c.description && a.action != ActionKind::Create {
        details.push("description".into());
    }
    let mut line = format!("  {sign} {word:<6} {issue:<6} {}", a.title);
    if !details.is_empty() && a.action != ActionKind::Create {
        let _ = write!(line, "  [{}]", details.join("; "));
    }
    if a.action == ActionKind::Create
        && let Some(asg) = &c.assignee
    {
        let _ = write!(line, "  @{}", asg.to.as_deref().unwrap_or("nobody"));
    }
    let _ = writeln!(line, "  ({})", a.reason);
    for w in &a.warnings {
        let _ = writeln!(line, "      warning: {w}");
    }
    line
}
