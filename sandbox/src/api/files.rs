//! Repository files on any branch or commit: read (JSON, `HEAD`, raw) at a `ref`, create
//! and update, each write one commit and one push (GitLab: `lib/api/files.rb`, writes as
//! `app/services/files/create_service.rb` and `update_service.rb`). The commits
//! themselves are made in `repository/`.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::json;

use super::extract::{Req, Shared};
use super::hooks::announce;
use super::projects::project_idx;
use super::reply::{ApiResult, json_status, set_header};
use super::repository::{ActionKind, CommitInfo, FileAction, commit_actions, tree_for_ref};
use crate::App;
use crate::error::ApiError;
use crate::model::RepoFile;
use crate::params::Params;

/// `GET /projects/:id/repository/files/:file_path`: the file as base64 JSON.
pub(super) async fn get_file(
    State(app): Shared,
    Path((id, path)): Path<(String, String)>,
    req: Req,
) -> ApiResult {
    let (file, head) = lookup_file(&app, &id, &path, &req.params)?;
    let name = path.rsplit('/').next().unwrap_or(&path).to_owned();
    let git_ref = req.params.get("ref").unwrap_or_default();
    let mut response = json_status(
        StatusCode::OK,
        json!({
            "file_name": name,
            "file_path": path,
            "size": file.content.len(),
            "encoding": "base64",
            "content_sha256": sha256_hex(&file.content),
            "ref": git_ref,
            "blob_id": file.blob_id,
            "commit_id": head,
            "last_commit_id": file.last_commit_id,
            "execute_filemode": false,
            "content": BASE64.encode(&file.content),
        }),
    );
    file_headers(&mut response, &path, git_ref, &file, &head);
    Ok(response)
}

/// `HEAD /projects/:id/repository/files/:file_path`: only the `X-Gitlab-*` headers.
pub(super) async fn head_file(
    State(app): Shared,
    Path((id, path)): Path<(String, String)>,
    req: Req,
) -> ApiResult {
    let (file, head) = lookup_file(&app, &id, &path, &req.params)?;
    let mut response = StatusCode::OK.into_response();
    let git_ref = req.params.get("ref").unwrap_or_default();
    file_headers(&mut response, &path, git_ref, &file, &head);
    Ok(response)
}

/// `GET /projects/:id/repository/files/:file_path/raw`: the bytes themselves.
pub(super) async fn raw_file(
    State(app): Shared,
    Path((id, path)): Path<(String, String)>,
    req: Req,
) -> ApiResult {
    let mut params = req.params.clone();
    if params.get("ref").is_none() {
        // `raw` defaults to the default branch.
        params = Params::parse(&HeaderMap::new(), Some("ref=main"), &[])?;
    }
    let (file, head) = lookup_file(&app, &id, &path, &params)?;
    let git_ref = params.get("ref").unwrap_or_default().to_owned();
    let mut response = (
        StatusCode::OK,
        [("content-type", "text/plain; charset=utf-8")],
        file.content.clone(),
    )
        .into_response();
    file_headers(&mut response, &path, &git_ref, &file, &head);
    Ok(response)
}

/// `POST /projects/:id/repository/files/:file_path`.
pub(super) async fn create_file(
    State(app): Shared,
    Path((id, path)): Path<(String, String)>,
    req: Req,
) -> ApiResult {
    write_file(&app, &id, &path, &req.params, true)
}

/// `PUT /projects/:id/repository/files/:file_path`.
pub(super) async fn update_file(
    State(app): Shared,
    Path((id, path)): Path<(String, String)>,
    req: Req,
) -> ApiResult {
    write_file(&app, &id, &path, &req.params, false)
}

/// The file at `ref` (a branch, `HEAD` or a commit) and the commit `ref` names, copied
/// so the lock is not held while responding: 404 `Commit` for an unknown ref, 404
/// `File` for a path the tree lacks.
fn lookup_file(
    app: &App,
    id: &str,
    path: &str,
    params: &Params,
) -> Result<(RepoFile, String), ApiError> {
    let state = app.state.lock();
    let project = &state.projects[project_idx(&state, id)?];
    let git_ref = params
        .get("ref")
        .filter(|r| !r.is_empty())
        .ok_or_else(|| ApiError::missing("ref"))?;
    let (head, tree) =
        tree_for_ref(project, git_ref).ok_or_else(|| ApiError::not_found("Commit"))?;
    let file = tree
        .get(path)
        .cloned()
        .ok_or_else(|| ApiError::not_found("File"))?;
    Ok((file, head))
}

