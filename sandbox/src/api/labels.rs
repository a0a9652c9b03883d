//! Project labels: list, get, create, edit (GitLab: `lib/api/labels.rb`), and the
//! labels an issue names into being.

use axum::extract::{Path, State};

use super::extract::{Req, Shared};
use super::pagination::paginate;
use super::projects::project_idx;
use super::reply::{ApiResult, created, ok};
use crate::error::ApiError;
use crate::model::{Label, Project, State as Data};
use crate::params::Params;

/// The colour of a label created because an issue named it.
const DEFAULT_LABEL_COLOR: &str = "#6699cc";

/// `#rgb`, `#rrggbb` or one of the sixteen CSS basic colour names.
fn valid_color(color: &str) -> bool {
    const NAMES: [&str; 16] = [
        "black", "silver", "gray", "white", "maroon", "red", "purple", "fuchsia", "green", "lime",
        "olive", "yellow", "navy", "blue", "teal", "aqua",
    ];
    match color.strip_prefix('#') {
        Some(hex) => {
            (hex.len() == 6 || hex.len() == 3) && hex.chars().all(|c| c.is_ascii_hexdigit())
        }
        None => NAMES.contains(&color.to_ascii_lowercase().as_str()),
    }
}

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

/// Label names as GitLab stores them on an issue: existing labels keep their spelling,
/// unknown ones are created as project labels.
pub(super) fn ensure_labels(state: &mut Data, pi: usize, names: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for name in names {
        let existing = state.projects[pi]
            .labels
            .iter()
            .find(|l| l.name.eq_ignore_ascii_case(name))
            .map(|l| l.name.clone());
        let name = match existing {
            Some(n) => n,
            None => {
                let id = state.next_id();
                state.projects[pi].labels.push(Label {
                    id,
                    name: name.clone(),
                    color: DEFAULT_LABEL_COLOR.to_owned(),
                    description: None,
                    priority: None,
                });
                name.clone()
            }
        };
        if !out.contains(&name) {
            out.push(name);
        }
    }
    out
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
    Path(id): Path<String>,
    req: Req,
) -> ApiResult {
    let p = &req.params;
    let mut state = app.state.lock();
    let pi = project_idx(&state, &id)?;
    let name = p
        .get("name")
        .ok_or_else(|| ApiError::missing("name"))?
        .trim()
        .to_owned();
    let color = p
        .get("color")
        .ok_or_else(|| ApiError::missing("color"))?
        .to_owned();
    if name.is_empty() {
        return Err(ApiError::invalid("title", "can't be blank"));
    }
    if name.contains(',') || name.chars().count() > 255 {
        return Err(ApiError::invalid("title", "is invalid"));
    }
    if !valid_color(&color) {
        return Err(ApiError::invalid("color", "must be a valid color code"));
    }
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
    Path(id): Path<String>,
    req: Req,
) -> ApiResult {
    let label = req
        .params
        .get("label_id")
        .or(req.params.get("name"))
        .ok_or_else(|| ApiError::missing("label_id"))?
        .to_owned();
    edit_label(state, Path((id, label)), req).await
}

/// `PUT /projects/:id/labels/:label_id`: a new name is carried over to every issue
/// that has the label.
pub(super) async fn edit_label(
    State(app): Shared,
    Path((id, label_id)): Path<(String, String)>,
    req: Req,
) -> ApiResult {
    let p = &req.params;
    let mut state = app.state.lock();
    let pi = project_idx(&state, &id)?;
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
        && !valid_color(color)
    {
        return Err(ApiError::invalid("color", "must be a valid color code"));
    }
    let project = &mut state.projects[pi];
    if let Some(new_name) = p.get("new_name") {
        rename_label(project, li, new_name)?;
    }
    update_label(&mut project.labels[li], p)?;
    let project = &state.projects[pi];
    ok(app.render(&state).label(project, &project.labels[li]))
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

/// The colour, description and priority an edit gives (colour already checked).
fn update_label(label: &mut Label, p: &Params) -> Result<(), ApiError> {
    if let Some(color) = p.get("color") {
        label.color = color.to_owned();
    }
    if let Some(d) = p.get("description") {
        label.description = Some(d.to_owned());
    }
    if p.has("priority") {
        label.priority = p.int("priority")?;
    }
    Ok(())
}
