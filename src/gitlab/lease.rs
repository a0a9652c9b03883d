//! The label calls a project's lease is made of; `sync_run::lease` decides when to make
//! them and what the label says.
//!
//! What GitLab guarantees, from its source:
//! - `POST /projects/:id/labels` answers `409 Label already exists` when the project (or
//!   one of its groups) has a label of that title (`lib/api/helpers/label_helpers.rb`,
//!   `create_label`), and the database holds at most one project label per title
//!   (unique index `index_labels_on_project_id_and_title_varchar_unique` on
//!   `(project_id, title)`, migration `IndexLabelsUsingVarcharPatternOps`; the model
//!   validates `uniqueness: { scope: [:group_id, :project_id] }` in `app/models/label.rb`).
//!   So of two creates at once exactly one succeeds; the other is answered `409`, or
//!   `400 {"message":{"title":["has already been taken"]}}` when it passed that check
//!   before the winner committed and the model's validation refused it, or `500` when
//!   it passed the validation too and the index refused it: whichever, the label read
//!   back says who holds it.
//! - `DELETE /projects/:id/labels/:label_id` finds the label by id (or else by title) and
//!   deletes it only if it did not change after `If-Unmodified-Since` (`412` otherwise:
//!   `destroy_conditionally!` in `lib/api/helpers.rb`). Deleting an expired lease by id
//!   with the time it was read as expired never deletes one that was renewed or taken
//!   over since.
//! - Creating, editing and deleting a project label need `admin_label`
//!   (`app/policies/label_policy.rb`), which Planner and Reporter and up have: the rights
//!   handbook-sync already needs to set labels on issues.
//! - A label's description is sanitized (`Sanitize.clean`, then HTML entities decoded):
//!   the lease's description holds no HTML. It may be 512 KiB long
//!   (`DESCRIPTION_LENGTH_MAX` in `app/models/label.rb`); the lease's is under 1 KiB.

use chrono::{DateTime, Utc};
use http::{Method, StatusCode};
use serde::Deserialize;

use super::transport::Mode;
use super::{Gitlab, GitlabError, header_date};

/// A label as the lease reads it.
#[derive(Debug, Clone, Deserialize)]
pub struct LeaseLabel {
    /// Its id: the lease is renewed and deleted by it, never by name.
    pub id: u64,
    /// Its title.
    pub name: String,
    /// What the holder wrote (sanitized by GitLab).
    #[serde(default)]
    pub description: Option<String>,
    /// `false` for a label of one of the project's groups (`GET` includes ancestor
    /// groups' labels): a project label of that title can then never be created.
    #[serde(default = "project_label")]
    pub is_project_label: bool,
}

fn project_label() -> bool {
    true
}

/// An answer, and GitLab's clock when it gave it (its `Date`, if it sent one).
#[derive(Debug, Clone)]
pub struct Dated<T> {
    /// The answer.
    pub value: T,
    /// GitLab's `Date`.
    pub date: Option<DateTime<Utc>>,
}

/// What a create of the lease label did.
#[derive(Debug, Clone)]
pub enum Created {
    /// It was created: the lease is ours.
    Created(LeaseLabel),
    /// A label of that title exists (`409`, or the `400` of a create that met another
    /// inside GitLab).
    Exists,
}

/// What a delete of the lease label did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deleted {
    /// It was deleted (`204`).
    Deleted,
    /// There was no such label any more (`404`).
    Gone,
    /// It changed after the time given, and was kept (`412`).
    Changed,
}

impl Gitlab {
    /// The label titled `name` in `project` (or one of its groups), if any.
    pub async fn lease_label(
        &self,
        project: &str,
        name: &str,
    ) -> Result<Dated<Option<LeaseLabel>>, GitlabError> {
        let what = format!("reading the lease label `{name}` of `{project}`");
        let (status, date, body) = self
            .lease_call(
                &what,
                Method::GET,
                project,
                Some(name),
                &[],
                None,
                Mode::Lease,
                &[],
            )
            .await?;
        Ok(Dated {
            value: found_label(&what, status, &body)?,
            date,
        })
    }

    /// Creates the label `name` with `description`, unless a label of that title exists.
    pub async fn create_lease_label(
        &self,
        project: &str,
        name: &str,
        color: &str,
        description: &str,
    ) -> Result<Dated<Created>, GitlabError> {
        let what = format!("creating the lease label `{name}` in `{project}`");
        let form = [
            ("name", name),
            ("color", color),
            ("description", description),
        ];
        let (status, date, body) = self
            .lease_call(
                &what,
                Method::POST,
                project,
                None,
                &form,
                None,
                Mode::Lease,
                &[StatusCode::CONFLICT, StatusCode::BAD_REQUEST],
            )
            .await?;
        let value = match status {
            StatusCode::CONFLICT => Created::Exists,
            // A create that met another create of the title inside GitLab, past the
            // `409` check: the model's uniqueness validation refused it.
            StatusCode::BAD_REQUEST if title_taken(&body) => Created::Exists,
            StatusCode::BAD_REQUEST => {
                return Err(GitlabError::from_status(&what, status, &body));
            }
            _ => Created::Created(label_from(&what, &body)?),
        };
        Ok(Dated { value, date })
    }

