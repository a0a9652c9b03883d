//! `PUT /projects/:id` (GitLab: `lib/api/projects.rb`), for the two settings that decide
//! who sees a project's issues: `visibility` and `issues_access_level`. Other settings
//! are not modelled and are refused rather than silently ignored. Who may read issues
//! is not narrowed for non-members when `issues_access_level` is `private`: the sandbox
//! only records and shows it.

use axum::extract::{Path, State};

use super::access::Caller;
use super::extract::{Req, Shared};
use super::projects::project_idx;
use super::reply::{ApiResult, ok};
use crate::error::ApiError;

/// `visibility` (`Gitlab::VisibilityLevel`) and `issues_access_level`
/// (`ProjectFeature`'s `STRING_OPTIONS` less `public`, which only Pages may have:
/// `app/models/concerns/featurable.rb`, `app/models/project_feature.rb`).
const VISIBILITIES: [&str; 3] = ["private", "internal", "public"];
const ACCESS_LEVELS: [&str; 3] = ["disabled", "private", "enabled"];

/// `PUT /projects/:id`: `authorize_admin_project` (Maintainer+), and
/// `change_visibility_level` (Owner) when `visibility` is given.
pub(super) async fn put_project(
    State(app): Shared,
    caller: Caller,
    Path(id): Path<String>,
    req: Req,
) -> ApiResult {
    let p = &req.params;
    let modelled = ["visibility", "issues_access_level"];
    if let Some((name, _)) = p
        .pairs()
        .iter()
        .find(|(k, _)| !modelled.contains(&k.as_str()))
    {
        return Err(ApiError::bad_request_error(format!(
            "the sandbox models only visibility and issues_access_level, not {name}"
        )));
    }
    let visibility = p.get("visibility");
    let issues = p.get("issues_access_level");
    if visibility.is_none() && issues.is_none() {
        // Grape's `at_least_one_of`.
        return Err(ApiError::bad_request_error(
            "visibility, issues_access_level are missing, at least one parameter must be provided"
                .into(),
        ));
    }
    for (name, value, allowed) in [
        ("visibility", visibility, &VISIBILITIES),
        ("issues_access_level", issues, &ACCESS_LEVELS),
    ] {
        if let Some(v) = value
            && !allowed.contains(&v)
        {
            return Err(ApiError::bad_request_error(format!(
                "{name} does not have a valid value"
            )));
        }
    }
    let mut state = app.state.lock();
    let pi = project_idx(&state, &id)?;
    let access = caller.access(&state, &state.projects[pi]);
    if !access.admin_project() || (visibility.is_some() && !access.change_visibility_level()) {
        return Err(ApiError::forbidden());
    }
    let project = &mut state.projects[pi];
    if let Some(v) = visibility {
        project.visibility = v.to_owned();
    }
    if let Some(v) = issues {
        project.issues_access_level = v.to_owned();
    }
    let project = &state.projects[pi];
    ok(app.render(&state).project(project))
}
