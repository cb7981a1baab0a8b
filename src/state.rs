//! What every request and connection shares: the configuration, the engine, the hub, the
//! services and the node's bounds, behind one cheap pointer. The HTTP and WebSocket layers read
//! it; no service does (each gets what it needs when [`crate::app`] builds it).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::accounts::Accounts;
use crate::accounts::throttle::Throttles;
use crate::auth::Tokens;
use crate::catalog::Catalog;
use crate::clock::Clock;
use crate::config::Config;
use crate::engine::Engine;
use crate::fairs::Fairs;
use crate::metrics::Metrics;
use crate::realtime::commands::Commands;
use crate::realtime::hub::{ConnKey, Hub};
use crate::realtime::room::Rooms;
use crate::sales::Sales;
use crate::shows::Shows;

/// Everything a request or a connection needs; one pointer, cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// The state behind [`AppState`].
pub struct Shared {
    pub config: Arc<Config>,
    pub engine: Engine,
    pub hub: Arc<Hub>,
    pub tokens: Arc<Tokens>,
    pub metrics: Arc<Metrics>,
    /// Which channels exist, who may join them, and their rooms.
    pub rooms: Arc<dyn Rooms>,
    /// Every WebSocket operation but the subscriptions.
    pub commands: Arc<dyn Commands>,
    /// Cancelled when the server begins shutting down.
    pub shutdown: CancellationToken,
    /// Tracks connection tasks so shutdown can wait for them.
    pub connections: TaskTracker,
    /// Tracks work a command starts and does not wait for (an order from a chat message), so
    /// shutdown waits for it too.
    pub work: TaskTracker,
    /// One permit per open WebSocket: the connection limit.
    pub connection_slots: Arc<Semaphore>,
    /// False while the engine does not answer.
    pub ready: Arc<AtomicBool>,
    /// The time every service reads.
    pub clock: Clock,
    /// The clock of every connection's rate limiter, shared (making one is slow).
    pub limiter_clock: governor::clock::DefaultClock,
    /// This node's id in presence reports.
    pub node_id: Arc<str>,
    pub accounts: Accounts,
    pub catalog: Catalog,
    pub throttles: Throttles,
    pub shows: Arc<Shows>,
    pub sales: Arc<Sales>,
    pub fairs: Arc<Fairs>,
    /// The OpenAPI document, rendered once.
    pub openapi: Arc<str>,
    pub(crate) next_conn: AtomicU64,
}

impl Shared {
    pub fn next_conn_key(&self) -> ConnKey {
        self.next_conn.fetch_add(1, Ordering::Relaxed)
    }
}

impl AppState {
    pub fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }
}
