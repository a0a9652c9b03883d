//! Discovery's reads: a repository tree (`GET /projects/:id/repository/tree`, keyset
//! pages), and managed issues across every project (`GET /issues_statistics` and
//! `GET /issues` with `scope=all`), which tell pages that vanished from the handbook in
//! projects no current page writes to.

use serde::Deserialize;

use super::{Gitlab, GitlabError, GlIssue};
use crate::sync::ObservedIssue;

/// A file of a repository tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeFile {
    /// Its path in the repository.
    pub path: String,
    /// Its blob id: the same id is the same text.
    pub blob_id: String,
}

/// A managed issue found across projects.
#[derive(Debug, Clone)]
pub struct IssueElsewhere {
    /// The project's path (`group/project`).
    pub project: String,
    /// The issue as the planner compares it.
    pub issue: ObservedIssue,
}

/// Entries a tree page holds; GitLab's maximum.
const PER_PAGE: usize = 100;

impl Gitlab {
    /// Every file (blob) below `path` at `git_ref` in `project`, recursively, in
    /// GitLab's order. Keyset pages (`pagination=keyset`, GitLab's
    /// `lib/gitlab/pagination/gitaly_keyset_pager.rb`): the next page is asked with the
    /// `page_token` of the answer's `Link: <…>; rel="next"`, on our own URL (the token
    /// never follows a link elsewhere). A `404` means the ref or the directory does not
    /// exist.
    pub async fn repository_tree(
        &self,
        project: &str,
        path: &str,
        git_ref: &str,
    ) -> Result<Vec<TreeFile>, GitlabError> {
        #[derive(Deserialize)]
        struct Entry {
            id: String,
            path: String,
            #[serde(rename = "type")]
            kind: String,
        }
        let what = format!("listing gitlab://{project}/-/{path}?ref={git_ref}");
        let endpoint = format!("projects/{}/repository/tree", encode(project));
        let mut files = Vec::new();
        let mut token: Option<String> = None;
        let mut seen_tokens = std::collections::BTreeSet::new();
        loop {
            let mut query: Vec<(&str, String)> = vec![
                ("ref", git_ref.to_owned()),
                ("recursive", "true".into()),
                ("pagination", "keyset".into()),
                ("per_page", PER_PAGE.to_string()),
            ];
            if !path.is_empty() {
                query.push(("path", path.to_owned()));
            }
            if let Some(token) = &token {
                query.push(("page_token", token.clone()));
            }
            let (entries, headers): (Vec<Entry>, _) =
                self.get_with_headers(&what, &endpoint, &query).await?;
            files.extend(
                entries
                    .into_iter()
                    .filter(|e| e.kind == "blob")
                    .map(|e| TreeFile {
                        path: e.path,
                        blob_id: e.id,
                    }),
            );
            match next_page_token(&headers) {
                // A token seen before would loop for ever: a server bug, not a tree.
                Some(next) if seen_tokens.insert(next.clone()) => token = Some(next),
                Some(_) => {
                    return Err(GitlabError::Other {
                        what,
                        message: "GitLab sent the same page_token twice".into(),
                    });
                }
                None => return Ok(files),
            }
        }
    }

    /// How many open and closed issues carry every label of `labels`, in every project
    /// the token's user may read (`GET /issues_statistics?scope=all`): one request.
    pub async fn count_issues_everywhere(
        &self,
        labels: &[String],
    ) -> Result<(u64, u64), GitlabError> {
        #[derive(Deserialize)]
        struct Counts {
            opened: u64,
            closed: u64,
        }
        #[derive(Deserialize)]
        struct Statistics {
            counts: Counts,
        }
        #[derive(Deserialize)]
        struct Answer {
            statistics: Statistics,
        }
        let what = format!(
            "counting the issues labeled {} in every project",
            labels.join(", ")
        );
        let query = [("scope", "all".to_owned()), ("labels", labels.join(","))];
        let (answer, _): (Answer, _) = self
            .get_with_headers(&what, "issues_statistics", &query)
            .await?;
        Ok((
            answer.statistics.counts.opened,
            answer.statistics.counts.closed,
        ))
    }

    /// Every open issue carrying every label of `labels`, in every project the token's
    /// user may read (`GET /issues?scope=all&state=opened`), each once, oldest first.
    pub async fn open_issues_everywhere(
        &self,
        labels: &[String],
    ) -> Result<Vec<IssueElsewhere>, GitlabError> {
        #[derive(Deserialize)]
        struct References {
            full: String,
        }
        #[derive(Deserialize)]
        struct Listed {
            id: u64,
            references: References,
            #[serde(flatten)]
            issue: GlIssue,
        }
        let what = format!(
            "listing the open issues labeled {} in every project",
            labels.join(", ")
        );
        let query = [
            ("scope", "all".to_owned()),
            ("state", "opened".to_owned()),
            ("labels", labels.join(",")),
            ("order_by", "created_at".to_owned()),
            ("sort", "asc".to_owned()),
        ];
        let listed = self
            .list_stable(&what, "issues", &query, |i: &Listed| i.id)
            .await?;
        Ok(listed
            .into_iter()
            .map(|l| IssueElsewhere {
                project: l
                    .references
                    .full
                    .rsplit_once('#')
                    .map_or(l.references.full.clone(), |(p, _)| p.to_owned()),
                issue: l.issue.observed(),
            })
            .collect())
    }
}

/// A project path as one URL path segment.
fn encode(project: &str) -> String {
    form_urlencoded::byte_serialize(project.as_bytes()).collect()
}

/// The `page_token` of the `rel="next"` link, if there is one.
fn next_page_token(headers: &http::HeaderMap) -> Option<String> {
    let link = headers.get("link")?.to_str().ok()?;
    link.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        if !params
            .split(';')
            .any(|p| p.trim().replace(' ', "") == "rel=\"next\"")
        {
            return None;
        }
        let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        let url = url::Url::parse(target).ok()?;
        url.query_pairs()
            .find(|(k, _)| k == "page_token")
            .map(|(_, v)| v.into_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_page_token_comes_from_the_next_link_only() {
        let mut headers = http::HeaderMap::new();
        headers.insert(
            "link",
            "<https://g.example/api/v4/projects/1/repository/tree?page_token=abc%3D&per_page=2>; rel=\"next\", <https://g.example/x?page_token=zzz>; rel=\"first\""
                .parse()
                .unwrap(),
        );
        assert_eq!(next_page_token(&headers).as_deref(), Some("abc="));
        headers.insert(
            "link",
            "<https://g.example/x?page_token=zzz>; rel=\"first\""
                .parse()
                .unwrap(),
        );
        assert_eq!(next_page_token(&headers), None);
        assert_eq!(next_page_token(&http::HeaderMap::new()), None);
    }
}
