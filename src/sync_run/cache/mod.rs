//! The optional cache (`sync.cache_dir`): what the last successful sync of a project saw,
//! so that a run in a new process (a systemd timer, a CronJob, a CI schedule) that finds
//! neither a changed page nor a changed issue is done after one request.
//!
//! One JSON file per project, written atomically (a temporary file, then a rename). It
//! holds the configuration's fingerprint, the project's id, GitLab's clock at the start
//! of the last read (`synced_at`, from the `Date` header), the local time of the last
//! full read, each page's source version and text hash, and per managed issue what the
//! planner compares (iid, state, title, assignees, labels, and a hash of the managed
//! block's hash and the marker). A run with a usable cache:
//!
//! 1. reads the pages (a local file is read and hashed, an `http(s)` page asked with
//!    `If-None-Match`, a `gitlab://` page read with its `blob_id`);
//! 2. when every page of a project is the one last synced, asks GitLab for the project's
//!    issues updated since `synced_at` minus `sync.cache_clock_margin_seconds`, with no
//!    label filter (an issue whose managed label a person removed comes back too);
//! 3. when none of them differs from what the cache holds, the project's pages are
//!    unchanged: nothing more is read or planned, nothing written.
//!
//! Anything else reads the project in full, as without a cache. The cache is never
//! needed for correctness: a missing, unreadable or corrupt file, another configuration
//! or version, or a last full read more than [`MAX_AGE`] ago each mean a full read, with
//! a log line that says why. It is written only for a project whose pages all succeeded:
//! by `plan` when it would write nothing there, by `apply` when everything was applied.
//! What the cache cannot see — an issue deleted or moved, a member who left, a label
//! deleted — waits for the next full read, at most [`MAX_AGE`] later.
//!
//! The daemon keeps the same cache in [`Memory`] instead of files: every tick asks
//! GitLab for the issues updated since the last sync (one request per project), so a
//! person's change is seen within a tick, and an unreachable GitLab or a revoked token
//! fails the tick.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::gitlab::Gitlab;
use crate::source::{Cached, SourceCache, SourceSpec};
use crate::sync::marker::hash;
use crate::sync::{IssueState, ObservedIssue, PageOutcome, Plan};

use super::projects::writes_to;
use super::{PageInput, PageRead, Projects};

mod discovery;

pub use discovery::{load_discovery, save_discovery};

/// The file layout; a file of another layout is not used.
const FORMAT: u32 = 1;

/// A project is read in full at least this often, cache or not: what no issue's
/// `updated_at` shows (deletions, moves, members) is noticed within it.
pub const MAX_AGE: chrono::TimeDelta = chrono::TimeDelta::hours(24);

/// One project's cache file.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct ProjectCache {
    format: u32,
    /// [`Config::plan_fingerprint`] of the configuration that wrote it.
    config: String,
    /// The project's path, as configured.
    project: String,
    /// Its id (the check asks by id: no `GET /projects/:id` needed).
    project_id: u64,
    /// The local clock at the last full read (for [`MAX_AGE`]).
    full_read_at: DateTime<Utc>,
    /// GitLab's clock when it answered the first request of the issues the cache holds
    /// (the listing's `Date`), or the local clock before the read when it sent none.
    synced_at: DateTime<Utc>,
    /// Page id → its source as last synced.
    pages: BTreeMap<String, PageEntry>,
    /// Every managed issue, by iid.
    issues: BTreeMap<u64, IssueEntry>,
}

/// A page's source as last synced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct PageEntry {
    /// `ETag`, `blob_id`, or length and modification time.
    version: String,
    /// Hash of the text: what says "unchanged" (a checkout moves a file's time).
    text_hash: String,
    /// The text, for `http(s)` pages only: a `304` answers none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    text: Option<String>,
    /// Items, for the summary.
    items: usize,
}

/// What the planner compares of a managed issue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct IssueEntry {
    /// `opened` or `closed`.
    state: String,
    title: String,
    assignees: Vec<String>,
    /// Sorted.
    labels: Vec<String>,
    /// Hash of what the planner reads of the description: the managed block's hash, the
    /// marker, the markers of a pasted description and a damaged block's remains (people's text around the block
    /// is never compared, so not cached).
    block: String,
    /// Who opened it (absent in a cache written before it was kept).
    #[serde(default)]
    author: Option<u64>,
}

