//! Merge requests between branches of one project: create, read, merge (GitLab:
//! `lib/api/merge_requests.rb`, errors as `lib/api/helpers/merge_requests_helpers.rb`
//! `handle_merge_request_errors!`, entity `lib/api/entities/merge_request.rb`), and their
//! notes: list, create, edit (`lib/api/notes.rb`, entity `lib/api/entities/note.rb`).
//! A merge is a merge commit on the target branch and one push event for it.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::access::Caller;
use super::extract::{Req, Shared};
use super::hooks::announce;
use super::pagination::paginate;
use super::projects::project_idx;
use super::reply::{ApiResult, created, json_status, ok};
use super::repository::{CommitInfo, MergeError, merge, merge_base};
use crate::App;
use crate::error::ApiError;
use crate::model::{MergeRequest, MrNote, Project, ts};
use crate::params::Params;

/// `Gitlab::Database::MAX_TEXT_SIZE_LIMIT`, the longest note body, in characters.
const MAX_NOTE_CHARS: usize = 1_000_000;

/// `POST /projects/:id/merge_requests` (`source_branch`, `target_branch`, `title`,
/// optional `description`): 201, iid counted per project.
pub(super) async fn create_merge_request(
    State(app): Shared,
    Path(id): Path<String>,
    req: Req,
) -> ApiResult {
    let p = &req.params;
    let title = required(p, "title")?.to_owned();
    let source = required(p, "source_branch")?.to_owned();
    let target = required(p, "target_branch")?.to_owned();
    if let Some(d) = p.get("description") {
        // A merge request is an issuable too: the same limit in bytes.
        super::issues::validate_description(d)?;
    }
    let mut state = app.state.lock();
    let pi = project_idx(&state, &id)?;
    check_branches(&state.projects[pi], &source, &target)?;
    let mr_id = state.next_id();
    let now = crate::model::now();
    let project = &mut state.projects[pi];
    let iid = project
        .merge_requests
        .iter()
        .map(|m| m.iid)
        .max()
        .unwrap_or(0)
        + 1;
    project.merge_requests.push(MergeRequest {
        id: mr_id,
        iid,
        title,
        description: p.get("description").map(str::to_owned),
        source_branch: source,
        target_branch: target,
        state: "opened".into(),
        author_id: app.root_id,
        created_at: now,
        updated_at: now,
        merged_at: None,
        merged_by: None,
        merge_commit_sha: None,
        merged_sha: None,
        notes: Vec::new(),
    });
    let project = &state.projects[pi];
    let mr = project.merge_requests.last().expect("just pushed");
    created(mr_json(&app, &state, project, mr))
}

/// GitLab's refusals of a new merge request: same branch 422 (`branch_conflict`), a
/// second open one for the pair 409 (`validate_branches`), both as arrays; a missing
/// branch 422 (`base`, added by `MergeRequests::BuildService`).
fn check_branches(project: &Project, source: &str, target: &str) -> Result<(), ApiError> {
    if source == target {
        return Err(unprocessable(
            "You can't use same project/branch for source and target",
        ));
    }
    for (what, branch) in [("Source", source), ("Target", target)] {
        if project.head(branch).is_none() {
            return Err(unprocessable(&format!(
                "{what} branch \"{branch}\" does not exist"
            )));
        }
    }
    if let Some(other) = project
        .merge_requests
        .iter()
        .find(|m| m.state == "opened" && m.source_branch == source && m.target_branch == target)
    {
        return Err(ApiError {
            status: StatusCode::CONFLICT,
            body: json!({"message": [format!(
                "Another open merge request already exists for this source branch: !{}",
                other.iid
            )]}),
        });
    }
    Ok(())
}

/// `unprocessable_entity!(errors[key])`: 422 with the messages as an array.
fn unprocessable(message: &str) -> ApiError {
    ApiError {
        status: StatusCode::UNPROCESSABLE_ENTITY,
        body: json!({"message": [message]}),
    }
}

/// `GET /projects/:id/merge_requests/:iid`.
pub(super) async fn get_merge_request(
    State(app): Shared,
    Path((id, iid)): Path<(String, String)>,
) -> ApiResult {
    let state = app.state.lock();
    let project = &state.projects[project_idx(&state, &id)?];
    let mr = &project.merge_requests[find_mr(project, &iid)?];
    ok(mr_json(&app, &state, project, mr))
}

