//! Building and running one server instance: state, router, background tasks, shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower_http::trace::TraceLayer;

use crate::accounts::{AccountError, Accounts};
use crate::auth::Tokens;
use crate::catalog::Catalog;
use crate::chat::{Chat, ChatConfig};
use crate::clock::Clock;
use crate::config::{Config, ConfigError};
use crate::engine::memory::MemoryEngine;
use crate::engine::redis::RedisEngine;
use crate::engine::{Engine, EngineConfig, EngineKind, EventSink};
use crate::fairs::room::FairRooms;
use crate::fairs::scheduler::Scheduler;
use crate::fairs::{Fairs, FairsConfig};
use crate::http::ops;
use crate::metrics::Metrics;
use crate::realtime::hub::Hub;
use crate::realtime::presence::{REPORT_TTL, Reports};
use crate::realtime::room::{Rooms, WithShows};
use crate::realtime::transport;
use crate::realtime::transport::http::{HttpServer, ServeOptions};
use crate::shows::{Shows, ShowsConfig};
use crate::state::{AppState, Shared};

/// How often readiness is re-checked against the engine.
const READY_CHECK: Duration = Duration::from_secs(1);
/// How often this node looks for changed viewer counts of fair and booth channels, and reports
/// those that changed (`presence::Reports`). Shows report on their own one-second tick.
const PRESENCE_EVERY: Duration = Duration::from_secs(2);
/// The sales tick: offers expire within this of their end, and `stock` events go out at most
/// this often per offer.
const SALES_TICK: Duration = Duration::from_millis(100);
/// The fairs' tick: lobby visitors and booth sellers' presence are broadcast at most this often.
const FAIR_TICK: Duration = Duration::from_secs(1);
/// The shows' tick: viewer counts and reactions are broadcast at most this often.
const SHOW_TICK: Duration = Duration::from_secs(1);

