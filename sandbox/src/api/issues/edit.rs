//! Editing an issue: title, description, labels, assignees, closing and reopening
//! (GitLab: `lib/api/issues.rb`, changes as `app/services/issues/update_service.rb`).
//! Only who may update the issue gets this far (`authorize! :update_issue`, else 403);
//! labels and assignees also need `set_issue_metadata`, else they are dropped.

use axum::extract::{Path, State};
use chrono::{DateTime, Utc};

use super::{
    Metadata, find_issue, resolve_assignees, run_quick_actions, validate_description,
    validate_title,
};
use crate::api::access::Caller;
use crate::api::extract::{Req, Shared};
use crate::api::issues::commands::{StateEvent, Target, Updates};
use crate::api::projects::project_idx;
use crate::api::reply::{ApiResult, ok};
use crate::error::ApiError;
use crate::model::{Issue, IssueState};
use crate::params::Params;
use crate::policy::Access;

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
    caller: Caller,
    Path((id, iid)): Path<(String, String)>,
    req: Req,
) -> ApiResult {
    let mut state = app.state.lock();
    let pi = project_idx(&state, &id)?;
    let ii = find_issue(&state.projects[pi], &iid)?;
    let access = caller.access(&state, &state.projects[pi]);
    if !access.update_issue(&state.projects[pi].issues[ii]) {
        return Err(ApiError::forbidden());
    }
    let mut edit = IssueEdit::parse(&req.params)?;
    if let Some(d) = &edit.description {
        let target = Target {
            state: &state,
            project: &state.projects[pi],
            issue: Some(&state.projects[pi].issues[ii]),
            access,
            tier: app.tier,
        };
        let (text, mut updates) = run_quick_actions(d, &target);
        edit.merge(text, &mut updates);
    }
    if !access.set_issue_metadata(true) {
        edit.metadata = Metadata::default();
        // `set_confidentiality` follows `set_issue_metadata` on an existing issue
        // (`issue_policy.rb`); `filter_params` deletes `confidential` without it.
        edit.confidential = None;
    }
    let existing = state.projects[pi].issues[ii].labels.clone();
    let labels = edit.metadata.resolve_labels(
        &mut state,
        pi,
        &existing,
        access.admin_label(),
        app.tier,
        app.label_titles,
    );
    let assignees = edit
        .metadata
        .assignees
        .as_ref()
        .and_then(|raw| resolve_assignees(&state, pi, raw, app.tier));
    let now = crate::model::now();
    let issue = &mut state.projects[pi].issues[ii];
    // `Issues::UpdateService` runs `change_state` (the close or reopen service, which
    // saves the issue) before it assigns and validates the rest
    // (`app/services/issuable_base_service.rb`: `change_additional_attributes`, then
    // `update`): an edit that closes the issue and carries a title too long is answered
    // 400 with the issue closed.
    edit.change_state(issue, now, access);
    edit.validate()?;
    let before = serde_json::to_value(&*issue).expect("an issue serialises");
    edit.apply(issue, labels, assignees);
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
    state_event: Option<StateEvent>,
    confidential: Option<bool>,
    metadata: Metadata,
}

impl IssueEdit {
    /// Reads and checks the parameters.
    fn parse(p: &Params) -> Result<Self, ApiError> {
        if !EDIT_PARAMS.iter().any(|k| p.has(k)) {
            return Err(ApiError::bad_request_error(format!(
                "{} are missing, at least one parameter must be provided",
                EDIT_PARAMS.join(", ")
            )));
        }
        let title = p.get("title").map(super::stripped_title);
        let state_event = p
            .get("state_event")
            .map(|e| {
                StateEvent::parse(e).ok_or_else(|| {
                    ApiError::bad_request_error("state_event does not have a valid value".into())
                })
            })
            .transpose()?;
        Ok(IssueEdit {
            title,
            description: p.get("description").map(str::to_owned),
            state_event,
            confidential: p.bool("confidential")?,
            metadata: Metadata::parse(p),
        })
    }

    /// The description without its command lines, and what the commands decided, over
    /// the parameters.
    fn merge(&mut self, description: String, updates: &mut Updates) {
        self.description = Some(description);
        if let Some(t) = updates.title.take() {
            self.title = Some(t);
        }
        if let Some(e) = updates.state_event.take() {
            self.state_event = Some(e);
        }
        self.metadata.merge(updates);
    }

    /// Closes or reopens the issue, if asked. Closing needs `update_issue` and reopening
    /// `reopen_issue` (`close_service.rb` `can_close?`, `reopen_service.rb`
    /// `can_reopen?`); without them nothing happens, silently. Closing sets who and
    /// when, reopening clears them; either moves `updated_at`.
    fn change_state(&mut self, issue: &mut Issue, now: DateTime<Utc>, access: Access) {
        let may_change_state = access.update_issue(issue);
        match self.state_event.take() {
            Some(StateEvent::Close) if issue.state == IssueState::Opened && may_change_state => {
                issue.state = IssueState::Closed;
                issue.closed_at = Some(now);
                issue.closed_by = Some(access.user_id());
                issue.updated_at = now;
            }
            Some(StateEvent::Reopen) if issue.state == IssueState::Closed && may_change_state => {
                issue.state = IssueState::Opened;
                issue.closed_at = None;
                issue.closed_by = None;
                issue.updated_at = now;
            }
            // Closing a closed issue or reopening an open one changes nothing, as in
            // GitLab (the state machine has no such transition).
            Some(_) | None => {}
        }
    }

    /// The model's validations of what the edit assigns: the title, the description.
    fn validate(&self) -> Result<(), ApiError> {
        if let Some(t) = &self.title {
            validate_title(t)?;
        }
        if let Some(d) = &self.description {
            validate_description(d)?;
        }
        Ok(())
    }

    /// Assigns the rest, already validated.
    fn apply(self, issue: &mut Issue, labels: Option<Vec<String>>, assignees: Option<Vec<u64>>) {
        if let Some(t) = self.title {
            issue.title = t;
        }
        if let Some(d) = self.description {
            issue.description = Some(d);
        }
        if let Some(c) = self.confidential {
            issue.confidential = c;
        }
        if let Some(a) = assignees {
            issue.assignee_ids = a;
        }
        if let Some(l) = labels {
            issue.labels = l;
        }
    }
}
