//! Reading handbook pages: the I/O edge in front of the pure parser.

use std::path::{Path, PathBuf};

/// A page source that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The file is missing, unreadable or a directory.
    #[error("cannot read page `{path}`")]
    Io {
        /// The path as given.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// The file is not UTF-8 text.
    #[error("cannot read page `{path}`: not valid UTF-8 (first bad byte at offset {offset})")]
    NotUtf8 {
        /// The path as given.
        path: PathBuf,
        /// Byte offset of the first invalid sequence.
        offset: usize,
    },
}

/// Reads a local page as UTF-8 text.
pub fn read_local(path: &Path) -> Result<String, SourceError> {
    let bytes = std::fs::read(path).map_err(|source| SourceError::Io {
        path: path.to_owned(),
        source,
    })?;
    String::from_utf8(bytes).map_err(|e| SourceError::NotUtf8 {
        path: path.to_owned(),
        offset: e.utf8_error().valid_up_to(),
    })
}

/// Where a page comes from, as `pages[].source` says.
#[derive(Debug, Clone, PartialEq, Eq)]
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
    pub fn parse(source: &str, base_dir: &Path) -> Result<SourceSpec, String> {
        if let Some(rest) = source.strip_prefix("gitlab://") {
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
                            return Err(format!(
                                "`{source}`: expected gitlab://GROUP/PROJECT/path/to/page.md"
                            ));
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
        if source.starts_with("http://") || source.starts_with("https://") {
            return url::Url::parse(source)
                .map(SourceSpec::Http)
                .map_err(|e| format!("`{source}`: {e}"));
        }
        let path = Path::new(source);
        Ok(SourceSpec::Local(if path.is_absolute() {
            path.to_owned()
        } else {
            base_dir.join(path)
        }))
    }

    /// For messages.
    pub fn describe(&self) -> String {
        match self {
            SourceSpec::Local(p) => p.display().to_string(),
            SourceSpec::Http(u) => u.to_string(),
            SourceSpec::Gitlab {
                project,
                path,
                git_ref,
            } => format!("gitlab://{project}/-/{path}?ref={git_ref}"),
        }
    }
}

/// What the daemon remembers of each page's source between ticks, so that an unchanged
/// page costs a `304` (http) or a compared `blob_id` (gitlab), and no planning.
#[derive(Debug, Default)]
pub struct SourceCache {
    entries: std::sync::Mutex<std::collections::HashMap<String, Cached>>,
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

/// Fetches an `http(s)` page, sending the remembered `ETag`.
pub async fn fetch_http(
    http: &reqwest::Client,
    url: &url::Url,
    cached: Option<&Cached>,
) -> Result<Fetched, String> {
    let mut request = http.get(url.clone());
    if let Some(c) = cached {
        request = request.header(reqwest::header::IF_NONE_MATCH, &c.version);
    }
    let response = request
        .send()
        .await
        .map_err(|e| format!("cannot fetch page `{url}`: {e}"))?;
    if response.status() == reqwest::StatusCode::NOT_MODIFIED
        && let Some(c) = cached
    {
        return Ok(Fetched {
            text: c.text.clone(),
            unchanged: c.synced,
            version: c.version.clone(),
        });
    }
    if !response.status().is_success() {
        return Err(format!(
            "cannot fetch page `{url}`: the server answered {}",
            response.status()
        ));
    }
    let version = response
        .headers()
        .get(reqwest::header::ETAG)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let text = response
        .text()
        .await
        .map_err(|e| format!("cannot read page `{url}`: {e}"))?;
    Ok(Fetched {
        text,
        unchanged: false,
        version,
    })
}

/// Reads a local page; its version is its length and modification time.
pub fn fetch_local(path: &Path, cached: Option<&Cached>) -> Result<Fetched, SourceError> {
    let text = read_local(path)?;
    let version = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .map(|t| format!("{}:{:?}", text.len(), t))
        .unwrap_or_default();
    let unchanged = cached.is_some_and(|c| c.synced && c.version == version && c.text == text);
    Ok(Fetched {
        text,
        unchanged,
        version,
    })
}
