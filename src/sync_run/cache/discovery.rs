//! What discovery made of each `[[discover]]` block's repository files, by blob, kept in
//! `sync.cache_dir` beside the projects' files: a file whose blob is remembered is not
//! read again.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{FORMAT, store_json};
use crate::config::Config;
use crate::source::SourceCache;
use crate::sync::marker::hash;

/// What discovery made of a block's repository files, by blob: `discover-NAME-….json`.
#[derive(Debug, Serialize, Deserialize)]
struct DiscoveryMemo {
    format: u32,
    /// A hash of the block's settings and handbook-sync's version: what decides a
    /// verdict besides the text.
    rules: String,
    /// Path below the block's root → blob and verdict.
    files: BTreeMap<String, crate::source::FileMemo>,
}

fn memo_file(dir: &Path, block: &crate::config::DiscoverSettings) -> PathBuf {
    dir.join(format!(
        "discover-{}-{}.json",
        block.name,
        &hash(&block.name)[..8]
    ))
}

fn memo_rules(block: &crate::config::DiscoverSettings) -> String {
    hash(&format!("{block:?}\n{}", env!("CARGO_PKG_VERSION")))
}

/// Loads what earlier runs learnt of the `[[discover]]` blocks' repository files into
/// `sources` (with `sync.cache_dir`). A missing or unusable file means reading the files.
pub async fn load_discovery(config: &Config, sources: &SourceCache) {
    let Some(dir) = config.cache_dir() else {
        return;
    };
    for block in &config.discover {
        let Ok(bytes) = tokio::fs::read(memo_file(&dir, block)).await else {
            continue;
        };
        let Ok(memo) = serde_json::from_slice::<DiscoveryMemo>(&bytes) else {
            tracing::info!(block = %block.name, "the discovery cache is corrupt: reading the files");
            continue;
        };
        if memo.format != FORMAT || memo.rules != memo_rules(block) {
            continue;
        }
        for (path, file) in memo.files {
            sources.put_file(&format!("{}\0{path}", block.name), file);
        }
    }
    sources.files_saved();
}

/// Writes what this run learnt of the blocks' repository files (with `sync.cache_dir`),
/// when anything changed. Content-addressed, so never stale: a changed file has another
/// blob.
pub async fn save_discovery(config: &Config, sources: &SourceCache) {
    let Some(dir) = config.cache_dir() else {
        return;
    };
    for block in &config.discover {
        let prefix = format!("{}\0", block.name);
        let (files, changed) = sources.files_under(&prefix);
        if !changed || files.is_empty() {
            continue;
        }
        let memo = DiscoveryMemo {
            format: FORMAT,
            rules: memo_rules(block),
            files: files
                .into_iter()
                .map(|(k, v)| (k[prefix.len()..].to_owned(), v))
                .collect(),
        };
        let path = memo_file(&dir, block);
        if let Err(e) = store_json(&dir, &path, &memo).await {
            tracing::warn!(block = %block.name, "could not write the discovery cache ({e})");
        }
    }
    sources.files_saved();
}
