//! The public roadmap's shell: reading what it shows from GitLab (and the pages, for
//! their titles and order), writing the site to a directory (`handbook-sync roadmap`),
//! and serving it from memory at the daemon's `/roadmap/`. The data model and the
//! rendering are the core's ([`handbook_sync_core::roadmap`], re-exported here).
//!
//! Only what GitLab says is public is published: a page whose project is private or
//! internal is left out unless `roadmap.include_private` is set, and the command's output
//! (the daemon's log) names it. The site itself never names what it leaves out.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};

pub use handbook_sync_core::roadmap::*;

use crate::config::{Config, PageSettings};
use crate::gitlab::{GitlabError, ProjectInfo};
use crate::source::SourceCache;
use crate::sync_run::{self, Connection, PageRead, RunError};

/// A configured page the roadmap does not show, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeftOut {
    /// The page id.
    pub page: String,
    /// Its project.
    pub project: String,
    /// Why: the project's visibility, or what failed.
    pub why: String,
    /// GitLab refused the token (401, 403, 404): nothing says the page is still public,
    /// so the daemon takes down what it showed of it.
    pub denied: bool,
}

/// What reading the roadmap gave.
#[derive(Debug, Clone)]
pub struct Read {
    /// The pages that may be published.
    pub roadmap: Roadmap,
    /// Pages whose project is not public (and `roadmap.include_private` is off), or
    /// that GitLab hides from the token (403, 404: `denied`): not public to it.
    pub private: Vec<LeftOut>,
    /// Pages whose project or issues could not be read.
    pub failed: Vec<LeftOut>,
    /// Pages shown without their handbook page's title and order (its source could not
    /// be read): `(page id, why)`.
    pub warnings: Vec<(String, String)>,
}

impl Read {
    /// What was written where, what was left out and why; the index's path last, the
    /// line a script may take.
    pub fn to_text(&self, dir: &Path) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        for page in &self.roadmap.pages {
            let _ = writeln!(
                out,
                "{} → {}: {} of {} closed, {} handed over, {} open",
                page.id,
                dir.join(&page.file).display(),
                page.closed,
                page.total,
                page.handed_over,
                page.open
            );
        }
        for (page, why) in &self.warnings {
            let _ = writeln!(
                out,
                "{page}: shown without its page's title and order: {why}"
            );
        }
        for left in &self.private {
            if left.denied {
                let _ = writeln!(
                    out,
                    "left out {} ({}): GitLab does not show the project to this token, so it is not public: {}",
                    left.page, left.project, left.why
                );
            } else {
                let _ = writeln!(
                    out,
                    "left out {} ({}): {}; set roadmap.include_private = true to publish it",
                    left.page, left.project, left.why
                );
            }
        }
        for left in &self.failed {
            let _ = writeln!(
                out,
                "left out {} ({}): {}",
                left.page, left.project, left.why
            );
        }
        let _ = writeln!(
            out,
            "roadmap of {} page(s), data as of {}: {}",
            self.roadmap.pages.len(),
            self.roadmap.generated_at.format("%Y-%m-%d %H:%M UTC"),
            dir.join("index.html").display()
        );
        out
    }
}

