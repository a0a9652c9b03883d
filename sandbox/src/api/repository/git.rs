//! The repository as git keeps it: trees, commits with parents, branches, merges, and
//! which commits a push carries. No endpoint lives here; the endpoints beside it and
//! `files.rs`/`merge_requests.rs` commit through [`commit_actions`] and [`merge`].

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use sha1::{Digest, Sha1};

use crate::error::ApiError;
use crate::model::{Branch, Change, ChangeKind, Commit, DEFAULT_BRANCH, Project, RepoFile, ts};

/// A file tree: path → file.
pub(in crate::api) type Tree = BTreeMap<String, RepoFile>;

/// One file operation of a commit (`actions[]` of `POST …/repository/commits`).
pub(in crate::api) struct FileAction {
    pub kind: ActionKind,
    pub path: String,
    pub content: Option<Vec<u8>>,
    /// The commit the client last saw the file at; a stale one refuses the commit.
    pub last_commit_id: Option<String>,
}

/// The actions the sandbox models (`move` and `chmod` are not).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(in crate::api) enum ActionKind {
    Create,
    Update,
    Delete,
}

/// One push to a branch, as the push hook describes it: `before` is `None` when the
/// push created the branch.
pub(in crate::api) struct Push {
    pub branch: String,
    pub before: Option<String>,
    pub after: String,
}

/// Who makes a commit and why.
pub(in crate::api) struct CommitInfo<'a> {
    pub message: &'a str,
    pub author: &'a str,
}

/// Commits `actions` as one commit on `branch`, which is created from `start_branch`
/// when it does not exist. Every action is checked against a copy of the tree first, so
/// a failing action changes nothing (the commit is atomic, as in git).
pub(in crate::api) fn commit_actions(
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
pub(in crate::api) fn set_branch(project: &mut Project, branch: &str, head: &str, tree: Tree) {
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
pub(super) struct Graph<'a> {
    commits: &'a [Commit],
    index: HashMap<&'a str, usize>,
}

impl<'a> Graph<'a> {
    pub(super) fn new(project: &'a Project) -> Self {
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
    pub(super) fn between(&self, from: Option<&str>, to: &str) -> Vec<&'a Commit> {
        let exclude = self.reachable(from);
        let include = self.reachable(Some(to));
        let mut picked: Vec<usize> = include.difference(&exclude).copied().collect();
        picked.sort_unstable();
        picked.into_iter().map(|i| &self.commits[i]).collect()
    }

    /// The best common ancestor: the newest commit reachable from both.
    pub(super) fn merge_base(&self, a: &str, b: &str) -> Option<&'a str> {
        let left = self.reachable(Some(a));
        let right = self.reachable(Some(b));
        left.intersection(&right)
            .max()
            .map(|&i| self.commits[i].id.as_str())
    }

    /// The tree at commit `id`: its first-parent chain's changes replayed from the root.
    pub(super) fn tree_at(&self, id: Option<&str>) -> Tree {
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
pub(in crate::api) fn pushed_commits<'a>(project: &'a Project, push: &Push) -> Vec<&'a Commit> {
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
pub(in crate::api) fn merge_base(project: &Project, a: &str, b: &str) -> Option<String> {
    Graph::new(project).merge_base(a, b).map(str::to_owned)
}

/// A ref as GitLab resolves it: a branch (`name` or `refs/heads/name`), `HEAD`, or a
/// commit id or unambiguous prefix of one.
pub(in crate::api) fn resolve_ref(project: &Project, r: &str) -> Option<String> {
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
pub(in crate::api) fn tree_for_ref(project: &Project, r: &str) -> Option<(String, Tree)> {
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
pub(in crate::api) enum MergeError {
    /// A branch is gone.
    MissingBranch,
    /// Both sides changed these paths differently since the merge base.
    Conflict,
}

/// Merges `source` into `target` with a merge commit (GitLab's default merge method:
/// parents target head, then source head), file by file against the merge base.
pub(in crate::api) fn merge(
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
pub(super) fn tree_changes(old: &Tree, new: &Tree) -> Vec<Change> {
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
pub(super) fn valid_branch_name(name: &str) -> bool {
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

/// Git's blob id: SHA-1 of `blob <len>\0<content>`.
pub(in crate::api) fn blob_id(content: &[u8]) -> String {
    let mut hasher = Sha1::new();
    hasher.update(format!("blob {}\0", content.len()).as_bytes());
    hasher.update(content);
    hex(&hasher.finalize())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
