//! Stage 6: executing a plan. Labels first (issues and board lists name them), then every
//! action of every page that is not refused or failed, then the page's board. One
//! failing request never stops the others; it marks its page failed.

use std::collections::{BTreeMap, BTreeSet};

use futures_util::StreamExt as _;
use indicatif::ProgressBar;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::gitlab::{CreatedIssue, CurrentIssue, Gitlab, GitlabError, IssueEdit, Onto};
use crate::sync::board::{self, BoardPlan};
use crate::sync::plan::{AssigneeSwap, BlockText, BlockWrite, IssueToCreate, conflict_note};
use crate::sync::{
    Action, ActionKind, IssueState, PageOutcome, PageReport, Plan, Write, WriteResult,
};

use super::{Connection, Planned, ResolvedPeople};

mod adopt;

/// A planned run, ready to print and to apply.
#[derive(Debug)]
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
    cancel: CancellationToken,
    /// Actions in flight at once.
    concurrency: usize,
    /// Projects where GitLab dropped the labels of a new issue, with why: nothing more
    /// is written to them (each new issue would be an unlabeled copy on the next run).
    blocked: std::sync::Mutex<BTreeMap<u64, String>>,
    /// Projects the token may not write to (`projects::writers_refused`): their pages
    /// fail and nothing is written there.
    refused: BTreeMap<String, super::ProjectError>,
    /// The cache to write once the plan is applied (`sync.cache_dir`).
    cache: Option<super::cache::Session>,
}

/// Stage 6: executes `prepared`'s plan and returns it with failures counted, advancing
/// `progress` by one per write (a bar on a terminal; hidden for JSON output and logs).
pub async fn apply(prepared: Prepared, progress: ProgressBar) -> Plan {
    prepared.apply_with_progress(progress).await
}

impl Prepared {
    /// Puts together what [`apply`] needs: the plan of `planned`, the connection it was
    /// read through and the people's user ids.
    pub fn new(
        config: &Config,
        connection: Connection,
        planned: Planned,
        people: ResolvedPeople,
    ) -> Self {
        Prepared {
            plan: planned.plan,
            gitlab: connection.gitlab,
            projects: planned.project_ids,
            user_ids: people.user_ids,
            label_colors: planned.label_colors,
            label_ids: planned.label_ids,
            known_iids: planned.known_iids,
            managed_label: config.sync.managed_label.clone(),
            cancel: CancellationToken::new(),
            concurrency: config.gitlab.concurrency.max(1),
            blocked: std::sync::Mutex::new(BTreeMap::new()),
            refused: BTreeMap::new(),
            cache: None,
        }
    }

    /// Refuses to write to `refused`'s projects (the token's role is too low there).
    pub fn with_refusals(mut self, refused: BTreeMap<String, super::ProjectError>) -> Self {
        self.refused = refused;
        self
    }

    /// Refuses to write to `project` too, for `why` (its lease could not be taken).
    pub fn refusing(mut self, project: &str, why: super::ProjectError) -> Self {
        self.refused.entry(project.to_owned()).or_insert(why);
        self
    }

    /// Whether the token may not write to `project` (its pages fail when applied).
    pub fn refuses(&self, project: &str) -> bool {
        self.refused.contains_key(project)
    }

    /// Writes `cache` after a successful apply, or on [`Prepared::save_cache`].
    pub fn with_cache(mut self, cache: Option<super::cache::Session>) -> Self {
        self.cache = cache;
        self
    }

    /// For `plan`: writes the cache (`sync.cache_dir`) of every project the plan neither
    /// writes to nor failed in; `apply` writes it itself.
    pub async fn save_cache(&self) {
        if let Some(cache) = &self.cache {
            cache.save(&self.plan, false).await;
        }
    }

    /// Executes the plan: labels first, then every action of every page that is not
    /// refused or failed. One failing action does not stop the others.
    pub async fn apply(self) -> Plan {
        self.apply_with_progress(ProgressBar::hidden()).await
    }

    /// Stops starting new actions once `token` is cancelled (SIGTERM in the daemon).
    pub fn with_cancel(mut self, token: CancellationToken) -> Self {
        self.cancel = token;
        self
    }

