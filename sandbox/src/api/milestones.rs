//! Project milestones: list and create (GitLab: `lib/api/milestones.rb`,
//! `lib/api/milestone_responses.rb`, `app/finders/milestones_finder.rb`). Issues do not
//! take a milestone in the sandbox: a milestone is only listed and created.

use axum::extract::{Path, State};
use chrono::NaiveDate;
use serde_json::{Value, json};

use super::access::Caller;
use super::extract::{Req, Shared, parse_time};
use super::pagination::paginate;
use super::projects::project_idx;
use super::reply::{ApiResult, created};
use crate::error::ApiError;
use crate::model::{Milestone, Project, now, ts};

/// The milestone as `API::Entities::Milestone` shows it.
fn milestone_json(base: &str, project: &Project, m: &Milestone) -> Value {
    let today = chrono::Utc::now().date_naive();
    json!({
        "id": m.id,
        "iid": m.iid,
        "project_id": project.id,
        "title": m.title,
        "description": m.description,
        "state": m.state,
        "created_at": ts(m.created_at),
        "updated_at": ts(m.updated_at),
        "due_date": m.due_date.map(|d| d.to_string()),
        "start_date": m.start_date.map(|d| d.to_string()),
        "expired": m.due_date.is_some_and(|d| d < today),
        "web_url": format!("{base}/{}/-/milestones/{}", project.path_with_namespace, m.iid),
    })
}

/// `GET /projects/:id/milestones`: `state` (`active`, `closed`, `all`), `iids[]`,
/// `title` (exact), `search` (title or description, any case), `updated_before/after`;
/// by due date, those without one last (`MilestonesFinder`'s default `due_date_asc`).
pub(super) async fn list_milestones(
    State(app): Shared,
    Path(id): Path<String>,
    req: Req,
) -> ApiResult {
    let p = &req.params;
    let state_filter = p.get("state").unwrap_or("all");
    if !matches!(state_filter, "active" | "closed" | "all") {
        return Err(ApiError::bad_request_error(
            "state does not have a valid value".into(),
        ));
    }
    let iids: Option<Vec<u64>> = p
        .list("iids")
        .map(|v| v.iter().filter_map(|s| s.parse().ok()).collect());
    let title = p.get("title");
    let search = p.get("search").map(str::to_lowercase);
    let updated_before = parse_time(p, "updated_before")?;
    let updated_after = parse_time(p, "updated_after")?;
    let items = {
        let state = app.state.lock();
        let project = &state.projects[project_idx(&state, &id)?];
        let mut found: Vec<&Milestone> = project
            .milestones
            .iter()
            .filter(|m| state_filter == "all" || m.state == state_filter)
            .filter(|m| iids.as_ref().is_none_or(|ids| ids.contains(&m.iid)))
            .filter(|m| title.is_none_or(|t| m.title == t))
            .filter(|m| {
                search.as_ref().is_none_or(|s| {
                    m.title.to_lowercase().contains(s)
                        || m.description
                            .as_deref()
                            .is_some_and(|d| d.to_lowercase().contains(s))
                })
            })
            .filter(|m| updated_before.is_none_or(|t| m.updated_at < t))
            .filter(|m| updated_after.is_none_or(|t| m.updated_at > t))
            .collect();
        found.sort_by_key(|m| (m.due_date.is_none(), m.due_date, m.id));
        found
            .into_iter()
            .map(|m| milestone_json(&app.base_url, project, m))
            .collect()
    };
    paginate(&app, &req, items)
}

/// A date parameter as ActiveRecord casts it: a value that is no date is no date.
fn date(p: &crate::params::Params, name: &str) -> Option<NaiveDate> {
    p.get(name)
        .and_then(|v| NaiveDate::parse_from_str(v.trim(), "%Y-%m-%d").ok())
}

/// A refused milestone, as `create_milestone_for` renders the model's errors (Ruby's
/// `Hash#inspect` of `errors.messages`).
fn refused(field: &str, message: &str) -> ApiError {
    ApiError::bad_request(&format!(
        "Failed to create milestone {{:{field}=>[\"{message}\"]}}"
    ))
}

/// `POST /projects/:id/milestones` (`title`, `description`, `due_date`, `start_date`):
/// Planner/Reporter and up (`authorize! :admin_milestone`); a title is unique among the
/// project's milestones (`Timebox#uniqueness_of_title`) and a due date must come after
/// the start date (`start_date_should_be_less_than_due_date`).
pub(super) async fn create_milestone(
    State(app): Shared,
    caller: Caller,
    Path(id): Path<String>,
    req: Req,
) -> ApiResult {
    let p = &req.params;
    let mut state = app.state.lock();
    let pi = project_idx(&state, &id)?;
    if !caller.access(&state, &state.projects[pi]).admin_milestone() {
        return Err(ApiError::forbidden());
    }
    let title = p
        .get("title")
        .ok_or_else(|| ApiError::bad_request_error("title is missing".into()))?
        .trim()
        .to_owned();
    if title.is_empty() {
        return Err(refused("title", "can't be blank"));
    }
    let project = &state.projects[pi];
    if project.milestones.iter().any(|m| m.title == title) {
        return Err(refused(
            "title",
            "already being used for another group or project milestone.",
        ));
    }
    let (start_date, due_date) = (date(p, "start_date"), date(p, "due_date"));
    if let (Some(start), Some(due)) = (start_date, due_date)
        && due <= start
    {
        return Err(refused("due_date", "must be greater than start date"));
    }
    let iid = project.milestones.iter().map(|m| m.iid).max().unwrap_or(0) + 1;
    let milestone_id = state.next_id();
    let at = now();
    state.projects[pi].milestones.push(Milestone {
        id: milestone_id,
        iid,
        title,
        description: p.get("description").map(str::to_owned),
        state: "active".into(),
        start_date,
        due_date,
        created_at: at,
        updated_at: at,
    });
    let project = &state.projects[pi];
    let m = project.milestones.last().expect("just pushed");
    created(milestone_json(&app.base_url, project, m))
}
