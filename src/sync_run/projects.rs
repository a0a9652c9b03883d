//! Stage 3: reading GitLab. Every project a planned page writes to is read completely
//! before anything is written; a project that cannot be read gets no writes. Whether the
//! token may write there is settled only for projects the plan writes to
//! ([`writers_refused`]): `plan` warns, `apply` refuses.

use std::collections::BTreeMap;

use crate::config::SyncSettings;
use crate::gitlab::{CurrentUser, Gitlab, GitlabError, ProjectInfo};
use crate::sync::board::ObservedBoard;
use crate::sync::desired;
use crate::sync::{ObservedIssue, Plan};

use super::{PageInput, PageRead};

/// `Gitlab::Access::PLANNER`: the lowest role that may set an issue's labels and
/// assignees (`app/policies/project_policy.rb`: `planner_access` enables `admin_issue`,
/// `admin_label` and `set_issue_metadata`; Reporter before GitLab 17.7 added Planner).
const PLANNER: u8 = 15;

/// What GitLab holds for one project.
#[derive(Debug, Clone)]
pub struct ProjectState {
    /// Id, path and visibility.
    pub info: ProjectInfo,
    /// Label name → id. Read only when needed: when every label the pages call for is on
    /// a managed issue and no page of the project wants a board, those labels, with id
    /// `0` (only board lists use the ids).
    pub labels: BTreeMap<String, u64>,
    /// Issues with the managed label, open and closed, each once.
    pub issues: Vec<ObservedIssue>,
    /// Issues that carry a page's label but not the managed label, read only for a page
    /// none of whose issues has the managed label: what the mass-create guard weighs.
    pub unrecognised: Vec<ObservedIssue>,
    /// Members, inherited ones included: username → user id.
    pub members: BTreeMap<String, u64>,
    /// Members' roles: user id → the highest access level (for the role check).
    pub roles: BTreeMap<u64, u8>,
    /// Boards (read only when a page of the project asks for one).
    pub boards: Vec<ObservedBoard>,
    /// GitLab's clock when it answered the first page of the managed issues (`None`
    /// when it sent no `Date`): what changed after it may be missing from `issues`.
    pub read_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Open issues without a handbook-sync marker, that an adopting page may take over
    /// (read only when one would create: see `adopt::read_candidates`).
    pub candidates: Vec<ObservedIssue>,
}

/// Why nothing is written to a project.
#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    /// Reading it failed.
    #[error(transparent)]
    Read(#[from] GitlabError),
    /// The token's user may not create labels or edit issues there: GitLab would answer
    /// `201` to creates and drop what it may not set, refuse the edits, and every run
    /// would create the issues again.
    #[error(
        "project {project}: the token's user `{user}` {role} there, and handbook-sync needs at least Planner (15; Reporter on GitLab before 17.7) to create labels and to edit, close and reopen issues (below it GitLab drops the labels it would have to create, or all labels and assignees of a user who is no member, and refuses the edits, so every run would create the issues again); give the user that role or use another token"
    )]
    NotAllowed {
        /// The project path.
        project: String,
        /// The token's username.
        user: String,
        /// The role, in words (`is Guest (10)`, `is not a member`).
        role: String,
    },
    /// Its lease could not be taken for a reason a wait does not resolve (GitLab refused
    /// or failed the lease label's request): nothing is written there this run, and the
    /// other projects are synced.
    #[error(transparent)]
    Lease(std::sync::Arc<super::lease::LeaseError>),
}

/// Per project path: its state, or why nothing is written to it.
pub type Projects = BTreeMap<String, Result<ProjectState, ProjectError>>;

/// Stage 3: reads each project of a [`PageRead::Parsed`] page once: its members, labels,
/// managed issues, and its boards if any page of `pages` in it has `board = true`. Warns
/// when a project is not public. The token's role is not checked here (`plan` may run
/// with a read-only token): see [`writers_refused`].
pub async fn read_projects(gitlab: &Gitlab, pages: &[PageInput], sync: &SyncSettings) -> Projects {
    read_projects_at(gitlab, pages, sync, 1).await
}

