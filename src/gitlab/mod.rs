//! Talking to GitLab: the `gitlab` crate's endpoints over the project's own client.
//!
//! The client implements the crate's `RestClient` and `AsyncClient` over `reqwest`, which
//! gives every request a timeout and (later) access to response headers for rate
//! limiting; the crate's endpoint builders still build every request.

use std::collections::BTreeMap;

use gitlab::api::{self, ApiError, AsyncQuery, Pagination};
use serde::Deserialize;

use crate::sync::board::ObservedBoard;
use crate::sync::{IssueState, ObservedIssue};

pub mod boards;
mod transport;

/// A failure below the HTTP layer (connection, timeout, TLS).
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// The request could not be sent or the answer not read.
    #[error("{}", describe_reqwest(.0))]
    Http(#[from] reqwest::Error),
    /// The request could not be built.
    #[error("building the request: {0}")]
    Build(#[from] http::Error),
}

/// reqwest's message with its causes.
fn describe_reqwest(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// A GitLab request that failed, said so a person can act on it.
#[derive(Debug, thiserror::Error)]
pub enum GitlabError {
    /// 401: the token.
    #[error("{what}: GitLab answered 401 Unauthorized: the token is wrong, expired or revoked")]
    Unauthorized {
        /// The request.
        what: String,
    },
    /// 403: the token's rights.
    #[error(
        "{what}: GitLab answered 403 Forbidden: the token's user may not do this (needs at least Reporter to read, Planner or Developer to write issues)"
    )]
    Forbidden {
        /// The request.
        what: String,
    },
    /// 404.
    #[error(
        "{what}: GitLab answered 404 ({message}): check the project path and that the token's user can see it"
    )]
    NotFound {
        /// The request.
        what: String,
        /// GitLab's message.
        message: String,
    },
    /// GitLab did not answer, or answered 5xx: the request may or may not have been applied.
    #[error("{what}: {message}")]
    Unavailable {
        /// The request.
        what: String,
        /// What happened.
        message: String,
    },
    /// Anything else.
    #[error("{what}: {message}")]
    Other {
        /// The request.
        what: String,
        /// What went wrong.
        message: String,
    },
}

/// Creates something at most three times, never blindly: when an attempt's outcome is
/// unknown (a lost answer, a 5xx, a timeout), `look_up` checks whether it went through
/// before the next attempt. Any other error ends it at once.
pub async fn create_without_duplicates<T, A, AF, L, LF>(
    mut attempt: A,
    mut look_up: L,
) -> Result<T, GitlabError>
where
    A: FnMut() -> AF,
    AF: Future<Output = Result<T, GitlabError>>,
    L: FnMut() -> LF,
    LF: Future<Output = Result<Option<T>, GitlabError>>,
{
    let mut last = None;
    for _ in 0..3 {
        match attempt().await {
            Ok(created) => return Ok(created),
            Err(e) if e.outcome_unknown() => {
                tracing::warn!("{e}; looking before trying again");
                if let Some(found) = look_up().await? {
                    return Ok(found);
                }
                last = Some(e);
            }
            Err(e) => return Err(e),
        }
    }
    Err(last.expect("the loop ran"))
}

impl GitlabError {
    fn from_api(what: impl Into<String>, err: ApiError<TransportError>) -> Self {
        let what = what.into();
        match err {
            ApiError::GitlabWithStatus { status, .. } | ApiError::GitlabService { status, .. }
                if status.as_u16() == 401 =>
            {
                GitlabError::Unauthorized { what }
            }
            ApiError::GitlabWithStatus { status, msg } => match status.as_u16() {
                403 => GitlabError::Forbidden { what },
                404 => GitlabError::NotFound { what, message: msg },
                code => GitlabError::Other {
                    what,
                    message: format!("GitLab answered {code}: {msg}"),
                },
            },
            ApiError::GitlabService { status, .. } if status.is_server_error() => {
                GitlabError::Unavailable {
                    what,
                    message: format!("GitLab answered {status}"),
                }
            }
            ApiError::GitlabService { status, .. } => GitlabError::Other {
                what,
                message: format!("GitLab answered {status}"),
            },
            ApiError::GitlabObjectWithStatus { status, obj } => GitlabError::Other {
                what,
                message: format!("GitLab answered {status}: {obj}"),
            },
            ApiError::Client { source } => GitlabError::Unavailable {
                what,
                message: format!("request failed: {source}"),
            },
            other => GitlabError::Other {
                what,
                message: other.to_string(),
            },
        }
    }

    /// True when the request may have been applied although no answer says so.
    pub fn outcome_unknown(&self) -> bool {
        matches!(self, GitlabError::Unavailable { .. })
    }

