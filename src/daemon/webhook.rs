//! `POST /hooks/gitlab`: GitLab push events, from the internet.
//!
//! Nothing is read before the secret: `X-Gitlab-Token` is compared, in constant time, from
//! the headers alone; a wrong or missing one is answered 401 and the body is never read
//! (hyper then closes the connection), so an unauthenticated request costs its headers.
//!
//! An authenticated body is read within [`BODY_READ_TIMEOUT`], at most
//! [`CONCURRENT_READS`] at once, and only its first [`MAX_EVENT_BYTES`] are kept; the rest
//! is read and dropped. What the daemon needs of an event (`object_kind`, `before`,
//! `after`, `ref`, `project`) comes first in GitLab's payload
//! (`lib/gitlab/data_builder/push.rb`), before the commits and their messages, so an event
//! larger than the cap is still acted on from its first bytes, and logged. It is not
//! refused with 413: GitLab counts every answer other than 2xx as a failed delivery and
//! disables a hook after four in a row (`app/models/concerns/web_hooks/auto_disabling.rb`),
//! and the next pushes would go unheard.
//!
//! Which pages a push touches is asked of GitLab, never taken from the event's commit
//! lists: a force-push or a rollback lists no commit (`commits: []`), a force-push onto
//! new commits lists only those, and a push of more than 20 lists the last 20. The
//! compare API (`straight`, so a rollback compares the two trees, not their merge base)
//! says which files differ between `before` and `after`. When it cannot (a new or
//! deleted branch: `before` or `after` all zeros), fails, is cut short, or takes longer
//! than [`COMPARE_DEADLINE`], every `gitlab://` page of the project on that branch is
//! synced: never none.
//!
//! A compare is a request on the daemon's token, within its request budget, and pushes
//! come as fast as their sender likes (GitLab retrying deliveries, or whoever has the
//! secret). So a push asks nothing when every page on its branch already waits for a
//! sync (that sync starts after the push, and reads what it pushed), and while a compare
//! of the project is in flight another push syncs every page on its branch instead of
//! asking too: a burst of pushes costs about one compare, and its syncs coalesce.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use http_body_util::BodyExt as _;
use secrecy::{ExposeSecret as _, SecretString};
use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, Visitor};

use super::asked::Asked;
use crate::config::Config;
use crate::gitlab::Gitlab;
use crate::source::SourceSpec;

/// How much of an event is kept and parsed: 4 MiB, a push of 20 commits with messages
/// of 200 KiB each. GitLab's events list at most 20 commits, but a message may be up to
/// 10 MiB (`MAX_COMMIT_MESSAGE_DISPLAY_SIZE`, `lib/gitlab/git/commit.rb`).
pub const MAX_EVENT_BYTES: usize = 4 * 1024 * 1024;

/// How long an authenticated body may take to arrive, whole.
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Authenticated bodies read at once; more wait (within [`BODY_READ_TIMEOUT`]), so the
/// memory bodies take stays under `CONCURRENT_READS × MAX_EVENT_BYTES`.
pub const CONCURRENT_READS: usize = 2;

/// How long a push hook waits for the compare API before it answers. GitLab gives a
/// webhook 10 s (`webhook_timeout`, `config/gitlab.yml.example`); the compare shares the
/// client with the syncs and may wait behind a throttle.
pub const COMPARE_DEADLINE: Duration = Duration::from_secs(5);

/// A `gitlab://` page, as the webhook matches pushes against it.
#[derive(Debug)]
struct Source {
    /// The project path, lower-cased (GitLab's paths are case-insensitive).
    project: String,
    path: String,
    git_ref: String,
    page: String,
}

impl Source {
    /// True when a push to `git_ref` (`refs/heads/main`) moves this page's branch.
    fn on(&self, git_ref: &str) -> bool {
        git_ref == format!("refs/heads/{}", self.git_ref) || git_ref == self.git_ref
    }
}

/// The webhook's view: the secret, the `gitlab://` pages, the pages pushes asked a sync
/// of.
pub struct Hooks {
    secret: Option<SecretString>,
    sources: Vec<Source>,
    /// `[[discover]]` blocks in GitLab repositories: a push touching a file one matches
    /// (added, changed or removed) syncs the whole handbook, new pages included.
    discovered: Vec<crate::discover::PushWatch>,
    /// Pages asked for, and compares in flight.
    asked: Asked,
    /// Asks GitLab which files a push changed.
    gitlab: Gitlab,
    /// Bounds the authenticated bodies read at once.
    reading: tokio::sync::Semaphore,
}

