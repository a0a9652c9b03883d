//! `status` and `roadmap`: what GitLab holds of the pages, counted or published.

use std::process::ExitCode;

use anyhow::Context as _;

use super::{ReportFormat, RoadmapArgs, StatusArgs, load_config, runtime};
use crate::exit::Exit;
use crate::sync_run::{self, RunError};

pub(super) fn status_command(args: &StatusArgs) -> anyhow::Result<ExitCode> {
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

pub(super) fn roadmap_command(args: &RoadmapArgs) -> anyhow::Result<ExitCode> {
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