/// `PUT /projects/:id/merge_requests/:iid/merge`: a merge commit on the target branch
/// and one push for it. Not mergeable (merged, closed, a branch gone, conflicts) is
/// `not_allowed!`, 405, as `execute_merge` answers.
pub(super) async fn merge_merge_request(
    State(app): Shared,
    Path((id, iid)): Path<(String, String)>,
    req: Req,
) -> ApiResult {
    let mut state = app.state.lock();
    let pi = project_idx(&state, &id)?;
    let mi = find_mr(&state.projects[pi], &iid)?;
    let project = &mut state.projects[pi];
    let mr = project.merge_requests[mi].clone();
    if mr.state != "opened" {
        return Err(not_allowed());
    }
    let source_head = project.head(&mr.source_branch).map(str::to_owned);
    if let (Some(expected), Some(head)) = (req.params.get("sha"), &source_head)
        && expected != head
    {
        // `check_sha_param!`.
        return Err(ApiError::conflict(&format!(
            "SHA does not match HEAD of source branch: {expected}"
        )));
    }
    let message = req
        .params
        .get("merge_commit_message")
        .map_or_else(|| merge_message(project, &mr), str::to_owned);
    let info = CommitInfo {
        message: &message,
        author: "Administrator",
    };
    let push = match merge(project, &mr.source_branch, &mr.target_branch, info) {
        Ok(push) => push,
        Err(MergeError::MissingBranch | MergeError::Conflict) => return Err(not_allowed()),
    };
    let now = crate::model::now();
    let stored = &mut project.merge_requests[mi];
    stored.state = "merged".into();
    stored.merged_at = Some(now);
    stored.updated_at = now;
    stored.merged_by = Some(app.root_id);
    stored.merge_commit_sha = Some(push.after.clone());
    stored.merged_sha = source_head;
    let project = &state.projects[pi];
    announce(&app, project, &push);
    ok(mr_json(&app, &state, project, &project.merge_requests[mi]))
}

/// `405 {"message":"405 Method Not Allowed"}`.
fn not_allowed() -> ApiError {
    ApiError {
        status: StatusCode::METHOD_NOT_ALLOWED,
        body: json!({"message": "405 Method Not Allowed"}),
    }
}

/// `Project::DEFAULT_MERGE_COMMIT_TEMPLATE`, with the empty `%{issues}` line dropped.
fn merge_message(project: &Project, mr: &MergeRequest) -> String {
    format!(
        "Merge branch '{}' into '{}'\n\n{}\n\nSee merge request {}!{}",
        mr.source_branch, mr.target_branch, mr.title, project.path_with_namespace, mr.iid
    )
}

/// The merge request with this iid, or GitLab's `find_by!` 404.
fn find_mr(project: &Project, iid: &str) -> Result<usize, ApiError> {
    let iid: u64 = iid.parse().map_err(|_| ApiError::not_found_plain())?;
    project
        .merge_requests
        .iter()
        .position(|m| m.iid == iid)
        .ok_or_else(ApiError::not_found_plain)
}

/// A Grape `requires` parameter: absent is `{"error":"<name> is missing"}`.
fn required<'p>(params: &'p Params, name: &str) -> Result<&'p str, ApiError> {
    params
        .get(name)
        .ok_or_else(|| ApiError::bad_request_error(format!("{name} is missing")))
}

