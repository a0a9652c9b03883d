//! Local files: the version is the file's length and modification time, and the text is
//! compared too (a coarse clock can miss an edit).

use std::path::Path;

use super::{Cached, Fetched, SourceError};

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

/// Reads a local page; its version is its length and modification time.
pub fn fetch(path: &Path, cached: Option<&Cached>) -> Result<Fetched, SourceError> {
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
