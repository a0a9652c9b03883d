//! `--merge-request-note`: where the plan is posted (and with which token), and the
//! posting.

use std::process::ExitCode;

use super::SyncArgs;
use super::sync::markdown_heading;
use crate::config::Config;
use crate::exit::Exit;
use crate::gitlab::notes::NoteOutcome;
use crate::sync::Plan;
use crate::sync::markdown::{GITLAB_NOTE_LIMIT, MarkdownOptions};
use crate::sync_run;

/// Posts `plan` on the merge request of `--merge-request-note`, if given, and returns the
/// exit status: `code` unchanged, or [`Exit::Failed`] when posting failed (a pipeline
/// must not pass while its reviewers see a stale plan).
pub(super) async fn post_note(
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
pub(super) fn note_target(
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
