//! The repository as git keeps it: branches, commits with parents, and what a push or a
//! comparison sees. Endpoints: create and read branches (GitLab: `lib/api/branches.rb`),
//! a commit of several file actions (`lib/api/commits.rb`, checks as
//! `app/services/commits/create_service.rb`), and compare (`lib/api/repositories.rb`,
//! shape `lib/api/entities/compare.rb`). The single-file writes in `files.rs` and the
//! merges in `merge_requests.rs` commit through [`commit_actions`] and [`merge`] here.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use axum::extract::{Path, State};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Value, json};
use sha1::{Digest, Sha1};

use super::extract::{Req, Shared};
use super::hooks::announce;
use super::projects::project_idx;
use super::reply::{ApiResult, created, ok};
use crate::App;
use crate::error::ApiError;
use crate::model::{Branch, Change, ChangeKind, Commit, DEFAULT_BRANCH, Project, RepoFile, ts};
use crate::params::Params;

/// A file tree: path → file.
pub(super) type Tree = BTreeMap<String, RepoFile>;

/// One file operation of a commit (`actions[]` of `POST …/repository/commits`).
pub(super) struct FileAction {
    pub kind: ActionKind,
    pub path: String,
    pub content: Option<Vec<u8>>,
    /// The commit the client last saw the file at; a stale one refuses the commit.
    pub last_commit_id: Option<String>,
}

/// The actions the sandbox models (`move` and `chmod` are not).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum ActionKind {
    Create,
    Update,
    Delete,
}

/// One push to a branch, as the push hook describes it: `before` is `None` when the
/// push created the branch.
pub(super) struct Push {
    pub branch: String,
    pub before: Option<String>,
    pub after: String,
}

/// Who makes a commit and why.
pub(super) struct CommitInfo<'a> {
    pub message: &'a str,
    pub author: &'a str,
}

/// Commits `actions` as one commit on `branch`, which is created from `start_branch`
/// when it does not exist. Every action is checked against a copy of the tree first, so
/// a failing action changes nothing (the commit is atomic, as in git).
pub(super) fn commit_actions(
    project: &mut Project,
    branch: &str,
    start_branch: Option<&str>,
    info: CommitInfo<'_>,
    actions: &[FileAction],
) -> Result<Push, ApiError> {
    project.settle_history();
    let creating = project.head(branch).is_none();
    let (before, start_tree) = start_point(project, branch, start_branch)?;
    // On an existing branch the actions change its tree in place (no copy of every
    // file per write) and are undone if one fails.
    let in_place = start_tree.is_none();
    let mut tree = match start_tree {
        Some(tree) => tree,
        None => std::mem::take(project.tree_mut(branch).expect("start_point checked")),
    };
    let mut undo = Vec::new();
    let mut changes = Vec::new();
    for action in actions {
        match apply(&mut tree, action, &mut undo) {
            Ok(change) => changes.push(change),
            Err(e) => {
                if in_place {
                    for (path, old) in undo.into_iter().rev() {
                        match old {
                            Some(file) => tree.insert(path, file),
                            None => tree.remove(&path),
                        };
                    }
                    *project.tree_mut(branch).expect("start_point checked") = tree;
                }
                return Err(e);
            }
        }
    }
    let parents: Vec<String> = before.into_iter().collect();
    let id = record_commit(project, &parents, info, changes, &mut tree);
    set_branch(project, branch, &id, tree);
    Ok(Push {
        branch: branch.to_owned(),
        // A push that creates the branch says forty zeros for `before`.
        before: if creating {
            None
        } else {
            parents.first().cloned()
        },
        after: id,
    })
}

