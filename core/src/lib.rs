//! The pure core of handbook-sync: text and data in, data out.
//!
//! No I/O, no clock, no randomness: the same inputs always give the same result, and
//! every rule is a plain function to test. The shell (crate `handbook-sync`) reads
//! pages and GitLab, converts its configuration into this crate's settings types
//! ([`sync::desired::Labels`], [`sync::plan::PlanSettings`]) and executes the plans.
//! This crate depends on nothing of the shell; Cargo forbids the dependency, so the
//! boundary is checked by the compiler.

#![warn(missing_docs)]

pub mod discover;
pub mod parse;
pub mod readiness;
pub mod roadmap;
pub mod schedule;
pub mod status;
pub mod sync;
