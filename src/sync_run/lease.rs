//! One run per project at a time, across machines: before `apply` or a daemon's sync
//! writes to a project, it holds the project's lease, a label that GitLab creates for one
//! caller only (see `gitlab::lease` for what GitLab guarantees).
//!
//! - **Taking it**: the label (`sync.lease_label`) is read; if there is none it is created
//!   with the holder and an expiry in its description. GitLab answers one create `201`
//!   and the others `409`; the label read back says who holds it.
//! - **Waiting**: another holder's lease is read again every few seconds for up to
//!   `sync.lease_wait_seconds`, then the run gives up ([`LeaseError::Held`], exit 75).
//! - **Expiry**: a holder that died (killed, out of memory, the machine gone) cannot
//!   release; its lease ends at the time in its description, by GitLab's clock (the `Date`
//!   of GitLab's answers, never this machine's, so skew between machines does not
//!   matter). An expired lease is deleted by id, with `If-Unmodified-Since` the time it was
//!   read as expired, so that one renewed or taken over meanwhile stays, and created anew.
//! - **Renewal**: a task rewrites the expiry every [`LeasePolicy::renew_every`]. Every
//!   write the run makes passes the [`Fence`] right before it is sent: it goes out only
//!   while the lease is known to hold until the write is surely done (a long rate-limit
//!   pause can outlast it: the write then waits for a renewal). A renewal that finds the
//!   label gone (a person deleted it, or another run found it expired and took it over)
//!   or renamed closes the fence for good: nothing more is written.
//! - **Release**: at the end of the run (also after an error, and on SIGTERM) the label is
//!   deleted by id, if it did not change since the lease's last renewal.
//! - `plan` takes no lease: it writes nothing. A run with nothing to write takes none
//!   either; one that has writes plans without the lease, takes it, and plans again under
//!   it ([`prepare_leased`]): what another run did meanwhile is then seen.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::{Mutex, Notify, watch};
use tokio::time::Instant;

use super::{Connection, Prepared, ProjectError, RunError, RunOptions};
use crate::config::Config;
use crate::gitlab::lease::{Created, Dated, Deleted};
use crate::gitlab::{Fence, GITLAB_GRACE, Gitlab, GitlabError};
use crate::sync::{ActionKind, PageOutcome};

/// The lease label's colour: a warning red, so that people notice it in the label list.
const COLOR: &str = "#d9534f";

/// What the machine-readable part of the description starts with.
const TAG: &str = "lease-v1 ";

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
fn clean(text: &str) -> String {
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
    fn describe(&self) -> String {
        let json = serde_json::to_string(self).expect("a holder serialises");
        format!(
            "handbook-sync's lease: while this label exists, one handbook-sync run writes to this project's issues and no other does. Held by {self}; the run renews it while it goes on and deletes it when it ends. Never put this label on an issue. If no handbook-sync run is going on any more (it crashed), deleting this label is safe; after the time above the next run also takes it over by itself. {TAG}{json}"
        )
    }

    /// The holder a lease label's description records, if it is one.
    fn parse(description: &str) -> Option<Holder> {
        let at = description.rfind(TAG)?;
        serde_json::from_str(description[at + TAG.len()..].trim()).ok()
    }
}

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
        matches!(self, LeaseError::Held { .. } | LeaseError::Foreign { .. })
    }
}

/// GitLab's clock, as far as its answers tell it: the last `Date`, and when it came.
#[derive(Debug, Clone, Copy)]
struct Clock {
    date: Option<(DateTime<Utc>, Instant)>,
}

impl Clock {
    fn observe(&mut self, date: Option<DateTime<Utc>>) {
        if let Some(date) = date {
            self.date = Some((date, Instant::now()));
        }
    }

    /// GitLab's time now, or this machine's when GitLab never sent a `Date`.
    fn now(&self) -> DateTime<Utc> {
        match self.date {
            Some((date, at)) => {
                date + chrono::TimeDelta::from_std(at.elapsed()).unwrap_or_default()
            }
            None => Utc::now(),
        }
    }
}

/// A lease this run holds.
#[derive(Debug, Clone)]
struct Held {
    /// The label's id.
    id: u64,
    holder: Holder,
    /// Until when, on this machine's monotonic clock, it surely holds.
    valid_until: Instant,
    /// GitLab's `Date` when it was last set.
    set_at: Option<DateTime<Utc>>,
}

