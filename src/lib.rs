//! handbook-sync keeps GitLab issues equal to a Markdown handbook.
//!
//! The crate is a functional core ([`parse`]) inside an imperative shell (the CLI and,
//! later, sources, GitLab and the daemon). See `ARCHITECTURE.md`.

pub mod cli;
pub mod config;
pub mod daemon;
pub mod demo;
pub mod gitlab;
pub mod logging;
pub mod metrics;
pub mod parse;
pub mod run;
pub mod schedule;
pub mod source;
pub mod status;
pub mod sync;
