//! Stage 2: reading and parsing the pages. A page that cannot be read, or has no items,
//! is kept as [`PageRead::Failed`] so that nothing of it is closed.

use crate::config::{Config, PageSettings};
use crate::parse::{self, Page, ParseOptions};
use crate::source::{self, Cached, Fetched, SourceCache, SourceError};

use super::Connection;

/// A page that is not planned.
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    /// Its source could not be read.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// Discovery could not make a page of a file, or list a block's files.
    #[error("{0}")]
    Discovery(crate::discover::Problem),
    /// Not read: the process is stopping.
    #[error("page `{page}` not read: shutting down")]
    Cancelled {
        /// The page id.
        page: String,
    },
    /// Its source, a path relative to the configuration file, could not be read: the
    /// message says so, since a path that works from the shell's directory may not work
    /// from the file's.
    #[error(
        "page `{page}`: source `{}` is relative to the configuration file `{}`",
        crate::redact::text(.written),
        config.display()
    )]
    RelativeSource {
        /// The page id.
        page: String,
        /// `pages[].source` as written.
        written: String,
        /// The configuration file.
        config: std::path::PathBuf,
        /// Why it could not be read (naming the path as resolved).
        #[source]
        source: SourceError,
    },
    /// It parsed to no items: most likely a broken page, so nothing of it is closed.
    #[error("page `{page}` ({location}) has no items: skipped, nothing of it is closed")]
    NoItems {
        /// The page id.
        page: String,
        /// `pages[].source` as configured, credentials redacted.
        location: String,
    },
}

/// What reading one page gave.
#[derive(Debug)]
pub enum PageRead {
    /// Parsed, with at least one item.
    Parsed(Page),
    /// The version whose last sync succeeded, and `sync.enforce` is off: not planned.
    Unchanged {
        /// Items the page had, for the summary.
        items: usize,
    },
    /// Skipped: nothing of it is closed.
    Failed(PageError),
    /// A page of a `[[discover]]` block that is no longer in the handbook (deleted,
    /// renamed, no longer qualifying) and still has open issues: closing them is refused
    /// unless allowed (`--allow-removed-pages`). Or a page still in the handbook whose
    /// open issues are in another project than its own now (its file moved).
    Vanished {
        /// How it vanished, as far as discovery knows: for the refusal and the reasons.
        why: String,
        /// The project the page is synced to now, when it moved.
        moved_to: Option<String>,
    },
}

/// One selected page and what reading it gave.
#[derive(Debug)]
pub struct PageInput {
    /// The page's configuration.
    pub settings: PageSettings,
    /// Its content, or why there is none.
    pub read: PageRead,
}

impl PageInput {
    /// A file or block discovery could not make a page of: a skipped page named after it.
    pub fn discovery_problem(problem: &crate::discover::Problem) -> Self {
        PageInput {
            settings: PageSettings {
                id: problem.page_name(),
                source: problem.source.clone(),
                url: None,
                project: String::new(),
                owner: String::new(),
                include_sections: Vec::new(),
                exclude_sections: Vec::new(),
                board: false,
                adopt: false,
                page_label: None,
                discovered: None,
            },
            read: PageRead::Failed(PageError::Discovery(problem.clone())),
        }
    }
}

/// Stage 2: reads and parses every page of `pages` (`gitlab.concurrency` at once; the
/// result in their order) through `connection` (an
/// `http(s)` page through its HTTP client, a `gitlab://` one through GitLab). With a
/// `cache`, a page whose source is the version last synced successfully is
/// [`PageRead::Unchanged`] (unless `sync.enforce`), and every parsed page's source is
/// remembered, not yet marked synced. Once `connection` is cancelled, no page is read
/// and a read in progress is abandoned: those pages fail with [`PageError::Cancelled`].
pub async fn read_pages(
    config: &Config,
    connection: &Connection,
    pages: &[PageSettings],
    cache: Option<&SourceCache>,
) -> Vec<PageInput> {
    use futures_util::StreamExt as _;
    // `gitlab.concurrency` at once (the client still paces every request), in order.
    futures_util::stream::iter(pages)
        .map(|settings| async move {
            let cancelled = || {
                PageRead::Failed(PageError::Cancelled {
                    page: settings.id.clone(),
                })
            };
            let read = if connection.cancel.is_cancelled() {
                cancelled()
            } else {
                tokio::select! {
                    read = read_page(config, connection, settings, cache) => read,
                    () = connection.cancel.cancelled() => cancelled(),
                }
            };
            PageInput {
                settings: settings.clone(),
                read,
            }
        })
        .buffered(config.gitlab.concurrency.max(1))
        .collect()
        .await
}

async fn read_page(
    config: &Config,
    connection: &Connection,
    settings: &PageSettings,
    cache: Option<&SourceCache>,
) -> PageRead {
    let cached = cache.and_then(|c| c.get(&settings.id));
    let spec = config.source(settings);
    // A discovered repository file whose blob is remembered is that text: not read again.
    let blob = settings.discovered.as_ref().and_then(|d| d.blob.as_ref());
    let fetched = match cached.as_ref().filter(|c| Some(&c.version) == blob) {
        Some(known) => Ok(Fetched {
            text: known.text.clone(),
            unchanged: known.synced,
            version: known.version.clone(),
        }),
        None => {
            source::fetch(
                &spec,
                &connection.http,
                &connection.gitlab,
                cached.as_ref(),
                config.sync.max_page_bytes,
            )
            .await
        }
    };
    let Fetched {
        text,
        unchanged,
        version,
    } = match fetched {
        Ok(f) => f,
        Err(source) => {
            let relative = matches!(spec, source::SourceSpec::Local(_))
                && std::path::Path::new(&settings.source).is_relative();
            return PageRead::Failed(if relative {
                PageError::RelativeSource {
                    page: settings.id.clone(),
                    written: settings.source.clone(),
                    config: config.path.clone(),
                    source,
                }
            } else {
                source.into()
            });
        }
    };
    // An unchanged page whose last sync succeeded needs no work (unless enforce asks to
    // look for manual changes every time).
    if let Some(c) = &cached
        && unchanged
        && !config.sync.enforce
    {
        return PageRead::Unchanged { items: c.items };
    }
    let page = parse::parse_page(&text, &parse_options(settings));
    if let Some(cache) = cache {
        cache.put(
            &settings.id,
            Cached {
                version,
                text,
                synced: false,
                items: page.items.len(),
            },
        );
    }
    if page.items.is_empty() {
        PageRead::Failed(PageError::NoItems {
            page: settings.id.clone(),
            location: crate::redact::text(&settings.source).into_owned(),
        })
    } else {
        PageRead::Parsed(page)
    }
}

/// How `settings`' page is parsed (its id, URL and section filters).
pub fn parse_options(settings: &PageSettings) -> ParseOptions {
    ParseOptions {
        page_id: settings.id.clone(),
        page_url: settings
            .url
            .as_deref()
            .and_then(|u| url::Url::parse(u).ok()),
        include_sections: settings.include_sections.clone(),
        exclude_sections: settings.exclude_sections.clone(),
    }
}
