//! Reading handbook pages: the I/O edge in front of the pure parser.
//!
//! Three kinds of source, one file each: [`local`] files, [`http`] URLs and [`gitlab`]
//! repository files. Each knows how to tell that a page is the version last synced
//! successfully (file length, time and text; `ETag` and `304`; `blob_id`), and
//! [`fetch`] picks the kind, so the whole "is it unchanged" question lives here.

use std::path::{Path, PathBuf};

use crate::gitlab::{Gitlab, GitlabError};

/// An HTTP client's message with its causes (a URL in them redacted).
fn describe(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    crate::redact::text(&text).into_owned()
}

pub mod gitlab;
pub mod http;
pub mod local;

pub use local::read_local;

/// A path for messages: any URL in it redacted.
fn shown(path: &Path) -> String {
    crate::redact::text(&path.display().to_string()).into_owned()
}

/// A page source that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The file is missing, unreadable or a directory.
    #[error("cannot read page `{}`", shown(.path))]
    Io {
        /// The path as given.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// The file is not UTF-8 text.
    #[error(
        "cannot read page `{}`: not valid UTF-8 (first bad byte at offset {offset})",
        shown(.path)
    )]
    NotUtf8 {
        /// The path as given.
        path: PathBuf,
        /// Byte offset of the first invalid sequence.
        offset: usize,
    },
    /// A `gitlab://` source without group, project and path.
    #[error(
        "`{}`: expected gitlab://GROUP/PROJECT/path/to/page.md",
        crate::redact::text(.spec)
    )]
    BadGitlabSource {
        /// The source as written.
        spec: String,
    },
    /// A source that looks like a URL (`scheme://`) of a kind that cannot be read: never
    /// taken for a file name, whose messages would show it whole.
    #[error(
        "`{}`: a URL handbook-sync cannot read; a page source is http://, https://, gitlab:// or a file path",
        crate::redact::text(.spec)
    )]
    UnknownScheme {
        /// The source as written.
        spec: String,
    },
    /// An `http(s)` source that is not a URL.
    #[error("`{}`: {error}", crate::redact::text(.spec))]
    BadUrl {
        /// The source as written.
        spec: String,
        /// What the URL parser said.
        error: url::ParseError,
    },
    /// The `http(s)` request failed: no answer. (Every URL shown is redacted.)
    #[error("cannot fetch page `{}`: {}", crate::redact::url(.url), describe(.error))]
    Fetch {
        /// The page's URL.
        url: url::Url,
        /// What the HTTP client said, without the URL.
        error: reqwest::Error,
    },
    /// The server answered, but not with the page.
    #[error("cannot fetch page `{}`: the server answered {status}", crate::redact::url(.url))]
    Status {
        /// The page's URL.
        url: url::Url,
        /// The answer's status.
        status: reqwest::StatusCode,
    },
    /// The answer's body could not be read.
    #[error("cannot read page `{}`: {}", crate::redact::url(.url), describe(.error))]
    Body {
        /// The page's URL.
        url: url::Url,
        /// What the HTTP client said, without the URL.
        error: reqwest::Error,
    },
    /// The source is larger than `sync.max_page_bytes`.
    #[error(
        "page source `{location}` is larger than sync.max_page_bytes ({limit} bytes): not read, so the page is skipped and nothing of it is closed"
    )]
    TooLarge {
        /// The source, redacted.
        location: String,
        /// The limit.
        limit: u64,
    },
    /// A `gitlab://` page could not be read through the repository files API.
    #[error(transparent)]
    Gitlab(#[from] GitlabError),
}

/// Where a page comes from, as `pages[].source` says. Its `Debug` is
/// [`SourceSpec::describe`], which redacts credentials.
#[derive(Clone, PartialEq, Eq)]
pub enum SourceSpec {
    /// A file, relative to the configuration file.
    Local(PathBuf),
    /// An `http(s)` URL, fetched with `If-None-Match`.
    Http(url::Url),
    /// `gitlab://GROUP/PROJECT/path/to/page.md?ref=main` (nested groups:
    /// `gitlab://group/sub/project/-/path/to/page.md`), through the repository files API.
    Gitlab {
        /// Project path.
        project: String,
        /// File path in the repository.
        path: String,
        /// Branch, tag or commit.
        git_ref: String,
    },
}

