//! Issues across projects: `GET /issues` and `GET /issues_statistics` (GitLab:
//! `lib/api/issues.rb`, `get` under `resource :issues` and `get '/issues_statistics'`,
//! both through `IssuesFinder`; `doc/api/issues_statistics.md`). The filters are the
//! project list's; `scope` picks whose issues: `created_by_me` (the default), or
//! `assigned_to_me`, or `all`, every issue the caller may read in every project it may
//! read (a private project's to its members, a confidential issue as
//! `Access::read_issue` allows).

use axum::extract::State;
use axum::http::StatusCode;
use serde_json::json;

use super::list::{IssueQuery, compare_issues};
use crate::api::access::Caller;
use crate::api::extract::{Req, Shared};
use crate::api::pagination::paginate_with;
use crate::api::reply::{ApiResult, json_status};
use crate::error::ApiError;
use crate::model::{Issue, IssueState, Project, State as Data};
use crate::params::Params;

/// Whose issues `scope` asks for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Scope {
    CreatedByMe,
    AssignedToMe,
    All,
}

impl Scope {
    /// `scope`, dashed or underscored as GitLab accepts it.
    fn parse(p: &Params) -> Result<Self, ApiError> {
        match p.get("scope").unwrap_or("created_by_me") {
            "created_by_me" | "created-by-me" => Ok(Scope::CreatedByMe),
            "assigned_to_me" | "assigned-to-me" => Ok(Scope::AssignedToMe),
            "all" => Ok(Scope::All),
            _ => Err(ApiError::bad_request_error(
                "scope does not have a valid value".into(),
            )),
        }
    }

    fn keeps(self, caller: Caller, issue: &Issue) -> bool {
        match self {
            Scope::CreatedByMe => issue.author_id == caller.0,
            Scope::AssignedToMe => issue.assignee_ids.contains(&caller.0),
            Scope::All => true,
        }
    }
}

/// Every issue `query` and `scope` select in the projects `caller` may read.
fn select<'s>(
    state: &'s Data,
    caller: Caller,
    query: &IssueQuery,
    scope: Scope,
) -> Vec<(&'s Project, &'s Issue)> {
    let mut selected = Vec::new();
    for project in &state.projects {
        let access = caller.access(state, project);
        if !access.read_project() {
            continue;
        }
        selected.extend(
            project
                .issues
                .iter()
                .filter(|i| query.keeps(i) && scope.keeps(caller, i) && access.read_issue(i))
                .map(|i| (project, i)),
        );
    }
    selected
}

/// `GET /issues`: offset pages, ordered as asked (`created_at` descending by default).
pub(in crate::api) async fn list_all_issues(
    State(app): Shared,
    caller: Caller,
    req: Req,
) -> ApiResult {
    let query = IssueQuery::parse(&req.params)?;
    let scope = Scope::parse(&req.params)?;
    let state = app.state.lock();
    let mut selected = select(&state, caller, &query, scope);
    selected.sort_by(|(pa, a), (pb, b)| {
        let ord = compare_issues(a, b, &query.order_by).then(pa.id.cmp(&pb.id));
        if query.desc { ord.reverse() } else { ord }
    });
    let render = app.render(&state);
    paginate_with(&app, &req, selected, |(p, i)| render.issue_json(p, i))
}

/// `GET /issues_statistics`: `{"statistics": {"counts": {"all", "closed", "opened"}}}`
/// of the issues the same filters select (`state` aside: the counts are per state).
pub(in crate::api) async fn issues_statistics(
    State(app): Shared,
    caller: Caller,
    req: Req,
) -> ApiResult {
    let without_state = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(req.params.pairs().iter().filter(|(k, _)| k != "state"))
        .finish();
    let params = Params::parse(&axum::http::HeaderMap::new(), Some(&without_state), &[])?;
    let query = IssueQuery::parse(&params)?;
    let scope = Scope::parse(&req.params)?;
    let state = app.state.lock();
    let selected = select(&state, caller, &query, scope);
    let opened = selected
        .iter()
        .filter(|(_, i)| i.state == IssueState::Opened)
        .count();
    Ok(json_status(
        StatusCode::OK,
        json!({"statistics": {"counts": {
            "all": selected.len(),
            "closed": selected.len() - opened,
            "opened": opened,
        }}}),
    ))
}
