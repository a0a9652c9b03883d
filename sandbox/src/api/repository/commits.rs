//! Commits: a commit of several file actions (`lib/api/commits.rb`, checks as
//! `app/services/commits/create_service.rb`) and the commit entity.

use axum::extract::{Path, State};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Value, json};

use super::compare::diffs;
use super::git::{ActionKind, CommitInfo, FileAction, Graph, commit_actions};
use super::required;
use crate::App;
use crate::api::extract::{Req, Shared};
use crate::api::hooks::announce;
use crate::api::projects::project_idx;
use crate::api::reply::{ApiResult, created};
use crate::error::ApiError;
use crate::model::{Commit, Project, ts};
use crate::params::Params;

/// `lib/api/entities/commit.rb`.
pub(in crate::api) fn commit_json(app: &App, project: &Project, c: &Commit) -> Value {
    let web = format!("{}/{}", app.base_url, project.path_with_namespace);
    let at = ts(c.created_at);
    json!({
        "id": c.id,
        "short_id": &c.id[..c.id.len().min(8)],
        "created_at": at,
        "parent_ids": c.parent_ids,
        "title": title(&c.message),
        "message": c.message,
        "author_name": c.author_name,
        "author_email": author_email(&c.author_name),
        "authored_date": at,
        "committer_name": c.author_name,
        "committer_email": author_email(&c.author_name),
        "committed_date": at,
        "trailers": {},
        "extended_trailers": {},
        "web_url": format!("{web}/-/commit/{}", c.id),
    })
}

/// A commit's first line (`Commit#full_title`).
pub(in crate::api) fn title(message: &str) -> &str {
    message.lines().next().unwrap_or("")
}

/// The sandbox keeps author names only; root's address is GitLab's default one.
pub(in crate::api) fn author_email(name: &str) -> String {
    if name == "Administrator" {
        "admin@example.com".to_owned()
    } else {
        format!("{}@example.com", name.to_lowercase().replace(' ', "."))
    }
}

/// `POST /projects/:id/repository/commits`: `branch`, `commit_message`, `actions[]`,
/// optional `start_branch`, `author_name`. 201 with `Entities::CommitDetail`.
pub(in crate::api) async fn create_commit(
    State(app): Shared,
    Path(id): Path<String>,
    req: Req,
) -> ApiResult {
    let branch = required(&req.params, "branch")?.to_owned();
    let message = required(&req.params, "commit_message")?.to_owned();
    let actions = parse_actions(&req.params)?;
    let start = req.params.get("start_branch").filter(|s| !s.is_empty());
    let author = req
        .params
        .get("author_name")
        .unwrap_or("Administrator")
        .to_owned();
    let mut state = app.state.lock();
    let pi = project_idx(&state, &id)?;
    let project = &mut state.projects[pi];
    let info = CommitInfo {
        message: &message,
        author: &author,
    };
    let push = commit_actions(project, &branch, start, info, &actions)?;
    let project = &state.projects[pi];
    announce(&app, project, &push);
    let commit = project.commits.last().expect("just committed");
    let (additions, deletions) = commit_stats(project, commit);
    let mut body = commit_json(&app, project, commit);
    if let Value::Object(map) = &mut body {
        map.insert(
            "stats".into(),
            json!({"additions": additions, "deletions": deletions, "total": additions + deletions}),
        );
        map.insert("status".into(), Value::Null);
        map.insert("project_id".into(), json!(project.id));
        map.insert("last_pipeline".into(), Value::Null);
    }
    created(body)
}

/// Lines added and removed by a commit against its first parent.
fn commit_stats(project: &Project, commit: &Commit) -> (usize, usize) {
    let graph = Graph::new(project);
    let old = graph.tree_at(commit.parent_ids.first().map(String::as_str));
    let mut new = old.clone();
    for change in &commit.changes {
        match &change.file {
            Some(file) => new.insert(change.path.clone(), file.clone()),
            None => new.remove(&change.path),
        };
    }
    diffs(&old, &new).iter().fold((0, 0), |(a, d), diff| {
        let text = diff["diff"].as_str().unwrap_or("");
        let count = |p: char| text.lines().filter(|l| l.starts_with(p)).count();
        (a + count('+'), d + count('-'))
    })
}

/// `actions[]` from a JSON body (one object per action) or a form body
/// (`actions[][action]=…&actions[][file_path]=…`, a repeated key starting the next).
fn parse_actions(params: &Params) -> Result<Vec<FileAction>, ApiError> {
    let mut raw: Vec<serde_json::Map<String, Value>> = Vec::new();
    for (key, value) in params.pairs() {
        if key == "actions" {
            match serde_json::from_str(value) {
                Ok(Value::Object(map)) => raw.push(map),
                _ => return Err(ApiError::bad_request_error("actions is invalid".into())),
            }
        } else if let Some(field) = key
            .strip_prefix("actions[][")
            .and_then(|k| k.strip_suffix(']'))
        {
            if raw.last().is_none_or(|last| last.contains_key(field)) {
                raw.push(serde_json::Map::new());
            }
            let last = raw.last_mut().expect("just ensured");
            last.insert(field.to_owned(), Value::String(value.clone()));
        }
    }
    if raw.is_empty() {
        return Err(ApiError::bad_request_error("actions is missing".into()));
    }
    raw.iter()
        .enumerate()
        .map(|(i, map)| parse_action(i, map))
        .collect()
}

/// One action, with Grape's errors for it (`actions[0][content] is missing`, …).
fn parse_action(i: usize, map: &serde_json::Map<String, Value>) -> Result<FileAction, ApiError> {
    let field = |name: &str| match map.get(name) {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Null) | None => None,
        Some(other) => Some(other.to_string()),
    };
    let grape = |field: &str, problem: &str| {
        ApiError::bad_request_error(format!("actions[{i}][{field}] {problem}"))
    };
    let kind = match field("action").as_deref() {
        Some("create") => ActionKind::Create,
        Some("update") => ActionKind::Update,
        Some("delete") => ActionKind::Delete,
        Some("move" | "chmod") => {
            return Err(ApiError::bad_request(
                "The sandbox does not model move or chmod",
            ));
        }
        Some(_) => return Err(grape("action", "does not have a valid value")),
        None => return Err(grape("action", "is missing")),
    };
    let path = field("file_path").ok_or_else(|| grape("file_path", "is missing"))?;
    let content = match (field("content"), field("encoding").as_deref()) {
        (None, _) if kind == ActionKind::Update => return Err(grape("content", "is missing")),
        (None, _) => None,
        (Some(text), None | Some("text")) => Some(text.into_bytes()),
        (Some(encoded), Some("base64")) => Some(
            BASE64
                .decode(encoded.trim())
                .map_err(|_| ApiError::bad_request("Invalid base64 content"))?,
        ),
        (Some(_), Some(_)) => return Err(grape("encoding", "does not have a valid value")),
    };
    Ok(FileAction {
        kind,
        path,
        content,
        last_commit_id: field("last_commit_id").filter(|s| !s.is_empty()),
    })
}
