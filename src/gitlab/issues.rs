//! A project's issues: the managed ones listed (each once, oldest first), one read right
//! before a write, created and edited.

use std::collections::BTreeMap;

use gitlab::api::{self, AsyncQuery};
use serde::Deserialize;

use super::{Gitlab, GitlabError, GlUser, TransportError};
use crate::sync::{IssueState, ObservedIssue};

/// An issue as created: GitLab answers `201` even when it dropped the labels (a caller
/// who may not set metadata), so the labels it kept are part of the answer.
#[derive(Debug, Clone, Deserialize)]
pub struct CreatedIssue {
    /// Project-scoped id.
    pub iid: u64,
    /// The labels GitLab stored.
    #[serde(default)]
    pub labels: Vec<String>,
}

#[derive(Debug, Deserialize)]
pub(super) struct GlIssue {
    pub(super) iid: u64,
    title: String,
    description: Option<String>,
    state: String,
    labels: Vec<String>,
    #[serde(default)]
    assignees: Vec<GlUser>,
    #[serde(default)]
    author: Option<GlAuthorId>,
}

/// An issue's `author`: only its id matters.
#[derive(Debug, Deserialize)]
pub(super) struct GlAuthorId {
    id: u64,
}

impl GlIssue {
    /// The issue as the planner compares it; the description is dropped once its managed
    /// block is hashed and its marker read.
    pub(super) fn observed(self) -> ObservedIssue {
        let author = self.author.map(|a| a.id);
        let mut observed = ObservedIssue::new(
            self.iid,
            self.title,
            self.description.as_deref().unwrap_or_default(),
            if self.state == "closed" {
                IssueState::Closed
            } else {
                IssueState::Opened
            },
            self.labels,
            self.assignees.into_iter().map(|u| u.username).collect(),
        );
        observed.author = author;
        observed
    }
}

/// An issue read right before a write.
#[derive(Debug, Clone)]
pub struct CurrentIssue {
    /// The issue.
    pub issue: ObservedIssue,
    /// Its whole description (empty when none), onto which an edit's block is written.
    pub description: String,
    /// Its assignees' user ids by username.
    pub assignee_ids: BTreeMap<String, u64>,
}

/// One edit of an issue: [`crate::sync::Write::Edit`] with the assignee resolved to a
/// user id. A field left `None` (or an empty label list) is not sent, so GitLab keeps it.
#[derive(Debug, Clone, Default)]
pub struct IssueEdit<'a> {
    /// New title.
    pub title: Option<&'a str>,
    /// New description.
    pub description: Option<&'a str>,
    /// Labels to add.
    pub add_labels: &'a [String],
    /// Labels to remove.
    pub remove_labels: &'a [String],
    /// The whole set of assignees' user ids; `Some` of an empty list unassigns.
    pub assignees: Option<Vec<u64>>,
    /// Close or reopen.
    pub state: Option<IssueState>,
}

impl Gitlab {
    /// Every issue of the project carrying `label`, open and closed, all pages.
    pub async fn managed_issues(
        &self,
        project: u64,
        label: &str,
    ) -> Result<Vec<ObservedIssue>, GitlabError> {
        self.managed_issues_since(project, label, None).await
    }

