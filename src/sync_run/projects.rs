//! Stage 3: reading GitLab. Every project a planned page writes to is read completely
//! before anything is written; a project that cannot be read, or where the token may not
//! set labels and assignees, gets no writes.

use std::collections::BTreeMap;

use crate::config::SyncSettings;
use crate::gitlab::{CurrentUser, Gitlab, GitlabError, Member, ProjectInfo};
use crate::sync::ObservedIssue;
use crate::sync::board::ObservedBoard;
use crate::sync::desired;

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
    /// Label name → id.
    pub labels: BTreeMap<String, u64>,
    /// Issues with the managed label, open and closed, each once.
    pub issues: Vec<ObservedIssue>,
    /// Issues that carry a page's label but not the managed label, read only for a page
    /// none of whose issues has the managed label: what the mass-create guard weighs.
    pub unrecognised: Vec<ObservedIssue>,
    /// Members, inherited ones included: username → user id.
    pub members: BTreeMap<String, u64>,
    /// Boards (read only when a page of the project asks for one).
    pub boards: Vec<ObservedBoard>,
}

/// Why nothing is written to a project.
#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    /// Reading it failed.
    #[error(transparent)]
    Read(#[from] GitlabError),
    /// The token's user may not set labels and assignees there: GitLab would answer
    /// `201` and drop them, and every run would create the issues again.
    #[error(
        "project {project}: the token's user `{user}` {role} there, and handbook-sync needs at least Planner (15; Reporter on GitLab before 17.7) to set labels and assignees (without it GitLab silently drops them and every run would create the issues again); give the user that role or use another token"
    )]
    NotAllowed {
        /// The project path.
        project: String,
        /// The token's username.
        user: String,
        /// The role, in words (`is Guest (10)`, `is not a member`).
        role: String,
    },
}

/// Per project path: its state, or why nothing is written to it.
pub type Projects = BTreeMap<String, Result<ProjectState, ProjectError>>;

/// Stage 3: reads each project of a [`PageRead::Parsed`] page once: the token's role
/// there (refusing it below Planner), its members, labels, managed issues, and its boards
/// if any page of `pages` in it has `board = true`. Warns when a project is not public.
pub async fn read_projects(gitlab: &Gitlab, pages: &[PageInput], sync: &SyncSettings) -> Projects {
    let mut projects = Projects::new();
    if !pages.iter().any(|p| matches!(p.read, PageRead::Parsed(_))) {
        return projects;
    }
    let user = gitlab.current_user().await;
    for input in pages {
        let name = &input.settings.project;
        if projects.contains_key(name) || !matches!(input.read, PageRead::Parsed(_)) {
            continue;
        }
        let state = match &user {
            Ok(user) => read_project(gitlab, user, name, pages, sync).await,
            Err(e) => Err(ProjectError::Read(GitlabError::Other {
                what: format!("reading project `{name}`"),
                message: e.to_string(),
            })),
        };
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
        projects.insert(name.clone(), state);
    }
    projects
}

async fn read_project(
    gitlab: &Gitlab,
    user: &CurrentUser,
    project: &str,
    pages: &[PageInput],
    sync: &SyncSettings,
) -> Result<ProjectState, ProjectError> {
    let info = gitlab.project(project).await?;
    let members = gitlab.members(info.id).await?;
    check_role(user, project, &info, &members)?;
    let labels = gitlab.labels(info.id).await?;
    let issues = gitlab.managed_issues(info.id, &sync.managed_label).await?;
    let mut unrecognised = Vec::new();
    let in_project = pages
        .iter()
        .filter(|p| p.settings.project == project && matches!(p.read, PageRead::Parsed(_)));
    for page in in_project {
        let page_label =
            desired::label_name(&format!("{}{}", sync.page_label_prefix, page.settings.id));
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
    let with_boards = pages
        .iter()
        .any(|p| p.settings.project == project && p.settings.board);
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
        members: members.into_iter().map(|m| (m.username, m.id)).collect(),
        boards,
    })
}

/// Refuses a project where the token's user may not set labels and assignees: its role
/// is the highest of the direct, the group and the inherited membership (`/members/all`);
/// administrators may do everything.
fn check_role(
    user: &CurrentUser,
    project: &str,
    info: &ProjectInfo,
    members: &[Member],
) -> Result<(), ProjectError> {
    if user.is_admin {
        return Ok(());
    }
    let permissions = info.permissions.clone().unwrap_or_default();
    let level = [permissions.project_access, permissions.group_access]
        .into_iter()
        .flatten()
        .map(|a| a.access_level)
        .chain(
            members
                .iter()
                .filter(|m| m.id == user.id)
                .map(|m| m.access_level),
        )
        .max();
    match level {
        Some(level) if level >= PLANNER => Ok(()),
        level => Err(ProjectError::NotAllowed {
            project: project.to_owned(),
            user: user.username.clone(),
            role: level.map_or_else(
                || "is not a member".to_owned(),
                |l| format!("is {} ({l})", role_name(l)),
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
