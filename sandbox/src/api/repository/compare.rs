//! Compare (`lib/api/repositories.rb`, shape `lib/api/entities/compare.rb`).

use axum::extract::{Path, State};
use serde_json::{Value, json};

use super::commits::commit_json;
use super::git::{Graph, Tree, resolve_ref, tree_changes};
use super::required;
use crate::api::extract::{Req, Shared};
use crate::api::projects::project_idx;
use crate::api::reply::{ApiResult, ok};
use crate::error::ApiError;
use crate::model::ChangeKind;

/// GitLab's default `diff_max_files`: a compare lists at most this many files.
const DIFF_MAX_FILES: usize = 1000;

/// `GET /projects/:id/repository/compare?from=&to=[&straight=]`. Without `straight`
/// the diff is from the merge base (`from...to`), as GitLab's default.
pub(in crate::api) async fn compare(
    State(app): Shared,
    Path(id): Path<String>,
    req: Req,
) -> ApiResult {
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
pub(super) fn diffs(old: &Tree, new: &Tree) -> Vec<Value> {
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