    /// Rewrites the description of label `id`; `None` when there is no label `id` any more.
    pub async fn update_lease_label(
        &self,
        project: &str,
        id: u64,
        description: &str,
    ) -> Result<Dated<Option<LeaseLabel>>, GitlabError> {
        let what = format!("renewing the lease (label {id}) of `{project}`");
        let form = [("description", description)];
        let id = id.to_string();
        let (status, date, body) = self
            .lease_call(
                &what,
                Method::PUT,
                project,
                Some(&id),
                &form,
                None,
                Mode::Lease,
                &[],
            )
            .await?;
        Ok(Dated {
            value: found_label(&what, status, &body)?,
            date,
        })
    }

    /// Deletes label `id` if it did not change after `unmodified_since`. `at_once`: no
    /// wait and no retry (a shutdown: the client sends nothing else any more).
    pub async fn delete_lease_label(
        &self,
        project: &str,
        id: u64,
        unmodified_since: Option<DateTime<Utc>>,
        at_once: bool,
    ) -> Result<Deleted, GitlabError> {
        let what = format!("deleting the lease (label {id}) of `{project}`");
        let id = id.to_string();
        let mode = if at_once { Mode::AtOnce } else { Mode::Lease };
        let (status, _, _) = self
            .lease_call(
                &what,
                Method::DELETE,
                project,
                Some(&id),
                &[],
                unmodified_since,
                mode,
                &[StatusCode::PRECONDITION_FAILED],
            )
            .await?;
        Ok(match status {
            StatusCode::NOT_FOUND => Deleted::Gone,
            StatusCode::PRECONDITION_FAILED => Deleted::Changed,
            _ => Deleted::Deleted,
        })
    }

    /// Makes every write through this client (and its clones) pass `fence` from now on
    /// (`None`: no fence).
    pub fn set_fence(&self, fence: Option<std::sync::Arc<dyn super::Fence>>) {
        self.client.set_fence(fence);
    }

    /// True once the client is shutting down: it sends nothing that waits any more.
    pub fn is_cancelled(&self) -> bool {
        self.client.cancel_token().is_cancelled()
    }

    /// Resolves when the client is shutting down.
    pub async fn cancelled(&self) {
        self.client.cancel_token().cancelled().await;
    }

    /// One request to `projects/:project/labels[/:label]`: its status (2xx, a `404
    /// Label Not Found`, or one of `accept`; anything else is an error), `Date` and body.
    #[allow(clippy::too_many_arguments)]
    async fn lease_call(
        &self,
        what: &str,
        method: Method,
        project: &str,
        label: Option<&str>,
        form: &[(&str, &str)],
        unmodified_since: Option<DateTime<Utc>>,
        mode: Mode,
        accept: &[StatusCode],
    ) -> Result<(StatusCode, Option<DateTime<Utc>>, bytes::Bytes), GitlabError> {
        use gitlab::api::RestClient as _;
        let mut url = self
            .client
            .rest_endpoint("projects")
            .map_err(|e| GitlabError::from_api(what, e))?;
        {
            let mut segments = url.path_segments_mut().map_err(|()| GitlabError::Other {
                what: what.to_owned(),
                message: "the GitLab URL cannot have a path".into(),
            })?;
            // Each pushed segment is percent-encoded: `group/project` becomes one segment.
            segments.push(project).push("labels");
            if let Some(label) = label {
                segments.push(label);
            }
        }
        let mut request = http::Request::builder().method(method).uri(url.as_str());
        if !form.is_empty() {
            request = request.header(
                http::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            );
        }
        if let Some(since) = unmodified_since {
            request = request.header(
                http::header::IF_UNMODIFIED_SINCE,
                since.format("%a, %d %b %Y %H:%M:%S GMT").to_string(),
            );
        }
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let response = self
            .client
            .send(request, body.into_bytes(), mode)
            .await
            .map_err(|e| GitlabError::from_api(what, e))?;
        let status = response.status();
        // A 404 is the label's only when GitLab says so: `not_found!('Label')` answers
        // `404 Label Not Found`, a missing project `404 Project Not Found`.
        let label_missing = status == StatusCode::NOT_FOUND
            && label.is_some()
            && String::from_utf8_lossy(response.body()).contains("Label Not Found");
        let known = status.is_success() || label_missing || accept.contains(&status);
        if !known {
            return Err(GitlabError::from_status(what, status, response.body()));
        }
        Ok((
            status,
            header_date(response.headers()),
            response.body().clone(),
        ))
    }
}

/// Whether a `400` says the label's title is taken:
/// `{"message":{"title":["has already been taken"]}}` (`render_validation_error!`).
fn title_taken(body: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(body).is_ok_and(|v| {
        v["message"]["title"]
            .as_array()
            .is_some_and(|m| m.iter().any(|m| m == "has already been taken"))
    })
}

/// The label of a `GET` or `PUT` answer; `None` for its `404 Label Not Found`.
fn found_label(
    what: &str,
    status: StatusCode,
    body: &[u8],
) -> Result<Option<LeaseLabel>, GitlabError> {
    match status {
        StatusCode::NOT_FOUND => Ok(None),
        _ => label_from(what, body).map(Some),
    }
}

fn label_from(what: &str, body: &[u8]) -> Result<LeaseLabel, GitlabError> {
    serde_json::from_slice(body).map_err(|e| GitlabError::Other {
        what: what.to_owned(),
        message: format!("GitLab's answer could not be read: {e}"),
    })
}
