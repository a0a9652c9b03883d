//! Stage 3: reading GitLab. Every project a planned page writes to is read completely
//! before anything is written; a project that cannot be read gets no writes.

use std::collections::BTreeMap;

use crate::gitlab::{Gitlab, GitlabError, ProjectInfo};
use crate::sync::ObservedIssue;
use crate::sync::board::ObservedBoard;

use super::{PageInput, PageRead};

/// What GitLab holds for one project.
#[derive(Debug, Clone)]
pub struct ProjectState {
    /// Id, path and visibility.
    pub info: ProjectInfo,
    /// Label name → id.
    pub labels: BTreeMap<String, u64>,
    /// Issues with the managed label, open and closed.
    pub issues: Vec<ObservedIssue>,
    /// Boards (read only when a page of the project asks for one).
    pub boards: Vec<ObservedBoard>,
}

/// Per project path: its state, or why it could not be read.
pub type Projects = BTreeMap<String, Result<ProjectState, GitlabError>>;

/// Stage 3: reads each project of a [`PageRead::Parsed`] page once: the project, its
/// labels, its managed issues, and its boards if any page of `pages` in it has
/// `board = true`. Warns when a project is not public.
pub async fn read_projects(gitlab: &Gitlab, pages: &[PageInput], managed_label: &str) -> Projects {
    let mut projects = Projects::new();
    for input in pages {
        let name = &input.settings.project;
        if projects.contains_key(name) || !matches!(input.read, PageRead::Parsed(_)) {
            continue;
        }
        let with_boards = pages
            .iter()
            .any(|p| &p.settings.project == name && p.settings.board);
        let state = read_project(gitlab, name, managed_label, with_boards).await;
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
