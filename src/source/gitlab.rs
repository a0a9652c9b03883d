//! `gitlab://` pages, through the repository files API: the version is the file's
//! `blob_id`, which the same request returns with the text.

use super::{Cached, Fetched, SourceError};
use crate::gitlab::{Gitlab, RepositoryFile};

/// Reads `path` at `git_ref` in `project`, refusing a file of more than `max_bytes` (by
/// the size GitLab reports, before decoding it); unchanged when the blob is the one
/// `cached` holds and its sync succeeded.
pub async fn fetch(
    gitlab: &Gitlab,
    (project, path, git_ref): (&str, &str, &str),
    cached: Option<&Cached>,
    max_bytes: u64,
) -> Result<Fetched, SourceError> {
    let (blob, text) = match gitlab
        .repository_file(project, path, git_ref, max_bytes)
        .await?
    {
        RepositoryFile::Text { blob_id, text } => (blob_id, text),
        RepositoryFile::TooLarge => {
            return Err(SourceError::TooLarge {
                location: format!("gitlab://{project}/-/{path}?ref={git_ref}"),
                limit: max_bytes,
            });
        }
    };
    let unchanged = cached.is_some_and(|c| c.synced && c.version == blob);
    Ok(Fetched {
        text,
        unchanged,
        version: blob,
    })
}