    /// [`Gitlab::managed_issues`], only those created at or after `since` (GitLab's
    /// issue list is strongly consistent: a create that went through is in it).
    pub async fn managed_issues_since(
        &self,
        project: u64,
        label: &str,
        since: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Result<Vec<ObservedIssue>, GitlabError> {
        let mut query = vec![("labels", label.to_owned())];
        if let Some(since) = since {
            query.push((
                "created_after",
                since.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            ));
        }
        self.issues(project, query).await
    }

    /// [`Gitlab::managed_issues`], and GitLab's clock when it answered the listing's
    /// first page (its `Date` header; `None` when it sent none): changes after that time
    /// may be missing from the list.
    pub async fn managed_issues_dated(
        &self,
        project: u64,
        label: &str,
    ) -> Result<(Vec<ObservedIssue>, Option<chrono::DateTime<chrono::Utc>>), GitlabError> {
        self.issues_dated(project, vec![("labels", label.to_owned())])
            .await
    }

    /// Every issue of the project updated at or after `since`, managed or not (no label
    /// filter: an issue whose managed label a person removed is among them), each once,
    /// with GitLab's clock when it answered the first page.
    pub async fn issues_updated_after(
        &self,
        project: u64,
        since: chrono::DateTime<chrono::Utc>,
    ) -> Result<(Vec<ObservedIssue>, Option<chrono::DateTime<chrono::Utc>>), GitlabError> {
        let query = vec![(
            "updated_after",
            since.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        )];
        self.issues_dated(project, query).await
    }

    /// The project's issues that `query` filters, each once, oldest first.
    async fn issues(
        &self,
        project: u64,
        query: Vec<(&str, String)>,
    ) -> Result<Vec<ObservedIssue>, GitlabError> {
        Ok(self.issues_dated(project, query).await?.0)
    }

    /// [`Gitlab::issues`] and the `Date` of the first page's answer.
    async fn issues_dated(
        &self,
        project: u64,
        mut query: Vec<(&str, String)>,
    ) -> Result<(Vec<ObservedIssue>, Option<chrono::DateTime<chrono::Utc>>), GitlabError> {
        // Oldest first: an issue created meanwhile lands at the end instead of pushing
        // every later page by one (newest first, one issue would come back twice).
        query.push(("order_by", "created_at".into()));
        query.push(("sort", "asc".into()));
        query.push(("state", "all".into()));
        let what = format!("listing the issues of project {project}");
        let path = format!("projects/{project}/issues");
        let (issues, date) = self
            .list_stable_dated(&what, &path, &query, |i: &GlIssue| i.iid)
            .await?;
        Ok((issues.into_iter().map(GlIssue::observed).collect(), date))
    }

    /// One issue as it is now, with its assignees' user ids: read right before a write,
    /// so that the write goes onto what people wrote meanwhile.
    pub async fn issue(&self, project: u64, iid: u64) -> Result<CurrentIssue, GitlabError> {
        Self::issue_on(&*self.client, project, iid).await
    }

    /// [`Gitlab::issue`] through `client` (a [`Turn`](super::Turn)'s read).
    pub(super) async fn issue_on<C>(
        client: &C,
        project: u64,
        iid: u64,
    ) -> Result<CurrentIssue, GitlabError>
    where
        C: api::AsyncClient<Error = TransportError> + Sync,
    {
        let ep = api::projects::issues::Issue::builder()
            .project(project)
            .issue(iid)
            .build()
            .expect("an issue query builds");
        let issue: GlIssue = ep
            .query_async(client)
            .await
            .map_err(|e| GitlabError::from_api(format!("reading issue #{iid}"), e))?;
        let assignee_ids = issue
            .assignees
            .iter()
            .map(|u| (u.username.clone(), u.id))
            .collect();
        let description = issue.description.clone().unwrap_or_default();
        Ok(CurrentIssue {
            issue: issue.observed(),
            description,
            assignee_ids,
        })
    }

    /// Creates an issue; returns its iid and the labels GitLab kept.
    pub async fn create_issue(
        &self,
        project: u64,
        title: &str,
        description: &str,
        labels: &[String],
        assignee: Option<u64>,
    ) -> Result<CreatedIssue, GitlabError> {
        let mut ep = api::projects::issues::CreateIssue::builder();
        ep.project(project)
            .title(title)
            .description(description)
            .labels(labels.iter().map(String::as_str));
        if let Some(id) = assignee {
            ep.assignee_id(id);
        }
        let ep = ep.build().expect("an issue builds");
        ep.query_async(&*self.client)
            .await
            .map_err(|e| GitlabError::from_api(format!("creating issue “{title}”"), e))
    }

    /// Edits an issue: the fields `edit` sets, nothing else.
    pub async fn edit_issue(
        &self,
        project: u64,
        iid: u64,
        edit: &IssueEdit<'_>,
    ) -> Result<(), GitlabError> {
        Self::edit_issue_on(&*self.client, project, iid, edit).await
    }

    /// [`Gitlab::edit_issue`] through `client` (a [`Turn`](super::Turn)'s write).
    pub(super) async fn edit_issue_on<C>(
        client: &C,
        project: u64,
        iid: u64,
        edit: &IssueEdit<'_>,
    ) -> Result<(), GitlabError>
    where
        C: api::AsyncClient<Error = TransportError> + Sync,
    {
        let mut ep = api::projects::issues::EditIssue::builder();
        ep.project(project).issue(iid);
        if let Some(t) = edit.title {
            ep.title(t);
        }
        if let Some(d) = edit.description {
            ep.description(d);
        }
        for l in edit.add_labels {
            ep.add_label(l.as_str());
        }
        for l in edit.remove_labels {
            ep.remove_label(l.as_str());
        }
        match edit.assignees.as_deref() {
            Some([]) => {
                ep.unassign();
            }
            Some(ids) => {
                ep.assignee_ids(ids.iter().copied());
            }
            None => {}
        }
        match edit.state {
            Some(IssueState::Closed) => {
                ep.state_event(api::projects::issues::IssueStateEvent::Close);
            }
            Some(IssueState::Opened) => {
                ep.state_event(api::projects::issues::IssueStateEvent::Reopen);
            }
            None => {}
        }
        let ep = ep.build().expect("an issue edit builds");
        api::ignore(ep)
            .query_async(client)
            .await
            .map_err(|e| GitlabError::from_api(format!("editing issue #{iid}"), e))
    }
}
