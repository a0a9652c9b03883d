//! The daemon's HTTP server, built to face the internet: every connection is bounded.
//!
//! - **Headers**: a request head must arrive within [`HEADER_TIMEOUT`] and fit in
//!   [`MAX_HEAD_BYTES`] (hyper's `header_read_timeout` and `max_buf_size`); the same
//!   timeout ends a keep-alive connection that sends no next request.
//! - **Requests**: a handler answers within [`REQUEST_TIMEOUT`] (`tower-http`'s
//!   `TimeoutLayer`, 408 after it); bodies are read only by the webhook, after its token
//!   check, with their own cap and timeout (`webhook.rs`).
//! - **Connections**: at most `server.max_connections` at once, fewer when the file
//!   descriptor limit leaves less room ([`connection_cap`]). When the cap is reached, a
//!   new connection takes the place of the oldest one with no request in progress (a
//!   connection still sending its head, or idle between requests), which is closed; when
//!   every connection is in a request, the new one is closed at once. So connections that
//!   never finish their head cannot lock out `/healthz`: a probe's request, sent as soon as
//!   it connects, is served while theirs wait.
//! - **Shutdown**: no connection is accepted after the signal; each one finishes its
//!   request in progress and closes, and whatever is still open after the grace period
//!   is dropped with the process.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt as _;

/// How long a client may take to send a request head, and how long a keep-alive
/// connection may sit idle between requests.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a request may take from its head to its answer (the webhook's body read and
/// its compare included).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The largest request head (request line and headers) read: hyper's read buffer never
/// grows past it, so a client sending endless headers costs at most this much.
pub const MAX_HEAD_BYTES: usize = 16 * 1024;

/// File descriptors kept free of HTTP connections: the GitLab client's and the page
/// sources' connections, the listener, logs.
const RESERVED_DESCRIPTORS: u64 = 64;

/// The number of connections to allow: `configured`, lowered to what the process's file
/// descriptor limit leaves after [`RESERVED_DESCRIPTORS`]. The soft limit is first raised
/// to the hard one (as Go programs do), so a unit's `LimitNOFILE` is what counts.
pub fn connection_cap(configured: usize) -> usize {
    let limit = match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => limit,
        Err(e) => {
            tracing::warn!("cannot read the file descriptor limit ({e}); assuming 1024");
            1024
        }
    };
    cap_for_limit(configured, limit)
}

/// [`connection_cap`] for a given descriptor limit.
fn cap_for_limit(configured: usize, limit: u64) -> usize {
    let room = usize::try_from(limit.saturating_sub(RESERVED_DESCRIPTORS)).unwrap_or(usize::MAX);
    if room < configured {
        tracing::warn!(
            configured,
            allowed = room.max(1),
            descriptor_limit = limit,
            "server.max_connections does not fit the file descriptor limit; raise LimitNOFILE (systemd) or ulimit -n"
        );
    }
    configured.min(room).max(1)
}

/// One open connection, as the accept loop sees it.
struct Open {
    /// Requests in progress on it (0: sending its head, or idle).
    busy: Arc<AtomicUsize>,
    /// Closes it.
    evict: CancellationToken,
}

/// The open connections, oldest first (ids grow).
struct Connections {
    cap: usize,
    next: u64,
    open: BTreeMap<u64, Open>,
}

impl Connections {
    /// Room for one more: its id and handles, or `None` when every connection is in a
    /// request and none can make way.
    fn admit(&mut self) -> Option<(u64, Arc<AtomicUsize>, CancellationToken)> {
        if self.open.len() >= self.cap {
            let idle = self
                .open
                .iter()
                .find(|(_, c)| c.busy.load(Ordering::SeqCst) == 0)
                .map(|(id, _)| *id)?;
            if let Some(oldest) = self.open.remove(&idle) {
                oldest.evict.cancel();
            }
        }
        let id = self.next;
        self.next += 1;
        let open = Open {
            busy: Arc::new(AtomicUsize::new(0)),
            evict: CancellationToken::new(),
        };
        let handles = (id, open.busy.clone(), open.evict.clone());
        self.open.insert(id, open);
        Some(handles)
    }
}

