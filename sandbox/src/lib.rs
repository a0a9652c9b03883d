//! A GitLab-compatible REST API server, for tests, benchmarks and the demo.
//!
//! It implements the part of GitLab's API v4 that handbook-sync relies on (users,
//! projects, issues, labels, notes, boards, repository files), as GitLab documents it, and
//! answers any real GitLab client. It shares no code or types with the sync engine, so the
//! two cannot agree by accident. Under `/-/sandbox/` it offers what GitLab does not:
//! request statistics and fault injection.

mod api;
mod color;
mod error;
mod faults;
pub mod flags;
mod label_title;
mod model;
mod params;
mod policy;
pub mod quick_actions;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::Utc;
use parking_lot::Mutex;

pub use faults::{ErrorBody, Faults, Stats};
pub use label_title::LabelTitles;

/// What the sandbox starts with.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// The token of the user `root`, an administrator; other users get tokens through
    /// `POST /users/:id/personal_access_tokens`.
    pub token: String,
    /// Projects to create if missing: `(group/name, visibility)`.
    pub projects: Vec<(String, String)>,
    /// Users to create if missing: `(username, full name)`, members of no project.
    pub users: Vec<(String, String)>,
    /// Memberships to add if missing: `(group/name, username, access level)`, as root
    /// would add them with `POST /projects/:id/members` (the user and project must be
    /// among the configured ones).
    pub members: Vec<(String, String, u8)>,
    /// Where to keep the data across restarts (written atomically after every write).
    pub state_file: Option<PathBuf>,
    /// Which GitLab edition's issue features to have (multiple assignees, scoped labels).
    pub tier: Tier,
    /// Feature flags to turn on at start (see [`flags::KNOWN`]), as an administrator
    /// would with `POST /api/v4/features/:name`.
    pub features: Vec<String>,
    /// How label titles are stored: as sent (GitLab today, the default) or sanitized
    /// (GitLab before gitlab-org/gitlab!207594).
    pub label_titles: LabelTitles,
}

/// The GitLab subscription tier the sandbox behaves as.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Tier {
    /// GitLab Free: one assignee per issue (the first one given), no scoped-label
    /// exclusivity (`app/models/concerns/issuable.rb` `allows_multiple_assignees?`).
    #[default]
    Free,
    /// GitLab Premium: many assignees, and scoped labels `key::value` exclusive per key
    /// (`ee/app/models/ee/issue.rb`, `ee/app/services/ee/issuable/callbacks/labels.rb`).
    Premium,
}

impl std::str::FromStr for Tier {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "free" => Ok(Tier::Free),
            "premium" => Ok(Tier::Premium),
            other => Err(format!("unknown tier `{other}`: expected free or premium")),
        }
    }
}

/// Why the sandbox could not start.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A feature flag to turn on is not one the sandbox models.
    #[error("unknown feature flag `{name}`: the sandbox models {}", known_flags())]
    UnknownFeature {
        /// The flag asked for.
        name: String,
    },
    /// The state file exists but cannot be read or parsed.
    #[error("cannot load sandbox state from `{path}`: {reason}")]
    State {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

fn known_flags() -> String {
    let names: Vec<&str> = flags::KNOWN.iter().map(|(name, _)| *name).collect();
    names.join(", ")
}

/// Shared server state.
pub(crate) struct App {
    pub base_url: String,
    pub token: String,
    pub root_id: u64,
    pub state: Mutex<model::State>,
    pub state_file: Option<PathBuf>,
    pub save_lock: Mutex<()>,
    pub faults: Mutex<Faults>,
    pub seq: AtomicU64,
    pub stats: Mutex<Stats>,
    pub windows: Mutex<faults::Windows>,
    pub tier: Tier,
    /// The feature flags set, read on every request: apart from `state` (which keeps the
    /// copy saved), so a handler that holds `state` may ask for a flag. Whoever needs
    /// both locks takes `state` first.
    pub features: Mutex<std::collections::BTreeMap<String, bool>>,
    pub label_titles: LabelTitles,
}

impl App {
    /// The user a token belongs to: the configured token is root's (an empty one lets
    /// nobody in), the others were made with `POST /users/:id/personal_access_tokens`.
    pub(crate) fn token_user(&self, token: &str) -> Option<u64> {
        self.token_caller(token).map(|(user, _)| user)
    }

    /// The user a token belongs to and whether the token has admin powers: an
    /// administrator's, unless the `admin_mode` setting is on and the token lacks the
    /// `admin_mode` scope (root's configured token has every scope).
    pub(crate) fn token_caller(&self, token: &str) -> Option<(u64, bool)> {
        let state = self.state.lock();
        let (user, admin_scope) = if !self.token.is_empty() && token == self.token {
            (self.root_id, true)
        } else {
            let t = state.tokens.iter().find(|t| t.token == token)?;
            (t.user_id, t.scopes.iter().any(|s| s == "admin_mode"))
        };
        let is_admin = state.user(user).is_some_and(|u| u.is_admin);
        Some((user, is_admin && (admin_scope || !state.admin_mode)))
    }

    /// Whether the feature flag `name` is on ([`flags::KNOWN`]).
    pub(crate) fn feature(&self, name: &str) -> bool {
        flags::enabled(&self.features.lock(), name)
    }

    /// Sets a feature flag (`None`: back to GitLab's default), live and in the state.
    pub(crate) fn set_feature(&self, name: &str, value: Option<bool>) {
        let mut state = self.state.lock();
        let mut live = self.features.lock();
        match value {
            Some(v) => {
                state.features.insert(name.to_owned(), v);
                live.insert(name.to_owned(), v);
            }
            None => {
                state.features.remove(name);
                live.remove(name);
            }
        }
    }

    /// The scopes of a token made through the API; `None` for root's configured token,
    /// which has them all, and for unknown tokens (refused elsewhere).
    pub(crate) fn token_scopes(&self, token: &str) -> Option<Vec<String>> {
        if !self.token.is_empty() && token == self.token {
            return None;
        }
        let state = self.state.lock();
        let t = state.tokens.iter().find(|t| t.token == token)?;
        Some(t.scopes.clone())
    }

    pub(crate) fn next_seq(&self) -> u64 {
        self.seq.fetch_add(1, Ordering::SeqCst)
    }

    /// Renders JSON with the sandbox's own URL for links.
    pub(crate) fn render<'a>(&'a self, state: &'a model::State) -> model::Render<'a> {
        model::Render {
            base: &self.base_url,
            state,
        }
    }

    /// Writes the state file, if any: a temporary file renamed over the old one, so a
    /// crash leaves either the old or the new state, never half of one.
    pub(crate) fn save(&self) {
        let Some(path) = &self.state_file else { return };
        let _guard = self.save_lock.lock();
        let bytes = serde_json::to_vec(&*self.state.lock()).expect("the state serialises");
        let tmp = path.with_extension("tmp");
        let result = std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, path));
        if let Err(e) = result {
            tracing::error!(path = %path.display(), "cannot save sandbox state: {e}");
        }
    }
}

