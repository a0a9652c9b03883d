//! The fence every write passes last: the lease of the projects a run writes to.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use super::send::Failure;
use super::{Client, TransportError};

/// How long GitLab may still run a request after the client gave up on it: gitlab.com
/// ends a request after about 60 s (`Rack::Timeout`). A write admitted by the [`Fence`]
/// must be done within its timeout plus this.
pub const GITLAB_GRACE: Duration = Duration::from_secs(60);

/// What every write waits for, after every other wait and right before it is sent: the
/// lease of the projects a run writes to (`sync_run::lease`).
#[async_trait]
pub trait Fence: Send + Sync {
    /// Returns once writes may go out and be done within `budget` from now (waiting for
    /// a renewal if need be), or why no write may go out any more.
    async fn admit(&self, budget: Duration) -> Result<(), String>;
}

impl Client {
    /// Makes every write pass `fence` from now on (`None`: no fence).
    pub fn set_fence(&self, fence: Option<Arc<dyn Fence>>) {
        *self
            .fence
            .lock()
            .expect("never poisoned: no panic while held") = fence;
    }

    /// How long a write admitted now may take: its timeout, and what GitLab may run
    /// after the client gave up.
    pub(super) fn write_budget(&self) -> Duration {
        self.policy.timeout + GITLAB_GRACE
    }

    /// Waits until the fence, if any, admits writes for `budget`.
    pub(super) async fn admit(&self, budget: Duration) -> Result<(), Failure> {
        let fence = self
            .fence
            .lock()
            .expect("never poisoned: no panic while held")
            .clone();
        let Some(fence) = fence else {
            return Ok(());
        };
        tokio::select! {
            admitted = fence.admit(budget) => admitted.map_err(|why| Failure::Final(TransportError::Fenced(why))),
            () = self.cancel.cancelled() => Err(Failure::Final(TransportError::Cancelled)),
        }
    }
}
