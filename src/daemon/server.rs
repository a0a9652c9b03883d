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
//!   connection still sending its head, or idle between requests) of the address that
//!   holds the most connections, which is closed. A connection counts as idle from its
//!   accept until its head is read, so without the address a flood that turns the table
//!   over within that gap would close a probe's or GitLab's connection unanswered; with
//!   it, a flood from one address (an IPv6 /64 counts as one) closes only its own.
//!   When every connection is in a request, the oldest one of that address is cut off.
//!   A new connection is never refused: whoever holds the webhook's secret can keep
//!   every connection in a request (a push whose body trickles in is read for 10 s), and
//!   refusing would then close the kubelet's probe at once. So neither connections that
//!   never finish their head nor requests that never end lock out `/healthz`: a probe's
//!   request, sent as soon as it connects, is served while theirs wait.
//! - **Shutdown**: no connection is accepted after the signal; each one finishes its
//!   request in progress and closes, and whatever is still open after the grace period
//!   is dropped with the process.

use std::collections::{BTreeMap, HashMap};
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
    /// Where it comes from.
    peer: Peer,
    /// Requests in progress on it (0: sending its head, or idle).
    busy: Arc<AtomicUsize>,
    /// Closes it.
    evict: CancellationToken,
}

impl Open {
    fn idle(&self) -> bool {
        self.busy.load(Ordering::SeqCst) == 0
    }
}

/// A client's address as the connection table counts it: an IPv4 address, or the /64
/// of an IPv6 one (a single host is usually given a whole /64).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Peer(u128);

impl Peer {
    fn of(address: std::net::IpAddr) -> Self {
        match address {
            std::net::IpAddr::V4(v4) => Peer(u128::from(v4.to_bits())),
            std::net::IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Peer(u128::from(v4.to_bits())),
                None => Peer(v6.to_bits() & !u128::from(u64::MAX)),
            },
        }
    }
}

/// The open connections, oldest first (ids grow), and how many each peer holds.
struct Connections {
    cap: usize,
    next: u64,
    open: BTreeMap<u64, Open>,
    per_peer: HashMap<Peer, usize>,
}

impl Connections {
    fn new(cap: usize) -> Self {
        Connections {
            cap,
            next: 0,
            open: BTreeMap::new(),
            per_peer: HashMap::new(),
        }
    }

    /// Room for one more from `peer`: its id and handles. At the cap, one connection of
    /// the peer holding the most is closed for it: its oldest with no request in
    /// progress, else its oldest.
    fn admit(&mut self, peer: Peer) -> (u64, Arc<AtomicUsize>, CancellationToken) {
        if self.open.len() >= self.cap {
            let most = self.per_peer.values().copied().max().unwrap_or(0);
            let theirs = |c: &Open| self.per_peer.get(&c.peer) == Some(&most);
            let idle = self
                .open
                .iter()
                .find(|(_, c)| theirs(c) && c.idle())
                .map(|(id, _)| *id);
            let evicted = idle.or_else(|| {
                tracing::warn!(
                    connections = self.open.len(),
                    "every connection of the address holding the most is in a request: its oldest is cut off for a new one"
                );
                self.open
                    .iter()
                    .find(|(_, c)| theirs(c))
                    .map(|(id, _)| *id)
            });
            if let Some(oldest) = evicted.and_then(|id| self.remove(id)) {
                oldest.evict.cancel();
            }
        }
        let id = self.next;
        self.next += 1;
        let open = Open {
            peer,
            busy: Arc::new(AtomicUsize::new(0)),
            evict: CancellationToken::new(),
        };
        let handles = (id, open.busy.clone(), open.evict.clone());
        self.open.insert(id, open);
        *self.per_peer.entry(peer).or_default() += 1;
        handles
    }

