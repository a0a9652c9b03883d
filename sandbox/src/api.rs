//! The routes: GitLab's API v4 under `/api/v4`, the sandbox's own under `/-/sandbox`.

use std::cmp::Ordering as CmpOrdering;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, MatchedPath, Path, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD as BASE64, URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sha1::{Digest, Sha1};

use crate::App;
use crate::error::ApiError;
use crate::faults::{Faults, LostResponse};
use crate::model::{Board, BoardList, Commit, Issue, Label, Note, Project, RepoFile, ts};
use crate::params::Params;

type Shared = State<Arc<App>>;
type ApiResult = Result<Response, ApiError>;

const TITLE_MAX: usize = 255;
const DESCRIPTION_MAX: usize = 1_048_576;
const DEFAULT_LABEL_COLOR: &str = "#6699cc";
/// GitLab leaves totals out of pagination headers above this many records.
const TOTALS_LIMIT: usize = 10_000;

pub(crate) fn router(app: Arc<App>) -> Router {
    let api = Router::new()
        .route("/user", get(current_user))
        .route("/users", get(list_users))
        .route("/users/{user_id}", get(get_user))
        .route("/projects/{id}", get(get_project))
        .route("/projects/{id}/issues", get(list_issues).post(create_issue))
        .route(
            "/projects/{id}/issues/{iid}",
            get(get_issue).put(edit_issue),
        )
        .route(
            "/projects/{id}/issues/{iid}/notes",
            get(list_notes).post(create_note),
        )
        .route(
            "/projects/{id}/labels",
            get(list_labels).post(create_label).put(edit_label_by_param),
        )
        .route(
            "/projects/{id}/labels/{label_id}",
            get(get_label).put(edit_label),
        )
        .route("/projects/{id}/boards", get(list_boards).post(create_board))
        .route("/projects/{id}/boards/{board_id}", get(get_board))
        .route(
            "/projects/{id}/boards/{board_id}/lists",
            get(list_board_lists).post(create_board_list),
        )
        .route(
            "/projects/{id}/boards/{board_id}/lists/{list_id}",
            get(get_board_list).put(move_board_list),
        )
        .route(
            "/projects/{id}/repository/files/{file_path}",
            get(get_file)
                .head(head_file)
                .post(create_file)
                .put(update_file),
        )
        .route(
            "/projects/{id}/repository/files/{file_path}/raw",
            get(raw_file),
        )
        .route("/projects/{id}/hooks", get(list_hooks).post(create_hook))
        .fallback(|| async { ApiError::no_route() })
        .layer(middleware::from_fn_with_state(
            app.clone(),
            gitlab_middleware,
        ));
    let own = Router::new()
        .route("/stats", get(get_stats))
        .route("/stats/reset", post(reset_stats))
        .route("/faults", put(put_faults).get(get_faults));
    Router::new()
        .nest("/api/v4", api)
        .nest("/-/sandbox", own)
        .fallback(|| async { ApiError::no_route() })
        .with_state(app)
}

// ---------------------------------------------------------------------------------------
// Middleware: authentication, faults, rate limits, statistics, persistence.

async fn gitlab_middleware(State(app): Shared, request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| {
            p.as_str()
                .trim_start_matches("/api/v4")
                .replace('{', ":")
                .replace('}', "")
        })
        .unwrap_or_else(|| "(no route)".to_owned());
    let is_write = !matches!(method, Method::GET | Method::HEAD);
    // Tests looking at the sandbox's state ask to be left out of faults and statistics,
    // so that looking does not change what is being measured.
    let observer = request.headers().contains_key(OBSERVER_HEADER);
    let faults = if observer {
        Faults::default()
    } else {
        app.faults.lock().clone()
    };
    let decision = if observer {
        Faults::default().decide(0)
    } else {
        faults.decide(app.next_seq())
    };
    let now = Utc::now().timestamp(); // rate-limit windows: whole seconds

    if decision.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(decision.latency_ms)).await;
    }

    let response = 'handled: {
        if let Some(limit) = faults.rate_limit_per_minute {
            let observed = app.api_window.lock().hit(now);
            if observed > limit {
                let mut r = (StatusCode::TOO_MANY_REQUESTS, "Retry later\n").into_response();
                let reset = (now.div_euclid(60) + 1) * 60;
                set_header(&mut r, "retry-after", &(reset - now).max(1).to_string());
                let reset_time = DateTime::from_timestamp(reset, 0).unwrap_or_default();
                set_header(
                    &mut r,
                    "ratelimit-resettime",
                    &reset_time.format("%a, %d %b %Y %H:%M:%S GMT").to_string(),
                );
                break 'handled r;
            }
        }
        if decision.throttle {
            let mut r = (StatusCode::TOO_MANY_REQUESTS, "Retry later\n").into_response();
            set_header(
                &mut r,
                "retry-after",
                &faults.throttle_retry_after.to_string(),
            );
            break 'handled r;
        }
        if !authenticated(&app, request.headers()) {
            break 'handled ApiError::unauthorized().into_response();
        }
        if let Some(code) = decision.error {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let body = format!("<html><body><h1>{code}</h1>injected by the sandbox</body></html>");
            break 'handled (status, [("content-type", "text/html")], body).into_response();
        }
        if method == Method::POST
            && route == "/projects/:id/issues"
            && let Some(limit) = faults.issue_create_limit_per_minute
            && app.create_window.lock().hit(now) > limit
        {
            break 'handled (
                        StatusCode::TOO_MANY_REQUESTS,
                        axum::Json(json!({"message": {"error": "This endpoint has been requested too many times. Try again later."}})),
                    )
                        .into_response();
        }
        let response = next.run(request).await;
        if is_write && response.status().is_success() {
            app.save();
            if let Some(lost) = decision.lose {
                break 'handled lose(response, lost);
            }
        }
        response
    };

    let mut response = response;
    if let Some(limit) = faults.rate_limit_per_minute {
        let observed = app.api_window.lock().observed(now);
        set_header(&mut response, "ratelimit-limit", &limit.to_string());
        set_header(
            &mut response,
            "ratelimit-name",
            "throttle_authenticated_api",
        );
        set_header(&mut response, "ratelimit-observed", &observed.to_string());
        set_header(
            &mut response,
            "ratelimit-remaining",
            &limit.saturating_sub(observed).to_string(),
        );
        set_header(
            &mut response,
            "ratelimit-reset",
            &((now.div_euclid(60) + 1) * 60).to_string(),
        );
    }
    if !observer {
        app.stats
            .lock()
            .record(method.as_str(), &route, response.status().as_u16());
    }
    response
}

