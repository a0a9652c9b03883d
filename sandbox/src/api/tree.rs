//! `GET /projects/:id/repository/tree`: the files and directories of a tree, as
//! GitLab's `lib/api/repositories.rb` (`get ':id/repository/tree'`) answers with
//! `app/finders/repositories/tree_finder.rb` and
//! `lib/gitlab/pagination/gitaly_keyset_pager.rb`:
//!
//! - `ref` (default: the default branch), `path` (default: the root), `recursive`
//!   (default false);
//! - `pagination=legacy` (the default): offset pages with the `X-*` headers;
//!   `pagination=keyset`: `per_page` entries and, while more follow, a `Link` header
//!   `rel="next"` whose URL carries an opaque `page_token` (GitLab takes it from
//!   Gitaly's cursor, merge request 136586; here base64 of `{"file_name": PATH}`, the
//!   shape of GitLab's) while the flag `repository_tree_gitaly_pagination` is on, else
//!   offset pages as `legacy` ([`crate::flags::TREE_KEYSET`]); `pagination=none` (only with `recursive`): everything at once;
//! - an unknown ref is `404 Tree Not Found` (`not_found!("Tree") unless
//!   tree_finder.commit_exists?`); so, in the sandbox, is a path the tree lacks (GitLab
//!   answers Gitaly's "invalid revision or path" as a 404 too);
//! - entries `{id, name, type, path, mode}`: directories (`tree`, mode `040000`, their git
//!   tree id) before files (`blob`, mode `100644`, their blob id), each in path order, as
//!   `Tree#sorted_entries` lists them.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Value, json};
use sha1::{Digest, Sha1};

use super::extract::{Req, Shared};
use super::pagination::paginate;
use super::projects::project_idx;
use super::reply::{ApiResult, json_status, set_header};
use super::repository::tree_for_ref;
use crate::App;
use crate::error::ApiError;
use crate::model::{DEFAULT_BRANCH, RepoFile};

/// A branch's files by path, as `tree_for_ref` gives them.
type Tree = BTreeMap<String, RepoFile>;

/// One entry of a tree listing.
#[derive(Debug, Clone)]
struct Entry {
    id: String,
    path: String,
    directory: bool,
}

impl Entry {
    fn json(&self) -> Value {
        json!({
            "id": self.id,
            "name": self.path.rsplit('/').next().unwrap_or(&self.path),
            "type": if self.directory { "tree" } else { "blob" },
            "path": self.path,
            "mode": if self.directory { "040000" } else { "100644" },
        })
    }
}

/// `GET /projects/:id/repository/tree`.
pub(super) async fn list_tree(State(app): Shared, Path(id): Path<String>, req: Req) -> ApiResult {
    let p = &req.params;
    let recursive = p.bool("recursive")?.unwrap_or(false);
    let pagination = p.get("pagination").unwrap_or("legacy").to_owned();
    if !matches!(pagination.as_str(), "legacy" | "keyset" | "none") {
        return Err(ApiError::bad_request_error(
            "pagination does not have a valid value".into(),
        ));
    }
    if pagination == "none" && !recursive {
        return Err(ApiError::bad_request_error(
            "pagination cannot be \"none\" unless \"recursive\" is true".into(),
        ));
    }
    let git_ref = p
        .get("ref")
        .filter(|r| !r.is_empty())
        .unwrap_or(DEFAULT_BRANCH)
        .to_owned();
    let root = p.get("path").unwrap_or("").trim_matches('/').to_owned();
    let entries = {
        let state = app.state.lock();
        let project = &state.projects[project_idx(&state, &id)?];
        let (_, tree) =
            tree_for_ref(project, &git_ref).ok_or_else(|| ApiError::not_found("Tree"))?;
        entries(&tree, &root, recursive).ok_or_else(|| ApiError::not_found("Tree"))?
    };
    match pagination.as_str() {
        "none" => Ok(json_status(
            StatusCode::OK,
            Value::Array(entries.iter().map(Entry::json).collect()),
        )),
        // Off, `keyset_pagination_enabled?` is false and the pager pages by offset.
        "keyset" if app.feature(crate::flags::TREE_KEYSET) => keyset_page(&app, &req, &entries),
        _ => paginate(&app, &req, entries.iter().map(Entry::json).collect()),
    }
}

