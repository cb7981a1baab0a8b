//! `idle`: open N WebSocket connections, subscribe each to one channel, keep
//! them open and quiet, and measure how much resident memory the server holds
//! per connection.
//!
//! Timeline:
//! 1. Warm-up: `--warmup` connections are opened, subscribed and closed, then
//!    the server gets 1 s, so lazily created state (the channel, runtime worker
//!    structures, allocator arenas) is already in the baseline.
//! 2. Baseline: the server's `VmRSS` is read.
//! 3. N connections are opened with at most `--concurrency` attempts in flight;
//!    each must receive `hello` and an ok reply to `subscribe`.
//! 4. After `--settle-secs` (2 s) `VmRSS` is read again:
//!    bytes per connection = (after − baseline) × 1024 / established.
//! 5. Connections stay open until `--hold-secs` have passed since the last one
//!    was established (at least the settle time); `VmRSS` is read at the end of
//!    the hold, then all connections are closed and, after the settle time once
//!    more, it is read a last time to show what the server gives back.
//!
//! Every connection is served by one task that keeps reading, so the server's
//! pings are answered throughout.

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Args;
use futures_util::StreamExt as _;
use serde::Serialize;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::{sleep, sleep_until, timeout};

use super::{ConnArgs, FdBudget, Peer, PeerArgs, ServerArgs, ServerUnderTest, ShowArgs, pick_source};
use crate::client::{Client, ClientError, Recv, Stage, Target};
use crate::procfs::{self, Proc, Sample};
use crate::stats::{Latencies, LatencySummary, Tally, Timeline, TimelinePoint, mib};

/// How long a closing connection waits for the server's Close frame.
const CLOSE_WAIT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Args)]
pub struct IdleArgs {
    /// Connections to open and hold.
    #[arg(long, default_value_t = 1000)]
    pub connections: usize,

    /// Channel every connection subscribes to. Default: a live show created for the run
    /// (see --show, --seller-email).
    #[arg(long)]
    pub channel: Option<String>,

    /// Seconds to keep the connections open after all are established.
    #[arg(long, default_value_t = 5)]
    pub hold_secs: u64,

    /// Seconds to let the server settle before reading its memory.
    #[arg(long, default_value_t = 2)]
    pub settle_secs: u64,

    /// Connections opened, subscribed and closed before the baseline is read.
    #[arg(long, default_value_t = 50)]
    pub warmup: usize,

    /// Write the report as JSON to this file.
    #[arg(long, value_name = "PATH")]
    pub json: Option<PathBuf>,

    /// Write an SVG chart of connect+hello+subscribe latency over the connect phase.
    #[arg(long, value_name = "PATH")]
    pub chart: Option<PathBuf>,

    #[command(flatten)]
    pub conn: ConnArgs,

    #[command(flatten)]
    pub server: ServerArgs,

    #[command(flatten)]
    pub show: ShowArgs,

    #[command(flatten)]
    pub peer: PeerArgs,
}

/// Counters shared by the connection tasks.
#[derive(Debug, Default)]
struct Shared {
    /// Text/binary frames received after subscribing.
    frames: AtomicU64,
    /// Pings received from the server (answered by tungstenite).
    pings: AtomicU64,
    /// Connections lost after being established, by reason.
    dropped: std::sync::Mutex<Tally>,
}

impl Shared {
    fn record_drop(&self, reason: String) {
        self.dropped.lock().expect("tally lock").add(reason);
    }
}

/// The result of establishing one connection.
type Outcome = Result<Established, ClientError>;

#[derive(Debug, Clone, Copy)]
struct Established {
    latency: Duration,
    protocol: Option<u64>,
    ping_interval_s: Option<u64>,
}

/// Connects, reads hello and subscribes.
async fn establish(
    target: &Target,
    source: Option<IpAddr>,
    channel: &str,
    step_timeout: Duration,
) -> Result<(Client, Established), ClientError> {
    let started = Instant::now();
    let mut client = Client::connect(target, source, step_timeout).await?;
    client.subscribe(channel, step_timeout).await?;
    let established = Established {
        latency: started.elapsed(),
        protocol: client.hello.protocol,
        ping_interval_s: client.hello.ping_interval_s,
    };
    Ok((client, established))
}