/// A request with this header is not faulted, throttled or counted.
pub const OBSERVER_HEADER: &str = "x-sandbox-observer";

/// A write went through but its answer never arrives whole.
fn lose(response: Response, how: LostResponse) -> Response {
    match how {
        LostResponse::BadGateway => (
            StatusCode::BAD_GATEWAY,
            [("content-type", "text/html")],
            "<html><body><h1>502 Bad Gateway</h1></body></html>",
        )
            .into_response(),
        LostResponse::Dropped => {
            let (mut parts, _) = response.into_parts();
            parts.headers.remove(axum::http::header::CONTENT_LENGTH);
            let broken = futures_util::stream::once(async {
                Err::<Bytes, std::io::Error>(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "dropped by the sandbox",
                ))
            });
            Response::from_parts(parts, Body::from_stream(broken))
        }
    }
}

fn authenticated(app: &App, headers: &HeaderMap) -> bool {
    let private = headers.get("private-token").and_then(|v| v.to_str().ok());
    let bearer = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    private
        .or(bearer)
        .is_some_and(|t| !app.token.is_empty() && t == app.token)
}

fn set_header(response: &mut Response, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        response
            .headers_mut()
            .insert(HeaderName::from_static(name), v);
    }
}

// ---------------------------------------------------------------------------------------
// Request parameters.

/// The merged query and body parameters, and the URI (for pagination links).
pub(crate) struct Req {
    params: Params,
    uri: Uri,
}

impl<S: Send + Sync> FromRequest<S> for Req {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        // Inside a nested router the URI lacks the `/api/v4` prefix; links need it.
        let uri = request
            .extensions()
            .get::<axum::extract::OriginalUri>()
            .map_or_else(|| request.uri().clone(), |o| o.0.clone());
        let headers = request.headers().clone();
        let body = Bytes::from_request(request, state)
            .await
            .map_err(|_| ApiError::bad_request("400 Bad request - unreadable body"))?;
        let params = Params::parse(&headers, uri.query(), &body)?;
        Ok(Req { params, uri })
    }
}

fn project_idx(state: &crate::model::State, id: &str) -> Result<usize, ApiError> {
    state
        .project_index(id)
        .ok_or_else(|| ApiError::not_found("Project"))
}

fn json_status(status: StatusCode, value: Value) -> Response {
    (status, axum::Json(value)).into_response()
}

fn ok(value: Value) -> ApiResult {
    Ok(json_status(StatusCode::OK, value))
}

fn created(value: Value) -> ApiResult {
    Ok(json_status(StatusCode::CREATED, value))
}

fn parse_time(params: &Params, name: &str) -> Result<Option<DateTime<Utc>>, ApiError> {
    match params.get(name) {
        None | Some("") => Ok(None),
        Some(v) => DateTime::parse_from_rfc3339(v)
            .map(|t| Some(t.with_timezone(&Utc)))
            .map_err(|_| ApiError::bad_request_error(format!("{name} is invalid"))),
    }
}

/// Offset pagination with GitLab's headers and `Link`, or keyset pagination when asked.
fn paginate(app: &App, req: &Req, items: Vec<Value>) -> ApiResult {
    paginate_with(app, req, items, |v| v)
}

/// [`paginate`], rendering only the items of the page asked for.
fn paginate_with<T, R: serde::Serialize>(
    app: &App,
    req: &Req,
    items: Vec<T>,
    render: impl Fn(T) -> R,
) -> ApiResult {
    let per_page = req.params.int("per_page")?.unwrap_or(20).clamp(1, 100) as usize;
    let page = req.params.int("page")?.unwrap_or(1).max(1) as usize;
    let total = items.len();
    let total_pages = total.div_ceil(per_page).max(1);
    let start = (page - 1).saturating_mul(per_page).min(total);
    let slice: Vec<R> = items
        .into_iter()
        .skip(start)
        .take(per_page)
        .map(render)
        .collect();
    let has_next = start + per_page < total;

    let link_for = |p: usize| {
        let mut query: Vec<(String, String)> = req
            .uri
            .query()
            .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
            .unwrap_or_default();
        query.retain(|(k, _)| k != "page" && k != "per_page");
        query.push(("page".into(), p.to_string()));
        query.push(("per_page".into(), per_page.to_string()));
        let encoded = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(query)
            .finish();
        format!("{}{}?{}", app.base_url, req.uri.path(), encoded)
    };
    let mut links = Vec::new();
    if page > 1 {
        links.push(format!("<{}>; rel=\"prev\"", link_for(page - 1)));
    }
    if has_next {
        links.push(format!("<{}>; rel=\"next\"", link_for(page + 1)));
    }
    links.push(format!("<{}>; rel=\"first\"", link_for(1)));
    let with_totals = total <= TOTALS_LIMIT;
    if with_totals {
        links.push(format!("<{}>; rel=\"last\"", link_for(total_pages)));
    }

    let mut response = (StatusCode::OK, axum::Json(slice)).into_response();
    set_header(&mut response, "x-page", &page.to_string());
    set_header(&mut response, "x-per-page", &per_page.to_string());
    set_header(
        &mut response,
        "x-next-page",
        &if has_next {
            (page + 1).to_string()
        } else {
            String::new()
        },
    );
    set_header(
        &mut response,
        "x-prev-page",
        &if page > 1 {
            (page - 1).to_string()
        } else {
            String::new()
        },
    );
    if with_totals {
        set_header(&mut response, "x-total", &total.to_string());
        set_header(&mut response, "x-total-pages", &total_pages.to_string());
    }
    set_header(&mut response, "link", &links.join(", "));
    Ok(response)
}

// ---------------------------------------------------------------------------------------
// Users and projects.

async fn current_user(State(app): Shared) -> ApiResult {
    let state = app.state.lock();
    let render = app.render(&state);
    let root = state.user(app.root_id).expect("root exists");
    let mut v = render.user_full(root);
    v["is_admin"] = json!(true);
    v["email"] = json!(format!("{}@sandbox.invalid", root.username));
    ok(v)
}

async fn list_users(State(app): Shared, req: Req) -> ApiResult {
    let items = {
        let state = app.state.lock();
        let render = app.render(&state);
        let username = req.params.get("username").map(str::to_lowercase);
        let search = req.params.get("search").map(str::to_lowercase);
        let mut users: Vec<_> = state
            .users
            .iter()
            .filter(|u| {
                username
                    .as_ref()
                    .is_none_or(|n| u.username.to_lowercase() == *n)
            })
            .filter(|u| {
                search.as_ref().is_none_or(|s| {
                    u.username.to_lowercase().contains(s) || u.name.to_lowercase().contains(s)
                })
            })
            .collect();
        users.sort_by_key(|u| std::cmp::Reverse(u.id));
        users.iter().map(|u| render.user_basic(u.id)).collect()
    };
    paginate(&app, &req, items)
}

