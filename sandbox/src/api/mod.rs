//! The routes: GitLab's API v4 under `/api/v4`, the sandbox's own under `/-/sandbox`.
//!
//! This file only wires routes to handlers. Each GitLab resource has its own file, so a
//! new endpoint goes beside its siblings: `users.rs`, `projects.rs`, `issues/`,
//! `notes.rs`, `labels.rs`, `boards.rs`, `files.rs`, `hooks.rs`, `repository/`
//! (branches, commits, compare), `merge_requests.rs` (merge requests and their notes). What every route
//! shares lives apart: `middleware.rs` (auth, faults, rate limits, statistics, saving),
//! `pagination.rs` (every list), `extract.rs` (parameters) and `reply.rs` (responses);
//! `access.rs` (who is asking, unreadable projects); `scopes.rs` (a token's scopes);
//! `members.rs` for project members; `milestones.rs` for milestones; `settings.rs` for
//! the application settings; `features.rs` for feature flags; `groups.rs` for groups and
//! their members.
//! `sandbox.rs` holds the endpoints GitLab does not have.

mod access;
mod boards;
mod extract;
mod features;
mod files;
mod git_push;
mod groups;
mod hooks;
mod issues;
mod labels;
mod members;
mod merge_requests;
mod middleware;
mod milestones;
mod notes;
mod pagination;
mod project_settings;
mod projects;
mod reply;
mod repository;
mod sandbox;
mod scopes;
mod settings;
mod tree;
mod users;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post, put};

use crate::App;
use crate::error::ApiError;

/// The largest request body the API reads.
const BODY_LIMIT: usize = 16 * 1024 * 1024;

/// Every route of the sandbox, with the middleware in front of the GitLab ones.
///
/// Long on purpose: a table with one line per endpoint reads better whole than split.
pub(crate) fn router(app: Arc<App>) -> Router {
    let api = Router::new()
        .route("/user", get(users::current_user))
        .route("/users", get(users::list_users))
        .route("/users/{user_id}", get(users::get_user))
        .route(
            "/application/settings",
            get(settings::get_settings).put(settings::put_settings),
        )
        .route("/features", get(features::list_features))
        .route(
            "/features/{name}",
            post(features::set_feature).delete(features::delete_feature),
        )
        .route(
            "/projects/{id}",
            get(projects::get_project).put(project_settings::put_project),
        )
        .route("/issues", get(issues::list_all_issues))
        .route("/issues_statistics", get(issues::issues_statistics))
        .route("/projects/{id}/repository/tree", get(tree::list_tree))
        .route(
            "/projects/{id}/issues",
            get(issues::list_issues).post(issues::create_issue),
        )
        .route(
            "/projects/{id}/issues/{iid}",
            get(issues::get_issue)
                .put(issues::edit_issue)
                .delete(issues::delete_issue),
        )
        .route(
            "/projects/{id}/issues/{iid}/notes",
            get(notes::list_notes).post(notes::create_note),
        )
        .route(
            "/projects/{id}/issues/{iid}/links",
            get(issues::list_issue_links),
        )
        .route(
            "/projects/{id}/milestones",
            get(milestones::list_milestones).post(milestones::create_milestone),
        )
        .route(
            "/projects/{id}/labels",
            get(labels::list_labels)
                .post(labels::create_label)
                .put(labels::edit_label_by_param),
        )
        .route(
            "/projects/{id}/labels/{label_id}",
            get(labels::get_label)
                .put(labels::edit_label)
                .delete(labels::delete_label),
        )
        .route(
            "/projects/{id}/boards",
            get(boards::list_boards).post(boards::create_board),
        )
        .route("/projects/{id}/boards/{board_id}", get(boards::get_board))
        .route(
            "/projects/{id}/boards/{board_id}/lists",
            get(boards::list_board_lists).post(boards::create_board_list),
        )
        .route(
            "/projects/{id}/boards/{board_id}/lists/{list_id}",
            get(boards::get_board_list)
                .put(boards::move_board_list)
                .delete(boards::delete_board_list),
        )
        .route(
            "/projects/{id}/repository/files/{file_path}",
            get(files::get_file)
                .head(files::head_file)
                .post(files::create_file)
                .put(files::update_file),
        )
        .route(
            "/projects/{id}/repository/files/{file_path}/raw",
            get(files::raw_file),
        )
        .route(
            "/projects/{id}/hooks",
            get(hooks::list_hooks).post(hooks::create_hook),
        )
        .route(
            "/projects/{id}/repository/branches",
            post(repository::create_branch),
        )
        .route(
            "/projects/{id}/repository/branches/{branch}",
            get(repository::get_branch),
        )
        .route(
            "/projects/{id}/repository/commits",
            post(repository::create_commit),
        )
        .route(
            "/projects/{id}/repository/compare",
            get(repository::compare),
        )
        .route(
            "/projects/{id}/merge_requests",
            post(merge_requests::create_merge_request),
        )
        .route(
            "/projects/{id}/merge_requests/{iid}",
            get(merge_requests::get_merge_request),
        )
        .route(
            "/projects/{id}/merge_requests/{iid}/merge",
            put(merge_requests::merge_merge_request),
        )
        .route(
            "/projects/{id}/merge_requests/{iid}/notes",
            get(merge_requests::list_mr_notes).post(merge_requests::create_mr_note),
        )
        .route(
            "/projects/{id}/merge_requests/{iid}/notes/{note_id}",
            put(merge_requests::edit_mr_note),
        )
        .route("/users", post(users::create_user))
        .route(
            "/users/{user_id}/personal_access_tokens",
            post(users::create_token),
        )
        .route(
            "/projects/{id}/members",
            get(members::list_members).post(members::add_member),
        )
        .route("/projects/{id}/members/all", get(members::list_all_members))
        .route("/projects", post(projects::create_project))
        .route("/groups", post(groups::create_group))
        .route("/groups/{group_id}", get(groups::get_group))
        .route(
            "/groups/{group_id}/members",
            get(groups::list_group_members).post(groups::add_group_member),
        )
        .fallback(|| async { ApiError::no_route() })
        // GitLab reads bodies far larger than axum's default 2 MB: a description of
        // 1 MiB (its limit, in bytes) is up to 3 MiB form-encoded, and must reach the
        // validation to be refused or accepted as GitLab would.
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        // Inside the authentication below: only a known caller's access is checked.
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            access::project_visibility,
        ))
        // A token's scopes are checked on authentication, before any project is looked up.
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            scopes::require_scope,
        ))
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            middleware::gitlab,
        ));
    let own = Router::new()
        .route("/stats", get(sandbox::get_stats))
        .route("/stats/reset", post(sandbox::reset_stats))
        .route("/faults", put(sandbox::put_faults).get(sandbox::get_faults))
        .route("/projects/{id}/push", post(git_push::push));
    Router::new()
        .nest("/api/v4", api)
        .nest("/-/sandbox", own)
        .fallback(middleware::unserved)
        .with_state(app)
}
