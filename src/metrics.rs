//! Prometheus metrics of one server instance, served at `/metrics`.
//!
//! One registry per instance (not a global), so several instances in one process (tests, the
//! two-node setup) each report their own figures.

use std::sync::atomic::AtomicU64;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CommandLabels {
    pub op: &'static str,
    /// `ok` or the error code.
    pub result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EngineLabels {
    pub call: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CloseLabels {
    pub code: u16,
}

pub struct Metrics {
    registry: Registry,
    pub connections: Gauge,
    pub connections_refused: Counter,
    pub http_pending_full: Counter,
    pub frames_in: Counter,
    pub frames_out: Counter<u64, AtomicU64>,
    pub bytes_out: Counter<u64, AtomicU64>,
    pub slow_disconnects: Counter,
    pub dead_peers: Counter,
    pub rate_limited: Counter,
    pub hub_publications: Counter,
    pub closes: Family<CloseLabels, Counter>,
    pub commands: Family<CommandLabels, Counter>,
    pub engine_seconds: Family<EngineLabels, Histogram>,
    pub engine_errors: Family<EngineLabels, Counter>,
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("ocop");
        let connections = Gauge::default();
        registry.register("ws_connections", "Open WebSocket connections", connections.clone());
        let connections_refused = Counter::default();
        registry.register(
            "ws_connections_refused",
            "Upgrades refused because the connection limit was reached",
            connections_refused.clone(),
        );
        let http_pending_full = Counter::default();
        registry.register(
            "http_pending_full",
            "Times accepting waited because --max-pending-connections connections were not yet upgraded",
            http_pending_full.clone(),
        );
        let frames_in = Counter::default();
        registry.register("ws_frames_in", "Text frames received", frames_in.clone());
        let frames_out = Counter::<u64, AtomicU64>::default();
        registry.register("ws_frames_out", "Frames written to clients", frames_out.clone());
        let bytes_out = Counter::<u64, AtomicU64>::default();
        registry.register("ws_bytes_out", "Payload bytes written to clients", bytes_out.clone());
        let slow_disconnects = Counter::default();
        registry.register(
            "ws_slow_disconnects",
            "Connections closed with 4008 because their queue overflowed",
            slow_disconnects.clone(),
        );
        let dead_peers = Counter::default();
        registry.register("ws_dead_peers", "Connections dropped for not answering pings", dead_peers.clone());
        let rate_limited = Counter::default();
        registry.register("ws_rate_limited", "Commands refused by a rate limit", rate_limited.clone());
        let hub_publications = Counter::default();
        registry.register("hub_publications", "Publications fanned out to local subscribers", hub_publications.clone());
        let closes = Family::<CloseLabels, Counter>::default();
        registry.register("ws_closes", "Connections closed by the server, by close code", closes.clone());
        let commands = Family::<CommandLabels, Counter>::default();
        registry.register("ws_commands", "Commands handled, by op and result", commands.clone());
        let engine_seconds = Family::<EngineLabels, Histogram>::new_with_constructor(|| {
            Histogram::new([0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 2.5])
        });
        registry.register("engine_call_seconds", "Latency of engine calls", engine_seconds.clone());
        let engine_errors = Family::<EngineLabels, Counter>::default();
        registry.register("engine_call_errors", "Engine calls that failed", engine_errors.clone());
        Self {
            registry,
            connections,
            connections_refused,
            http_pending_full,
            frames_in,
            frames_out,
            bytes_out,
            slow_disconnects,
            dead_peers,
            rate_limited,
            hub_publications,
            closes,
            commands,
            engine_seconds,
            engine_errors,
        }
    }

    /// Records one engine call's latency and outcome.
    pub fn engine_call(&self, call: &'static str, elapsed: Duration, ok: bool) {
        self.engine_seconds.get_or_create(&EngineLabels { call }).observe(elapsed.as_secs_f64());
        if !ok {
            self.engine_errors.get_or_create(&EngineLabels { call }).inc();
        }
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Times an engine call into the metrics.
pub async fn timed<T, E>(
    metrics: &Metrics,
    call: &'static str,
    fut: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, E> {
    let start = std::time::Instant::now();
    let result = fut.await;
    metrics.engine_call(call, start.elapsed(), result.is_ok());
    result
}