async fn get_user(State(app): Shared, Path(user_id): Path<String>) -> ApiResult {
    let state = app.state.lock();
    let render = app.render(&state);
    let user = user_id
        .parse()
        .ok()
        .and_then(|id| state.user(id))
        .ok_or_else(|| ApiError::not_found("User"))?;
    ok(render.user_full(user))
}

async fn get_project(State(app): Shared, Path(id): Path<String>) -> ApiResult {
    let state = app.state.lock();
    let pi = project_idx(&state, &id)?;
    ok(app.render(&state).project(&state.projects[pi]))
}

// ---------------------------------------------------------------------------------------
// Issues.

/// GitLab's `search` matches words, not substrings.
fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
}

fn matches_search(issue: &Issue, query: &str, in_fields: &[String]) -> bool {
    let mut haystack: Vec<String> = Vec::new();
    let fields: Vec<&str> = if in_fields.is_empty() {
        vec!["title", "description"]
    } else {
        in_fields.iter().map(String::as_str).collect()
    };
    if fields.contains(&"title") {
        haystack.extend(words(&issue.title));
    }
    if fields.contains(&"description") {
        haystack.extend(words(issue.description.as_deref().unwrap_or("")));
    }
    words(query).all(|w| haystack.contains(&w))
}

/// The order `issue_sort_key` gives, without building the keys (lists sort often).
fn compare_issues(a: &Issue, b: &Issue, order_by: &str) -> CmpOrdering {
    let primary = match order_by {
        "updated_at" => a.updated_at.cmp(&b.updated_at),
        "title" => a.title.to_lowercase().cmp(&b.title.to_lowercase()),
        "id" => CmpOrdering::Equal,
        _ => a.created_at.cmp(&b.created_at),
    };
    primary.then(a.id.cmp(&b.id))
}

/// An issue's position in a sort order, as a keyset cursor stores it.
fn issue_sort_key(issue: &Issue, order_by: &str) -> (String, u64) {
    let key = match order_by {
        "updated_at" => ts(issue.updated_at),
        "title" => issue.title.to_lowercase(),
        "id" => format!("{:020}", issue.id),
        _ => ts(issue.created_at),
    };
    (key, issue.id)
}

async fn list_issues(State(app): Shared, Path(id): Path<String>, req: Req) -> ApiResult {
    let p = &req.params;
    let state_filter = p.get("state").unwrap_or("all").to_owned();
    if !matches!(state_filter.as_str(), "opened" | "closed" | "all") {
        return Err(ApiError::bad_request_error(
            "state does not have a valid value".into(),
        ));
    }
    let labels = p.list("labels");
    let iids: Option<Vec<u64>> = p
        .list("iids")
        .map(|v| v.iter().filter_map(|s| s.parse().ok()).collect());
    let search = p.get("search").map(str::to_owned);
    let in_fields = p.list("in").unwrap_or_default();
    let created_after = parse_time(p, "created_after")?;
    let created_before = parse_time(p, "created_before")?;
    let updated_after = parse_time(p, "updated_after")?;
    let updated_before = parse_time(p, "updated_before")?;
    let assignee = p.get("assignee_id").map(str::to_owned);
    let confidential = p.bool("confidential")?;
    let order_by = p.get("order_by").unwrap_or("created_at").to_owned();
    let valid_order = [
        "created_at",
        "updated_at",
        "title",
        "id",
        "priority",
        "due_date",
        "relative_position",
        "label_priority",
        "milestone_due",
        "popularity",
        "weight",
    ];
    if !valid_order.contains(&order_by.as_str()) {
        return Err(ApiError::bad_request_error(
            "order_by does not have a valid value".into(),
        ));
    }
    let desc = match p.get("sort").unwrap_or("desc") {
        "asc" => false,
        "desc" => true,
        _ => {
            return Err(ApiError::bad_request_error(
                "sort does not have a valid value".into(),
            ));
        }
    };
    let keyset = p.get("pagination") == Some("keyset");

    let state = app.state.lock();
    let pi = project_idx(&state, &id)?;
    let project = &state.projects[pi];
    let mut selected: Vec<&Issue> = project
        .issues
        .iter()
        .filter(|i| state_filter == "all" || i.state == state_filter)
        .filter(|i| match labels.as_deref() {
            None => true,
            Some([only]) if only.eq_ignore_ascii_case("none") => i.labels.is_empty(),
            Some([only]) if only.eq_ignore_ascii_case("any") => !i.labels.is_empty(),
            Some(wanted) => wanted
                .iter()
                .all(|l| i.labels.iter().any(|have| have.eq_ignore_ascii_case(l))),
        })
        .filter(|i| iids.as_ref().is_none_or(|ids| ids.contains(&i.iid)))
        .filter(|i| {
            search
                .as_ref()
                .is_none_or(|q| matches_search(i, q, &in_fields))
        })
        .filter(|i| created_after.is_none_or(|t| i.created_at >= t))
        .filter(|i| created_before.is_none_or(|t| i.created_at <= t))
        .filter(|i| updated_after.is_none_or(|t| i.updated_at >= t))
        .filter(|i| updated_before.is_none_or(|t| i.updated_at <= t))
        .filter(|i| confidential.is_none_or(|c| i.confidential == c))
        .filter(|i| match assignee.as_deref() {
            None => true,
            Some(a) if a.eq_ignore_ascii_case("none") => i.assignee_ids.is_empty(),
            Some(a) if a.eq_ignore_ascii_case("any") => !i.assignee_ids.is_empty(),
            Some(a) => a
                .parse::<u64>()
                .is_ok_and(|id| i.assignee_ids.contains(&id)),
        })
        .collect();
    selected.sort_by(|a, b| {
        let ord = compare_issues(a, b, &order_by);
        if desc { ord.reverse() } else { ord }
    });
    let render = app.render(&state);

    if keyset {
        let per_page = p.int("per_page")?.unwrap_or(20).clamp(1, 100) as usize;
        let cursor = match p.get("cursor") {
            Some(c) => Some(
                decode_cursor(c)
                    .ok_or_else(|| ApiError::bad_request_error("cursor is invalid".into()))?,
            ),
            None => None,
        };
        let start = match &cursor {
            None => 0,
            Some(c) => selected.partition_point(|i| {
                let k = issue_sort_key(i, &order_by);
                let ord = k.cmp(c);
                if desc {
                    ord == CmpOrdering::Greater || ord == CmpOrdering::Equal
                } else {
                    ord != CmpOrdering::Greater
                }
            }),
        };
        let page: Vec<&Issue> = selected
            .iter()
            .skip(start)
            .take(per_page)
            .copied()
            .collect();
        let items: Vec<Value> = page.iter().map(|i| render.issue(project, i)).collect();
        let mut response = json_status(StatusCode::OK, Value::Array(items));
        set_header(&mut response, "x-per-page", &per_page.to_string());
        if start + per_page < selected.len() {
            let last = page.last().expect("a full page has a last item");
            let cursor = encode_cursor(&issue_sort_key(last, &order_by));
            let mut query: Vec<(String, String)> =
                form_urlencoded::parse(req.uri.query().unwrap_or("").as_bytes())
                    .into_owned()
                    .collect();
            query.retain(|(k, _)| k != "cursor");
            query.push(("cursor".into(), cursor));
            let encoded = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(query)
                .finish();
            set_header(
                &mut response,
                "link",
                &format!(
                    "<{}{}?{}>; rel=\"next\"",
                    app.base_url,
                    req.uri.path(),
                    encoded
                ),
            );
        }
        return Ok(response);
    }

    paginate_with(&app, &req, selected, |i| render.issue_json(project, i))
}

