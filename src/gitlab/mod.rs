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

mod adopt;
pub mod boards;
pub mod lease;
pub mod notes;
mod page_label;
mod roadmap;
mod transport;
mod tree;
mod turn;

/// A failure below the HTTP layer (connection, timeout, TLS), or a request the client
/// refused to send or to follow.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// The request could not be sent or the answer not read.
    #[error("{}", describe_reqwest(.0))]
    Http(#[from] reqwest::Error),
    /// The request could not be built.
    #[error("building the request: {0}")]
    Build(#[from] http::Error),
    /// The endpoint's URL did not parse.
    #[error("`{url}`: {error}")]
    BadUrl {
        /// The URL, redacted.
        url: String,
        /// What the parser said.
        error: url::ParseError,
    },
    /// GitLab answered 3xx: redirects are never followed, the token would go along.
    #[error("{from} redirects to {to}: set gitlab.url to it")]
    Redirect {
        /// `gitlab.url`, redacted.
        from: String,
        /// Where the answer points, redacted.
        to: String,
    },
    /// A URL on another origin than `gitlab.url` (e.g. from a `Link` header).
    #[error("not sent: `{url}` is not on the configured GitLab (gitlab.url)")]
    ForeignOrigin {
        /// The URL, redacted.
        url: String,
    },
    /// Shutting down: the request was not sent.
    #[error("not sent: shutting down")]
    Cancelled,
    /// A write the fence did not let out: the run's lease is lost or lapsed.
    #[error("not sent: {0}")]
    Fenced(String),
    /// No connection to `gitlab.url` (refused, unknown host) before any answer from it in
    /// this client's life: a wrong URL, said at once rather than after a minute of
    /// retries.
    #[error(
        "cannot reach GitLab at {url} (gitlab.url): {reason}; nothing was sent. Check the URL, or whether GitLab is up"
    )]
    Unreachable {
        /// `gitlab.url`, redacted.
        url: String,
        /// Why, as the system said it (connection refused, name not known).
        reason: String,
    },
}

impl TransportError {
    /// True when no request went out, so nothing can have been applied.
    fn not_sent(&self) -> bool {
        !matches!(self, TransportError::Http(_))
    }

    /// True for a request that ran out of time: sent, maybe still being applied.
    fn timed_out(&self) -> bool {
        matches!(self, TransportError::Http(e) if e.is_timeout())
    }
}

/// reqwest's message with its causes, every URL in it redacted.
fn describe_reqwest(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    crate::redact::text(&text).into_owned()
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
        "{what}: GitLab answered 403 Forbidden: the token's user may not do this (needs at least Reporter to read, Planner or Developer to write issues), or the token lacks the `api` scope (a `read_api` token only reads)"
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
    /// GitLab answered 5xx: the request may or may not have been applied, but whoever
    /// answered is done with it.
    #[error("{what}: {message}")]
    Unavailable {
        /// The request.
        what: String,
        /// What happened.
        message: String,
    },
    /// The connection ended without an answer (reset, closed, broken mid-body): like a
    /// timeout, GitLab may have applied the request, or may still be applying it.
    #[error(
        "{what}: no answer ({message}); GitLab may have applied it or may still be applying it"
    )]
    NoAnswer {
        /// The request.
        what: String,
        /// What the HTTP client said.
        message: String,
    },
    /// No answer within `gitlab.timeout_seconds`: GitLab may still be applying the request
    /// (gitlab.com lets requests run for about a minute).
    #[error("{what}: no answer within the client timeout ({message})")]
    TimedOut {
        /// The request.
        what: String,
        /// What the HTTP client said.
        message: String,
    },
    /// A create that went unanswered (timed out or lost, in this run or in a daemon's
    /// sync shortly before) and is not in GitLab yet, or could not be looked for: it may
    /// still be committed, so it is not created again now; a later run finds it or
    /// creates it.
    #[error(
        "{what}: no answer, and not found in GitLab yet; GitLab may still be committing it, so it is not created again now (a later run finds it or creates it)"
    )]
    LeftForNextRun {
        /// The request.
        what: String,
    },
    /// GitLab answered 3xx; the redirect was not followed.
    #[error("{what}: {reason}")]
    Redirected {
        /// The request.
        what: String,
        /// Where it pointed.
        reason: TransportError,
    },
    /// Not sent: the client was shutting down or refused the URL.
    #[error("{what}: {reason}")]
    NotSent {
        /// The request.
        what: String,
        /// Why.
        reason: TransportError,
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
///
/// Only a 5xx is tried again when the look-up finds nothing: an answer means whoever
/// answered is done with the request. A timeout or a connection that ended without an
/// answer may still be running on GitLab's side (Puma keeps a request whose client left
/// until `Rack::Timeout` ends it), so it is [`GitlabError::LeftForNextRun`], and so is
/// any of them when the look-up itself fails: never a second create while the first
/// may still land.
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
                let found = match look_up().await {
                    Ok(found) => found,
                    Err(lookup) if e.may_still_run() => {
                        tracing::warn!("{lookup}; leaving the create for a later run");
                        return Err(e.left_for_next_run());
                    }
                    Err(lookup) => return Err(lookup),
                };
                if let Some(found) = found {
                    return Ok(found);
                }
                if e.may_still_run() {
                    return Err(e.left_for_next_run());
                }
                last = Some(e);
            }
            Err(e) => return Err(e),
        }
    }
    Err(last.expect("the loop ran"))
}

