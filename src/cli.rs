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
    }
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