    /// [`Prepared::apply`], advancing `progress` by one per action (a bar on a terminal;
    /// hidden for JSON output and logs).
    pub async fn apply_with_progress(mut self, progress: ProgressBar) -> Plan {
        let writes = self
            .plan
            .actions
            .iter()
            .filter(|a| a.write.is_some())
            .count();
        progress.set_length(writes as u64);
        for (project, why) in &self.refused {
            tracing::error!(project = %project, "{why}");
            super::projects::refuse(&mut self.plan, project, why);
        }
        // Every write of a page about to be applied starts as not run; what ran is
        // marked below, and the summary then counts only what was done (a refused
        // page's writes are in no count but `refused`, and get no result).
        let applying: BTreeSet<String> = self
            .plan
            .pages
            .iter()
            .filter(|p| p.outcome == PageOutcome::Ok)
            .map(|p| p.id.clone())
            .collect();
        for action in &mut self.plan.actions {
            if action.write.is_some()
                && action.action != ActionKind::Drift
                && applying.contains(&action.page)
            {
                action.result = Some(WriteResult::NotRun);
            }
        }
        let mut results = Vec::new();
        let pages: Vec<PageReport> = self.plan.pages.clone();
        for (index, page) in pages.iter().enumerate() {
            if page.outcome != PageOutcome::Ok {
                continue;
            }
            let Some(&project) = self.projects.get(&page.project) else {
                continue;
            };
            let (failed, not_started) = match self.blocked_reason(project) {
                Some(_) => (0, 0),
                None => {
                    self.apply_page(project, page, &progress, &mut results)
                        .await
                }
            };
            if let Some(why) = self.blocked_reason(project) {
                self.plan.pages[index].outcome = PageOutcome::Failed(why);
            } else if not_started > 0 {
                // Not a success: the daemon must neither count it as one nor mark the page
                // synced, so the next sync (or the next process) applies what is left.
                self.plan.pages[index].outcome = PageOutcome::Skipped(format!(
                    "shutting down: {not_started} write(s) not started; the next sync applies them"
                ));
            } else if failed > 0 {
                self.plan.pages[index].outcome =
                    PageOutcome::Failed(format!("{failed} request(s) failed; see the log"));
            }
        }
        progress.finish_and_clear();
        for (index, result) in results {
            self.plan.actions[index].result = Some(result);
        }
        // Writes of actions only: a label or board that failed fails its page, which
        // `Plan::failures` counts, once.
        self.plan.summary.failed = self
            .plan
            .actions
            .iter()
            .filter(|a| a.result == Some(WriteResult::Failed))
            .count();
        let summary = &mut self.plan.summary;
        for action in &self.plan.actions {
            match action.result {
                Some(WriteResult::Applied) | None => {}
                Some(WriteResult::Failed | WriteResult::NotRun) => {
                    let count = summary.count_mut(action.action);
                    *count = count.saturating_sub(1);
                }
            }
        }
        self.plan.applied = true;
        if let Some(cache) = self.cache.take() {
            cache.save(&self.plan, true).await;
        }
        self.plan
    }

    /// One page's labels, actions and board; returns the number of failed requests and
    /// of writes not started because of a cancel (none starts after it: labels and boards
    /// for issues that were never written would be writes nobody asked for yet), and
    /// adds the index and result of every action sent to `results`.
    async fn apply_page(
        &mut self,
        project: u64,
        page: &PageReport,
        progress: &ProgressBar,
        results: &mut Vec<(usize, WriteResult)>,
    ) -> (usize, usize) {
        if self.cancel.is_cancelled() {
            return (0, 1);
        }
        let mut failed = self.create_labels(project, page).await;
        let (action_failures, not_started, sent) =
            self.run_actions(project, &page.id, progress).await;
        results.extend(sent);
        failed += action_failures;
        if not_started > 0 || self.cancel.is_cancelled() {
            return (failed, not_started.max(1));
        }
        if self.blocked_reason(project).is_some() {
            return (failed, 0);
        }
        if let Some(board) = self.plan.boards.iter().find(|b| b.page == page.id)
            && let Err(e) = self.apply_board(project, page, board).await
        {
            tracing::error!(page = %page.id, "{e}");
            failed += 1;
        }
        (failed, 0)
    }

