//! Local files: the version is the file's length and modification time, and the text is
//! compared too (a coarse clock can miss an edit).

use std::io::Read as _;
use std::path::Path;

use super::{Cached, Fetched, SourceError};

/// Reads a local page as UTF-8 text (for `parse`, which runs outside any async runtime).
pub fn read_local(path: &Path) -> Result<String, SourceError> {
    let bytes = std::fs::read(path).map_err(|source| SourceError::Io {
        path: path.to_owned(),
        source,
    })?;
    utf8(path, bytes)
}

fn utf8(path: &Path, bytes: Vec<u8>) -> Result<String, SourceError> {
    String::from_utf8(bytes).map_err(|e| SourceError::NotUtf8 {
        path: path.to_owned(),
        offset: e.utf8_error().valid_up_to(),
    })
}

/// Reads at most `max_bytes` of the file, and its version; blocking, so it runs on a
/// blocking thread.
fn read_bounded(path: &Path, max_bytes: u64) -> Result<(String, String), SourceError> {
    let io = |source| SourceError::Io {
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let metadata = file.metadata().ok();
    let modified = metadata.as_ref().and_then(|m| m.modified().ok());
    // Sized once: growing by doubling would hold up to twice a large page.
    let expected = metadata.map_or(0, |m| m.len()).min(max_bytes) as usize;
    let mut bytes = Vec::with_capacity(expected.saturating_add(1));
    // One byte more than allowed tells "too large" from "exactly the limit".
    file.take(max_bytes.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > max_bytes {
        return Err(SourceError::TooLarge {
            location: path.display().to_string(),
            limit: max_bytes,
        });
    }
    let text = utf8(path, bytes)?;
    let version = modified
        .map(|t| format!("{}:{:?}", text.len(), t))
        .unwrap_or_default();
    Ok((text, version))
}

/// Reads a local page of at most `max_bytes`, off the async threads; its version is its
/// length and modification time.
pub async fn fetch(
    path: &Path,
    cached: Option<&Cached>,
    max_bytes: u64,
) -> Result<Fetched, SourceError> {
    let owned = path.to_owned();
    let (text, version) = tokio::task::spawn_blocking(move || read_bounded(&owned, max_bytes))
        .await
        .map_err(|e| SourceError::Io {
            path: path.to_owned(),
            source: std::io::Error::other(e),
        })??;
    let unchanged = cached.is_some_and(|c| c.synced && c.version == version && c.text == text);
    Ok(Fetched {
        text,
        unchanged,
        version,
    })
}
