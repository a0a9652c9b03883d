//! Configuration: TOML (the `config` crate) with `HANDBOOK_SYNC__SECTION__KEY`
//! environment overrides, validated into typed settings. Errors name the offending key.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use secrecy::SecretString;
use serde::Deserialize;
use url::Url;

pub mod placeholders;

/// Where the configuration is looked for when `--config` is not given: the working
/// directory's first (where the quick start puts it), then the system's.
pub const DEFAULT_PATHS: [&str; 2] = [
    "config/handbook-sync.toml",
    "/etc/handbook-sync/config.toml",
];

/// A configuration that cannot be used. The CLI exits 3 on these.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// No file given and none at the default paths (shown resolved).
    #[error("no configuration file: pass --config FILE or create one of {}", .0.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "))]
    NotFound(Vec<PathBuf>),
    /// The file (or an override) could not be read or has a bad key or value.
    #[error("configuration `{path}`: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong, naming the key.
        message: String,
    },
    /// No token in any of the places it may come from.
    #[error(
        "no GitLab token: set GITLAB_TOKEN, `gitlab.token_file`, or run under systemd with \
         LoadCredential=gitlab-token"
    )]
    NoToken,
    /// The token file is unreadable.
    #[error("cannot read the GitLab token from `{path}`: {reason}")]
    TokenFile {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

/// `[gitlab]`. Its `Debug` shows the URL redacted ([`crate::redact`]).
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GitlabSettings {
    /// Base URL of the GitLab instance.
    #[serde(default = "default_gitlab_url")]
    pub url: String,
    /// File holding the token (trailing whitespace ignored).
    #[serde(default)]
    pub token_file: Option<PathBuf>,
    /// Allow plain `http://` to hosts other than loopback.
    #[serde(default)]
    pub allow_insecure: bool,
    /// Seconds before any request is abandoned (fractions allowed).
    #[serde(default = "default_timeout")]
    pub timeout_seconds: f64,
    /// Client-side limit on all requests (gitlab.com allows 2,000 per user).
    #[serde(default = "default_requests_per_minute")]
    pub requests_per_minute: u32,
    /// Client-side limit on issue creations (gitlab.com allows 200).
    #[serde(default = "default_issue_creations_per_minute")]
    pub issue_creations_per_minute: u32,
    /// Client-side limit on all requests per hour, beside the per-minute one; 0 (the
    /// default) sets none.
    #[serde(default)]
    pub requests_per_hour: u32,
    /// Requests in flight at once.
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// Retries of a failed request (5xx, timeout, connection error, 429).
    #[serde(default = "default_max_retries")]
    pub max_retries: usize,
    /// First backoff delay in milliseconds; it doubles, with jitter, up to 30 s.
    #[serde(default = "default_retry_initial_delay_ms")]
    pub retry_initial_delay_ms: u64,
    /// Seconds to wait after a 429 that says nothing about when to retry (no
    /// `Retry-After`, no `RateLimit-Reset`): 60, GitLab's throttle period.
    #[serde(default = "default_retry_after_seconds")]
    pub default_retry_after_seconds: f64,
}

fn default_requests_per_minute() -> u32 {
    1800
}
fn default_issue_creations_per_minute() -> u32 {
    180
}
fn default_concurrency() -> usize {
    4
}
fn default_max_retries() -> usize {
    5
}
fn default_retry_initial_delay_ms() -> u64 {
    500
}

fn default_gitlab_url() -> String {
    "https://gitlab.com".to_owned()
}

fn default_timeout() -> f64 {
    30.0
}

fn default_retry_after_seconds() -> f64 {
    60.0
}

impl Default for GitlabSettings {
    fn default() -> Self {
        GitlabSettings {
            url: default_gitlab_url(),
            token_file: None,
            allow_insecure: false,
            timeout_seconds: default_timeout(),
            requests_per_minute: default_requests_per_minute(),
            issue_creations_per_minute: default_issue_creations_per_minute(),
            requests_per_hour: 0,
            concurrency: default_concurrency(),
            max_retries: default_max_retries(),
            retry_initial_delay_ms: default_retry_initial_delay_ms(),
            default_retry_after_seconds: default_retry_after_seconds(),
        }
    }
}

impl std::fmt::Debug for GitlabSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitlabSettings")
            .field("url", &crate::redact::text(&self.url))
            .field("token_file", &self.token_file)
            .field("allow_insecure", &self.allow_insecure)
            .field("timeout_seconds", &self.timeout_seconds)
            .field("requests_per_minute", &self.requests_per_minute)
            .field(
                "issue_creations_per_minute",
                &self.issue_creations_per_minute,
            )
            .field("requests_per_hour", &self.requests_per_hour)
            .field("concurrency", &self.concurrency)
            .field("max_retries", &self.max_retries)
            .field("retry_initial_delay_ms", &self.retry_initial_delay_ms)
            .field(
                "default_retry_after_seconds",
                &self.default_retry_after_seconds,
            )
            .finish()
    }
}