/// The parent a commit to `branch` starts from, and the tree when it is not `branch`'s
/// own (a new branch: a copy of the start branch's), with GitLab's refusals
/// (`app/services/commits/create_service.rb`: `validate_on_branch!`,
/// `validate_branch_existence!`, `validate_new_branch_name!`).
fn start_point(
    project: &Project,
    branch: &str,
    start_branch: Option<&str>,
) -> Result<(Option<String>, Option<Tree>), ApiError> {
    let start = start_branch.unwrap_or(branch);
    let empty_repo = project.head(DEFAULT_BRANCH).is_none();
    if start != branch && !empty_repo && project.tree(branch).is_some() {
        return Err(ApiError::bad_request(&format!(
            "A branch called '{branch}' already exists. Switch to that branch in order to make changes"
        )));
    }
    if start != branch && !valid_branch_name(branch) {
        return Err(ApiError::bad_request(&format!(
            "Something went wrong when we tried to create '{branch}' for you: Branch name is invalid"
        )));
    }
    let parent = project.head(start).map(str::to_owned);
    match project.tree(start) {
        Some(_) if start == branch => Ok((parent, None)),
        Some(tree) => Ok((parent, Some(tree.clone()))),
        None if empty_repo => Ok((None, Some(Tree::new()))),
        None => Err(ApiError::bad_request(
            "You can only create or edit files when you are on a branch",
        )),
    }
}

/// One action on the tree, with the texts Gitaly's index errors give
/// (notes §8: "A file with this name already exists" / "doesn't exist").
/// Each change first records the path's previous file in `undo`.
fn apply(
    tree: &mut Tree,
    action: &FileAction,
    undo: &mut Vec<(String, Option<RepoFile>)>,
) -> Result<Change, ApiError> {
    let path = action.path.trim_start_matches('/').to_owned();
    if path.is_empty() {
        return Err(ApiError::bad_request("You must provide a file path"));
    }
    if path.split('/').any(|part| part == "..") {
        return Err(ApiError::bad_request(
            "Path cannot include directory traversal",
        ));
    }
    let existing = tree.get(&path);
    if let (Some(seen), Some(file)) = (&action.last_commit_id, existing)
        && *seen != file.last_commit_id
    {
        // `app/services/files/multi_service.rb`: `validate_file_status!`.
        return Err(ApiError::bad_request(&format!(
            "The file has changed since you started editing it: {path}"
        )));
    }
    let kind = match (action.kind, existing) {
        (ActionKind::Create, Some(_)) => {
            return Err(ApiError::bad_request(
                "A file with this name already exists",
            ));
        }
        (ActionKind::Update | ActionKind::Delete, None) => {
            return Err(ApiError::bad_request("A file with this name doesn't exist"));
        }
        (ActionKind::Create, None) => ChangeKind::Added,
        (ActionKind::Update, Some(_)) => ChangeKind::Modified,
        (ActionKind::Delete, Some(_)) => ChangeKind::Removed,
    };
    undo.push((path.clone(), existing.cloned()));
    let file = match kind {
        ChangeKind::Removed => {
            tree.remove(&path);
            None
        }
        _ => {
            let content = action.content.clone().unwrap_or_default();
            let file = RepoFile {
                blob_id: blob_id(&content),
                content,
                last_commit_id: String::new(), // set once the commit has its id
            };
            tree.insert(path.clone(), file.clone());
            Some(file)
        }
    };
    Ok(Change { path, kind, file })
}

/// Appends a commit with these parents and changes, stamps the changed files of `tree`
/// with its id, and returns the id.
fn record_commit(
    project: &mut Project,
    parents: &[String],
    info: CommitInfo<'_>,
    mut changes: Vec<Change>,
    tree: &mut Tree,
) -> String {
    let now = crate::model::now();
    let mut hasher = Sha1::new();
    for parent in parents {
        hasher.update(parent.as_bytes());
    }
    hasher.update(info.message.as_bytes());
    hasher.update(ts(now).as_bytes());
    // The commit count keeps two identical commits in one millisecond apart.
    hasher.update(project.commits.len().to_string().as_bytes());
    for change in &changes {
        hasher.update(change.path.as_bytes());
        if let Some(file) = &change.file {
            hasher.update(file.blob_id.as_bytes());
        }
    }
    let id = hex(&hasher.finalize());
    for change in &mut changes {
        if let Some(file) = &mut change.file
            && file.last_commit_id.is_empty()
        {
            file.last_commit_id = id.clone();
            if let Some(in_tree) = tree.get_mut(&change.path) {
                in_tree.last_commit_id = id.clone();
            }
        }
    }
    project.commits.push(Commit {
        id: id.clone(),
        message: info.message.to_owned(),
        author_name: info.author.to_owned(),
        created_at: now,
        paths: changes.iter().map(|c| c.path.clone()).collect(),
        parent_ids: parents.to_vec(),
        changes,
    });
    id
}

