//! Project labels: list, get, create, edit (GitLab: `lib/api/labels.rb`), and the
//! labels an issue names into being. Titles are compared exactly, case included, and
//! stored as the sandbox's [`crate::LabelTitles`] says (as sent, or sanitized as GitLab
//! did before gitlab-org/gitlab!207594); colours as `lib/gitlab/color.rb` keeps them.

use axum::extract::{Path, State};

use super::access::Caller;
use super::extract::{Req, Shared};
use super::pagination::paginate;
use super::projects::project_idx;
use super::reply::{ApiResult, created, ok};
use crate::LabelTitles;
use crate::color;
use crate::error::ApiError;
use crate::model::{Label, Project, State as Data};
use crate::params::Params;
use axum::response::IntoResponse as _;

/// The colour of a label created because an issue named it.
const DEFAULT_LABEL_COLOR: &str = "#6699cc";

/// A label named by id, or else by its exact name.
fn find_label(project: &Project, label_id: &str) -> Result<usize, ApiError> {
    let by_id = label_id
        .parse::<u64>()
        .ok()
        .and_then(|n| project.labels.iter().position(|l| l.id == n));
    by_id
        .or_else(|| project.labels.iter().position(|l| l.name == label_id))
        .ok_or_else(|| ApiError::not_found("Label"))
}

/// The labels an issue's `labels`/`add_labels` name, as GitLab stores them: existing
/// ones (exact title), and missing ones created with colour `#6699cc` when the caller
/// may create labels, else silently dropped
/// (`app/services/labels/find_or_create_service.rb`).
pub(super) fn ensure_labels(
    state: &mut Data,
    pi: usize,
    names: &[String],
    may_create: bool,
    titles: LabelTitles,
) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for name in names {
        let name = titles.stored(name);
        if name.is_empty() || name.contains(',') {
            continue;
        }
        if state.projects[pi].label(&name).is_none() {
            if !may_create {
                continue;
            }
            let id = state.next_id();
            state.projects[pi].labels.push(Label {
                id,
                name: name.clone(),
                color: DEFAULT_LABEL_COLOR.to_owned(),
                description: None,
                priority: None,
                updated_at: Some(chrono::Utc::now()),
            });
        }
        if !out.contains(&name) {
            out.push(name);
        }
    }
    out
}

/// The part of a scoped label title before its last `::` (`SCOPED_LABEL_PATTERN = /^.*::/`).
fn scope_key(title: &str) -> Option<&str> {
    title.rfind("::").map(|i| &title[..i])
}

/// Premium's scoped-label exclusivity: in every scope that gets a new label and would
/// hold two, only the label chosen last in the request stays
/// (`ee/app/services/ee/issuable/callbacks/labels.rb` `filter_mutually_exclusive_labels`).
pub(super) fn exclusive_scopes(
    existing: &[String],
    new: Vec<String>,
    chosen: &[String],
) -> Vec<String> {
    let added: Vec<&String> = new.iter().filter(|l| !existing.contains(l)).collect();
    if added.is_empty() {
        return new;
    }
    let rank = |l: &String| chosen.iter().rposition(|c| c == l);
    let keep = |l: &String| -> bool {
        let Some(key) = scope_key(l) else { return true };
        let set: Vec<&String> = new.iter().filter(|o| scope_key(o) == Some(key)).collect();
        if set.len() < 2 || !set.iter().any(|o| added.contains(o)) {
            return true;
        }
        let winner = set
            .iter()
            .max_by_key(|o| (rank(o), new.iter().position(|n| n == **o)));
        winner.is_some_and(|w| *w == l)
    };
    new.iter().filter(|l| keep(l)).cloned().collect()
}

/// `GET /projects/:id/labels`: by name ignoring case; `search` matches part of it.
pub(super) async fn list_labels(State(app): Shared, Path(id): Path<String>, req: Req) -> ApiResult {
    let items = {
        let state = app.state.lock();
        let pi = project_idx(&state, &id)?;
        let project = &state.projects[pi];
        let render = app.render(&state);
        let search = req.params.get("search").map(str::to_lowercase);
        let mut labels: Vec<&Label> = project
            .labels
            .iter()
            .filter(|l| {
                search
                    .as_ref()
                    .is_none_or(|s| l.name.to_lowercase().contains(s))
            })
            .collect();
        labels.sort_by_key(|l| l.name.to_lowercase());
        labels.iter().map(|l| render.label(project, l)).collect()
    };
    paginate(&app, &req, items)
}

