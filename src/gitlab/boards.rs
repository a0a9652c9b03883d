//! Issue boards and board lists: the [`Gitlab`] calls, over endpoints the `gitlab` crate
//! does not have, written as its `Endpoint`s so that they run on the same client and
//! paging.

use gitlab::api::endpoint_prelude::*;
use gitlab::api::{self, AsyncQuery, Pagination};
use serde::Deserialize;

use super::labels::GlLabel;
use super::{Created, Gitlab, GitlabError, create_without_duplicates};
use crate::sync::board::ObservedBoard;

/// `GET /projects/:id/boards`.
pub struct Boards {
    /// Project id.
    pub project: u64,
}

impl Endpoint for Boards {
    fn method(&self) -> Method {
        Method::GET
    }

    fn endpoint(&self) -> Cow<'static, str> {
        format!("projects/{}/boards", self.project).into()
    }
}

impl Pageable for Boards {}

/// `POST /projects/:id/boards`.
pub struct CreateBoard<'a> {
    /// Project id.
    pub project: u64,
    /// Board name.
    pub name: &'a str,
}

impl Endpoint for CreateBoard<'_> {
    fn method(&self) -> Method {
        Method::POST
    }

    fn endpoint(&self) -> Cow<'static, str> {
        format!("projects/{}/boards", self.project).into()
    }

    fn body(&self) -> Result<Option<(&'static str, Vec<u8>)>, BodyError> {
        let mut params = FormParams::default();
        params.push("name", self.name);
        params.into_body()
    }
}

/// `POST /projects/:id/boards/:board_id/lists` with a label.
pub struct CreateBoardList {
    /// Project id.
    pub project: u64,
    /// Board id.
    pub board: u64,
    /// Label id.
    pub label: u64,
}

impl Endpoint for CreateBoardList {
    fn method(&self) -> Method {
        Method::POST
    }

    fn endpoint(&self) -> Cow<'static, str> {
        format!("projects/{}/boards/{}/lists", self.project, self.board).into()
    }

    fn body(&self) -> Result<Option<(&'static str, Vec<u8>)>, BodyError> {
        let mut params = FormParams::default();
        params.push("label_id", self.label);
        params.into_body()
    }
}

/// `PUT /projects/:id/boards/:board_id/lists/:list_id` with a new position.
pub struct MoveBoardList {
    /// Project id.
    pub project: u64,
    /// Board id.
    pub board: u64,
    /// List id.
    pub list: u64,
    /// New position (0-based).
    pub position: u64,
}

impl Endpoint for MoveBoardList {
    fn method(&self) -> Method {
        Method::PUT
    }

    fn endpoint(&self) -> Cow<'static, str> {
        format!(
            "projects/{}/boards/{}/lists/{}",
            self.project, self.board, self.list
        )
        .into()
    }

    fn body(&self) -> Result<Option<(&'static str, Vec<u8>)>, BodyError> {
        let mut params = FormParams::default();
        params.push("position", self.position);
        params.into_body()
    }
}

#[derive(Debug, Deserialize)]
struct GlBoardList {
    id: u64,
    label: Option<GlLabel>,
    position: u64,
}

#[derive(Debug, Deserialize)]
struct GlBoard {
    id: u64,
    name: String,
    #[serde(default)]
    lists: Vec<GlBoardList>,
}

impl Gitlab {
    /// The project's boards with their label lists in position order.
    pub async fn boards(&self, project: u64) -> Result<Vec<ObservedBoard>, GitlabError> {
        let boards: Vec<GlBoard> = api::paged(Boards { project }, Pagination::All)
            .query_async(&*self.client)
            .await
            .map_err(|e| {
                GitlabError::from_api(format!("listing the boards of project {project}"), e)
            })?;
        Ok(boards
            .into_iter()
            .map(|mut b| {
                b.lists.sort_by_key(|l| (l.position, l.id));
                ObservedBoard {
                    id: b.id,
                    name: b.name,
                    lists: b
                        .lists
                        .into_iter()
                        .filter_map(|l| l.label.map(|l| l.name))
                        .collect(),
                }
            })
            .collect())
    }

    /// Creates a board; returns its id. When the outcome of a create is unknown, the
    /// boards are listed before trying again, so that no second board appears.
    pub async fn create_board(&self, project: u64, name: &str) -> Result<u64, GitlabError> {
        create_without_duplicates(
            || async {
                (CreateBoard { project, name })
                    .query_async(&*self.client)
                    .await
                    .map(|Created { id }| id)
                    .map_err(|e| GitlabError::from_api(format!("creating board “{name}”"), e))
            },
            || async {
                Ok(self
                    .boards(project)
                    .await?
                    .into_iter()
                    .find(|b| b.name == name)
                    .map(|b| b.id))
            },
        )
        .await
    }

    /// Adds a label list to a board at `position`; a list that an unanswered attempt
    /// already added is found, not added twice.
    pub async fn add_board_list(
        &self,
        project: u64,
        board: u64,
        label: u64,
        label_name: &str,
        position: u64,
    ) -> Result<(), GitlabError> {
        let what = || format!("adding list {label_name} to board {board}");
        // `Some` when this call added the list; `None` when an unanswered attempt had.
        let created = create_without_duplicates(
            || async {
                (CreateBoardList {
                    project,
                    board,
                    label,
                })
                .query_async(&*self.client)
                .await
                .map(|GlBoardList { id, position, .. }| Some((id, position)))
                .map_err(|e| GitlabError::from_api(what(), e))
            },
            || async {
                let boards = self.boards(project).await?;
                let there = boards
                    .iter()
                    .any(|b| b.id == board && b.lists.iter().any(|l| l == label_name));
                // Added, though unanswered: its place is left as GitLab put it.
                Ok(there.then_some(None))
            },
        )
        .await?;
        if let Some((id, at)) = created
            && at != position
        {
            api::ignore(MoveBoardList {
                project,
                board,
                list: id,
                position,
            })
            .query_async(&*self.client)
            .await
            .map_err(|e| GitlabError::from_api(what(), e))?;
        }
        Ok(())
    }
}