/// Points `branch` at `head` with `tree`.
pub(super) fn set_branch(project: &mut Project, branch: &str, head: &str, tree: Tree) {
    if branch == DEFAULT_BRANCH {
        project.files = tree;
        project.main_head = Some(head.to_owned());
    } else {
        project.branches.insert(
            branch.to_owned(),
            Branch {
                head: head.to_owned(),
                files: tree,
            },
        );
    }
}

/// The commits of the project by id, for walking parents.
struct Graph<'a> {
    commits: &'a [Commit],
    index: HashMap<&'a str, usize>,
}

impl<'a> Graph<'a> {
    fn new(project: &'a Project) -> Self {
        let index = project
            .commits
            .iter()
            .enumerate()
            .map(|(i, c)| (c.id.as_str(), i))
            .collect();
        Graph {
            commits: &project.commits,
            index,
        }
    }

    /// Every commit reachable from `id`, itself included.
    fn reachable(&self, id: Option<&str>) -> HashSet<usize> {
        let mut seen = HashSet::new();
        let mut stack: Vec<usize> = id
            .and_then(|id| self.index.get(id).copied())
            .into_iter()
            .collect();
        while let Some(i) = stack.pop() {
            if seen.insert(i) {
                for parent in &self.commits[i].parent_ids {
                    stack.extend(self.index.get(parent.as_str()).copied());
                }
            }
        }
        seen
    }

    /// `git log from..to --reverse`: reachable from `to`, not from `from`, oldest first.
    /// Commits are stored in creation order, which puts parents before children.
    fn between(&self, from: Option<&str>, to: &str) -> Vec<&'a Commit> {
        let exclude = self.reachable(from);
        let include = self.reachable(Some(to));
        let mut picked: Vec<usize> = include.difference(&exclude).copied().collect();
        picked.sort_unstable();
        picked.into_iter().map(|i| &self.commits[i]).collect()
    }

    /// The best common ancestor: the newest commit reachable from both.
    fn merge_base(&self, a: &str, b: &str) -> Option<&'a str> {
        let left = self.reachable(Some(a));
        let right = self.reachable(Some(b));
        left.intersection(&right)
            .max()
            .map(|&i| self.commits[i].id.as_str())
    }

    /// The tree at commit `id`: its first-parent chain's changes replayed from the root.
    fn tree_at(&self, id: Option<&str>) -> Tree {
        let mut chain = Vec::new();
        let mut next = id.and_then(|id| self.index.get(id).copied());
        while let Some(i) = next {
            chain.push(i);
            next = self.commits[i]
                .parent_ids
                .first()
                .and_then(|p| self.index.get(p.as_str()).copied());
        }
        let mut tree = Tree::new();
        for &i in chain.iter().rev() {
            for change in &self.commits[i].changes {
                match &change.file {
                    Some(file) => tree.insert(change.path.clone(), file.clone()),
                    None => tree.remove(&change.path),
                };
            }
        }
        tree
    }
}

/// The commits a push carries, oldest first, as `app/services/git/branch_hooks_service.rb`
/// `threshold_commits` picks them: an update, `commits_between(oldrev, newrev)`; a new
/// non-default branch, the commits not on the default branch; a new default branch,
/// all of its history.
pub(super) fn pushed_commits<'a>(project: &'a Project, push: &Push) -> Vec<&'a Commit> {
    // The usual push, one commit on top of the old head, needs no walk of the history.
    if let (Some(before), Some(last)) = (&push.before, project.commits.last())
        && last.id == push.after
        && last.parent_ids == [before.clone()]
    {
        return vec![last];
    }
    let graph = Graph::new(project);
    match &push.before {
        Some(before) => graph.between(Some(before), &push.after),
        None if push.branch == DEFAULT_BRANCH => graph.between(None, &push.after),
        None => graph.between(project.head(DEFAULT_BRANCH), &push.after),
    }
}