    async fn create_labels(&mut self, project: u64, page: &PageReport) -> usize {
        let mut failed = 0;
        for label in &page.create_labels {
            if self.blocked_reason(project).is_some() {
                break;
            }
            let (color, description) = self.label_colors.get(label).cloned().unwrap_or_default();
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
                    self.stop_if_forbidden(project, &e);
                    failed += 1;
                }
            }
        }
        failed
    }

    /// The page's writes, `concurrency` at once: actions touch different issues (the
    /// client still paces every request). After a cancel no new one starts; returns the
    /// failed and the not-started writes, and the index and result of each one sent.
    async fn run_actions(
        &self,
        project: u64,
        page_id: &str,
        progress: &ProgressBar,
    ) -> (usize, usize, Vec<(usize, WriteResult)>) {
        // Borrowed, not cloned: a first sync's plan is mostly creates, rendered one by one.
        let actions = self
            .plan
            .actions
            .iter()
            .enumerate()
            .filter(|(_, a)| a.page == page_id && a.action != ActionKind::Drift)
            .filter(|(_, a)| a.write.is_some());
        futures_util::stream::iter(actions)
            .map(|(index, action)| async move {
                let key = &action.key;
                if self.cancel.is_cancelled() {
                    return (0, 1, None);
                }
                if self.blocked_reason(project).is_some() {
                    return (0, 0, None);
                }
                let result = self.execute(project, page_id, action).await;
                progress.inc(1);
                match result {
                    Ok(()) => (0, 0, Some((index, WriteResult::Applied))),
                    // Never sent: the client stopped waiting for its turn at a shutdown.
                    Err(e) if e.is_cancelled() => (0, 1, None),
                    Err(e) => {
                        progress.suspend(|| tracing::error!(page = %page_id, key = %key, "{e}"));
                        self.stop_if_forbidden(project, &e);
                        (1, 0, Some((index, WriteResult::Failed)))
                    }
                }
            })
            .buffer_unordered(self.concurrency)
            .fold(
                (0, 0, Vec::new()),
                |(failed, skipped, mut sent), (f, s, result)| async move {
                    sent.extend(result);
                    (failed + f, skipped + s, sent)
                },
            )
            .await
    }

    async fn apply_board(
        &self,
        project: u64,
        page: &PageReport,
        board: &BoardPlan,
    ) -> Result<(), GitlabError> {
        if !board.has_changes() {
            return Ok(());
        }
        let board_id = match board.board_id {
            Some(id) => id,
            None => self
                .gitlab
                .create_board(project, &board.board)
                .await
                .map_err(|e| board_refused(e, page))?,
        };
        let ids = self.label_ids.get(&page.project);
        // Labels known only from the issues that carry them have no id (0): a no-op
        // never reads the label list, so it is read here, once, when a list needs one.
        let mut listed: Option<BTreeMap<String, u64>> = None;
        for board::ListAdd { label, position } in &board.add_lists {
            let known = ids
                .and_then(|m| m.get(label))
                .copied()
                .filter(|&id| id != 0);
            let label_id = match known {
                Some(id) => Some(id),
                None => {
                    if listed.is_none() {
                        listed = Some(self.gitlab.labels(project).await?);
                    }
                    listed.as_ref().and_then(|m| m.get(label)).copied()
                }
            };
            let Some(label_id) = label_id else {
                return Err(GitlabError::Other {
                    what: format!("adding list {label} to board “{}”", board.board),
                    message: "the label does not exist".into(),
                });
            };
            self.gitlab
                .add_board_list(project, board_id, label_id, label, *position as u64)
                .await
                .map_err(|e| board_refused(e, page))?;
        }
        Ok(())
    }

    /// Why nothing more is written to `project`, if GitLab dropped labels there.
    fn blocked_reason(&self, project: u64) -> Option<String> {
        self.blocked
            .lock()
            .expect("never poisoned: no panic while held")
            .get(&project)
            .cloned()
    }

    /// Stops writing to `project` after GitLab created issue `iid` without its labels.
    fn block(&self, project: u64, page: &str, iid: u64) {
        let why = format!(
            "GitLab created issue #{iid} without its labels (the token's user may not set labels in this project); nothing more is written to it, as every new issue would be created again, unlabeled, on the next run"
        );
        tracing::error!(page, iid, "{why}");
        self.blocked
            .lock()
            .expect("never poisoned: no panic while held")
            .entry(project)
            .or_insert(why);
    }

    /// Stops writing to `project` after GitLab refused a write with 403: the token's
    /// role was checked before any write, so what is left is the token itself (a
    /// `read_api` token) or a rule of the instance, and every further write would be
    /// refused the same way.
    fn stop_if_forbidden(&self, project: u64, error: &GitlabError) {
        if let GitlabError::Forbidden { .. } = error {
            self.blocked
                .lock()
                .expect("never poisoned: no panic while held")
                .entry(project)
                .or_insert_with(|| format!("{error}; nothing more is written to this project"));
        }
    }

    fn user_id(&self, username: &Option<String>) -> Option<u64> {
        username
            .as_ref()
            .and_then(|u| self.user_ids.get(u).copied())
    }

    /// Creates an issue, never twice: when a create's outcome is unknown (timeout, lost
    /// answer, 5xx), the issue list is searched for the item's key before trying again. A
    /// create nobody answered (timed out, connection lost) that is not found is not tried
    /// again while GitLab may still commit it, in this run or (the daemon keeps its
    /// client) the next syncs.
    async fn create_once(
        &self,
        project: u64,
        page: &str,
        key: &str,
        new: &IssueToCreate<'_>,
    ) -> Result<CreatedIssue, GitlabError> {
        let IssueToCreate {
            title,
            description,
            labels,
            assignee,
            ..
        } = new;
        let assignee = assignee.map(str::to_owned);
        let started = chrono::Utc::now();
        let look_up = || self.find_created(project, page, key, started);
        let unsettled = format!("{project}/{page}/{key}");
        if self.gitlab.is_unsettled(&unsettled) {
            return match look_up().await? {
                Some(created) => Ok(created),
                None => Err(GitlabError::LeftForNextRun {
                    what: format!("creating issue “{title}”"),
                }),
            };
        }
        let created = crate::gitlab::create_without_duplicates(
            || {
                self.gitlab.create_issue(
                    project,
                    title,
                    description,
                    labels,
                    self.user_id(&assignee),
                )
            },
            look_up,
        )
        .await;
        if let Err(GitlabError::LeftForNextRun { .. }) = &created {
            self.gitlab.note_unsettled(unsettled);
        }
        created
    }

    /// The issue of `page` with `key` created since shortly before `started` that the
    /// plan did not know (a create that went through unanswered), with its labels.
    async fn find_created(
        &self,
        project: u64,
        page: &str,
        key: &str,
        started: chrono::DateTime<chrono::Utc>,
    ) -> Result<Option<CreatedIssue>, GitlabError> {
        // Clocks differ, and an unsettled create is older than this attempt: look a
        // while back, and skip issues the plan already knew.
        let since = started - chrono::TimeDelta::minutes(10);
        let recent = self
            .gitlab
            .managed_issues_since(project, &self.managed_label, Some(since))
            .await?;
        let found = recent.iter().find(|i| {
            !self.known_iids.contains(&(project, i.iid))
                && i.marker
                    .as_ref()
                    .is_some_and(|m| m.page == page && m.key == key)
        });
        if let Some(issue) = found {
            tracing::info!(page, key, iid = issue.iid, "the create had gone through");
        }
        Ok(found.map(|i| CreatedIssue {
            iid: i.iid,
            labels: i.labels.clone(),
        }))
    }

    async fn execute(&self, project: u64, page: &str, action: &Action) -> Result<(), GitlabError> {
        let key = &action.key;
        let Some(write) = &action.write else {
            return Ok(());
        };
        match write {
            Write::Adopt(adoption) => self.adopt_issue(project, action, adoption).await,
            Write::Create(_) => {
                // Rendered now, not held in the plan: a first sync of a large page would
                // hold every description until the last write.
                let new = action.new_issue().expect("a create renders");
                let created = self.create_once(project, page, key, &new).await?;
                let iid = created.iid;
                if !created.labels.contains(&self.managed_label) {
                    self.block(project, page, iid);
                    return Err(GitlabError::Other {
                        what: format!("creating issue #{iid}"),
                        message: "GitLab dropped its labels".into(),
                    });
                }
                if let Some(closing) = &new.close_description {
                    self.close_created(project, page, iid, closing).await?;
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
                    add_labels,
                    remove_labels,
                    state: *state,
                    ..IssueEdit::default()
                };
                self.gitlab
                    .edit_after_read(project, *iid, &edit, |current| {
                        self.onto(
                            page,
                            *iid,
                            current,
                            description.as_deref(),
                            assignee.as_ref(),
                        )
                    })
                    .await
            }
        }
    }

    /// Closes an issue just created for an item that is done or handed over, with its
    /// closing block and marker put onto the issue as it is right before the write, like
    /// every other edit: a person may have written in it since the create.
    async fn close_created(
        &self,
        project: u64,
        page: &str,
        iid: u64,
        closing: &str,
    ) -> Result<(), GitlabError> {
        let parsed = crate::sync::marker::parse(closing).expect("a rendered block parses");
        let block = BlockWrite {
            last_block: crate::sync::marker::hash(&parsed.block),
            block: BlockText::Handbook(parsed.block),
            marker: parsed.marker.expect("a rendered block has its marker"),
        };
        let close = IssueEdit {
            state: Some(IssueState::Closed),
            ..IssueEdit::default()
        };
        self.gitlab
            .edit_after_read(project, iid, &close, |current| {
                self.onto(page, iid, current, Some(&block), None)
            })
            .await
    }

    /// The description and assignees to write, worked out on the issue as it is now
    /// (read right before the write) rather than on the plan's snapshot, which can be
    /// minutes old: what a person wrote around the managed block, and the assignees they
    /// added, stay. A managed block a person changed since the last sync is kept in a
    /// note before it is replaced.
    ///
    /// Every edit reads the issue first, even one that sets only labels or the state: an
    /// issue a person took out of handbook-sync since the plan (the managed label
    /// removed, or the marker now naming another page) is not written.
    fn onto(
        &self,
        page: &str,
        iid: u64,
        current: &CurrentIssue,
        block: Option<&BlockWrite>,
        swap: Option<&AssigneeSwap>,
    ) -> Result<Onto, GitlabError> {
        let unmanaged = if !current.issue.labels.contains(&self.managed_label) {
            Some(format!(
                "the label `{}` was removed since the plan was made",
                self.managed_label
            ))
        } else {
            match current.issue.marker.as_ref() {
                // Removed, or another issue's pasted beside it: no identity any more.
                None => Some("its marker was removed, or another issue's pasted beside it, since the plan was made".to_owned()),
                // The key may differ: a reworded item keeps its issue under a new key.
                Some(m) if m.page != page => {
                    Some(format!("its marker now names page `{}`, not `{page}`", m.page))
                }
                Some(_) => None,
            }
        };
        if let Some(why) = unmanaged {
            return Err(GitlabError::Other {
                what: format!("editing issue #{iid}"),
                message: format!("{why}; the issue is left as people wrote it"),
            });
        }
        let mut onto = Onto::default();
        if let Some(block) = block {
            let Some(rewrite) = block.apply_to(&current.description) else {
                return Err(GitlabError::Other {
                    what: format!("editing issue #{iid}"),
                    message: "its managed block was removed since the plan was made; the issue is left as people wrote it".into(),
                });
            };
            onto.note = rewrite.displaced.as_deref().map(conflict_note);
            onto.description = Some(rewrite.description);
        }
        onto.assignees = self.swapped_assignees(swap, current);
        Ok(onto)
    }

    /// The user ids of `current`'s assignees after `swap`, or `None` when it changes
    /// nothing there.
    fn swapped_assignees(
        &self,
        swap: Option<&AssigneeSwap>,
        current: &crate::gitlab::CurrentIssue,
    ) -> Option<Vec<u64>> {
        let now = &current.issue.assignees;
        swap.filter(|s| !s.is_noop(now)).map(|s| {
            s.apply_to(now)
                .iter()
                .filter_map(|u| {
                    let id = current.assignee_ids.get(u).copied();
                    id.or_else(|| self.user_ids.get(u).copied())
                })
                .collect()
        })
    }
}

/// A board write GitLab refused: boards exist on every tier (GitLab 12.1 and later), so a
/// 403 is about rights, and says which (`admin_issue_board` and `admin_issue_board_list`
/// in `app/policies/project_policy.rb`). The token's role was checked before any write,
/// so this is a project whose boards or issues are turned off, or a GitLab older than
/// 12.1 on its Free tier.
fn board_refused(e: GitlabError, page: &PageReport) -> GitlabError {
    match e {
        GitlabError::Forbidden { what } => GitlabError::Other {
            what,
            message: format!(
                "GitLab answered 403 Forbidden: the token's user may not change issue boards in {} (`admin_issue_board`: Planner, Reporter or higher, with the project's issues turned on). The issues are synced all the same; set `board = false` on page `{}` to stop trying",
                page.project, page.id
            ),
        },
        other => other,
    }
}