impl IssueEntry {
    fn of(issue: &ObservedIssue) -> Self {
        let mut labels = issue.labels.clone();
        labels.sort();
        IssueEntry {
            state: match issue.state {
                IssueState::Opened => "opened",
                IssueState::Closed => "closed",
            }
            .to_owned(),
            title: issue.title.clone(),
            assignees: issue.assignees.clone(),
            labels,
            block: hash(
                &serde_json::to_string(&(
                    &issue.block_hash,
                    &issue.marker,
                    &issue.pasted,
                    &issue.damaged,
                ))
                .expect("a marker serializes"),
            ),
            author: issue.author,
        }
    }
}

/// The cache in memory, for a process that syncs again and again (the daemon): what
/// the last successful sync of each project saw, and the text of every page as last
/// read. Clones of the `Arc` share it.
#[derive(Debug, Default)]
pub struct Memory {
    projects: std::sync::Mutex<BTreeMap<String, ProjectCache>>,
    sources: Arc<SourceCache>,
}

impl Memory {
    /// Each page's source as the last sync read it (text, version): what the roadmap
    /// takes its titles and order from.
    pub fn sources(&self) -> &SourceCache {
        &self.sources
    }

    /// [`Memory::sources`], shared: discovery reads and remembers through it.
    pub fn shared_sources(&self) -> Arc<SourceCache> {
        self.sources.clone()
    }
}

/// Where a [`Session`] loads and saves.
#[derive(Debug)]
enum Store {
    /// One file per project in `sync.cache_dir`.
    Dir(PathBuf),
    /// The daemon's memory.
    Memory(Arc<Memory>),
}

impl Store {
    /// `project`'s cache, checked, or why it cannot be used.
    async fn load(
        &self,
        project: &str,
        fingerprint: &str,
        now: DateTime<Utc>,
    ) -> Result<ProjectCache, String> {
        match self {
            Store::Dir(dir) => load(dir, project, fingerprint, now).await,
            Store::Memory(memory) => {
                let cache = memory
                    .projects
                    .lock()
                    .expect("the cache lock is never poisoned")
                    .get(project)
                    .cloned()
                    .ok_or_else(|| "no cache yet".to_owned())?;
                check_age(&cache, now)?;
                Ok(cache)
            }
        }
    }

    async fn save(&self, cache: &ProjectCache) {
        match self {
            Store::Dir(dir) => {
                if let Err(e) = store(dir, cache).await {
                    tracing::warn!(
                        project = %cache.project,
                        dir = %dir.display(),
                        "could not write the cache ({e}); the next run reads the project in full"
                    );
                }
            }
            Store::Memory(memory) => {
                memory
                    .projects
                    .lock()
                    .expect("the cache lock is never poisoned")
                    .insert(cache.project.clone(), cache.clone());
            }
        }
    }
}

/// The cache of one run: loaded before the pages are read, written after the plan (or
/// the apply) for the projects that succeeded.
#[derive(Debug)]
pub struct Session {
    store: Store,
    fingerprint: String,
    margin: chrono::TimeDelta,
    managed_label: String,
    /// The local clock before anything was read.
    started: DateTime<Utc>,
    /// Usable caches, by project path.
    loaded: BTreeMap<String, ProjectCache>,
    /// The pages' sources as this run read them.
    sources: Arc<SourceCache>,
    /// What to write for each project, if its pages succeed.
    pending: BTreeMap<String, ProjectCache>,
    /// Every `[[discover]]` block's label (a skipped project's open issues per block are
    /// counted from its cache, for `vanished`).
    block_labels: Vec<String>,
    /// Every page of the configuration, discovered ones included (`--page` or not): a
    /// cached page not among them left the handbook.
    all_pages: std::collections::BTreeSet<String>,
}

impl Session {
    /// The cache of `config`'s projects that `pages` touch, when `sync.cache_dir` is
    /// set; a file that cannot be used is reported (why) and ignored.
    pub async fn open(
        config: &Config,
        pages: &[crate::config::PageSettings],
        sources: Arc<SourceCache>,
    ) -> Option<Self> {
        let dir = config.cache_dir()?;
        Some(Self::open_in(Store::Dir(dir), config, pages, sources).await)
    }

    /// The cache of `config`'s projects that `pages` touch, in `memory` (the daemon's).
    pub async fn in_memory(
        memory: &Arc<Memory>,
        config: &Config,
        pages: &[crate::config::PageSettings],
    ) -> Self {
        // Kept from tick to tick: an `http(s)` page's last `ETag` goes out again.
        Self::open_in(
            Store::Memory(memory.clone()),
            config,
            pages,
            memory.sources.clone(),
        )
        .await
    }

