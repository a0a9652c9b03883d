//! A project's labels: listed by name, created (one that appeared meanwhile is found).

use std::collections::BTreeMap;

use gitlab::api::{self, AsyncQuery, Pagination};
use serde::Deserialize;

use super::{Created, Gitlab, GitlabError};

#[derive(Debug, Deserialize)]
pub(super) struct GlLabel {
    pub(super) id: u64,
    pub(super) name: String,
}

impl Gitlab {
    /// The project's labels: name → id.
    pub async fn labels(&self, project: u64) -> Result<BTreeMap<String, u64>, GitlabError> {
        let ep = api::projects::labels::Labels::builder()
            .project(project)
            .build()
            .expect("a label list builds");
        let labels: Vec<GlLabel> = api::paged(ep, Pagination::All)
            .query_async(&*self.client)
            .await
            .map_err(|e| {
                GitlabError::from_api(format!("listing the labels of project {project}"), e)
            })?;
        Ok(labels.into_iter().map(|l| (l.name, l.id)).collect())
    }

    /// Creates a label and returns its id; one that appeared meanwhile (409) is fine.
    pub async fn create_label(
        &self,
        project: u64,
        name: &str,
        color: &str,
        description: &str,
    ) -> Result<u64, GitlabError> {
        let ep = api::projects::labels::CreateLabel::builder()
            .project(project)
            .name(name)
            .color(color)
            .description(description)
            .build()
            .expect("a label builds");
        let what = || format!("creating label `{name}`");
        match ep.query_async(&*self.client).await {
            Ok(Created { id }) => Ok(id),
            Err(e) if GitlabError::is_conflict(&e) => {
                let ep = api::projects::labels::Label::builder()
                    .project(project)
                    .label(name)
                    .build()
                    .expect("a label query builds");
                let label: GlLabel = ep
                    .query_async(&*self.client)
                    .await
                    .map_err(|e| GitlabError::from_api(what(), e))?;
                Ok(label.id)
            }
            Err(e) => Err(GitlabError::from_api(what(), e)),
        }
    }
}