impl GitlabError {
    /// Classifies by status code and transport failure, never by the body's shape: a 5xx
    /// is "outcome unknown" whether GitLab sent an HTML page or
    /// `{"message":"500 Internal Server Error"}`.
    fn from_api(what: impl Into<String>, err: ApiError<TransportError>) -> Self {
        let what = what.into();
        let (status, detail) = match err {
            ApiError::GitlabWithStatus { status, msg } => (status, Some(msg)),
            ApiError::GitlabService { status, .. } => (status, None),
            ApiError::GitlabObjectWithStatus { status, obj } => (status, Some(obj.to_string())),
            ApiError::Client { source } => return Self::from_transport(what, source),
            other => {
                return GitlabError::Other {
                    what,
                    message: other.to_string(),
                };
            }
        };
        let answered = |detail: Option<String>| match detail {
            Some(d) => format!("GitLab answered {status}: {d}"),
            None => format!("GitLab answered {status}"),
        };
        match status.as_u16() {
            401 => GitlabError::Unauthorized { what },
            403 => GitlabError::Forbidden { what },
            404 => GitlabError::NotFound {
                what,
                message: detail.unwrap_or_else(|| status.to_string()),
            },
            _ if status.is_server_error() => GitlabError::Unavailable {
                what,
                message: answered(detail),
            },
            _ => GitlabError::Other {
                what,
                message: answered(detail),
            },
        }
    }

    fn from_transport(what: String, source: TransportError) -> Self {
        if source.timed_out() {
            GitlabError::TimedOut {
                what,
                message: source.to_string(),
            }
        } else if matches!(source, TransportError::Redirect { .. }) {
            GitlabError::Redirected {
                what,
                reason: source,
            }
        } else if source.not_sent() {
            GitlabError::NotSent {
                what,
                reason: source,
            }
        } else if matches!(&source, TransportError::Http(e) if e.is_connect()) {
            // No connection, so nothing was sent: trying again cannot make a second one.
            GitlabError::Unavailable {
                what,
                message: format!("request failed: {source}"),
            }
        } else {
            GitlabError::NoAnswer {
                what,
                message: source.to_string(),
            }
        }
    }

    /// The error of a non-2xx answer read without the `gitlab` crate (lists that need
    /// their headers), classified by status as [`GitlabError::from_api`] does.
    fn from_status(what: &str, status: http::StatusCode, body: &[u8]) -> Self {
        let what = what.to_owned();
        let message = serde_json::from_slice::<serde_json::Value>(body)
            .ok()
            .and_then(|v| {
                v.get("message")
                    .map(|m| m.as_str().map_or_else(|| m.to_string(), str::to_owned))
            })
            .unwrap_or_else(|| status.to_string());
        match status.as_u16() {
            401 => GitlabError::Unauthorized { what },
            403 => GitlabError::Forbidden { what },
            404 => GitlabError::NotFound { what, message },
            code if status.is_server_error() => GitlabError::Unavailable {
                what,
                message: format!("GitLab answered {code}"),
            },
            code => GitlabError::Other {
                what,
                message: format!("GitLab answered {code}: {message}"),
            },
        }
    }

    /// True when the request may have been applied although no answer says so.
    pub fn outcome_unknown(&self) -> bool {
        matches!(
            self,
            GitlabError::Unavailable { .. }
                | GitlabError::NoAnswer { .. }
                | GitlabError::TimedOut { .. }
        )
    }

    /// True when the request may still be running on GitLab's side: nobody answered it.
    pub fn may_still_run(&self) -> bool {
        matches!(
            self,
            GitlabError::NoAnswer { .. } | GitlabError::TimedOut { .. }
        )
    }

