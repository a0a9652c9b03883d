//! The command line: the outermost shell. It reads arguments and files, calls the core,
//! prints, and turns outcomes into exit codes.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand, ValueEnum};
use url::Url;

use crate::config::Config;
use crate::exit::Exit;
use crate::gitlab::notes::{MergeRequestRef, NoteOutcome};
use crate::logging::{self, LogFormat};
use crate::parse::{self, ItemStatus, Page, ParseOptions};
use crate::source;
use crate::sync::Plan;
use crate::sync::markdown::{GITLAB_NOTE_LIMIT, MarkdownOptions};
use crate::sync_run::{self, RunError, RunOptions};

/// Keeps GitLab issues equal to a Markdown handbook: one labeled issue per responsibility,
/// created, reworded, reassigned, closed and reopened as the page is edited.
///
/// The token comes from `GITLAB_TOKEN`, else the file in `gitlab.token_file`, else
/// systemd's `$CREDENTIALS_DIRECTORY/gitlab-token`; it is never printed.
#[derive(Debug, Parser)]
#[command(name = "handbook-sync", version = crate::build_info::LONG_VERSION, propagate_version = true)]
#[command(after_help = Exit::help_text(&Exit::ALL))]
pub struct Cli {
    /// Log line format (logs go to stderr; `RUST_LOG` sets the level).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Human)]
    pub log_format: LogFormat,

    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// What to do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show the items (responsibilities) of one handbook page, as the sync would see them.
    ///
    /// Every top-level list item becomes an item with a section (the headings above it),
    /// a title, a status (active, done, handed_over) and an optional owner named after
    /// `=>`, `->` or `→`. Nothing is sent anywhere.
    #[command(after_help = Exit::help_text(&Exit::OTHER))]
    Parse(ParseArgs),
    /// Run a local GitLab-compatible server (the sandbox) for tests, benchmarks and trials.
    ///
    /// It speaks GitLab's REST API v4 for users, projects, issues, labels, notes, boards
    /// and repository files, so any GitLab client works against it. Its first line on
    /// stdout is `listening on http://127.0.0.1:PORT`; it serves until SIGTERM or SIGINT.
    /// `/-/sandbox/stats` counts requests and `PUT /-/sandbox/faults` injects latency,
    /// errors, lost responses and rate limits.
    #[command(after_help = Exit::help_text(&Exit::OTHER))]
    Sandbox(SandboxArgs),
    /// Show what a sync would change in GitLab, without changing anything.
    ///
    /// Reads every configured page and the project's managed issues, and prints one line
    /// per action (create, update, close, reopen) and per manual change found (drift).
    /// Only reads: a token with the `read_api` scope and any role that sees the project
    /// is enough.
    #[command(after_help = Exit::help_text(&Exit::PLAN))]
    Plan(SyncArgs),
    /// Sync: print the plan, then execute it.
    ///
    /// Needs a token with the `api` scope whose user is at least Planner (Reporter
    /// before GitLab 17.7) in each page's project.
    #[command(after_help = Exit::help_text(&Exit::APPLY))]
    Apply(SyncArgs),
    /// Show progress per page and section (done / total), read from GitLab.
    #[command(after_help = Exit::help_text(&Exit::OTHER))]
    Status(StatusArgs),
    /// Write the public roadmap, a static site read from GitLab.
    ///
    /// `index.html`, one page per handbook page (its responsibilities, their issues, a
    /// burn-up chart) and `roadmap.json`; nothing is written to GitLab. Pages of projects that are not public are left
    /// out unless `roadmap.include_private` is set. A page that could not be read exits 1
    /// (the others are written).
    #[command(after_help = Exit::help_text(&Exit::OTHER))]
    Roadmap(RoadmapArgs),
    /// Run as a daemon: sync at start, then on `sync.schedule` (cron).
    ///
    /// Serves `/healthz`, `/readyz` (every page's last sync succeeded, and the schedule's
    /// second tick since has not passed), `/metrics` (Prometheus) and the push webhook on
    /// `server.listen`. On SIGTERM or SIGINT it stops scheduling and page reads, lets a
    /// write in flight finish, and exits 0.
    #[command(after_help = Exit::help_text(&Exit::OTHER))]
    Run(RunArgs),
    /// See it work in seconds: a local GitLab sandbox, the bundled product-manager page,
    /// a sync, the board and the progress, then one handbook edit and what it changed.
    /// Needs no configuration, network or token.
    #[command(after_help = Exit::help_text(&Exit::OTHER))]
    Demo,
}