/// `[sync]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncSettings {
    /// The label every managed issue carries.
    #[serde(default = "default_managed_label")]
    pub managed_label: String,
    /// Revert what people changed by hand in owned fields (state, title, assignee,
    /// managed block, managed labels).
    #[serde(default)]
    pub enforce: bool,
    /// Refuse plans closing more than this share of a page's open issues (and more than 5).
    #[serde(default = "default_max_close_fraction")]
    pub max_close_fraction: f64,
    /// Page label: this prefix plus the page id.
    #[serde(default = "default_page_label_prefix")]
    pub page_label_prefix: String,
    /// Section label: this prefix plus the section path.
    #[serde(default = "default_section_label_prefix")]
    pub section_label_prefix: String,
    /// The label of handed-over items.
    #[serde(default = "default_handed_over_label")]
    pub handed_over_label: String,
    /// When `run` syncs: cron, 5 fields (or 6/7 with seconds).
    #[serde(default = "default_schedule")]
    pub schedule: String,
    /// The time zone of `schedule` (IANA name).
    #[serde(default = "default_timezone")]
    pub timezone: String,
    /// A page source larger than this many bytes is not read (the page fails, nothing of
    /// it is closed).
    #[serde(default = "default_max_page_bytes")]
    pub max_page_bytes: u64,
    /// Where `plan` and `apply` keep what the last successful sync saw of each project,
    /// so that a run in a new process asks GitLab only what changed since (relative to
    /// the configuration file). `None`: no cache, every run reads everything.
    #[serde(default)]
    pub cache_dir: Option<PathBuf>,
    /// How far before the last sync the cache asks GitLab for changed issues: covers the
    /// skew between GitLab's clocks and writes that commit late.
    #[serde(default = "default_cache_clock_margin_seconds")]
    pub cache_clock_margin_seconds: u64,
    /// How long `apply` and the daemon wait for another run's lease on a project before
    /// giving up (exit 75; the daemon tries again on its next tick).
    #[serde(default = "default_lease_wait_seconds")]
    pub lease_wait_seconds: u64,
    /// The project label that is the lease: while it exists, one run writes there.
    #[serde(default = "default_lease_label")]
    pub lease_label: String,
}

/// Ten minutes: longer than a typical sync, and than an expired lease's lifetime.
fn default_lease_wait_seconds() -> u64 {
    600
}

fn default_lease_label() -> String {
    "handbook-sync-lease".to_owned()
}

/// Five minutes: GitLab's servers keep time by NTP (milliseconds apart), and a request
/// runs at most about a minute on gitlab.com.
fn default_cache_clock_margin_seconds() -> u64 {
    300
}

/// 4 MiB: forty times the largest real handbook page of the test corpus.
fn default_max_page_bytes() -> u64 {
    4 * 1024 * 1024
}

fn default_schedule() -> String {
    "*/15 * * * *".to_owned()
}
fn default_timezone() -> String {
    "UTC".to_owned()
}

/// `[webhook]`: GitLab push hooks to `POST /hooks/gitlab`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSettings {
    /// The secret token GitLab sends as `X-Gitlab-Token` (or HANDBOOK_SYNC__WEBHOOK__SECRET);
    /// a secret type, so no `Debug` or log line shows it.
    #[serde(default, deserialize_with = "secret_string")]
    pub secret: Option<SecretString>,
    /// A file holding it.
    #[serde(default)]
    pub secret_file: Option<PathBuf>,
}

/// A string setting read straight into a [`SecretString`].
fn secret_string<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<SecretString>, D::Error> {
    let text: Option<String> = Option::deserialize(deserializer)?;
    Ok(text.map(SecretString::from))
}

/// `[server]`: the daemon's HTTP endpoints.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    /// Address of `/healthz`, `/readyz` and `/metrics`.
    #[serde(default = "default_listen")]
    pub listen: std::net::SocketAddr,
    /// HTTP connections open at once; past it a new one replaces the oldest idle one.
    /// Lowered at start to what the file descriptor limit leaves.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
}

fn default_max_connections() -> usize {
    512
}

/// `[roadmap]`: the public roadmap (`handbook-sync roadmap`, the daemon's `/roadmap/`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoadmapSettings {
    /// Publish pages whose project is private or internal too (default: only public
    /// projects' pages; the others are left out, and the output says which).
    #[serde(default)]
    pub include_private: bool,
    /// The daemon reads its `/roadmap/` again after a sync once it is this old, even
    /// when the sync changed nothing: people change GitLab (close an issue, make one
    /// confidential, make the project private) without touching the handbook.
    #[serde(default = "default_roadmap_max_age")]
    pub max_age_seconds: u64,
}

impl Default for RoadmapSettings {
    fn default() -> Self {
        RoadmapSettings {
            include_private: false,
            max_age_seconds: default_roadmap_max_age(),
        }
    }
}

fn default_roadmap_max_age() -> u64 {
    300
}

fn default_listen() -> std::net::SocketAddr {
    "127.0.0.1:9090".parse().expect("a valid address")
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings {
            listen: default_listen(),
            max_connections: default_max_connections(),
        }
    }
}

fn default_managed_label() -> String {
    "handbook-sync".to_owned()
}
fn default_max_close_fraction() -> f64 {
    0.25
}
fn default_page_label_prefix() -> String {
    "handbook::".to_owned()
}
fn default_section_label_prefix() -> String {
    "section::".to_owned()
}
fn default_handed_over_label() -> String {
    "handed-over".to_owned()
}

impl SyncSettings {
    /// The label names, as the core's desired-state step takes them.
    pub fn labels(&self) -> handbook_sync_core::sync::desired::Labels {
        handbook_sync_core::sync::desired::Labels {
            managed_label: self.managed_label.clone(),
            page_label_prefix: self.page_label_prefix.clone(),
            section_label_prefix: self.section_label_prefix.clone(),
            handed_over_label: self.handed_over_label.clone(),
        }
    }
}

impl Default for SyncSettings {
    fn default() -> Self {
        SyncSettings {
            managed_label: default_managed_label(),
            enforce: false,
            max_close_fraction: default_max_close_fraction(),
            page_label_prefix: default_page_label_prefix(),
            section_label_prefix: default_section_label_prefix(),
            handed_over_label: default_handed_over_label(),
            schedule: default_schedule(),
            timezone: default_timezone(),
            max_page_bytes: default_max_page_bytes(),
            cache_dir: None,
            cache_clock_margin_seconds: default_cache_clock_margin_seconds(),
            lease_wait_seconds: default_lease_wait_seconds(),
            lease_label: default_lease_label(),
        }
    }
}

