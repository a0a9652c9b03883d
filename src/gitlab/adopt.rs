//! The listing adoption reads: a project's open issues without a handbook-sync block.

use super::{Gitlab, GitlabError, GlIssue};
use crate::sync::ObservedIssue;

impl Gitlab {
    /// Every open issue of the project that carries no handbook-sync block (so no
    /// marker), oldest first, each once: what `--adopt` may take over. One paged listing;
    /// the block is looked for in the descriptions, as GitLab has no filter for it.
    pub async fn open_unmanaged_issues(
        &self,
        project: u64,
    ) -> Result<Vec<ObservedIssue>, GitlabError> {
        let query = [
            ("state", "opened".to_owned()),
            ("order_by", "created_at".to_owned()),
            ("sort", "asc".to_owned()),
        ];
        let what = format!("listing the open issues of project {project}");
        let path = format!("projects/{project}/issues");
        let issues: Vec<GlIssue> = self
            .list_stable(&what, &path, &query, |i: &GlIssue| i.iid)
            .await?;
        Ok(issues
            .into_iter()
            .map(GlIssue::observed)
            .filter(|i| i.block_hash.is_none())
            .collect())
    }
}
