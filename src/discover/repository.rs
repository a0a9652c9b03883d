//! Listing a GitLab repository tree (`gitlab://GROUP/PROJECT/-/DIR?ref=BRANCH`): one
//! recursive, keyset-paged listing gives every file's path and blob id; a file the rules
//! need the text of is read only when what it is, by that blob, is not remembered in the
//! [`SourceCache`], and then its text is left there for the page stage.

use futures_util::StreamExt as _;
use handbook_sync_core::discover::{Rules, Verdict};

use super::Listed;
use crate::config::{Config, DiscoverSettings};
use crate::gitlab::{Gitlab, RepositoryFile};
use crate::source::{FileMemo, SourceCache};

/// Where a block's files are.
pub(super) struct Root<'a> {
    pub project: &'a str,
    /// The directory below the repository's root (empty: the whole repository).
    pub path: &'a str,
    pub git_ref: &'a str,
}

impl Root<'_> {
    /// A file's path in the repository.
    fn full(&self, below: &str) -> String {
        let dir = self.path.trim_matches('/');
        if dir.is_empty() {
            below.to_owned()
        } else {
            format!("{dir}/{below}")
        }
    }

    /// The page source of a file.
    fn source(&self, below: &str) -> String {
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("ref", self.git_ref)
            .finish();
        format!("gitlab://{}/-/{}?{query}", self.project, self.full(below))
    }
}

/// The files of the tree at `root` the rules match, in path order, each judged. `Err`
/// when the tree cannot be listed.
pub(super) async fn list(
    gitlab: &Gitlab,
    root: &Root<'_>,
    block: &DiscoverSettings,
    rules: &Rules,
    config: &Config,
    sources: &SourceCache,
) -> Result<Vec<Listed>, String> {
    let dir = root.path.trim_matches('/');
    let tree = gitlab
        .repository_tree(root.project, dir, root.git_ref)
        .await
        .map_err(|e| e.to_string())?;
    let prefix = if dir.is_empty() {
        String::new()
    } else {
        format!("{dir}/")
    };
    let matched: Vec<(String, String)> = tree
        .into_iter()
        .filter_map(|f| {
            let below = f.path.strip_prefix(&prefix)?.to_owned();
            rules.paths.matches(&below).then_some((below, f.blob_id))
        })
        .collect();
    let judged = futures_util::stream::iter(matched)
        .map(|(below, blob)| async move {
            let key = format!("{}\0{below}", block.name);
            let (blob, verdict) = if below.contains(['?', '#']) {
                // A page source ends its path at `?` (its `ref`): such a name cannot be one.
                (
                    blob,
                    Err("its name holds `?` or `#`, which a page source cannot".into()),
                )
            } else if !rules.needs_text() {
                let verdict = rules.judge(&below, None);
                (blob, Ok(verdict))
            } else if let Some(memo) = sources.file(&key).filter(|m| m.blob == blob) {
                (blob, Ok(memo.verdict))
            } else {
                match read(gitlab, root, &below, config.sync.max_page_bytes).await {
                    Ok((blob, text)) => {
                        let verdict = rules.judge(&below, Some(&text));
                        sources.put_file(
                            &key,
                            FileMemo {
                                blob: blob.clone(),
                                verdict: verdict.clone(),
                            },
                        );
                        if let Verdict::Page(page) = &verdict {
                            sources.put_if_new(&page.id, &blob, text);
                        }
                        (blob, Ok(verdict))
                    }
                    Err(message) => (blob, Err(message)),
                }
            };
            Listed {
                source: root.source(&below),
                path: below,
                blob: Some(blob),
                verdict,
            }
        })
        .buffered(config.gitlab.concurrency.max(1))
        .collect::<Vec<_>>()
        .await;
    Ok(judged
        .into_iter()
        .filter(|l| !matches!(l.verdict, Ok(Verdict::NotMatched)))
        .collect())
}

/// A file's blob id and text (the files API at the block's ref: a push since the
/// listing gives the newer file, which the next run lists).
async fn read(
    gitlab: &Gitlab,
    root: &Root<'_>,
    below: &str,
    max_bytes: u64,
) -> Result<(String, String), String> {
    match gitlab
        .repository_file(root.project, &root.full(below), root.git_ref, max_bytes)
        .await
    {
        Ok(RepositoryFile::Text { blob_id, text }) => Ok((blob_id, text)),
        Ok(RepositoryFile::TooLarge) => Err(format!(
            "it is larger than sync.max_page_bytes ({max_bytes} bytes)"
        )),
        Err(e) => Err(e.to_string()),
    }
}
