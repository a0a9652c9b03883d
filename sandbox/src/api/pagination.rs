//! Pagination for every list endpoint: offset pages with GitLab's `X-*` headers and
//! `Link`, or keyset pages (`pagination=keyset`) with an opaque cursor.
//!
//! GitLab: `lib/gitlab/pagination/offset_pagination.rb` and
//! `lib/gitlab/pagination/keyset/`.

use std::cmp::Ordering;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use super::extract::Req;
use super::reply::{ApiResult, json_status, set_header};
use crate::App;
use crate::error::ApiError;
use crate::flags;

/// With `api_kaminari_count_with_limit` on, GitLab leaves totals out of pagination
/// headers above this many records (`Kaminari::ActiveRecordRelationMethods::MAX_COUNT_LIMIT`).
const TOTALS_LIMIT: usize = 10_000;

/// A keyset cursor: an item's sort value, then its id to break ties.
pub(super) type SortKey = (String, u64);

/// Offset pagination with GitLab's headers and `Link`, for items already rendered.
pub(super) fn paginate(app: &App, req: &Req, items: Vec<Value>) -> ApiResult {
    paginate_with(app, req, items, |v| v)
}

/// [`paginate`], rendering only the items of the page asked for.
pub(super) fn paginate_with<T, R: serde::Serialize>(
    app: &App,
    req: &Req,
    items: Vec<T>,
    render: impl Fn(T) -> R,
) -> ApiResult {
    let per_page = per_page(req)?;
    let page = req.params.int("page")?.unwrap_or(1).max(1) as usize;
    let total = items.len();
    let start = (page - 1).saturating_mul(per_page).min(total);
    let slice: Vec<R> = items
        .into_iter()
        .skip(start)
        .take(per_page)
        .map(render)
        .collect();
    let pages = Pages {
        page,
        per_page,
        total,
        has_next: start + per_page < total,
        capped: app.feature(flags::COUNT_WITH_LIMIT),
    };
    let mut response = (StatusCode::OK, axum::Json(slice)).into_response();
    offset_headers(app, req, &pages, &mut response);
    Ok(response)
}

/// Where one offset page sits among all of them.
struct Pages {
    page: usize,
    per_page: usize,
    total: usize,
    has_next: bool,
    /// `api_kaminari_count_with_limit` is on: no totals above [`TOTALS_LIMIT`].
    capped: bool,
}

impl Pages {
    fn total_pages(&self) -> usize {
        self.total.div_ceil(self.per_page).max(1)
    }

    /// With `api_kaminari_count_with_limit` on (gitlab.com; off by default elsewhere)
    /// GitLab counts no further than [`TOTALS_LIMIT`], so above it neither `X-Total` nor
    /// `last` (`lib/gitlab/pagination/offset_pagination.rb`,
    /// `paginate_with_limit_optimization`).
    fn with_totals(&self) -> bool {
        !self.capped || self.total <= TOTALS_LIMIT
    }
}

/// `X-Page`, `X-Per-Page`, `X-Next-Page`, `X-Prev-Page`, the totals and `Link`; the
/// next and previous page are empty, not missing, at the ends, as in GitLab.
fn offset_headers(app: &App, req: &Req, pages: &Pages, response: &mut Response) {
    let Pages { page, per_page, .. } = *pages;
    let next = if pages.has_next {
        (page + 1).to_string()
    } else {
        String::new()
    };
    let prev = if page > 1 {
        (page - 1).to_string()
    } else {
        String::new()
    };
    set_header(response, "x-page", &page.to_string());
    set_header(response, "x-per-page", &per_page.to_string());
    set_header(response, "x-next-page", &next);
    set_header(response, "x-prev-page", &prev);
    if pages.with_totals() {
        set_header(response, "x-total", &pages.total.to_string());
        set_header(response, "x-total-pages", &pages.total_pages().to_string());
    }
    set_header(response, "link", &offset_links(app, req, pages));
}

/// The `Link` header of an offset page: `prev`, `next`, `first`, and `last` if counted.
fn offset_links(app: &App, req: &Req, pages: &Pages) -> String {
    let link_for = |p: usize| {
        let mut query = query_pairs(req);
        query.retain(|(k, _)| k != "page" && k != "per_page");
        query.push(("page".into(), p.to_string()));
        query.push(("per_page".into(), pages.per_page.to_string()));
        page_url(app, req, query)
    };
    let mut links = Vec::new();
    if pages.page > 1 {
        links.push(format!("<{}>; rel=\"prev\"", link_for(pages.page - 1)));
    }
    if pages.has_next {
        links.push(format!("<{}>; rel=\"next\"", link_for(pages.page + 1)));
    }
    links.push(format!("<{}>; rel=\"first\"", link_for(1)));
    if pages.with_totals() {
        links.push(format!("<{}>; rel=\"last\"", link_for(pages.total_pages())));
    }
    links.join(", ")
}

/// Keyset pagination over `sorted` (already in the order asked for, descending if
/// `desc`): the page after the item the `cursor` parameter names, and a `Link` to the
/// next page while there is one. Like GitLab it sends no totals and no `X-Page`.
pub(super) fn keyset<T: Copy>(
    app: &App,
    req: &Req,
    sorted: &[T],
    desc: bool,
    key: impl Fn(T) -> SortKey,
    render: impl Fn(T) -> Value,
) -> ApiResult {
    let per_page = per_page(req)?;
    let cursor = match req.params.get("cursor") {
        Some(c) => Some(
            decode_cursor(c)
                .ok_or_else(|| ApiError::bad_request_error("cursor is invalid".into()))?,
        ),
        None => None,
    };
    let start = match &cursor {
        None => 0,
        Some(c) => sorted.partition_point(|i| {
            let ord = key(*i).cmp(c);
            if desc {
                ord == Ordering::Greater || ord == Ordering::Equal
            } else {
                ord != Ordering::Greater
            }
        }),
    };
    let page: Vec<T> = sorted.iter().skip(start).take(per_page).copied().collect();
    let items: Vec<Value> = page.iter().map(|i| render(*i)).collect();
    let mut response = json_status(StatusCode::OK, Value::Array(items));
    set_header(&mut response, "x-per-page", &per_page.to_string());
    if start + per_page < sorted.len() {
        let last = page.last().expect("a full page has a last item");
        let mut query = query_pairs(req);
        query.retain(|(k, _)| k != "cursor");
        query.push(("cursor".into(), encode_cursor(&key(*last))));
        let next = page_url(app, req, query);
        set_header(&mut response, "link", &format!("<{next}>; rel=\"next\""));
    }
    Ok(response)
}

/// `per_page`, 20 unless asked, and never outside 1..=100, as GitLab clamps it.
fn per_page(req: &Req) -> Result<usize, ApiError> {
    Ok(req.params.int("per_page")?.unwrap_or(20).clamp(1, 100) as usize)
}

/// The request's own query, so that links keep the client's filters.
fn query_pairs(req: &Req) -> Vec<(String, String)> {
    form_urlencoded::parse(req.uri.query().unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

/// The request's URL on this sandbox with `query` in place of its own.
fn page_url(app: &App, req: &Req, query: Vec<(String, String)>) -> String {
    let encoded = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(query)
        .finish();
    format!("{}{}?{}", app.base_url, req.uri.path(), encoded)
}

fn encode_cursor(key: &SortKey) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&json!([key.0, key.1])).expect("a cursor serialises"))
}

fn decode_cursor(cursor: &str) -> Option<SortKey> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor).ok()?;
    let (k, id): SortKey = serde_json::from_slice(&bytes).ok()?;
    Some((k, id))
}
