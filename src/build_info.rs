//! What this build is: the crate's version and the commit it was built from (`build.rs`
//! finds it: `HANDBOOK_SYNC_COMMIT`, `CI_COMMIT_SHA`, or git; `unknown` without them).

/// The crate's version, as in `Cargo.toml`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The first 12 hex digits of the commit built, or `unknown`.
pub const COMMIT: &str = env!("HANDBOOK_SYNC_BUILD_COMMIT");

/// What `--version` prints after the program's name: `0.1.0 (commit 0123456789ab)`.
pub const LONG_VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("HANDBOOK_SYNC_BUILD_COMMIT"),
    ")"
);