/// Arguments of `run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The configuration file [default: config/handbook-sync.toml under the current
    /// directory, else /etc/handbook-sync/config.toml]. The GitLab token comes from
    /// GITLAB_TOKEN, else the file in its `gitlab.token_file`, else systemd's
    /// $CREDENTIALS_DIRECTORY/gitlab-token.
    #[arg(long, short, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// Arguments of `status`.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// The configuration file [default: config/handbook-sync.toml under the current
    /// directory, else /etc/handbook-sync/config.toml]. The GitLab token comes from
    /// GITLAB_TOKEN, else the file in its `gitlab.token_file`, else systemd's
    /// $CREDENTIALS_DIRECTORY/gitlab-token.
    #[arg(long, short, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,
}

/// Arguments of `roadmap`.
#[derive(Debug, clap::Args)]
pub struct RoadmapArgs {
    /// The configuration file [default: config/handbook-sync.toml under the current
    /// directory, else /etc/handbook-sync/config.toml]. The GitLab token comes from
    /// GITLAB_TOKEN, else the file in its `gitlab.token_file`, else systemd's
    /// $CREDENTIALS_DIRECTORY/gitlab-token.
    #[arg(long, short, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Only this page (repeatable).
    #[arg(long = "page", value_name = "ID")]
    pub pages: Vec<String>,
    /// The directory to write the site into (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

/// Arguments of `plan` and `apply`.
#[derive(Debug, clap::Args)]
pub struct SyncArgs {
    /// The configuration file [default: config/handbook-sync.toml under the current
    /// directory, else /etc/handbook-sync/config.toml]. The GitLab token comes from
    /// GITLAB_TOKEN, else the file in its `gitlab.token_file`, else systemd's
    /// $CREDENTIALS_DIRECTORY/gitlab-token.
    #[arg(long, short, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Only this page (repeatable).
    #[arg(long = "page", value_name = "ID")]
    pub pages: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
    /// Let a plan close more than `sync.max_close_fraction` of a page's open issues.
    #[arg(long)]
    pub allow_mass_close: bool,
    /// Also post the result as Markdown on this merge request (`GROUP/PROJECT!IID`), as
    /// one note that later runs edit in place. A failure to post exits 1.
    #[arg(long, value_name = "GROUP/PROJECT!IID")]
    pub merge_request_note: Option<MergeRequestRef>,
    /// The GitLab the merge request is on, when it is not the tracker's `gitlab.url`
    /// (the CI template sets it from `CI_API_V4_URL`; a trailing `/api/v4` is dropped).
    /// On the tracker's own GitLab the note is posted with the tracker's token; on
    /// another one with `HANDBOOK_SYNC_NOTE_TOKEN`, which must then be set.
    #[arg(long, value_name = "URL", env = "HANDBOOK_SYNC_NOTE_URL")]
    pub merge_request_url: Option<String>,
    /// Let a plan create more than `sync.max_close_fraction` of a page's items while the
    /// project holds issues of the page that handbook-sync no longer recognises.
    #[arg(long)]
    pub allow_mass_create: bool,
    /// Let a plan close the open issues of pages that left a `[[discover]]` block
    /// (deleted, renamed to another id, no longer qualifying); without it such a page is
    /// refused (exit 4) and nothing of it is closed.
    #[arg(long)]
    pub allow_removed_pages: bool,
    /// Take over open issues people made whose title is exactly an item's, instead of
    /// creating a second one: the managed block goes below their description (every page;
    /// one page: `adopt = true` in its `[[pages]]`).
    #[arg(long)]
    pub adopt: bool,
}

/// Arguments of `sandbox`.
#[derive(Debug, clap::Args)]
pub struct SandboxArgs {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0")]
    pub listen: std::net::SocketAddr,
    /// The token clients must send (`PRIVATE-TOKEN` or `Authorization: Bearer`); it
    /// belongs to the user `root`.
    #[arg(long, env = "SANDBOX_TOKEN", hide_env_values = true)]
    pub token: String,
    /// A project to create if missing, `GROUP/NAME`, public unless `:private` or
    /// `:internal` follows. Repeatable.
    #[arg(long = "project", value_name = "GROUP/NAME[:VISIBILITY]", value_parser = project_spec)]
    pub projects: Vec<(String, String)>,
    /// A user to create if missing, `USERNAME` or `USERNAME:Full Name`. Repeatable.
    #[arg(long = "user", value_name = "USERNAME[:Full Name]")]
    pub users: Vec<String>,
    /// Keep the data in this file (rewritten atomically after every write) and load it
    /// again at start.
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// The GitLab tier to behave as: `free` keeps one assignee per issue (the first);
    /// `premium` keeps several assignees and makes scoped labels (`key::value`)
    /// exclusive. Boards are created on both, as on GitLab since 12.1.
    #[arg(long, default_value = "free", value_parser = ["free", "premium"])]
    pub tier: String,
    /// A GitLab feature flag to turn on, as an administrator would with `POST
    /// /api/v4/features/:name`: `rate_limiting_headers_for_unthrottled_requests`
    /// (`RateLimit-*` on answers that are not throttled) or
    /// `api_kaminari_count_with_limit` (no totals above 10,000 records, as on
    /// gitlab.com). Both are off by default, as on GitLab. Repeatable.
    #[arg(long = "feature", value_name = "FLAG")]
    pub features: Vec<String>,
    /// How label titles are stored: `verbatim` (as sent, stripped: GitLab today) or
    /// `sanitized` (HTML tags removed and entities decoded, as GitLab did before
    /// gitlab-org/gitlab!207594 in late 2025).
    #[arg(long, default_value = "verbatim", value_parser = ["verbatim", "sanitized"])]
    pub label_titles: String,
}

/// Arguments of `parse`.
#[derive(Debug, clap::Args)]
pub struct ParseArgs {
    /// The Markdown file of the page.
    pub page: PathBuf,
    /// The page's public URL: relative links in bodies are made absolute against it.
    #[arg(long, value_name = "URL")]
    pub page_url: Option<Url>,
    /// The page id used as the title when the page has neither front matter title nor H1
    /// (default: the file name without its Markdown extensions).
    #[arg(long, value_name = "ID")]
    pub page_id: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,
}

/// How `parse` and `status` print their result on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// For people.
    Text,
    /// For programs: one JSON document.
    Json,
}

