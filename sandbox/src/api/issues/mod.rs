//! Issues: get and create here; listing in `list.rs`, editing in `edit.rs`, quick
//! actions in `commands.rs`, linked issues in `links.rs` (GitLab: `lib/api/issues.rb`, the rules of
//! `app/services/issuable_base_service.rb`). Labels and assignees the caller may not
//! set are dropped silently, never refused.

mod commands;
mod edit;
mod global;
mod links;
mod list;

use axum::extract::{Path, State};
use axum::response::IntoResponse as _;

use super::access::Caller;
use super::extract::{Req, Shared};
use super::labels::{ensure_labels, exclusive_scopes};
use super::projects::project_idx;
use super::reply::{ApiResult, created, ok};
use crate::error::ApiError;
use crate::model::{Issue, Project, State as Data};
use crate::params::Params;
use crate::policy::Access;
use crate::quick_actions;
use crate::{LabelTitles, Tier};
use commands::{Target, Updates};

pub(super) use edit::edit_issue;
pub(super) use global::{issues_statistics, list_all_issues};
pub(super) use links::list_issue_links;
pub(super) use list::list_issues;

const TITLE_MAX: usize = 255;
/// `Issuable::DESCRIPTION_LENGTH_MAX`: `1.megabyte`, counted in bytes.
const DESCRIPTION_MAX_BYTES: usize = 1_048_576;

/// The index of the issue with `iid` in `project`; anything else is a bare 404.
pub(super) fn find_issue(project: &Project, iid: &str) -> Result<usize, ApiError> {
    let iid: u64 = iid.parse().map_err(|_| ApiError::not_found_plain())?;
    project
        .issues
        .iter()
        .position(|i| i.iid == iid)
        .ok_or_else(ApiError::not_found_plain)
}

/// The index of an issue the caller may read: a confidential one they may not is
/// missing to them (`find_project_issue` looks through `IssuesFinder`), the same 404.
pub(super) fn find_readable_issue(
    state: &Data,
    pi: usize,
    iid: &str,
    caller: Caller,
) -> Result<usize, ApiError> {
    let project = &state.projects[pi];
    let ii = find_issue(project, iid)?;
    if caller
        .access(state, project)
        .read_issue(&project.issues[ii])
    {
        Ok(ii)
    } else {
        Err(ApiError::not_found_plain())
    }
}

/// `GET /projects/:id/issues/:iid`.
pub(super) async fn get_issue(
    State(app): Shared,
    caller: Caller,
    Path((id, iid)): Path<(String, String)>,
) -> ApiResult {
    let state = app.state.lock();
    let pi = project_idx(&state, &id)?;
    let ii = find_readable_issue(&state, pi, &iid, caller)?;
    let project = &state.projects[pi];
    ok(app.render(&state).issue(project, &project.issues[ii]))
}

/// `DELETE /projects/:id/issues/:iid` (`lib/api/issues.rb`): needs `destroy_issue`,
/// which `app/policies/project_policy.rb` gives Planners (`planner_access`), Owners
/// (`owner_access`) and admins, not Reporters, Developers or Maintainers; answers
/// `204 No Content`. The issue is gone from every list at once.
pub(super) async fn delete_issue(
    State(app): Shared,
    caller: Caller,
    Path((id, iid)): Path<(String, String)>,
) -> ApiResult {
    let mut state = app.state.lock();
    let pi = project_idx(&state, &id)?;
    let ii = find_readable_issue(&state, pi, &iid, caller)?;
    if !caller.access(&state, &state.projects[pi]).destroy_issue() {
        return Err(ApiError::forbidden());
    }
    state.projects[pi].issues.remove(ii);
    Ok(axum::http::StatusCode::NO_CONTENT.into_response())
}