/// `Entities::MergeRequest`: the basic entity's fields and the single-MR extras.
fn mr_json(app: &App, state: &crate::model::State, project: &Project, mr: &MergeRequest) -> Value {
    let render = app.render(state);
    let web = format!("{}/{}", app.base_url, project.path_with_namespace);
    let merged = mr.state == "merged";
    let source_head = project.head(&mr.source_branch).map(str::to_owned);
    let target_head = project.head(&mr.target_branch).map(str::to_owned);
    let sha = if merged {
        mr.merged_sha.clone()
    } else {
        source_head.clone()
    };
    let base = match (&source_head, &target_head) {
        (Some(s), Some(t)) => merge_base(project, s, t),
        _ => None,
    };
    let (merge_status, detailed) = if merged {
        ("can_be_merged", "not_open")
    } else {
        ("can_be_merged", "mergeable")
    };
    let short = format!("!{}", mr.iid);
    // Two halves: one `json!` of every field exceeds the macro's recursion limit.
    let mut basic = json!({
        "id": mr.id, "iid": mr.iid, "project_id": project.id,
        "title": mr.title, "description": mr.description, "state": mr.state,
        "created_at": ts(mr.created_at), "updated_at": ts(mr.updated_at),
        "merged_by": mr.merged_by.map(|u| render.user_basic(u)),
        "merge_user": mr.merged_by.map(|u| render.user_basic(u)),
        "merged_at": mr.merged_at.map(ts),
        "closed_by": null, "closed_at": null,
        "target_branch": mr.target_branch, "source_branch": mr.source_branch,
        "user_notes_count": mr.notes.len(), "upvotes": 0, "downvotes": 0,
        "author": render.user_basic(mr.author_id),
        "assignees": [], "assignee": null, "reviewers": [],
        "source_project_id": project.id, "target_project_id": project.id,
        "labels": [], "draft": false, "work_in_progress": false, "milestone": null,
        "merge_when_pipeline_succeeds": false,
        "merge_status": merge_status, "detailed_merge_status": detailed,
        "sha": sha, "merge_commit_sha": mr.merge_commit_sha, "squash_commit_sha": null,
        "discussion_locked": null, "should_remove_source_branch": null,
        "force_remove_source_branch": false,
    });
    let more = json!({
        "reference": short,
        "references": {
            "short": short, "relative": short,
            "full": format!("{}!{}", project.path_with_namespace, mr.iid),
        },
        "web_url": format!("{web}/-/merge_requests/{}", mr.iid),
        "time_stats": {
            "time_estimate": 0, "total_time_spent": 0,
            "human_time_estimate": null, "human_total_time_spent": null,
        },
        "squash": false, "squash_on_merge": false,
        "task_completion_status": {"count": 0, "completed_count": 0},
        "has_conflicts": false, "blocking_discussions_resolved": true,
        "subscribed": true,
        "diff_refs": {"base_sha": base, "head_sha": sha, "start_sha": target_head},
        "merge_error": null, "first_contribution": false,
        "user": {"can_merge": true},
    });
    if let (Value::Object(map), Value::Object(extra)) = (&mut basic, more) {
        map.extend(extra);
    }
    basic
}

/// `GET /projects/:id/merge_requests/:iid/notes`: `order_by` `created_at` (default) or
/// `updated_at`, `sort` `desc` (default) or `asc`.
pub(super) async fn list_mr_notes(
    State(app): Shared,
    Path((id, iid)): Path<(String, String)>,
    req: Req,
) -> ApiResult {
    let items = {
        let state = app.state.lock();
        let project = &state.projects[project_idx(&state, &id)?];
        let mr = &project.merge_requests[find_mr(project, &iid)?];
        let mut notes: Vec<&MrNote> = mr.notes.iter().collect();
        match req.params.get("order_by") {
            None | Some("created_at") => notes.sort_by_key(|n| (n.created_at, n.id)),
            Some("updated_at") => notes.sort_by_key(|n| (n.updated_at, n.id)),
            Some(_) => {
                return Err(ApiError::bad_request_error(
                    "order_by does not have a valid value".into(),
                ));
            }
        }
        match req.params.get("sort") {
            None | Some("desc") => notes.reverse(),
            Some("asc") => {}
            Some(_) => {
                return Err(ApiError::bad_request_error(
                    "sort does not have a valid value".into(),
                ));
            }
        }
        notes
            .iter()
            .map(|n| note_json(&app, &state, project, mr, n))
            .collect()
    };
    paginate(&app, &req, items)
}