/// Reads the managed issues of the configured pages `wanted` names (all when empty)
/// and builds their roadmap; writes nothing anywhere. Pages' titles and order come from
/// `texts` when given (the daemon's memory of its last sync), else from their sources.
/// `now` is the time of the data when GitLab sends no `Date`.
pub async fn read(
    config: &Config,
    connection: &Connection,
    wanted: &[String],
    texts: Option<&SourceCache>,
    now: DateTime<Utc>,
) -> Result<Read, RunError> {
    // Discovered pages are on the roadmap too.
    let own = SourceCache::default();
    let expansion =
        crate::discover::expand(config, &connection.gitlab, texts.unwrap_or(&own)).await;
    let config = &expansion.config;
    let selected = sync_run::select_pages(config, wanted)?;
    let gitlab = &connection.gitlab;
    let mut projects: BTreeMap<&str, Result<ProjectInfo, Failure>> = BTreeMap::new();
    for page in &selected {
        if !projects.contains_key(page.project.as_str()) {
            let info = gitlab.project(&page.project).await.map_err(Failure::of);
            projects.insert(&page.project, info);
        }
    }
    let mut private = Vec::new();
    let mut failed = Vec::new();
    let mut shown: Vec<&PageSettings> = Vec::new();
    for page in &selected {
        let left_out = |why: String, denied: bool| LeftOut {
            page: page.id.clone(),
            project: page.project.clone(),
            why,
            denied,
        };
        match &projects[page.project.as_str()] {
            // A project GitLab hides from the token (403, 404) is not public to it: a
            // project made private since the last run. Left out like a private one, so
            // that the run succeeds and a Pages job deploys the site without it rather
            // than failing and leaving the last deployed site, with its issues, online.
            Err(e) if e.hidden && !config.roadmap.include_private => {
                private.push(left_out(e.why.clone(), true))
            }
            Err(e) => failed.push(left_out(e.why.clone(), e.denied)),
            Ok(info) => match not_public(info) {
                None => shown.push(page),
                Some(_) if config.roadmap.include_private => shown.push(page),
                Some(why) => private.push(left_out(why, false)),
            },
        }
    }
    // One listing per project, only of projects with a page to show.
    let mut issues = BTreeMap::new();
    let mut read_at: Option<DateTime<Utc>> = None;
    for page in &shown {
        let Ok(info) = &projects[page.project.as_str()] else {
            continue;
        };
        if issues.contains_key(page.project.as_str()) {
            continue;
        }
        let listed = gitlab
            .tracked_issues(info.id, &config.sync.managed_label)
            .await
            .map(|(list, date)| {
                // The oldest answer: nothing the roadmap shows is newer than that.
                if let Some(date) = date {
                    read_at = Some(read_at.map_or(date, |r| r.min(date)));
                }
                list
            })
            .map_err(Failure::of);
        issues.insert(page.project.as_str(), listed);
    }
    shown.retain(|page| match &issues[page.project.as_str()] {
        Ok(_) => true,
        Err(e) => {
            failed.push(LeftOut {
                page: page.id.clone(),
                project: page.project.clone(),
                why: e.why.clone(),
                denied: e.denied,
            });
            false
        }
    });
    let (orders, warnings) = page_orders(config, connection, &shown, texts).await;
    let inputs: Vec<PageInput<'_>> = shown
        .iter()
        .zip(orders)
        .map(|(page, order)| {
            let info = projects[page.project.as_str()]
                .as_ref()
                .expect("only pages of projects that were read are shown");
            PageInput {
                id: page.id.clone(),
                project: info.path_with_namespace.clone(),
                project_url: info.web_url.clone(),
                url: page.url.clone(),
                order,
                issues: issues[page.project.as_str()]
                    .as_deref()
                    .expect("only pages whose issues were read are shown"),
            }
        })
        .collect();
    let roadmap = build(&inputs, &config.sync.labels(), read_at.unwrap_or(now));
    Ok(Read {
        roadmap,
        private,
        failed,
        warnings,
    })
}

/// A read that failed: what, whether GitLab refused the token, and whether it hid the
/// project from it (403, 404: not public, to this token).
#[derive(Debug, Clone)]
struct Failure {
    why: String,
    denied: bool,
    hidden: bool,
}

impl Failure {
    fn of(e: GitlabError) -> Self {
        Failure {
            hidden: matches!(
                e,
                GitlabError::Forbidden { .. } | GitlabError::NotFound { .. }
            ),
            denied: matches!(
                e,
                GitlabError::Unauthorized { .. }
                    | GitlabError::Forbidden { .. }
                    | GitlabError::NotFound { .. }
            ),
            why: e.to_string(),
        }
    }
}

/// Why the issues of `project` are not public, if they are not: the project is not
/// public, or its issues are for members only (or off). GitLab always sends both
/// (`lib/api/entities/project.rb`); without them, nothing says the issues are public.
fn not_public(project: &ProjectInfo) -> Option<String> {
    match project.visibility.as_deref() {
        Some("public") => {}
        visibility => {
            return Some(format!(
                "the project is {}",
                visibility.unwrap_or("of unknown visibility")
            ));
        }
    }
    // `app/models/concerns/featurable.rb`: `enabled` is "everyone with access" to the
    // project; `public` is only allowed for Pages, but means the same or more.
    match project.issues_access_level.as_deref() {
        Some("enabled" | "public") => None,
        Some("private") => Some("its issues are visible to project members only".into()),
        Some("disabled") => Some("its issues are turned off".into()),
        Some(other) => Some(format!("its issues' access level is `{other}`")),
        None => Some("GitLab did not say who may see its issues".into()),
    }
}