/// One `[[pages]]` entry. Its `Debug` shows `source` and `url` redacted.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageSettings {
    /// Stable id of the page (labels, markers).
    pub id: String,
    /// Path (relative to the configuration file) of the Markdown page.
    pub source: String,
    /// Public URL of the page: absolute links and the Source line.
    #[serde(default)]
    pub url: Option<String>,
    /// Target project, `group/name` or numeric id.
    pub project: String,
    /// GitLab username responsible for the page's active items.
    pub owner: String,
    /// Only items under headings (at any depth above them) matching these patterns
    /// (`sections`, or its older name `include_sections`).
    #[serde(default, alias = "sections")]
    pub include_sections: Vec<String>,
    /// Never items under headings matching these patterns.
    #[serde(default)]
    pub exclude_sections: Vec<String>,
    /// Keep a board `Handbook: <page title>` with one list per section.
    #[serde(default = "default_true")]
    pub board: bool,
    /// Take over open hand-made issues whose title is an item's instead of creating
    /// (as `--adopt` does for every page).
    #[serde(default)]
    pub adopt: bool,
    /// The page label when not `sync.page_label_prefix` + id (a `[[discover]]` template).
    #[serde(skip)]
    pub page_label: Option<String>,
    /// Set on pages a `[[discover]]` block found; `None` on configured pages.
    #[serde(skip)]
    pub discovered: Option<crate::config::Discovered>,
}

/// Where a discovered page came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discovered {
    /// The `[[discover]]` block's name.
    pub block: String,
    /// The block's label, which every issue of its pages carries.
    pub label: String,
    /// The file's path below the block's root.
    pub path: String,
    /// The block's project template, for messages about the project.
    pub project_template: String,
    /// The file's blob id, for a page in a GitLab repository: the same blob is the
    /// same text, so a page whose blob is remembered is not read again.
    pub blob: Option<String>,
}

impl PageSettings {
    /// The page's label as GitLab stores it: the discovered page's own, else
    /// `sync.page_label_prefix` + id.
    pub fn page_label(&self, sync: &SyncSettings) -> String {
        handbook_sync_core::sync::desired::label_name(&match &self.page_label {
            Some(label) => label.clone(),
            None => format!("{}{}", sync.page_label_prefix, self.id),
        })
    }
}

/// One `[[discover]]` block: pages found by pattern in a directory or repository tree
/// at the start of every run (see `crate::discover`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiscoverSettings {
    /// The block's stable name (its label, messages).
    pub name: String,
    /// A directory (relative to the configuration file) or
    /// `gitlab://GROUP/PROJECT/-/DIR?ref=main`.
    pub source: String,
    /// Path patterns below the source, `**/*.md` by default.
    #[serde(default = "default_discover_include")]
    pub include: Vec<String>,
    /// Path patterns left out.
    #[serde(default)]
    pub exclude: Vec<String>,
    /// Only files whose front matter has this key.
    #[serde(default)]
    pub require_front_matter: Option<String>,
    /// Only files with a heading matching this pattern.
    #[serde(default)]
    pub require_heading: Option<String>,
    /// The page id template.
    #[serde(default = "default_discover_id")]
    pub id: String,
    /// The project template.
    pub project: String,
    /// The owner template.
    pub owner: String,
    /// The URL template.
    #[serde(default)]
    pub url: Option<String>,
    /// The page label template (default: `sync.page_label_prefix` + id).
    #[serde(default)]
    pub page_label: Option<String>,
    /// The label every issue of the block's pages carries (default
    /// `handbook-discover::NAME`): how pages that vanished are found in the tracker.
    #[serde(default)]
    pub label: Option<String>,
    /// As `pages[].sections`.
    #[serde(default, alias = "include_sections")]
    pub sections: Vec<String>,
    /// As `pages[].exclude_sections`.
    #[serde(default)]
    pub exclude_sections: Vec<String>,
    /// As `pages[].board`.
    #[serde(default = "default_true")]
    pub board: bool,
}

fn default_discover_include() -> Vec<String> {
    vec!["**/*.md".to_owned()]
}

fn default_discover_id() -> String {
    "{slug}".to_owned()
}

impl DiscoverSettings {
    /// The label of the block's issues, as GitLab stores it.
    pub fn label(&self) -> String {
        handbook_sync_core::sync::desired::label_name(
            self.label
                .as_deref()
                .unwrap_or(&format!("handbook-discover::{}", self.name)),
        )
    }

    /// The block's rules, compiled; the error names the key.
    pub fn rules(&self) -> Result<handbook_sync_core::discover::Rules, String> {
        use handbook_sync_core::discover::{
            PathPatterns, Qualification, Rules, Template, Templates,
        };
        let template = |key: &str, text: &str| {
            Template::parse(text).map_err(|e| format!("discover `{}`.{key}: {e}", self.name))
        };
        let optional = |key: &str, text: &Option<String>| {
            text.as_deref().map(|t| template(key, t)).transpose()
        };
        Ok(Rules {
            paths: PathPatterns::new(&self.include, &self.exclude)
                .map_err(|e| format!("discover `{}`.include/exclude: {e}", self.name))?,
            qualification: Qualification {
                front_matter_key: self.require_front_matter.clone(),
                heading: self
                    .require_heading
                    .as_ref()
                    .map(|h| crate::parse::HeadingPatterns::new(std::slice::from_ref(h)))
                    .transpose()
                    .map_err(|e| format!("discover `{}`.require_heading: {e}", self.name))?,
            },
            templates: Templates {
                id: template("id", &self.id)?,
                project: template("project", &self.project)?,
                owner: template("owner", &self.owner)?,
                url: optional("url", &self.url)?,
                page_label: optional("page_label", &self.page_label)?,
            },
        })
    }
}

fn default_true() -> bool {
    true
}

