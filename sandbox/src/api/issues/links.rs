//! Linked issues (GitLab: `lib/api/issue_links.rb`). The sandbox keeps no links, so an
//! issue's list is always empty; creating links is not modelled.

use axum::extract::{Path, State};
use serde_json::json;

use super::find_readable_issue;
use crate::api::access::Caller;
use crate::api::extract::Shared;
use crate::api::projects::project_idx;
use crate::api::reply::{ApiResult, ok};

/// `GET /projects/:id/issues/:issue_iid/links`: `200 []` for an issue the caller may
/// read; GitLab does not paginate this list (`present related_issues`), so neither
/// does the sandbox.
pub(in crate::api) async fn list_issue_links(
    State(app): Shared,
    caller: Caller,
    Path((id, iid)): Path<(String, String)>,
) -> ApiResult {
    let state = app.state.lock();
    let pi = project_idx(&state, &id)?;
    find_readable_issue(&state, pi, &iid, caller)?;
    ok(json!([]))
}
