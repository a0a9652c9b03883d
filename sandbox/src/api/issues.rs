//! Issues: list (filters, search, sort, offset or keyset pages), get, create, edit
//! (GitLab: `lib/api/issues.rb`; filtering as `app/finders/issues_finder.rb`, edits as
//! `app/services/issues/update_service.rb`).

use std::cmp::Ordering;

use axum::extract::{Path, State};
use chrono::{DateTime, Utc};

use super::extract::{Req, Shared, parse_time};
use super::labels::ensure_labels;
use super::pagination::{SortKey, keyset, paginate_with};
use super::projects::project_idx;
use super::reply::{ApiResult, created, ok};
use crate::error::ApiError;
use crate::model::{Issue, Project, State as Data, ts};
use crate::params::Params;

const TITLE_MAX: usize = 255;
const DESCRIPTION_MAX: usize = 1_048_576;

/// The `order_by` values GitLab accepts; those the sandbox has no data for sort as
/// `created_at`.
const ORDER_BY: [&str; 11] = [
    "created_at",
    "updated_at",
    "title",
    "id",
    "priority",
    "due_date",
    "relative_position",
    "label_priority",
    "milestone_due",
    "popularity",
    "weight",
];

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

/// `GET /projects/:id/issues`.
pub(super) async fn list_issues(State(app): Shared, Path(id): Path<String>, req: Req) -> ApiResult {
    let query = IssueQuery::parse(&req.params)?;
    let state = app.state.lock();
    let pi = project_idx(&state, &id)?;
    let project = &state.projects[pi];
    let selected = query.select(project);
    let render = app.render(&state);
    if query.keyset {
        let key = |i: &Issue| issue_sort_key(i, &query.order_by);
        return keyset(&app, &req, &selected, query.desc, key, |i| {
            render.issue(project, i)
        });
    }
    paginate_with(&app, &req, selected, |i| render.issue_json(project, i))
}

/// The filters and order of an issue list, checked before anything is looked up.
struct IssueQuery {
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
    confidential: Option<bool>,
    order_by: String,
    desc: bool,
    keyset: bool,
}