    async fn open_in(
        store: Store,
        config: &Config,
        pages: &[crate::config::PageSettings],
        sources: Arc<SourceCache>,
    ) -> Self {
        let fingerprint = config.plan_fingerprint();
        let started = Utc::now();
        let mut loaded = BTreeMap::new();
        for settings in pages {
            let project = &settings.project;
            if !loaded.contains_key(project) {
                match store.load(project, &fingerprint, started).await {
                    Ok(cache) => {
                        loaded.insert(project.clone(), cache);
                    }
                    Err(why) => {
                        tracing::info!(project = %project, "cache not used: {why}; reading the project in full");
                        continue;
                    }
                }
            }
            // The remembered `ETag` of an `http(s)` page goes out as `If-None-Match`; a
            // discovered repository file whose blob is this version is this text.
            // Never marked synced: every page is parsed, and "unchanged" is decided here.
            // What discovery read this run is newer, and stays.
            if let Some(entry) = loaded[project].pages.get(&settings.id)
                && let Some(text) = &entry.text
                && sources.get(&settings.id).is_none()
            {
                sources.put(
                    &settings.id,
                    Cached {
                        version: entry.version.clone(),
                        text: text.clone(),
                        synced: false,
                        items: entry.items,
                    },
                );
            }
        }
        Session {
            store,
            fingerprint,
            margin: chrono::TimeDelta::seconds(
                i64::try_from(config.sync.cache_clock_margin_seconds).unwrap_or(86_400),
            ),
            managed_label: config.sync.managed_label.clone(),
            started,
            loaded,
            sources,
            pending: BTreeMap::new(),
            block_labels: config.discover.iter().map(|b| b.label()).collect(),
            all_pages: config.pages.iter().map(|p| p.id.clone()).collect(),
        }
    }

    /// The source cache `read_pages` is to use.
    pub fn sources(&self) -> &SourceCache {
        &self.sources
    }

    /// Stage 2½: for each project whose pages are all the versions its cache holds, asks
    /// GitLab for the issues updated since the last sync; when none changed what the
    /// planner compares, its pages become [`PageRead::Unchanged`] and it is not read.
    pub async fn skip_unchanged(&mut self, gitlab: &Gitlab, pages: &mut [PageInput]) {
        let projects: Vec<String> = self.loaded.keys().cloned().collect();
        for project in projects {
            let cache = &self.loaded[&project];
            let of_project = || pages.iter().filter(|p| p.settings.project == project);
            let gone = cache
                .pages
                .keys()
                .find(|id| !self.all_pages.contains(*id))
                .map(|id| format!("page `{id}` is no longer in the handbook"));
            if let Some(why) =
                gone.or_else(|| of_project().find_map(|p| self.page_changed(cache, p)))
            {
                tracing::info!(project = %project, "{why}: reading the project in full");
                continue;
            }
            let since = cache.synced_at - self.margin;
            let (updated, date) = match gitlab.issues_updated_after(cache.project_id, since).await {
                Ok(answer) => answer,
                Err(e) => {
                    tracing::info!(project = %project, "cache check failed ({e}): reading the project in full");
                    continue;
                }
            };
            let changed = updated
                .iter()
                .filter(|issue| match cache.issues.get(&issue.iid) {
                    Some(entry) => *entry != IssueEntry::of(issue),
                    // New to the cache: it matters only if it is managed.
                    None => issue.labels.contains(&self.managed_label),
                })
                .count();
            if changed > 0 {
                tracing::info!(
                    project = %project,
                    changed,
                    since = %since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    "issues changed on GitLab since the last sync: reading the project in full"
                );
                continue;
            }
            tracing::info!(
                project = %project,
                since = %since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                updated = updated.len(),
                "no page and no issue changed since the last sync (cache): nothing to read or write"
            );
            for input in pages.iter_mut().filter(|p| p.settings.project == project) {
                let items = cache.pages[&input.settings.id].items;
                input.read = PageRead::Unchanged { items };
            }
            for label in &self.block_labels {
                let mut open = crate::source::OpenCounts::new();
                for i in cache.issues.values().filter(|i| {
                    i.state == "opened"
                        && i.labels.contains(&self.managed_label)
                        && i.labels.contains(label)
                }) {
                    *open.entry(i.author).or_default() += 1;
                }
                self.sources.set_open_count(&project, label, open);
            }
            let mut renewed = cache.clone();
            renewed.synced_at = date.unwrap_or(self.started);
            self.pending.insert(project, renewed);
        }
    }