/// How `plan` and `apply` print their result on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// For people.
    Text,
    /// For programs: one JSON document.
    Json,
    /// For a merge request: GitLab-Flavoured Markdown tables.
    Markdown,
}

/// Runs the command line and returns the process exit code ([`Exit`]).
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            // `--help` and `--version` come this way too, on stdout; anything else is a
            // usage error, which must not exit with clap's 2: that is plan's "changes".
            let _ = err.print();
            return if err.use_stderr() {
                Exit::Usage
            } else {
                Exit::Success
            }
            .into();
        }
    };
    logging::init(cli.log_format);
    match run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            Exit::Failed.into()
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Parse(args) => parse_command(&args),
        Command::Sandbox(args) => sandbox_command(args),
        Command::Plan(args) => sync_command(&args, false),
        Command::Apply(args) => sync_command(&args, true),
        Command::Status(args) => status_command(&args),
        Command::Roadmap(args) => roadmap_command(&args),
        Command::Run(args) => run_command(&args),
        Command::Demo => {
            let today = chrono::Utc::now().date_naive().to_string();
            let text = runtime()?.block_on(crate::demo::run(&today))?;
            print!("{text}");
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The configuration and the token, or the configuration error already reported (exit 3).
fn load_config(path: Option<&Path>) -> Result<(Config, secrecy::SecretString), ExitCode> {
    let report = |e: &dyn std::fmt::Display| {
        eprintln!("error: {e}");
        ExitCode::from(Exit::Config)
    };
    let config = Config::load(path).map_err(|e| report(&e))?;
    let token = config.token().map_err(|e| report(&e))?;
    Ok((config, token))
}

fn sync_command(args: &SyncArgs, apply: bool) -> anyhow::Result<ExitCode> {
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

/// Posts `plan` on the merge request of `--merge-request-note`, if given, and returns the
/// exit status: `code` unchanged, or [`Exit::Failed`] when posting failed (a pipeline
/// must not pass while its reviewers see a stale plan).
async fn post_note(
    args: &SyncArgs,
    config: &Config,
    note: Option<(Config, secrecy::SecretString)>,
    plan: &Plan,
    command: &str,
    code: Exit,
) -> ExitCode {
    let (Some(mr), Some((note_config, note_token))) = (&args.merge_request_note, note) else {
        return code.into();
    };
    let body = plan.to_markdown(&MarkdownOptions {
        heading: &markdown_heading(command),
        gitlab_url: Some(config.gitlab_url.as_str()),
        max_len: GITLAB_NOTE_LIMIT,
        applied: command == "apply",
    });
    let posted = match sync_run::Connection::new(&note_config, note_token, None) {
        Ok(connection) => connection.gitlab.upsert_merge_request_note(mr, &body).await,
        Err(e) => Err(e),
    };
    match posted {
        Ok(outcome) => {
            let (what, id) = match outcome {
                NoteOutcome::Created(id) => ("added", id),
                NoteOutcome::Updated(id) => ("updated", id),
                NoteOutcome::Unchanged(id) => ("already up to date", id),
            };
            tracing::info!(merge_request = %mr, note = id, "merge request note {what}");
            code.into()
        }
        Err(e) => {
            eprintln!("error: posting the {command} on {mr}: {e}");
            Exit::Failed.into()
        }
    }
}

/// Where `--merge-request-note` posts, if given: the configuration with `gitlab.url`
/// replaced by the merge request's GitLab (`--merge-request-url`, else the tracker's),
/// and the token. The tracker's token goes only to the tracker's own GitLab (same
/// scheme, host, port and path); another GitLab needs `HANDBOOK_SYNC_NOTE_TOKEN`, which
/// is not used otherwise, so the note's author (who finds and edits it) stays the same.
fn note_target(
    args: &SyncArgs,
    config: &Config,
    token: &secrecy::SecretString,
) -> Result<Option<(Config, secrecy::SecretString)>, String> {
    if args.merge_request_note.is_none() {
        return Ok(None);
    }
    let Some(raw) = args
        .merge_request_url
        .as_deref()
        .map(str::trim)
        .filter(|u| !u.is_empty())
    else {
        return Ok(Some((config.clone(), token.clone())));
    };
    let url =
        crate::config::parse_gitlab_url("--merge-request-url", raw, config.gitlab.allow_insecure)?;
    let note_token = if crate::config::same_gitlab(&url, &config.gitlab_url) {
        token.clone()
    } else {
        let own = std::env::var("HANDBOOK_SYNC_NOTE_TOKEN")
            .ok()
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty());
        let Some(own) = own else {
            return Err(format!(
                "the merge request is on {}, the tracker on {}: set HANDBOOK_SYNC_NOTE_TOKEN to a token of {} that may comment there (the tracker's token is never sent to another GitLab)",
                crate::redact::url(&url),
                crate::redact::url(&config.gitlab_url),
                crate::redact::url(&url),
            ));
        };
        secrecy::SecretString::from(own)
    };
    let mut note_config = config.clone();
    note_config.gitlab_url = url;
    Ok(Some((note_config, note_token)))
}

fn run_command(args: &RunArgs) -> anyhow::Result<ExitCode> {
    let (config, token) = match load_config(args.config.as_deref()) {
        Ok(loaded) => loaded,
        Err(code) => return Ok(code),
    };
    runtime()?.block_on(async {
        let shutdown = tokio_util::sync::CancellationToken::new();
        let on_signal = shutdown.clone();
        tokio::spawn(async move {
            shutdown_signal().await;
            tracing::info!("signal received: stopping (page reads and waits end now; a write in flight finishes)");
            on_signal.cancel();
        });
        crate::daemon::run(config, token, shutdown).await
    })?;
    Ok(ExitCode::SUCCESS)
}

fn status_command(args: &StatusArgs) -> anyhow::Result<ExitCode> {
    let (config, token) = match load_config(args.config.as_deref()) {
        Ok(loaded) => loaded,
        Err(code) => return Ok(code),
    };
    let status = runtime()?.block_on(sync_run::status(&config, token))?;
    match args.format {
        ReportFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&status).context("encoding the status")?
        ),
        ReportFormat::Text => print!(
            "{}",
            status.to_text(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        ),
    }
    Ok(ExitCode::SUCCESS)
}