/// One connection's whole life: establish, report, then read until shutdown.
#[allow(clippy::too_many_arguments, reason = "plain task plumbing")]
async fn connection_task(
    target: Arc<Target>,
    source: Option<IpAddr>,
    channel: Arc<str>,
    step_timeout: Duration,
    permit: OwnedSemaphorePermit,
    outcomes: mpsc::UnboundedSender<Outcome>,
    mut shutdown: watch::Receiver<bool>,
    shared: Arc<Shared>,
) {
    let result = establish(&target, source, &channel, step_timeout).await;
    drop(permit);
    let client = match result {
        Ok((client, established)) => {
            let _ = outcomes.send(Ok(established));
            client
        }
        Err(e) => {
            let _ = outcomes.send(Err(e));
            return;
        }
    };
    drop((target, channel, outcomes));
    let mut client = client;
    loop {
        tokio::select! {
            biased;
            () = async {
                // Err means the sender is gone, which also means stop.
                let _ = shutdown.wait_for(|stop| *stop).await;
            } => {
                client.close(CLOSE_WAIT).await;
                return;
            }
            msg = client.recv() => match msg {
                Recv::Ping => {
                    shared.pings.fetch_add(1, Ordering::Relaxed);
                }
                Recv::Text(_) => {
                    shared.frames.fetch_add(1, Ordering::Relaxed);
                }
                Recv::Other => {}
                Recv::Closed(reason) => {
                    shared.record_drop(reason);
                    return;
                }
            }
        }
    }
}