    /// Takes connection `id` out of the table, if it is still in it.
    fn remove(&mut self, id: u64) -> Option<Open> {
        let open = self.open.remove(&id)?;
        if let std::collections::hash_map::Entry::Occupied(mut count) =
            self.per_peer.entry(open.peer)
        {
            *count.get_mut() -= 1;
            if *count.get() == 0 {
                count.remove();
            }
        }
        Some(open)
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
    let connections = Arc::new(std::sync::Mutex::new(Connections::new(cap)));
    let tasks = TaskTracker::new();
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => (stream, Peer::of(peer.ip())),
                Err(e) => {
                    // Out of descriptors (or memory): the cap should prevent it; never spin.
                    tracing::warn!("cannot accept a connection: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = shutdown.cancelled() => break,
        };
        let (id, busy, evict) = connections
            .lock()
            .expect("the connection table lock is never poisoned")
            .admit(peer);
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
                .remove(id);
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

    const ONE: Peer = Peer(1);

    #[test]
    fn a_full_table_closes_its_oldest_idle_connection_for_a_new_one() {
        let mut t = Connections::new(3);
        let (_, first_busy, first) = t.admit(ONE);
        let (_, _, second) = t.admit(ONE);
        let (_, _, third) = t.admit(ONE);
        first_busy.fetch_add(1, Ordering::SeqCst);
        let (id, _, _) = t.admit(ONE);
        assert_eq!(id, 3);
        assert!(!first.is_cancelled(), "in a request: kept");
        assert!(second.is_cancelled(), "the oldest idle one is closed");
        assert!(!third.is_cancelled());
        assert_eq!(t.open.len(), 3);
        assert_eq!(t.per_peer[&ONE], 3);
    }

    /// Whoever can keep every connection in a request (the webhook's secret lets a body
    /// trickle in for 10 s) must not lock out a probe: its connection takes the oldest
    /// one's place.
    #[test]
    fn a_table_of_connections_all_in_requests_closes_the_oldest_for_a_new_one() {
        let mut t = Connections::new(2);
        let mut held = Vec::new();
        for _ in 0..2 {
            let (_, busy, evict) = t.admit(ONE);
            busy.fetch_add(1, Ordering::SeqCst);
            held.push(evict);
        }
        let (id, _, _) = t.admit(Peer(2));
        assert_eq!(id, 2);
        assert!(held[0].is_cancelled(), "the oldest is cut off");
        assert!(!held[1].is_cancelled());
        assert_eq!(t.open.len(), 2);
    }

    /// A flood from one address takes the places of its own connections, never those
    /// of the others, however old or idle.
    #[test]
    fn a_full_table_closes_a_connection_of_the_address_holding_the_most() {
        let (probe, flood) = (Peer(1), Peer(2));
        let mut t = Connections::new(4);
        let (probe_id, _, probed) = t.admit(probe);
        let mut flooded = Vec::new();
        for _ in 0..3 {
            flooded.push(t.admit(flood).2);
        }
        for _ in 0..10 {
            t.admit(flood);
        }
        assert!(!probed.is_cancelled(), "the oldest and idle, but alone");
        assert!(t.open.contains_key(&probe_id));
        assert!(flooded.iter().all(|c| c.is_cancelled()));
        assert_eq!(t.per_peer[&flood], 3);
        t.remove(probe_id);
        assert!(!t.per_peer.contains_key(&probe), "{:?}", t.per_peer);
    }

    #[test]
    fn an_ipv6_host_counts_as_its_64_and_a_mapped_ipv4_as_its_address() {
        let a: std::net::IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: std::net::IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let c: std::net::IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(Peer::of(a), Peer::of(b));
        assert_ne!(Peer::of(a), Peer::of(c));
        let mapped: std::net::IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        let v4: std::net::IpAddr = "192.0.2.7".parse().unwrap();
        assert_eq!(Peer::of(mapped), Peer::of(v4));
    }

    #[test]
    fn the_cap_leaves_room_for_the_descriptors_the_daemon_needs() {
        assert_eq!(cap_for_limit(512, 1024), 512);
        assert_eq!(cap_for_limit(2048, 1024), 1024 - 64);
        assert_eq!(cap_for_limit(512, 10), 1, "never zero");
    }
}