/// `GET /projects/:id/labels/:label_id`.
pub(super) async fn get_label(
    State(app): Shared,
    Path((id, label_id)): Path<(String, String)>,
) -> ApiResult {
    let state = app.state.lock();
    let pi = project_idx(&state, &id)?;
    let project = &state.projects[pi];
    let li = find_label(project, &label_id)?;
    ok(app.render(&state).label(project, &project.labels[li]))
}

/// `POST /projects/:id/labels`. GitLab reports a bad name against `title`, the
/// column's name.
pub(super) async fn create_label(
    State(app): Shared,
    caller: Caller,
    Path(id): Path<String>,
    req: Req,
) -> ApiResult {
    let p = &req.params;
    let mut state = app.state.lock();
    let pi = project_idx(&state, &id)?;
    // `authorize! :admin_label` comes first (`lib/api/helpers/labels_helpers.rb`).
    if !caller.access(&state, &state.projects[pi]).admin_label() {
        return Err(ApiError::forbidden());
    }
    let name = app
        .label_titles
        .stored(p.get("name").ok_or_else(|| ApiError::missing("name"))?);
    let color = color::of(p.get("color").ok_or_else(|| ApiError::missing("color"))?);
    validate_title(&name)?;
    if !color::valid(&color) {
        return Err(ApiError::invalid("color", "must be a valid color code"));
    }
    // The check and the insert happen under the state's lock, so of two creates of one
    // title exactly one gets `201` and the other this `409`, as when GitLab's
    // `find_by_title` sees the first (`lib/api/helpers/label_helpers.rb`). (Two creates
    // overlapping inside GitLab can also end in a 400 from the model's uniqueness
    // validation, or a 500 from the unique index
    // `index_labels_on_project_id_and_title_varchar_unique`, migration
    // `IndexLabelsUsingVarcharPatternOps`: the fault `label_create_race` answers so.)
    if state.projects[pi].label(&name).is_some() {
        return Err(ApiError::conflict("Label already exists"));
    }
    let label_id = state.next_id();
    let label = Label {
        id: label_id,
        name,
        color,
        description: p.get("description").map(str::to_owned),
        priority: p.int("priority")?,
        updated_at: Some(chrono::Utc::now()),
    };
    state.projects[pi].labels.push(label);
    let project = &state.projects[pi];
    created(
        app.render(&state)
            .label(project, project.labels.last().expect("just pushed")),
    )
}

/// `PUT /projects/:id/labels`, the older form GitLab still serves (python-gitlab uses
/// it): the label is named by `label_id` or `name` in the parameters.
pub(super) async fn edit_label_by_param(
    state: Shared,
    caller: Caller,
    Path(id): Path<String>,
    req: Req,
) -> ApiResult {
    // `optional :label_id`, `optional :name`, `exactly_one_of :label_id, :name`.
    let label = req
        .params
        .get("label_id")
        .or(req.params.get("name"))
        .ok_or_else(|| {
            ApiError::bad_request_error(
                "label_id, name are missing, exactly one parameter must be provided".into(),
            )
        })?
        .to_owned();
    edit_label(state, caller, Path((id, label)), req).await
}