/// The merge base of two commits (`diff_refs.base_sha`).
pub(super) fn merge_base(project: &Project, a: &str, b: &str) -> Option<String> {
    Graph::new(project).merge_base(a, b).map(str::to_owned)
}

/// A ref as GitLab resolves it: a branch (`name` or `refs/heads/name`), `HEAD`, or a
/// commit id or unambiguous prefix of one.
pub(super) fn resolve_ref(project: &Project, r: &str) -> Option<String> {
    let name = r.strip_prefix("refs/heads/").unwrap_or(r);
    let name = if name == "HEAD" { DEFAULT_BRANCH } else { name };
    if let Some(head) = project.head(name) {
        return Some(head.to_owned());
    }
    if r.len() < 4 || !r.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut found = project.commits.iter().filter(|c| c.id.starts_with(r));
    match (found.next(), found.next()) {
        (Some(c), None) => Some(c.id.clone()),
        _ => None,
    }
}

/// The tree and commit a `ref` names: a branch's stored tree, or a commit's replayed one.
/// `None` for an unknown ref; `main` of an empty repository is an empty tree.
pub(super) fn tree_for_ref(project: &Project, r: &str) -> Option<(String, Tree)> {
    let name = r.strip_prefix("refs/heads/").unwrap_or(r);
    let name = if name == "HEAD" { DEFAULT_BRANCH } else { name };
    if let Some(tree) = project.tree(name) {
        let head = project.head(name).unwrap_or_default().to_owned();
        return Some((head, tree.clone()));
    }
    let id = resolve_ref(project, r)?;
    let tree = Graph::new(project).tree_at(Some(&id));
    Some((id, tree))
}

/// Why a merge could not be made.
pub(super) enum MergeError {
    /// A branch is gone.
    MissingBranch,
    /// Both sides changed these paths differently since the merge base.
    Conflict,
}

/// Merges `source` into `target` with a merge commit (GitLab's default merge method:
/// parents target head, then source head), file by file against the merge base.
pub(super) fn merge(
    project: &mut Project,
    source: &str,
    target: &str,
    info: CommitInfo<'_>,
) -> Result<Push, MergeError> {
    project.settle_history();
    let (Some(s), Some(t)) = (project.head(source), project.head(target)) else {
        return Err(MergeError::MissingBranch);
    };
    let (s, t) = (s.to_owned(), t.to_owned());
    let graph = Graph::new(project);
    let base = graph.tree_at(graph.merge_base(&s, &t));
    let ours = project.tree(target).cloned().unwrap_or_default();
    let theirs = project.tree(source).cloned().unwrap_or_default();
    let mut merged = Tree::new();
    let mut conflicts = Vec::new();
    let paths: BTreeSet<&String> = base
        .keys()
        .chain(ours.keys())
        .chain(theirs.keys())
        .collect();
    for path in paths {
        let (b, o, th) = (base.get(path), ours.get(path), theirs.get(path));
        let pick = if same(o, th) || same(th, b) {
            o
        } else if same(o, b) {
            th
        } else {
            conflicts.push(path.clone());
            continue;
        };
        if let Some(file) = pick {
            merged.insert(path.clone(), file.clone());
        }
    }
    if !conflicts.is_empty() {
        // The API only says the MR cannot be merged; the paths are for the log.
        tracing::info!(?conflicts, "merge refused: both sides changed these paths");
        return Err(MergeError::Conflict);
    }
    let changes = tree_changes(&ours, &merged);
    let parents = [t.clone(), s];
    let id = record_commit(project, &parents, info, changes, &mut merged);
    set_branch(project, target, &id, merged);
    Ok(Push {
        branch: target.to_owned(),
        before: Some(t),
        after: id,
    })
}

/// Same content (or both absent).
fn same(a: Option<&RepoFile>, b: Option<&RepoFile>) -> bool {
    a.map(|f| &f.content) == b.map(|f| &f.content)
}

