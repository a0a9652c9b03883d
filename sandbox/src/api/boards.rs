//! Issue boards and their lists: list, get, create, and moving a list (GitLab:
//! `lib/api/boards.rb`). Reading needs `read_issue_board` (whoever may read the project);
//! changing a board `admin_issue_board` and its lists `admin_issue_board_list`, both
//! Planner, Reporter and up (`app/policies/project_policy.rb`), on every tier.

use axum::extract::{Path, State};

use super::access::Caller;
use super::extract::{Req, Shared};
use super::pagination::paginate;
use super::projects::project_idx;
use super::reply::{ApiResult, created, ok};
use crate::error::ApiError;
use crate::model::{Board, BoardList, Project};

fn find_board(project: &Project, board_id: &str) -> Result<usize, ApiError> {
    board_id
        .parse::<u64>()
        .ok()
        .and_then(|n| project.boards.iter().position(|b| b.id == n))
        .ok_or_else(|| ApiError::not_found("Board"))
}

/// `GET /projects/:id/boards`.
pub(super) async fn list_boards(State(app): Shared, Path(id): Path<String>, req: Req) -> ApiResult {
    let items = {
        let state = app.state.lock();
        let pi = project_idx(&state, &id)?;
        let project = &state.projects[pi];
        let render = app.render(&state);
        project
            .boards
            .iter()
            .map(|b| render.board(project, b))
            .collect()
    };
    paginate(&app, &req, items)
}

/// `GET /projects/:id/boards/:board_id`.
pub(super) async fn get_board(
    State(app): Shared,
    Path((id, board_id)): Path<(String, String)>,
) -> ApiResult {
    let state = app.state.lock();
    let pi = project_idx(&state, &id)?;
    let project = &state.projects[pi];
    let bi = find_board(project, &board_id)?;
    ok(app.render(&state).board(project, &project.boards[bi]))
}

/// Whether the caller may change boards (`admin_issue_board`) or their lists
/// (`admin_issue_board_list`, the same roles): `403 Forbidden` if not.
fn authorize_admin_board(app: &crate::App, caller: Caller, pi: usize) -> Result<(), ApiError> {
    let state = app.state.lock();
    if caller
        .access(&state, &state.projects[pi])
        .admin_issue_board()
    {
        Ok(())
    } else {
        Err(ApiError::forbidden())
    }
}

/// `POST /projects/:id/boards`: a board with no lists; names need not be unique. On every
/// tier: `Project#multiple_issue_boards_available?` is `true` since GitLab 12.1
/// (`app/models/project.rb`), so `create_board` in `lib/api/boards_responses.rb` never
/// refuses a project. Grape checks `name` first, then `authorize!(:admin_issue_board)`.
pub(super) async fn create_board(
    State(app): Shared,
    caller: Caller,
    Path(id): Path<String>,
    req: Req,
) -> ApiResult {
    let name = req
        .params
        .get("name")
        .ok_or_else(|| ApiError::missing("name"))?
        .to_owned();
    let pi = project_idx(&app.state.lock(), &id)?;
    authorize_admin_board(&app, caller, pi)?;
    let mut state = app.state.lock();
    let board_id = state.next_id();
    state.projects[pi].boards.push(Board {
        id: board_id,
        name,
        lists: Vec::new(),
    });
    let project = &state.projects[pi];
    created(
        app.render(&state)
            .board(project, project.boards.last().expect("just pushed")),
    )
}

/// `GET /projects/:id/boards/:board_id/lists`.
pub(super) async fn list_board_lists(
    State(app): Shared,
    Path((id, board_id)): Path<(String, String)>,
    req: Req,
) -> ApiResult {
    let items = {
        let state = app.state.lock();
        let pi = project_idx(&state, &id)?;
        let project = &state.projects[pi];
        let board = &project.boards[find_board(project, &board_id)?];
        let render = app.render(&state);
        board
            .lists
            .iter()
            .map(|l| render.board_list(project, l))
            .collect()
    };
    paginate(&app, &req, items)
}

/// `GET /projects/:id/boards/:board_id/lists/:list_id`.
pub(super) async fn get_board_list(
    State(app): Shared,
    Path((id, board_id, list_id)): Path<(String, String, String)>,
) -> ApiResult {
    let state = app.state.lock();
    let pi = project_idx(&state, &id)?;
    let project = &state.projects[pi];
    let board = &project.boards[find_board(project, &board_id)?];
    let list = list_id
        .parse::<u64>()
        .ok()
        .and_then(|n| board.lists.iter().find(|l| l.id == n))
        .ok_or_else(|| ApiError::not_found("List"))?;
    ok(app.render(&state).board_list(project, list))
}

