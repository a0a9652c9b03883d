//! The daemon's tables: `[server]` (its HTTP endpoints), `[webhook]` (GitLab's push
//! hooks) and `[roadmap]` (the public roadmap).

use std::path::PathBuf;

use secrecy::SecretString;
use serde::Deserialize;

use super::{Config, ConfigError};

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

impl Config {
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
}