/// `POST /projects/:id/merge_requests/:iid/notes` (`body`): 201 with the note, whose
/// author is the caller (`Notes::CreateService` builds it with `author: current_user`).
pub(super) async fn create_mr_note(
    State(app): Shared,
    caller: Caller,
    Path((id, iid)): Path<(String, String)>,
    req: Req,
) -> ApiResult {
    let body = required(&req.params, "body")?.to_owned();
    check_note_body(&body)?;
    let mut state = app.state.lock();
    let pi = project_idx(&state, &id)?;
    let mi = find_mr(&state.projects[pi], &iid)?;
    let note_id = state.next_id();
    let now = crate::model::now();
    let mr = &mut state.projects[pi].merge_requests[mi];
    mr.notes.push(MrNote {
        id: note_id,
        body,
        author_id: caller.0,
        created_at: now,
        updated_at: now,
    });
    // `app/models/note.rb`: `after_save :touch_noteable`.
    mr.updated_at = now;
    let project = &state.projects[pi];
    let mr = &project.merge_requests[mi];
    let note = mr.notes.last().expect("just pushed");
    created(note_json(&app, &state, project, mr, note))
}

/// `PUT /projects/:id/merge_requests/:iid/notes/:note_id` (`body`, `allow_blank: false`):
/// the note edited in place, 200. Only who may `admin_note` (its author, Maintainers,
/// admins) may edit it (`update_note` in `lib/api/helpers/notes_helpers.rb`:
/// `authorize! :admin_note, note`): anyone else gets `403 Forbidden`.
pub(super) async fn edit_mr_note(
    State(app): Shared,
    caller: Caller,
    Path((id, iid, note_id)): Path<(String, String, String)>,
    req: Req,
) -> ApiResult {
    let body = match req.params.get("body") {
        Some("") => return Err(ApiError::bad_request_error("body is empty".into())),
        Some(body) => body.to_owned(),
        None => return Err(ApiError::bad_request_error("body is missing".into())),
    };
    check_note_body(&body)?;
    let mut state = app.state.lock();
    let pi = project_idx(&state, &id)?;
    let mi = find_mr(&state.projects[pi], &iid)?;
    let mr = &mut state.projects[pi].merge_requests[mi];
    let ni = note_id
        .parse::<u64>()
        .ok()
        .and_then(|n| mr.notes.iter().position(|note| note.id == n))
        .ok_or_else(ApiError::not_found_plain)?;
    let author = mr.notes[ni].author_id;
    if !caller
        .access(&state, &state.projects[pi])
        .admin_note(author)
    {
        return Err(ApiError::forbidden());
    }
    let mr = &mut state.projects[pi].merge_requests[mi];
    let now = crate::model::now();
    mr.notes[ni].body = body;
    mr.notes[ni].updated_at = now;
    // `after_save :touch_noteable` (`app/models/note.rb`).
    mr.updated_at = now;
    let project = &state.projects[pi];
    let mr = &project.merge_requests[mi];
    Ok(json_status(
        StatusCode::OK,
        note_json(&app, &state, project, mr, &mr.notes[ni]),
    ))
}

/// The note model's validations (`validates :note, presence: true, length: { maximum:
/// MAX_TEXT_SIZE_LIMIT }`) as `process_note_creation_result` reports them:
/// `bad_request!("Note #{note.errors.messages}")`, a Ruby hash inspected into the text.
fn check_note_body(body: &str) -> Result<(), ApiError> {
    let problem = if body.trim().is_empty() {
        "can't be blank".to_owned()
    } else if body.chars().count() > MAX_NOTE_CHARS {
        format!("is too long (maximum is {MAX_NOTE_CHARS} characters)")
    } else {
        return Ok(());
    };
    Err(ApiError::bad_request(&format!(
        "400 Bad request - Note {{:note=>[\"{problem}\"]}}"
    )))
}

/// `lib/api/entities/note.rb` for a merge request note.
fn note_json(
    app: &App,
    state: &crate::model::State,
    project: &Project,
    mr: &MergeRequest,
    n: &MrNote,
) -> Value {
    json!({
        "id": n.id,
        "type": null,
        "body": n.body,
        "attachment": null,
        "author": app.render(state).user_basic(n.author_id),
        "created_at": ts(n.created_at),
        "updated_at": ts(n.updated_at),
        "system": false,
        "noteable_id": mr.id,
        "noteable_type": "MergeRequest",
        "project_id": project.id,
        "resolvable": false,
        "confidential": false,
        "internal": false,
        "imported": false,
        "imported_from": "none",
        "noteable_iid": mr.iid,
        "commands_changes": {},
    })
}
