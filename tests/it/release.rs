//! What a release is made of: the version and commit the binary names, and the
//! published image that every deploy file names at that version.

use std::path::Path;
use std::process::Command;

use crate::common;

/// The commit `build.rs` should have found: `HANDBOOK_SYNC_COMMIT` or `CI_COMMIT_SHA` as
/// the build saw them, else the checkout's HEAD, else none.
fn expected_commit() -> String {
    let from_env = [
        option_env!("HANDBOOK_SYNC_COMMIT"),
        option_env!("CI_COMMIT_SHA"),
    ]
    .into_iter()
    .flatten()
    .find(|c| (7..=40).contains(&c.len()) && c.bytes().all(|b| b.is_ascii_hexdigit()))
    .map(str::to_owned);
    let head = || {
        Command::new("git")
            .args(["rev-parse", "HEAD"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| common::stdout(&o).trim().to_owned())
    };
    from_env
        .or_else(head)
        .map_or_else(|| "unknown".to_owned(), |c| c[..12].to_owned())
}

#[test]
fn version_names_the_release_and_the_commit_built() {
    let binary = env!("CARGO_BIN_EXE_handbook-sync");
    let expected = format!(
        "{} (commit {})",
        env!("CARGO_PKG_VERSION"),
        expected_commit()
    );
    let out = Command::new(binary).arg("--version").output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        common::stdout(&out).trim(),
        format!("handbook-sync {expected}")
    );
    // Every subcommand says the same, so a CI log's `handbook-sync plan --version` does too.
    let out = Command::new(binary)
        .args(["plan", "--version"])
        .output()
        .unwrap();
    assert_eq!(
        common::stdout(&out).trim(),
        format!("handbook-sync-plan {expected}")
    );
}

#[test]
fn the_changelog_has_a_section_for_this_version() {
    let changelog =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("CHANGELOG.md"))
            .unwrap();
    let heading = format!("## [{}]", env!("CARGO_PKG_VERSION"));
    assert!(
        changelog.lines().any(|l| l.starts_with(&heading)),
        "CHANGELOG.md has no '{heading}' section"
    );
}