/// What turns tree `old` into tree `new`, path by path.
fn tree_changes(old: &Tree, new: &Tree) -> Vec<Change> {
    let paths: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    paths
        .into_iter()
        .filter_map(|path| {
            let kind = match (old.get(path), new.get(path)) {
                (None, Some(_)) => ChangeKind::Added,
                (Some(_), None) => ChangeKind::Removed,
                (Some(a), Some(b)) if a.content != b.content => ChangeKind::Modified,
                _ => return None,
            };
            Some(Change {
                path: path.clone(),
                kind,
                file: new.get(path).cloned(),
            })
        })
        .collect()
}

/// Git's branch-name rules, as `Gitlab::GitRefValidator` checks them.
fn valid_branch_name(name: &str) -> bool {
    !name.is_empty()
        && name != "HEAD"
        && !name.starts_with(['-', '/', '.'])
        && !name.ends_with(['/', '.'])
        && !name.ends_with(".lock")
        && !name.contains("..")
        && !name.contains("//")
        && !name.contains("@{")
        && !name.starts_with("refs/")
        && !name
            .chars()
            .any(|c| c.is_control() || " ~^:?*[\\".contains(c))
}

/// `POST /projects/:id/repository/branches` (`branch`, `ref`): 201 with the branch,
/// or 400 with `app/services/branches/validate_new_service.rb`'s and
/// `create_service.rb`'s messages. Creating a branch is a push, so hooks hear of it.
pub(super) async fn create_branch(
    State(app): Shared,
    Path(id): Path<String>,
    req: Req,
) -> ApiResult {
    let branch = required(&req.params, "branch")?;
    let start = required(&req.params, "ref")?;
    let mut state = app.state.lock();
    let pi = project_idx(&state, &id)?;
    let project = &mut state.projects[pi];
    project.settle_history();
    if !valid_branch_name(branch) {
        return Err(ApiError::bad_request("Branch name is invalid"));
    }
    if project.head(branch).is_some() {
        return Err(ApiError::bad_request("Branch already exists"));
    }
    let Some((head, tree)) = tree_for_ref(project, start).filter(|(head, _)| !head.is_empty())
    else {
        return Err(ApiError::bad_request(&format!(
            "Failed to create branch '{branch}': invalid reference name '{start}'"
        )));
    };
    set_branch(project, branch, &head, tree);
    let push = Push {
        branch: branch.to_owned(),
        before: None,
        after: head,
    };
    announce(&app, &state.projects[pi], &push);
    created(branch_json(&app, &state.projects[pi], branch))
}

/// `GET /projects/:id/repository/branches/:branch`.
pub(super) async fn get_branch(
    State(app): Shared,
    Path((id, branch)): Path<(String, String)>,
) -> ApiResult {
    let state = app.state.lock();
    let project = &state.projects[project_idx(&state, &id)?];
    if project.head(&branch).is_none() {
        return Err(ApiError::not_found("Branch"));
    }
    ok(branch_json(&app, project, &branch))
}

/// `lib/api/entities/branch.rb`.
fn branch_json(app: &App, project: &Project, branch: &str) -> Value {
    let head = project.head(branch).unwrap_or_default();
    let commit = project.commits.iter().find(|c| c.id == head);
    let web = format!("{}/{}", app.base_url, project.path_with_namespace);
    let merged = branch != DEFAULT_BRANCH
        && project.head(DEFAULT_BRANCH).is_some_and(|main| {
            let graph = Graph::new(project);
            graph.between(Some(main), head).is_empty()
        });
    json!({
        "name": branch,
        "commit": commit.map(|c| commit_json(app, project, c)),
        "merged": merged,
        "protected": branch == DEFAULT_BRANCH,
        "developers_can_push": false,
        "developers_can_merge": false,
        "can_push": true,
        "default": branch == DEFAULT_BRANCH,
        "web_url": format!("{web}/-/tree/{branch}"),
    })
}

/// `lib/api/entities/commit.rb`.
pub(super) fn commit_json(app: &App, project: &Project, c: &Commit) -> Value {
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
pub(super) fn title(message: &str) -> &str {
    message.lines().next().unwrap_or("")
}

/// The sandbox keeps author names only; root's address is GitLab's default one.
pub(super) fn author_email(name: &str) -> String {
    if name == "Administrator" {
        "admin@example.com".to_owned()
    } else {
        format!("{}@example.com", name.to_lowercase().replace(' ', "."))
    }
}

/// `POST /projects/:id/repository/commits`: `branch`, `commit_message`, `actions[]`,
/// optional `start_branch`, `author_name`. 201 with `Entities::CommitDetail`.
pub(super) async fn create_commit(
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

/// A parameter Grape `requires`: absent or blank is `{"error":"<name> is missing"}`.
fn required<'p>(params: &'p Params, name: &str) -> Result<&'p str, ApiError> {
    params
        .get(name)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ApiError::bad_request_error(format!("{name} is missing")))
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

