//! Paged reads whose headers matter: every item once though the list moves while it is
//! read (`X-Total`, `X-Next-Page`), and GitLab's `Date` of the answer.

use super::{Gitlab, GitlabError};

/// How many times a list that keeps changing is read before giving up.
const LISTINGS: usize = 3;

/// A numeric response header (`X-Total`, `X-Next-Page`); `None` when absent or empty.
fn header_number(headers: &http::HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// The `Date` header: the server's clock when it answered (RFC 9110's IMF-fixdate).
pub(super) fn header_date(headers: &http::HeaderMap) -> Option<chrono::DateTime<chrono::Utc>> {
    let text = headers.get(http::header::DATE)?.to_str().ok()?;
    chrono::DateTime::parse_from_rfc2822(text)
        .ok()
        .map(|d| d.with_timezone(&chrono::Utc))
}

impl Gitlab {
    /// Every item of a paged list, each once, though items come and go while it is read:
    /// items are kept by `id` (one returned twice is one item), and when `X-Total` moved
    /// between the first and the last page (or fewer items came than it said) the list is
    /// read again, as an item deleted meanwhile shifts the pages and hides another one.
    pub(super) async fn list_stable<T: serde::de::DeserializeOwned>(
        &self,
        what: &str,
        path: &str,
        query: &[(&str, String)],
        id: impl Fn(&T) -> u64,
    ) -> Result<Vec<T>, GitlabError> {
        Ok(self.list_stable_dated(what, path, query, id).await?.0)
    }

    /// [`Gitlab::list_stable`], and GitLab's `Date` when it answered the first page of
    /// the listing that was kept, less the time that request took.
    pub(super) async fn list_stable_dated<T: serde::de::DeserializeOwned>(
        &self,
        what: &str,
        path: &str,
        query: &[(&str, String)],
        id: impl Fn(&T) -> u64,
    ) -> Result<(Vec<T>, Option<chrono::DateTime<chrono::Utc>>), GitlabError> {
        const PER_PAGE: usize = 100;
        for attempt in 1..=LISTINGS {
            let mut seen = std::collections::BTreeSet::new();
            let mut items = Vec::new();
            let mut totals = Vec::new();
            let mut date = None;
            let mut page = 1u64;
            loop {
                let mut q: Vec<(&str, String)> = query.to_vec();
                q.push(("per_page", PER_PAGE.to_string()));
                q.push(("page", page.to_string()));
                let sent = std::time::Instant::now();
                let (batch, headers): (Vec<T>, _) = self.get_with_headers(what, path, &q).await?;
                totals.push(header_number(&headers, "x-total"));
                if page == 1 {
                    // GitLab stamps `Date` after it read the page: moved back by the
                    // request's whole time (retries and waits included), it is no later
                    // than the read, so a write just before the read is never missed.
                    let took = chrono::TimeDelta::from_std(sent.elapsed())
                        .unwrap_or(chrono::TimeDelta::MAX);
                    date = header_date(&headers).and_then(|d| d.checked_sub_signed(took));
                }
                // A short page is the last one: no request for an empty page after it,
                // whatever `X-Next-Page` says.
                let last_page = batch.len() < PER_PAGE;
                items.extend(batch.into_iter().filter(|item| seen.insert(id(item))));
                match header_number(&headers, "x-next-page") {
                    Some(next) if !last_page && next > page => page = next,
                    _ => break,
                }
            }
            let first = totals.first().copied().flatten();
            let last = totals.last().copied().flatten();
            if first == last && last.is_none_or(|t| items.len() as u64 >= t) {
                return Ok((items, date));
            }
            tracing::info!(
                what,
                attempt,
                "the list changed while it was read; reading it again"
            );
        }
        Err(GitlabError::Other {
            what: what.to_owned(),
            message: format!(
                "the list changed every time it was read ({LISTINGS} times); nothing is written to this project this run"
            ),
        })
    }

    /// A GET whose answer and headers are both needed (pagination totals).
    pub(super) async fn get_with_headers<T: serde::de::DeserializeOwned>(
        &self,
        what: &str,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<(T, http::HeaderMap), GitlabError> {
        use gitlab::api::{AsyncClient as _, RestClient as _};
        let mut url = self
            .client
            .rest_endpoint(path)
            .map_err(|e| GitlabError::from_api(what, e))?;
        url.query_pairs_mut()
            .extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
        let request = http::Request::builder()
            .method(http::Method::GET)
            .uri(url.as_str());
        let response = self
            .client
            .rest_async(request, Vec::new())
            .await
            .map_err(|e| GitlabError::from_api(what, e))?;
        let status = response.status();
        if !status.is_success() {
            return Err(GitlabError::from_status(what, status, response.body()));
        }
        let value = serde_json::from_slice(response.body()).map_err(|e| GitlabError::Other {
            what: what.to_owned(),
            message: format!("GitLab's answer could not be read: {e}"),
        })?;
        Ok((value, response.headers().clone()))
    }
}
