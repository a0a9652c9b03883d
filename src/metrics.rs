//! The GitLab client's counters: requests by answer and rate-limit waits.
//!
//! They are a value, not a process-wide static: whoever builds a client decides whether it
//! counts, and where to (`gitlab::Client::with_metrics`). A library user or a test
//! that passes none gets no side effect on anything global; the daemon creates one
//! [`GitlabMetrics`], registers it beside its own metrics and hands it to every run.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

/// The label of the requests counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StatusLabel {
    /// HTTP status, or `error` when no answer came.
    pub status: String,
}

/// Counters the GitLab transport feeds. Clones share the counters.
#[derive(Debug, Clone, Default)]
pub struct GitlabMetrics {
    requests: Family<StatusLabel, Counter>,
    rate_limit_waits: Counter,
}

impl GitlabMetrics {
    /// Adds the counters to `registry` as `gitlab_requests` and `rate_limit_waits` (the
    /// registry's prefix goes in front; the daemon's is `handbook_sync`).
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "gitlab_requests",
            "GitLab API requests by HTTP status (error: no answer)",
            self.requests.clone(),
        );
        registry.register(
            "rate_limit_waits",
            "Waits for GitLab's rate limit (429 or RateLimit-Remaining)",
            self.rate_limit_waits.clone(),
        );
    }

    /// Counts one GitLab answer (`None`: no answer came).
    pub fn request(&self, status: Option<u16>) {
        let status = status.map_or_else(|| "error".to_owned(), |s| s.to_string());
        self.requests.get_or_create(&StatusLabel { status }).inc();
    }

    /// Counts one wait for the rate limit.
    pub fn rate_limit_wait(&self) {
        self.rate_limit_waits.inc();
    }

    /// Requests counted with `status` (`"200"`, `"error"`, …). Reading adds no label
    /// to the family, so `/metrics` shows only statuses that were answered.
    pub fn requests(&self, status: &str) -> u64 {
        let label = StatusLabel {
            status: status.to_owned(),
        };
        self.requests.get(&label).map_or(0, |c| c.get())
    }

    /// Rate-limit waits counted.
    pub fn rate_limit_waits(&self) -> u64 {
        self.rate_limit_waits.get()
    }
}

#[cfg(test)]
mod tests {
    use super::GitlabMetrics;

    #[test]
    fn two_values_count_apart_and_clones_share() {
        let a = GitlabMetrics::default();
        let b = GitlabMetrics::default();
        let shared = a.clone();
        shared.request(Some(201));
        a.request(None);
        a.rate_limit_wait();
        assert_eq!((a.requests("201"), a.requests("error")), (1, 1));
        assert_eq!(a.rate_limit_waits(), 1);
        assert_eq!((b.requests("201"), b.rate_limit_waits()), (0, 0));
    }
}
