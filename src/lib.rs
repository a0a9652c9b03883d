//! handbook-sync keeps GitLab issues equal to a Markdown handbook.
//!
//! The crate is the imperative shell (configuration, page sources, the GitLab client,
//! apply, the daemon and the CLI) around the pure core in the `handbook-sync-core`
//! crate. The core's modules are re-exported here under their old paths
//! (`handbook_sync::parse`, `handbook_sync::sync`, …) so callers need not know where
//! they live. See `ARCHITECTURE.md`.

#![warn(missing_docs)]

pub mod build_info;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod demo;
pub mod discover;
pub mod exit;
pub mod exposition;
pub mod gitlab;
pub mod logging;
pub mod metrics;
pub mod redact;
pub mod roadmap;
pub mod source;
pub mod sync_run;

pub use handbook_sync_core::{parse, schedule, status, sync};
