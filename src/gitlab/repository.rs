//! A project's repository: one file with its blob id, and the paths two commits differ in.

use gitlab::api::{self, AsyncQuery};
use serde::Deserialize;

use super::{Gitlab, GitlabError};

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

impl Gitlab {
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
}
