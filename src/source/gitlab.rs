//! `gitlab://` pages, through the repository files API: the version is the file's
//! `blob_id`, which the same request returns with the text.

use super::{Cached, Fetched, SourceError};
use crate::gitlab::Gitlab;

/// Reads `path` at `git_ref` in `project`; unchanged when the blob is the one `cached`
/// holds and its sync succeeded.
pub async fn fetch(
    gitlab: &Gitlab,
    project: &str,
    path: &str,
    git_ref: &str,
    cached: Option<&Cached>,
) -> Result<Fetched, SourceError> {
    let (blob, text) = gitlab.repository_file(project, path, git_ref).await?;
    let unchanged = cached.is_some_and(|c| c.synced && c.version == blob);
    Ok(Fetched {
        text,
        unchanged,
        version: blob,
    })
}