impl std::fmt::Debug for PageSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PageSettings")
            .field("id", &self.id)
            .field("source", &crate::redact::text(&self.source))
            .field("url", &self.url.as_deref().map(crate::redact::text))
            .field("project", &self.project)
            .field("owner", &self.owner)
            .field("include_sections", &self.include_sections)
            .field("exclude_sections", &self.exclude_sections)
            .field("board", &self.board)
            .field("adopt", &self.adopt)
            .finish()
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    gitlab: GitlabSettings,
    #[serde(default)]
    sync: SyncSettings,
    #[serde(default)]
    server: ServerSettings,
    #[serde(default)]
    webhook: WebhookSettings,
    #[serde(default)]
    roadmap: RoadmapSettings,
    #[serde(default)]
    people: BTreeMap<String, String>,
    #[serde(default)]
    pages: Vec<PageSettings>,
    #[serde(default)]
    discover: Vec<DiscoverSettings>,
}

/// A validated configuration. Its `Debug` shows no credential: URLs are redacted and
/// the webhook secret is a [`SecretString`].
#[derive(Clone)]
pub struct Config {
    /// The file it came from (page sources are relative to it).
    pub path: PathBuf,
    /// `[gitlab]`, with the URL parsed.
    pub gitlab: GitlabSettings,
    /// The parsed GitLab URL.
    pub gitlab_url: Url,
    /// `[sync]`.
    pub sync: SyncSettings,
    /// `[server]`.
    pub server: ServerSettings,
    /// `[webhook]`.
    pub webhook: WebhookSettings,
    /// `[roadmap]`.
    pub roadmap: RoadmapSettings,
    /// The parsed `sync.schedule`.
    pub schedule: crate::schedule::Schedule,
    /// Handbook name → GitLab username.
    pub people: BTreeMap<String, String>,
    /// The pages, in configuration order; after `crate::discover::expand`, the
    /// discovered ones follow.
    pub pages: Vec<PageSettings>,
    /// The `[[discover]]` blocks.
    pub discover: Vec<DiscoverSettings>,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("path", &self.path)
            .field("gitlab", &self.gitlab)
            .field("gitlab_url", &crate::redact::url(&self.gitlab_url))
            .field("sync", &self.sync)
            .field("server", &self.server)
            .field("webhook", &self.webhook)
            .field("roadmap", &self.roadmap)
            .field("schedule", &self.schedule)
            .field("people", &self.people)
            .field("pages", &self.pages)
            .field("discover", &self.discover)
            .finish()
    }
}

/// The message of a `config` crate error with the key spelled as the example configuration
/// spells it (`pages[0].owner`, where the crate writes `pages[0]owner`) and, for a missing
/// key, what the key is for.
fn describe(error: &config::ConfigError) -> String {
    match error {
        config::ConfigError::NotFound(key) => {
            let key = key_path(key);
            match key_purpose(&key) {
                Some(purpose) => format!("missing key `{key}`: {purpose}"),
                None => format!("missing key `{key}`"),
            }
        }
        config::ConfigError::Type {
            unexpected,
            expected,
            key,
            ..
        } => match key {
            Some(key) => format!(
                "key `{}`: invalid value {unexpected}, expected {expected}",
                key_path(key)
            ),
            None => format!("invalid value {unexpected}, expected {expected}"),
        },
        config::ConfigError::At {
            error,
            key: Some(key),
            ..
        } => {
            let key = key_path(key);
            // serde names an unknown key without its table: put the table in front of it.
            match unknown_key(&error.to_string()) {
                Some((field, expected)) => format!("unknown key `{key}.{field}`{expected}"),
                None => format!("key `{key}`: {}", describe(error)),
            }
        }
        config::ConfigError::At {
            error, key: None, ..
        } => describe(error),
        other => {
            let message = other.to_string();
            match unknown_key(&message) {
                Some((field, expected)) => format!("unknown key `{field}`{expected}"),
                None => message,
            }
        }
    }
}

/// `pages[0]owner` → `pages[0].owner`: the `config` crate drops the dot after an index.
fn key_path(key: &str) -> String {
    let mut out = String::with_capacity(key.len() + 2);
    let mut chars = key.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(c);
        if c == ']'
            && chars
                .peek()
                .is_some_and(|next| *next != '[' && *next != '.')
        {
            out.push('.');
        }
    }
    out
}

/// From serde's "unknown field `x`, expected one of `a`, `b`": `x` and " (expected one of
/// `a`, `b`)".
fn unknown_key(message: &str) -> Option<(&str, String)> {
    let rest = message.strip_prefix("unknown field `")?;
    let (field, rest) = rest.split_once('`')?;
    let expected = rest
        .strip_prefix(", expected")
        .map_or(String::new(), |e| format!(" (expected{e})"));
    Some((field, expected))
}

/// What a required key is for, as the example configuration explains it.
fn key_purpose(key: &str) -> Option<&'static str> {
    let field = key.rsplit('.').next()?;
    if !key.starts_with("pages[") {
        return None;
    }
    Some(match field {
        "id" => {
            "the page's stable id, used in its label `handbook::<id>` and in every issue's marker"
        }
        "source" => {
            "where the page is read from: a path relative to the configuration file, an \
             http(s) URL or gitlab://GROUP/PROJECT/PATH"
        }
        "project" => "the GitLab project (`group/name` or numeric id) the page's issues live in",
        "owner" => {
            "the GitLab username assigned to the page's items that name nobody after an arrow"
        }
        _ => return None,
    })
}

