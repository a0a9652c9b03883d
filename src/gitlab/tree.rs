//! Discovery's reads: a repository tree (`GET /projects/:id/repository/tree`, keyset
//! pages), and the managed issues one user opened across projects (`GET
//! /issues_statistics` and `GET /issues`, `scope=created_by_me` for the token's user,
//! `scope=all&author_id=ID` for another), which tell pages that vanished from the
//! handbook in projects no current page writes to.

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

/// Whose issues a count or a listing across projects takes: never everyone's, as anyone
/// may copy the labels and a marker into an issue of their own project, never its
/// author.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Opener {
    /// The token's user (`scope=created_by_me`).
    Me,
    /// Another user, by id (`scope=all&author_id=ID`): one who opened issues of a block
    /// in a project the run read (a former token's user, a person whose issue was
    /// adopted).
    User(u64),
}

impl Opener {
    fn query(self) -> Vec<(&'static str, String)> {
        match self {
            Opener::Me => vec![("scope", "created_by_me".to_owned())],
            Opener::User(id) => vec![("scope", "all".to_owned()), ("author_id", id.to_string())],
        }
    }
}

/// Entries a tree page holds; GitLab's maximum.
const PER_PAGE: usize = 100;

impl Gitlab {
    /// Every file (blob) below `path` at `git_ref` in `project`, recursively, in
    /// GitLab's order. Keyset pages (`pagination=keyset`, GitLab's
    /// `lib/gitlab/pagination/gitaly_keyset_pager.rb`): the next page is asked with the
    /// `page_token` of the answer's `Link: <…>; rel="next"`, on our own URL (the token
    /// never follows a link elsewhere); a full page without a link is asked past once
    /// (see below). A `404` means the ref or the directory does not exist.
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
        let mut next: Option<Next> = None;
        let mut seen = std::collections::BTreeSet::new();
        let incomplete = |message: String| GitlabError::Other {
            what: what.clone(),
            message: format!("{message}; the listing is incomplete"),
        };
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
            match &next {
                Some(Next::Token(token)) => query.push(("page_token", token.clone())),
                Some(Next::Page(page)) => query.push(("page", page.to_string())),
                None => {}
            }
            let (entries, headers): (Vec<Entry>, _) =
                self.get_with_headers(&what, &endpoint, &query).await?;
            let full = entries.len() >= PER_PAGE;
            let last = entries.last().map(|e| e.path.clone());
            files.extend(
                entries
                    .into_iter()
                    .filter(|e| e.kind == "blob")
                    .map(|e| TreeFile {
                        path: e.path,
                        blob_id: e.id,
                    }),
            );
            next = match next_page(&headers).map_err(incomplete)? {
                // A page seen before would loop for ever: a server bug, not a tree.
                Some(page) if !seen.insert(page.clone()) => {
                    return Err(incomplete(format!(
                        "GitLab sent the next page {page:?} twice"
                    )));
                }
                Some(page) => Some(page),
                // A full keyset page without a link may be the last: GitLab links only
                // when Gitaly gave a cursor (`GitalyKeysetPager#apply_headers`:
                // `records.count == params[:per_page] && next_cursor.present?`), and
                // Gitaly gives none on the page that reaches the last entry, so a tree
                // of exactly 100·k entries ends so. Or it may be cut short. One more
                // page after its last entry, asked with the token Gitaly itself builds
                // (`encodePageToken`: base64 of `{"file_name": PATH}`), tells: empty,
                // the listing ended. (An older GitLab linked every full page, and its
                // next page was empty.) Offset pages say where they are in `X-Page`.
                None if full && !headers.contains_key("x-page") => {
                    let token = last.map(|path| page_token_after(&path)).unwrap_or_default();
                    let page = Next::Token(token);
                    if !seen.insert(page.clone()) {
                        return Err(incomplete(
                            "a full page of the tree without a link to the next".into(),
                        ));
                    }
                    Some(page)
                }
                None => return Ok(files),
            };
        }
    }

    /// How many open and closed issues `opener` opened carry every label of `labels`,
    /// in every project the token may read (`GET /issues_statistics`): one request.
    pub async fn count_issues_everywhere(
        &self,
        labels: &[String],
        opener: Opener,
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
        let mut query = opener.query();
        query.push(("labels", labels.join(",")));
        let (answer, _): (Answer, _) = self
            .get_with_headers(&what, "issues_statistics", &query)
            .await?;
        Ok((
            answer.statistics.counts.opened,
            answer.statistics.counts.closed,
        ))
    }

    /// Every open issue `opener` opened carrying every label of `labels`, in every
    /// project the token may read (`GET /issues?state=opened`), each once, oldest first.
    pub async fn open_issues_everywhere(
        &self,
        labels: &[String],
        opener: Opener,
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
        let mut query = opener.query();
        query.extend([
            ("state", "opened".to_owned()),
            ("labels", labels.join(",")),
            ("order_by", "created_at".to_owned()),
            ("sort", "asc".to_owned()),
        ]);
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

/// The keyset `page_token` for the entries after `path`, as Gitaly's `encodePageToken`
/// (`internal/gitaly/service/commit/tree_entries.go`) builds it: standard base64 of the
/// JSON `{"file_name": PATH}`.
fn page_token_after(path: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .encode(serde_json::json!({ "file_name": path }).to_string())
}

/// A project path as one URL path segment.
fn encode(project: &str) -> String {
    form_urlencoded::byte_serialize(project.as_bytes()).collect()
}

/// The page a `rel="next"` link asks for.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Next {
    /// A keyset page: its `page_token`.
    Token(String),
    /// An offset page: what GitLab answers `pagination=keyset` with where the flag
    /// `repository_tree_gitaly_pagination` is off (an older self-managed GitLab;
    /// `lib/gitlab/pagination/gitaly_keyset_pager.rb` then falls through to
    /// `OffsetPagination`, whose links carry `page`).
    Page(u64),
}

