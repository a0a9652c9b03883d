//! Who holds a lease, as its label's description records it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::TAG;

/// Who runs: written into every lease this process takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Random, one per run: tells this run's lease from another's.
    pub run: String,
    /// The machine (a pod's name in Kubernetes).
    pub host: String,
    /// The process id.
    pub pid: u32,
    /// What runs: `handbook-sync apply`, with the CI job when there is one.
    pub command: String,
}

impl Identity {
    /// This process, running `handbook-sync <command>`.
    pub fn this_process(command: &str) -> Identity {
        let mut command = format!("handbook-sync {command}");
        if let Ok(job) = std::env::var("CI_JOB_URL") {
            command.push_str(&format!(" (CI job {job})"));
        }
        Identity {
            run: format!("{:016x}", rand::random::<u64>()),
            host: clean(&gethostname::gethostname().to_string_lossy()),
            pid: std::process::id(),
            command: clean(&crate::redact::text(&command)),
        }
    }
}

/// Text that survives GitLab's sanitizing of label descriptions unchanged, and short.
pub(super) fn clean(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_control() && !matches!(c, '<' | '>'))
        .take(200)
        .collect()
}

/// A lease's holder and until when it holds, as its label's description records them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    /// The run ([`Identity::run`]).
    pub run: String,
    /// Its machine.
    pub host: String,
    /// Its process id.
    pub pid: u32,
    /// What it runs.
    pub command: String,
    /// When it took the lease (GitLab's clock).
    pub since: DateTime<Utc>,
    /// When the lease expires unless renewed (GitLab's clock).
    pub until: DateTime<Utc>,
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let time = |t: &DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        write!(
            f,
            "host {}, pid {}, `{}`, since {}, until {}",
            self.host,
            self.pid,
            self.command,
            time(&self.since),
            time(&self.until)
        )
    }
}

impl Holder {
    /// The label's description: what a person reading the label list needs to know,
    /// then the same as one line of JSON for the next run.
    pub(super) fn describe(&self) -> String {
        let json = serde_json::to_string(self).expect("a holder serialises");
        format!(
            "handbook-sync's lease: while this label exists, one handbook-sync run writes to this project's issues and no other does. Held by {self}; the run renews it while it goes on and deletes it when it ends. Never put this label on an issue. If no handbook-sync run is going on any more (it crashed), deleting this label is safe; after the time above the next run also takes it over by itself. {TAG}{json}"
        )
    }

    /// The holder a lease label's description records, if it is one.
    pub(super) fn parse(description: &str) -> Option<Holder> {
        let at = description.rfind(TAG)?;
        serde_json::from_str(description[at + TAG.len()..].trim()).ok()
    }
}