impl Config {
    /// Loads `path` (or the first default path that exists) with environment overrides.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        let path = match path {
            Some(p) => p.to_owned(),
            None => DEFAULT_PATHS
                .iter()
                .map(PathBuf::from)
                .find(|p| p.exists())
                // Said, as the working directory's file wins over /etc's: a stray copy
                // where a cron job starts must not be used unseen.
                .inspect(|p| tracing::info!(config = %std::path::absolute(p).unwrap_or_else(|_| p.clone()).display(), "no --config given: using the configuration file found there"))
                .ok_or_else(|| {
                    ConfigError::NotFound(
                        DEFAULT_PATHS
                            .iter()
                            .map(|p| std::path::absolute(p).unwrap_or_else(|_| p.into()))
                            .collect(),
                    )
                })?,
        };
        let invalid = |message: String| ConfigError::Invalid {
            path: path.clone(),
            message,
        };
        if !path.is_file() {
            return Err(invalid("the file does not exist or is not a file".into()));
        }
        let raw: RawConfig = config::Config::builder()
            .add_source(config::File::from(path.as_path()).format(config::FileFormat::Toml))
            .add_source(
                config::Environment::with_prefix("HANDBOOK_SYNC")
                    .prefix_separator("__")
                    .separator("__")
                    .try_parsing(true),
            )
            .build()
            .and_then(|c| c.try_deserialize())
            .map_err(|e| invalid(describe(&e)))?;
        // Absolute, so that a page source or cache directory relative to the file is
        // shown in messages as the path actually tried.
        let resolved = std::path::absolute(&path).unwrap_or_else(|_| path.clone());
        Self::validate(resolved, raw).map_err(invalid)
    }

    /// Checks what serde cannot. The error is a message naming the key; [`Config::load`]
    /// wraps it, with the file, into [`ConfigError::Invalid`], so no caller sees a String.
    fn validate(path: PathBuf, raw: RawConfig) -> Result<Config, String> {
        let gitlab_url =
            parse_gitlab_url("gitlab.url", &raw.gitlab.url, raw.gitlab.allow_insecure)?;
        // Up to a day: longer is surely a typo, and `Duration` must hold it.
        let seconds = 0.001..=86_400.0;
        if !seconds.contains(&raw.gitlab.timeout_seconds) {
            return Err("gitlab.timeout_seconds must be between 0.001 and 86400".into());
        }
        if !(0.0..=86_400.0).contains(&raw.gitlab.default_retry_after_seconds) {
            return Err("gitlab.default_retry_after_seconds must be between 0 and 86400".into());
        }
        if raw.gitlab.requests_per_minute == 0
            || raw.gitlab.issue_creations_per_minute == 0
            || raw.gitlab.concurrency == 0
        {
            return Err("gitlab.requests_per_minute, gitlab.issue_creations_per_minute and gitlab.concurrency must be at least 1".into());
        }
        if raw.server.max_connections == 0 {
            return Err("server.max_connections must be at least 1".into());
        }
        if raw.sync.cache_clock_margin_seconds > 86_400 {
            return Err(format!(
                "sync.cache_clock_margin_seconds must be at most 86400 (a day), not {}",
                raw.sync.cache_clock_margin_seconds
            ));
        }
        if let Some(dir) = &raw.sync.cache_dir {
            if dir.as_os_str().is_empty() {
                return Err(
                    "sync.cache_dir must not be empty (leave it out to run without a cache)".into(),
                );
            }
            let dir = path.parent().unwrap_or(Path::new(".")).join(dir);
            if dir.exists() && !dir.is_dir() {
                return Err(format!(
                    "sync.cache_dir `{}` exists and is not a directory",
                    dir.display()
                ));
            }
        }
        if raw.sync.max_page_bytes == 0 {
            return Err("sync.max_page_bytes must be at least 1".into());
        }
        if !(0.0..=1.0).contains(&raw.sync.max_close_fraction) {
            return Err(format!(
                "sync.max_close_fraction must be between 0 and 1, not {}",
                raw.sync.max_close_fraction
            ));
        }
        if raw.sync.managed_label.trim().is_empty() || raw.sync.managed_label.contains(',') {
            return Err("sync.managed_label must be a non-empty label name without commas".into());
        }
        if let Some(clash) = raw.sync.labels().clash() {
            return Err(format!(
                "sync.{} and sync.{} collide: {}; every run would rewrite the labels GitLab dropped (or lose the managed one): choose settings that make labels of different scopes",
                clash.first, clash.second, clash.why
            ));
        }
        Self::validate_lease_label(&raw.sync)?;
        let schedule = crate::schedule::Schedule::parse(&raw.sync.schedule, &raw.sync.timezone)
            .map_err(|e| match e {
                crate::schedule::ScheduleError::TimeZone { .. } => format!("sync.timezone: {e}"),
                _ => format!("sync.schedule: {e}"),
            })?;
        let mut ids = std::collections::HashSet::new();
        let base_dir = path.parent().unwrap_or(Path::new("."));
        for (i, page) in raw.pages.iter().enumerate() {
            Self::validate_page(i, page, base_dir, &mut ids)?;
        }
        let mut names = std::collections::HashSet::new();
        for block in &raw.discover {
            Self::validate_discover(block, base_dir, &mut names)?;
            if block.label() == raw.sync.lease_label {
                return Err(format!(
                    "discover `{}`.label is sync.lease_label: the block's label must be its own",
                    block.name
                ));
            }
        }
        placeholders::check(&raw.people, &raw.pages)?;
        Ok(Config {
            path,
            gitlab_url,
            gitlab: raw.gitlab,
            sync: raw.sync,
            server: raw.server,
            webhook: raw.webhook,
            roadmap: raw.roadmap,
            schedule,
            people: raw.people,
            pages: raw.pages,
            discover: raw.discover,
        })
    }

    /// Checks a `[[discover]]` block; `names` collects the names seen so far.
    fn validate_discover(
        block: &DiscoverSettings,
        base_dir: &Path,
        names: &mut std::collections::HashSet<String>,
    ) -> Result<(), String> {
        let at = format!("discover `{}`", block.name);
        handbook_sync_core::discover::check_page_id(&block.name)
            .map_err(|e| format!("discover.name: the name {e}"))?;
        if !names.insert(block.name.clone()) {
            return Err(format!(
                "{at}: the name is used by another [[discover]] block"
            ));
        }
        match crate::source::SourceSpec::parse(&block.source, base_dir) {
            Ok(crate::source::SourceSpec::Http(_)) => {
                return Err(format!(
                    "{at}.source: discovery lists a directory or a GitLab repository (gitlab://GROUP/PROJECT/-/DIR?ref=BRANCH), not an http(s) URL"
                ));
            }
            Ok(_) => {}
            Err(e) => return Err(format!("{at}.source: {e}")),
        }
        if block.include.is_empty() {
            return Err(format!(
                "{at}.include: give at least one pattern, e.g. \"**/*.md\""
            ));
        }
        if block.label().is_empty() {
            return Err(format!("{at}.label must not be empty"));
        }
        // As for `[[pages]]`: a copy of the example must not assign to whoever owns the
        // placeholder's name.
        for (key, template) in [("owner", &block.owner), ("project", &block.project)] {
            if placeholders::USERNAMES.iter().any(|u| template.contains(u))
                || template.contains(placeholders::GROUP)
            {
                return Err(format!(
                    "{at}.{key} = \"{template}\" holds the example configuration's placeholder: set your own"
                ));
            }
        }
        for (key, patterns) in [
            ("sections", &block.sections),
            ("exclude_sections", &block.exclude_sections),
        ] {
            crate::parse::HeadingPatterns::new(patterns).map_err(|e| format!("{at}.{key}: {e}"))?;
        }
        block.rules().map(|_| ())
    }

    /// `sync.lease_label` is a label name no issue ever carries: none of handbook-sync's
    /// own labels, nor one its prefixes could make.
    fn validate_lease_label(sync: &SyncSettings) -> Result<(), String> {
        let lease = sync.lease_label.trim();
        if lease.is_empty() || lease.contains(',') || lease != sync.lease_label {
            return Err(
                "sync.lease_label must be a label name without commas or surrounding spaces".into(),
            );
        }
        // Every run reads the lease back by its title: one GitLab stores otherwise (HTML
        // stripped, entities decoded) is never found, and one that is a number is taken
        // for a label's id.
        let stored = crate::sync::desired::label_name(lease);
        if stored != lease {
            return Err(format!(
                "sync.lease_label `{lease}` is not kept as written by GitLab (it would store `{stored}`): leave out HTML, entities and repeated spaces"
            ));
        }
        if lease.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!(
                "sync.lease_label `{lease}` is a number, which GitLab takes for a label's id"
            ));
        }
        for (key, label) in [
            ("sync.managed_label", &sync.managed_label),
            ("sync.handed_over_label", &sync.handed_over_label),
        ] {
            if lease == label {
                return Err(format!(
                    "sync.lease_label `{lease}` is {key}: the lease must be a label of its own"
                ));
            }
        }
        for (key, prefix) in [
            ("sync.page_label_prefix", &sync.page_label_prefix),
            ("sync.section_label_prefix", &sync.section_label_prefix),
        ] {
            if !prefix.is_empty() && lease.starts_with(prefix.as_str()) {
                return Err(format!(
                    "sync.lease_label `{lease}` starts with {key} `{prefix}`: a page or section could be given that label"
                ));
            }
        }
        Ok(())
    }

    /// Checks `pages[i]`; `ids` collects the ids seen so far, which must be unique.
    fn validate_page(
        i: usize,
        page: &PageSettings,
        base_dir: &Path,
        ids: &mut std::collections::HashSet<String>,
    ) -> Result<(), String> {
        let at = format!("pages[{i}]");
        for (key, value) in [
            ("id", &page.id),
            ("source", &page.source),
            ("project", &page.project),
            ("owner", &page.owner),
        ] {
            if value.trim().is_empty() {
                return Err(format!("{at}.{key} must not be empty"));
            }
        }
        if !page
            .id
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            return Err(format!(
                "{at}.id `{}`: use letters, digits, `-`, `_` and `.` only",
                page.id
            ));
        }
        if !ids.insert(page.id.clone()) {
            return Err(format!("{at}.id `{}` is used by another page", page.id));
        }
        crate::source::SourceSpec::parse(&page.source, base_dir)
            .map_err(|e| format!("{at}.source: {e}"))?;
        for (key, patterns) in [
            ("sections", &page.include_sections),
            ("exclude_sections", &page.exclude_sections),
        ] {
            crate::parse::HeadingPatterns::new(patterns).map_err(|e| format!("{at}.{key}: {e}"))?;
        }
        if let Some(url) = &page.url {
            let shown = crate::redact::text(url);
            let parsed = Url::parse(url).map_err(|e| format!("{at}.url `{shown}`: {e}"))?;
            // The page URL is written into every issue's Source line, in public projects.
            if crate::redact::url(&parsed) != parsed.as_str() {
                return Err(format!(
                    "{at}.url `{shown}`: holds credentials, and this URL is written into every issue: use the page's public address"
                ));
            }
        }
        Ok(())
    }

    /// The webhook secret: `webhook.secret`, else the contents of `webhook.secret_file`
    /// (read without blocking the async threads); `None` turns the webhook off.
    pub async fn webhook_secret(&self) -> Result<Option<SecretString>, ConfigError> {
        use secrecy::ExposeSecret as _;
        let non_empty = |s: &str| {
            let s = s.trim();
            (!s.is_empty()).then(|| SecretString::from(s.to_owned()))
        };
        if let Some(secret) = self
            .webhook
            .secret
            .as_ref()
            .and_then(|s| non_empty(s.expose_secret()))
        {
            return Ok(Some(secret));
        }
        match &self.webhook.secret_file {
            None => Ok(None),
            Some(path) => tokio::fs::read_to_string(path)
                .await
                .map(|s| non_empty(&s))
                .map_err(|e| ConfigError::Invalid {
                    path: path.clone(),
                    message: format!("webhook.secret_file: {e}"),
                }),
        }
    }

    /// How the GitLab client paces and retries.
    pub fn policy(&self) -> crate::gitlab::Policy {
        let g = &self.gitlab;
        crate::gitlab::Policy {
            timeout: std::time::Duration::from_secs_f64(g.timeout_seconds),
            requests_per_minute: g.requests_per_minute,
            issue_creations_per_minute: g.issue_creations_per_minute,
            requests_per_hour: g.requests_per_hour,
            concurrency: g.concurrency,
            max_retries: g.max_retries,
            retry_initial_delay: std::time::Duration::from_millis(g.retry_initial_delay_ms),
            default_retry_after: std::time::Duration::from_secs_f64(g.default_retry_after_seconds),
        }
    }

    /// Where a page comes from; relative paths are relative to the configuration file.
    pub fn source(&self, page: &PageSettings) -> crate::source::SourceSpec {
        crate::source::SourceSpec::parse(&page.source, self.path.parent().unwrap_or(Path::new(".")))
            .expect("sources are validated when the configuration loads")
    }

    /// Where a `[[discover]]` block lists its files; a directory relative to the
    /// configuration file.
    pub fn source_of(&self, block: &DiscoverSettings) -> crate::source::SourceSpec {
        crate::source::SourceSpec::parse(
            &block.source,
            self.path.parent().unwrap_or(Path::new(".")),
        )
        .expect("discover sources are validated when the configuration loads")
    }

    /// `sync.cache_dir`, relative paths resolved against the configuration file's
    /// directory; `None` when the cache is off.
    pub fn cache_dir(&self) -> Option<PathBuf> {
        let dir = self.sync.cache_dir.as_ref()?;
        Some(self.path.parent().unwrap_or(Path::new(".")).join(dir))
    }

    /// What a cache written under another configuration must not be used for: a hash of
    /// everything that shapes a plan (GitLab's URL, `[sync]`, `[people]`, `[[pages]]`)
    /// and of handbook-sync's version.
    pub fn plan_fingerprint(&self) -> String {
        self.fingerprint_at(env!("CARGO_PKG_VERSION"))
    }

    /// [`Config::plan_fingerprint`] as handbook-sync `version` computes it.
    fn fingerprint_at(&self, version: &str) -> String {
        // Discovered pages are not part of it: what they are is the repository's
        // content, which the cache checks page by page; their blocks are.
        let configured: Vec<&PageSettings> = self
            .pages
            .iter()
            .filter(|p| p.discovered.is_none())
            .collect();
        let mut shape = format!(
            "{}\n{:?}\n{:?}\n{:?}\n{version}",
            self.gitlab_url, self.sync, self.people, configured,
        );
        if !self.discover.is_empty() {
            shape.push_str(&format!("\n{:?}", self.discover));
        }
        handbook_sync_core::sync::marker::hash(&shape)
    }

    /// The token: `GITLAB_TOKEN`, else `gitlab.token_file`, else systemd's credential.
    pub fn token(&self) -> Result<SecretString, ConfigError> {
        if let Ok(token) = std::env::var("GITLAB_TOKEN")
            && !token.trim().is_empty()
        {
            return Ok(SecretString::from(token.trim().to_owned()));
        }
        let file = self.gitlab.token_file.clone().or_else(|| {
            std::env::var_os("CREDENTIALS_DIRECTORY").map(|d| PathBuf::from(d).join("gitlab-token"))
        });
        let Some(file) = file else {
            return Err(ConfigError::NoToken);
        };
        let text = std::fs::read_to_string(&file).map_err(|e| ConfigError::TokenFile {
            path: file.clone(),
            reason: e.to_string(),
        })?;
        let token = text.trim();
        if token.is_empty() {
            return Err(ConfigError::TokenFile {
                path: file,
                reason: "the file is empty".into(),
            });
        }
        Ok(SecretString::from(token.to_owned()))
    }
}