    fn left_for_next_run(self) -> Self {
        let what = match self {
            GitlabError::NoAnswer { what, .. } | GitlabError::TimedOut { what, .. } => what,
            other => other.to_string(),
        };
        GitlabError::LeftForNextRun { what }
    }

    /// True when the client is shutting down and the request was never sent.
    pub fn is_cancelled(&self) -> bool {
        matches!(
            self,
            GitlabError::NotSent {
                reason: TransportError::Cancelled,
                ..
            }
        )
    }

    /// True for a 409 (e.g. a label that already exists).
    fn is_conflict(err: &ApiError<TransportError>) -> bool {
        matches!(err, ApiError::GitlabWithStatus { status, .. } if status.as_u16() == 409)
    }
}

pub use transport::{Client, DEFAULT_RETRY_AFTER, Fence, GITLAB_GRACE, Policy, Turn, http_client};
pub use tree::{IssueElsewhere, TreeFile};
pub use turn::Onto;

#[derive(Debug, Deserialize)]
struct GlUser {
    id: u64,
    username: String,
}

/// How many times a list that keeps changing is read before giving up.
const LISTINGS: usize = 3;

/// A numeric response header (`X-Total`, `X-Next-Page`); `None` when absent or empty.
fn header_number(headers: &http::HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// The `Date` header: the server's clock when it answered (RFC 9110's IMF-fixdate).
fn header_date(headers: &http::HeaderMap) -> Option<chrono::DateTime<chrono::Utc>> {
    let text = headers.get(http::header::DATE)?.to_str().ok()?;
    chrono::DateTime::parse_from_rfc2822(text)
        .ok()
        .map(|d| d.with_timezone(&chrono::Utc))
}

/// The token's user (`GET /user`): `is_admin` is only in an administrator's answer.
#[derive(Debug, Clone, Deserialize)]
pub struct CurrentUser {
    /// User id.
    pub id: u64,
    /// Username.
    pub username: String,
    /// The token may do everything in every project: an administrator's token with
    /// admin powers (see [`Gitlab::current_user`]).
    #[serde(default)]
    pub is_admin: bool,
    /// The user is an administrator, but the token has no admin powers: Admin Mode is
    /// on and the token lacks the `admin_mode` scope.
    #[serde(skip)]
    pub admin_without_powers: bool,
}

/// A user as `GET /users/:id` shows it to the token: `is_admin` only when the token
/// has admin powers (`Entities::UserDetailsWithAdmin`).
#[derive(Debug, Clone, Deserialize)]
struct UserDetails {
    #[serde(default)]
    is_admin: bool,
}

/// A project member (`GET /projects/:id/members/all`).
#[derive(Debug, Clone, Deserialize)]
pub struct Member {
    /// User id.
    pub id: u64,
    /// Username.
    pub username: String,
    /// 10 Guest, 15 Planner, 20 Reporter, 30 Developer, 40 Maintainer, 50 Owner.
    pub access_level: u8,
}

/// A role, as `permissions` in `GET /projects/:id` gives it.
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct AccessLevel {
    /// The level (see [`Member::access_level`]).
    pub access_level: u8,
}

/// The token user's roles in a project, direct and through the project's group.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Permissions {
    /// Direct membership.
    pub project_access: Option<AccessLevel>,
    /// Membership of the project's group.
    pub group_access: Option<AccessLevel>,
}

/// An issue as created: GitLab answers `201` even when it dropped the labels (a caller
/// who may not set metadata), so the labels it kept are part of the answer.
#[derive(Debug, Clone, Deserialize)]
pub struct CreatedIssue {
    /// Project-scoped id.
    pub iid: u64,
    /// The labels GitLab stored.
    #[serde(default)]
    pub labels: Vec<String>,
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
    /// The issue as the planner compares it; the description is dropped once its managed
    /// block is hashed and its marker read.
    fn observed(self) -> ObservedIssue {
        ObservedIssue::new(
            self.iid,
            self.title,
            self.description.as_deref().unwrap_or_default(),
            if self.state == "closed" {
                IssueState::Closed
            } else {
                IssueState::Opened
            },
            self.labels,
            self.assignees.into_iter().map(|u| u.username).collect(),
        )
    }
}