    /// Why a page of `cache`'s project cannot be taken as last synced, if it cannot.
    fn page_changed(&self, cache: &ProjectCache, input: &PageInput) -> Option<String> {
        let id = &input.settings.id;
        let Some(entry) = cache.pages.get(id) else {
            return Some(format!("page `{id}` is not in the cache"));
        };
        if !matches!(input.read, PageRead::Parsed(_)) {
            return Some(format!("page `{id}` was not read"));
        }
        let Some(read) = self.sources.get(id) else {
            return Some(format!("page `{id}` was not read"));
        };
        (hash(&read.text) != entry.text_hash)
            .then(|| format!("page `{id}` changed since the last sync"))
    }

    /// After stage 3: what to write for each project read in full whose pages were all
    /// read (written later only if they succeed).
    pub fn record_reads(&mut self, config: &Config, pages: &[PageInput], projects: &Projects) {
        for (name, state) in projects {
            let Ok(state) = state else { continue };
            let mut entries = BTreeMap::new();
            let mut complete = true;
            for input in pages.iter().filter(|p| &p.settings.project == name) {
                let read = self.sources.get(&input.settings.id);
                match (&input.read, read) {
                    (PageRead::Parsed(_), Some(read)) => {
                        // An `http(s)` page's text is needed on a 304, a discovered
                        // repository file's when its blob is unchanged.
                        let keep = match config.source(&input.settings) {
                            SourceSpec::Http(_) => true,
                            SourceSpec::Gitlab { .. } => input.settings.discovered.is_some(),
                            SourceSpec::Local(_) => false,
                        };
                        entries.insert(
                            input.settings.id.clone(),
                            PageEntry {
                                text_hash: hash(&read.text),
                                text: keep.then(|| read.text.clone()),
                                version: read.version,
                                items: read.items,
                            },
                        );
                    }
                    _ => complete = false,
                }
            }
            if !complete {
                continue;
            }
            self.pending.insert(
                name.clone(),
                ProjectCache {
                    format: FORMAT,
                    config: self.fingerprint.clone(),
                    project: name.clone(),
                    project_id: state.info.id,
                    full_read_at: self.started,
                    synced_at: state.read_at.unwrap_or(self.started),
                    pages: entries,
                    issues: state
                        .issues
                        .iter()
                        .map(|i| (i.iid, IssueEntry::of(i)))
                        .collect(),
                },
            );
        }
    }

    /// Writes the cache of every project whose pages all succeeded in `plan`: after
    /// `apply` (`applied`), or after `plan` when it writes nothing there. A file that
    /// cannot be written is a warning: the next run reads in full.
    pub async fn save(&self, plan: &Plan, applied: bool) {
        for (project, cache) in &self.pending {
            let mut pages = plan.pages.iter().filter(|p| &p.project == project);
            let succeeded = pages.all(|p| p.outcome == PageOutcome::Ok);
            if !succeeded || (!applied && writes_to(plan, project)) {
                continue;
            }
            self.store.save(cache).await;
        }
    }
}

/// The file of `project` in `dir`: the path made safe for a file name, and a hash of it
/// so that two paths never share a file.
fn file_of(dir: &Path, project: &str) -> PathBuf {
    let safe: String = project
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    dir.join(format!("{safe}-{}.json", &hash(project)[..8]))
}

/// Reads and checks `project`'s cache, or says why it cannot be used.
async fn load(
    dir: &Path,
    project: &str,
    fingerprint: &str,
    now: DateTime<Utc>,
) -> Result<ProjectCache, String> {
    let path = file_of(dir, project);
    let bytes = match tokio::fs::read(&path).await {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err("no cache yet".to_owned());
        }
        Err(e) => return Err(format!("`{}` cannot be read ({e})", path.display())),
    };
    let cache: ProjectCache = serde_json::from_slice(&bytes)
        .map_err(|e| format!("`{}` is corrupt ({e})", path.display()))?;
    if cache.format != FORMAT {
        return Err(format!("`{}` has another format", path.display()));
    }
    if cache.config != fingerprint {
        return Err(
            "it was written under another configuration or version of handbook-sync".to_owned(),
        );
    }
    if cache.project != project {
        return Err(format!("`{}` is another project's", path.display()));
    }
    // An `http(s)` page's text is taken from here when the server answers 304: text
    // that does not match its hash (a damaged or edited file) must never become a page.
    if let Some((id, _)) = cache
        .pages
        .iter()
        .find(|(_, p)| p.text.as_ref().is_some_and(|t| hash(t) != p.text_hash))
    {
        return Err(format!(
            "`{}` is corrupt (the text of page `{id}` does not match its hash)",
            path.display()
        ));
    }
    check_age(&cache, now)?;
    Ok(cache)
}

