//! The repository's data: files, commits, branches, merge requests, and how a project
//! finds a branch's head and tree.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::Project;

/// A file in a branch's tree.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RepoFile {
    pub content: Vec<u8>,
    pub blob_id: String,
    /// The last commit on this branch that changed the file (`git log -1 -- path`).
    pub last_commit_id: String,
}

/// A commit on any branch.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Commit {
    pub id: String,
    pub message: String,
    pub author_name: String,
    pub created_at: DateTime<Utc>,
    pub paths: Vec<String>,
    /// First parent first, as git keeps them; two for a merge commit.
    #[serde(default)]
    pub parent_ids: Vec<String>,
    /// What the commit changed relative to its first parent (what `raw_deltas` gives).
    #[serde(default)]
    pub changes: Vec<Change>,
}

/// How a commit changed one path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    Added,
    Modified,
    Removed,
}

/// One path a commit changed, with the file as the commit left it (`None`: removed).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Change {
    pub path: String,
    pub kind: ChangeKind,
    pub file: Option<RepoFile>,
}

/// A branch other than the default one: its head and its tree.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Branch {
    pub head: String,
    pub files: BTreeMap<String, RepoFile>,
}

/// A merge request between two branches of one project.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MergeRequest {
    pub id: u64,
    pub iid: u64,
    pub title: String,
    pub description: Option<String>,
    pub source_branch: String,
    pub target_branch: String,
    /// `opened`, `closed` or `merged`.
    pub state: String,
    pub author_id: u64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub merged_at: Option<DateTime<Utc>>,
    pub merged_by: Option<u64>,
    pub merge_commit_sha: Option<String>,
    /// The source branch's head when merged (GitLab keeps it as the MR's `sha`).
    pub merged_sha: Option<String>,
    pub notes: Vec<MrNote>,
}

/// A comment on a merge request.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MrNote {
    pub id: u64,
    pub body: String,
    pub author_id: u64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The project's default branch, the only one before the first branch is created.
pub const DEFAULT_BRANCH: &str = "main";

impl Project {
    /// The head commit of `branch`; `None` for an unknown branch or an empty `main`.
    pub fn head(&self, branch: &str) -> Option<&str> {
        if branch == DEFAULT_BRANCH {
            // Only a state saved before branches existed lacks `main_head` while having
            // commits; there every commit is main's. (An empty main with commits on
            // other branches has no head.)
            self.main_head.as_deref().or_else(|| {
                self.branches
                    .is_empty()
                    .then(|| self.commits.last().map(|c| c.id.as_str()))
                    .flatten()
            })
        } else {
            self.branches.get(branch).map(|b| b.head.as_str())
        }
    }

    /// The tree of `branch`; `main` always has one, even while empty.
    pub fn tree(&self, branch: &str) -> Option<&BTreeMap<String, RepoFile>> {
        if branch == DEFAULT_BRANCH {
            Some(&self.files)
        } else {
            self.branches.get(branch).map(|b| &b.files)
        }
    }

    /// The tree of `branch`, to change in place.
    pub fn tree_mut(&mut self, branch: &str) -> Option<&mut BTreeMap<String, RepoFile>> {
        if branch == DEFAULT_BRANCH {
            Some(&mut self.files)
        } else {
            self.branches.get_mut(branch).map(|b| &mut b.files)
        }
    }

    /// Gives states saved before branches existed (one linear `main`, no parents, no
    /// recorded changes) a history the branch code can walk: linear parents, and the
    /// current files as the last commit's changes, so the head's tree replays whole.
    /// Older commits of such a state replay without their files.
    pub fn settle_history(&mut self) {
        if self.main_head.is_some() || self.commits.is_empty() {
            return;
        }
        for i in 1..self.commits.len() {
            if self.commits[i].parent_ids.is_empty() {
                self.commits[i].parent_ids = vec![self.commits[i - 1].id.clone()];
            }
        }
        let last = self.commits.len() - 1;
        if self.commits[last].changes.is_empty() {
            self.commits[last].changes = self
                .files
                .iter()
                .map(|(path, file)| Change {
                    path: path.clone(),
                    kind: ChangeKind::Added,
                    file: Some(file.clone()),
                })
                .collect();
        }
        self.main_head = Some(self.commits[last].id.clone());
    }
}