    /// True for a 409 (e.g. a label that already exists).
    fn is_conflict(err: &ApiError<TransportError>) -> bool {
        matches!(err, ApiError::GitlabWithStatus { status, .. } if status.as_u16() == 409)
    }
}

pub use transport::{Client, Policy, http_client};

#[derive(Debug, Deserialize)]
struct GlUser {
    id: u64,
    username: String,
}

#[derive(Debug, Deserialize)]
struct GlIssue {
    iid: u64,
    title: String,
    description: Option<String>,
    state: String,
    labels: Vec<String>,
    #[serde(default)]
    assignees: Vec<GlUser>,
}

impl GlIssue {
    fn observed(self) -> ObservedIssue {
        ObservedIssue {
            iid: self.iid,
            title: self.title,
            description: self.description.unwrap_or_default(),
            state: if self.state == "closed" {
                IssueState::Closed
            } else {
                IssueState::Opened
            },
            labels: self.labels,
            assignees: self.assignees.into_iter().map(|u| u.username).collect(),
        }
    }
}

/// An issue read right before a write.
#[derive(Debug, Clone)]
pub struct CurrentIssue {
    /// The issue.
    pub issue: ObservedIssue,
    /// Its assignees' user ids by username.
    pub assignee_ids: BTreeMap<String, u64>,
}

#[derive(Debug, Deserialize)]
struct GlLabel {
    id: u64,
    name: String,
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

#[derive(Debug, Deserialize)]
struct Created {
    id: u64,
}

/// One edit of an issue: [`crate::sync::Write::Edit`] with the assignee resolved to a
/// user id. A field left `None` (or an empty label list) is not sent, so GitLab keeps it.
#[derive(Debug, Clone, Default)]
pub struct IssueEdit<'a> {
    /// New title.
    pub title: Option<&'a str>,
    /// New description.
    pub description: Option<&'a str>,
    /// Labels to add.
    pub add_labels: &'a [String],
    /// Labels to remove.
    pub remove_labels: &'a [String],
    /// The whole set of assignees' user ids; `Some` of an empty list unassigns.
    pub assignees: Option<Vec<u64>>,
    /// Close or reopen.
    pub state: Option<IssueState>,
}

/// What handbook-sync needs to know of a project.
#[derive(Debug, Clone, Deserialize)]
pub struct ProjectInfo {
    /// Global id.
    pub id: u64,
    /// `group/name`.
    pub path_with_namespace: String,
    /// `public`, `internal` or `private`.
    pub visibility: Option<String>,
    /// Where people see it.
    pub web_url: String,
}

/// The GitLab operations of a sync.
#[derive(Debug)]
pub struct Gitlab {
    client: Client,
}

impl Gitlab {
    /// Wraps a client.
    pub fn new(client: Client) -> Self {
        Gitlab { client }
    }

    /// A project by path or id.
    pub async fn project(&self, project: &str) -> Result<ProjectInfo, GitlabError> {
        let ep = api::projects::Project::builder()
            .project(project)
            .build()
            .expect("a project endpoint builds");
        ep.query_async(&self.client)
            .await
            .map_err(|e| GitlabError::from_api(format!("reading project `{project}`"), e))
    }

    /// Every issue of the project carrying `label`, open and closed, all pages.
    pub async fn managed_issues(
        &self,
        project: u64,
        label: &str,
    ) -> Result<Vec<ObservedIssue>, GitlabError> {
        self.managed_issues_since(project, label, None).await
    }

