//! Configuration: TOML (the `config` crate) with `HANDBOOK_SYNC__SECTION__KEY`
//! environment overrides, validated into typed settings. Errors name the offending key.
//!
//! This file holds [`Config`], its loading and what it derives; one file per table
//! besides (`gitlab`, `sync`, `server` with `[webhook]` and `[roadmap]`, `pages`,
//! `discover`), `validate` (what serde cannot check, and the messages) and
//! `placeholders`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use secrecy::SecretString;
use serde::Deserialize;
use url::Url;

mod discover;
mod gitlab;
mod pages;
pub mod placeholders;
mod server;
mod sync;
mod validate;

pub use discover::DiscoverSettings;
pub use gitlab::GitlabSettings;
pub(crate) use gitlab::{parse_gitlab_url, same_gitlab};
pub use pages::{Discovered, PageSettings};
pub use server::{RoadmapSettings, ServerSettings, WebhookSettings};
pub use sync::SyncSettings;

use validate::describe;

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

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn load(text: &str) -> String {
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
}