/// `PUT /projects/:id/labels/:label_id`: a new name is carried over to every issue
/// that has the label.
pub(super) async fn edit_label(
    State(app): Shared,
    caller: Caller,
    Path((id, label_id)): Path<(String, String)>,
    req: Req,
) -> ApiResult {
    let p = &req.params;
    let mut state = app.state.lock();
    let pi = project_idx(&state, &id)?;
    if !caller.access(&state, &state.projects[pi]).admin_label() {
        return Err(ApiError::forbidden());
    }
    let li = find_label(&state.projects[pi], &label_id)?;
    if !["new_name", "color", "description", "priority", "archived"]
        .iter()
        .any(|k| p.has(k))
    {
        return Err(ApiError::bad_request_error(
            "new_name, color, description, priority, archived are missing, at least one parameter must be provided".into(),
        ));
    }
    if let Some(color) = p.get("color")
        && !color::valid(&color::of(color))
    {
        return Err(ApiError::invalid("color", "must be a valid color code"));
    }
    let project = &mut state.projects[pi];
    let fields = |l: &Label| {
        (
            l.name.clone(),
            l.color.clone(),
            l.description.clone(),
            l.priority,
        )
    };
    let before = fields(&project.labels[li]);
    if let Some(new_name) = p.get("new_name") {
        let new_name = app.label_titles.stored(new_name);
        validate_title(&new_name)?;
        rename_label(project, li, &new_name)?;
    }
    update_label(&mut project.labels[li], p)?;
    // Rails moves `updated_at` only when an attribute changed.
    if fields(&project.labels[li]) != before {
        project.labels[li].updated_at = Some(chrono::Utc::now());
    }
    let project = &state.projects[pi];
    ok(app.render(&state).label(project, &project.labels[li]))
}

/// `app/models/concerns/base_label.rb`: `validates :title, presence: true, format: {
/// with: /\A[^,]+\z/ }` and `length: { maximum: 255 }`, on the title as stored.
fn validate_title(title: &str) -> Result<(), ApiError> {
    if title.is_empty() {
        return Err(ApiError::invalid("title", "can't be blank"));
    }
    if title.contains(',') {
        return Err(ApiError::invalid("title", "is invalid"));
    }
    if title.chars().count() > 255 {
        return Err(ApiError::invalid(
            "title",
            "is too long (maximum is 255 characters)",
        ));
    }
    Ok(())
}

/// Renames label `li`, unless another label has the name, and on every issue with it.
fn rename_label(project: &mut Project, li: usize, new_name: &str) -> Result<(), ApiError> {
    if project
        .labels
        .iter()
        .enumerate()
        .any(|(i, l)| i != li && l.name == new_name)
    {
        return Err(ApiError::conflict("Label already exists"));
    }
    let old = std::mem::replace(&mut project.labels[li].name, new_name.to_owned());
    for issue in &mut project.issues {
        for l in &mut issue.labels {
            if *l == old {
                *l = new_name.to_owned();
            }
        }
    }
    Ok(())
}

/// `DELETE /projects/:id/labels/:label_id` (by id, or else by title, as
/// `find_label` in `lib/api/helpers/label_helpers.rb` looks it up): `admin_label`
/// (`app/policies/label_policy.rb`), then `412` when `If-Unmodified-Since` is older than
/// the label's last change (`destroy_conditionally!`, `check_unmodified_since!` in
/// `lib/api/helpers.rb`), else `204`. The label goes from every issue and board list
/// (`app/models/label.rb`: `label_links` and `lists` are `dependent: :destroy`).
pub(super) async fn delete_label(
    State(app): Shared,
    caller: Caller,
    Path((id, label_id)): Path<(String, String)>,
    headers: axum::http::HeaderMap,
) -> ApiResult {
    let mut state = app.state.lock();
    let pi = project_idx(&state, &id)?;
    let li = find_label(&state.projects[pi], &label_id)?;
    if !caller.access(&state, &state.projects[pi]).admin_label() {
        return Err(ApiError::forbidden());
    }
    let since = headers
        .get("if-unmodified-since")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| chrono::DateTime::parse_from_rfc2822(v).ok());
    let project = &mut state.projects[pi];
    if let (Some(since), Some(updated)) = (since, project.labels[li].updated_at)
        && updated > since
    {
        return Err(ApiError::precondition_failed());
    }
    let label = project.labels.remove(li);
    for issue in &mut project.issues {
        issue.labels.retain(|l| *l != label.name);
    }
    for board in &mut project.boards {
        board.lists.retain(|l| l.label_id != label.id);
    }
    Ok(axum::http::StatusCode::NO_CONTENT.into_response())
}

/// The colour, description and priority an edit gives (colour already checked).
fn update_label(label: &mut Label, p: &Params) -> Result<(), ApiError> {
    if let Some(color) = p.get("color") {
        label.color = color::of(color);
    }
    if let Some(d) = p.get("description") {
        label.description = Some(d.to_owned());
    }
    if p.has("priority") {
        label.priority = p.int("priority")?;
    }
    Ok(())
}