/// The next page the `Link` header's `rel="next"` names (or, without a `Link`, offset
/// pagination's `X-Next-Page`); none on the last page. A `rel="next"` whose target names
/// neither a `page_token` nor a `page` is an error: the listing would end there.
fn next_page(headers: &http::HeaderMap) -> Result<Option<Next>, String> {
    let link = headers
        .get("link")
        .and_then(|l| l.to_str().ok())
        .unwrap_or_default();
    let target = link.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        params
            .split(';')
            .any(|p| p.trim().replace(' ', "") == "rel=\"next\"")
            .then(|| target.trim().trim_start_matches('<').trim_end_matches('>'))
    });
    if let Some(target) = target {
        let url = url::Url::parse(target)
            .map_err(|_| format!("GitLab's link to the next page does not parse: {target}"))?;
        let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        let find = |key: &str| pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
        if let Some(token) = find("page_token") {
            return Ok(Some(Next::Token(token)));
        }
        if let Some(page) = find("page").and_then(|p| p.parse().ok()) {
            return Ok(Some(Next::Page(page)));
        }
        return Err(format!(
            "GitLab's link to the next page names neither a page_token nor a page: {}",
            crate::redact::url(&url)
        ));
    }
    let next = headers
        .get("x-next-page")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .unwrap_or_default();
    Ok(next.parse().ok().map(Next::Page))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> http::HeaderMap {
        let mut headers = http::HeaderMap::new();
        for (name, value) in pairs {
            headers.insert(*name, value.parse().unwrap());
        }
        headers
    }

    #[test]
    fn the_next_page_comes_from_the_next_link_only() {
        let next = headers(&[(
            "link",
            "<https://g.example/api/v4/projects/1/repository/tree?page_token=abc%3D&per_page=2>; rel=\"next\", <https://g.example/x?page_token=zzz>; rel=\"first\"",
        )]);
        assert_eq!(next_page(&next), Ok(Some(Next::Token("abc=".into()))));
        let first = headers(&[(
            "link",
            "<https://g.example/x?page_token=zzz>; rel=\"first\"",
        )]);
        assert_eq!(next_page(&first), Ok(None));
        assert_eq!(next_page(&http::HeaderMap::new()), Ok(None));
    }

    #[test]
    fn offset_pages_are_followed_and_a_next_link_without_a_page_is_an_error() {
        let offset = headers(&[
            (
                "link",
                "<https://g.example/api/v4/projects/1/repository/tree?page=3&per_page=100&pagination=keyset>; rel=\"next\"",
            ),
            ("x-next-page", "3"),
        ]);
        assert_eq!(next_page(&offset), Ok(Some(Next::Page(3))));
        assert_eq!(
            next_page(&headers(&[("x-next-page", "2"), ("x-page", "1")])),
            Ok(Some(Next::Page(2)))
        );
        assert_eq!(
            next_page(&headers(&[("x-next-page", ""), ("x-page", "2")])),
            Ok(None)
        );
        let bare = headers(&[("link", "<https://g.example/x?per_page=100>; rel=\"next\"")]);
        assert!(
            next_page(&bare)
                .unwrap_err()
                .contains("neither a page_token nor a page")
        );
    }
}