/// Each page's title and item order: parsed from the daemon's memory of its text, or
/// read from its source. A page that cannot be read is still shown, titled by its id.
async fn page_orders(
    config: &Config,
    connection: &Connection,
    pages: &[&PageSettings],
    texts: Option<&SourceCache>,
) -> (Vec<Option<PageOrder>>, Vec<(String, String)>) {
    let labels = config.sync.labels();
    let mut warnings = Vec::new();
    let orders: Vec<Option<PageOrder>> = match texts {
        Some(cache) => pages
            .iter()
            .map(|page| {
                let text = cache.get(&page.id)?.text;
                let parsed = crate::parse::parse_page(&text, &sync_run::parse_options(page));
                Some(PageOrder::of(&parsed, &labels))
            })
            .collect(),
        None => {
            let owned: Vec<PageSettings> = pages.iter().map(|p| (*p).clone()).collect();
            sync_run::read_pages(config, connection, &owned, None)
                .await
                .into_iter()
                .map(|input| match input.read {
                    PageRead::Parsed(page) => Some(PageOrder::of(&page, &labels)),
                    PageRead::Failed(e) => {
                        warnings.push((input.settings.id, e.to_string()));
                        None
                    }
                    PageRead::Unchanged { .. } | PageRead::Vanished { .. } => None,
                })
                .collect()
        }
    };
    for (page, order) in pages.iter().zip(&orders) {
        if order.is_none() && !warnings.iter().any(|(id, _)| id == &page.id) {
            warnings.push((page.id.clone(), "its text was not read yet".into()));
        }
    }
    (orders, warnings)
}

/// Reading or writing the roadmap failed.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The pages asked for are not configured, or GitLab's client could not be built.
    #[error(transparent)]
    Run(#[from] RunError),
    /// The site could not be written.
    #[error(transparent)]
    Write(#[from] WriteError),
}

/// [`read`] (page texts from their sources) and [`write`] into `dir`: what
/// `handbook-sync roadmap` and the demo do.
pub async fn publish(
    config: &Config,
    connection: &Connection,
    wanted: &[String],
    dir: &Path,
    now: DateTime<Utc>,
) -> Result<Read, PublishError> {
    let read = read(config, connection, wanted, None, now).await?;
    write(dir, render(&read.roadmap)).await?;
    Ok(read)
}

/// Writing the site failed.
#[derive(Debug, thiserror::Error)]
#[error("writing the roadmap to {}: {source}", path.display())]
pub struct WriteError {
    /// The file or directory.
    pub path: PathBuf,
    /// What went wrong.
    #[source]
    pub source: std::io::Error,
}

/// Writes `files` into `dir` (created if missing), each to a temporary file renamed
/// over the old one, so a reader never sees half a file; they are readable by all (mode
/// 0644 less the umask), as a web server serving `dir` needs. Files of a roadmap written
/// there before (as its `roadmap.json` lists them) that this one no longer has, such as
/// a page that is now left out, are removed.
///
/// `dir` may hold the user's own files: only files a roadmap wrote (HTML carrying its
/// generator mark, a `roadmap.json` of its shape) are replaced or removed. When a file
/// the site needs exists and is not one, nothing is written and that is the error.
pub async fn write(dir: &Path, files: Vec<SiteFile>) -> Result<(), WriteError> {
    let dir = dir.to_owned();
    tokio::task::spawn_blocking(move || write_blocking(&dir, &files))
        .await
        .map_err(|e| WriteError {
            path: PathBuf::new(),
            source: std::io::Error::other(e),
        })?
}

/// What every HTML file of the site carries in its `<head>` (`roadmap::render`).
const GENERATOR_MARK: &str = "<meta name=\"generator\" content=\"handbook-sync\">";

fn write_blocking(dir: &Path, files: &[SiteFile]) -> Result<(), WriteError> {
    use std::io::Write as _;
    let fail = |path: &Path| {
        let path = path.to_owned();
        move |source| WriteError { path, source }
    };
    for file in files {
        let path = dir.join(&file.path);
        if path.exists() && !written_by_roadmap(&path) {
            return Err(WriteError {
                path,
                source: std::io::Error::other(
                    "it exists and was not written by handbook-sync; the roadmap replaces only its own files (remove it, or choose another --out)",
                ),
            });
        }
    }
    let before = previous_files(dir);
    // Pages first, the index next, the JSON (which lists the files) last.
    let mut ordered: Vec<&SiteFile> = files.iter().collect();
    ordered.sort_by_key(|f| match f.path.as_str() {
        "index.html" => 1,
        "roadmap.json" => 2,
        _ => 0,
    });
    for file in ordered {
        let path = dir.join(&file.path);
        let parent = path.parent().unwrap_or(dir);
        std::fs::create_dir_all(parent).map_err(fail(parent))?;
        let mut builder = tempfile::Builder::new();
        // A temporary file is 0600; the site is public.
        #[cfg(unix)]
        builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644));
        let mut temp = builder.tempfile_in(parent).map_err(fail(parent))?;
        temp.write_all(file.body.as_bytes()).map_err(fail(&path))?;
        temp.as_file().sync_all().map_err(fail(&path))?;
        temp.persist(&path).map_err(|e| fail(&path)(e.error))?;
    }
    let now: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
    for stale in stale_files(&before, &now) {
        let path = dir.join(stale);
        // Only a regular file the roadmap wrote (a symlink or the user's file stays).
        let ours = std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_file())
            && written_by_roadmap(&path);
        if !ours {
            continue;
        }
        match std::fs::remove_file(&path) {
            Ok(()) => {
                tracing::info!(file = %path.display(), "removed a page the roadmap no longer has")
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(fail(&path)(e)),
        }
    }
    Ok(())
}