impl SourceSpec {
    /// Reads `pages[].source`; relative paths are relative to `base_dir`.
    pub fn parse(source: &str, base_dir: &Path) -> Result<SourceSpec, SourceError> {
        // `HTTPS://…` or ` https://…` is a URL too (the parser lowers the scheme), never a
        // file name whose messages would print its credentials.
        let source = source.trim();
        let scheme = source
            .split_once("://")
            .map(|(scheme, _)| scheme.to_ascii_lowercase())
            .filter(|scheme| {
                scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                    && scheme
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
            });
        if let Some(rest) = scheme
            .as_deref()
            .filter(|s| *s == "gitlab")
            .map(|_| &source["gitlab://".len()..])
        {
            let (location, query) = rest.split_once('?').unwrap_or((rest, ""));
            let git_ref = form_urlencoded::parse(query.as_bytes())
                .find(|(k, _)| k == "ref")
                .map_or_else(|| "main".to_owned(), |(_, v)| v.into_owned());
            let (project, path) = match location.split_once("/-/") {
                Some((project, path)) => (project.to_owned(), path.to_owned()),
                None => {
                    let mut parts = location.splitn(3, '/');
                    match (parts.next(), parts.next(), parts.next()) {
                        (Some(group), Some(name), Some(path)) if !path.is_empty() => {
                            (format!("{group}/{name}"), path.to_owned())
                        }
                        _ => {
                            return Err(SourceError::BadGitlabSource {
                                spec: source.to_owned(),
                            });
                        }
                    }
                }
            };
            return Ok(SourceSpec::Gitlab {
                project,
                path,
                git_ref,
            });
        }
        if scheme
            .as_deref()
            .is_some_and(|s| s != "http" && s != "https")
        {
            return Err(SourceError::UnknownScheme {
                spec: source.to_owned(),
            });
        }
        if scheme.is_some() {
            return url::Url::parse(source)
                .map(SourceSpec::Http)
                .map_err(|error| SourceError::BadUrl {
                    spec: source.to_owned(),
                    error,
                });
        }
        let path = Path::new(source);
        Ok(SourceSpec::Local(if path.is_absolute() {
            path.to_owned()
        } else {
            base_dir.join(path)
        }))
    }

    /// For messages: credentials in a URL are redacted.
    pub fn describe(&self) -> String {
        match self {
            SourceSpec::Local(p) => shown(p),
            SourceSpec::Http(u) => crate::redact::url(u),
            SourceSpec::Gitlab {
                project,
                path,
                git_ref,
            } => format!("gitlab://{project}/-/{path}?ref={git_ref}"),
        }
    }
}

impl std::fmt::Debug for SourceSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SourceSpec({})", self.describe())
    }
}

/// Each page's source as last read: its text and version (`ETag`, `blob_id`, file length
/// and time), so that an unchanged `http(s)` page costs a `304`. Kept by the cache's
/// `Session` (`sync_run::cache`), for one run or, in the daemon, for its life. Beside
/// it, what `[[discover]]` made of each file of a repository tree, by blob (an unchanged
/// file is not read again), and what vanished-page detection remembers of projects.
#[derive(Debug, Default)]
pub struct SourceCache {
    entries: std::sync::Mutex<std::collections::HashMap<String, Cached>>,
    files: std::sync::Mutex<std::collections::BTreeMap<String, FileMemo>>,
    files_changed: std::sync::atomic::AtomicBool,
    /// (project, label) → its open managed issues with that label at the last full read.
    open_counts: std::sync::Mutex<std::collections::HashMap<(String, String), OpenCounts>>,
}

/// Open managed issues by the id of the user who opened them (`None`: not known).
pub type OpenCounts = std::collections::BTreeMap<Option<u64>, u64>;

/// What discovery made of one file of a repository tree: the same blob is the same text,
/// so the same verdict.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FileMemo {
    /// The file's blob id.
    pub blob: String,
    /// What the file is.
    pub verdict: handbook_sync_core::discover::Verdict,
}

/// One page's remembered source.
#[derive(Debug, Clone)]
pub struct Cached {
    /// `ETag`, blob id, or file length and modification time.
    pub version: String,
    /// The text.
    pub text: String,
    /// The last sync of the page from this version succeeded.
    pub synced: bool,
    /// Items the page had, for the summary.
    pub items: usize,
}