/// How long a stopping sandbox waits for open connections before it stops anyway.
pub const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// A bound, not yet serving, sandbox.
pub struct Sandbox {
    listener: tokio::net::TcpListener,
    app: Arc<App>,
}

impl Sandbox {
    /// Binds `addr` (port 0 picks a free port) and loads or creates the data.
    pub async fn bind(addr: SocketAddr, config: Config) -> Result<Self, SandboxError> {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| SandboxError::Bind { addr, source })?;
        let local = listener
            .local_addr()
            .map_err(|source| SandboxError::Bind { addr, source })?;
        let mut state = match &config.state_file {
            Some(path) if path.exists() => {
                let bytes = std::fs::read(path).map_err(|e| SandboxError::State {
                    path: path.clone(),
                    reason: e.to_string(),
                })?;
                serde_json::from_slice(&bytes).map_err(|e| SandboxError::State {
                    path: path.clone(),
                    reason: e.to_string(),
                })?
            }
            _ => model::State::default(),
        };
        let now = Utc::now();
        let root_id = state.ensure_user("root", "Administrator", now);
        if let Some(root) = state.users.iter_mut().find(|u| u.id == root_id) {
            root.is_admin = true;
        }
        for (username, name) in &config.users {
            state.ensure_user(username, name, now);
        }
        state.settle_namespaces(now);
        for (path, visibility) in &config.projects {
            state.ensure_project(path, visibility, now);
        }
        for (path, username, level) in &config.members {
            state.ensure_member(path, username, *level, root_id, now);
        }
        for name in &config.features {
            if !flags::KNOWN.iter().any(|(known, _)| known == name) {
                return Err(SandboxError::UnknownFeature { name: name.clone() });
            }
            state.features.insert(name.clone(), true);
        }
        let features = Mutex::new(state.features.clone());
        let app = Arc::new(App {
            base_url: format!("http://{local}"),
            token: config.token,
            root_id,
            state: Mutex::new(state),
            state_file: config.state_file,
            save_lock: Mutex::new(()),
            faults: Mutex::new(Faults::default()),
            seq: AtomicU64::new(0),
            stats: Mutex::new(Stats::default()),
            windows: Mutex::new(faults::Windows::default()),
            tier: config.tier,
            features,
            label_titles: config.label_titles,
        });
        app.save();
        Ok(Sandbox { listener, app })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.app.base_url
    }

    /// Serves until `shutdown` completes, then finishes the requests in flight, for at
    /// most [`SHUTDOWN_GRACE`]: a client that keeps a connection open (an idle
    /// keep-alive, half a request) must not keep the process alive.
    pub async fn serve(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let router = api::router(self.app.clone());
        let (stopping, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = axum::serve(self.listener, router).with_graceful_shutdown(async move {
            shutdown.await;
            let _ = stopping.send(());
        });
        let grace = async move {
            if stopped.await.is_ok() {
                tokio::time::sleep(SHUTDOWN_GRACE).await;
            } else {
                std::future::pending::<()>().await;
            }
        };
        tokio::select! {
            served = server => served?,
            () = grace => tracing::warn!(
                "connections still open {} s after the shutdown signal: stopping anyway",
                SHUTDOWN_GRACE.as_secs()
            ),
        }
        self.app.save();
        Ok(())
    }

    /// Serves on a background task; the sandbox stops when the handle is dropped or
    /// [`Running::stop`] is called.
    pub fn spawn(self) -> Running {
        let url = self.url().to_owned();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(self.serve(async {
            let _ = rx.await;
        }));
        Running {
            url,
            stop: Some(tx),
            task: Some(task),
        }
    }
}

/// A sandbox serving in the background.
pub struct Running {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl Running {
    /// Stops accepting, finishes what is in flight, and waits for the server to end.
    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}