impl Hooks {
    /// The webhook of `config`: its secret, and its `gitlab://` pages by source file.
    pub async fn new(config: &Config, gitlab: Gitlab) -> Result<Self, crate::config::ConfigError> {
        Ok(Hooks {
            gitlab,
            secret: config.webhook_secret().await?,
            sources: config
                .pages
                .iter()
                .filter_map(|p| match config.source(p) {
                    SourceSpec::Gitlab {
                        project,
                        path,
                        git_ref,
                    } => Some(Source {
                        project: project.to_lowercase(),
                        path,
                        git_ref,
                        page: p.id.clone(),
                    }),
                    _ => None,
                })
                .collect(),
            discovered: crate::discover::PushWatch::of(config),
            asked: Asked::default(),
            reading: tokio::sync::Semaphore::new(CONCURRENT_READS),
        })
    }

    /// The pages pushes asked a sync of since the last call, as soon as there is one
    /// (none: every page); cancel-safe.
    pub async fn asked(&self) -> Vec<String> {
        self.asked.take().await
    }
}

/// True when `headers` carry `secret` as `X-Gitlab-Token`, compared in constant time.
///
/// The two are hashed first: `subtle` compares slices of different lengths in variable
/// time, so comparing the tokens themselves would tell a client the secret's length;
/// their SHA-256 digests always have the same.
fn authenticated(headers: &HeaderMap, secret: &SecretString) -> bool {
    use sha2::Digest as _;
    let given = headers
        .get("x-gitlab-token")
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    let given = sha2::Sha256::digest(given);
    let expected = sha2::Sha256::digest(secret.expose_secret().as_bytes());
    subtle::ConstantTimeEq::ct_eq(given.as_slice(), expected.as_slice()).into()
}

/// `POST /hooks/gitlab`: a GitLab push event. 404 without a secret configured; 401 for a
/// wrong token (nothing read); 202 with the pages synced at once.
pub async fn push_hook(
    State(hooks): State<Arc<Hooks>>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> (StatusCode, String) {
    let Some(secret) = &hooks.secret else {
        return (StatusCode::NOT_FOUND, String::new());
    };
    if !authenticated(&headers, secret) {
        return (StatusCode::UNAUTHORIZED, String::new());
    }
    let read = read_event(&hooks.reading, body).await;
    let (fields, parsed) = EventFields::parse(&read.kept);
    if read.whole() && parsed.is_err() {
        return (
            StatusCode::BAD_REQUEST,
            "not a JSON push event\n".to_owned(),
        );
    }
    if let Some(e) = &read.error {
        tracing::warn!(
            received = read.total,
            "push hook: {e}; acting on the {} bytes read",
            read.kept.len()
        );
    } else if !read.whole() {
        tracing::warn!(
            bytes = read.total,
            "push hook: the event is larger than {MAX_EVENT_BYTES} bytes: only its first {MAX_EVENT_BYTES} were parsed"
        );
    }
    if fields.object_kind.as_deref().is_some_and(|k| k != "push") {
        return (StatusCode::OK, "{\"pages\":[]}".to_owned());
    }
    let (pages, blocks) = pages_touched(&hooks, &fields).await;
    if !blocks.is_empty() {
        // A new file's page is known only once discovery judged it, and a removed one
        // must meet the vanished-page guard: the whole handbook (an empty list), where
        // unchanged blobs cost no read and unchanged pages no issue request.
        tracing::info!(
            ?blocks,
            "push hook: files of discovered pages changed; syncing the handbook"
        );
        hooks.asked.ask_all();
    } else if !pages.is_empty() {
        tracing::info!(?pages, "push hook: syncing the pages it touched");
        hooks.asked.ask(pages.iter().cloned());
    }
    let status = if read.error.is_some() {
        StatusCode::REQUEST_TIMEOUT
    } else {
        StatusCode::ACCEPTED
    };
    // `discover` only when a block's files changed: the answer keeps its shape otherwise.
    let answer = if blocks.is_empty() {
        serde_json::json!({ "pages": pages })
    } else {
        serde_json::json!({ "pages": pages, "discover": blocks })
    };
    (status, answer.to_string())
}

/// What was read of an authenticated body.
struct Read {
    /// Its first [`MAX_EVENT_BYTES`].
    kept: Vec<u8>,
    /// Bytes received.
    total: usize,
    /// Why the body was not read to its end, if it was not.
    error: Option<String>,
}

impl Read {
    /// The whole body was read and kept.
    fn whole(&self) -> bool {
        self.error.is_none() && self.total == self.kept.len()
    }
}

/// Reads `body` within [`BODY_READ_TIMEOUT`] (waiting for one of the `reading` permits
/// included), keeping its first [`MAX_EVENT_BYTES`].
async fn read_event(reading: &tokio::sync::Semaphore, mut body: axum::body::Body) -> Read {
    let mut read = Read {
        kept: Vec::new(),
        total: 0,
        error: None,
    };
    let receive = async {
        let _permit = reading
            .acquire()
            .await
            .expect("the semaphore is never closed");
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| format!("the body could not be read ({e})"))?;
            if let Ok(data) = frame.into_data() {
                read.total += data.len();
                let room = MAX_EVENT_BYTES.saturating_sub(read.kept.len());
                read.kept.extend_from_slice(&data[..room.min(data.len())]);
            }
        }
        Ok::<(), String>(())
    };
    let outcome = tokio::time::timeout(BODY_READ_TIMEOUT, receive).await;
    read.error = match outcome {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(e),
        Err(_) => Some(format!(
            "the event did not arrive within {} s",
            BODY_READ_TIMEOUT.as_secs()
        )),
    };
    read
}

