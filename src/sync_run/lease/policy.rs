//! How leases are taken, kept and given up, and why one could not be taken.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::time::{Moment, Validity};
use super::{Holder, Identity};
use crate::config::Config;
use crate::gitlab::{GITLAB_GRACE, GitlabError};
use crate::sync_run::RunError;

/// How leases are taken, kept and given up.
#[derive(Debug, Clone)]
pub struct LeasePolicy {
    /// The label's title (`sync.lease_label`).
    pub label: String,
    /// How long to wait for another holder (`sync.lease_wait_seconds`).
    pub wait: Duration,
    /// How long a lease holds unless renewed.
    pub ttl: Duration,
    /// How often it is renewed.
    pub renew_every: Duration,
    /// How often a waiting run reads the lease again.
    pub poll: Duration,
    /// Taken off the lease's lifetime on this machine: the way to GitLab and back of the
    /// request that set it, and the second GitLab's `Date` rounds off.
    pub margin: Duration,
    /// Who holds it.
    pub me: Identity,
}

impl LeasePolicy {
    /// The policy of `config` for a run of `command` (`apply`, `run`). A lease holds five
    /// minutes, or twice the longest a read and its write may take if that is more (each
    /// request up to `gitlab.timeout_seconds`, GitLab running one up to a minute after its
    /// client gave up, and the margin): between two renewals, every fifth of that, the
    /// fence always has room for what it admits.
    pub fn new(config: &Config, command: &str) -> LeasePolicy {
        let timeout = config.policy().timeout;
        let margin = timeout + Duration::from_secs(2);
        let ttl = Duration::from_secs(300).max((timeout * 2 + GITLAB_GRACE + margin) * 2);
        LeasePolicy {
            label: config.sync.lease_label.clone(),
            wait: Duration::from_secs(config.sync.lease_wait_seconds),
            ttl,
            renew_every: ttl / 5,
            poll: Duration::from_secs(5),
            margin,
            me: Identity::this_process(command),
        }
    }
}

impl LeasePolicy {
    /// How long a lease that GitLab's clock says lasts `until` surely holds, from `sent`
    /// (a moment before the request whose answer GitLab dated `date`): its lifetime at
    /// most, and no later than `until` by that `Date` (GitLab answered after `sent`, and
    /// its `Date` is rounded down to the second), less the margin. A renewal written from
    /// a wrong idea of GitLab's time (one that missed a suspend) thus opens no fence.
    pub(super) fn validity(
        &self,
        sent: Moment,
        until: DateTime<Utc>,
        date: Option<DateTime<Utc>>,
    ) -> Validity {
        let left = match date {
            Some(date) => (until - date - chrono::TimeDelta::seconds(1))
                .to_std()
                .unwrap_or_default()
                .min(self.ttl),
            None => self.ttl,
        };
        Validity {
            from: sent,
            length: left.saturating_sub(self.margin),
        }
    }
}

/// Why a run could not take a project's lease.
#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    /// Another run holds it, and kept it longer than the run waited.
    #[error(
        "project {project}: another handbook-sync run holds its lease (the label `{label}`): {holder}. Waited {waited} s for it (sync.lease_wait_seconds); nothing was written. The lease is deleted when that run ends and expires at the time above if the run died; if you are sure no such run is going on, delete the label `{label}` in {project} (Manage > Labels) to break it now"
    )]
    Held {
        /// The project path.
        project: String,
        /// The lease label.
        label: String,
        /// Who holds it.
        holder: Holder,
        /// How long this run waited, in seconds.
        waited: u64,
    },
    /// The label exists but is not a lease: a person's label, or a group's.
    #[error(
        "project {project}: a label `{label}` exists that is not handbook-sync's lease ({what}), so no run can take the lease; nothing was written. Rename that label, or set sync.lease_label to a name no label has"
    )]
    Foreign {
        /// The project path.
        project: String,
        /// The label.
        label: String,
        /// What it is instead.
        what: String,
    },
    /// The label changed under every look for longer than the run waits: created or
    /// deleted between each read and the create that followed it.
    #[error(
        "project {project}: the lease label `{label}` kept changing while this run tried to take it, for {waited} s (sync.lease_wait_seconds): other runs taking and giving it back, or a person; nothing was written"
    )]
    Unsettled {
        /// The project path.
        project: String,
        /// The lease label.
        label: String,
        /// How long this run tried, in seconds.
        waited: u64,
    },
    /// Reading, creating or deleting the label failed.
    #[error("project {project}: taking the lease: {source}")]
    Gitlab {
        /// The project path.
        project: String,
        /// What failed.
        source: GitlabError,
    },
    /// Shutting down while waiting.
    #[error("shutting down: the lease of {project} was not taken and nothing was written")]
    Cancelled {
        /// The project path.
        project: String,
    },
}

impl From<LeaseError> for RunError {
    fn from(e: LeaseError) -> Self {
        RunError::Lease(Box::new(e))
    }
}

impl LeaseError {
    /// True when another run holds the lease, or a label of its name blocks it: a
    /// person or time resolves it, not a retry now (exit 75).
    pub fn is_held(&self) -> bool {
        matches!(
            self,
            LeaseError::Held { .. } | LeaseError::Foreign { .. } | LeaseError::Unsettled { .. }
        )
    }
}