fn encode_cursor(key: &(String, u64)) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&json!([key.0, key.1])).expect("a cursor serialises"))
}

fn decode_cursor(cursor: &str) -> Option<(String, u64)> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor).ok()?;
    let (k, id): (String, u64) = serde_json::from_slice(&bytes).ok()?;
    Some((k, id))
}

fn find_issue(project: &Project, iid: &str) -> Result<usize, ApiError> {
    let iid: u64 = iid.parse().map_err(|_| ApiError::not_found_plain())?;
    project
        .issues
        .iter()
        .position(|i| i.iid == iid)
        .ok_or_else(ApiError::not_found_plain)
}

async fn get_issue(State(app): Shared, Path((id, iid)): Path<(String, String)>) -> ApiResult {
    let state = app.state.lock();
    let pi = project_idx(&state, &id)?;
    let project = &state.projects[pi];
    let ii = find_issue(project, &iid)?;
    ok(app.render(&state).issue(project, &project.issues[ii]))
}

fn validate_title(title: &str) -> Result<(), ApiError> {
    if title.trim().is_empty() {
        return Err(ApiError::invalid("title", "can't be blank"));
    }
    if title.chars().count() > TITLE_MAX {
        return Err(ApiError::invalid(
            "title",
            "is too long (maximum is 255 characters)",
        ));
    }
    Ok(())
}

fn validate_description(description: &str) -> Result<(), ApiError> {
    if description.chars().count() > DESCRIPTION_MAX {
        return Err(ApiError::invalid(
            "description",
            "is too long (maximum is 1048576 characters)",
        ));
    }
    Ok(())
}

/// Label names as GitLab stores them on an issue: existing labels keep their spelling,
/// unknown ones are created as project labels.
fn ensure_labels(state: &mut crate::model::State, pi: usize, names: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for name in names {
        let existing = state.projects[pi]
            .labels
            .iter()
            .find(|l| l.name.eq_ignore_ascii_case(name))
            .map(|l| l.name.clone());
        let name = match existing {
            Some(n) => n,
            None => {
                let id = state.next_id();
                state.projects[pi].labels.push(Label {
                    id,
                    name: name.clone(),
                    color: DEFAULT_LABEL_COLOR.to_owned(),
                    description: None,
                    priority: None,
                });
                name.clone()
            }
        };
        if !out.contains(&name) {
            out.push(name);
        }
    }
    out
}

/// Assignees as GitLab Free keeps them: the first id of a user that exists, or none.
fn assignees(state: &crate::model::State, params: &Params) -> Option<Vec<u64>> {
    let raw = params
        .list("assignee_ids")
        .or_else(|| params.get("assignee_id").map(|v| vec![v.to_owned()]))?;
    let ids: Vec<u64> = raw
        .iter()
        .filter_map(|v| v.parse().ok())
        .filter(|id| *id != 0 && state.user(*id).is_some())
        .collect();
    Some(ids.into_iter().take(1).collect())
}

async fn create_issue(State(app): Shared, Path(id): Path<String>, req: Req) -> ApiResult {
    let p = &req.params;
    let mut state = app.state.lock();
    let pi = project_idx(&state, &id)?;
    let title = p
        .get("title")
        .ok_or_else(|| ApiError::missing("title"))?
        .to_owned();
    validate_title(&title)?;
    let description = p.get("description").map(str::to_owned);
    if let Some(d) = &description {
        validate_description(d)?;
    }
    let confidential = p.bool("confidential")?.unwrap_or(false);
    let assignee_ids = assignees(&state, p).unwrap_or_default();
    let labels = ensure_labels(&mut state, pi, &p.list("labels").unwrap_or_default());
    let now = crate::model::now();
    let issue_id = state.next_id();
    let project = &mut state.projects[pi];
    // Issues are kept in iid order, so the last one has the highest iid.
    let iid = project.issues.last().map_or(0, |i| i.iid) + 1;
    project.issues.push(Issue {
        id: issue_id,
        iid,
        title,
        description,
        state: "opened".to_owned(),
        labels,
        assignee_ids,
        author_id: app.root_id,
        confidential,
        created_at: now,
        updated_at: now,
        closed_at: None,
        closed_by: None,
        notes: Vec::new(),
    });
    let project = &state.projects[pi];
    created(
        app.render(&state)
            .issue(project, project.issues.last().expect("just pushed")),
    )
}

const EDIT_PARAMS: [&str; 14] = [
    "assignee_id",
    "assignee_ids",
    "confidential",
    "created_at",
    "description",
    "discussion_locked",
    "due_date",
    "issue_type",
    "labels",
    "milestone_id",
    "state_event",
    "title",
    "add_labels",
    "remove_labels",
];