/// An issue read right before a write.
#[derive(Debug, Clone)]
pub struct CurrentIssue {
    /// The issue.
    pub issue: ObservedIssue,
    /// Its whole description (empty when none), onto which an edit's block is written.
    pub description: String,
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

/// A repository file as [`Gitlab::repository_file`] read it.
#[derive(Debug, Clone)]
pub enum RepositoryFile {
    /// Its blob id and text.
    Text {
        /// Git's blob id: the file's version.
        blob_id: String,
        /// The file, UTF-8.
        text: String,
    },
    /// Larger than the limit asked for: not decoded.
    TooLarge,
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
    /// Who sees its issues: `enabled` (whoever sees the project), `private` (members
    /// only) or `disabled` (`lib/api/entities/project.rb`).
    #[serde(default)]
    pub issues_access_level: Option<String>,
    /// Where people see it.
    pub web_url: String,
    /// What the token's user may do there (GitLab sends it to signed-in callers).
    #[serde(default)]
    pub permissions: Option<Permissions>,
}

/// The GitLab operations of a sync. Clones share the client (throttle, pause, slots)
/// and the memory of creates that timed out.
#[derive(Debug, Clone)]
pub struct Gitlab {
    client: std::sync::Arc<Client>,
    /// Creates whose request timed out and that were not found afterwards, by the
    /// caller's key, with when: GitLab may still commit them for a while.
    unsettled: std::sync::Arc<std::sync::Mutex<BTreeMap<String, std::time::Instant>>>,
}

/// How long a create that timed out may still be committed by GitLab: gitlab.com ends a
/// request after about 60 s; twice that, to be safe.
pub const UNSETTLED_FOR: std::time::Duration = std::time::Duration::from_secs(120);

impl Gitlab {
    /// Wraps a client.
    pub fn new(client: Client) -> Self {
        Gitlab {
            client: std::sync::Arc::new(client),
            unsettled: std::sync::Arc::default(),
        }
    }

    /// Remembers that the create known as `key` timed out and was not found: for
    /// [`UNSETTLED_FOR`], [`Gitlab::is_unsettled`] says so (a daemon's next sync may come
    /// sooner than GitLab finishes).
    pub fn note_unsettled(&self, key: String) {
        let mut map = self.unsettled.lock().expect("never poisoned");
        map.retain(|_, at| at.elapsed() < UNSETTLED_FOR);
        map.insert(key, std::time::Instant::now());
    }

    /// True while a create known as `key` timed out less than [`UNSETTLED_FOR`] ago.
    pub fn is_unsettled(&self, key: &str) -> bool {
        self.unsettled
            .lock()
            .expect("never poisoned")
            .get(key)
            .is_some_and(|at| at.elapsed() < UNSETTLED_FOR)
    }

    /// A project by path or id.
    pub async fn project(&self, project: &str) -> Result<ProjectInfo, GitlabError> {
        let ep = api::projects::Project::builder()
            .project(project)
            .build()
            .expect("a project endpoint builds");
        ep.query_async(&*self.client)
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
        let mut query = vec![("labels", label.to_owned())];
        if let Some(since) = since {
            query.push((
                "created_after",
                since.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            ));
        }
        self.issues(project, query).await
    }

    /// [`Gitlab::managed_issues`], and GitLab's clock when it answered the listing's
    /// first page (its `Date` header; `None` when it sent none): changes after that time
    /// may be missing from the list.
    pub async fn managed_issues_dated(
        &self,
        project: u64,
        label: &str,
    ) -> Result<(Vec<ObservedIssue>, Option<chrono::DateTime<chrono::Utc>>), GitlabError> {
        self.issues_dated(project, vec![("labels", label.to_owned())])
            .await
    }

    /// Every issue of the project updated at or after `since`, managed or not (no label
    /// filter: an issue whose managed label a person removed is among them), each once,
    /// with GitLab's clock when it answered the first page.
    pub async fn issues_updated_after(
        &self,
        project: u64,
        since: chrono::DateTime<chrono::Utc>,
    ) -> Result<(Vec<ObservedIssue>, Option<chrono::DateTime<chrono::Utc>>), GitlabError> {
        let query = vec![(
            "updated_after",
            since.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        )];
        self.issues_dated(project, query).await
    }

    /// The project's issues that `query` filters, each once, oldest first.
    async fn issues(
        &self,
        project: u64,
        query: Vec<(&str, String)>,
    ) -> Result<Vec<ObservedIssue>, GitlabError> {
        Ok(self.issues_dated(project, query).await?.0)
    }