/// The `X-Gitlab-*` headers GitLab sends with a file, whichever form is asked for.
fn file_headers(
    response: &mut Response,
    path: &str,
    git_ref: &str,
    file: &RepoFile,
    commit_id: &str,
) {
    let name = path.rsplit('/').next().unwrap_or(path);
    for (header, value) in [
        ("x-gitlab-blob-id", file.blob_id.clone()),
        ("x-gitlab-commit-id", commit_id.to_owned()),
        ("x-gitlab-content-sha256", sha256_hex(&file.content)),
        ("x-gitlab-encoding", "base64".to_owned()),
        ("x-gitlab-file-name", name.to_owned()),
        ("x-gitlab-file-path", path.to_owned()),
        ("x-gitlab-last-commit-id", file.last_commit_id.clone()),
        ("x-gitlab-ref", git_ref.to_owned()),
        ("x-gitlab-size", file.content.len().to_string()),
        ("x-gitlab-execute-filemode", "false".to_owned()),
    ] {
        set_header(response, header, &value);
    }
}

/// A create (`create`) or an update: one commit on `branch` (created from
/// `start_branch` if new), then a push event to the project's hooks.
fn write_file(app: &App, id: &str, path: &str, p: &Params, create: bool) -> ApiResult {
    let mut state = app.state.lock();
    let pi = project_idx(&state, id)?;
    let (branch, message, content) = read_write_params(p)?;
    let project = &mut state.projects[pi];
    if let Some(tree) = project.tree(&branch) {
        check_write(tree.get(path), p, create)?;
    }
    let action = FileAction {
        kind: if create {
            ActionKind::Create
        } else {
            ActionKind::Update
        },
        path: path.to_owned(),
        content: Some(content),
        last_commit_id: None, // checked above, with this endpoint's own message
    };
    let info = CommitInfo {
        message: &message,
        author: p.get("author_name").unwrap_or("Administrator"),
    };
    let start = p.get("start_branch").filter(|s| !s.is_empty());
    let push = commit_actions(project, &branch, start, info, &[action])?;
    announce(app, &state.projects[pi], &push);
    let status = if create {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(json_status(
        status,
        json!({"file_path": path, "branch": branch}),
    ))
}

/// The branch, the commit message and the decoded content of a write.
fn read_write_params(p: &Params) -> Result<(String, String, Vec<u8>), ApiError> {
    let branch = p
        .get("branch")
        .ok_or_else(|| ApiError::missing("branch"))?
        .to_owned();
    let message = p
        .get("commit_message")
        .ok_or_else(|| ApiError::missing("commit_message"))?
        .to_owned();
    let content = p
        .get("content")
        .ok_or_else(|| ApiError::missing("content"))?;
    let content = match p.get("encoding").unwrap_or("text") {
        "base64" => BASE64
            .decode(content)
            .map_err(|_| ApiError::bad_request("Invalid base64 content"))?,
        "text" => content.as_bytes().to_vec(),
        _ => {
            return Err(ApiError::bad_request_error(
                "encoding does not have a valid value".into(),
            ));
        }
    };
    Ok((branch, message, content))
}

/// A create needs the file absent, an update needs it present and, if the client says
/// which commit it last saw (`last_commit_id`), unchanged since.
fn check_write(existing: Option<&RepoFile>, p: &Params, create: bool) -> Result<(), ApiError> {
    match (create, existing) {
        (true, Some(_)) => Err(ApiError::bad_request(
            "A file with this name already exists",
        )),
        (false, None) => Err(ApiError::bad_request("A file with this name doesn't exist")),
        (false, Some(file)) => match p.get("last_commit_id") {
            Some(expected) if expected != file.last_commit_id => Err(ApiError::bad_request(
                "You are attempting to update a file that has changed since you started editing it.",
            )),
            _ => Ok(()),
        },
        (true, None) => Ok(()),
    }
}

fn sha256_hex(content: &[u8]) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(content)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
