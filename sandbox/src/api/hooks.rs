//! Project webhooks: list and create (GitLab: `lib/api/project_hooks.rb`), and the push
//! event every push sends them (a file write, a commit of several actions, a new branch,
//! a merge): one event per push, payload as `lib/gitlab/data_builder/push.rb`.

use axum::extract::{Path, State};
use serde_json::{Value, json};

use super::extract::{Req, Shared};
use super::pagination::paginate;
use super::projects::project_idx;
use super::reply::{ApiResult, created};
use super::repository::{Push, author_email, pushed_commits, title};
use crate::App;
use crate::error::ApiError;
use crate::model::{ChangeKind, Commit, Hook, Project, ts};

/// How many commits a push event lists (`commits.last(20)` in `push.rb`); the rest are
/// only counted in `total_commits_count`.
const LISTED_COMMITS: usize = 20;

/// What `before` says for a push that creates its branch.
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

/// A push: every project hook that wants push events hears of it, as in GitLab.
/// Delivery runs in the background, so a slow or dead receiver never holds up the
/// write; a failure is only logged.
pub(super) fn announce(app: &App, project: &Project, push: &Push) {
    if !project.hooks.iter().any(|h| h.push_events) {
        return;
    }
    let payload = push_payload(app, project, push);
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

/// `Gitlab::DataBuilder::Push.build`: the commits the push brought (oldest first, see
/// `repository::pushed_commits`), the last 20 of them listed, all of them counted.
fn push_payload(app: &App, project: &Project, push: &Push) -> Value {
    let web_url = format!("{}/{}", app.base_url, project.path_with_namespace);
    let commits = pushed_commits(project, push);
    let listed = &commits[commits.len().saturating_sub(LISTED_COMMITS)..];
    json!({
        "object_kind": "push",
        "event_name": "push",
        "before": push.before.as_deref().unwrap_or(NO_COMMIT),
        "after": push.after,
        "ref": format!("refs/heads/{}", push.branch),
        "ref_protected": push.branch == crate::model::DEFAULT_BRANCH,
        "checkout_sha": push.after,
        "message": null,
        "user_id": app.root_id,
        "user_name": "Administrator", // root, the token's user
        "user_username": "root",
        "user_email": "",
        "user_avatar": null,
        "project_id": project.id,
        "project": {
            "id": project.id,
            "name": project.path(),
            "description": null,
            "web_url": web_url,
            "avatar_url": null,
            "git_http_url": format!("{web_url}.git"),
            "namespace": project.path_with_namespace.rsplit_once('/').map_or("", |(ns, _)| ns),
            "visibility_level": if project.visibility == "public" { 20 } else { 0 },
            "path_with_namespace": project.path_with_namespace,
            "default_branch": crate::model::DEFAULT_BRANCH,
        },
        "commits": listed.iter().map(|c| commit_hook_attrs(&web_url, c)).collect::<Vec<_>>(),
        "total_commits_count": commits.len(),
        "push_options": {},
        "repository": {"name": project.path(), "homepage": web_url},
    })
}

/// `Commit#hook_attrs` (`app/models/commit.rb`) with `repo_changes`: a rename would
/// count as added; the sandbox has none.
fn commit_hook_attrs(web_url: &str, c: &Commit) -> Value {
    let paths = |kind: ChangeKind| -> Vec<&str> {
        c.changes
            .iter()
            .filter(|ch| ch.kind == kind)
            .map(|ch| ch.path.as_str())
            .collect()
    };
    json!({
        "id": c.id,
        "message": c.message,
        "title": hook_title(title(&c.message)),
        "timestamp": ts(c.created_at),
        "url": format!("{web_url}/-/commit/{}", c.id),
        "author": {"name": c.author_name, "email": author_email(&c.author_name)},
        "added": paths(ChangeKind::Added),
        "modified": paths(ChangeKind::Modified),
        "removed": paths(ChangeKind::Removed),
    })
}

/// `full_title`: a first line of 100 characters or more is cut to 81 at a space, with
/// "..." (`truncate(81, separator: ' ', omission: '...')`).
fn hook_title(line: &str) -> String {
    if line.chars().count() < 100 {
        return line.to_owned();
    }
    let keep: String = line.chars().take(78).collect();
    let cut = keep.rfind(' ').map_or(keep.as_str(), |i| &keep[..i]);
    format!("{cut}...")
}
