//! Listing a project's issues: filters, word search, sort, and offset or keyset pages
//! (GitLab: `lib/api/issues.rb`, filtering as `app/finders/issues_finder.rb`).

use std::cmp::Ordering;

use axum::extract::{Path, State};
use chrono::{DateTime, Utc};

use crate::api::access::Caller;
use crate::api::extract::{Req, Shared, parse_time};
use crate::api::pagination::{SortKey, keyset, paginate_with};
use crate::api::projects::project_idx;
use crate::api::reply::ApiResult;
use crate::error::ApiError;
use crate::model::{Issue, Project, ts};
use crate::params::Params;

/// The `order_by` values GitLab accepts (`lib/api/helpers/issues_helpers.rb`
/// `sort_options`, and EE's `weight`); anything else, `id` included, is Grape's `400
/// order_by does not have a valid value`. Those the sandbox has no data for sort as
/// `created_at`.
const ORDER_BY: [&str; 10] = [
    "created_at",
    "updated_at",
    "title",
    "priority",
    "due_date",
    "relative_position",
    "label_priority",
    "milestone_due",
    "popularity",
    "weight",
];

/// The orders project issues are keyset-paginated by (`Issue.supported_keyset_orderings`,
/// gitlab-org/gitlab!199887, GitLab 18.3): the others need joins, and a
/// `pagination=keyset` request with one of them gets offset pages instead.
const KEYSET_ORDER_BY: [&str; 6] = [
    "created_at",
    "updated_at",
    "title",
    "due_date",
    "relative_position",
    "weight",
];

/// `GET /projects/:id/issues`.
///
/// Confidential issues the caller may not read are left out, as `IssuesFinder` does.
pub(in crate::api) async fn list_issues(
    State(app): Shared,
    caller: Caller,
    Path(id): Path<String>,
    req: Req,
) -> ApiResult {
    let query = IssueQuery::parse(&req.params)?;
    let state = app.state.lock();
    let pi = project_idx(&state, &id)?;
    let project = &state.projects[pi];
    let access = caller.access(&state, project);
    let mut selected = query.select(project);
    selected.retain(|i| access.read_issue(i));
    let render = app.render(&state);
    if query.keyset && KEYSET_ORDER_BY.contains(&query.order_by.as_str()) {
        let key = |i: &Issue| issue_sort_key(i, &query.order_by);
        return keyset(&app, &req, &selected, query.desc, key, |i| {
            render.issue(project, i)
        });
    }
    paginate_with(&app, &req, selected, |i| render.issue_json(project, i))
}

/// The filters and order of an issue list, checked before anything is looked up.
pub(super) struct IssueQuery {
    state: String,
    labels: Option<Vec<String>>,
    iids: Option<Vec<u64>>,
    search: Option<String>,
    in_fields: Vec<String>,
    created_after: Option<DateTime<Utc>>,
    created_before: Option<DateTime<Utc>>,
    updated_after: Option<DateTime<Utc>>,
    updated_before: Option<DateTime<Utc>>,
    assignee: Option<String>,
    /// `author_id`: `issues_params`' `optional :author_id, type: Integer`
    /// (`lib/api/issues.rb`), `IssuableFinder#by_author`.
    author: Option<i64>,
    confidential: Option<bool>,
    pub(super) order_by: String,
    pub(super) desc: bool,
    keyset: bool,
}

impl IssueQuery {
    /// Reads the parameters; the first invalid one, in this order, is the error.
    pub(super) fn parse(p: &Params) -> Result<Self, ApiError> {
        let state = p.get("state").unwrap_or("all").to_owned();
        if !matches!(state.as_str(), "opened" | "closed" | "all") {
            return Err(ApiError::bad_request_error(
                "state does not have a valid value".into(),
            ));
        }
        let labels = p.list("labels");
        let iids = p
            .list("iids")
            .map(|v| v.iter().filter_map(|s| s.parse().ok()).collect());
        let search = p.get("search").map(str::to_owned);
        let in_fields = p.list("in").unwrap_or_default();
        let created_after = parse_time(p, "created_after")?;
        let created_before = parse_time(p, "created_before")?;
        let updated_after = parse_time(p, "updated_after")?;
        let updated_before = parse_time(p, "updated_before")?;
        let assignee = p.get("assignee_id").map(str::to_owned);
        let author = p.int("author_id")?;
        let confidential = p.bool("confidential")?;
        let order_by = p.get("order_by").unwrap_or("created_at").to_owned();
        if !ORDER_BY.contains(&order_by.as_str()) {
            return Err(ApiError::bad_request_error(
                "order_by does not have a valid value".into(),
            ));
        }
        let desc = match p.get("sort").unwrap_or("desc") {
            "asc" => false,
            "desc" => true,
            _ => {
                return Err(ApiError::bad_request_error(
                    "sort does not have a valid value".into(),
                ));
            }
        };
        Ok(IssueQuery {
            state,
            labels,
            iids,
            search,
            in_fields,
            created_after,
            created_before,
            updated_after,
            updated_before,
            assignee,
            author,
            confidential,
            order_by,
            desc,
            keyset: p.get("pagination") == Some("keyset"),
        })
    }