/// GitLab's default `diff_max_files`: a compare lists at most this many files.
const DIFF_MAX_FILES: usize = 1000;

/// `GET /projects/:id/repository/compare?from=&to=[&straight=]`. Without `straight`
/// the diff is from the merge base (`from...to`), as GitLab's default.
pub(super) async fn compare(State(app): Shared, Path(id): Path<String>, req: Req) -> ApiResult {
    let from = required(&req.params, "from")?;
    let to = required(&req.params, "to")?;
    let straight = req.params.bool("straight")?.unwrap_or(false);
    let state = app.state.lock();
    let project = &state.projects[project_idx(&state, &id)?];
    let (Some(base), Some(head)) = (resolve_ref(project, from), resolve_ref(project, to)) else {
        return Err(ApiError::not_found("Ref"));
    };
    let graph = Graph::new(project);
    let commits = graph.between(Some(&base), &head);
    let diff_base = if straight {
        Some(base.as_str())
    } else {
        graph.merge_base(&base, &head)
    };
    let old = graph.tree_at(diff_base);
    let new = graph.tree_at(Some(&head));
    let web = format!("{}/{}", app.base_url, project.path_with_namespace);
    let rendered: Vec<Value> = commits
        .iter()
        .map(|c| commit_json(&app, project, c))
        .collect();
    // `compare.diffs.diffs` is a `Gitlab::Git::DiffCollection` cut at the instance's
    // `diff_max_files` (default 1000, `app/models/application_setting.rb`), and
    // `compare_timeout` is its `overflow?` (`lib/api/entities/compare.rb`): past the
    // limit the list is incomplete and says so.
    let mut diffs = diffs(&old, &new);
    let overflow = diffs.len() > DIFF_MAX_FILES;
    diffs.truncate(DIFF_MAX_FILES);
    ok(json!({
        "commit": rendered.last(),
        "commits": rendered,
        "diffs": diffs,
        "compare_timeout": overflow,
        "compare_same_ref": base == head,
        "web_url": format!("{web}/-/compare/{from}...{to}"),
    }))
}

/// `lib/api/entities/diff.rb`, one per changed path in path order (as Gitaly sends
/// them); `diff` is the hunks only, without `diff --git`/`---`/`+++` headers.
fn diffs(old: &Tree, new: &Tree) -> Vec<Value> {
    tree_changes(old, new)
        .iter()
        .map(|change| {
            let before = old.get(&change.path).map_or(&[][..], |f| &f.content[..]);
            let after = new.get(&change.path).map_or(&[][..], |f| &f.content[..]);
            let (a, b) = (
                String::from_utf8_lossy(before),
                String::from_utf8_lossy(after),
            );
            let text = similar::TextDiff::from_lines(a.as_ref(), b.as_ref())
                .unified_diff()
                .context_radius(3)
                .to_string();
            json!({
                "diff": text,
                "collapsed": false,
                "too_large": false,
                "new_path": change.path,
                "old_path": change.path,
                "a_mode": if change.kind == ChangeKind::Added { "0" } else { "100644" },
                "b_mode": if change.kind == ChangeKind::Removed { "0" } else { "100644" },
                "new_file": change.kind == ChangeKind::Added,
                "renamed_file": false,
                "deleted_file": change.kind == ChangeKind::Removed,
                "generated_file": false,
            })
        })
        .collect()
}

/// Git's blob id: SHA-1 of `blob <len>\0<content>`.
pub(super) fn blob_id(content: &[u8]) -> String {
    let mut hasher = Sha1::new();
    hasher.update(format!("blob {}\0", content.len()).as_bytes());
    hasher.update(content);
    hex(&hasher.finalize())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