/// A GitLab URL as `key` gives it: parsed, without credentials (it is written into merge
/// request notes' links, and the token travels in a header), https, or http to a loopback
/// address or with `allow_insecure`. The message names `key` and the URL, redacted.
///
/// A URL ending in `/api/v4` (as `CI_API_V4_URL`) is taken for the GitLab it belongs to:
/// the client adds `/api/v4` itself.
pub(crate) fn parse_gitlab_url(key: &str, raw: &str, allow_insecure: bool) -> Result<Url, String> {
    let shown_url = crate::redact::text(raw).into_owned();
    let mut url = Url::parse(raw).map_err(|e| format!("{key} `{shown_url}`: {e}"))?;
    let path = url.path().trim_end_matches('/');
    if let Some(base) = path.strip_suffix("/api/v4") {
        let base = if base.is_empty() { "/" } else { base }.to_owned();
        url.set_path(&base);
    }
    if crate::redact::url(&url) != url.as_str() {
        return Err(format!(
            "{key} `{shown_url}`: holds credentials, and this URL is written into merge request notes: give the token in GITLAB_TOKEN or gitlab.token_file instead"
        ));
    }
    match url.scheme() {
        "https" => Ok(url),
        "http" if allow_insecure || is_loopback(&url) => Ok(url),
        "http" => Err(format!(
            "{key} `{shown_url}`: plain http is only allowed to loopback addresses or with gitlab.allow_insecure = true"
        )),
        other => Err(format!("{key} `{shown_url}`: unsupported scheme `{other}`")),
    }
}

