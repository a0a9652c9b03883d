//! Editing an issue: title, description, labels, assignees, closing and reopening
//! (GitLab: `lib/api/issues.rb`, changes as `app/services/issues/update_service.rb`).

use axum::extract::{Path, State};
use chrono::{DateTime, Utc};

use super::{assignees, find_issue, validate_description, validate_title};
use crate::api::extract::{Req, Shared};
use crate::api::labels::ensure_labels;
use crate::api::projects::project_idx;
use crate::api::reply::{ApiResult, ok};
use crate::error::ApiError;
use crate::model::{Issue, State as Data};
use crate::params::Params;

/// The parameters of which at least one must be given to an edit; GitLab's error
/// message lists them in this order.
const EDIT_PARAMS: [&str; 14] = [
    "assignee_id",
    "assignee_ids",
    "confidential",
    "created_at",
    "description",
    "discussion_locked",
    "due_date",
    "issue_type",
    "labels",
    "milestone_id",
    "state_event",
    "title",
    "add_labels",
    "remove_labels",
];

/// `PUT /projects/:id/issues/:iid`: `updated_at` moves only if something changed.
pub(in crate::api) async fn edit_issue(
    State(app): Shared,
    Path((id, iid)): Path<(String, String)>,
    req: Req,
) -> ApiResult {
    let mut state = app.state.lock();
    let pi = project_idx(&state, &id)?;
    let ii = find_issue(&state.projects[pi], &iid)?;
    let edit = IssueEdit::parse(&mut state, pi, &req.params)?;
    let now = crate::model::now();
    let issue = &mut state.projects[pi].issues[ii];
    let before = serde_json::to_value(&*issue).expect("an issue serialises");
    edit.apply(issue, now, app.root_id);
    if serde_json::to_value(&*issue).expect("an issue serialises") != before {
        issue.updated_at = now;
    }
    let project = &state.projects[pi];
    ok(app.render(&state).issue(project, &project.issues[ii]))
}

/// The changes an edit asks for, checked before any is made.
struct IssueEdit {
    title: Option<String>,
    description: Option<String>,
    state_event: Option<String>,
    confidential: Option<bool>,
    assignees: Option<Vec<u64>>,
    replace_labels: Option<Vec<String>>,
    add_labels: Option<Vec<String>>,
    remove_labels: Option<Vec<String>>,
}

impl IssueEdit {
    /// Reads and checks the parameters. Labels named in `labels` or `add_labels` that
    /// do not exist become project labels here, once every check has passed.
    fn parse(state: &mut Data, pi: usize, p: &Params) -> Result<Self, ApiError> {
        if !EDIT_PARAMS.iter().any(|k| p.has(k)) {
            return Err(ApiError::bad_request_error(format!(
                "{} are missing, at least one parameter must be provided",
                EDIT_PARAMS.join(", ")
            )));
        }
        let title = p.get("title").map(str::to_owned);
        if let Some(t) = &title {
            validate_title(t)?;
        }
        let description = p.get("description").map(str::to_owned);
        if let Some(d) = &description {
            validate_description(d)?;
        }
        let state_event = p.get("state_event").map(str::to_owned);
        if let Some(e) = &state_event
            && e != "close"
            && e != "reopen"
        {
            return Err(ApiError::bad_request_error(
                "state_event does not have a valid value".into(),
            ));
        }
        let confidential = p.bool("confidential")?;
        let assignees = if p.has("assignee_ids") || p.has("assignee_id") {
            assignees(state, p)
        } else {
            None
        };
        Ok(IssueEdit {
            title,
            description,
            state_event,
            confidential,
            assignees,
            replace_labels: p.list("labels").map(|l| ensure_labels(state, pi, &l)),
            add_labels: p.list("add_labels").map(|l| ensure_labels(state, pi, &l)),
            remove_labels: p.list("remove_labels"),
        })
    }

    /// Makes the changes; closing sets who and when, reopening clears them.
    fn apply(self, issue: &mut Issue, now: DateTime<Utc>, root: u64) {
        if let Some(t) = self.title {
            issue.title = t;
        }
        if let Some(d) = self.description {
            issue.description = Some(d);
        }
        if let Some(c) = self.confidential {
            issue.confidential = c;
        }
        if let Some(a) = self.assignees {
            issue.assignee_ids = a;
        }
        if let Some(l) = self.replace_labels {
            issue.labels = l;
        }
        for l in self.add_labels.unwrap_or_default() {
            if !issue.labels.contains(&l) {
                issue.labels.push(l);
            }
        }
        if let Some(remove) = self.remove_labels {
            issue
                .labels
                .retain(|have| !remove.iter().any(|r| r.eq_ignore_ascii_case(have)));
        }
        match self.state_event.as_deref() {
            Some("close") if issue.state == "opened" => {
                issue.state = "closed".to_owned();
                issue.closed_at = Some(now);
                issue.closed_by = Some(root);
            }
            Some("reopen") if issue.state == "closed" => {
                issue.state = "opened".to_owned();
                issue.closed_at = None;
                issue.closed_by = None;
            }
            _ => {}
        }
    }
}
