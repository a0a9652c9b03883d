//! Notes (comments) on an issue: list and create (GitLab: `lib/api/notes.rb`).

use axum::extract::{Path, State};

use super::access::Caller;
use super::extract::{Req, Shared};
use super::issues::find_readable_issue;
use super::pagination::paginate;
use super::projects::project_idx;
use super::reply::{ApiResult, created};
use crate::error::ApiError;
use crate::model::Note;

/// `GET /projects/:id/issues/:iid/notes`: newest first unless `sort=asc`.
pub(super) async fn list_notes(
    State(app): Shared,
    caller: Caller,
    Path((id, iid)): Path<(String, String)>,
    req: Req,
) -> ApiResult {
    let items = {
        let state = app.state.lock();
        let pi = project_idx(&state, &id)?;
        let project = &state.projects[pi];
        let issue = &project.issues[find_readable_issue(&state, pi, &iid, caller)?];
        let render = app.render(&state);
        let mut notes: Vec<&Note> = issue.notes.iter().collect();
        if req.params.get("sort") != Some("asc") {
            notes.reverse();
        }
        notes
            .iter()
            .map(|n| render.note(project, issue, n))
            .collect()
    };
    paginate(&app, &req, items)
}

/// `POST /projects/:id/issues/:iid/notes`, by the caller (anyone who can read the
/// project has `create_note`): `internal`, or its older name `confidential`, hides the
/// note from non-members. The issue's `updated_at` becomes the note's `created_at`.
pub(super) async fn create_note(
    State(app): Shared,
    caller: Caller,
    Path((id, iid)): Path<(String, String)>,
    req: Req,
) -> ApiResult {
    let mut state = app.state.lock();
    let pi = project_idx(&state, &id)?;
    let ii = find_readable_issue(&state, pi, &iid, caller)?;
    let body = req
        .params
        .get("body")
        .ok_or_else(|| ApiError::missing("body"))?
        .to_owned();
    if body.trim().is_empty() {
        return Err(ApiError::invalid("note", "can't be blank"));
    }
    let internal = req
        .params
        .bool("internal")?
        .or(req.params.bool("confidential")?)
        .unwrap_or(false);
    let note_id = state.next_id();
    let now = crate::model::now();
    let issue = &mut state.projects[pi].issues[ii];
    issue.notes.push(Note {
        id: note_id,
        body,
        author_id: caller.0,
        internal,
        created_at: now,
    });
    // Saving a note touches what it is on (`app/models/note.rb`: `after_save
    // :touch_noteable`), so the issue's `updated_at` moves and `updated_after` finds it.
    issue.updated_at = now;
    let project = &state.projects[pi];
    let issue = &project.issues[ii];
    created(
        app.render(&state)
            .note(project, issue, issue.notes.last().expect("just pushed")),
    )
}
