//! Issues: get and create here; listing in `list.rs`, editing in `edit.rs` (GitLab:
//! `lib/api/issues.rb`).

mod edit;
mod list;

use axum::extract::{Path, State};

use super::extract::{Req, Shared};
use super::labels::ensure_labels;
use super::projects::project_idx;
use super::reply::{ApiResult, created, ok};
use crate::error::ApiError;
use crate::model::{Issue, Project, State as Data};
use crate::params::Params;

pub(super) use edit::edit_issue;
pub(super) use list::list_issues;

const TITLE_MAX: usize = 255;
const DESCRIPTION_MAX: usize = 1_048_576;

/// The index of the issue with `iid` in `project`; anything else is a bare 404.
pub(super) fn find_issue(project: &Project, iid: &str) -> Result<usize, ApiError> {
    let iid: u64 = iid.parse().map_err(|_| ApiError::not_found_plain())?;
    project
        .issues
        .iter()
        .position(|i| i.iid == iid)
        .ok_or_else(ApiError::not_found_plain)
}

/// `GET /projects/:id/issues/:iid`.
pub(super) async fn get_issue(
    State(app): Shared,
    Path((id, iid)): Path<(String, String)>,
) -> ApiResult {
    let state = app.state.lock();
    let pi = project_idx(&state, &id)?;
    let project = &state.projects[pi];
    let ii = find_issue(project, &iid)?;
    ok(app.render(&state).issue(project, &project.issues[ii]))
}

fn validate_title(title: &str) -> Result<(), ApiError> {
    if title.trim().is_empty() {
        return Err(ApiError::invalid("title", "can't be blank"));
    }
    if title.chars().count() > TITLE_MAX {
        return Err(ApiError::invalid(
            "title",
            "is too long (maximum is 255 characters)",
        ));
    }
    Ok(())
}

fn validate_description(description: &str) -> Result<(), ApiError> {
    if description.chars().count() > DESCRIPTION_MAX {
        return Err(ApiError::invalid(
            "description",
            "is too long (maximum is 1048576 characters)",
        ));
    }
    Ok(())
}

/// Assignees as GitLab Free keeps them: the first id of a user that exists, or none.
fn assignees(state: &Data, params: &Params) -> Option<Vec<u64>> {
    let raw = params
        .list("assignee_ids")
        .or_else(|| params.get("assignee_id").map(|v| vec![v.to_owned()]))?;
    let ids: Vec<u64> = raw
        .iter()
        .filter_map(|v| v.parse().ok())
        .filter(|id| *id != 0 && state.user(*id).is_some())
        .collect();
    Some(ids.into_iter().take(1).collect())
}

/// `POST /projects/:id/issues`: the next iid, opened, by `root`; unknown labels become
/// project labels.
pub(super) async fn create_issue(
    State(app): Shared,
    Path(id): Path<String>,
    req: Req,
) -> ApiResult {
    let p = &req.params;
    let mut state = app.state.lock();
    let pi = project_idx(&state, &id)?;
    let title = p
        .get("title")
        .ok_or_else(|| ApiError::missing("title"))?
        .to_owned();
    validate_title(&title)?;
    let description = p.get("description").map(str::to_owned);
    if let Some(d) = &description {
        validate_description(d)?;
    }
    let confidential = p.bool("confidential")?.unwrap_or(false);
    let assignee_ids = assignees(&state, p).unwrap_or_default();
    let labels = ensure_labels(&mut state, pi, &p.list("labels").unwrap_or_default());
    let now = crate::model::now();
    let issue_id = state.next_id();
    let project = &mut state.projects[pi];
    // Issues are kept in iid order, so the last one has the highest iid.
    let iid = project.issues.last().map_or(0, |i| i.iid) + 1;
    project.issues.push(Issue {
        id: issue_id,
        iid,
        title,
        description,
        state: "opened".to_owned(),
        labels,
        assignee_ids,
        author_id: app.root_id,
        confidential,
        created_at: now,
        updated_at: now,
        closed_at: None,
        closed_by: None,
        notes: Vec::new(),
    });
    let project = &state.projects[pi];
    created(
        app.render(&state)
            .issue(project, project.issues.last().expect("just pushed")),
    )
}
