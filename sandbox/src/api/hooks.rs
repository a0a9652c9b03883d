//! Project webhooks: list and create (GitLab: `lib/api/project_hooks.rb`), and the push
//! event a file write sends them (payload as `lib/gitlab/data_builder/push.rb`).

use axum::extract::{Path, State};
use serde_json::{Value, json};

use super::extract::{Req, Shared};
use super::pagination::paginate;
use super::projects::project_idx;
use super::reply::{ApiResult, created};
use crate::App;
use crate::error::ApiError;
use crate::model::{Hook, Project, ts};

/// What `before` says for the first push to an empty repository.
const NO_COMMIT: &str = "0000000000000000000000000000000000000000";

/// `GET /projects/:id/hooks`.
pub(super) async fn list_hooks(State(app): Shared, Path(id): Path<String>, req: Req) -> ApiResult {
    let items = {
        let state = app.state.lock();
        let project = &state.projects[project_idx(&state, &id)?];
        project
            .hooks
            .iter()
            .map(|h| hook_json(project, h))
            .collect()
    };
    paginate(&app, &req, items)
}

/// `POST /projects/:id/hooks`: push events only, on unless `push_events=false`; an
/// empty `token` means none.
pub(super) async fn create_hook(State(app): Shared, Path(id): Path<String>, req: Req) -> ApiResult {
    let mut state = app.state.lock();
    let pi = project_idx(&state, &id)?;
    let url = req
        .params
        .get("url")
        .ok_or_else(|| ApiError::missing("url"))?
        .to_owned();
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(ApiError::invalid(
            "url",
            "is blocked: Only allowed schemes are http, https",
        ));
    }
    let hook_id = state.next_id();
    let hook = Hook {
        id: hook_id,
        url,
        push_events: req.params.bool("push_events")?.unwrap_or(true),
        token: req
            .params
            .get("token")
            .filter(|t| !t.is_empty())
            .map(str::to_owned),
        created_at: crate::model::now(),
    };
    state.projects[pi].hooks.push(hook);
    let project = &state.projects[pi];
    created(hook_json(
        project,
        project.hooks.last().expect("just pushed"),
    ))
}

/// A hook as GitLab shows it; the events the sandbox never sends are always off.
fn hook_json(project: &Project, hook: &Hook) -> Value {
    json!({
        "id": hook.id,
        "url": hook.url,
        "project_id": project.id,
        "push_events": hook.push_events,
        "issues_events": false,
        "merge_requests_events": false,
        "tag_push_events": false,
        "note_events": false,
        "enable_ssl_verification": true,
        "created_at": ts(hook.created_at),
    })
}

/// A push: every project hook that wants push events hears of the project's last
/// commit, as in GitLab. Delivery runs in the background, so a slow or dead receiver
/// never holds up the write; a failure is only logged.
pub(super) fn announce_push(
    app: &App,
    project: &Project,
    parent: String,
    path: &str,
    create: bool,
) {
    let payload = push_payload(app, project, parent, path, create);
    for hook in project.hooks.iter().filter(|h| h.push_events) {
        let (url, token, payload) = (hook.url.clone(), hook.token.clone(), payload.clone());
        tokio::spawn(async move {
            let mut request = reqwest::Client::new()
                .post(&url)
                .header("X-Gitlab-Event", "Push Hook")
                .json(&payload);
            if let Some(token) = token {
                request = request.header("X-Gitlab-Token", token);
            }
            if let Err(e) = request.send().await {
                tracing::warn!(%url, "push hook not delivered: {e}");
            }
        });
    }
}

/// The push event for the project's last commit, which changed the one file `path`.
fn push_payload(app: &App, project: &Project, parent: String, path: &str, create: bool) -> Value {
    let web_url = format!("{}/{}", app.base_url, project.path_with_namespace);
    let commit = project.commits.last().expect("just pushed");
    json!({
        "object_kind": "push",
        "event_name": "push",
        "before": if parent.is_empty() { NO_COMMIT.to_owned() } else { parent },
        "after": commit.id,
        "ref": "refs/heads/main",
        "checkout_sha": commit.id,
        "user_username": "root",
        "project_id": project.id,
        "project": {
            "id": project.id,
            "name": project.path(),
            "path_with_namespace": project.path_with_namespace,
            "web_url": web_url,
            "default_branch": "main",
        },
        "commits": [{
            "id": commit.id,
            "message": commit.message,
            "timestamp": ts(commit.created_at),
            "url": format!("{web_url}/-/commit/{}", commit.id),
            "added": if create { vec![path] } else { vec![] },
            "modified": if create { vec![] } else { vec![path] },
            "removed": Vec::<&str>::new(),
        }],
        "total_commits_count": 1,
        "repository": {"name": project.path(), "homepage": web_url},
    })
}