/// A title as GitLab stores it: `strip_attributes! :title` in
/// `app/models/concerns/issuable.rb` strips leading and trailing whitespace before
/// validation, as Ruby's `String#strip` does (space, `\t`, `\n`, `\v`, `\f`, `\r`, NUL).
pub(super) fn stripped_title(title: &str) -> String {
    title
        .trim_matches(|c| matches!(c, ' ' | '\t' | '\n' | '\u{b}' | '\u{c}' | '\r' | '\0'))
        .to_owned()
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

/// GitLab limits a description in bytes, not characters (`app/models/concerns/issuable.rb`:
/// `bytesize: { maximum: -> { DESCRIPTION_LENGTH_MAX } }`), with the message of
/// `app/validators/bytesize_validator.rb`.
pub(super) fn validate_description(description: &str) -> Result<(), ApiError> {
    let size = description.len();
    if size > DESCRIPTION_MAX_BYTES {
        let message = format!(
            "is too long ({}). The maximum size is {}.",
            human_size(size),
            human_size(DESCRIPTION_MAX_BYTES)
        );
        return Err(ApiError::invalid("description", &message));
    }
    Ok(())
}

/// A size as Rails' `number_to_human_size` writes it: powers of 1024, three significant
/// digits, no trailing zeros (`1.14 MB`, `1 MB`, `512 KB`, `12 Bytes`).
fn human_size(bytes: usize) -> String {
    if bytes < 1024 {
        return if bytes == 1 {
            "1 Byte".to_owned()
        } else {
            format!("{bytes} Bytes")
        };
    }
    let units = ["KB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < units.len() {
        value /= 1024.0;
        unit += 1;
    }
    let digits = value.log10().floor() as i32 + 1;
    let decimals = (3 - digits).max(0) as usize;
    if digits > 3 {
        // Three significant digits also above 999: 1023.9 KB is `1020 KB`.
        let step = 10f64.powi(digits - 3);
        value = (value / step).round() * step;
    }
    let text = format!("{value:.decimals$}");
    let text = if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.')
    } else {
        &text
    };
    format!("{text} {}", units[unit - 1])
}

/// The labels and assignees a create or an edit asks for, from its parameters; quick
/// actions add theirs in [`Metadata::merge`].
#[derive(Debug, Default)]
struct Metadata {
    /// `labels`: the whole set, found or created.
    labels: Option<Vec<String>>,
    /// `add_labels`, found or created.
    add_labels: Vec<String>,
    /// `remove_labels`, never created.
    remove_labels: Vec<String>,
    /// Existing labels `/label` adds.
    command_add: Vec<String>,
    /// What `/relabel` or a bare `/unlabel` sets.
    command_replace: Option<Vec<String>>,
    /// `assignee_ids` (or `assignee_id`) as sent; user ids once merged with commands.
    assignees: Option<Vec<String>>,
}

impl Metadata {
    fn parse(p: &Params) -> Metadata {
        Metadata {
            labels: p.list("labels"),
            add_labels: p.list("add_labels").unwrap_or_default(),
            remove_labels: p.list("remove_labels").unwrap_or_default(),
            command_add: Vec::new(),
            command_replace: None,
            assignees: p
                .list("assignee_ids")
                .or_else(|| p.get("assignee_id").map(|v| vec![v.to_owned()])),
        }
    }

    /// Folds in what quick actions decided (they were checked already), over the
    /// parameters, as `params.merge!(command_params)` does.
    fn merge(&mut self, updates: &mut Updates) {
        self.command_add = std::mem::take(&mut updates.add_labels);
        self.remove_labels.append(&mut updates.remove_labels);
        self.command_replace = updates.replace_labels.take();
        if let Some(ids) = updates.assignees.take() {
            self.assignees = Some(ids.iter().map(u64::to_string).collect());
        }
    }

    /// The new label set, or `None` when nothing about labels was asked. Missing labels
    /// are created only if `may_create`; on Premium scoped labels exclude each other.
    fn resolve_labels(
        &self,
        state: &mut Data,
        pi: usize,
        existing: &[String],
        may_create: bool,
        tier: Tier,
        titles: LabelTitles,
    ) -> Option<Vec<String>> {
        if self.labels.is_none()
            && self.command_replace.is_none()
            && self.add_labels.is_empty()
            && self.command_add.is_empty()
            && self.remove_labels.is_empty()
        {
            return None;
        }
        let replace = match &self.command_replace {
            Some(r) => Some(r.clone()),
            None => self
                .labels
                .as_ref()
                .map(|l| ensure_labels(state, pi, l, may_create, titles)),
        };
        let mut add = ensure_labels(state, pi, &self.add_labels, may_create, titles);
        add.extend(self.command_add.iter().cloned());
        let mut new = replace.clone().unwrap_or_else(|| existing.to_vec());
        for l in &add {
            if !new.contains(l) {
                new.push(l.clone());
            }
        }
        new.retain(|l| !self.remove_labels.contains(l));
        if tier == Tier::Premium {
            let chosen: Vec<String> = add.into_iter().chain(replace.unwrap_or_default()).collect();
            new = exclusive_scopes(existing, new, &chosen);
        }
        Some(new)
    }
}