async fn edit_issue(
    State(app): Shared,
    Path((id, iid)): Path<(String, String)>,
    req: Req,
) -> ApiResult {
    let p = &req.params;
    let mut state = app.state.lock();
    let pi = project_idx(&state, &id)?;
    let ii = find_issue(&state.projects[pi], &iid)?;
    if !EDIT_PARAMS.iter().any(|k| p.has(k)) {
        return Err(ApiError::bad_request_error(format!(
            "{} are missing, at least one parameter must be provided",
            EDIT_PARAMS.join(", ")
        )));
    }
    let title = p.get("title").map(str::to_owned);
    if let Some(t) = &title {
        validate_title(t)?;
    }
    let description = p.get("description").map(str::to_owned);
    if let Some(d) = &description {
        validate_description(d)?;
    }
    let state_event = p.get("state_event").map(str::to_owned);
    if let Some(e) = &state_event
        && e != "close"
        && e != "reopen"
    {
        return Err(ApiError::bad_request_error(
            "state_event does not have a valid value".into(),
        ));
    }
    let confidential = p.bool("confidential")?;
    let new_assignees = if p.has("assignee_ids") || p.has("assignee_id") {
        assignees(&state, p)
    } else {
        None
    };
    let replace_labels = p.list("labels").map(|l| ensure_labels(&mut state, pi, &l));
    let add_labels = p
        .list("add_labels")
        .map(|l| ensure_labels(&mut state, pi, &l));
    let remove_labels = p.list("remove_labels");

    let now = crate::model::now();
    let root = app.root_id;
    let issue = &mut state.projects[pi].issues[ii];
    let before = serde_json::to_value(&*issue).expect("an issue serialises");
    if let Some(t) = title {
        issue.title = t;
    }
    if let Some(d) = description {
        issue.description = Some(d);
    }
    if let Some(c) = confidential {
        issue.confidential = c;
    }
    if let Some(a) = new_assignees {
        issue.assignee_ids = a;
    }
    if let Some(l) = replace_labels {
        issue.labels = l;
    }
    if let Some(add) = add_labels {
        for l in add {
            if !issue.labels.contains(&l) {
                issue.labels.push(l);
            }
        }
    }
    if let Some(remove) = remove_labels {
        issue
            .labels
            .retain(|have| !remove.iter().any(|r| r.eq_ignore_ascii_case(have)));
    }
    match state_event.as_deref() {
        Some("close") if issue.state == "opened" => {
            issue.state = "closed".to_owned();
            issue.closed_at = Some(now);
            issue.closed_by = Some(root);
        }
        Some("reopen") if issue.state == "closed" => {
            issue.state = "opened".to_owned();
            issue.closed_at = None;
            issue.closed_by = None;
        }
        _ => {}
    }
    if serde_json::to_value(&*issue).expect("an issue serialises") != before {
        issue.updated_at = now;
    }
    let project = &state.projects[pi];
    ok(app.render(&state).issue(project, &project.issues[ii]))
}

// ---------------------------------------------------------------------------------------
// Notes.

async fn list_notes(
    State(app): Shared,
    Path((id, iid)): Path<(String, String)>,
    req: Req,
) -> ApiResult {
    let items = {
        let state = app.state.lock();
        let pi = project_idx(&state, &id)?;
        let project = &state.projects[pi];
        let issue = &project.issues[find_issue(project, &iid)?];
        let render = app.render(&state);
        let mut notes: Vec<&Note> = issue.notes.iter().collect();
        if req.params.get("sort") != Some("asc") {
            notes.reverse();
        }
        notes
            .iter()
            .map(|n| render.note(project, issue, n))
            .collect()
    };
    paginate(&app, &req, items)
}

async fn create_note(
    State(app): Shared,
    Path((id, iid)): Path<(String, String)>,
    req: Req,
) -> ApiResult {
    let mut state = app.state.lock();
    let pi = project_idx(&state, &id)?;
    let ii = find_issue(&state.projects[pi], &iid)?;
    let body = req
        .params
        .get("body")
        .ok_or_else(|| ApiError::missing("body"))?
        .to_owned();
    if body.trim().is_empty() {
        return Err(ApiError::invalid("note", "can't be blank"));
    }
    let internal = req
        .params
        .bool("internal")?
        .or(req.params.bool("confidential")?)
        .unwrap_or(false);
    let note_id = state.next_id();
    let now = crate::model::now();
    state.projects[pi].issues[ii].notes.push(Note {
        id: note_id,
        body,
        author_id: app.root_id,
        internal,
        created_at: now,
    });
    let project = &state.projects[pi];
    let issue = &project.issues[ii];
    created(
        app.render(&state)
            .note(project, issue, issue.notes.last().expect("just pushed")),
    )
}

// ---------------------------------------------------------------------------------------
// Labels.

fn valid_color(color: &str) -> bool {
    const NAMES: [&str; 16] = [
        "black", "silver", "gray", "white", "maroon", "red", "purple", "fuchsia", "green", "lime",
        "olive", "yellow", "navy", "blue", "teal", "aqua",
    ];
    match color.strip_prefix('#') {
        Some(hex) => {
            (hex.len() == 6 || hex.len() == 3) && hex.chars().all(|c| c.is_ascii_hexdigit())
        }
        None => NAMES.contains(&color.to_ascii_lowercase().as_str()),
    }
}

fn find_label(project: &Project, label_id: &str) -> Result<usize, ApiError> {
    let by_id = label_id
        .parse::<u64>()
        .ok()
        .and_then(|n| project.labels.iter().position(|l| l.id == n));
    by_id
        .or_else(|| project.labels.iter().position(|l| l.name == label_id))
        .ok_or_else(|| ApiError::not_found("Label"))
}

async fn list_labels(State(app): Shared, Path(id): Path<String>, req: Req) -> ApiResult {
    let items = {
        let state = app.state.lock();
        let pi = project_idx(&state, &id)?;
        let project = &state.projects[pi];
        let render = app.render(&state);
        let search = req.params.get("search").map(str::to_lowercase);
        let mut labels: Vec<&Label> = project
            .labels
            .iter()
            .filter(|l| {
                search
                    .as_ref()
                    .is_none_or(|s| l.name.to_lowercase().contains(s))
            })
            .collect();
        labels.sort_by_key(|l| l.name.to_lowercase());
        labels.iter().map(|l| render.label(project, l)).collect()
    };
    paginate(&app, &req, items)
}

async fn get_label(State(app): Shared, Path((id, label_id)): Path<(String, String)>) -> ApiResult {
    let state = app.state.lock();
    let pi = project_idx(&state, &id)?;
    let project = &state.projects[pi];
    let li = find_label(project, &label_id)?;
    ok(app.render(&state).label(project, &project.labels[li]))
}