/// What the fence knows.
#[derive(Debug, Clone)]
enum FenceState {
    /// Writes may go out until then.
    Open(Instant),
    /// No write may go out any more, and why.
    Lost(String),
}

/// What the leases and their renewal share.
#[derive(Debug)]
struct Shared {
    gitlab: Gitlab,
    policy: LeasePolicy,
    held: Mutex<BTreeMap<String, Held>>,
    clock: std::sync::Mutex<Clock>,
    fence: watch::Sender<FenceState>,
    /// Asks for a renewal now (a writer found the lease too close to its end).
    renew_now: Notify,
}

impl Shared {
    fn gitlab_now(&self) -> DateTime<Utc> {
        self.clock.lock().expect("never poisoned").now()
    }

    fn observe(&self, date: Option<DateTime<Utc>>) {
        self.clock.lock().expect("never poisoned").observe(date);
    }

    /// The lease as described for `holder`, valid from `sent` on this machine.
    fn valid_from(&self, sent: Instant) -> Instant {
        sent + self.policy.ttl.saturating_sub(self.policy.margin)
    }

    /// Publishes what the fence may admit: until the earliest lease ends.
    async fn publish(&self) {
        let held = self.held.lock().await;
        if let Some(until) = held.values().map(|h| h.valid_until).min() {
            self.fence.send_if_modified(|state| match state {
                FenceState::Lost(_) => false,
                _ => {
                    *state = FenceState::Open(until);
                    true
                }
            });
        }
    }

    fn lose(&self, why: String) {
        tracing::error!("{why}; nothing more is written");
        self.fence.send_replace(FenceState::Lost(why));
    }

    /// Renews every lease held; a lease found gone or renamed closes the fence.
    async fn renew(&self) -> bool {
        let mut ok = true;
        let projects: Vec<(String, Held)> = self
            .held
            .lock()
            .await
            .iter()
            .map(|(p, h)| (p.clone(), h.clone()))
            .collect();
        for (project, held) in projects {
            let sent = Instant::now();
            let holder = Holder {
                until: self.gitlab_now()
                    + chrono::TimeDelta::from_std(self.policy.ttl).unwrap_or_default(),
                ..held.holder.clone()
            };
            match self
                .gitlab
                .update_lease_label(&project, held.id, &holder.describe())
                .await
            {
                Ok(Dated {
                    value: Some(label),
                    date,
                }) if label.name == self.policy.label => {
                    self.observe(date);
                    if let Some(h) = self.held.lock().await.get_mut(&project) {
                        h.holder = holder;
                        h.valid_until = self.valid_from(sent);
                        h.set_at = date.or(h.set_at);
                    }
                }
                Ok(Dated {
                    value: Some(label), ..
                }) => {
                    self.lose(format!(
                        "the lease of {project} was renamed to `{}` by someone: another run could take it",
                        label.name
                    ));
                    return false;
                }
                Ok(Dated { value: None, .. }) => {
                    self.lose(format!(
                        "the lease of {project} (label `{}`) was deleted while this run held it (by a person, or by another run that found it expired)",
                        self.policy.label
                    ));
                    return false;
                }
                Err(e) => {
                    tracing::warn!("{e}; trying again");
                    ok = false;
                }
            }
        }
        self.publish().await;
        ok
    }

