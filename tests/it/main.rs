//! The integration tests, as one test binary: one module per capability, and `common`, the
//! helpers they share (the sandbox, the built binary, a temporary handbook). One binary
//! links the crate once instead of once per test file.
//!
//! Every test here runs in one process beside the others: nothing may set process-global
//! state (environment variables, the current directory, a global tracing subscriber);
//! environment goes to the child processes, and files go to per-test directories.

mod as_user;
mod attack_adopt;
mod attack_apply;
mod attack_config;
mod attack_daemon;
mod common;

mod adopt;
mod attacks;
mod attacks_block;
mod cache;
mod ci_jobs;
mod cli_docs;
mod cli_parse;
mod corpus;
mod daemon;
mod daemon_hardening;
mod daemon_pushes;
mod daemon_truth;
mod demo_boards_status;
mod discover;
mod discover_attacks;
mod discover_repository;
mod discover_review;
mod fidelity;
mod first_hour;
mod label_titles;
mod lease;
mod lease_attacks;
mod merge_request_note;
mod page_limits;
mod parse_props;
mod people_lookup;
mod plan_by_project;
mod plan_markdown;
mod release;
mod resilience;
mod resilience_process;
mod roadmap;
mod roadmap_daemon;
mod safe_edits;
mod sandbox_abilities;
mod sandbox_answers;
mod sandbox_api;
mod sandbox_cli;
mod sandbox_clients;
mod sandbox_details;
mod sandbox_faults;
mod sandbox_files_boards;
mod sandbox_flags;
mod sandbox_git_push;
mod sandbox_groups;
mod sandbox_listing;
mod sandbox_quick_actions;
mod sandbox_repository;
mod sandbox_roles;
mod sandbox_tiers;
mod sandbox_tree;
mod secrets;
mod simulation;
mod sync_e2e;
mod sync_e2e_guards;
mod sync_gitlab_today;
mod sync_props;
mod sync_safety;
mod transport;
mod write_after_read;
