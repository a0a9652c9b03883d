//! The roadmap's read of a project's managed issues: what `status` counts, and what a
//! reader of the roadmap sees beside it (web URL, creation and close times, assignees'
//! names). The same stable listing as the sync's (oldest first, each issue once).

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::{Gitlab, GitlabError};
use crate::sync::IssueState;
use handbook_sync_core::roadmap::{Person, TrackedIssue};

/// An issue as `GET /projects/:id/issues` answers it (`lib/api/entities/issue_basic.rb`:
/// `web_url`, `created_at`, `closed_at`; assignees as `UserBasic`, with `name`).
#[derive(Debug, Deserialize)]
struct RoadmapIssue {
    iid: u64,
    title: String,
    description: Option<String>,
    state: String,
    labels: Vec<String>,
    #[serde(default)]
    assignees: Vec<Assignee>,
    web_url: String,
    created_at: DateTime<Utc>,
    closed_at: Option<DateTime<Utc>>,
    #[serde(default)]
    confidential: bool,
}

#[derive(Debug, Deserialize)]
struct Assignee {
    username: String,
    name: String,
}

impl Gitlab {
    /// Every issue of `project` carrying `label`, any state, for the roadmap, and
    /// GitLab's clock when it answered (the time of the data; `None` without `Date`).
    pub async fn tracked_issues(
        &self,
        project: u64,
        label: &str,
    ) -> Result<(Vec<TrackedIssue>, Option<DateTime<Utc>>), GitlabError> {
        let query = vec![
            ("labels", label.to_owned()),
            ("order_by", "created_at".to_owned()),
            ("sort", "asc".to_owned()),
            ("state", "all".to_owned()),
        ];
        let what = format!("listing the issues of project {project} for the roadmap");
        let path = format!("projects/{project}/issues");
        let (issues, date) = self
            .list_stable_dated(&what, &path, &query, |i: &RoadmapIssue| i.iid)
            .await?;
        let issues = issues
            .into_iter()
            .map(|i| {
                TrackedIssue::new(
                    i.iid,
                    i.title,
                    i.description.as_deref().unwrap_or_default(),
                    if i.state == "closed" {
                        IssueState::Closed
                    } else {
                        IssueState::Opened
                    },
                    i.labels,
                    i.assignees
                        .into_iter()
                        .map(|a| Person {
                            username: a.username,
                            name: a.name,
                        })
                        .collect(),
                    i.web_url,
                    i.created_at,
                    i.closed_at,
                    i.confidential,
                )
            })
            .collect();
        Ok((issues, date))
    }
}
