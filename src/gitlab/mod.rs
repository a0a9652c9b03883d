//! Talking to GitLab: the `gitlab` crate's endpoints over the project's own client.
//!
//! The client implements the crate's `RestClient` and `AsyncClient` over `reqwest`, which
//! gives every request a timeout and (later) access to response headers for rate
//! limiting; the crate's endpoint builders still build every request.
//!
//! One file per resource, as the sandbox's `api/`: this one holds the [`Gitlab`] type and
//! the wiring; `issues`, `labels`, `members` (and users), `projects`, `repository`,
//! `boards`, `notes` hold its calls, `error` what they fail with, `list` the paged reads.

use std::collections::BTreeMap;

use serde::Deserialize;

mod adopt;
pub mod boards;
mod error;
mod issues;
mod labels;
pub mod lease;
mod list;
mod members;
pub mod notes;
mod page_label;
mod projects;
mod repository;
mod roadmap;
mod transport;
mod tree;
mod turn;

pub use error::{GitlabError, TransportError, create_without_duplicates};
pub use issues::{CreatedIssue, CurrentIssue, IssueEdit};
pub use members::{CurrentUser, Member};
pub use projects::{AccessLevel, Permissions, ProjectInfo};
pub use repository::RepositoryFile;
pub use transport::{Client, DEFAULT_RETRY_AFTER, Fence, GITLAB_GRACE, Policy, Turn, http_client};
pub use tree::{IssueElsewhere, Opener, TreeFile};
pub use turn::Onto;

// What GitLab answers, shared by the files below.
use issues::GlIssue;
use list::header_date;
use members::GlUser;

/// The id of what a `POST` created (a label, a board).
#[derive(Debug, Deserialize)]
struct Created {
    id: u64,
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
}
