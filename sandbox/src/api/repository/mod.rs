//! The repository as git keeps it: branches, commits with parents, and what a push or a
//! comparison sees. Endpoints: create and read branches (`branches.rs`), a commit of
//! several file actions (`commits.rs`), and compare (`compare.rs`); the model of trees,
//! commits, branches and merges they share is `git.rs`. The single-file writes in
//! `files.rs` and the merges in `merge_requests.rs` commit through [`commit_actions`] and
//! [`merge`].

mod branches;
mod commits;
mod compare;
mod git;

pub(super) use branches::{create_branch, get_branch};
pub(super) use commits::{author_email, create_commit, title};
pub(super) use compare::compare;
pub(super) use git::{
    ActionKind, CommitInfo, FileAction, MergeError, Push, commit_actions, merge, merge_base,
    pushed_commits, set_branch, tree_for_ref,
};

use crate::error::ApiError;
use crate::params::Params;

/// A parameter Grape `requires`: absent or blank is `{"error":"<name> is missing"}`.
fn required<'p>(params: &'p Params, name: &str) -> Result<&'p str, ApiError> {
    params
        .get(name)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ApiError::bad_request_error(format!("{name} is missing")))
}
