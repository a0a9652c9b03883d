//! The one request the mass-create guard makes for a page none of whose issues is
//! managed: does the project hold issues of that page that lost the managed label?
//!
//! It asks by the page's label (`labels=`), not by the marker text: GitLab's issue search
//! is full-text search for Latin text (`app/finders/issuable_finder.rb`,
//! `use_full_text_search?`; `app/models/concerns/pg_full_text_searchable.rb`), and
//! PostgreSQL's text parser reads a whole `<!-- … -->` comment as one tag token, which
//! the `english` configuration does not index (`src/backend/tsearch/wparser_def.c`, the
//! `TPS_InComment…` states end in `TAG_T`): a marker is invisible to `search`.

use super::{GitlabError, GlIssue};
use crate::sync::ObservedIssue;

/// How many issues the one request reads: enough to tell the cause (some without the
/// managed label, or all with it and no marker) and to name a count.
const FIRST_PAGE: usize = 100;

impl super::Gitlab {
    /// The oldest issues of the project carrying `label` (any state), up to
    /// [`FIRST_PAGE`], in one request: what the mass-create guard weighs for a page none
    /// of whose issues has the managed label.
    pub async fn issues_labeled(
        &self,
        project: u64,
        label: &str,
    ) -> Result<Vec<ObservedIssue>, GitlabError> {
        let query = [
            ("labels", label.to_owned()),
            ("state", "all".to_owned()),
            ("order_by", "created_at".to_owned()),
            ("sort", "asc".to_owned()),
            ("per_page", FIRST_PAGE.to_string()),
        ];
        let what = format!("looking for issues labeled `{label}` in project {project}");
        let path = format!("projects/{project}/issues");
        let (issues, _): (Vec<GlIssue>, _) = self.get_with_headers(&what, &path, &query).await?;
        Ok(issues.into_iter().map(GlIssue::observed).collect())
    }
}