/// A built server, bound to its listener, not yet serving.
pub struct App {
    listener: TcpListener,
    state: AppState,
    router: Router,
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("invalid configuration: {0}")]
    Config(#[from] crate::config::ConfigError),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("cannot reach Redis: {0}")]
    Engine(#[from] crate::engine::EngineError),
    #[error("setup failed: {0}")]
    Setup(String),
}

impl App {
    /// Validates the configuration, binds the listener and connects the engine.
    pub async fn build(config: Config) -> Result<Self, StartError> {
        config.validate()?;
        let listener = bind(config.listen).map_err(|source| StartError::Bind { addr: config.listen, source })?;
        Self::build_with_listener(config, listener).await
    }

    pub async fn build_with_listener(config: Config, listener: TcpListener) -> Result<Self, StartError> {
        Self::build_inner(config, listener, None).await
    }

    /// [`App::build_with_listener`] with other [`Rooms`] for every channel kind but shows than
    /// the fairs domain's (`fairs::room::FairRooms`): tests of the realtime core use one that
    /// owns every booth channel.
    pub async fn build_with_rooms(
        config: Config,
        listener: TcpListener,
        others: Arc<dyn Rooms>,
    ) -> Result<Self, StartError> {
        Self::build_inner(config, listener, Some(others)).await
    }

    async fn build_inner(
        mut config: Config,
        listener: TcpListener,
        others: Option<Arc<dyn Rooms>>,
    ) -> Result<Self, StartError> {
        config.validate()?;
        warn_if_descriptors_fall_short(&config);
        let metrics = Arc::new(Metrics::new());
        let hub = Arc::new(Hub::new(metrics.clone()));
        let sink: Arc<dyn EventSink> = hub.clone();
        let engine_config = EngineConfig {
            history_size: config.limits.history_size,
            history_ttl: Duration::from_secs(config.limits.history_ttl_s),
            key_prefix: config.key_prefix.clone(),
        };
        let engine = match &config.redis_url {
            Some(url) => {
                let redis = Arc::new(RedisEngine::connect(url, engine_config, sink).await?);
                tracing::info!(prefix = %config.key_prefix, "engine: redis");
                Engine {
                    kind: EngineKind::Redis,
                    broker: redis.clone(),
                    presence: redis.clone(),
                    state: redis.clone(),
                    sales: redis,
                }
            }
            None => {
                let memory = Arc::new(MemoryEngine::new(engine_config, sink));
                tracing::warn!("engine: memory (single node; data is not kept across restarts)");
                Engine {
                    kind: EngineKind::Memory,
                    broker: memory.clone(),
                    presence: memory.clone(),
                    state: memory.clone(),
                    sales: memory,
                }
            }
        };
        let secret = match config.jwt_secret.clone() {
            Some(s) => s,
            None => {
                tracing::info!("no OCOP_JWT_SECRET: using a random one; tokens die with this process");
                let s = Tokens::random_secret();
                config.jwt_secret = Some(s.clone());
                s
            }
        };
        let catalog = Catalog::new(engine.state.clone());
        let accounts = Accounts::new(engine.state.clone(), catalog.clone());
        let clock = Clock::system();
        let now = clock.rfc3339();
        if let (Some(email), Some(password)) = (&config.admin_email, &config.admin_password) {
            accounts.ensure_admin(email, password, &now).await.map_err(|e| match e {
                AccountError::Invalid(f) => {
                    StartError::Config(ConfigError::Invalid(format!("admin account: {:?}", f.0)))
                }
                other => StartError::Setup(other.to_string()),
            })?;
            tracing::info!(email = %email, "admin account ready");
        }
        let demo_seller = if config.demo {
            let today = clock.today_in_vietnam();
            match crate::demo::seed(&accounts, &now, today).await {
                Ok(Some(seeded)) => {
                    tracing::info!("demo data seeded (see README for the logins)");
                    Some(seeded)
                }
                Ok(None) => {
                    tracing::info!("demo data already seeded");
                    None
                }
                Err(e) => return Err(StartError::Setup(e.to_string())),
            }
        } else {
            None
        };
        let node_id: Arc<str> = uuid::Uuid::now_v7().to_string().into();
        let chat = Arc::new(Chat::new(
            engine.state.clone(),
            clock,
            ChatConfig {
                rate: config.limits.chat_rate,
                burst: config.limits.chat_burst,
                banned_words: config.banned_words.clone(),
            },
        ));
        let shows = Arc::new(Shows::new(
            engine.clone(),
            catalog.clone(),
            hub.clone(),
            node_id.clone(),
            clock,
            chat.clone(),
            ShowsConfig { public_url: config.public_base_url() },
        ));
        let fairs = Arc::new(Fairs::new(
            engine.clone(),
            accounts.clone(),
            shows.clone(),
            hub.clone(),
            chat,
            clock,
            FairsConfig { reminder_lead: Duration::from_secs(config.reminder_lead_s), node_id: node_id.clone() },
        ));
        if let Some(seeded) = &demo_seller {
            let fair = crate::demo::open_fair(&fairs, seeded, clock.now())
                .await
                .map_err(|e| StartError::Setup(format!("demo fair: {e:?}")))?;
            tracing::info!(fair = %fair, "demo fair open at /fairs/{fair}");
        }
        let others = others.unwrap_or_else(|| Arc::new(FairRooms(fairs.clone())));
        if let Some(seeded) = &demo_seller {
            let show = crate::demo::go_live(&shows, seeded)
                .await
                .map_err(|e| StartError::Setup(format!("demo show: {e:?}")))?;
            tracing::info!(show = %show, "demo show live at /shows/{show}");
        }
        let sales = Arc::new(crate::sales::Sales::new(
            engine.clone(),
            catalog.clone(),
            accounts.clone(),
            shows.clone(),
            clock,
            crate::sales::SalesConfig { address_deadline: config.address_deadline() },
        ));
        let (engine_state, throttle) = (engine.state.clone(), config.throttle.clone());
        let state = AppState::new(Shared {
            tokens: Arc::new(Tokens::with_clock(secret.as_bytes(), clock).map_err(|_| {
                crate::config::ConfigError::Invalid("OCOP_JWT_SECRET cannot be used as an HS256 key".into())
            })?),
            connection_slots: Arc::new(Semaphore::new(config.limits.max_connections)),
            config: Arc::new(config),
            engine,
            hub,
            metrics,
            rooms: Arc::new(WithShows { shows: shows.clone(), rest: others }),
            commands: Arc::new(crate::commands::DomainCommands {
                shows: shows.clone(),
                sales: sales.clone(),
                fairs: fairs.clone(),
            }),
            shutdown: CancellationToken::new(),
            connections: TaskTracker::new(),
            work: TaskTracker::new(),
            ready: Arc::new(AtomicBool::new(true)),
            node_id,
            clock,
            limiter_clock: governor::clock::DefaultClock::default(),
            shows,
            sales,
            fairs,
            next_conn: AtomicU64::new(1),
            throttles: crate::accounts::throttle::Throttles::new(engine_state, clock, throttle),
            accounts,
            catalog,
            openapi: crate::http::api::openapi_json().into(),
        });
        let router = router(state.clone());
        Ok(Self { listener, state, router })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().unwrap_or_else(|_| self.state.config.listen)
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `signal` resolves, then closes every socket with 1012, lets in-flight work
    /// finish and returns within the shutdown timeout.
    pub async fn run_until_stopped(self, signal: impl Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
        let App { listener, state, router } = self;
        tracing::info!(addr = %listener.local_addr()?, "listening");
        let background = spawn_background(&state);
        let shutdown = state.shutdown.clone();
        tokio::spawn({
            let shutdown = shutdown.clone();
            async move {
                signal.await;
                shutdown.cancel();
            }
        });
        let limits = &state.config.limits;
        let http = HttpServer::new();
        let options = ServeOptions {
            header_read_timeout: limits.header_read_timeout(),
            max_pending: limits.max_pending_connections,
            shutdown: shutdown.clone(),
            metrics: state.metrics.clone(),
        };
        http.accept(listener, router, options).await;
        // One deadline for everything: WebSockets close with 1012 after the command they are
        // applying, HTTP requests in flight finish, and whatever is left when it passes (a
        // request half sent, a peer that takes nothing) is dropped.
        let deadline = tokio::time::Instant::now() + limits.shutdown_timeout();
        tracing::info!("shutting down: closing connections");
        state.connections.close();
        let websockets = async {
            if tokio::time::timeout_at(deadline, state.connections.wait()).await.is_err() {
                tracing::warn!("WebSockets still open after the shutdown timeout");
            }
        };
        tokio::join!(websockets, http.stop(deadline));
        // Orders started from chat messages finish (or the deadline passes) before the engine goes.
        state.work.close();
        if tokio::time::timeout_at(deadline, state.work.wait()).await.is_err() {
            tracing::warn!("background work still running after the shutdown timeout");
        }
        background.cancel();
        tracing::info!("stopped");
        Ok(())
    }
}

/// Descriptors the process needs besides its connections: the listener, Redis, logs, files.
const OTHER_DESCRIPTORS: u64 = 64;

/// Warns when the connection limits add up to more descriptors than the process may open: the
/// limits then no longer protect it, and accepts fail (and pause) before they apply.
fn warn_if_descriptors_fall_short(config: &Config) {
    let Some(limit) = open_files_limit() else { return };
    let limits = &config.limits;
    let needed = (limits.max_connections + limits.max_pending_connections) as u64 + OTHER_DESCRIPTORS;
    if needed > limit {
        tracing::warn!(
            limit,
            needed,
            "--max-connections plus --max-pending-connections exceed the open-file limit; lower them or raise the limit"
        );
    }
}

/// The soft limit on open files, from `/proc/self/limits` (Linux); `None` elsewhere.
fn open_files_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.trim_start_matches("Max open files").split_whitespace().next()?.parse().ok()
}

/// Binds with a deep accept queue: a join storm of thousands of viewers must queue, not be
/// refused and retried a second later (the default backlog is 128).
fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    const BACKLOG: u32 = 4096;
    let socket = if addr.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(BACKLOG)
}