/// What the daemon reads of an event; each `None` when it is missing or lies past what
/// was read.
#[derive(Debug, Default)]
struct EventFields {
    object_kind: Option<String>,
    before: Option<String>,
    after: Option<String>,
    git_ref: Option<String>,
    /// `project.path_with_namespace`.
    project: Option<String>,
}

impl EventFields {
    /// The fields of the JSON object at the start of `bytes`, as far as it goes, and
    /// whether `bytes` held one whole JSON object. serde fills the fields one by one, so
    /// those read before a cut are kept.
    fn parse(bytes: &[u8]) -> (EventFields, Result<(), serde_json::Error>) {
        let mut fields = EventFields::default();
        let mut json = serde_json::Deserializer::from_slice(bytes);
        let parsed = (&mut fields)
            .deserialize(&mut json)
            .and_then(|()| json.end());
        (fields, parsed)
    }
}

impl<'de> DeserializeSeed<'de> for &mut EventFields {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for &mut EventFields {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a GitLab event (a JSON object)")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        #[derive(serde::Deserialize)]
        struct Project {
            path_with_namespace: Option<String>,
        }
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "object_kind" => self.object_kind = map.next_value()?,
                "before" => self.before = map.next_value()?,
                "after" => self.after = map.next_value()?,
                "ref" => self.git_ref = map.next_value()?,
                "project" => {
                    self.project = map
                        .next_value::<Option<Project>>()?
                        .and_then(|p| p.path_with_namespace);
                }
                // Skipped without being kept: commit messages can be megabytes.
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// A commit id that is really "no commit": a new branch's `before`, a deleted one's
/// `after`.
fn no_commit(id: &str) -> bool {
    id.bytes().all(|b| b == b'0')
}

/// The pages a push touched: of the `gitlab://` pages on its project and branch (all of
/// them when the event does not say which), those whose file differs between `before`
/// and `after`, or all of them when that cannot be known; and the `[[discover]]` blocks
/// on its branch with a file among those (all of them when that cannot be known).
async fn pages_touched(hooks: &Hooks, fields: &EventFields) -> (Vec<String>, Vec<String>) {
    let project = fields.project.as_deref().map(str::to_lowercase);
    let on_branch: Vec<&Source> = hooks
        .sources
        .iter()
        .filter(|s| project.as_ref().is_none_or(|p| s.project == *p))
        .filter(|s| fields.git_ref.as_deref().is_none_or(|r| s.on(r)))
        .collect();
    let watched: Vec<&crate::discover::PushWatch> = hooks
        .discovered
        .iter()
        .filter(|w| w.on_branch(fields.project.as_deref(), fields.git_ref.as_deref()))
        .collect();
    if on_branch.is_empty() && watched.is_empty() {
        return (Vec::new(), Vec::new());
    }
    // Checked under the lock the daemon's loop takes the pages under: they are still
    // waiting, so their sync starts after this push and reads what it pushed. A block's
    // files need the whole handbook waiting.
    let pages_waiting = || {
        hooks
            .asked
            .waiting(on_branch.iter().map(|s| s.page.as_str()))
    };
    if hooks.asked.all_waiting() || (watched.is_empty() && pages_waiting()) {
        let pages = on_branch.iter().map(|s| s.page.clone()).collect();
        return (pages, Vec::new());
    }
    let changed = match (&fields.project, &fields.before, &fields.after) {
        (Some(project), Some(before), Some(after)) if !no_commit(before) && !no_commit(after) => {
            match hooks.asked.compare(project) {
                Some(_comparing) => changed_files(&hooks.gitlab, project, before, after).await,
                None => {
                    tracing::info!(
                        project,
                        "push hook: another push's compare is in flight: syncing every page on the branch"
                    );
                    None
                }
            }
        }
        _ => {
            tracing::info!(
                project = fields.project.as_deref().unwrap_or("?"),
                git_ref = fields.git_ref.as_deref().unwrap_or("?"),
                "push hook: a new or deleted branch, or an event without before and after: syncing every page on it"
            );
            None
        }
    };
    let blocks = watched
        .into_iter()
        .filter(|w| changed.as_ref().is_none_or(|c| w.touches(c)))
        .map(|w| w.block.clone())
        .collect();
    let pages = on_branch
        .into_iter()
        .filter(|s| changed.as_ref().is_none_or(|c| c.contains(&s.path)))
        .map(|s| s.page.clone())
        .collect();
    (pages, blocks)
}

/// The files that differ between `before` and `after`, or `None` when GitLab cannot say
/// in time.
async fn changed_files(
    gitlab: &Gitlab,
    project: &str,
    before: &str,
    after: &str,
) -> Option<BTreeSet<String>> {
    if before == after {
        return Some(BTreeSet::new());
    }
    match tokio::time::timeout(
        COMPARE_DEADLINE,
        gitlab.changed_paths(project, before, after),
    )
    .await
    {
        Ok(Ok(paths)) => Some(paths.into_iter().collect()),
        Ok(Err(e)) => {
            tracing::warn!("push hook: {e}; syncing every page on the branch");
            None
        }
        Err(_) => {
            tracing::warn!(
                "push hook: the compare took longer than {} s; syncing every page on the branch",
                COMPARE_DEADLINE.as_secs()
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_secret_itself_authenticates() {
        let secret = SecretString::from("s3cret");
        let with = |token: Option<&str>| {
            let mut headers = HeaderMap::new();
            if let Some(token) = token {
                headers.insert("x-gitlab-token", token.parse().unwrap());
            }
            authenticated(&headers, &secret)
        };
        assert!(with(Some("s3cret")));
        for wrong in [
            None,
            Some(""),
            Some("s3cre"),
            Some("s3crett"),
            Some("S3CRET"),
        ] {
            assert!(!with(wrong), "{wrong:?}");
        }
    }

    /// GitLab's push event puts what the daemon needs before the commits
    /// (`lib/gitlab/data_builder/push.rb`): an event cut anywhere in its commits still
    /// names its project, branch and commits.
    #[test]
    fn an_event_cut_in_its_commits_still_gives_project_ref_before_and_after() {
        // In GitLab's order (a `serde_json::Value` would sort the keys).
        let event = format!(
            r#"{{"object_kind":"push","before":"{}","after":"{}","ref":"refs/heads/main","project":{{"id":1,"path_with_namespace":"Acme/Roadmap","name":"roadmap"}},"commits":[{{"id":"c","message":"{}","added":["a.md"]}}],"total_commits_count":1}}"#,
            "a".repeat(40),
            "b".repeat(40),
            "x".repeat(10_000)
        );
        let (whole, parsed) = EventFields::parse(event.as_bytes());
        assert!(parsed.is_ok(), "{parsed:?}");
        let cut = &event.as_bytes()[..event.find("xxxx").unwrap() + 100];
        let (fields, parsed) = EventFields::parse(cut);
        assert!(parsed.is_err(), "a cut event is not whole JSON");
        for f in [&whole, &fields] {
            assert_eq!(f.object_kind.as_deref(), Some("push"));
            assert_eq!(f.before.as_deref(), Some(&*"a".repeat(40)));
            assert_eq!(f.after.as_deref(), Some(&*"b".repeat(40)));
            assert_eq!(f.git_ref.as_deref(), Some("refs/heads/main"));
            assert_eq!(f.project.as_deref(), Some("Acme/Roadmap"));
        }
        let (early, _) = EventFields::parse(&event.as_bytes()[..30]);
        assert_eq!(early.project, None, "cut before the project: unknown");
        let (_, parsed) = EventFields::parse(b"[1, 2]");
        assert!(parsed.is_err(), "not an object");
    }
}