    /// [`Gitlab::managed_issues`], only those created at or after `since` (GitLab's
    /// issue list is strongly consistent: a create that went through is in it).
    pub async fn managed_issues_since(
        &self,
        project: u64,
        label: &str,
        since: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Result<Vec<ObservedIssue>, GitlabError> {
        let mut ep = api::issues::ProjectIssues::builder();
        ep.project(project).label(label);
        if let Some(since) = since {
            ep.created_after(since);
        }
        let ep = ep.build().expect("an issue list builds");
        let issues: Vec<GlIssue> = api::paged(ep, Pagination::All)
            .query_async(&self.client)
            .await
            .map_err(|e| {
                GitlabError::from_api(format!("listing the issues of project {project}"), e)
            })?;
        Ok(issues.into_iter().map(GlIssue::observed).collect())
    }

    /// One issue as it is now, with its assignees' user ids: read right before a write,
    /// so that the write goes onto what people wrote meanwhile.
    pub async fn issue(&self, project: u64, iid: u64) -> Result<CurrentIssue, GitlabError> {
        let ep = api::projects::issues::Issue::builder()
            .project(project)
            .issue(iid)
            .build()
            .expect("an issue query builds");
        let issue: GlIssue = ep
            .query_async(&self.client)
            .await
            .map_err(|e| GitlabError::from_api(format!("reading issue #{iid}"), e))?;
        let assignee_ids = issue
            .assignees
            .iter()
            .map(|u| (u.username.clone(), u.id))
            .collect();
        Ok(CurrentIssue {
            issue: issue.observed(),
            assignee_ids,
        })
    }

    /// Adds a note (a comment) to an issue, never twice: when the outcome of an attempt
    /// is unknown, the issue's notes are searched for the same body first.
    pub async fn create_note(&self, project: u64, iid: u64, body: &str) -> Result<(), GitlabError> {
        let what = || format!("adding a note to issue #{iid}");
        create_without_duplicates(
            || async {
                let ep = api::projects::issues::notes::CreateIssueNote::builder()
                    .project(project)
                    .issue(iid)
                    .body(body)
                    .build()
                    .expect("a note builds");
                api::ignore(ep)
                    .query_async(&self.client)
                    .await
                    .map_err(|e| GitlabError::from_api(what(), e))
            },
            || async {
                #[derive(Deserialize)]
                struct Note {
                    body: String,
                }
                let ep = api::projects::issues::notes::IssueNotes::builder()
                    .project(project)
                    .issue(iid)
                    .build()
                    .expect("a note list builds");
                let notes: Vec<Note> = api::paged(ep, Pagination::All)
                    .query_async(&self.client)
                    .await
                    .map_err(|e| GitlabError::from_api(what(), e))?;
                Ok(notes.iter().any(|n| n.body == body).then_some(()))
            },
        )
        .await
    }

    /// The paths of the files that differ between two commits (GitLab's compare API,
    /// `straight`: added, modified, renamed from and to, and deleted files).
    pub async fn changed_paths(
        &self,
        project: &str,
        from: &str,
        to: &str,
    ) -> Result<Vec<String>, GitlabError> {
        #[derive(Deserialize)]
        struct Diff {
            old_path: String,
            new_path: String,
        }
        #[derive(Deserialize)]
        struct Compare {
            #[serde(default)]
            diffs: Vec<Diff>,
        }
        let ep = api::projects::repository::commits::CompareCommits::builder()
            .project(project)
            .from(from)
            .to(to)
            // The two trees compared directly, not from their merge base: after a force
            // push, files changed only in the dropped commits differ too.
            .straight(true)
            .build()
            .expect("a compare query builds");
        let compare: Compare = ep.query_async(&self.client).await.map_err(|e| {
            GitlabError::from_api(format!("comparing {from}...{to} in `{project}`"), e)
        })?;
        let mut paths: Vec<String> = compare
            .diffs
            .into_iter()
            .flat_map(|d| [d.old_path, d.new_path])
            .collect();
        paths.sort();
        paths.dedup();
        Ok(paths)
    }

    /// The project's labels: name → id.
    pub async fn labels(&self, project: u64) -> Result<BTreeMap<String, u64>, GitlabError> {
        let ep = api::projects::labels::Labels::builder()
            .project(project)
            .build()
            .expect("a label list builds");
        let labels: Vec<GlLabel> = api::paged(ep, Pagination::All)
            .query_async(&self.client)
            .await
            .map_err(|e| {
                GitlabError::from_api(format!("listing the labels of project {project}"), e)
            })?;
        Ok(labels.into_iter().map(|l| (l.name, l.id)).collect())
    }

    /// Creates a label and returns its id; one that appeared meanwhile (409) is fine.
    pub async fn create_label(
        &self,
        project: u64,
        name: &str,
        color: &str,
        description: &str,
    ) -> Result<u64, GitlabError> {
        let ep = api::projects::labels::CreateLabel::builder()
            .project(project)
            .name(name)
            .color(color)
            .description(description)
            .build()
            .expect("a label builds");
        let what = || format!("creating label `{name}`");
        match ep.query_async(&self.client).await {
            Ok(Created { id }) => Ok(id),
            Err(e) if GitlabError::is_conflict(&e) => {
                let ep = api::projects::labels::Label::builder()
                    .project(project)
                    .label(name)
                    .build()
                    .expect("a label query builds");
                let label: GlLabel = ep
                    .query_async(&self.client)
                    .await
                    .map_err(|e| GitlabError::from_api(what(), e))?;
                Ok(label.id)
            }
            Err(e) => Err(GitlabError::from_api(what(), e)),
        }
    }

    /// The project's boards with their label lists in position order.
    pub async fn boards(&self, project: u64) -> Result<Vec<ObservedBoard>, GitlabError> {
        let boards: Vec<GlBoard> = api::paged(boards::Boards { project }, Pagination::All)
            .query_async(&self.client)
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
                (boards::CreateBoard { project, name })
                    .query_async(&self.client)
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
                (boards::CreateBoardList {
                    project,
                    board,
                    label,
                })
                .query_async(&self.client)
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
            api::ignore(boards::MoveBoardList {
                project,
                board,
                list: id,
                position,
            })
            .query_async(&self.client)
            .await
            .map_err(|e| GitlabError::from_api(what(), e))?;
        }
        Ok(())
    }