async fn create_label(State(app): Shared, Path(id): Path<String>, req: Req) -> ApiResult {
    let p = &req.params;
    let mut state = app.state.lock();
    let pi = project_idx(&state, &id)?;
    let name = p
        .get("name")
        .ok_or_else(|| ApiError::missing("name"))?
        .trim()
        .to_owned();
    let color = p
        .get("color")
        .ok_or_else(|| ApiError::missing("color"))?
        .to_owned();
    if name.is_empty() {
        return Err(ApiError::invalid("title", "can't be blank"));
    }
    if name.contains(',') || name.chars().count() > 255 {
        return Err(ApiError::invalid("title", "is invalid"));
    }
    if !valid_color(&color) {
        return Err(ApiError::invalid("color", "must be a valid color code"));
    }
    if state.projects[pi].label(&name).is_some() {
        return Err(ApiError::conflict("Label already exists"));
    }
    let label_id = state.next_id();
    let label = Label {
        id: label_id,
        name,
        color,
        description: p.get("description").map(str::to_owned),
        priority: p.int("priority")?,
    };
    state.projects[pi].labels.push(label);
    let project = &state.projects[pi];
    created(
        app.render(&state)
            .label(project, project.labels.last().expect("just pushed")),
    )
}

/// The older form GitLab still serves (python-gitlab uses it): the label is named by
/// `label_id` or `name` in the parameters.
async fn edit_label_by_param(state: Shared, Path(id): Path<String>, req: Req) -> ApiResult {
    let label = req
        .params
        .get("label_id")
        .or(req.params.get("name"))
        .ok_or_else(|| ApiError::missing("label_id"))?
        .to_owned();
    edit_label(state, Path((id, label)), req).await
}

async fn edit_label(
    State(app): Shared,
    Path((id, label_id)): Path<(String, String)>,
    req: Req,
) -> ApiResult {
    let p = &req.params;
    let mut state = app.state.lock();
    let pi = project_idx(&state, &id)?;
    let li = find_label(&state.projects[pi], &label_id)?;
    if !["new_name", "color", "description", "priority", "archived"]
        .iter()
        .any(|k| p.has(k))
    {
        return Err(ApiError::bad_request_error(
            "new_name, color, description, priority, archived are missing, at least one parameter must be provided".into(),
        ));
    }
    if let Some(color) = p.get("color")
        && !valid_color(color)
    {
        return Err(ApiError::invalid("color", "must be a valid color code"));
    }
    let project = &mut state.projects[pi];
    if let Some(new_name) = p.get("new_name") {
        if project
            .labels
            .iter()
            .enumerate()
            .any(|(i, l)| i != li && l.name == new_name)
        {
            return Err(ApiError::conflict("Label already exists"));
        }
        let old = std::mem::replace(&mut project.labels[li].name, new_name.to_owned());
        for issue in &mut project.issues {
            for l in &mut issue.labels {
                if *l == old {
                    *l = new_name.to_owned();
                }
            }
        }
    }
    let label = &mut project.labels[li];
    if let Some(color) = p.get("color") {
        label.color = color.to_owned();
    }
    if let Some(d) = p.get("description") {
        label.description = Some(d.to_owned());
    }
    if p.has("priority") {
        label.priority = p.int("priority")?;
    }
    let project = &state.projects[pi];
    ok(app.render(&state).label(project, &project.labels[li]))
}

// ---------------------------------------------------------------------------------------
// Boards.

fn find_board(project: &Project, board_id: &str) -> Result<usize, ApiError> {
    board_id
        .parse::<u64>()
        .ok()
        .and_then(|n| project.boards.iter().position(|b| b.id == n))
        .ok_or_else(|| ApiError::not_found("Board"))
}

async fn list_boards(State(app): Shared, Path(id): Path<String>, req: Req) -> ApiResult {
    let items = {
        let state = app.state.lock();
        let pi = project_idx(&state, &id)?;
        let project = &state.projects[pi];
        let render = app.render(&state);
        project
            .boards
            .iter()
            .map(|b| render.board(project, b))
            .collect()
    };
    paginate(&app, &req, items)
}

async fn get_board(State(app): Shared, Path((id, board_id)): Path<(String, String)>) -> ApiResult {
    let state = app.state.lock();
    let pi = project_idx(&state, &id)?;
    let project = &state.projects[pi];
    let bi = find_board(project, &board_id)?;
    ok(app.render(&state).board(project, &project.boards[bi]))
}

async fn create_board(State(app): Shared, Path(id): Path<String>, req: Req) -> ApiResult {
    let mut state = app.state.lock();
    let pi = project_idx(&state, &id)?;
    let name = req
        .params
        .get("name")
        .ok_or_else(|| ApiError::missing("name"))?
        .to_owned();
    let board_id = state.next_id();
    state.projects[pi].boards.push(Board {
        id: board_id,
        name,
        lists: Vec::new(),
    });
    let project = &state.projects[pi];
    created(
        app.render(&state)
            .board(project, project.boards.last().expect("just pushed")),
    )
}

async fn list_board_lists(
    State(app): Shared,
    Path((id, board_id)): Path<(String, String)>,
    req: Req,
) -> ApiResult {
    let items = {
        let state = app.state.lock();
        let pi = project_idx(&state, &id)?;
        let project = &state.projects[pi];
        let board = &project.boards[find_board(project, &board_id)?];
        let render = app.render(&state);
        board
            .lists
            .iter()
            .map(|l| render.board_list(project, l))
            .collect()
    };
    paginate(&app, &req, items)
}

async fn get_board_list(
    State(app): Shared,
    Path((id, board_id, list_id)): Path<(String, String, String)>,
) -> ApiResult {
    let state = app.state.lock();
    let pi = project_idx(&state, &id)?;
    let project = &state.projects[pi];
    let board = &project.boards[find_board(project, &board_id)?];
    let list = list_id
        .parse::<u64>()
        .ok()
        .and_then(|n| board.lists.iter().find(|l| l.id == n))
        .ok_or_else(|| ApiError::not_found("List"))?;
    ok(app.render(&state).board_list(project, list))
}

/// Reorders a list: it takes `position` and the others shift, as in GitLab.
async fn move_board_list(
    State(app): Shared,
    Path((id, board_id, list_id)): Path<(String, String, String)>,
    req: Req,
) -> ApiResult {
    let mut state = app.state.lock();
    let pi = project_idx(&state, &id)?;
    let bi = find_board(&state.projects[pi], &board_id)?;
    let position = req
        .params
        .int("position")?
        .ok_or_else(|| ApiError::missing("position"))?
        .max(0) as usize;
    let board = &mut state.projects[pi].boards[bi];
    board.lists.sort_by_key(|l| l.position);
    let from = list_id
        .parse::<u64>()
        .ok()
        .and_then(|n| board.lists.iter().position(|l| l.id == n))
        .ok_or_else(|| ApiError::not_found("List"))?;
    let list = board.lists.remove(from);
    let to = position.min(board.lists.len());
    board.lists.insert(to, list);
    for (i, l) in board.lists.iter_mut().enumerate() {
        l.position = i as u64;
    }
    let project = &state.projects[pi];
    ok(app
        .render(&state)
        .board_list(project, &project.boards[bi].lists[to]))
}