/// Whether two GitLab URLs are the same GitLab: the same scheme, host and port, and the
/// same path (`https://host/gitlab` is not `https://host`), trailing slashes aside. A
/// token of one is sent to the other only then.
pub(crate) fn same_gitlab(a: &Url, b: &Url) -> bool {
    a.origin() == b.origin() && a.path().trim_end_matches('/') == b.path().trim_end_matches('/')
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d == "localhost",
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> String {
        let dir = std::env::temp_dir().join(format!("hs-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{:x}.toml", {
            use std::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            text.hash(&mut h);
            h.finish()
        }));
        std::fs::write(&path, text).unwrap();
        let message = Config::load(Some(&path)).unwrap_err().to_string();
        std::fs::remove_file(&path).unwrap();
        message
    }

    #[test]
    fn a_gitlab_url_is_its_gitlab_with_or_without_api_v4() {
        let parse = |raw: &str| parse_gitlab_url("k", raw, false).unwrap().to_string();
        assert_eq!(
            parse("https://gitlab.example.com"),
            "https://gitlab.example.com/"
        );
        assert_eq!(
            parse("https://gitlab.example.com/api/v4"),
            "https://gitlab.example.com/"
        );
        assert_eq!(parse("https://host/gitlab/api/v4/"), "https://host/gitlab");
        assert_eq!(parse("https://host/gitlab/"), "https://host/gitlab/");
    }

    #[test]
    fn only_the_same_scheme_host_port_and_path_are_the_same_gitlab() {
        let url = |raw: &str| Url::parse(raw).unwrap();
        let same = |a: &str, b: &str| same_gitlab(&url(a), &url(b));
        assert!(same("https://host/gitlab", "https://host/gitlab/"));
        assert!(same("https://host", "https://host:443/"));
        assert!(!same(
            "https://host/gitlab-prod",
            "https://host/gitlab-staging"
        ));
        assert!(!same("https://host/gitlab", "https://host"));
        assert!(!same("https://host", "http://host"));
        assert!(!same("https://host", "https://host:8443"));
        assert!(!same("https://host", "https://other"));
    }

    /// A cache is used only under the configuration and version that wrote it.
    #[test]
    fn the_fingerprint_changes_with_the_version_and_with_the_configuration() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("handbook-sync.toml");
        let page = "[[pages]]\nid = \"x\"\nsource = \"x.md\"\nproject = \"a/b\"\nowner = \"o\"\n";
        std::fs::write(&path, page).unwrap();
        let config = Config::load(Some(&path)).unwrap();
        assert_eq!(
            config.fingerprint_at("0.1.0"),
            config.fingerprint_at("0.1.0")
        );
        assert_ne!(
            config.fingerprint_at("0.1.0"),
            config.fingerprint_at("0.1.1")
        );
        assert_eq!(
            config.plan_fingerprint(),
            config.fingerprint_at(env!("CARGO_PKG_VERSION"))
        );
        std::fs::write(&path, format!("[sync]\nenforce = true\n{page}")).unwrap();
        let other = Config::load(Some(&path)).unwrap();
        assert_ne!(
            config.fingerprint_at("0.1.0"),
            other.fingerprint_at("0.1.0")
        );
    }

    #[test]
    fn key_paths_get_the_dot_after_an_index() {
        assert_eq!(key_path("pages[0]owner"), "pages[0].owner");
        assert_eq!(
            key_path("pages[12]include_sections[1]"),
            "pages[12].include_sections[1]"
        );
        assert_eq!(key_path("sync.enforce"), "sync.enforce");
        assert_eq!(key_path("pages[0].id"), "pages[0].id");
    }

    #[test]
    fn a_missing_owner_names_the_full_key_and_what_it_is_for() {
        let message = load("[[pages]]\nid = \"x\"\nsource = \"x.md\"\nproject = \"a/b\"\n");
        assert!(
            message.contains("missing key `pages[0].owner`"),
            "{message}"
        );
        assert!(message.contains("GitLab username"), "{message}");
    }

    #[test]
    fn an_unknown_key_is_named_with_its_table() {
        let message = load("[sync]\nenforse = true\n");
        assert!(message.contains("unknown key `sync.enforse`"), "{message}");
        assert!(message.contains("`enforce`"), "{message}");
        let message = load(
            "[[pages]]\nid = \"x\"\nsource = \"x.md\"\nproject = \"a/b\"\nowner = \"o\"\nbord = false\n",
        );
        assert!(message.contains("unknown key `pages[0].bord`"), "{message}");
        let message = load("colour = 1\n");
        assert!(message.contains("unknown key `colour`"), "{message}");
    }

    #[test]
    fn a_value_of_the_wrong_type_names_its_key() {
        let message = load("[gitlab]\ntimeout_seconds = \"soon\"\n");
        assert!(message.contains("gitlab.timeout_seconds"), "{message}");
    }

    #[test]
    fn a_page_url_with_credentials_is_refused_without_showing_them() {
        let message = load(
            "[[pages]]\nid = \"x\"\nsource = \"x.md\"\nurl = \"https://u:hunter2@h.example/x?token=t0psecret\"\nproject = \"a/b\"\nowner = \"o\"\n",
        );
        assert!(message.contains("pages[0].url"), "{message}");
        assert!(message.contains("holds credentials"), "{message}");
        assert!(
            !message.contains("hunter2") && !message.contains("t0psecret"),
            "{message}"
        );
    }

    #[test]
    fn a_gitlab_url_with_credentials_is_refused_without_showing_them() {
        for url in [
            "https://bot:hunter2@gitlab.example.com",
            "https://gitlab.example.com/?private_token=hunter2",
        ] {
            let message = load(&format!("[gitlab]\nurl = \"{url}\"\n"));
            assert!(message.contains("gitlab.url"), "{message}");
            assert!(message.contains("holds credentials"), "{message}");
            assert!(!message.contains("hunter2"), "{message}");
        }
    }

    #[test]
    fn a_bad_http_source_is_named_without_its_credentials() {
        let message = load(
            "[[pages]]\nid = \"x\"\nsource = \"https://u:hunter2@[::1/x.md\"\nproject = \"a/b\"\nowner = \"o\"\n",
        );
        assert!(message.contains("pages[0].source"), "{message}");
        assert!(!message.contains("hunter2"), "{message}");
    }
}