/// The entries below `root` (every level with `recursive`, else its own): directories
/// first, then files, each in path order. `None` when `root` is neither the root nor a
/// directory of the tree.
fn entries(tree: &Tree, root: &str, recursive: bool) -> Option<Vec<Entry>> {
    let prefix = if root.is_empty() {
        String::new()
    } else {
        format!("{root}/")
    };
    if !root.is_empty() && !tree.keys().any(|path| path.starts_with(&prefix)) {
        return None;
    }
    let mut directories: BTreeMap<String, ()> = BTreeMap::new();
    let mut files = Vec::new();
    for (path, file) in tree.range(prefix.clone()..) {
        let Some(rest) = path.strip_prefix(&prefix) else {
            break;
        };
        let parts: Vec<&str> = rest.split('/').collect();
        let depth = if recursive { parts.len() - 1 } else { 0 };
        for level in 1..=depth.min(parts.len() - 1) {
            directories.insert(format!("{prefix}{}", parts[..level].join("/")), ());
        }
        if parts.len() == 1 || recursive {
            files.push(Entry {
                id: file.blob_id.clone(),
                path: path.clone(),
                directory: false,
            });
        } else {
            directories.insert(format!("{prefix}{}", parts[0]), ());
        }
    }
    let mut out: Vec<Entry> = directories
        .into_keys()
        .map(|path| Entry {
            id: tree_id(tree, &path),
            path,
            directory: true,
        })
        .collect();
    out.extend(files);
    Some(out)
}

/// Git's tree id of the directory `dir`: SHA-1 of `tree <len>\0` and its entries, each
/// `<mode> <name>\0<20-byte id>`, in git's order (names compared as if a directory's
/// ended in `/`).
fn tree_id(tree: &Tree, dir: &str) -> String {
    let prefix = format!("{dir}/");
    let mut children: BTreeMap<String, (bool, Vec<u8>)> = BTreeMap::new();
    for (path, file) in tree.range(prefix.clone()..) {
        let Some(rest) = path.strip_prefix(&prefix) else {
            break;
        };
        match rest.split_once('/') {
            None => {
                children.insert(rest.to_owned(), (false, unhex(&file.blob_id)));
            }
            Some((sub, _)) => {
                children
                    .entry(format!("{sub}/"))
                    .or_insert_with(|| (true, unhex(&tree_id(tree, &format!("{dir}/{sub}")))));
            }
        }
    }
    let mut body = Vec::new();
    for (name, (directory, id)) in &children {
        let mode = if *directory { "40000" } else { "100644" };
        body.extend_from_slice(format!("{mode} {}\0", name.trim_end_matches('/')).as_bytes());
        body.extend_from_slice(id);
    }
    let mut hasher = Sha1::new();
    hasher.update(format!("tree {}\0", body.len()).as_bytes());
    hasher.update(&body);
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn unhex(hex: &str) -> Vec<u8> {
    (0..hex.len() / 2)
        .filter_map(|i| u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok())
        .collect()
}

/// One keyset page: the entries after `page_token`'s, and a `Link` to the next page only
/// while entries follow. GitLab's `GitalyKeysetPager#apply_headers` links when
/// `records.count == params[:per_page] && next_cursor.present?` (the cursor is
/// `TreeFinder#next_cursor`, Gitaly's), and Gitaly's `paginateTreeEntries`
/// (`internal/gitaly/service/commit/tree_entries.go`) returns no cursor when
/// `index+limit >= len(entries)`: a tree of exactly `per_page` entries ends on a full
/// page without a link. (GitLab before the cursor linked whenever a page was full.)
/// The token is Gitaly's `encodePageToken`: base64 of `{"file_name": PATH}` of the
/// page's last entry; one naming no entry is Gitaly's "could not find starting OID".
fn keyset_page(app: &App, req: &Req, entries: &[Entry]) -> ApiResult {
    let per_page = req.params.int("per_page")?.unwrap_or(20).clamp(1, 100) as usize;
    let start = match req.params.get("page_token") {
        None | Some("") => 0,
        Some(token) => {
            let after = decode_token(token)
                .ok_or_else(|| ApiError::bad_request_error("page_token is invalid".into()))?;
            entries
                .iter()
                .position(|e| e.path == after)
                .map(|i| i + 1)
                .ok_or_else(|| ApiError::bad_request_error("page_token is invalid".into()))?
        }
    };
    let page = &entries[start.min(entries.len())..(start + per_page).min(entries.len())];
    let mut response = json_status(
        StatusCode::OK,
        Value::Array(page.iter().map(Entry::json).collect()),
    );
    let more = start + per_page < entries.len();
    if page.len() == per_page
        && more
        && let Some(last) = page.last()
    {
        let mut query: Vec<(String, String)> =
            form_urlencoded::parse(req.uri.query().unwrap_or("").as_bytes())
                .into_owned()
                .filter(|(k, _)| k != "page_token")
                .collect();
        query.push(("page_token".into(), encode_token(&last.path)));
        let encoded = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(query)
            .finish();
        let next = format!("{}{}?{encoded}", app.base_url, req.uri.path());
        set_header(&mut response, "link", &format!("<{next}>; rel=\"next\""));
    }
    Ok(response)
}

fn encode_token(path: &str) -> String {
    BASE64.encode(json!({ "file_name": path }).to_string())
}

fn decode_token(token: &str) -> Option<String> {
    let bytes = BASE64.decode(token).ok()?;
    let value: Value = serde_json::from_slice(&bytes).ok()?;
    value["file_name"].as_str().map(str::to_owned)
}