async fn create_board_list(
    State(app): Shared,
    Path((id, board_id)): Path<(String, String)>,
    req: Req,
) -> ApiResult {
    let mut state = app.state.lock();
    let pi = project_idx(&state, &id)?;
    let bi = find_board(&state.projects[pi], &board_id)?;
    let label_id = req.params.int("label_id")?.ok_or_else(|| {
        ApiError::bad_request_error(
            "label_id, assignee_id, milestone_id, iteration_id are missing, exactly one parameter must be provided".into(),
        )
    })? as u64;
    if !state.projects[pi].labels.iter().any(|l| l.id == label_id) {
        return Err(ApiError::not_found("Label"));
    }
    if state.projects[pi].boards[bi]
        .lists
        .iter()
        .any(|l| l.label_id == label_id)
    {
        return Err(ApiError::invalid("label", "has already been taken"));
    }
    let list_id = state.next_id();
    let board = &mut state.projects[pi].boards[bi];
    let position = board.lists.len() as u64;
    board.lists.push(BoardList {
        id: list_id,
        label_id,
        position,
    });
    let project = &state.projects[pi];
    created(app.render(&state).board_list(
        project,
        project.boards[bi].lists.last().expect("just pushed"),
    ))
}

// ---------------------------------------------------------------------------------------
// Repository files, on the one branch `main`.