/// Assignees as `filter_assignees_using_checks` keeps them: on Free only the first id
/// sent, before anything else is checked; `0` alone means nobody; ids of users who
/// cannot read the project are dropped; if none is left the parameter is ignored
/// (`None`: assignees unchanged). An empty list unassigns everyone.
fn resolve_assignees(state: &Data, pi: usize, raw: &[String], tier: Tier) -> Option<Vec<u64>> {
    if raw.is_empty() {
        return Some(Vec::new());
    }
    let raw = if tier == Tier::Free { &raw[..1] } else { raw };
    if raw == ["0"] {
        return Some(Vec::new());
    }
    let project = &state.projects[pi];
    let mut ids: Vec<u64> = Vec::new();
    for id in raw.iter().filter_map(|v| v.parse::<u64>().ok()) {
        // An assignee is checked outside any request's admin mode: an administrator's
        // powers count only while the `admin_mode` setting is off.
        let readable = state.user(id).is_some_and(|u| {
            Access::of(state, project, id)
                .as_admin(u.is_admin && !state.admin_mode)
                .read_project()
        });
        if readable && !ids.contains(&id) {
            ids.push(id);
        }
    }
    (!ids.is_empty()).then_some(ids)
}

/// Runs the quick actions of `description` for `target`: the description without its
/// command lines, and what the available commands change.
fn run_quick_actions(description: &str, target: &Target<'_>) -> (String, Updates) {
    let (text, commands) = quick_actions::extract(description);
    (text, target.interpret(&commands))
}

/// `POST /projects/:id/issues`: the next iid, opened, by the caller. Labels and
/// assignees need `set_issue_metadata` (members and admins on a new issue; a
/// non-member of a public project may create but they are dropped); missing labels
/// are created only for those who may create labels.
pub(super) async fn create_issue(
    State(app): Shared,
    caller: Caller,
    Path(id): Path<String>,
    req: Req,
) -> ApiResult {
    let p = &req.params;
    let mut state = app.state.lock();
    let pi = project_idx(&state, &id)?;
    let title = stripped_title(p.get("title").ok_or_else(|| ApiError::missing("title"))?);
    validate_title(&title)?;
    let access = caller.access(&state, &state.projects[pi]);
    let mut meta = Metadata::parse(p);
    let mut description = p.get("description").map(str::to_owned);
    if let Some(d) = &description {
        let target = Target {
            state: &state,
            project: &state.projects[pi],
            issue: None,
            access,
            tier: app.tier,
        };
        let (text, mut updates) = run_quick_actions(d, &target);
        meta.merge(&mut updates);
        description = Some(text);
    }
    if let Some(d) = &description {
        validate_description(d)?;
    }
    let confidential = p.bool("confidential")?.unwrap_or(false);
    // `lib/api/issues.rb`: `values: WorkItems::Type.allowed_types_for_issues`.
    let issue_type = p.get("issue_type").unwrap_or("issue").to_owned();
    if !["issue", "incident", "test_case", "task"].contains(&issue_type.as_str()) {
        return Err(ApiError::bad_request_error(
            "issue_type does not have a valid value".into(),
        ));
    }
    if !access.set_issue_metadata(false) {
        meta = Metadata::default();
    }
    let assignee_ids = meta
        .assignees
        .as_ref()
        .and_then(|raw| resolve_assignees(&state, pi, raw, app.tier))
        .unwrap_or_default();
    let labels = meta
        .resolve_labels(
            &mut state,
            pi,
            &[],
            access.admin_label(),
            app.tier,
            app.label_titles,
        )
        .unwrap_or_default();
    let issue_id = state.next_id();
    let now = crate::model::now();
    let project = &mut state.projects[pi];
    // Issues are kept in iid order, so the last one has the highest iid.
    let iid = project.issues.last().map_or(0, |i| i.iid) + 1;
    project.issues.push(Issue {
        id: issue_id,
        iid,
        title,
        description,
        state: crate::model::IssueState::Opened,
        labels,
        assignee_ids,
        author_id: caller.0,
        confidential,
        issue_type,
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

#[cfg(test)]
mod tests {
    use super::human_size;

    #[test]
    fn sizes_read_as_rails_writes_them() {
        assert_eq!(human_size(1), "1 Byte");
        assert_eq!(human_size(1023), "1023 Bytes");
        assert_eq!(human_size(1024), "1 KB");
        assert_eq!(human_size(1_048_575), "1020 KB");
        assert_eq!(human_size(1_048_576), "1 MB");
        assert_eq!(human_size(1_048_577), "1 MB");
        assert_eq!(human_size(1_200_000), "1.14 MB");
        assert_eq!(human_size(1_572_864), "1.5 MB");
        assert_eq!(human_size(11_010_048), "10.5 MB");
    }
}
