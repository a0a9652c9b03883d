//! Process-wide counters the GitLab transport feeds and the daemon's `/metrics` shows.

use std::sync::LazyLock;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;

/// The label of [`GITLAB_REQUESTS`].
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StatusLabel {
    /// HTTP status, or `error` when no answer came.
    pub status: String,
}

/// GitLab requests by answer.
pub static GITLAB_REQUESTS: LazyLock<Family<StatusLabel, Counter>> = LazyLock::new(Family::default);

/// Times the client waited because of a rate limit (429 or `RateLimit-Remaining`).
pub static RATE_LIMIT_WAITS: LazyLock<Counter> = LazyLock::new(Counter::default);

/// Counts one GitLab answer.
pub fn gitlab_request(status: Option<u16>) {
    let status = status.map_or_else(|| "error".to_owned(), |s| s.to_string());
    GITLAB_REQUESTS.get_or_create(&StatusLabel { status }).inc();
}