fn sha1_hex(parts: &[&[u8]]) -> String {
    let mut hasher = Sha1::new();
    for part in parts {
        hasher.update(part);
    }
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Git's blob id: SHA-1 of `blob <len>\0<content>`.
fn blob_id(content: &[u8]) -> String {
    sha1_hex(&[format!("blob {}\0", content.len()).as_bytes(), content])
}

fn check_ref(params: &Params) -> Result<(), ApiError> {
    match params.get("ref") {
        None => Err(ApiError::missing("ref")),
        Some("main" | "HEAD" | "refs/heads/main") => Ok(()),
        Some(_) => Err(ApiError::not_found("Commit")),
    }
}

fn file_headers(response: &mut Response, path: &str, file: &RepoFile, commit_id: &str) {
    let name = path.rsplit('/').next().unwrap_or(path);
    for (header, value) in [
        ("x-gitlab-blob-id", file.blob_id.clone()),
        ("x-gitlab-commit-id", commit_id.to_owned()),
        ("x-gitlab-content-sha256", sha256_hex(&file.content)),
        ("x-gitlab-encoding", "base64".to_owned()),
        ("x-gitlab-file-name", name.to_owned()),
        ("x-gitlab-file-path", path.to_owned()),
        ("x-gitlab-last-commit-id", file.last_commit_id.clone()),
        ("x-gitlab-ref", "main".to_owned()),
        ("x-gitlab-size", file.content.len().to_string()),
        ("x-gitlab-execute-filemode", "false".to_owned()),
    ] {
        set_header(response, header, &value);
    }
}

fn sha256_hex(content: &[u8]) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(content)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn lookup_file(
    app: &App,
    id: &str,
    path: &str,
    params: &Params,
) -> Result<(RepoFile, String), ApiError> {
    let state = app.state.lock();
    let project = &state.projects[project_idx(&state, id)?];
    check_ref(params)?;
    let file = project
        .files
        .get(path)
        .cloned()
        .ok_or_else(|| ApiError::not_found("File"))?;
    let head = project
        .commits
        .last()
        .map(|c| c.id.clone())
        .unwrap_or_default();
    Ok((file, head))
}

async fn get_file(
    State(app): Shared,
    Path((id, path)): Path<(String, String)>,
    req: Req,
) -> ApiResult {
    let (file, head) = lookup_file(&app, &id, &path, &req.params)?;
    let name = path.rsplit('/').next().unwrap_or(&path).to_owned();
    let mut response = json_status(
        StatusCode::OK,
        json!({
            "file_name": name,
            "file_path": path,
            "size": file.content.len(),
            "encoding": "base64",
            "content_sha256": sha256_hex(&file.content),
            "ref": "main",
            "blob_id": file.blob_id,
            "commit_id": head,
            "last_commit_id": file.last_commit_id,
            "execute_filemode": false,
            "content": BASE64.encode(&file.content),
        }),
    );
    file_headers(&mut response, &path, &file, &head);
    Ok(response)
}

async fn head_file(
    State(app): Shared,
    Path((id, path)): Path<(String, String)>,
    req: Req,
) -> ApiResult {
    let (file, head) = lookup_file(&app, &id, &path, &req.params)?;
    let mut response = StatusCode::OK.into_response();
    file_headers(&mut response, &path, &file, &head);
    Ok(response)
}

async fn raw_file(
    State(app): Shared,
    Path((id, path)): Path<(String, String)>,
    req: Req,
) -> ApiResult {
    let mut params = req.params.clone();
    if params.get("ref").is_none() {
        // `raw` defaults to the default branch.
        params = Params::parse(&HeaderMap::new(), Some("ref=main"), &[])?;
    }
    let (file, head) = lookup_file(&app, &id, &path, &params)?;
    let mut response = (
        StatusCode::OK,
        [("content-type", "text/plain; charset=utf-8")],
        file.content.clone(),
    )
        .into_response();
    file_headers(&mut response, &path, &file, &head);
    Ok(response)
}

async fn create_file(
    State(app): Shared,
    Path((id, path)): Path<(String, String)>,
    req: Req,
) -> ApiResult {
    write_file(&app, &id, &path, &req.params, true)
}

async fn update_file(
    State(app): Shared,
    Path((id, path)): Path<(String, String)>,
    req: Req,
) -> ApiResult {
    write_file(&app, &id, &path, &req.params, false)
}

fn write_file(app: &App, id: &str, path: &str, p: &Params, create: bool) -> ApiResult {
    let mut state = app.state.lock();
    let pi = project_idx(&state, id)?;
    let branch = p.get("branch").ok_or_else(|| ApiError::missing("branch"))?;
    if branch != "main" {
        return Err(ApiError::bad_request(
            "You can only create or edit files when you are on a branch",
        ));
    }
    let message = p
        .get("commit_message")
        .ok_or_else(|| ApiError::missing("commit_message"))?
        .to_owned();
    let content = p
        .get("content")
        .ok_or_else(|| ApiError::missing("content"))?;
    let content = match p.get("encoding").unwrap_or("text") {
        "base64" => BASE64
            .decode(content)
            .map_err(|_| ApiError::bad_request("Invalid base64 content"))?,
        "text" => content.as_bytes().to_vec(),
        _ => {
            return Err(ApiError::bad_request_error(
                "encoding does not have a valid value".into(),
            ));
        }
    };
    let project = &mut state.projects[pi];
    let existing = project.files.get(path);
    match (create, existing) {
        (true, Some(_)) => {
            return Err(ApiError::bad_request(
                "A file with this name already exists",
            ));
        }
        (false, None) => return Err(ApiError::bad_request("A file with this name doesn't exist")),
        (false, Some(file)) => {
            if let Some(expected) = p.get("last_commit_id")
                && expected != file.last_commit_id
            {
                return Err(ApiError::bad_request(
                    "You are attempting to update a file that has changed since you started editing it.",
                ));
            }
        }
        (true, None) => {}
    }
    let now = crate::model::now();
    let parent = project
        .commits
        .last()
        .map(|c| c.id.clone())
        .unwrap_or_default();
    let commit_id = sha1_hex(&[
        parent.as_bytes(),
        message.as_bytes(),
        path.as_bytes(),
        &content,
        ts(now).as_bytes(),
    ]);
    project.commits.push(Commit {
        id: commit_id.clone(),
        message,
        author_name: p.get("author_name").unwrap_or("Administrator").to_owned(),
        created_at: now,
        paths: vec![path.to_owned()],
    });
    project.files.insert(
        path.to_owned(),
        RepoFile {
            blob_id: blob_id(&content),
            content,
            last_commit_id: commit_id,
        },
    );
    // A push: every project hook that wants push events hears of it, as in GitLab.
    let project = &state.projects[pi];
    let web_url = format!("{}/{}", app.base_url, project.path_with_namespace);
    let commit = project.commits.last().expect("just pushed");
    let payload = json!({
        "object_kind": "push",
        "event_name": "push",
        "before": if parent.is_empty() { "0000000000000000000000000000000000000000".to_owned() } else { parent },
        "after": commit.id,
        "ref": "refs/heads/main",
        "checkout_sha": commit.id,
        "user_username": "root",
        "project_id": project.id,
        "project": {
            "id": project.id,
            "name": project.path(),
            "path_with_namespace": project.path_with_namespace,
            "web_url": web_url,
            "default_branch": "main",
        },
        "commits": [{
            "id": commit.id,
            "message": commit.message,
            "timestamp": ts(commit.created_at),
            "url": format!("{web_url}/-/commit/{}", commit.id),
            "added": if create { vec![path] } else { vec![] },
            "modified": if create { vec![] } else { vec![path] },
            "removed": Vec::<&str>::new(),
        }],
        "total_commits_count": 1,
        "repository": {"name": project.path(), "homepage": web_url},
    });
    for hook in project.hooks.iter().filter(|h| h.push_events) {
        let (url, token, payload) = (hook.url.clone(), hook.token.clone(), payload.clone());
        tokio::spawn(async move {
            let mut request = reqwest::Client::new()
                .post(&url)
                .header("X-Gitlab-Event", "Push Hook")
                .json(&payload);
            if let Some(token) = token {
                request = request.header("X-Gitlab-Token", token);
            }
            if let Err(e) = request.send().await {
                tracing::warn!(%url, "push hook not delivered: {e}");
            }
        });
    }
    let status = if create {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(json_status(
        status,
        json!({"file_path": path, "branch": "main"}),
    ))
}

// ---------------------------------------------------------------------------------------
// Project hooks.

fn hook_json(project: &Project, hook: &crate::model::Hook) -> Value {
    json!({
        "id": hook.id,
        "url": hook.url,
        "project_id": project.id,
        "push_events": hook.push_events,
        "issues_events": false,
        "merge_requests_events": false,
        "tag_push_events": false,
        "note_events": false,
        "enable_ssl_verification": true,
        "created_at": ts(hook.created_at),
    })
}

async fn list_hooks(State(app): Shared, Path(id): Path<String>, req: Req) -> ApiResult {
    let items = {
        let state = app.state.lock();
        let project = &state.projects[project_idx(&state, &id)?];
        project
            .hooks
            .iter()
            .map(|h| hook_json(project, h))
            .collect()
    };
    paginate(&app, &req, items)
}

async fn create_hook(State(app): Shared, Path(id): Path<String>, req: Req) -> ApiResult {
    let mut state = app.state.lock();
    let pi = project_idx(&state, &id)?;
    let url = req
        .params
        .get("url")
        .ok_or_else(|| ApiError::missing("url"))?
        .to_owned();
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(ApiError::invalid(
            "url",
            "is blocked: Only allowed schemes are http, https",
        ));
    }
    let hook_id = state.next_id();
    let hook = crate::model::Hook {
        id: hook_id,
        url,
        push_events: req.params.bool("push_events")?.unwrap_or(true),
        token: req
            .params
            .get("token")
            .filter(|t| !t.is_empty())
            .map(str::to_owned),
        created_at: crate::model::now(),
    };
    state.projects[pi].hooks.push(hook);
    let project = &state.projects[pi];
    created(hook_json(
        project,
        project.hooks.last().expect("just pushed"),
    ))
}

// ---------------------------------------------------------------------------------------
// The sandbox's own endpoints.

async fn get_stats(State(app): Shared) -> Response {
    axum::Json(app.stats.lock().clone()).into_response()
}

async fn reset_stats(State(app): Shared) -> Response {
    *app.stats.lock() = Default::default();
    StatusCode::NO_CONTENT.into_response()
}

async fn get_faults(State(app): Shared) -> Response {
    axum::Json(app.faults.lock().clone()).into_response()
}

/// Sets the faults and restarts the request count, so that a seed means the same
/// faults at the same requests from here on.
async fn put_faults(State(app): Shared, body: Bytes) -> Response {
    match serde_json::from_slice::<Faults>(&body) {
        Ok(faults) => {
            *app.faults.lock() = faults.clone();
            app.seq.store(0, std::sync::atomic::Ordering::SeqCst);
            *app.api_window.lock() = Default::default();
            *app.create_window.lock() = Default::default();
            axum::Json(faults).into_response()
        }
        Err(e) => ApiError::bad_request(&format!("invalid faults: {e}")).into_response(),
    }
}
