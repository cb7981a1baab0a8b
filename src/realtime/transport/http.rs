//! The accept loop: TCP connections served as HTTP/1.1 until they end or become WebSockets.
//!
//! `axum::serve` gives hyper no timer (so no header timeout) and waits without bound for every
//! connection on shutdown; this loop bounds both. A connection that has not been upgraded holds
//! one permit of the pending-connection cap, given back when it ends or its upgrade completes
//! (a WebSocket then counts against `--max-connections` instead). While every permit is held the
//! loop accepts nothing: new connections wait in the kernel's accept queue, where they cost no
//! descriptor, and are served in order as permits come back (at the latest when the header
//! timeout closes a socket that sends nothing).

use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt as _;

use crate::metrics::Metrics;

/// How long the loop pauses after an accept error other than a connection's own (out of
/// descriptors, out of memory): the condition lasts until connections end, and retrying at
/// once would spin a core that those connections need. Short, because descriptors come back
/// as soon as any connection closes.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// The most hyper buffers for one connection, read or write (its default is about 400 KiB). A
/// request head here is well under 8 KiB (the longest part is a token in `/ws?token=`), and a
/// body is taken in pieces as a handler reads it, so 16 KiB costs nothing in function while the
/// pending connections a flood can hold cost at most 512 times 16 KiB instead of 200 MiB.
const MAX_BUFFER: usize = 16 * 1024;

/// The HTTP side of one server: its connection tasks, and the means to end them.
pub struct HttpServer {
    /// Tasks serving connections that are HTTP (not yet, or never, WebSockets).
    tasks: TaskTracker,
    /// Cancelled when shutdown's time is up: connections still being served are dropped.
    drop_now: CancellationToken,
}

/// What the loop needs besides the listener.
pub struct ServeOptions {
    /// `--header-read-timeout-s`, whose doc says why it is what it is.
    pub header_read_timeout: Duration,
    /// `--max-pending-connections`: connections not yet upgraded, at most.
    pub max_pending: usize,
    /// Cancelled when the server begins shutting down: accepting stops and every connection is
    /// asked to finish the request it is serving and close.
    pub shutdown: CancellationToken,
    pub metrics: Arc<Metrics>,
}

impl HttpServer {
    pub fn new() -> Self {
        Self { tasks: TaskTracker::new(), drop_now: CancellationToken::new() }
    }

    /// Accepts until `options.shutdown` is cancelled, serving each connection in its own task.
    pub async fn accept(&self, listener: TcpListener, router: Router, options: ServeOptions) {
        let pending = Arc::new(Semaphore::new(options.max_pending));
        let mut builder = http1::Builder::new();
        builder.timer(TokioTimer::new()).header_read_timeout(options.header_read_timeout).max_buf_size(MAX_BUFFER);
        let mut failing = false;
        // A permit taken for an accept that failed, kept for the next one.
        let mut spare: Option<OwnedSemaphorePermit> = None;
        loop {
            let permit = match spare.take() {
                Some(permit) => permit,
                None => match pending.clone().try_acquire_owned() {
                    Ok(permit) => permit,
                    Err(_) => {
                        options.metrics.http_pending_full.inc();
                        tokio::select! {
                            _ = options.shutdown.cancelled() => return,
                            permit = pending.clone().acquire_owned() => match permit {
                                Ok(permit) => permit,
                                // Never closed; there is nothing to serve with if it were.
                                Err(_) => return,
                            },
                        }
                    }
                },
            };
            let accepted = tokio::select! {
                _ = options.shutdown.cancelled() => return,
                accepted = listener.accept() => accepted,
            };
            let (tcp, addr) = match accepted {
                Ok(accepted) => {
                    failing = false;
                    accepted
                }
                // The peer gave up before the accept: nothing to do for it.
                Err(e) if is_connection_error(&e) => {
                    spare = Some(permit);
                    continue;
                }
                Err(e) => {
                    spare = Some(permit);
                    // Logged once per run of failures, not once per pause.
                    if !failing {
                        tracing::warn!(error = %e, "accept failed; pausing accepts until it succeeds");
                        failing = true;
                    }
                    tokio::select! {
                        _ = options.shutdown.cancelled() => return,
                        _ = tokio::time::sleep(ACCEPT_ERROR_PAUSE) => {}
                    }
                    continue;
                }
            };
            // Replies and events are small writes that must leave at once, not wait for an ACK.
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!(error = %e, "cannot set TCP_NODELAY");
            }
            let connection = serve_connection(
                tcp,
                addr,
                router.clone(),
                builder.clone(),
                permit,
                options.shutdown.clone(),
                self.drop_now.clone(),
            );
            self.tasks.spawn(connection);
        }
    }

    /// Waits for the HTTP connections to end until `deadline`, then drops those still open
    /// (a request half sent, or a handler still running) and waits for their tasks.
    pub async fn stop(&self, deadline: tokio::time::Instant) {
        self.tasks.close();
        if tokio::time::timeout_at(deadline, self.tasks.wait()).await.is_err() {
            tracing::warn!(connections = self.tasks.len(), "HTTP connections dropped at the shutdown timeout");
        }
        self.drop_now.cancel();
        self.tasks.wait().await;
    }
}

impl Default for HttpServer {
    fn default() -> Self {
        Self::new()
    }
}

/// Serves one connection until it ends, is upgraded, or shutdown's time is up.
async fn serve_connection(
    tcp: TcpStream,
    addr: SocketAddr,
    router: Router,
    builder: http1::Builder,
    permit: OwnedSemaphorePermit,
    shutdown: CancellationToken,
    drop_now: CancellationToken,
) {
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        // What `into_make_service_with_connect_info` would add: handlers may ask for the peer.
        request.extensions_mut().insert(ConnectInfo(addr));
        router.clone().oneshot(request)
    });
    let mut connection = pin!(builder.serve_connection(TokioIo::new(tcp), service).with_upgrades());
    let served = tokio::select! {
        served = connection.as_mut() => served,
        _ = shutdown.cancelled() => {
            // Finish the request in flight, if any, then close; a connection between requests
            // closes at once.
            connection.as_mut().graceful_shutdown();
            tokio::select! {
                served = connection.as_mut() => served,
                _ = drop_now.cancelled() => Ok(()),
            }
        }
    };
    if let Err(e) = served {
        tracing::debug!(error = %e, "HTTP connection ended with an error");
    }
    drop(permit);
}

/// Errors that concern one connection, not the listener.
fn is_connection_error(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::ConnectionRefused
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::ConnectionReset
    )
}