    /// The project's issues that pass every filter, in the order asked for.
    fn select<'p>(&self, project: &'p Project) -> Vec<&'p Issue> {
        let mut selected: Vec<&Issue> = project.issues.iter().filter(|i| self.keeps(i)).collect();
        selected.sort_by(|a, b| {
            let ord = compare_issues(a, b, &self.order_by);
            if self.desc { ord.reverse() } else { ord }
        });
        selected
    }

    pub(super) fn keeps(&self, i: &Issue) -> bool {
        (self.state == "all" || i.state.as_str() == self.state)
            && labels_match(i, self.labels.as_deref())
            && self.iids.as_ref().is_none_or(|ids| ids.contains(&i.iid))
            && self
                .search
                .as_ref()
                .is_none_or(|q| matches_search(i, q, &self.in_fields))
            && self.created_after.is_none_or(|t| i.created_at >= t)
            && self.created_before.is_none_or(|t| i.created_at <= t)
            && self.updated_after.is_none_or(|t| i.updated_at >= t)
            && self.updated_before.is_none_or(|t| i.updated_at <= t)
            && self.confidential.is_none_or(|c| i.confidential == c)
            && assignee_matches(i, self.assignee.as_deref())
            && self.author.is_none_or(|a| i.author_id as i64 == a)
    }
}

/// `labels=a,b` wants all of them; a lone `None` or `Any` asks for no or some label.
fn labels_match(i: &Issue, wanted: Option<&[String]>) -> bool {
    match wanted {
        None => true,
        Some([only]) if only.eq_ignore_ascii_case("none") => i.labels.is_empty(),
        Some([only]) if only.eq_ignore_ascii_case("any") => !i.labels.is_empty(),
        // Titles match exactly, case included (`app/finders/issuables/label_filter.rb`:
        // `where(title: label_names)`); only the wildcards ignore case.
        Some(wanted) => wanted.iter().all(|l| i.labels.contains(l)),
    }
}

/// `assignee_id` is a user id, or `None` / `Any`.
fn assignee_matches(i: &Issue, assignee: Option<&str>) -> bool {
    match assignee {
        None => true,
        Some(a) if a.eq_ignore_ascii_case("none") => i.assignee_ids.is_empty(),
        Some(a) if a.eq_ignore_ascii_case("any") => !i.assignee_ids.is_empty(),
        Some(a) => a
            .parse::<u64>()
            .is_ok_and(|id| i.assignee_ids.contains(&id)),
    }
}

/// GitLab's `search` matches words, not substrings.
fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
}

/// Every word of `query` is in the fields `in` names (title and description unless
/// it names some).
fn matches_search(issue: &Issue, query: &str, in_fields: &[String]) -> bool {
    let mut haystack: Vec<String> = Vec::new();
    let fields: Vec<&str> = if in_fields.is_empty() {
        vec!["title", "description"]
    } else {
        in_fields.iter().map(String::as_str).collect()
    };
    if fields.contains(&"title") {
        haystack.extend(words(&issue.title));
    }
    if fields.contains(&"description") {
        haystack.extend(words(issue.description.as_deref().unwrap_or("")));
    }
    words(query).all(|w| haystack.contains(&w))
}

/// The order `issue_sort_key` gives, without building the keys (lists sort often).
pub(super) fn compare_issues(a: &Issue, b: &Issue, order_by: &str) -> Ordering {
    let primary = match order_by {
        "updated_at" => a.updated_at.cmp(&b.updated_at),
        "title" => a.title.to_lowercase().cmp(&b.title.to_lowercase()),
        _ => a.created_at.cmp(&b.created_at),
    };
    primary.then(a.id.cmp(&b.id))
}

/// An issue's position in a sort order, as a keyset cursor stores it.
fn issue_sort_key(issue: &Issue, order_by: &str) -> SortKey {
    let key = match order_by {
        "updated_at" => ts(issue.updated_at),
        "title" => issue.title.to_lowercase(),
        _ => ts(issue.created_at),
    };
    (key, issue.id)
}
