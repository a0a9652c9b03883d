//! The listing adoption reads: a project's open issues without a handbook-sync block,
//! with who opened them.

use serde::Deserialize;

use super::{Gitlab, GitlabError, GlIssue, GlUser};
use crate::sync::ObservedIssue;

/// An open issue without a handbook-sync block, as adoption weighs it.
#[derive(Debug, Clone)]
pub struct Unmanaged {
    /// The issue.
    pub issue: ObservedIssue,
    /// The username of who opened it, when GitLab says.
    pub author: Option<String>,
    /// A person made it confidential.
    pub confidential: bool,
    /// `issue`, or the work item type it is instead (`task`, `incident`, `test_case`),
    /// which the project's issue list returns too.
    pub issue_type: String,
}

#[derive(Deserialize)]
struct Listed {
    #[serde(flatten)]
    issue: GlIssue,
    #[serde(default)]
    author: Option<GlUser>,
    #[serde(default)]
    confidential: bool,
    /// Absent before GitLab had work item types: every issue was one.
    #[serde(default = "an_issue")]
    issue_type: String,
}

fn an_issue() -> String {
    "issue".into()
}

impl Gitlab {
    /// Every open issue of the project that carries no handbook-sync block (so no
    /// marker), oldest first, each once, with its author: what `--adopt` may take over.
    /// One paged listing; the block is looked for in the descriptions, as GitLab has no
    /// filter for it.
    pub async fn open_unmanaged_issues(&self, project: u64) -> Result<Vec<Unmanaged>, GitlabError> {
        let query = [
            ("state", "opened".to_owned()),
            ("order_by", "created_at".to_owned()),
            ("sort", "asc".to_owned()),
        ];
        let what = format!("listing the open issues of project {project}");
        let path = format!("projects/{project}/issues");
        let issues: Vec<Listed> = self
            .list_stable(&what, &path, &query, |i: &Listed| i.issue.iid)
            .await?;
        Ok(issues
            .into_iter()
            .map(|l| Unmanaged {
                author: l.author.map(|a| a.username),
                confidential: l.confidential,
                issue_type: l.issue_type,
                issue: l.issue.observed(),
            })
            .filter(|u| u.issue.block_hash.is_none())
            .collect())
    }
}