/// Counts a request in progress on its connection while it lives.
struct InRequest(Arc<AtomicUsize>);

impl InRequest {
    fn enter(busy: &Arc<AtomicUsize>) -> Self {
        busy.fetch_add(1, Ordering::SeqCst);
        InRequest(busy.clone())
    }
}

impl Drop for InRequest {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Serves `app` on `listener` with at most `cap` connections until `shutdown`; then waits
/// at most `grace` for the connections to finish their requests.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    cap: usize,
    shutdown: CancellationToken,
    grace: Duration,
) {
    let app = app.layer(tower_http::timeout::TimeoutLayer::with_status_code(
        http::StatusCode::REQUEST_TIMEOUT,
        REQUEST_TIMEOUT,
    ));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .max_buf_size(MAX_HEAD_BYTES)
        .keep_alive(true);
    let connections = Arc::new(std::sync::Mutex::new(Connections {
        cap,
        next: 0,
        open: BTreeMap::new(),
    }));
    let tasks = TaskTracker::new();
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of descriptors (or memory): the cap should prevent it; never spin.
                    tracing::warn!("cannot accept a connection: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = shutdown.cancelled() => break,
        };
        let admitted = connections
            .lock()
            .expect("the connection table lock is never poisoned")
            .admit();
        let Some((id, busy, evict)) = admitted else {
            tracing::debug!("every connection is in a request: a new one is refused");
            continue;
        };
        let service = hyper::service::service_fn({
            let app = app.clone();
            move |request: http::Request<hyper::body::Incoming>| {
                let in_request = InRequest::enter(&busy);
                let app = app.clone();
                async move {
                    let response = app.oneshot(request).await;
                    drop(in_request);
                    response
                }
            }
        });
        let connection = http.serve_connection(TokioIo::new(stream), service);
        let (connections, shutdown) = (connections.clone(), shutdown.clone());
        tasks.spawn(async move {
            tokio::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => {}
                () = evict.cancelled() => {}
                () = shutdown.cancelled() => {
                    connection.as_mut().graceful_shutdown();
                    tokio::select! {
                        _ = connection.as_mut() => {}
                        () = evict.cancelled() => {}
                    }
                }
            }
            connections
                .lock()
                .expect("the connection table lock is never poisoned")
                .open
                .remove(&id);
        });
    }
    drop(listener);
    tasks.close();
    if tokio::time::timeout(grace, tasks.wait()).await.is_err() {
        tracing::warn!(
            "HTTP connections still open {} s after the signal: stopping anyway",
            grace.as_secs()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(cap: usize) -> Connections {
        Connections {
            cap,
            next: 0,
            open: BTreeMap::new(),
        }
    }

    #[test]
    fn a_full_table_closes_its_oldest_idle_connection_for_a_new_one() {
        let mut t = table(3);
        let (_, first_busy, first) = t.admit().unwrap();
        let (_, _, second) = t.admit().unwrap();
        let (_, _, third) = t.admit().unwrap();
        first_busy.fetch_add(1, Ordering::SeqCst);
        let (id, _, _) = t.admit().expect("an idle connection makes way");
        assert_eq!(id, 3);
        assert!(!first.is_cancelled(), "in a request: kept");
        assert!(second.is_cancelled(), "the oldest idle one is closed");
        assert!(!third.is_cancelled());
        assert_eq!(t.open.len(), 3);
    }

    #[test]
    fn a_table_of_connections_all_in_requests_refuses_a_new_one() {
        let mut t = table(2);
        for _ in 0..2 {
            let (_, busy, _) = t.admit().unwrap();
            busy.fetch_add(1, Ordering::SeqCst);
        }
        assert!(t.admit().is_none());
        assert_eq!(t.open.len(), 2);
    }

    #[test]
    fn the_cap_leaves_room_for_the_descriptors_the_daemon_needs() {
        assert_eq!(cap_for_limit(512, 1024), 512);
        assert_eq!(cap_for_limit(2048, 1024), 1024 - 64);
        assert_eq!(cap_for_limit(512, 10), 1, "never zero");
    }
}