    /// [`Gitlab::issues`] and the `Date` of the first page's answer.
    async fn issues_dated(
        &self,
        project: u64,
        mut query: Vec<(&str, String)>,
    ) -> Result<(Vec<ObservedIssue>, Option<chrono::DateTime<chrono::Utc>>), GitlabError> {
        // Oldest first: an issue created meanwhile lands at the end instead of pushing
        // every later page by one (newest first, one issue would come back twice).
        query.push(("order_by", "created_at".into()));
        query.push(("sort", "asc".into()));
        query.push(("state", "all".into()));
        let what = format!("listing the issues of project {project}");
        let path = format!("projects/{project}/issues");
        let (issues, date) = self
            .list_stable_dated(&what, &path, &query, |i: &GlIssue| i.iid)
            .await?;
        Ok((issues.into_iter().map(GlIssue::observed).collect(), date))
    }

    /// Every item of a paged list, each once, though items come and go while it is read:
    /// items are kept by `id` (one returned twice is one item), and when `X-Total` moved
    /// between the first and the last page (or fewer items came than it said) the list is
    /// read again, as an item deleted meanwhile shifts the pages and hides another one.
    async fn list_stable<T: serde::de::DeserializeOwned>(
        &self,
        what: &str,
        path: &str,
        query: &[(&str, String)],
        id: impl Fn(&T) -> u64,
    ) -> Result<Vec<T>, GitlabError> {
        Ok(self.list_stable_dated(what, path, query, id).await?.0)
    }

    /// [`Gitlab::list_stable`], and GitLab's `Date` when it answered the first page of
    /// the listing that was kept, less the time that request took.
    async fn list_stable_dated<T: serde::de::DeserializeOwned>(
        &self,
        what: &str,
        path: &str,
        query: &[(&str, String)],
        id: impl Fn(&T) -> u64,
    ) -> Result<(Vec<T>, Option<chrono::DateTime<chrono::Utc>>), GitlabError> {
        const PER_PAGE: usize = 100;
        for attempt in 1..=LISTINGS {
            let mut seen = std::collections::BTreeSet::new();
            let mut items = Vec::new();
            let mut totals = Vec::new();
            let mut date = None;
            let mut page = 1u64;
            loop {
                let mut q: Vec<(&str, String)> = query.to_vec();
                q.push(("per_page", PER_PAGE.to_string()));
                q.push(("page", page.to_string()));
                let sent = std::time::Instant::now();
                let (batch, headers): (Vec<T>, _) = self.get_with_headers(what, path, &q).await?;
                totals.push(header_number(&headers, "x-total"));
                if page == 1 {
                    // GitLab stamps `Date` after it read the page: moved back by the
                    // request's whole time (retries and waits included), it is no later
                    // than the read, so a write just before the read is never missed.
                    let took = chrono::TimeDelta::from_std(sent.elapsed())
                        .unwrap_or(chrono::TimeDelta::MAX);
                    date = header_date(&headers).and_then(|d| d.checked_sub_signed(took));
                }
                // A short page is the last one: no request for an empty page after it,
                // whatever `X-Next-Page` says.
                let last_page = batch.len() < PER_PAGE;
                items.extend(batch.into_iter().filter(|item| seen.insert(id(item))));
                match header_number(&headers, "x-next-page") {
                    Some(next) if !last_page && next > page => page = next,
                    _ => break,
                }
            }
            let first = totals.first().copied().flatten();
            let last = totals.last().copied().flatten();
            if first == last && last.is_none_or(|t| items.len() as u64 >= t) {
                return Ok((items, date));
            }
            tracing::info!(
                what,
                attempt,
                "the list changed while it was read; reading it again"
            );
        }
        Err(GitlabError::Other {
            what: what.to_owned(),
            message: format!(
                "the list changed every time it was read ({LISTINGS} times); nothing is written to this project this run"
            ),
        })
    }