    /// Renews on schedule, or at once when a writer asks, until dropped or aborted.
    async fn keep_renewing(self: Arc<Self>) {
        loop {
            tokio::select! {
                () = tokio::time::sleep(self.policy.renew_every) => {}
                () = self.renew_now.notified() => {}
            }
            if matches!(*self.fence.borrow(), FenceState::Lost(_)) {
                return;
            }
            if !self.renew().await {
                // Not in a tight loop while GitLab fails.
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// The fence every write of a leased run passes (`gitlab::Client::set_fence`).
struct LeaseFence {
    shared: Arc<Shared>,
}

#[async_trait]
impl Fence for LeaseFence {
    async fn admit(&self, budget: Duration) -> Result<(), String> {
        let mut state = self.shared.fence.subscribe();
        // If no renewal succeeds for a whole lease's lifetime, another run may hold it.
        let give_up = Instant::now() + self.shared.policy.ttl;
        loop {
            match &*state.borrow_and_update() {
                FenceState::Lost(why) => return Err(why.clone()),
                FenceState::Open(until) if Instant::now() + budget <= *until => return Ok(()),
                FenceState::Open(_) => {}
            }
            self.shared.renew_now.notify_one();
            match tokio::time::timeout_at(give_up, state.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => return Err("the run's leases were released".into()),
                Err(_) => {
                    return Err(format!(
                        "the lease could not be renewed for {} s; another run may hold it now",
                        self.shared.policy.ttl.as_secs()
                    ));
                }
            }
        }
    }
}

/// What one try to take a lease found.
enum Attempt {
    Taken(Held),
    HeldBy(Holder),
    /// Something changed under the read (created or deleted meanwhile): read again.
    Again,
}

/// The leases a run holds, with their renewal. Release them with [`Leases::release`]; if
/// dropped instead, renewal stops and they expire.
pub struct Leases {
    shared: Arc<Shared>,
    renewal: Option<tokio::task::JoinHandle<()>>,
}

impl std::fmt::Debug for Leases {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Leases")
            .field("label", &self.shared.policy.label)
            .finish()
    }
}

impl Leases {
    /// No lease yet; they are taken through `gitlab`.
    pub fn new(gitlab: Gitlab, policy: LeasePolicy) -> Leases {
        let (fence, _) = watch::channel(FenceState::Open(Instant::now()));
        Leases {
            shared: Arc::new(Shared {
                gitlab,
                policy,
                held: Mutex::new(BTreeMap::new()),
                clock: std::sync::Mutex::new(Clock { date: None }),
                fence,
                renew_now: Notify::new(),
            }),
            renewal: None,
        }
    }

    /// The projects whose lease this run holds.
    pub async fn projects(&self) -> BTreeSet<String> {
        self.shared.held.lock().await.keys().cloned().collect()
    }

    /// Whether a write may go out now and be done within `budget`: the fence's answer,
    /// without waiting (for tests and reports).
    pub fn is_open_for(&self, budget: Duration) -> bool {
        matches!(&*self.shared.fence.borrow(), FenceState::Open(until) if Instant::now() + budget <= *until)
    }

    /// Takes `project`'s lease, waiting up to the policy's `wait` for another holder
    /// (`waiting` is told once, with the holder, when it starts to wait). The first lease
    /// taken starts the renewal and puts the fence on the client.
    pub async fn acquire(
        &mut self,
        project: &str,
        waiting: &(dyn Fn(&str, &Holder) + Sync),
    ) -> Result<(), LeaseError> {
        let policy = &self.shared.policy;
        let started = Instant::now();
        let deadline = started + policy.wait;
        let mut told = false;
        let mut agains = 0;
        loop {
            let attempt = self
                .try_take(project)
                .await
                .map_err(|source| match source {
                    e if e.is_cancelled() => LeaseError::Cancelled {
                        project: project.to_owned(),
                    },
                    source => LeaseError::Gitlab {
                        project: project.to_owned(),
                        source,
                    },
                })?;
            let pause = match attempt? {
                Attempt::Taken(held) => {
                    tracing::info!(project, label = %policy.label, until = %held.holder.until, "holding the project's lease");
                    self.shared
                        .held
                        .lock()
                        .await
                        .insert(project.to_owned(), held);
                    self.shared.publish().await;
                    self.start();
                    return Ok(());
                }
                Attempt::Again if agains < 5 => {
                    agains += 1;
                    continue;
                }
                Attempt::Again => policy.poll,
                Attempt::HeldBy(holder) => {
                    let now = Instant::now();
                    if now >= deadline {
                        return Err(LeaseError::Held {
                            project: project.to_owned(),
                            label: policy.label.clone(),
                            holder,
                            waited: (now - started).as_secs(),
                        });
                    }
                    if !told {
                        told = true;
                        tracing::info!(project, holder = %holder, "another run holds the project's lease: waiting for it");
                        waiting(project, &holder);
                    }
                    policy.poll.min(deadline - now)
                }
            };
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                () = self.shared.gitlab.cancelled() => {
                    return Err(LeaseError::Cancelled { project: project.to_owned() });
                }
            }
        }
    }

    /// One look at the lease: take it if it is free or expired.
    async fn try_take(&self, project: &str) -> Result<Result<Attempt, LeaseError>, GitlabError> {
        let shared = &self.shared;
        let policy = &shared.policy;
        let read = shared.gitlab.lease_label(project, &policy.label).await?;
        shared.observe(read.date);
        let Some(label) = read.value else {
            let sent = Instant::now();
            let now = shared.gitlab_now();
            let holder = Holder {
                run: policy.me.run.clone(),
                host: policy.me.host.clone(),
                pid: policy.me.pid,
                command: policy.me.command.clone(),
                since: now,
                until: now + chrono::TimeDelta::from_std(policy.ttl).unwrap_or_default(),
            };
            let created = shared
                .gitlab
                .create_lease_label(project, &policy.label, COLOR, &holder.describe())
                .await?;
            shared.observe(created.date);
            return Ok(Ok(match created.value {
                Created::Created(label) => Attempt::Taken(Held {
                    id: label.id,
                    holder,
                    valid_until: shared.valid_from(sent),
                    set_at: created.date,
                }),
                Created::Exists => Attempt::Again,
            }));
        };
        let foreign = |what: &str| {
            Ok(Err(LeaseError::Foreign {
                project: project.to_owned(),
                label: policy.label.clone(),
                what: what.to_owned(),
            }))
        };
        if !label.is_project_label {
            return foreign("a label of the project's group");
        }
        let Some(holder) = label.description.as_deref().and_then(Holder::parse) else {
            return foreign("its description holds no lease");
        };
        // GitLab's time when it answered, so that no machine's clock decides.
        let now = read.date.unwrap_or_else(|| shared.gitlab_now());
        if holder.run == policy.me.run {
            // Our own create, whose answer was lost and which the client sent again.
            let left = (holder.until - now).to_std().unwrap_or_default();
            return Ok(Ok(Attempt::Taken(Held {
                id: label.id,
                valid_until: Instant::now() + left.saturating_sub(policy.margin),
                set_at: read.date,
                holder,
            })));
        }
        if now <= holder.until {
            return Ok(Ok(Attempt::HeldBy(holder)));
        }
        tracing::warn!(project, holder = %holder, "the project's lease expired (its run died or lost GitLab): taking it over");
        // Deleted by id and only if unchanged since it was read as expired: a lease
        // renewed, or taken over by a third run, since then stays.
        let deleted = shared
            .gitlab
            .delete_lease_label(project, label.id, read.date, false)
            .await?;
        if deleted == Deleted::Changed {
            tracing::info!(
                project,
                "the expired lease changed meanwhile: reading it again"
            );
        }
        Ok(Ok(Attempt::Again))
    }

    /// Starts the renewal and puts the fence on the client, once.
    fn start(&mut self) {
        if self.renewal.is_some() {
            return;
        }
        self.renewal = Some(tokio::spawn(self.shared.clone().keep_renewing()));
        self.shared.gitlab.set_fence(Some(Arc::new(LeaseFence {
            shared: self.shared.clone(),
        })));
    }

    /// Stops the renewal, takes the fence off the client and deletes every lease held
    /// (by id, and only if unchanged since its last renewal: one another run took over is
    /// not touched). During a shutdown the delete is sent at once and tried once; a
    /// lease that could not be deleted expires.
    pub async fn release(mut self) {
        self.stop();
        let held = std::mem::take(&mut *self.shared.held.lock().await);
        let at_once = self.shared.gitlab.is_cancelled();
        for (project, lease) in held {
            let release = self.release_one(&project, &lease, at_once);
            match tokio::time::timeout(Duration::from_secs(70), release).await {
                Ok(Ok(Deleted::Deleted)) => tracing::info!(project, "released the project's lease"),
                Ok(Ok(Deleted::Gone)) => {
                    tracing::warn!(project, "the project's lease was gone already")
                }
                Ok(Ok(Deleted::Changed)) => tracing::warn!(
                    project,
                    "the project's lease changed since this run renewed it (another run holds it now): left as it is"
                ),
                Ok(Err(e)) => {
                    tracing::warn!(project, until = %lease.holder.until, "{e}; the lease expires by itself")
                }
                Err(_) => {
                    tracing::warn!(project, until = %lease.holder.until, "releasing the lease took too long; it expires by itself")
                }
            }
        }
    }

    /// Deletes `lease` by id if it did not change since it was last set. A renewal whose
    /// answer never came may have changed it all the same: then it is read again, and
    /// deleted if it still names this run.
    async fn release_one(
        &self,
        project: &str,
        lease: &Held,
        at_once: bool,
    ) -> Result<Deleted, GitlabError> {
        let gitlab = &self.shared.gitlab;
        // GitLab's `Date` is rounded down to the second, and the label's last change
        // happened within that second.
        let second = chrono::TimeDelta::seconds(1);
        let since = lease.set_at.map(|d| d + second);
        let deleted = gitlab
            .delete_lease_label(project, lease.id, since, at_once)
            .await?;
        if deleted != Deleted::Changed || at_once {
            return Ok(deleted);
        }
        let read = gitlab
            .lease_label(project, &self.shared.policy.label)
            .await?;
        let ours = read.value.filter(|l| {
            l.id == lease.id
                && l.description
                    .as_deref()
                    .and_then(Holder::parse)
                    .map(|h| h.run)
                    == Some(self.shared.policy.me.run.clone())
        });
        match ours {
            Some(label) => {
                gitlab
                    .delete_lease_label(project, label.id, read.date.map(|d| d + second), false)
                    .await
            }
            None => Ok(Deleted::Changed),
        }
    }

    fn stop(&mut self) {
        if let Some(task) = self.renewal.take() {
            task.abort();
        }
        self.shared.gitlab.set_fence(None);
    }
}

impl Drop for Leases {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The projects `prepared` writes to: those of pages that are applied, the token may
/// write there, and something is created, edited or added to a board.
fn projects_written(prepared: &Prepared) -> BTreeSet<String> {
    let plan = &prepared.plan;
    plan.pages
        .iter()
        .filter(|p| p.outcome == PageOutcome::Ok && !prepared.refuses(&p.project))
        .filter(|p| {
            !p.create_labels.is_empty()
                || plan
                    .actions
                    .iter()
                    .any(|a| a.page == p.id && a.write.is_some() && a.action != ActionKind::Drift)
                || plan
                    .boards
                    .iter()
                    .any(|b| b.page == p.id && b.has_changes())
        })
        .map(|p| p.project.clone())
        .collect()
}

/// [`super::prepare_on`] under the lease of every project the plan writes to: plans
/// without a lease (a run with nothing to write takes none), takes the leases the plan
/// needs (waiting for other runs), and plans again under them, until the plan needs no
/// lease it does not hold.
pub async fn prepare_leased(
    config: &Config,
    connection: &Connection,
    options: &RunOptions,
    leases: &mut Leases,
    waiting: &(dyn Fn(&str, &Holder) + Sync),
) -> Result<Prepared, RunError> {
    // Projects whose lease GitLab refused or failed (not held by another run): their
    // pages fail with the reason, the other projects are written.
    let mut refused: BTreeMap<String, String> = BTreeMap::new();
    loop {
        let mut prepared = super::prepare_on(config, connection, options).await?;
        for (project, why) in &refused {
            prepared.refuse(project.clone(), ProjectError::NoLease(why.clone()));
        }
        let held = leases.projects().await;
        let missing: Vec<String> = projects_written(&prepared)
            .into_iter()
            .filter(|p| !held.contains(p))
            .collect();
        if missing.is_empty() {
            return Ok(prepared);
        }
        for project in &missing {
            match leases.acquire(project, waiting).await {
                Ok(()) => {}
                Err(e @ LeaseError::Gitlab { .. }) => {
                    tracing::warn!("{e}; nothing is written to {project}");
                    refused.insert(project.clone(), e.to_string());
                }
                // Another run holds it (exit 75), or the run is stopping.
                Err(e) => return Err(e.into()),
            }
        }
        tracing::info!(projects = ?missing, "planned before holding the lease: reading again under it");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn holder() -> Holder {
        Holder {
            run: "00ff".into(),
            host: "ci-runner-7".into(),
            pid: 4242,
            command: "handbook-sync apply".into(),
            since: "2026-12-07T10:00:00Z".parse().unwrap(),
            until: "2026-12-07T10:05:00Z".parse().unwrap(),
        }
    }

    #[test]
    fn a_description_says_who_holds_it_and_reads_back() {
        let text = holder().describe();
        assert!(text.contains("host ci-runner-7, pid 4242, `handbook-sync apply`, since 2026-12-07T10:00:00Z, until 2026-12-07T10:05:00Z"), "{text}");
        assert!(text.contains("Never put this label on an issue"), "{text}");
        assert!(
            !text.contains('<') && !text.contains('>'),
            "no HTML for GitLab to strip: {text}"
        );
        assert_eq!(Holder::parse(&text), Some(holder()));
        assert_eq!(Holder::parse("Release blocker"), None);
        assert_eq!(Holder::parse("lease-v1 {not json"), None);
    }

    #[test]
    fn names_lose_what_gitlab_would_strip() {
        assert_eq!(clean("ci<script>\n7"), "ciscript7");
    }
}
