//! Issue boards and board lists: endpoints the `gitlab` crate does not have, written as
//! its `Endpoint`s so that they run on the same client and paging.

use gitlab::api::endpoint_prelude::*;

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