/// Refuses a cache whose last full read is more than [`MAX_AGE`] old, or in the future.
fn check_age(cache: &ProjectCache, now: DateTime<Utc>) -> Result<(), String> {
    let age = now - cache.full_read_at;
    if age > MAX_AGE {
        return Err(format!(
            "the last full read was {} hours ago (at least one a day)",
            age.num_hours()
        ));
    }
    if age < -chrono::TimeDelta::minutes(5) {
        return Err("its last full read lies in the future (the clock moved back)".to_owned());
    }
    Ok(())
}

/// Writes `cache` atomically: a new temporary file in the same directory (created
/// exclusively under a random name, readable by its owner only: it holds page text and
/// issue titles, which may be confidential), flushed to disk, then renamed over the old
/// one, so a run that dies midway, or two pods sharing the volume, leave one whole file.
async fn store(dir: &Path, cache: &ProjectCache) -> std::io::Result<()> {
    store_json(dir, &file_of(dir, &cache.project), cache).await
}

/// Writes `value` as JSON to `path` in `dir`, atomically, as [`store`] says.
async fn store_json<T: Serialize>(dir: &Path, path: &Path, value: &T) -> std::io::Result<()> {
    use std::io::Write as _;
    let dir = dir.to_owned();
    let path = path.to_owned();
    let bytes = serde_json::to_vec(value).map_err(std::io::Error::other)?;
    tokio::task::spawn_blocking(move || {
        std::fs::create_dir_all(&dir)?;
        let mut temporary = tempfile::NamedTempFile::new_in(&dir)?;
        temporary.write_all(&bytes)?;
        temporary.as_file().sync_all()?;
        temporary.persist(&path).map_err(|e| e.error)?;
        // The rename itself is durable only once the directory is.
        std::fs::File::open(&dir)?.sync_all()
    })
    .await
    .map_err(std::io::Error::other)?
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache_with_page(text: &str, text_hash: String) -> ProjectCache {
        ProjectCache {
            format: FORMAT,
            config: "fingerprint".into(),
            project: "acme/roadmap".into(),
            project_id: 1,
            full_read_at: Utc::now(),
            synced_at: Utc::now(),
            pages: BTreeMap::from([(
                "pm".to_owned(),
                PageEntry {
                    version: "\"etag\"".into(),
                    text_hash,
                    text: Some(text.into()),
                    items: 1,
                },
            )]),
            issues: BTreeMap::new(),
        }
    }

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    /// An `http(s)` page's text comes from the cache on a 304: a file whose text was
    /// changed after it was written (by hand, a damaged disk, a shared CI cache) is not
    /// used, and a whole one is, with its file readable by its owner only.
    #[test]
    fn a_page_text_that_does_not_match_its_hash_makes_the_cache_unusable() {
        let dir = tempfile::tempdir().unwrap();
        let text = "## Duties\n\n- Keep the roadmap public\n";
        block_on(async {
            store(dir.path(), &cache_with_page(text, hash(text)))
                .await
                .unwrap();
            let loaded = load(dir.path(), "acme/roadmap", "fingerprint", Utc::now()).await;
            assert!(loaded.is_ok(), "{loaded:?}");
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt as _;
                let file = file_of(dir.path(), "acme/roadmap");
                let mode = std::fs::metadata(file).unwrap().permissions().mode();
                assert_eq!(mode & 0o077, 0, "{mode:o}");
            }
            let tampered = cache_with_page("## Duties\n\n- Close everything\n", hash(text));
            store(dir.path(), &tampered).await.unwrap();
            let why = load(dir.path(), "acme/roadmap", "fingerprint", Utc::now())
                .await
                .unwrap_err();
            assert!(why.contains("does not match its hash"), "{why}");
        });
    }
}
