//! `[sync]`: labels, guards, schedule, limits, the cache and the lease.

use std::path::PathBuf;

use serde::Deserialize;

use super::Config;

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

impl Config {
    /// `sync.lease_label` is a label name no issue ever carries: none of handbook-sync's
    /// own labels, nor one its prefixes could make.
    pub(super) fn validate_lease_label(sync: &SyncSettings) -> Result<(), String> {
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
}