/// Opens `count` connections, subscribes each, and closes them again.
/// Returns the failures.
async fn warm_up(
    target: &Target,
    sources: &[IpAddr],
    channel: &str,
    count: usize,
    concurrency: usize,
    step_timeout: Duration,
) -> Tally {
    let results: Vec<Result<(), ClientError>> = futures_util::stream::iter(0..count)
        .map(|i| async move {
            let (mut client, _) = establish(target, pick_source(sources, i), channel, step_timeout).await?;
            client.close(CLOSE_WAIT).await;
            Ok(())
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let mut failures = Tally::default();
    for e in results.into_iter().filter_map(Result::err) {
        failures.add(e.to_string());
    }
    failures
}

/// Server figures at the points of the run where they are read.
#[derive(Debug, Clone, Serialize)]
pub struct ServerSamples {
    pub pid: u32,
    pub baseline: Option<Sample>,
    pub after_connect: Option<Sample>,
    pub end_of_hold: Option<Sample>,
    pub after_close: Option<Sample>,
}

/// The `idle` report, printed and optionally written as JSON.
#[derive(Debug, Clone, Serialize)]
pub struct IdleReport {
    pub scenario: &'static str,
    /// The peer server measured instead of ocop-live, if any.
    pub peer: Option<Peer>,
    pub url: String,
    pub channel: String,
    pub connections_requested: usize,
    pub connections_established: u64,
    pub connect_errors: u64,
    pub subscribe_errors: u64,
    pub dropped_while_held: u64,
    pub errors: Tally,
    pub drops: Tally,
    pub warmup_connections: usize,
    pub warmup_errors: Tally,
    pub establish_secs: f64,
    pub connections_per_sec: f64,
    pub establish_latency: Option<LatencySummary>,
    /// Connections established and their latency per second of the connect phase.
    pub establish_timeline: Vec<TimelinePoint>,
    /// Growth of the kernel's `TcpExt ListenOverflows` counter while connecting
    /// (whole network namespace): SYNs dropped because the server's accept
    /// queue was full; each costs the client a SYN retransmit (about 1 s).
    pub listen_overflows: Option<u64>,
    pub concurrency: u32,
    pub sources: Vec<IpAddr>,
    pub settle_secs: u64,
    pub hold_secs: u64,
    pub server: Option<ServerSamples>,
    /// (after_connect.rss − baseline.rss) in bytes / connections established.
    pub server_rss_bytes_per_connection: Option<f64>,
    pub server_exit: Option<String>,
    pub server_protocol: Option<u64>,
    pub server_ping_interval_s: Option<u64>,
    pub frames_received: u64,
    pub pings_received: u64,
    pub loadtest_rss_kib: Option<u64>,
    pub fd_budget: FdBudget,
    pub ok: bool,
}

/// Runs the scenario; the exit code is 2 when any connection failed.
pub async fn run(args: IdleArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.connections > 0, "--connections must be at least 1");
    let fd_budget = super::ensure_fd_budget(args.connections.max(args.warmup))?;
    let mut defaults = Vec::new();
    if args.connections > 19_000 {
        // The server's default connection limit is 19,000.
        defaults.push(("--max-connections", (args.connections + 100).to_string()));
    }
    let sut = if args.peer.peer.is_some() {
        ServerUnderTest::prepare_peer(&args.conn, &args.server, &args.peer).await?
    } else {
        ServerUnderTest::prepare(&args.conn, &args.server, &defaults).await?
    };
    // A spawned server is stopped whether or not the measurement succeeded.
    let measured = async {
        let channel = match &args.channel {
            Some(ch) => ch.clone(),
            None if args.peer.peer.is_some() => format!("show:{}", super::PEER_SHOW),
            None => super::setup_show(&sut, &args.show, 1000, &super::run_tag()).await?.channel,
        };
        measure(&args, &sut, &channel, fd_budget).await
    }
    .await;
    let server_exit = sut.finish().await;
    let mut report = measured?;
    report.server_exit = server_exit;

    print_summary(&report);
    if let Some(path) = &args.json {
        super::write_json(path, &report)?;
    }
    if let Some(path) = &args.chart {
        crate::chart::latency_over_time(
            path,
            &format!("idle: connect+hello+subscribe, {} connections", report.connections_requested),
            "seconds since the first connect",
            &report.establish_timeline,
            true,
        )?;
    }
    Ok(if report.ok { ExitCode::SUCCESS } else { ExitCode::from(2) })
}

fn sample_server(pid: Option<u32>, when: &str) -> Option<Sample> {
    let pid = pid?;
    match procfs::sample(Proc::Pid(pid)) {
        Ok(s) => Some(s),
        Err(e) => {
            eprintln!("warning: cannot read server memory {when}: {e:#}");
            None
        }
    }
}

async fn measure(
    args: &IdleArgs,
    sut: &ServerUnderTest,
    channel_name: &str,
    fd_budget: FdBudget,
) -> anyhow::Result<IdleReport> {
    let n = args.connections;
    let target = Arc::new(sut.target().clone());
    let sources = super::source_addrs(n, args.conn.sources, &target)?;
    match sut.pid() {
        Some(pid) => super::check_server_fd_limit(pid, n),
        None => eprintln!("note: neither --server-pid nor --spawn-server given; server memory is not measured"),
    }
    let concurrency = args.conn.concurrency as usize;
    let step_timeout = args.conn.step_timeout();
    let settle = Duration::from_secs(args.settle_secs);

    // 1. Warm-up.
    let warmup_errors = if args.warmup > 0 {
        eprintln!("warm-up: {} connections to {}", args.warmup, target.url);
        let failures = warm_up(&target, &sources, channel_name, args.warmup, concurrency, step_timeout).await;
        if failures.total() == args.warmup as u64 {
            let (first, _) = failures.by_count()[0];
            anyhow::bail!("all {} warm-up connections failed, e.g. {first}", args.warmup);
        }
        sleep(Duration::from_secs(1)).await;
        failures
    } else {
        Tally::default()
    };

    // 2. Baseline.
    let baseline = sample_server(sut.pid(), "at baseline");

    // 3. Open and subscribe N connections.
    eprintln!("opening {n} connections ({concurrency} in flight, {} source address(es))", sources.len());
    let shared = Arc::new(Shared::default());
    let (stop_tx, stop_rx) = watch::channel(false);
    let (out_tx, mut out_rx) = mpsc::unbounded_channel::<Outcome>();
    let channel: Arc<str> = Arc::from(channel_name);
    let overflows_before = procfs::tcp_ext_counter("ListenOverflows");
    let started = Instant::now();
    let spawner = tokio::spawn({
        let (target, shared, sources) = (target.clone(), shared.clone(), sources.clone());
        async move {
            let semaphore = Arc::new(Semaphore::new(concurrency));
            let mut tasks = JoinSet::new();
            for i in 0..n {
                let permit = semaphore.clone().acquire_owned().await.expect("semaphore is never closed");
                tasks.spawn(connection_task(
                    target.clone(),
                    pick_source(&sources, i),
                    channel.clone(),
                    step_timeout,
                    permit,
                    out_tx.clone(),
                    stop_rx.clone(),
                    shared.clone(),
                ));
            }
            tasks
        }
    });

    let mut latencies = Latencies::default();
    let mut samples = Vec::with_capacity(n);
    let mut errors = Tally::default();
    let (mut established, mut connect_errors, mut subscribe_errors) = (0u64, 0u64, 0u64);
    let (mut server_protocol, mut server_ping_interval_s) = (None, None);
    let mut progress = tokio::time::interval(Duration::from_secs(1));
    progress.tick().await;
    let mut received = 0usize;
    while received < n {
        tokio::select! {
            outcome = out_rx.recv() => {
                let Some(outcome) = outcome else { break };
                received += 1;
                match outcome {
                    Ok(e) => {
                        established += 1;
                        latencies.record(e.latency);
                        samples.push((started.elapsed(), e.latency));
                        server_protocol = server_protocol.or(e.protocol);
                        server_ping_interval_s = server_ping_interval_s.or(e.ping_interval_s);
                    }
                    Err(e) => {
                        if e.stage == Stage::Command {
                            subscribe_errors += 1;
                        } else {
                            connect_errors += 1;
                        }
                        errors.add(e.to_string());
                    }
                }
            }
            _ = progress.tick() => eprintln!(
                "  {:>6.1} s: {established}/{n} established, {} failed",
                started.elapsed().as_secs_f64(),
                connect_errors + subscribe_errors,
            ),
        }
    }
    // Outcomes that never arrived belong to tasks that ended abnormally.
    for _ in received..n {
        errors.add("connection task ended without an outcome");
        connect_errors += 1;
    }
    let establish_time = started.elapsed();
    let all_established_at = Instant::now();
    let listen_overflows = procfs::tcp_ext_counter("ListenOverflows")
        .zip(overflows_before)
        .map(|(after, before)| after.saturating_sub(before));
    let mut tasks = spawner.await.context("connection spawner failed")?;
    eprintln!(
        "{established}/{n} established in {:.2} s; settling {} s",
        establish_time.as_secs_f64(),
        args.settle_secs
    );

    // 4. Settle and measure.
    sleep(settle).await;
    let after_connect = sample_server(sut.pid(), "after connecting");

    // 5. Hold, then close.
    let hold = Duration::from_secs(args.hold_secs).max(settle);
    if established > 0 {
        sleep_until((all_established_at + hold).into()).await;
    }
    let end_of_hold = sample_server(sut.pid(), "at the end of the hold");
    let loadtest_rss_kib = procfs::sample(Proc::Current).ok().map(|s| s.rss_kib);
    let drops = shared.dropped.lock().expect("tally lock").clone();

    eprintln!("closing connections");
    let _ = stop_tx.send(true);
    let drained =
        timeout(CLOSE_WAIT + Duration::from_secs(10), async { while tasks.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        eprintln!("warning: some connections did not close in time; aborting them");
        tasks.shutdown().await;
    }
    sleep(settle).await;
    let after_close = sample_server(sut.pid(), "after closing");

    let server_rss_bytes_per_connection = match (baseline, after_connect) {
        (Some(b), Some(a)) if established > 0 => {
            Some((a.rss_kib as f64 - b.rss_kib as f64) * 1024.0 / established as f64)
        }
        _ => None,
    };
    let dropped_while_held = drops.total();
    let ok = established == n as u64
        && connect_errors == 0
        && subscribe_errors == 0
        && dropped_while_held == 0
        && warmup_errors.total() == 0;

    Ok(IdleReport {
        scenario: "idle",
        peer: args.peer.peer,
        url: target.url.clone(),
        channel: channel_name.to_owned(),
        connections_requested: n,
        connections_established: established,
        connect_errors,
        subscribe_errors,
        dropped_while_held,
        errors,
        drops,
        warmup_connections: args.warmup,
        warmup_errors,
        establish_secs: establish_time.as_secs_f64(),
        connections_per_sec: established as f64 / establish_time.as_secs_f64().max(1e-9),
        establish_latency: latencies.summary(),
        establish_timeline: Timeline::from_samples(&samples, 40).points(),
        listen_overflows,
        concurrency: args.conn.concurrency,
        sources,
        settle_secs: args.settle_secs,
        hold_secs: hold.as_secs(),
        server: sut.pid().map(|pid| ServerSamples { pid, baseline, after_connect, end_of_hold, after_close }),
        server_rss_bytes_per_connection,
        server_exit: None,
        server_protocol,
        server_ping_interval_s,
        frames_received: shared.frames.load(Ordering::Relaxed),
        pings_received: shared.pings.load(Ordering::Relaxed),
        loadtest_rss_kib,
        fd_budget,
        ok,
    })
}

#[allow(clippy::print_stdout, reason = "the summary is the program's output")]
fn print_summary(r: &IdleReport) {
    let sources = if r.sources.is_empty() {
        "kernel-chosen".to_owned()
    } else {
        r.sources.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
    };
    if let Some(peer) = r.peer {
        println!("peer: {}", peer.name());
    }
    println!(
        "idle: {}/{} connections subscribed to {} in {:.2} s ({:.0}/s; concurrency {}; sources {})",
        r.connections_established,
        r.connections_requested,
        r.channel,
        r.establish_secs,
        r.connections_per_sec,
        r.concurrency,
        sources
    );
    println!(
        "  connect errors {}, subscribe errors {}, dropped while held {}, warm-up errors {}",
        r.connect_errors,
        r.subscribe_errors,
        r.dropped_while_held,
        r.warmup_errors.total()
    );
    for (what, tally) in [("error", &r.errors), ("drop", &r.drops), ("warm-up", &r.warmup_errors)] {
        for (key, count) in tally.by_count().into_iter().take(10) {
            println!("    {what}: {count} x {key}");
        }
    }
    if let Some(l) = r.establish_latency {
        println!(
            "  connect+hello+subscribe latency: p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, p99.9 {:.1} ms, max {:.1} ms",
            l.p50_ms, l.p90_ms, l.p99_ms, l.p99_9_ms, l.max_ms
        );
    }
    if let Some(n) = r.listen_overflows.filter(|n| *n > 0) {
        println!(
            "  kernel ListenOverflows +{n} while connecting: the server's accept queue was full \
             (each such connect waited for a SYN retransmit)"
        );
    }
    if let Some(s) = &r.server {
        let rss = |x: &Option<Sample>| x.map_or_else(|| "?".to_owned(), |x| mib(x.rss_kib));
        println!(
            "  server pid {} VmRSS: baseline {} -> after connect {} -> end of hold {} -> after close {}",
            s.pid,
            rss(&s.baseline),
            rss(&s.after_connect),
            rss(&s.end_of_hold),
            rss(&s.after_close)
        );
        if let Some(b) = r.server_rss_bytes_per_connection {
            println!("  server VmRSS per idle connection: {:.0} bytes ({:.2} KiB)", b, b / 1024.0);
        }
        if let (Some(b), Some(a)) = (s.baseline, s.after_connect) {
            let fds = |x: Option<u64>| x.map_or_else(|| "?".to_owned(), |v| v.to_string());
            println!("  server fds {} -> {}, threads {} -> {}", fds(b.fds), fds(a.fds), b.threads, a.threads);
        }
    }
    println!(
        "  frames after subscribe {}, pings {}, loadtest VmRSS {}",
        r.frames_received,
        r.pings_received,
        r.loadtest_rss_kib.map_or_else(|| "?".to_owned(), mib)
    );
    if let Some(exit) = &r.server_exit {
        println!("  spawned server stopped: {exit}");
    }
    println!("  result: {}", if r.ok { "OK" } else { "FAILED" });
}
