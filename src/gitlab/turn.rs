//! An edit that follows its read with nothing in between.
//!
//! An edit that writes a description replaces everything a person typed since the read it
//! was worked out on. So every wait (the throttles, a `RateLimit-*` pause, a lease
//! renewal) happens before the read, inside [`Client::turn`](super::Client), and the read
//! and the write then go out back to back. When the write cannot go out as it is (a 429
//! with `Retry-After`, a 5xx, a timeout) it is never sent again as it was: the caller
//! waits, then reads the issue again and works the write out anew. What remains between
//! the read and the write is the read's own way back and the write's way to GitLab.

use backon::{BackoffBuilder as _, ExponentialBuilder};
use std::time::Duration;

use super::{CurrentIssue, Gitlab, GitlabError, IssueEdit, TransportError};

/// How many conflict notes one edit posts at most: a person who keeps changing the block
/// between the note and the write gets each version kept, but not forever.
const NOTES_PER_EDIT: usize = 3;

/// What to write onto an issue as it was just read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Onto {
    /// A note to post first (a person's version of the managed block that the write
    /// replaces); the issue is read again after it, so the write still follows a read.
    pub note: Option<String>,
    /// The whole description to write; `None` keeps it.
    pub description: Option<String>,
    /// The whole set of assignees' user ids; `None` keeps them.
    pub assignees: Option<Vec<u64>>,
}

impl Gitlab {
    /// Reads issue `iid`, asks `decide` what to write onto it as it is now, and writes
    /// that with `edit`'s other fields, the write right after the read. A note `decide`
    /// asks for is posted first, once, and the issue is read again. A read or a write that
    /// was throttled (429), failed with a 5xx or went unanswered is tried again after the
    /// wait it asked for (or a backoff), from the read, at most `gitlab.max_retries`
    /// times. `decide`'s own error (the issue left handbook-sync meanwhile) ends it.
    pub async fn edit_after_read<F>(
        &self,
        project: u64,
        iid: u64,
        edit: &IssueEdit<'_>,
        mut decide: F,
    ) -> Result<(), GitlabError>
    where
        F: FnMut(&CurrentIssue) -> Result<Onto, GitlabError>,
    {
        let policy = self.client.policy();
        let mut delays = ExponentialBuilder::default()
            .with_min_delay(policy.retry_initial_delay)
            .with_max_delay(Duration::from_secs(30))
            .with_max_times(policy.max_retries)
            .with_jitter()
            .build();
        let what = || format!("editing issue #{iid}");
        let mut noted: Vec<String> = Vec::new();
        loop {
            let turn = self
                .client
                .turn()
                .await
                .map_err(|e| GitlabError::from_transport(what(), e))?;
            let failed = match Self::issue_on(&turn, project, iid).await {
                Ok(current) => {
                    let onto = decide(&current)?;
                    if let Some(note) = onto.note.filter(|n| !noted.contains(n)) {
                        drop(turn);
                        if noted.len() >= NOTES_PER_EDIT {
                            return Err(GitlabError::Other {
                                what: what(),
                                message: format!(
                                    "its managed block changed {NOTES_PER_EDIT} times while it was being written (each version kept in a note); left for the next run"
                                ),
                            });
                        }
                        tracing::warn!(
                            iid,
                            "the managed block was changed by a person and in the handbook; keeping their version in a note"
                        );
                        self.create_note(project, iid, &note).await?;
                        noted.push(note);
                        // Posting took a while: the write must follow a fresh read.
                        continue;
                    }
                    let edit = IssueEdit {
                        description: onto.description.as_deref(),
                        assignees: onto.assignees,
                        ..edit.clone()
                    };
                    match Self::edit_issue_on(&turn, project, iid, &edit).await {
                        Ok(()) => return Ok(()),
                        Err(e) => e,
                    }
                }
                Err(e) => e,
            };
            let throttled = turn.throttled();
            drop(turn);
            if throttled.is_none() && !failed.outcome_unknown() {
                return Err(failed);
            }
            let Some(backoff) = delays.next() else {
                return Err(failed);
            };
            let wait = throttled.unwrap_or(backoff);
            tracing::warn!(
                iid,
                retry_in_ms = wait.as_millis() as u64,
                "{failed}; reading the issue again before writing it"
            );
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = self.client.cancel_token().cancelled() => {
                    return Err(GitlabError::from_transport(what(), TransportError::Cancelled));
                }
            }
        }
    }
}