    /// The ids of the usernames that exist, looked up one by one (exact match).
    pub async fn user_ids(
        &self,
        usernames: impl IntoIterator<Item = &str>,
    ) -> Result<BTreeMap<String, u64>, GitlabError> {
        let mut found = BTreeMap::new();
        for username in usernames {
            if username.is_empty() || username.contains(char::is_whitespace) {
                continue;
            }
            let ep = api::users::Users::builder()
                .username(username)
                .build()
                .expect("a user query builds");
            let users: Vec<GlUser> = ep
                .query_async(&self.client)
                .await
                .map_err(|e| GitlabError::from_api(format!("looking up user `{username}`"), e))?;
            if let Some(user) = users
                .into_iter()
                .find(|u| u.username.eq_ignore_ascii_case(username))
            {
                found.insert(user.username.clone(), user.id);
                found.insert(username.to_owned(), user.id);
            }
        }
        Ok(found)
    }

    /// A repository file: its blob id and its text (one request).
    pub async fn repository_file(
        &self,
        project: &str,
        path: &str,
        git_ref: &str,
    ) -> Result<(String, String), GitlabError> {
        #[derive(Deserialize)]
        struct GlFile {
            blob_id: String,
            content: String,
        }
        let what = || format!("reading gitlab://{project}/-/{path}?ref={git_ref}");
        let ep = api::projects::repository::files::File::builder()
            .project(project)
            .file_path(path)
            .ref_(git_ref)
            .build()
            .expect("a file query builds");
        let file: GlFile = ep
            .query_async(&self.client)
            .await
            .map_err(|e| GitlabError::from_api(what(), e))?;
        use base64::Engine as _;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(file.content.replace('\n', ""))
            .map_err(|e| GitlabError::Other {
                what: what(),
                message: format!("bad base64 content: {e}"),
            })?;
        let text = String::from_utf8(bytes).map_err(|e| GitlabError::Other {
            what: what(),
            message: format!(
                "not valid UTF-8 (first bad byte at offset {})",
                e.utf8_error().valid_up_to()
            ),
        })?;
        Ok((file.blob_id, text))
    }

    /// Creates an issue; returns its iid.
    pub async fn create_issue(
        &self,
        project: u64,
        title: &str,
        description: &str,
        labels: &[String],
        assignee: Option<u64>,
    ) -> Result<u64, GitlabError> {
        let mut ep = api::projects::issues::CreateIssue::builder();
        ep.project(project)
            .title(title)
            .description(description)
            .labels(labels.iter().map(String::as_str));
        if let Some(id) = assignee {
            ep.assignee_id(id);
        }
        let ep = ep.build().expect("an issue builds");
        #[derive(Deserialize)]
        struct Created {
            iid: u64,
        }
        let created: Created = ep
            .query_async(&self.client)
            .await
            .map_err(|e| GitlabError::from_api(format!("creating issue “{title}”"), e))?;
        Ok(created.iid)
    }

    /// Edits an issue: the fields `edit` sets, nothing else.
    pub async fn edit_issue(
        &self,
        project: u64,
        iid: u64,
        edit: &IssueEdit<'_>,
    ) -> Result<(), GitlabError> {
        let mut ep = api::projects::issues::EditIssue::builder();
        ep.project(project).issue(iid);
        if let Some(t) = edit.title {
            ep.title(t);
        }
        if let Some(d) = edit.description {
            ep.description(d);
        }
        for l in edit.add_labels {
            ep.add_label(l.as_str());
        }
        for l in edit.remove_labels {
            ep.remove_label(l.as_str());
        }
        match edit.assignees.as_deref() {
            Some([]) => {
                ep.unassign();
            }
            Some(ids) => {
                ep.assignee_ids(ids.iter().copied());
            }
            None => {}
        }
        match edit.state {
            Some(IssueState::Closed) => {
                ep.state_event(api::projects::issues::IssueStateEvent::Close);
            }
            Some(IssueState::Opened) => {
                ep.state_event(api::projects::issues::IssueStateEvent::Reopen);
            }
            None => {}
        }
        let ep = ep.build().expect("an issue edit builds");
        api::ignore(ep)
            .query_async(&self.client)
            .await
            .map_err(|e| GitlabError::from_api(format!("editing issue #{iid}"), e))
    }
}
