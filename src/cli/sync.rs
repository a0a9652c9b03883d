//! `plan` and `apply`: the sync's prepared plan, printed, applied under the projects'
//! leases, and the exit status it calls for.

use std::process::ExitCode;

use anyhow::Context as _;

use super::note::{note_target, post_note};
use super::{OutputFormat, SyncArgs, load_config, runtime, shutdown_signal};
use crate::config::Config;
use crate::exit::Exit;
use crate::sync::Plan;
use crate::sync::markdown::MarkdownOptions;
use crate::sync_run::{self, RunError, RunOptions};

pub(super) fn sync_command(args: &SyncArgs, apply: bool) -> anyhow::Result<ExitCode> {
    let config_error = |e: &dyn std::fmt::Display| {
        eprintln!("error: {e}");
        Ok(ExitCode::from(Exit::Config))
    };
    let (config, token) = match load_config(args.config.as_deref()) {
        Ok(loaded) => loaded,
        Err(code) => return Ok(code),
    };
    let options = RunOptions {
        pages: args.pages.clone(),
        allow_mass_close: args.allow_mass_close,
        allow_mass_create: args.allow_mass_create,
        allow_removed_pages: args.allow_removed_pages,
        adopt: args.adopt,
        today: chrono::Utc::now().date_naive().to_string(),
        cache: None,
        metrics: None,
    };
    // Before any request: a note that could not be posted must not cost a whole plan.
    let note = match note_target(args, &config, &token) {
        Ok(note) => note,
        Err(e) => {
            let mr = args.merge_request_note.as_ref().map(ToString::to_string);
            eprintln!("error: posting on {}: {e}", mr.unwrap_or_default());
            return Ok(Exit::Failed.into());
        }
    };
    runtime()?.block_on(async {
        // `apply` holds each project's lease while it writes there; `plan` writes nothing.
        let mut leases = None;
        let cancel = tokio_util::sync::CancellationToken::new();
        let prepared = if apply {
            prepare_apply(&config, &token, &options, args.format, &cancel, &mut leases).await
        } else {
            sync_run::prepare(&config, token.clone(), &options).await
        };
        let prepared = match prepared {
            Ok(p) => p.with_cancel(cancel),
            Err(e) => {
                if let Some(leases) = leases {
                    leases.release().await;
                }
                return match e {
                    RunError::UnknownPage(_) | RunError::NoPages => config_error(&e),
                    RunError::Lease(e) if e.is_held() => {
                        eprintln!("error: {e}");
                        Ok(ExitCode::from(Exit::LeaseHeld))
                    }
                    e => Err(e.into()),
                };
            }
        };
        if !apply {
            prepared.save_cache().await;
            let plan = &prepared.plan;
            print_plan(plan, args.format, &config, "plan")?;
            let code = plan_exit_code(plan);
            return Ok(post_note(args, &config, note, plan, "plan", code).await);
        }
        // A bar only for people: never in JSON output or when stderr is not a terminal.
        let progress = if args.format == OutputFormat::Text
            && std::io::IsTerminal::is_terminal(&std::io::stderr())
        {
            indicatif::ProgressBar::new(0).with_style(
                indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} changes applied")
                    .expect("a valid template"),
            )
        } else {
            indicatif::ProgressBar::hidden()
        };
        let plan = prepared.apply_with_progress(progress).await;
        if let Some(leases) = leases {
            leases.release().await;
        }
        // Printed once, after: a page the token may not write to, or whose writes failed,
        // must not first read `[ok]` and "1 to create".
        print_plan(&plan, args.format, &config, "apply")?;
        tracing::info!(
            create = plan.summary.create,
            update = plan.summary.update,
            close = plan.summary.close,
            reopen = plan.summary.reopen,
            adopt = plan.summary.adopt,
            drift = plan.summary.drift,
            unchanged = plan.summary.unchanged,
            failed = plan.failures(),
            failed_pages = plan.failed_pages(),
            not_run = plan.not_run(),
            "sync finished"
        );
        let code = apply_exit_code(&plan);
        Ok(post_note(args, &config, note, &plan, "apply", code).await)
    })
}

/// `apply`'s reading and planning, under the lease of every project it writes to: on a
/// connection that SIGTERM or SIGINT cancels (the writes in flight finish, no new one
/// starts, the leases are released; a second signal exits at once), telling a person
/// (text output) when it waits for another run.
async fn prepare_apply(
    config: &Config,
    token: &secrecy::SecretString,
    options: &RunOptions,
    format: OutputFormat,
    cancel: &tokio_util::sync::CancellationToken,
    leases: &mut Option<sync_run::lease::Leases>,
) -> Result<sync_run::Prepared, RunError> {
    sync_run::select_pages(config, &options.pages)?;
    let connection =
        sync_run::Connection::with_cancel(config, token.clone(), None, cancel.clone())?;
    let on_signal = cancel.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::warn!("stopping: the writes in flight finish, the leases are released");
        on_signal.cancel();
        shutdown_signal().await;
        std::process::exit(130);
    });
    let policy = sync_run::lease::LeasePolicy::new(config, "apply");
    let wait = policy.wait.as_secs();
    let leases = leases.insert(sync_run::lease::Leases::new(
        connection.gitlab.clone(),
        policy,
    ));
    let waiting = |project: &str, holder: &sync_run::lease::Holder| {
        if format == OutputFormat::Text {
            eprintln!(
                "waiting for {project}: another handbook-sync run holds its lease ({holder}); waiting up to {wait} s (sync.lease_wait_seconds)"
            );
        }
    };
    sync_run::lease::prepare_leased(config, &connection, options, leases, &waiting).await
}

/// `plan`: a failure first, then a refusal, then changes to make, else success.
fn plan_exit_code(plan: &Plan) -> Exit {
    if plan.has_failures() {
        Exit::Failed
    } else if plan.has_refusals() {
        Exit::Refused
    } else if plan.has_changes() {
        Exit::Changes
    } else {
        Exit::Success
    }
}

/// `apply`: a failure first, then a refusal, else success.
fn apply_exit_code(plan: &Plan) -> Exit {
    if plan.has_failures() {
        Exit::Failed
    } else if plan.has_refusals() {
        Exit::Refused
    } else {
        Exit::Success
    }
}

/// `handbook-sync plan`, and in a GitLab CI job the commit it planned
/// (`CI_COMMIT_SHORT_SHA`), so that reviewers see which push the note describes.
pub(super) fn markdown_heading(command: &str) -> String {
    match std::env::var("CI_COMMIT_SHORT_SHA") {
        Ok(sha) if !sha.is_empty() && sha.chars().all(|c| c.is_ascii_hexdigit()) => {
            format!("handbook-sync {command} at {sha}")
        }
        _ => format!("handbook-sync {command}"),
    }
}

fn print_plan(
    plan: &Plan,
    format: OutputFormat,
    config: &Config,
    command: &str,
) -> anyhow::Result<()> {
    match format {
        OutputFormat::Text => print!("{}", plan.to_text()),
        OutputFormat::Markdown => print!(
            "{}",
            plan.to_markdown(&MarkdownOptions {
                heading: &markdown_heading(command),
                gitlab_url: Some(config.gitlab_url.as_str()),
                max_len: usize::MAX,
                applied: command == "apply",
            })
        ),
        OutputFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(plan).context("encoding the plan")?
        ),
    }
    Ok(())
}
