//! A turn: a read and the write after it, every wait taken before the read, both then
//! sent at once and tried once.

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use gitlab::api::{self, ApiError};
use http::StatusCode;
use url::Url;

use super::fence::GITLAB_GRACE;
use super::pacing::retry_after;
use super::send::Failure;
use super::{Client, Mode, TransportError};

impl Client {
    /// A read and a write with nothing between them: waits here, before the read, for a
    /// concurrency slot (held by the turn), the rate-limit pause, two requests' worth of
    /// every throttle and the fence (for both requests), the fence asked again after any
    /// pause that began meanwhile; the turn's requests then go out at once. `Err` when
    /// cancelled or fenced meanwhile.
    pub(in crate::gitlab) async fn turn(&self) -> Result<Turn<'_>, TransportError> {
        let waits = async {
            let slot = self
                .slots
                .acquire()
                .await
                .expect("the semaphore is never closed");
            self.wait_for_pause().await;
            // Two cells, one after the other: with a burst of one (under 120 requests a
            // minute) two at once would never be granted.
            for _ in 0..2 {
                self.requests.until_ready().await;
                if let Some(hourly) = &self.hourly {
                    hourly.until_ready().await;
                }
            }
            let budget = self.policy.timeout * 2 + GITLAB_GRACE;
            // The fence answers last. A pause set while the throttles or the fence held
            // this turn back is waited out, and then the fence is asked again: its yes
            // was for writes sent at once, and the lease may lapse during the pause (its
            // renewal waits for the same pause) and another run take the project.
            loop {
                self.admit(budget).await?;
                if !self.wait_for_pause().await {
                    break;
                }
            }
            Ok(slot)
        };
        let slot = tokio::select! {
            slot = waits => slot.map_err(|f: Failure| match f {
                Failure::Final(e) | Failure::Transport(e, _) => e,
                Failure::Status(..) => TransportError::Cancelled,
            })?,
            () = self.cancel.cancelled() => return Err(TransportError::Cancelled),
        };
        Ok(Turn {
            client: self,
            _slot: slot,
            throttled: std::sync::Mutex::new(None),
        })
    }
}

/// A read and the write that follows it, sent back to back with nothing between them:
/// every wait came before the turn was given ([`Client::turn`]), and it holds a
/// concurrency slot. Each request is tried once; a 429's wait is kept
/// ([`Turn::throttled`]) so that the caller waits it out and reads again before it
/// writes.
pub struct Turn<'a> {
    client: &'a Client,
    _slot: tokio::sync::SemaphorePermit<'a>,
    throttled: std::sync::Mutex<Option<Duration>>,
}

impl Turn<'_> {
    /// The wait a 429 answer to this turn asked for (`Retry-After`, or the default), if
    /// one came: the request was not applied.
    pub fn throttled(&self) -> Option<Duration> {
        *self
            .throttled
            .lock()
            .expect("never poisoned: no panic while held")
    }
}

impl api::RestClient for Turn<'_> {
    type Error = TransportError;

    fn rest_endpoint(&self, endpoint: &str) -> Result<Url, ApiError<Self::Error>> {
        self.client.rest_endpoint(endpoint)
    }
}

#[async_trait]
impl api::AsyncClient for Turn<'_> {
    async fn rest_async(
        &self,
        request: http::request::Builder,
        body: Vec<u8>,
    ) -> Result<http::Response<Bytes>, ApiError<Self::Error>> {
        let response = self.client.send(request, body, Mode::AtOnce).await?;
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            // Counted as a rate-limit wait by the attempt already.
            let wait = retry_after(response.headers(), self.client.policy.default_retry_after);
            *self
                .throttled
                .lock()
                .expect("never poisoned: no panic while held") = Some(wait);
        }
        Ok(response)
    }
}