/// The files listed `before` that the site written `now` lacks. Names equal but for
/// case are the same file where names ignore case (macOS, Windows): removing `PM.html`
/// after writing `pm.html` there would remove the new page.
fn stale_files<'a>(before: &'a [String], now: &[&str]) -> Vec<&'a str> {
    let now: BTreeSet<String> = now.iter().map(|f| f.to_lowercase()).collect();
    before
        .iter()
        .filter(|f| !now.contains(&f.to_lowercase()))
        .map(String::as_str)
        .collect()
}

/// Whether the file at `path` is one a roadmap wrote: HTML with its generator mark, or
/// a `roadmap.json` of its shape.
fn written_by_roadmap(path: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(path) else {
        return false;
    };
    if path.extension().is_some_and(|e| e == "json") {
        roadmap_json(&text).is_some()
    } else {
        text.contains(GENERATOR_MARK)
    }
}

/// `text` as a `roadmap.json` (`version` 1, `generated_at`, `pages`), if it is one.
fn roadmap_json(text: &str) -> Option<serde_json::Value> {
    let json = serde_json::from_str::<serde_json::Value>(text).ok()?;
    (json["version"] == 1 && json["generated_at"].is_string() && json["pages"].is_array())
        .then_some(json)
}

/// The page files the `roadmap.json` in `dir` lists, if it is a roadmap's: only names
/// directly in `pages/` ending in `.html`, whatever else the file may hold.
fn previous_files(dir: &Path) -> Vec<String> {
    let Some(json) = std::fs::read_to_string(dir.join("roadmap.json"))
        .ok()
        .and_then(|text| roadmap_json(&text))
    else {
        return Vec::new();
    };
    json["pages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["file"].as_str())
        .filter(|f| {
            // `.` and `..` do not end in `.html`: no name leaves `pages/`.
            f.strip_prefix("pages/")
                .is_some_and(|name| name.ends_with(".html") && !name.contains(['/', '\\']))
        })
        .map(str::to_owned)
        .collect()
}

/// The daemon's roadmap: the site rendered after a sync, served from memory, so a page
/// view costs GitLab nothing.
#[derive(Debug, Default)]
pub struct Served {
    site: RwLock<Option<Site>>,
}

/// A rendered site, its data, whether every page could be read for it, and when.
#[derive(Debug, Clone)]
struct Site {
    roadmap: Arc<Roadmap>,
    files: Arc<BTreeMap<String, SiteFile>>,
    complete: bool,
    read_at: std::time::Instant,
}

impl Served {
    /// Nothing to serve until the first sync is over.
    pub fn new() -> Arc<Self> {
        Arc::new(Served::default())
    }

    /// Reads and renders the roadmap again after a sync (`plan`, `None` when the sync
    /// failed) when it can have changed: while there is no site or one that lacks a page
    /// that failed to read, after a sync that wrote or found a person's change, and once
    /// the site is `roadmap.max_age_seconds` old, since people change GitLab (close an
    /// issue, make one confidential, make the project private) without a sync seeing
    /// it. Page titles come from the texts the sync read.
    ///
    /// What the read shows replaces the site. A page that failed to read keeps what the
    /// site showed of it only when GitLab merely failed (5xx, timeout); when it refused
    /// the token (401, 403, 404) nothing says the page is still public, and it goes.
    pub async fn after_sync(
        &self,
        config: &Config,
        connection: &Connection,
        plan: Option<&crate::sync::Plan>,
        texts: &SourceCache,
    ) {
        let old = self.site.read().expect("never poisoned").clone();
        let max_age = std::time::Duration::from_secs(config.roadmap.max_age_seconds);
        if let Some(site) = &old
            && site.complete
            && site.read_at.elapsed() < max_age
            && plan.is_none_or(|p| p.actions.is_empty())
        {
            return;
        }
        let read = match read(config, connection, &[], Some(texts), Utc::now()).await {
            Ok(read) => read,
            Err(e) => {
                tracing::warn!("roadmap: kept as it was: {e}");
                return;
            }
        };
        for left in &read.private {
            tracing::info!(page = %left.page, project = %left.project, "roadmap: left out, {} (roadmap.include_private publishes it)", left.why);
        }
        let mut roadmap = read.roadmap;
        for left in &read.failed {
            let kept = (!left.denied)
                .then(|| {
                    old.as_ref()?
                        .roadmap
                        .pages
                        .iter()
                        .find(|p| p.id == left.page)
                })
                .flatten();
            match kept {
                Some(page) => {
                    tracing::warn!(page = %left.page, project = %left.project, "roadmap: shown as last read: {}", left.why);
                    roadmap.pages.push(page.clone());
                    // Nothing the roadmap shows is newer than its time.
                    let before = old
                        .as_ref()
                        .map_or(roadmap.generated_at, |s| s.roadmap.generated_at);
                    roadmap.generated_at = roadmap.generated_at.min(before);
                }
                None => {
                    tracing::warn!(page = %left.page, project = %left.project, "roadmap: left out: {}", left.why)
                }
            }
        }
        let place = |id: &str| config.pages.iter().position(|p| p.id == id);
        roadmap.pages.sort_by_key(|p| place(&p.id));
        let files = render(&roadmap)
            .into_iter()
            .map(|f| (f.path.clone(), f))
            .collect();
        *self.site.write().expect("never poisoned") = Some(Site {
            roadmap: Arc::new(roadmap),
            files: Arc::new(files),
            complete: read.failed.is_empty(),
            read_at: std::time::Instant::now(),
        });
    }

    /// `/roadmap/` (the index), `/roadmap/<file>`, and `/roadmap` sent on to `/roadmap/`.
    pub fn router(self: &Arc<Self>) -> axum::Router {
        use axum::routing::get;
        axum::Router::new()
            .route(
                "/roadmap",
                get(|| async { axum::response::Redirect::permanent("/roadmap/") }),
            )
            .route("/roadmap/", get(serve_index))
            .route("/roadmap/{*file}", get(serve_file))
            .with_state(self.clone())
    }

    fn file(&self, path: &str) -> Result<SiteFile, axum::http::StatusCode> {
        let site = self.site.read().expect("never poisoned").clone();
        let site = site.ok_or(axum::http::StatusCode::SERVICE_UNAVAILABLE)?;
        site.files
            .get(path)
            .cloned()
            .ok_or(axum::http::StatusCode::NOT_FOUND)
    }
}

async fn serve_index(
    axum::extract::State(served): axum::extract::State<Arc<Served>>,
) -> axum::response::Response {
    respond(served.file("index.html"))
}

async fn serve_file(
    axum::extract::State(served): axum::extract::State<Arc<Served>>,
    axum::extract::Path(file): axum::extract::Path<String>,
) -> axum::response::Response {
    respond(served.file(&file))
}

fn respond(file: Result<SiteFile, axum::http::StatusCode>) -> axum::response::Response {
    use axum::http::{StatusCode, header};
    use axum::response::IntoResponse as _;
    match file {
        Ok(file) => (
            [
                (header::CONTENT_TYPE, file.content_type),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
                (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            file.body,
        )
            .into_response(),
        Err(StatusCode::SERVICE_UNAVAILABLE) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "no roadmap yet: the first sync has not finished\n",
        )
            .into_response(),
        Err(status) => (status, "not found\n").into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::stale_files;

    #[test]
    fn a_page_renamed_only_in_case_is_not_removed_after_it_was_written() {
        let before = vec!["pages/PM.html".to_owned(), "pages/gone.html".to_owned()];
        assert_eq!(
            stale_files(&before, &["index.html", "pages/pm.html", "roadmap.json"]),
            ["pages/gone.html"]
        );
    }
}
