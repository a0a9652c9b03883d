//! Log setup: human-readable on a terminal, JSON lines on request. Logs go to stderr so
//! that stdout carries only the command's output (plans, JSON). Credentials in URLs are
//! redacted from every line ([`crate::redact`]).

use clap::ValueEnum;
use tracing_subscriber::EnvFilter;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum LogFormat {
    /// Readable lines, coloured when stderr is a terminal.
    #[default]
    Human,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Installs the global subscriber. `RUST_LOG` overrides the default level (`info`).
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        // Every line passes through the redactor: a URL with credentials in it (a page
        // source, or one a library logs) never reaches the log.
        .with_writer(|| crate::redact::RedactingWriter(std::io::stderr()));
    // A second init (tests calling into the CLI twice) is harmless: keep the first.
    let _ = match format {
        LogFormat::Human => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}
