//! The command line: the outermost shell. It reads arguments and files, calls the core,
//! prints, and turns outcomes into exit codes.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand, ValueEnum};
use url::Url;

use crate::logging::{self, LogFormat};
use crate::parse::{self, Page, ParseOptions, Status};
use crate::source;

/// Keeps GitLab issues equal to a Markdown handbook: one labeled issue per responsibility,
/// created, reworded, reassigned, closed and reopened as the page is edited.
#[derive(Debug, Parser)]
#[command(name = "handbook-sync", version, propagate_version = true)]
pub struct Cli {
    /// Log line format (logs go to stderr; `RUST_LOG` sets the level).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Human)]
    pub log_format: LogFormat,

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
    Parse(ParseArgs),
    /// Run a local GitLab-compatible server (the sandbox) for tests, benchmarks and trials.
    ///
    /// It speaks GitLab's REST API v4 for users, projects, issues, labels, notes, boards
    /// and repository files, so any GitLab client works against it. Its first line on
    /// stdout is `listening on http://127.0.0.1:PORT`; it serves until SIGTERM or SIGINT.
    /// `/-/sandbox/stats` counts requests and `PUT /-/sandbox/faults` injects latency,
    /// errors, lost responses and rate limits.
    Sandbox(SandboxArgs),
}

/// Arguments of `sandbox`.
#[derive(Debug, clap::Args)]
pub struct SandboxArgs {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: std::net::SocketAddr,
    /// The token clients must send (`PRIVATE-TOKEN` or `Authorization: Bearer`); it
    /// belongs to the user `root`.
    #[arg(long, env = "SANDBOX_TOKEN", hide_env_values = true)]
    pub token: String,
    /// A project to create if missing, `GROUP/NAME`, public unless `:private` or
    /// `:internal` follows. Repeatable.
    #[arg(long = "project", value_name = "GROUP/NAME[:VISIBILITY]")]
    pub projects: Vec<String>,
    /// A user to create if missing, `USERNAME` or `USERNAME:Full Name`. Repeatable.
    #[arg(long = "user", value_name = "USERNAME[:Full Name]")]
    pub users: Vec<String>,
    /// Keep the data in this file (rewritten atomically after every write) and load it
    /// again at start.
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
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
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
}

/// How a command prints its result on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// For people.
    Text,
    /// For programs: one JSON document.
    Json,
}

/// Runs the command line and returns the process exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    logging::init(cli.log_format);
    match run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(1)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Parse(args) => parse_command(&args),
        Command::Sandbox(args) => sandbox_command(args),
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

fn sandbox_command(args: SandboxArgs) -> anyhow::Result<ExitCode> {
    let projects = args
        .projects
        .iter()
        .map(|spec| {
            let (path, visibility) = spec.rsplit_once(':').unwrap_or((spec, "public"));
            if !matches!(visibility, "public" | "private" | "internal") {
                anyhow::bail!("--project {spec}: visibility must be public, private or internal");
            }
            if !path.contains('/') || path.starts_with('/') || path.ends_with('/') {
                anyhow::bail!("--project {spec}: expected GROUP/NAME");
            }
            Ok((path.to_owned(), visibility.to_owned()))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
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
        projects,
        users,
        state_file: args.state,
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
        OutputFormat::Json => {
            serde_json::to_string_pretty(&page).context("encoding the page as JSON")? + "\n"
        }
        OutputFormat::Text => render_page_text(&page),
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
    let count = |s: Status| page.items.iter().filter(|i| i.status == s).count();
    let mut out = format!(
        "{} — {} items ({} active, {} done, {} handed over)\n",
        page.title,
        page.items.len(),
        count(Status::Active),
        count(Status::Done),
        count(Status::HandedOver),
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
            Status::Active => "active",
            Status::Done => "done",
            Status::HandedOver => "handed over",
        };
        let _ = write!(out, "  L{:<5} {status:<12} {}", item.line, item.title);
        if let Some(owner) = &item.owner {
            let _ = write!(out, "  → {owner}");
        }
        out.push('\n');
    }
    out
}