/// [`read_projects`], `concurrency` projects at once (the client still paces every
/// request; a project's own reads stay in order).
pub async fn read_projects_at(
    gitlab: &Gitlab,
    pages: &[PageInput],
    sync: &SyncSettings,
    concurrency: usize,
) -> Projects {
    use futures_util::StreamExt as _;
    let mut names: Vec<&String> = Vec::new();
    for input in pages {
        let name = &input.settings.project;
        if matches!(input.read, PageRead::Parsed(_) | PageRead::Vanished { .. })
            && !names.contains(&name)
        {
            names.push(name);
        }
    }
    futures_util::stream::iter(names)
        .map(|name| async move {
            let state = read_project(gitlab, name, pages, sync).await;
            if let Ok(state) = &state
                && let Some(visibility) = state.info.visibility.as_deref()
                && visibility != "public"
            {
                tracing::warn!(
                    project = %name,
                    visibility,
                    "the project is not public: the handbook asks for a public roadmap"
                );
            }
            (name.clone(), state)
        })
        .buffered(concurrency.max(1))
        .collect()
        .await
}

/// The projects `plan` writes to where the token's user may not set labels and
/// assignees, with why. The role comes from the project's `permissions` (already read);
/// only when they do not show Planner or more is the token's user asked for (`GET
/// /user`, once: an administrator may write everywhere, and an inherited membership shows
/// only in the member list). A project the plan does not write to is not checked.
pub async fn writers_refused(
    gitlab: &Gitlab,
    projects: &Projects,
    plan: &Plan,
) -> std::collections::BTreeMap<String, ProjectError> {
    let mut refused = BTreeMap::new();
    let mut user: Option<Result<CurrentUser, String>> = None;
    for (name, state) in projects {
        let Ok(state) = state else { continue };
        if !writes_to(plan, name) || permitted_level(&state.info).is_some_and(|l| l >= PLANNER) {
            continue;
        }
        if user.is_none() {
            user = Some(gitlab.current_user().await.map_err(|e| e.to_string()));
        }
        let verdict = match user.as_ref().expect("set above") {
            Ok(user) => check_role(user, name, &state.info, &state.roles),
            Err(e) => Err(ProjectError::Read(GitlabError::Other {
                what: format!("checking the token's role in project `{name}`"),
                message: e.clone(),
            })),
        };
        if let Err(e) = verdict {
            refused.insert(name.clone(), e);
        }
    }
    refused
}

/// True when `plan` writes anything to `project`: an issue, a label or a board.
pub fn writes_to(plan: &Plan, project: &str) -> bool {
    let pages: Vec<&str> = plan
        .pages
        .iter()
        .filter(|p| p.project == project)
        .map(|p| p.id.as_str())
        .collect();
    plan.pages
        .iter()
        .any(|p| p.project == project && !p.create_labels.is_empty())
        || plan
            .actions
            .iter()
            .any(|a| a.write.is_some() && pages.contains(&a.page.as_str()))
        || plan
            .boards
            .iter()
            .any(|b| b.has_changes() && pages.contains(&b.page.as_str()))
}

/// Every label the parsed pages of `project` call for, when each is on one of its
/// managed issues already (so it exists, and none is to be created): the label list
/// need not be read. Without ids (`0`): only a new board list needs one, and apply reads
/// the label list when it adds one. `None` when a label is on no issue.
fn labels_known_from(
    issues: &[ObservedIssue],
    pages: &[PageInput],
    project: &str,
    sync: &SyncSettings,
) -> Option<BTreeMap<String, u64>> {
    use crate::parse::ItemStatus;
    let on_issues: std::collections::BTreeSet<&str> = issues
        .iter()
        .flat_map(|i| i.labels.iter().map(String::as_str))
        .collect();
    let settings = sync.labels();
    let mut needed = BTreeMap::new();
    for input in pages.iter().filter(|p| p.settings.project == project) {
        let PageRead::Parsed(page) = &input.read else {
            continue;
        };
        needed.insert(settings.managed_label.clone(), 0);
        needed.insert(input.settings.page_label(sync), 0);
        if let Some(discovered) = &input.settings.discovered {
            needed.insert(discovered.label.clone(), 0);
        }
        for item in &page.items {
            if let Some(section) = desired::section_label(&settings, &item.section) {
                needed.insert(section, 0);
            }
            if item.status == ItemStatus::HandedOver {
                needed.insert(desired::label_name(&settings.handed_over_label), 0);
            }
        }
    }
    needed
        .keys()
        .all(|l| on_issues.contains(l.as_str()))
        .then_some(needed)
}

