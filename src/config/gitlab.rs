//! `[gitlab]`: the instance and how hard to push it; a GitLab URL as a key gives it.

use std::path::PathBuf;

use serde::Deserialize;
use url::Url;

use super::Config;

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

impl Config {
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
    use super::super::tests::load;
    use super::*;

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
}
