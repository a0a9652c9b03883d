//! Build script: the commit that `--version`, the daemon's first log line and its
//! `handbook_sync_build_info` metric name beside the crate's version.
//!
//! The commit comes from, in order: `HANDBOOK_SYNC_COMMIT` (a release build that knows
//! it), `CI_COMMIT_SHA` (GitLab CI), `git rev-parse HEAD` in the source tree. A build
//! without any of them (a source tarball, no git) still succeeds and says `unknown`.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=HANDBOOK_SYNC_COMMIT");
    println!("cargo:rerun-if-env-changed=CI_COMMIT_SHA");
    let from_env = ["HANDBOOK_SYNC_COMMIT", "CI_COMMIT_SHA"]
        .iter()
        .find_map(|name| {
            let value = std::env::var(name).ok()?;
            if is_commit(&value) {
                Some(value)
            } else {
                if !value.is_empty() {
                    println!(
                        "cargo:warning={name} is not a commit id (7 to 40 hex digits): ignored"
                    );
                }
                None
            }
        });
    let commit = from_env
        .or_else(git_head)
        .map_or_else(|| "unknown".to_owned(), |c| c[..c.len().min(12)].to_owned());
    println!("cargo:rustc-env=HANDBOOK_SYNC_BUILD_COMMIT={commit}");
}

fn is_commit(value: &str) -> bool {
    (7..=40).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The checked-out commit, and the files git changes when it moves (so that the next
/// build after a commit or a checkout runs this again), or `None` without git.
fn git_head() -> Option<String> {
    let dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR")?);
    let git = |args: &[&str]| -> Option<String> {
        let out = Command::new("git")
            .args(args)
            .current_dir(&dir)
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8(out.stdout).ok())
            .flatten()
            .map(|s| s.trim().to_owned())
    };
    let head = git(&["rev-parse", "HEAD"]).filter(|h| is_commit(h))?;
    // HEAD names the branch; the branch's ref file (or packed-refs) holds the commit. A
    // missing path would make cargo run this script on every build: only existing ones.
    let mut watched = vec![git(&["rev-parse", "--git-path", "HEAD"])];
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        watched.push(git(&["rev-parse", "--git-path", &branch]));
    }
    watched.push(git(&["rev-parse", "--git-path", "packed-refs"]));
    for path in watched.into_iter().flatten() {
        let path = absolute(&dir, Path::new(&path));
        if path.exists() {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
    Some(head)
}

fn absolute(dir: &Path, path: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_owned()
    } else {
        dir.join(path)
    }
}