/// Takes `project` out of `plan` before `apply`: its pages fail with `why`, and their
/// writes stay listed as never run (`apply` takes them out of the counts with the
/// others that did not run), so the output shows what was not done.
pub(super) fn refuse(plan: &mut Plan, project: &str, why: &ProjectError) {
    let mut pages = Vec::new();
    for page in plan.pages.iter_mut().filter(|p| p.project == project) {
        if page.outcome == crate::sync::PageOutcome::Ok {
            page.outcome = crate::sync::PageOutcome::Failed(format!(
                "{why}; nothing is written to this project"
            ));
            page.create_labels.clear();
            pages.push(page.id.clone());
        }
    }
    for action in plan.actions.iter_mut().filter(|a| pages.contains(&a.page)) {
        if action.write.is_some() && action.action != crate::sync::ActionKind::Drift {
            action.result = Some(crate::sync::WriteResult::NotRun);
        }
    }
    plan.boards.retain(|b| !pages.contains(&b.page));
}

/// The highest role `permissions` shows: direct, or through the project's group.
fn permitted_level(info: &ProjectInfo) -> Option<u8> {
    let permissions = info.permissions.clone().unwrap_or_default();
    [permissions.project_access, permissions.group_access]
        .into_iter()
        .flatten()
        .map(|a| a.access_level)
        .max()
}

async fn read_project(
    gitlab: &Gitlab,
    project: &str,
    pages: &[PageInput],
    sync: &SyncSettings,
) -> Result<ProjectState, ProjectError> {
    let info = gitlab.project(project).await?;
    let members = gitlab.members(info.id).await?;
    let (issues, read_at) = gitlab
        .managed_issues_dated(info.id, &sync.managed_label)
        .await?;
    let with_boards = pages
        .iter()
        .any(|p| p.settings.project == project && p.settings.board);
    let labels = match labels_known_from(&issues, pages, project, sync) {
        Some(known) => known,
        None => gitlab.labels(info.id).await?,
    };
    let mut unrecognised = Vec::new();
    let in_project = pages
        .iter()
        .filter(|p| p.settings.project == project && matches!(p.read, PageRead::Parsed(_)));
    for page in in_project {
        let page_label = page.settings.page_label(sync);
        // Only when nothing of the page is managed (a first sync, or its identity lost):
        // a steady run costs no extra request.
        if issues.iter().any(|i| i.labels.contains(&page_label)) {
            continue;
        }
        for issue in gitlab.issues_labeled(info.id, &page_label).await? {
            if !issues
                .iter()
                .chain(&unrecognised)
                .any(|i| i.iid == issue.iid)
            {
                unrecognised.push(issue);
            }
        }
    }
    let boards = if with_boards {
        gitlab.boards(info.id).await?
    } else {
        Vec::new()
    };
    Ok(ProjectState {
        info,
        labels,
        issues,
        unrecognised,
        roles: members.iter().map(|m| (m.id, m.access_level)).collect(),
        members: members.into_iter().map(|m| (m.username, m.id)).collect(),
        boards,
        read_at,
        candidates: Vec::new(),
    })
}

/// Refuses a project where the token's user may not set labels and assignees: its role
/// is the highest of the direct, the group and the inherited membership (`/members/all`);
/// a token with admin powers may do everything (an administrator's without them, under
/// Admin Mode, is checked as anyone's).
fn check_role(
    user: &CurrentUser,
    project: &str,
    info: &ProjectInfo,
    roles: &BTreeMap<u64, u8>,
) -> Result<(), ProjectError> {
    if user.is_admin {
        return Ok(());
    }
    let level = permitted_level(info).max(roles.get(&user.id).copied());
    match level {
        Some(level) if level >= PLANNER => Ok(()),
        level => Err(ProjectError::NotAllowed {
            project: project.to_owned(),
            user: user.username.clone(),
            role: format!(
                "{}{}",
                level.map_or_else(
                    || "is not a member".to_owned(),
                    |l| format!("is {} ({l})", role_name(l)),
                ),
                if user.admin_without_powers {
                    " (an administrator, but Admin Mode is on and the token lacks the admin_mode scope)"
                } else {
                    ""
                }
            ),
        }),
    }
}

/// GitLab's name of an access level.
fn role_name(level: u8) -> &'static str {
    match level {
        0..=9 => "below Guest",
        10..=14 => "Guest",
        15..=19 => "Planner",
        20..=29 => "Reporter",
        30..=39 => "Developer",
        40..=49 => "Maintainer",
        _ => "Owner",
    }
}
