//! The command line: the outermost shell. It reads arguments and files, calls the core,
//! prints, and turns outcomes into exit codes.
//!
//! This file holds the arguments and what runs them; each command's work is in its own
//! file (`sync`: `plan` and `apply`; `note`: the merge request note; `reports`: `status`
//! and `roadmap`; `sandbox`; `page`: `parse`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand, ValueEnum};
use url::Url;

use crate::config::Config;
use crate::exit::Exit;
use crate::gitlab::notes::MergeRequestRef;
use crate::logging::{self, LogFormat};

mod note;
mod page;
mod reports;
mod sandbox;
mod sync;

pub use page::render_page_text;

use page::parse_command;
use reports::{roadmap_command, status_command};
use sandbox::{project_spec, sandbox_command};
use sync::sync_command;

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

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
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
