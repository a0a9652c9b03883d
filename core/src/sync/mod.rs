//! The sync engine's pure core: desired issues, markers, plans and how plans read.

pub mod board;
pub mod by_project;
pub mod desired;
pub mod label_clash;
pub mod label_title;
pub mod markdown;
pub mod marker;
pub mod plan;
pub mod quick_actions;
pub mod warnings;

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
    /// Issues people made that are taken over (`--adopt`; left out of JSON when none).
    #[serde(skip_serializing_if = "is_zero")]
    pub adopt: usize,
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
            ActionKind::Adopt => &mut self.adopt,
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
    /// True once `apply` ran it: the text then says what was done ("created"), and
    /// what failed or never ran, instead of what is to do.
    #[serde(skip)]
    pub applied: bool,
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
            *self.summary.count_mut(action.action) += 1;
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

    /// True when applying would write something: an issue, a label, or a board or board
    /// list of a page that is not refused (`plan`'s exit status 2 says so).
    pub fn has_changes(&self) -> bool {
        let s = &self.summary;
        let refused = |page: &str| {
            self.pages
                .iter()
                .any(|p| p.id == page && p.outcome.is_refused())
        };
        s.create + s.update + s.close + s.reopen + s.adopt > 0
            || self.pages.iter().any(|p| !p.create_labels.is_empty())
            || self
                .boards
                .iter()
                .any(|b| b.has_changes() && !refused(&b.page))
    }

    /// True when a page was skipped for a reason other than the guard, or failed.
    pub fn has_failures(&self) -> bool {
        self.pages
            .iter()
            .any(|p| matches!(p.outcome, PageOutcome::Failed(_) | PageOutcome::Skipped(_)))
            || self.summary.failed > 0
    }

    /// Pages not synced: skipped (unreadable, no items) or failed (GitLab could not be
    /// read, the project may not be written, a write failed). Refused pages are not
    /// counted: a guard's refusal is its own outcome.
    pub fn failed_pages(&self) -> usize {
        self.pages
            .iter()
            .filter(|p| matches!(p.outcome, PageOutcome::Failed(_) | PageOutcome::Skipped(_)))
            .count()
    }

    /// Everything that failed, each once: every action whose write failed
    /// (`summary.failed`), and every page that failed without a failed action of its own
    /// (unreadable, GitLab not reachable, the project may not be written, a label or its
    /// board refused). The closing log line's `failed`: 0 exactly when nothing failed.
    pub fn failures(&self) -> usize {
        let whole_pages = self
            .pages
            .iter()
            .filter(|p| matches!(p.outcome, PageOutcome::Failed(_) | PageOutcome::Skipped(_)))
            .filter(|p| {
                !self
                    .actions
                    .iter()
                    .any(|a| a.page == p.id && a.result == Some(WriteResult::Failed))
            })
            .count();
        self.summary.failed + whole_pages
    }

    /// Writes that were never sent (`apply` only): their project may not be written or
    /// was stopped, or the run shut down.
    pub fn not_run(&self) -> usize {
        self.actions
            .iter()
            .filter(|a| a.result == Some(WriteResult::NotRun))
            .count()
    }

    /// True when the mass-close guard refused a page.
    pub fn has_refusals(&self) -> bool {
        self.pages.iter().any(|p| p.outcome.is_refused())
    }

    /// The plan as GitLab-Flavoured Markdown for a merge request note: see [`markdown`].
    pub fn to_markdown(&self, options: &markdown::MarkdownOptions) -> String {
        markdown::plan_to_markdown(self, options)
    }

    /// The plan as a reviewable diff, one line per action. Once applied, a page that
    /// failed says so with its reason on its first line, each write that did not happen
    /// is marked `[FAILED]` or `[not run]`, and the counts say what was done. A plan over
    /// several projects is grouped by project ([`by_project`]), and pages with nothing to
    /// do are counted there rather than listed.
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
        let w = if self.applied {
            ["created", "updated", "closed", "reopened"]
        } else {
            ["to create", "to update", "to close", "to reopen"]
        };
        let _ = write!(
            out,
            "\n{} {}, {} {}, {} {}, {} {}, {} drifted, {}{} unchanged{}{}",
            s.create,
            w[0],
            s.update,
            w[1],
            s.close,
            w[2],
            s.reopen,
            w[3],
            s.drift,
            if s.conflict > 0 || s.adopt > 0 {
                let mut more = String::new();
                if s.conflict > 0 {
                    let _ = write!(more, "{} in conflict, ", s.conflict);
                }
                if s.adopt > 0 {
                    let adopted = if self.applied { "adopted" } else { "to adopt" };
                    let _ = write!(more, "{} {adopted}, ", s.adopt);
                }
                more
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
        let not_run = self.not_run();
        if not_run > 0 {
            let _ = write!(out, ", {not_run} not run");
        }
        match self.failed_pages() {
            0 => {}
            1 => out.push_str("; 1 page not synced"),
            n => {
                let _ = write!(out, "; {n} pages not synced");
            }
        }
        out.push('\n');
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
        let status = match &page.outcome {
            PageOutcome::Ok => "ok".to_owned(),
            PageOutcome::Skipped(why) => format!("SKIPPED: {why}"),
            PageOutcome::Refused(why) => format!("REFUSED: {why}"),
            PageOutcome::Failed(why) => format!("FAILED: {why}"),
        };
        if page.project.is_empty() {
            let _ = writeln!(out, "page {} [{status}]", page.id);
        } else {
            let _ = writeln!(out, "page {} → {} [{status}]", page.id, page.project);
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
        ActionKind::Adopt => ("&", "adopt"),
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
    let _ = write!(line, "  ({})", a.reason);
    match a.result {
        Some(WriteResult::Failed) => line.push_str("  [FAILED]"),
        Some(WriteResult::NotRun) => line.push_str("  [not run]"),
        Some(WriteResult::Applied) | None => {}
    }
    line.push('\n');
    for w in &a.warnings {
        let _ = writeln!(line, "      warning: {w}");
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(id: &str, outcome: PageOutcome) -> PageReport {
        PageReport {
            id: id.into(),
            project: "acme/roadmap".into(),
            outcome,
            create_labels: Vec::new(),
            warnings: Vec::new(),
            items: BTreeMap::new(),
        }
    }

    fn action(page: &str, result: Option<WriteResult>) -> Action {
        Action {
            action: ActionKind::Create,
            page: page.into(),
            key: format!("{page}-item"),
            iid: None,
            title: "Answer the phone".into(),
            changes: plan::Changes::default(),
            reason: "new in the handbook".into(),
            warnings: Vec::new(),
            write: None,
            result,
        }
    }

    /// A page whose write failed is counted at the write, not again at the page; a page
    /// that failed as a whole (no write of its own failed) is counted once.
    #[test]
    fn failures_count_each_failure_once() {
        let mut plan = Plan {
            applied: true,
            ..Plan::default()
        };
        plan.pages.push(page(
            "written",
            PageOutcome::Failed("1 request(s) failed".into()),
        ));
        plan.actions
            .push(action("written", Some(WriteResult::Failed)));
        plan.summary.failed = 1;
        plan.pages
            .push(page("refused", PageOutcome::Failed("not a member".into())));
        plan.actions
            .push(action("refused", Some(WriteResult::NotRun)));
        plan.pages
            .push(page("unread", PageOutcome::Skipped("no such file".into())));
        plan.pages.push(page("fine", PageOutcome::Ok));
        assert_eq!(plan.failures(), 3);
        assert_eq!(plan.failed_pages(), 3);
        assert_eq!(plan.not_run(), 1);

        let text = plan.to_text();
        assert!(
            text.contains("page refused → acme/roadmap [FAILED: not a member]"),
            "{text}"
        );
        assert!(text.contains("(new in the handbook)  [not run]"), "{text}");
        assert!(text.contains("(new in the handbook)  [FAILED]"), "{text}");
        assert!(
            text.ends_with("0 created, 0 updated, 0 closed, 0 reopened, 0 drifted, 0 unchanged, 1 failed, 1 not run; 3 pages not synced\n"),
            "{text}"
        );
    }
}
