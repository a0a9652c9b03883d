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
//!   pause can outlast it: the write then waits for a renewal). Its time is counted on
//!   both of this machine's clocks (`Moment`): the monotonic one misses a suspend. A
//!   renewal that finds the label gone (a person deleted it, or another run found it
//!   expired and took it over) or renamed closes the fence for good: nothing more is
//!   written.
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

use super::{Connection, Prepared, RunError, RunOptions};
use crate::config::Config;
use crate::gitlab::lease::{Created, Dated, Deleted};
use crate::gitlab::{Fence, GITLAB_GRACE, Gitlab, GitlabError};
use crate::sync::{ActionKind, PageOutcome};

/// The lease label's colour: a warning red, so that people notice it in the label list.
const COLOR: &str = "#d9534f";

/// How long a run tries to take a lease that keeps changing under every look, however
/// short `sync.lease_wait_seconds` is: several of GitLab's seconds.
const UNSETTLED_GRACE: Duration = Duration::from_secs(10);

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

impl LeasePolicy {
    /// How long a lease that GitLab's clock says lasts `until` surely holds, from `sent`
    /// (a moment before the request whose answer GitLab dated `date`): its lifetime at
    /// most, and no later than `until` by that `Date` (GitLab answered after `sent`, and
    /// its `Date` is rounded down to the second), less the margin. A renewal written from
    /// a wrong idea of GitLab's time (one that missed a suspend) thus opens no fence.
    fn validity(
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

/// A moment on both of this machine's clocks. The monotonic one stands still while the
/// machine is suspended (a laptop's lid closed, a virtual machine paused: Linux's
/// `CLOCK_MONOTONIC`, which `Instant` reads), so after a night asleep it would say a
/// lease taken the evening before still holds; the wall clock moves on, but can be set
/// back. Time between two moments is the longer of the two readings.
#[derive(Debug, Clone, Copy)]
struct Moment {
    mono: Instant,
    wall: DateTime<Utc>,
}

impl Moment {
    fn now() -> Moment {
        Moment {
            mono: Instant::now(),
            wall: Utc::now(),
        }
    }

    /// How long since `earlier`, counting a suspend.
    fn since(self, earlier: Moment) -> Duration {
        let mono = self.mono.saturating_duration_since(earlier.mono);
        let wall = (self.wall - earlier.wall).to_std().unwrap_or_default();
        mono.max(wall)
    }
}

/// GitLab's clock, as far as its answers tell it: the last `Date`, and when it came.
#[derive(Debug, Clone, Copy)]
struct Clock {
    date: Option<(DateTime<Utc>, Moment)>,
}

impl Clock {
    fn observe(&mut self, date: Option<DateTime<Utc>>) {
        if let Some(date) = date {
            self.date = Some((date, Moment::now()));
        }
    }

    /// GitLab's time now, or this machine's when GitLab never sent a `Date`.
    fn now(&self) -> DateTime<Utc> {
        self.now_at(Moment::now())
    }

    /// GitLab's time at `at`: the last `Date` and the time since it came, a suspend
    /// included (else a renewal after one writes an expiry already past).
    fn now_at(&self, at: Moment) -> DateTime<Utc> {
        match self.date {
            Some((date, seen)) => {
                date + chrono::TimeDelta::from_std(at.since(seen)).unwrap_or_default()
            }
            None => at.wall,
        }
    }
}

/// How long from when a lease surely holds, on this machine's clocks.
#[derive(Debug, Clone, Copy)]
struct Validity {
    from: Moment,
    length: Duration,
}

impl Validity {
    /// Whether the lease holds from `at` for `budget` more (one of no length holds never).
    fn admits(&self, at: Moment, budget: Duration) -> bool {
        at.since(self.from) + budget < self.length
    }

    /// What is left of it at `at`.
    fn left_at(&self, at: Moment) -> Duration {
        self.length.saturating_sub(at.since(self.from))
    }
}

/// A lease this run holds.
#[derive(Debug, Clone)]
struct Held {
    /// The label's id.
    id: u64,
    holder: Holder,
    /// How long, on this machine's clocks, it surely holds.
    valid: Validity,
    /// GitLab's `Date` when it was last set.
    set_at: Option<DateTime<Utc>>,
}

/// What the fence knows.
#[derive(Debug, Clone)]
enum FenceState {
    /// Writes may go out while this holds.
    Open(Validity),
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

    /// Publishes what the fence may admit: until the earliest lease ends.
    async fn publish(&self) {
        let held = self.held.lock().await;
        let at = Moment::now();
        if let Some(left) = held.values().map(|h| h.valid.left_at(at)).min() {
            self.fence.send_if_modified(|state| match state {
                FenceState::Lost(_) => false,
                _ => {
                    *state = FenceState::Open(Validity {
                        from: at,
                        length: left,
                    });
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
            let sent = Moment::now();
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
                        h.valid = self.policy.validity(sent, holder.until, date);
                        h.holder = holder;
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
                FenceState::Open(valid) if valid.admits(Moment::now(), budget) => return Ok(()),
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
        let (fence, _) = watch::channel(FenceState::Open(Validity {
            from: Moment::now(),
            length: Duration::ZERO,
        }));
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
        matches!(&*self.shared.fence.borrow(), FenceState::Open(valid) if valid.admits(Moment::now(), budget))
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
                // Still changing: a delete refused because the lease changed in the
                // second its read was dated in (`If-Unmodified-Since` counts whole
                // seconds) goes through once GitLab's `Date` has passed it. A lease that
                // keeps changing past the wait (and a few seconds) is given up on.
                Attempt::Again => {
                    let now = Instant::now();
                    if now >= deadline.max(started + UNSETTLED_GRACE) {
                        return Err(LeaseError::Unsettled {
                            project: project.to_owned(),
                            label: policy.label.clone(),
                            waited: (now - started).as_secs(),
                        });
                    }
                    policy.poll.min(Duration::from_secs(1))
                }
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
        let read_sent = Moment::now();
        let read = shared.gitlab.lease_label(project, &policy.label).await?;
        shared.observe(read.date);
        let Some(label) = read.value else {
            let sent = Moment::now();
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
                    valid: policy.validity(sent, holder.until, created.date),
                    holder,
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
            return Ok(Ok(Attempt::Taken(Held {
                id: label.id,
                valid: policy.validity(read_sent, holder.until, read.date),
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
    /// not touched). During a shutdown each delete is sent at once and tried once, all
    /// of them together, so that a GitLab that stopped answering costs one client
    /// timeout, not one per project, of the time the process has to stop; a lease that
    /// could not be deleted expires.
    pub async fn release(mut self) {
        self.stop();
        let held = std::mem::take(&mut *self.shared.held.lock().await);
        let at_once = self.shared.gitlab.is_cancelled();
        if at_once {
            let this = &self;
            futures_util::future::join_all(
                held.iter()
                    .map(|(project, lease)| this.release_logged(project, lease, true)),
            )
            .await;
            return;
        }
        for (project, lease) in &held {
            self.release_logged(project, lease, false).await;
        }
    }

    /// [`Leases::release_one`], its outcome logged.
    async fn release_logged(&self, project: &str, lease: &Held, at_once: bool) {
        let release = self.release_one(project, lease, at_once);
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
/// lease it does not hold. A lease another run holds, or a shutdown, ends the run; a
/// lease GitLab refused or failed (a `read_api` token, a 5xx) fails that project's pages
/// only, as a project the token may not write to: the others are still synced, and the
/// output says which failed and why.
pub async fn prepare_leased(
    config: &Config,
    connection: &Connection,
    options: &RunOptions,
    leases: &mut Leases,
    waiting: &(dyn Fn(&str, &Holder) + Sync),
) -> Result<Prepared, RunError> {
    let mut failed: BTreeMap<String, Arc<LeaseError>> = BTreeMap::new();
    loop {
        let mut prepared = super::prepare_on(config, connection, options).await?;
        for (project, e) in &failed {
            prepared = prepared.refusing(project, super::ProjectError::Lease(e.clone()));
        }
        let held = leases.projects().await;
        let missing: Vec<String> = projects_written(&prepared)
            .into_iter()
            .filter(|p| !held.contains(p))
            .collect();
        if missing.is_empty() {
            return Ok(prepared);
        }
        let mut taken = false;
        for project in &missing {
            match leases.acquire(project, waiting).await {
                Ok(()) => taken = true,
                Err(e @ LeaseError::Gitlab { .. }) => {
                    tracing::error!(project, "{e}");
                    let e = Arc::new(e);
                    prepared = prepared.refusing(project, super::ProjectError::Lease(e.clone()));
                    failed.insert(project.clone(), e);
                }
                Err(e) => return Err(e.into()),
            }
        }
        // Every lease it lacked failed: nothing it plans to write is written unleased.
        if !taken {
            return Ok(prepared);
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

    fn policy() -> LeasePolicy {
        LeasePolicy {
            label: "handbook-sync-lease".into(),
            wait: Duration::ZERO,
            ttl: Duration::from_secs(304),
            renew_every: Duration::from_secs(60),
            poll: Duration::from_secs(5),
            margin: Duration::from_secs(32),
            me: Identity {
                run: "00ff".into(),
                host: "laptop".into(),
                pid: 1,
                command: "handbook-sync apply".into(),
            },
        }
    }

    /// A moment `mono` later on the monotonic clock and `wall` later on the wall clock.
    fn later(m: Moment, mono: u64, wall: u64) -> Moment {
        Moment {
            mono: m.mono + Duration::from_secs(mono),
            wall: m.wall + chrono::TimeDelta::seconds(wall as i64),
        }
    }

    /// A laptop takes the lease, then sleeps an hour (lid closed) ten seconds later. Its
    /// monotonic clock counted ten seconds; by it the lease still held for minutes after
    /// waking, and the writes queued before the sleep went out at once, while another run
    /// had taken the expired lease over. The wall clock counted the hour: the lease has
    /// lapsed, and no write goes out before a renewal (which finds it taken, or renews it).
    #[test]
    fn a_machine_that_slept_past_its_lease_writes_nothing_on_waking() {
        let taken = Moment::now();
        let gitlab = "2026-12-07T10:00:00Z".parse().unwrap();
        let valid = policy().validity(
            taken,
            gitlab + chrono::TimeDelta::seconds(304),
            Some(gitlab),
        );
        let awake = later(taken, 10, 3600);
        assert!(
            awake.mono.saturating_duration_since(taken.mono) + Duration::from_secs(120)
                <= valid.length,
            "by the monotonic clock alone it would still hold for a turn's budget"
        );
        assert!(!valid.admits(awake, Duration::ZERO));
        assert!(valid.admits(later(taken, 10, 10), Duration::from_secs(120)));
    }

    /// GitLab's time is the last `Date` plus the time since, a sleep included: a renewal
    /// right after waking writes an expiry from GitLab's time now, not from before the
    /// sleep (which other runs would read as already past).
    #[test]
    fn gitlab_time_moves_on_while_the_machine_sleeps() {
        let seen = Moment::now();
        let date: DateTime<Utc> = "2026-12-07T10:00:00Z".parse().unwrap();
        let clock = Clock {
            date: Some((date, seen)),
        };
        assert_eq!(
            clock.now_at(later(seen, 10, 3600)),
            date + chrono::TimeDelta::hours(1)
        );
        // A wall clock set back (NTP) does not take GitLab's time back.
        let set_back = Moment {
            mono: seen.mono + Duration::from_secs(10),
            wall: seen.wall - chrono::TimeDelta::minutes(5),
        };
        assert_eq!(
            clock.now_at(set_back),
            date + chrono::TimeDelta::seconds(10)
        );
    }

    /// A renewal whose expiry was worked out from a wrong idea of GitLab's time (here an
    /// hour behind, as after a sleep the clock missed) reads, by the `Date` of its own
    /// answer, as already expired: it opens no fence, whatever this machine believes.
    #[test]
    fn a_renewal_already_past_by_gitlabs_answer_opens_no_fence() {
        let sent = Moment::now();
        let believed: DateTime<Utc> = "2026-12-07T10:00:00Z".parse().unwrap();
        let until = believed + chrono::TimeDelta::seconds(304);
        let answered = believed + chrono::TimeDelta::hours(1);
        let valid = policy().validity(sent, until, Some(answered));
        assert!(!valid.admits(sent, Duration::ZERO), "{valid:?}");
        // Renewed from GitLab's time, it holds its lifetime less the margin and a second.
        let valid = policy().validity(sent, until, Some(believed));
        assert_eq!(valid.length, Duration::from_secs(304 - 1 - 32));
    }

    #[test]
    fn names_lose_what_gitlab_would_strip() {
        assert_eq!(clean("ci<script>\n7"), "ciscript7");
    }
}