    /// A GET whose answer and headers are both needed (pagination totals).
    async fn get_with_headers<T: serde::de::DeserializeOwned>(
        &self,
        what: &str,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<(T, http::HeaderMap), GitlabError> {
        use gitlab::api::{AsyncClient as _, RestClient as _};
        let mut url = self
            .client
            .rest_endpoint(path)
            .map_err(|e| GitlabError::from_api(what, e))?;
        url.query_pairs_mut()
            .extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
        let request = http::Request::builder()
            .method(http::Method::GET)
            .uri(url.as_str());
        let response = self
            .client
            .rest_async(request, Vec::new())
            .await
            .map_err(|e| GitlabError::from_api(what, e))?;
        let status = response.status();
        if !status.is_success() {
            return Err(GitlabError::from_status(what, status, response.body()));
        }
        let value = serde_json::from_slice(response.body()).map_err(|e| GitlabError::Other {
            what: what.to_owned(),
            message: format!("GitLab's answer could not be read: {e}"),
        })?;
        Ok((value, response.headers().clone()))
    }

    /// The token's own user. `is_admin` is true only when the token has admin powers
    /// now: `GET /user` shows `is_admin` to every administrator, even one whose token
    /// lacks the `admin_mode` scope while GitLab's Admin Mode is on, and such a token
    /// acts as its user's memberships alone. So an administrator's own user is read
    /// too: `GET /users/:id` shows `is_admin` only to a caller that may read all
    /// resources (`lib/api/users.rb`: `can_read_all_resources?` there, `admin?` for
    /// `/user`; `app/policies/base_policy.rb`, condition `admin`).
    pub async fn current_user(&self) -> Result<CurrentUser, GitlabError> {
        let mut user: CurrentUser = api::users::CurrentUser::builder()
            .build()
            .expect("a current-user query builds")
            .query_async(&*self.client)
            .await
            .map_err(|e| GitlabError::from_api("reading the token's user (GET /user)", e))?;
        if user.is_admin {
            let ep = api::users::User::builder()
                .user(user.id)
                .build()
                .expect("a user query builds");
            let details: UserDetails = ep.query_async(&*self.client).await.map_err(|e| {
                GitlabError::from_api("checking the token's admin powers (GET /users/:id)", e)
            })?;
            user.is_admin = details.is_admin;
            user.admin_without_powers = !details.is_admin;
            if user.admin_without_powers {
                tracing::info!(
                    user = %user.username,
                    "the token's user is an administrator but the token has no admin powers \
                     (Admin Mode is on and the token lacks the admin_mode scope): its \
                     project roles are checked as anyone's"
                );
            }
        }
        Ok(user)
    }

    /// The project's members, inherited ones (from its groups) included, with the
    /// highest role each has.
    pub async fn members(&self, project: u64) -> Result<Vec<Member>, GitlabError> {
        let what = format!("listing the members of project {project}");
        let path = format!("projects/{project}/members/all");
        self.list_stable(&what, &path, &[], |m: &Member| m.id).await
    }

    /// The id of the user with `username` (GitLab usernames are unique ignoring case),
    /// or `None` when there is none.
    pub async fn find_user(&self, username: &str) -> Result<Option<u64>, GitlabError> {
        if username.is_empty() || username.contains(char::is_whitespace) {
            return Ok(None);
        }
        let ep = api::users::Users::builder()
            .username(username)
            .build()
            .expect("a user query builds");
        let users: Vec<GlUser> = ep
            .query_async(&*self.client)
            .await
            .map_err(|e| GitlabError::from_api(format!("looking up user `{username}`"), e))?;
        Ok(users
            .into_iter()
            .find(|u| u.username.eq_ignore_ascii_case(username))
            .map(|u| u.id))
    }

    /// One issue as it is now, with its assignees' user ids: read right before a write,
    /// so that the write goes onto what people wrote meanwhile.
    pub async fn issue(&self, project: u64, iid: u64) -> Result<CurrentIssue, GitlabError> {
        Self::issue_on(&*self.client, project, iid).await
    }

    /// [`Gitlab::issue`] through `client` (a [`Turn`]'s read).
    async fn issue_on<C>(client: &C, project: u64, iid: u64) -> Result<CurrentIssue, GitlabError>
    where
        C: api::AsyncClient<Error = TransportError> + Sync,
    {
        let ep = api::projects::issues::Issue::builder()
            .project(project)
            .issue(iid)
            .build()
            .expect("an issue query builds");
        let issue: GlIssue = ep
            .query_async(client)
            .await
            .map_err(|e| GitlabError::from_api(format!("reading issue #{iid}"), e))?;
        let assignee_ids = issue
            .assignees
            .iter()
            .map(|u| (u.username.clone(), u.id))
            .collect();
        let description = issue.description.clone().unwrap_or_default();
        Ok(CurrentIssue {
            issue: issue.observed(),
            description,
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
                    .query_async(&*self.client)
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
                    .query_async(&*self.client)
                    .await
                    .map_err(|e| GitlabError::from_api(what(), e))?;
                Ok(notes.iter().any(|n| n.body == body).then_some(()))
            },
        )
        .await
    }

    /// The paths of the files that differ between two commits (GitLab's compare API,
    /// `straight`: added, modified, renamed from and to, and deleted files). An error when
    /// GitLab cut the list, since a missing path must never read as "unchanged".
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
            /// The diff list was cut at the instance's `diff_max_files`
            /// (`lib/api/entities/compare.rb`: `compare.diffs.diffs.overflow?`).
            #[serde(default)]
            compare_timeout: bool,
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
        let compare: Compare = ep.query_async(&*self.client).await.map_err(|e| {
            GitlabError::from_api(format!("comparing {from}...{to} in `{project}`"), e)
        })?;
        if compare.compare_timeout {
            return Err(GitlabError::Other {
                what: format!("comparing {from}...{to} in `{project}`"),
                message: format!(
                    "GitLab listed only the first {} changed files (compare_timeout)",
                    compare.diffs.len()
                ),
            });
        }
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
            .query_async(&*self.client)
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
        match ep.query_async(&*self.client).await {
            Ok(Created { id }) => Ok(id),
            Err(e) if GitlabError::is_conflict(&e) => {
                let ep = api::projects::labels::Label::builder()
                    .project(project)
                    .label(name)
                    .build()
                    .expect("a label query builds");
                let label: GlLabel = ep
                    .query_async(&*self.client)
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
                (boards::CreateBoard { project, name })
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
                (boards::CreateBoardList {
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
            api::ignore(boards::MoveBoardList {
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

    /// A repository file: its blob id and its text (one request), unless GitLab says it
    /// holds more than `max_bytes`, which is then not decoded.
    pub async fn repository_file(
        &self,
        project: &str,
        path: &str,
        git_ref: &str,
        max_bytes: u64,
    ) -> Result<RepositoryFile, GitlabError> {
        #[derive(Deserialize)]
        struct GlFile {
            blob_id: String,
            content: String,
            #[serde(default)]
            size: u64,
        }
        let what = || format!("reading gitlab://{project}/-/{path}?ref={git_ref}");
        let ep = api::projects::repository::files::File::builder()
            .project(project)
            .file_path(path)
            .ref_(git_ref)
            .build()
            .expect("a file query builds");
        let file: GlFile = ep
            .query_async(&*self.client)
            .await
            .map_err(|e| GitlabError::from_api(what(), e))?;
        // Base64 is 4/3 of the bytes: a body that long is too large even without `size`.
        if file.size > max_bytes || file.content.len() as u64 / 4 * 3 > max_bytes + 3 {
            return Ok(RepositoryFile::TooLarge);
        }
        use base64::Engine as _;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(file.content.replace('\n', ""))
            .map_err(|e| GitlabError::Other {
                what: what(),
                message: format!("bad base64 content: {e}"),
            })?;
        if bytes.len() as u64 > max_bytes {
            return Ok(RepositoryFile::TooLarge);
        }
        let text = String::from_utf8(bytes).map_err(|e| GitlabError::Other {
            what: what(),
            message: format!(
                "not valid UTF-8 (first bad byte at offset {})",
                e.utf8_error().valid_up_to()
            ),
        })?;
        Ok(RepositoryFile::Text {
            blob_id: file.blob_id,
            text,
        })
    }

    /// Creates an issue; returns its iid and the labels GitLab kept.
    pub async fn create_issue(
        &self,
        project: u64,
        title: &str,
        description: &str,
        labels: &[String],
        assignee: Option<u64>,
    ) -> Result<CreatedIssue, GitlabError> {
        let mut ep = api::projects::issues::CreateIssue::builder();
        ep.project(project)
            .title(title)
            .description(description)
            .labels(labels.iter().map(String::as_str));
        if let Some(id) = assignee {
            ep.assignee_id(id);
        }
        let ep = ep.build().expect("an issue builds");
        ep.query_async(&*self.client)
            .await
            .map_err(|e| GitlabError::from_api(format!("creating issue “{title}”"), e))
    }

    /// Edits an issue: the fields `edit` sets, nothing else.
    pub async fn edit_issue(
        &self,
        project: u64,
        iid: u64,
        edit: &IssueEdit<'_>,
    ) -> Result<(), GitlabError> {
        Self::edit_issue_on(&*self.client, project, iid, edit).await
    }

    /// [`Gitlab::edit_issue`] through `client` (a [`Turn`]'s write).
    async fn edit_issue_on<C>(
        client: &C,
        project: u64,
        iid: u64,
        edit: &IssueEdit<'_>,
    ) -> Result<(), GitlabError>
    where
        C: api::AsyncClient<Error = TransportError> + Sync,
    {
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
            .query_async(client)
            .await
            .map_err(|e| GitlabError::from_api(format!("editing issue #{iid}"), e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[test]
    fn a_5xx_is_outcome_unknown_whatever_its_body() {
        let status = http::StatusCode::INTERNAL_SERVER_ERROR;
        let json = ApiError::<TransportError>::GitlabWithStatus {
            status,
            msg: "500 Internal Server Error".into(),
        };
        let html = ApiError::<TransportError>::GitlabService {
            status,
            data: b"<html>500</html>".to_vec(),
        };
        let object = ApiError::<TransportError>::GitlabObjectWithStatus {
            status: http::StatusCode::BAD_GATEWAY,
            obj: serde_json::json!({"error": "bad gateway"}),
        };
        for err in [json, html, object] {
            let e = GitlabError::from_api("creating", err);
            assert!(e.outcome_unknown(), "{e:?}");
        }
        let conflict = ApiError::<TransportError>::GitlabWithStatus {
            status: http::StatusCode::CONFLICT,
            msg: "exists".into(),
        };
        assert!(!GitlabError::from_api("creating", conflict).outcome_unknown());
    }

    fn block_on<F: Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn a_timed_out_create_that_is_not_there_is_left_for_the_next_run() {
        let attempts = Cell::new(0);
        let result: Result<u64, _> = block_on(create_without_duplicates(
            || async {
                attempts.set(attempts.get() + 1);
                Err(GitlabError::TimedOut {
                    what: "creating issue".into(),
                    message: "timed out".into(),
                })
            },
            || async { Ok(None) },
        ));
        assert_eq!(attempts.get(), 1, "never created again in the same run");
        assert!(matches!(result, Err(GitlabError::LeftForNextRun { .. })));
    }

    #[test]
    fn an_unanswered_create_is_never_sent_twice_even_when_the_look_up_fails() {
        let no_answer = || GitlabError::NoAnswer {
            what: "creating issue".into(),
            message: "connection reset".into(),
        };
        let timed_out = || GitlabError::TimedOut {
            what: "creating issue".into(),
            message: "timed out".into(),
        };
        for error in [no_answer, timed_out] {
            let attempts = Cell::new(0);
            let not_found: Result<u64, _> = block_on(create_without_duplicates(
                || async {
                    attempts.set(attempts.get() + 1);
                    Err(error())
                },
                || async { Ok(None) },
            ));
            assert_eq!(attempts.get(), 1, "{:?}", error());
            assert!(matches!(not_found, Err(GitlabError::LeftForNextRun { .. })));
            let attempts = Cell::new(0);
            let lookup_failed: Result<u64, _> = block_on(create_without_duplicates(
                || async {
                    attempts.set(attempts.get() + 1);
                    Err(error())
                },
                || async {
                    Err(GitlabError::Unavailable {
                        what: "listing issues".into(),
                        message: "GitLab answered 502".into(),
                    })
                },
            ));
            assert_eq!(attempts.get(), 1, "{:?}", error());
            // Left for the next run, so the apply remembers it as unsettled.
            assert!(
                matches!(lookup_failed, Err(GitlabError::LeftForNextRun { .. })),
                "{lookup_failed:?}"
            );
        }
    }

    #[test]
    fn a_5xx_whose_look_up_fails_is_not_tried_again() {
        let attempts = Cell::new(0);
        let result: Result<u64, _> = block_on(create_without_duplicates(
            || async {
                attempts.set(attempts.get() + 1);
                Err(GitlabError::Unavailable {
                    what: "creating issue".into(),
                    message: "GitLab answered 500".into(),
                })
            },
            || async {
                Err(GitlabError::Forbidden {
                    what: "listing issues".into(),
                })
            },
        ));
        assert_eq!(attempts.get(), 1);
        assert!(matches!(result, Err(GitlabError::Forbidden { .. })));
    }

    #[test]
    fn other_unknown_outcomes_are_looked_up_then_tried_again() {
        let attempts = Cell::new(0);
        let result: Result<u64, _> = block_on(create_without_duplicates(
            || async {
                attempts.set(attempts.get() + 1);
                if attempts.get() < 2 {
                    Err(GitlabError::Unavailable {
                        what: "creating issue".into(),
                        message: "GitLab answered 500".into(),
                    })
                } else {
                    Ok(7)
                }
            },
            || async { Ok(None) },
        ));
        assert_eq!((attempts.get(), result.unwrap()), (2, 7));
        let found: Result<u64, _> = block_on(create_without_duplicates(
            || async {
                Err(GitlabError::TimedOut {
                    what: "creating issue".into(),
                    message: "timed out".into(),
                })
            },
            || async { Ok(Some(9)) },
        ));
        assert_eq!(
            found.unwrap(),
            9,
            "a timed-out create that went through is found"
        );
    }
}