impl IssueQuery {
    /// Reads the parameters; the first invalid one, in this order, is the error.
    fn parse(p: &Params) -> Result<Self, ApiError> {
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

    fn keeps(&self, i: &Issue) -> bool {
        (self.state == "all" || i.state == self.state)
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
    }
}

/// `labels=a,b` wants all of them; a lone `None` or `Any` asks for no or some label.
fn labels_match(i: &Issue, wanted: Option<&[String]>) -> bool {
    match wanted {
        None => true,
        Some([only]) if only.eq_ignore_ascii_case("none") => i.labels.is_empty(),
        Some([only]) if only.eq_ignore_ascii_case("any") => !i.labels.is_empty(),
        Some(wanted) => wanted
            .iter()
            .all(|l| i.labels.iter().any(|have| have.eq_ignore_ascii_case(l))),
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
fn compare_issues(a: &Issue, b: &Issue, order_by: &str) -> Ordering {
    let primary = match order_by {
        "updated_at" => a.updated_at.cmp(&b.updated_at),
        "title" => a.title.to_lowercase().cmp(&b.title.to_lowercase()),
        "id" => Ordering::Equal,
        _ => a.created_at.cmp(&b.created_at),
    };
    primary.then(a.id.cmp(&b.id))
}

/// An issue's position in a sort order, as a keyset cursor stores it.
fn issue_sort_key(issue: &Issue, order_by: &str) -> SortKey {
    let key = match order_by {
        "updated_at" => ts(issue.updated_at),
        "title" => issue.title.to_lowercase(),
        "id" => format!("{:020}", issue.id),
        _ => ts(issue.created_at),
    };
    (key, issue.id)
}

/// The index of the issue with `iid` in `project`; anything else is a bare 404.
pub(super) fn find_issue(project: &Project, iid: &str) -> Result<usize, ApiError> {
    let iid: u64 = iid.parse().map_err(|_| ApiError::not_found_plain())?;
    project
        .issues
        .iter()
        .position(|i| i.iid == iid)
        .ok_or_else(ApiError::not_found_plain)
}

/// `GET /projects/:id/issues/:iid`.
pub(super) async fn get_issue(
    State(app): Shared,
    Path((id, iid)): Path<(String, String)>,
) -> ApiResult {
    let state = app.state.lock();
    let pi = project_idx(&state, &id)?;
    let project = &state.projects[pi];
    let ii = find_issue(project, &iid)?;
    ok(app.render(&state).issue(project, &project.issues[ii]))
}

fn validate_title(title: &str) -> Result<(), ApiError> {
    if title.trim().is_empty() {
        return Err(ApiError::invalid("title", "can't be blank"));
    }
    if title.chars().count() > TITLE_MAX {
        return Err(ApiError::invalid(
            "title",
            "is too long (maximum is 255 characters)",
        ));
    }
    Ok(())
}

fn validate_description(description: &str) -> Result<(), ApiError> {
    if description.chars().count() > DESCRIPTION_MAX {
        return Err(ApiError::invalid(
            "description",
            "is too long (maximum is 1048576 characters)",
        ));
    }
    Ok(())
}

/// Assignees as GitLab Free keeps them: the first id of a user that exists, or none.
fn assignees(state: &Data, params: &Params) -> Option<Vec<u64>> {
    let raw = params
        .list("assignee_ids")
        .or_else(|| params.get("assignee_id").map(|v| vec![v.to_owned()]))?;
    let ids: Vec<u64> = raw
        .iter()
        .filter_map(|v| v.parse().ok())
        .filter(|id| *id != 0 && state.user(*id).is_some())
        .collect();
    Some(ids.into_iter().take(1).collect())
}

/// `POST /projects/:id/issues`: the next iid, opened, by `root`; unknown labels become
/// project labels.
pub(super) async fn create_issue(
    State(app): Shared,
    Path(id): Path<String>,
    req: Req,
) -> ApiResult {
    let p = &req.params;
    let mut state = app.state.lock();
    let pi = project_idx(&state, &id)?;
    let title = p
        .get("title")
        .ok_or_else(|| ApiError::missing("title"))?
        .to_owned();
    validate_title(&title)?;
    let description = p.get("description").map(str::to_owned);
    if let Some(d) = &description {
        validate_description(d)?;
    }
    let confidential = p.bool("confidential")?.unwrap_or(false);
    let assignee_ids = assignees(&state, p).unwrap_or_default();
    let labels = ensure_labels(&mut state, pi, &p.list("labels").unwrap_or_default());
    let now = crate::model::now();
    let issue_id = state.next_id();
    let project = &mut state.projects[pi];
    // Issues are kept in iid order, so the last one has the highest iid.
    let iid = project.issues.last().map_or(0, |i| i.iid) + 1;
    project.issues.push(Issue {
        id: issue_id,
        iid,
        title,
        description,
        state: "opened".to_owned(),
        labels,
        assignee_ids,
        author_id: app.root_id,
        confidential,
        created_at: now,
        updated_at: now,
        closed_at: None,
        closed_by: None,
        notes: Vec::new(),
    });
    let project = &state.projects[pi];
    created(
        app.render(&state)
            .issue(project, project.issues.last().expect("just pushed")),
    )
}

/// `PUT /projects/:id/issues/:iid`: `updated_at` moves only if something changed.
pub(super) async fn edit_issue(
    State(app): Shared,
    Path((id, iid)): Path<(String, String)>,
    req: Req,
) -> ApiResult {
    let mut state = app.state.lock();
    let pi = project_idx(&state, &id)?;
    let ii = find_issue(&state.projects[pi], &iid)?;
    let edit = IssueEdit::parse(&mut state, pi, &req.params)?;
    let now = crate::model::now();
    let issue = &mut state.projects[pi].issues[ii];
    let before = serde_json::to_value(&*issue).expect("an issue serialises");
    edit.apply(issue, now, app.root_id);
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
    state_event: Option<String>,
    confidential: Option<bool>,
    assignees: Option<Vec<u64>>,
    replace_labels: Option<Vec<String>>,
    add_labels: Option<Vec<String>>,
    remove_labels: Option<Vec<String>>,
}

impl IssueEdit {
    /// Reads and checks the parameters. Labels named in `labels` or `add_labels` that
    /// do not exist become project labels here, once every check has passed.
    fn parse(state: &mut Data, pi: usize, p: &Params) -> Result<Self, ApiError> {
        if !EDIT_PARAMS.iter().any(|k| p.has(k)) {
            return Err(ApiError::bad_request_error(format!(
                "{} are missing, at least one parameter must be provided",
                EDIT_PARAMS.join(", ")
            )));
        }
        let title = p.get("title").map(str::to_owned);
        if let Some(t) = &title {
            validate_title(t)?;
        }
        let description = p.get("description").map(str::to_owned);
        if let Some(d) = &description {
            validate_description(d)?;
        }
        let state_event = p.get("state_event").map(str::to_owned);
        if let Some(e) = &state_event
            && e != "close"
            && e != "reopen"
        {
            return Err(ApiError::bad_request_error(
                "state_event does not have a valid value".into(),
            ));
        }
        let confidential = p.bool("confidential")?;
        let assignees = if p.has("assignee_ids") || p.has("assignee_id") {
            assignees(state, p)
        } else {
            None
        };
        Ok(IssueEdit {
            title,
            description,
            state_event,
            confidential,
            assignees,
            replace_labels: p.list("labels").map(|l| ensure_labels(state, pi, &l)),
            add_labels: p.list("add_labels").map(|l| ensure_labels(state, pi, &l)),
            remove_labels: p.list("remove_labels"),
        })
    }

    /// Makes the changes; closing sets who and when, reopening clears them.
    fn apply(self, issue: &mut Issue, now: DateTime<Utc>, root: u64) {
        if let Some(t) = self.title {
            issue.title = t;
        }
        if let Some(d) = self.description {
            issue.description = Some(d);
        }
        if let Some(c) = self.confidential {
            issue.confidential = c;
        }
        if let Some(a) = self.assignees {
            issue.assignee_ids = a;
        }
        if let Some(l) = self.replace_labels {
            issue.labels = l;
        }
        for l in self.add_labels.unwrap_or_default() {
            if !issue.labels.contains(&l) {
                issue.labels.push(l);
            }
        }
        if let Some(remove) = self.remove_labels {
            issue
                .labels
                .retain(|have| !remove.iter().any(|r| r.eq_ignore_ascii_case(have)));
        }
        match self.state_event.as_deref() {
            Some("close") if issue.state == "opened" => {
                issue.state = "closed".to_owned();
                issue.closed_at = Some(now);
                issue.closed_by = Some(root);
            }
            Some("reopen") if issue.state == "closed" => {
                issue.state = "opened".to_owned();
                issue.closed_at = None;
                issue.closed_by = None;
            }
            _ => {}
        }
    }
}
