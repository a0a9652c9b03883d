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
use tokio::sync::{Mutex, Notify, watch};
use tokio::time::Instant;

use super::{Connection, Prepared, RunError, RunOptions};
use crate::config::Config;
use crate::gitlab::lease::{Created, Dated, Deleted};
use crate::gitlab::{Fence, Gitlab, GitlabError};
use crate::sync::{ActionKind, PageOutcome};

/// The lease label's colour: a warning red, so that people notice it in the label list.
const COLOR: &str = "#d9534f";

/// How long a run tries to take a lease that keeps changing under every look, however
/// short `sync.lease_wait_seconds` is: several of GitLab's seconds.
const UNSETTLED_GRACE: Duration = Duration::from_secs(10);

/// What the machine-readable part of the description starts with.
const TAG: &str = "lease-v1 ";

mod identity;
mod policy;
mod time;

pub use identity::{Holder, Identity};
pub use policy::{LeaseError, LeasePolicy};
use time::{Clock, Moment, Validity};

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
mod tests;