fn router(state: AppState) -> Router {
    Router::new()
        .route("/ws", get(transport::ws::handler))
        .merge(ops::router())
        .merge(crate::http::api::router(&state))
        .merge(crate::http::web::router())
        .layer(TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<_>| {
            // The path only: the query may carry a token, which never reaches the logs.
            tracing::info_span!("http", method = %req.method(), path = %req.uri().path())
        }))
        .with_state(state)
}

/// Readiness checks and presence reports, until the returned token is cancelled.
fn spawn_background(state: &AppState) -> CancellationToken {
    let stop = CancellationToken::new();
    let s = state.clone();
    let token = stop.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(READY_CHECK);
        loop {
            tokio::select! {
                _ = token.cancelled() => return,
                _ = tick.tick() => {}
            }
            let ok = matches!(tokio::time::timeout(READY_CHECK, s.engine.broker.ping()).await, Ok(Ok(())));
            if s.ready.swap(ok, Ordering::Relaxed) != ok {
                if ok {
                    tracing::info!("engine reachable again: ready");
                } else {
                    tracing::warn!("engine unreachable: not ready");
                }
            }
        }
    });
    let s = state.clone();
    let token = stop.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(SHOW_TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = token.cancelled() => return,
                _ = tick.tick() => {}
            }
            s.shows.tick().await;
        }
    });
    let s = state.clone();
    let token = stop.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(SALES_TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = token.cancelled() => return,
                _ = tick.tick() => {}
            }
            s.sales.tick().await;
        }
    });
    let s = state.clone();
    let token = stop.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(PRESENCE_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut reports = Reports::<Arc<str>>::default();
        loop {
            let stopping = tokio::select! {
                _ = token.cancelled() => true,
                _ = tick.tick() => false,
            };
            let counts: std::collections::HashMap<Arc<str>, u64> = if stopping {
                // Stopping cleanly: this node's counts end now, not when its reports expire.
                Default::default()
            } else {
                s.hub.channel_counts().into_iter().filter(|(c, _)| is_public(c)).map(|(c, n)| (c, n as u64)).collect()
            };
            let gone: Vec<Arc<str>> = reports.keys().filter(|c| !counts.contains_key(*c)).cloned().collect();
            let now = std::time::Instant::now();
            for (channel, count) in counts.into_iter().chain(gone.into_iter().map(|c| (c, 0))) {
                if !reports.due(&channel, count, now) {
                    continue;
                }
                // A failed report is not recorded, so the next round tries again.
                if s.engine.presence.report(&channel, &s.node_id, count, REPORT_TTL).await.is_ok() {
                    reports.reported(&channel, count, now);
                }
            }
            if stopping {
                return;
            }
        }
    });
    let s = state.clone();
    let token = stop.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(FAIR_TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = token.cancelled() => return,
                _ = tick.tick() => {}
            }
            s.fairs.tick().await;
        }
    });
    let scheduler = Scheduler::new(state.fairs.clone(), state.engine.state.clone(), state.clock, &state.node_id);
    tokio::spawn(scheduler.run(stop.clone()));
    let s = state.clone();
    let token = stop.clone();
    tokio::spawn(async move {
        // Once every connection is gone, show viewer counts are reported as zero at once too.
        token.cancelled().await;
        s.shows.tick().await;
    });
    stop
}

fn is_public(channel: &str) -> bool {
    channel.starts_with("fair:") || channel.starts_with("booth:")
}