impl SourceCache {
    /// The remembered source of a page.
    pub fn get(&self, page: &str) -> Option<Cached> {
        self.entries
            .lock()
            .expect("the cache lock is never poisoned")
            .get(page)
            .cloned()
    }

    /// Remembers a page's source.
    pub fn put(&self, page: &str, cached: Cached) {
        self.entries
            .lock()
            .expect("the cache lock is never poisoned")
            .insert(page.to_owned(), cached);
    }

    /// Remembers `page`'s text at `version` unless that version is remembered already
    /// (whose `synced` mark it keeps).
    pub fn put_if_new(&self, page: &str, version: &str, text: String) {
        let mut entries = self
            .entries
            .lock()
            .expect("the cache lock is never poisoned");
        if entries.get(page).is_some_and(|c| c.version == version) {
            return;
        }
        entries.insert(
            page.to_owned(),
            Cached {
                version: version.to_owned(),
                text,
                synced: false,
                items: 0,
            },
        );
    }

    /// What discovery made of the file known as `key`, if remembered.
    pub fn file(&self, key: &str) -> Option<FileMemo> {
        self.files
            .lock()
            .expect("the cache lock is never poisoned")
            .get(key)
            .cloned()
    }

    /// Remembers what discovery made of the file known as `key`.
    pub fn put_file(&self, key: &str, memo: FileMemo) {
        let mut files = self.files.lock().expect("the cache lock is never poisoned");
        if files.get(key) != Some(&memo) {
            files.insert(key.to_owned(), memo);
            self.files_changed
                .store(true, std::sync::atomic::Ordering::SeqCst);
        }
    }

    /// Every remembered file whose key starts with `prefix`, and whether any changed
    /// since [`SourceCache::put_file`] was last reset by [`SourceCache::files_saved`].
    pub fn files_under(&self, prefix: &str) -> (Vec<(String, FileMemo)>, bool) {
        let files = self.files.lock().expect("the cache lock is never poisoned");
        let under = files
            .range(prefix.to_owned()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        (
            under,
            self.files_changed.load(std::sync::atomic::Ordering::SeqCst),
        )
    }

    /// Marks the remembered files as saved.
    pub fn files_saved(&self) {
        self.files_changed
            .store(false, std::sync::atomic::Ordering::SeqCst);
    }

    /// Remembers how many open managed issues of `project` carry `label`, by author.
    pub fn set_open_count(&self, project: &str, label: &str, count: OpenCounts) {
        self.open_counts
            .lock()
            .expect("the cache lock is never poisoned")
            .insert((project.to_owned(), label.to_owned()), count);
    }

    /// How many open managed issues of `project` carried `label` at its last full read,
    /// by author.
    pub fn open_count(&self, project: &str, label: &str) -> Option<OpenCounts> {
        self.open_counts
            .lock()
            .expect("the cache lock is never poisoned")
            .get(&(project.to_owned(), label.to_owned()))
            .cloned()
    }

    /// Marks the page's current version as synced (or not).
    pub fn mark(&self, page: &str, synced: bool) {
        if let Some(c) = self
            .entries
            .lock()
            .expect("the cache lock is never poisoned")
            .get_mut(page)
        {
            c.synced = synced;
        }
    }
}

/// A page's text and whether it is the version last synced successfully.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// The Markdown.
    pub text: String,
    /// Same version as the last successful sync of this page.
    pub unchanged: bool,
    /// Version tag to remember.
    pub version: String,
}

/// Reads the page at `spec`, telling whether it is the version of `cached` and that
/// version was synced successfully. `http` fetches `http(s)` pages; `gitlab` reads
/// `gitlab://` ones. A source of more than `max_bytes` is not read
/// ([`SourceError::TooLarge`]); no file is read on an async thread.
pub async fn fetch(
    spec: &SourceSpec,
    http: &reqwest::Client,
    gitlab: &Gitlab,
    cached: Option<&Cached>,
    max_bytes: u64,
) -> Result<Fetched, SourceError> {
    match spec {
        SourceSpec::Local(path) => local::fetch(path, cached, max_bytes).await,
        SourceSpec::Http(url) => http::fetch(http, url, cached, max_bytes).await,
        SourceSpec::Gitlab {
            project,
            path,
            git_ref,
        } => gitlab::fetch(gitlab, (project, path, git_ref), cached, max_bytes).await,
    }
}