/// `PUT /projects/:id/boards/:board_id/lists/:list_id`: the list takes `position` and
/// the others shift, as in GitLab (`app/services/boards/lists/move_service.rb`). A move
/// to where the list already is, below 0 or past the last list is refused with
/// `400 {"message":{"error":"List could not be moved!"}}` (`valid_move?`,
/// `lib/api/boards_responses.rb`).
///
/// The list is looked up before `authorize!(:admin_issue_board_list)`, as GitLab does.
pub(super) async fn move_board_list(
    State(app): Shared,
    caller: Caller,
    Path((id, board_id, list_id)): Path<(String, String, String)>,
    req: Req,
) -> ApiResult {
    let position = req
        .params
        .int("position")?
        .ok_or_else(|| ApiError::missing("position"))?;
    let (pi, bi) = {
        let state = app.state.lock();
        let pi = project_idx(&state, &id)?;
        let bi = find_board(&state.projects[pi], &board_id)?;
        let found = list_id.parse::<u64>().ok().is_some_and(|n| {
            state.projects[pi].boards[bi]
                .lists
                .iter()
                .any(|l| l.id == n)
        });
        if !found {
            return Err(ApiError::not_found("List"));
        }
        (pi, bi)
    };
    authorize_admin_board(&app, caller, pi)?;
    let mut state = app.state.lock();
    let board = &mut state.projects[pi].boards[bi];
    board.lists.sort_by_key(|l| l.position);
    let from = list_id
        .parse::<u64>()
        .ok()
        .and_then(|n| board.lists.iter().position(|l| l.id == n))
        .ok_or_else(|| ApiError::not_found("List"))?;
    let to = usize::try_from(position)
        .ok()
        .filter(|&to| to < board.lists.len() && to != from)
        .ok_or_else(|| ApiError::bad_request_with_error("List could not be moved!"))?;
    let list = board.lists.remove(from);
    board.lists.insert(to, list);
    for (i, l) in board.lists.iter_mut().enumerate() {
        l.position = i as u64;
    }
    let project = &state.projects[pi];
    ok(app
        .render(&state)
        .board_list(project, &project.boards[bi].lists[to]))
}

/// `DELETE /projects/:id/boards/:board_id/lists/:list_id`: `204 No Content`
/// (`destroy_conditionally!` in `lib/api/boards_responses.rb`); the lists after it move
/// up one place (`app/services/boards/lists/destroy_service.rb`,
/// `decrement_higher_lists`). `authorize!(:admin_issue_board_list)` comes first.
pub(super) async fn delete_board_list(
    State(app): Shared,
    caller: Caller,
    Path((id, board_id, list_id)): Path<(String, String, String)>,
) -> ApiResult {
    let pi = project_idx(&app.state.lock(), &id)?;
    authorize_admin_board(&app, caller, pi)?;
    let mut state = app.state.lock();
    let bi = find_board(&state.projects[pi], &board_id)?;
    let board = &mut state.projects[pi].boards[bi];
    board.lists.sort_by_key(|l| l.position);
    let at = list_id
        .parse::<u64>()
        .ok()
        .and_then(|n| board.lists.iter().position(|l| l.id == n))
        .ok_or_else(|| ApiError::not_found("List"))?;
    board.lists.remove(at);
    for (i, l) in board.lists.iter_mut().enumerate() {
        l.position = i as u64;
    }
    Ok(axum::response::IntoResponse::into_response(
        axum::http::StatusCode::NO_CONTENT,
    ))
}

/// `POST /projects/:id/boards/:board_id/lists`: a label list at the end; GitLab Free
/// has only label lists, one per label. A label the project does not have is
/// `400 {"message":{"error":"Label not found"}}` and a second list of a label
/// `400 {"message":{"error":"Label has already been taken"}}`: the service's first
/// error, as `lib/api/boards_responses.rb` renders it
/// (`app/services/boards/lists/base_create_service.rb`, `List`'s uniqueness of a label
/// per board). Grape's parameter check, then `authorize!(:admin_issue_board_list)`,
/// then the board.
pub(super) async fn create_board_list(
    State(app): Shared,
    caller: Caller,
    Path((id, board_id)): Path<(String, String)>,
    req: Req,
) -> ApiResult {
    let label_id = req.params.int("label_id")?.ok_or_else(|| {
        ApiError::bad_request_error(
            "label_id, assignee_id, milestone_id, iteration_id are missing, exactly one parameter must be provided".into(),
        )
    })? as u64;
    let pi = project_idx(&app.state.lock(), &id)?;
    authorize_admin_board(&app, caller, pi)?;
    let mut state = app.state.lock();
    let bi = find_board(&state.projects[pi], &board_id)?;
    if !state.projects[pi].labels.iter().any(|l| l.id == label_id) {
        return Err(ApiError::bad_request_with_error("Label not found"));
    }
    if state.projects[pi].boards[bi]
        .lists
        .iter()
        .any(|l| l.label_id == label_id)
    {
        return Err(ApiError::bad_request_with_error(
            "Label has already been taken",
        ));
    }
    let list_id = state.next_id();
    let board = &mut state.projects[pi].boards[bi];
    let position = board.lists.len() as u64;
    board.lists.push(BoardList {
        id: list_id,
        label_id,
        position,
    });
    let project = &state.projects[pi];
    created(app.render(&state).board_list(
        project,
        project.boards[bi].lists.last().expect("just pushed"),
    ))
}
