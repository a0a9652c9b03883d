//! Notes: a conflict note on an issue ([`Gitlab::create_note`]), and the one
//! handbook-sync note on a merge request: posted once, then edited in place on every
//! later run, found by the hidden marker it starts with
//! ([`crate::sync::markdown::NOTE_MARKER`]).

use gitlab::api::{self, AsyncQuery, Pagination};
use serde::Deserialize;

use super::{Gitlab, GitlabError, create_without_duplicates};
use crate::sync::markdown::NOTE_MARKER;

/// A merge request named as GitLab writes references: `group/sub/project!12`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeRequestRef {
    /// The project's full path (or numeric id).
    pub project: String,
    /// The merge request's iid.
    pub iid: u64,
}

/// `--merge-request-note` was not `GROUP/PROJECT!IID`.
#[derive(Debug, thiserror::Error)]
#[error("`{0}`: expected GROUP/PROJECT!IID, e.g. acme/handbook!12")]
pub struct BadMergeRequestRef(String);

impl std::str::FromStr for MergeRequestRef {
    type Err = BadMergeRequestRef;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || BadMergeRequestRef(s.to_owned());
        let (project, iid) = s.rsplit_once('!').ok_or_else(bad)?;
        let iid: u64 = iid.parse().map_err(|_| bad())?;
        let numeric = !project.is_empty() && project.chars().all(|c| c.is_ascii_digit());
        let path_ok = project.contains('/')
            && !project.starts_with('/')
            && !project.ends_with('/')
            && !project.contains("//")
            && !project.contains(char::is_whitespace);
        if iid == 0 || !(numeric || path_ok) {
            return Err(bad());
        }
        Ok(MergeRequestRef {
            project: project.to_owned(),
            iid,
        })
    }
}

impl std::fmt::Display for MergeRequestRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}!{}", self.project, self.iid)
    }
}

/// What [`Gitlab::upsert_merge_request_note`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoteOutcome {
    /// No note of ours was there: one was added (its id).
    Created(u64),
    /// Our note was edited in place (its id).
    Updated(u64),
    /// Our note already said exactly this: nothing was written (its id).
    Unchanged(u64),
}

#[derive(Debug, Deserialize)]
struct GlNote {
    id: u64,
    body: String,
    #[serde(default)]
    system: bool,
    author: GlAuthor,
}

#[derive(Debug, Deserialize)]
struct GlAuthor {
    id: u64,
}

#[derive(Debug, Deserialize)]
struct GlCreated {
    id: u64,
}

impl Gitlab {
    /// Makes `body` (which must start with the marker) the merge request's handbook-sync
    /// note: edits the oldest note by the token's user that starts with the marker, or
    /// adds one. Only the token's own notes count: GitLab lets nobody edit another
    /// user's note, and a quote of the marker in someone's reply must not be taken over.
    pub async fn upsert_merge_request_note(
        &self,
        mr: &MergeRequestRef,
        body: &str,
    ) -> Result<NoteOutcome, GitlabError> {
        debug_assert!(body.starts_with(NOTE_MARKER));
        let me = self.current_user_id().await?;
        let ep = api::projects::merge_requests::notes::MergeRequestNotes::builder()
            .project(mr.project.as_str())
            .merge_request(mr.iid)
            .order_by(api::projects::merge_requests::notes::NoteOrderBy::CreatedAt)
            .sort(api::common::SortOrder::Ascending)
            .build()
            .expect("a note list builds");
        let notes: Vec<GlNote> = api::paged(ep, Pagination::All)
            .query_async(&*self.client)
            .await
            .map_err(|e| GitlabError::from_api(format!("listing the notes of {mr}"), e))?;
        let ours = notes
            .into_iter()
            .find(|n| !n.system && n.author.id == me && n.body.starts_with(NOTE_MARKER));
        match ours {
            Some(note) if note.body == body => Ok(NoteOutcome::Unchanged(note.id)),
            Some(note) => {
                let ep = api::projects::merge_requests::notes::EditMergeRequestNote::builder()
                    .project(mr.project.as_str())
                    .merge_request(mr.iid)
                    .note(note.id)
                    .body(body)
                    .build()
                    .expect("a note edit builds");
                api::ignore(ep)
                    .query_async(&*self.client)
                    .await
                    .map_err(|e| {
                        GitlabError::from_api(format!("editing note {} on {mr}", note.id), e)
                    })?;
                Ok(NoteOutcome::Updated(note.id))
            }
            None => {
                let ep = api::projects::merge_requests::notes::CreateMergeRequestNote::builder()
                    .project(mr.project.as_str())
                    .merge_request(mr.iid)
                    .body(body)
                    .build()
                    .expect("a note builds");
                let created: GlCreated = ep
                    .query_async(&*self.client)
                    .await
                    .map_err(|e| GitlabError::from_api(format!("adding a note to {mr}"), e))?;
                Ok(NoteOutcome::Created(created.id))
            }
        }
    }

    /// The id of the token's user (`GET /user`): one request, never the admin check of
    /// [`Gitlab::current_user`].
    pub async fn current_user_id(&self) -> Result<u64, GitlabError> {
        let user: GlAuthor = api::users::CurrentUser::builder()
            .build()
            .expect("a user query builds")
            .query_async(&*self.client)
            .await
            .map_err(|e| GitlabError::from_api("reading the token's user", e))?;
        Ok(user.id)
    }
}

impl Gitlab {
    /// Adds a note (a comment) to an issue, never twice: when the outcome of an attempt
    /// is unknown, the issue's notes are searched for the same body first.
    pub async fn create_note(&self, project: u64, iid: u64, body: &str) -> Result<(), GitlabError> {
        let what = || format!("adding a note to issue #{iid}");
        create_without_duplicates(
            || async {
                let ep = api::projects::issues::notes::CreateIssueNote::builder()
                    .project(project)
                    .issue(iid)
                    .body(body)
                    .build()
                    .expect("a note builds");
                api::ignore(ep)
                    .query_async(&*self.client)
                    .await
                    .map_err(|e| GitlabError::from_api(what(), e))
            },
            || async {
                #[derive(Deserialize)]
                struct Note {
                    body: String,
                }
                let ep = api::projects::issues::notes::IssueNotes::builder()
                    .project(project)
                    .issue(iid)
                    .build()
                    .expect("a note list builds");
                let notes: Vec<Note> = api::paged(ep, Pagination::All)
                    .query_async(&*self.client)
                    .await
                    .map_err(|e| GitlabError::from_api(what(), e))?;
                Ok(notes.iter().any(|n| n.body == body).then_some(()))
            },
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_parse_as_gitlab_writes_them() {
        let r: MergeRequestRef = "acme/sub/handbook!12".parse().unwrap();
        assert_eq!(r.project, "acme/sub/handbook");
        assert_eq!(r.iid, 12);
        assert_eq!(r.to_string(), "acme/sub/handbook!12");
        assert_eq!("42!3".parse::<MergeRequestRef>().unwrap().project, "42");
        for bad in [
            "acme/handbook",
            "acme/handbook!",
            "handbook!1",
            "acme/h!0",
            "/a!1",
            "a b/c!1",
        ] {
            assert!(bad.parse::<MergeRequestRef>().is_err(), "{bad}");
        }
    }
}
