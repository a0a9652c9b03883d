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
    use tracing_subscriber::util::SubscriberInitExt as _;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let ansi = format == LogFormat::Human && std::io::IsTerminal::is_terminal(&std::io::stderr());
    // A second init (tests calling into the CLI twice) is harmless: keep the first.
    let _ = build(format, filter, std::io::stderr, ansi).try_init();
}

/// The subscriber [`init`] installs, writing into what `writer` makes instead of stderr,
/// uncoloured: for a caller that wants one task's logs as the program writes them (the
/// simulation looks for secrets in them) without a global subscriber.
pub fn dispatch<F, W>(format: LogFormat, filter: &str, writer: F) -> tracing::Dispatch
where
    F: Fn() -> W + Send + Sync + 'static,
    W: std::io::Write + 'static,
{
    build(format, EnvFilter::new(filter), writer, false)
}

fn build<F, W>(format: LogFormat, filter: EnvFilter, writer: F, ansi: bool) -> tracing::Dispatch
where
    F: Fn() -> W + Send + Sync + 'static,
    W: std::io::Write + 'static,
{
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        // Every line passes through the redactor: a URL with credentials in it (a page
        // source, or one a library logs) never reaches the log.
        .with_writer(move || crate::redact::RedactingWriter(writer()))
        .with_ansi(ansi);
    match format {
        LogFormat::Human => builder.finish().into(),
        LogFormat::Json => builder.json().flatten_event(true).finish().into(),
    }
}
