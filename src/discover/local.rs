//! Listing a local directory: every file below it (symbolic links not followed, so a
//! link cannot pull in files from elsewhere), its path below the directory with `/`
//! between components, and, when the rules need it, its text.

use std::path::{Path, PathBuf};

use handbook_sync_core::discover::{Rules, Verdict};

use super::Listed;

/// The files of `dir` the rules match, in path order, each judged. `Err` when the
/// directory cannot be listed: the block is then not complete.
pub(super) async fn list(dir: &Path, rules: &Rules, max_bytes: u64) -> Result<Vec<Listed>, String> {
    let dir = dir.to_owned();
    let rules = rules.clone();
    tokio::task::spawn_blocking(move || list_blocking(&dir, &rules, max_bytes))
        .await
        .map_err(|e| format!("listing failed: {e}"))?
}

fn list_blocking(dir: &Path, rules: &Rules, max_bytes: u64) -> Result<Vec<Listed>, String> {
    if !dir.is_dir() {
        return Err(format!("`{}` is not a directory", dir.display()));
    }
    let mut listed = Vec::new();
    for entry in walkdir::WalkDir::new(dir)
        .follow_links(false)
        .sort_by_file_name()
    {
        let entry = entry.map_err(|e| format!("listing `{}`: {e}", dir.display()))?;
        if !entry.file_type().is_file() {
            continue;
        }
        let Some(path) = relative(dir, entry.path()) else {
            // Never silently: a page renamed to such a name would look deleted.
            let lossy = entry
                .path()
                .strip_prefix(dir)
                .unwrap_or(entry.path())
                .to_string_lossy()
                .replace(std::path::MAIN_SEPARATOR, "/");
            if rules.paths.matches(&lossy) {
                listed.push(Listed {
                    source: entry.path().display().to_string(),
                    path: lossy,
                    blob: None,
                    verdict: Err("its name is not UTF-8, so it cannot be a page (rename it)".into()),
                });
            }
            continue;
        };
        if !rules.paths.matches(&path) {
            continue;
        }
        let verdict = if rules.needs_text() {
            read(entry.path(), max_bytes).map(|text| rules.judge(&path, Some(&text)))
        } else {
            Ok(rules.judge(&path, None))
        };
        if matches!(verdict, Ok(Verdict::NotMatched)) {
            continue;
        }
        listed.push(Listed {
            source: entry.path().display().to_string(),
            path,
            blob: None,
            verdict,
        });
    }
    listed.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(listed)
}

/// `file` below `dir`, `/`-separated; `None` for a name that is not UTF-8 (it cannot be
/// named in a label; the caller reports it when its lossy name matches).
fn relative(dir: &Path, file: &Path) -> Option<String> {
    let rest: PathBuf = file.strip_prefix(dir).ok()?.to_owned();
    let parts: Option<Vec<&str>> = rest.components().map(|c| c.as_os_str().to_str()).collect();
    Some(parts?.join("/"))
}

/// The file's text, at most `max_bytes`.
fn read(path: &Path, max_bytes: u64) -> Result<String, String> {
    use std::io::Read as _;
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read it: {e}"))?;
    let mut bytes = Vec::new();
    file.take(max_bytes.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read it: {e}"))?;
    if bytes.len() as u64 > max_bytes {
        return Err(format!(
            "it is larger than sync.max_page_bytes ({max_bytes} bytes)"
        ));
    }
    String::from_utf8(bytes).map_err(|e| {
        format!(
            "it is not UTF-8 text (first bad byte at offset {})",
            e.utf8_error().valid_up_to()
        )
    })
}