fn roadmap_command(args: &RoadmapArgs) -> anyhow::Result<ExitCode> {
    let (config, token) = match load_config(args.config.as_deref()) {
        Ok(loaded) => loaded,
        Err(code) => return Ok(code),
    };
    runtime()?.block_on(async {
        let connection = sync_run::Connection::new(&config, token, None)?;
        let now = chrono::Utc::now();
        let read = match crate::roadmap::publish(&config, &connection, &args.pages, &args.out, now)
            .await
        {
            Ok(read) => read,
            Err(crate::roadmap::PublishError::Run(
                e @ (RunError::UnknownPage(_) | RunError::NoPages),
            )) => {
                eprintln!("error: {e}");
                return Ok(Exit::Config.into());
            }
            Err(e) => return Err(e.into()),
        };
        print!("{}", read.to_text(&args.out));
        Ok(if read.failed.is_empty() {
            Exit::Success
        } else {
            Exit::Failed
        }
        .into())
    })
}

/// `handbook-sync plan`, and in a GitLab CI job the commit it planned
/// (`CI_COMMIT_SHORT_SHA`), so that reviewers see which push the note describes.
fn markdown_heading(command: &str) -> String {
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

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

fn sandbox_command(args: SandboxArgs) -> anyhow::Result<ExitCode> {
    let users = args
        .users
        .iter()
        .map(|spec| {
            let (username, name) = spec.split_once(':').unwrap_or((spec, spec));
            (username.to_owned(), name.to_owned())
        })
        .collect();
    let config = gitlab_sandbox::Config {
        token: args.token,
        projects: args.projects,
        users,
        members: Vec::new(),
        state_file: args.state,
        tier: args.tier.parse().map_err(anyhow::Error::msg)?,
        features: args.features,
        label_titles: args.label_titles.parse().map_err(anyhow::Error::msg)?,
    };
    runtime()?.block_on(async move {
        let sandbox = gitlab_sandbox::Sandbox::bind(args.listen, config).await?;
        println!("listening on {}", sandbox.url());
        use std::io::Write as _;
        std::io::stdout().flush().context("writing to stdout")?;
        sandbox
            .serve(shutdown_signal())
            .await
            .context("serving the sandbox")?;
        tracing::info!("sandbox stopped");
        Ok(ExitCode::SUCCESS)
    })
}

/// `--project GROUP/NAME[:VISIBILITY]` → (path, visibility); a bad one is a usage error.
fn project_spec(spec: &str) -> Result<(String, String), String> {
    let (path, visibility) = spec.rsplit_once(':').unwrap_or((spec, "public"));
    if !matches!(visibility, "public" | "private" | "internal") {
        return Err(format!(
            "visibility `{visibility}` must be public, private or internal"
        ));
    }
    if !path.contains('/') || path.starts_with('/') || path.ends_with('/') {
        return Err("expected GROUP/NAME".into());
    }
    Ok((path.to_owned(), visibility.to_owned()))
}

/// Resolves on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("installing a SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

fn parse_command(args: &ParseArgs) -> anyhow::Result<ExitCode> {
    let text = source::read_local(&args.page)?;
    let options = ParseOptions {
        page_id: args
            .page_id
            .clone()
            .unwrap_or_else(|| default_page_id(&args.page)),
        page_url: args.page_url.clone(),
        ..Default::default()
    };
    let page = parse::parse_page(&text, &options);
    for warning in &page.warnings {
        tracing::warn!(page = %args.page.display(), "{warning}");
    }
    let out = match args.format {
        ReportFormat::Json => {
            serde_json::to_string_pretty(&page).context("encoding the page as JSON")? + "\n"
        }
        ReportFormat::Text => render_page_text(&page),
    };
    print!("{out}");
    Ok(ExitCode::SUCCESS)
}

/// `product-manager.md` → `product-manager`; `index.html.md.erb` → `index`.
fn default_page_id(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    name.split('.')
        .next()
        .filter(|s| !s.is_empty())
        .unwrap_or("page")
        .to_owned()
}

/// Items grouped by section, one line each: line number, status, title, owner.
pub fn render_page_text(page: &Page) -> String {
    let count = |s: ItemStatus| page.items.iter().filter(|i| i.status == s).count();
    let mut out = format!(
        "{} — {} items ({} active, {} done, {} handed over)\n",
        page.title,
        page.items.len(),
        count(ItemStatus::Active),
        count(ItemStatus::Done),
        count(ItemStatus::HandedOver),
    );
    let mut current: Option<&[String]> = None;
    for (idx, item) in page.items.iter().enumerate() {
        if current != Some(item.section.as_slice()) {
            current = Some(&item.section);
            let in_section = page.items[idx..]
                .iter()
                .take_while(|i| i.section == item.section)
                .count();
            let name = if item.section.is_empty() {
                "(no section)".to_owned()
            } else {
                item.section.join(" › ")
            };
            let _ = write!(out, "\n{name} ({in_section})\n");
        }
        let status = match item.status {
            ItemStatus::Active => "active",
            ItemStatus::Done => "done",
            ItemStatus::HandedOver => "handed over",
        };
        let _ = write!(out, "  L{:<5} {status:<12} {}", item.line, item.title);
        if let Some(owner) = &item.owner {
            let _ = write!(out, "  → {owner}");
        }
        out.push('\n');
    }
    out
}
