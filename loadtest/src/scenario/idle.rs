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
//!
//! A process may hold about 20,000 descriptors here, so above 19,000 connections the
//! connections are shared by several load-generator processes (`--processes`, by default
//! one per 19,000): this one starts the others as `loadtest idle-worker`, each opening its
//! share against one server node and reporting on stdout, and adds up their reports. The
//! server's memory is then summed over its nodes (`--nodes K` on Redis, since each server
//! process has the same descriptor limit).

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Args;
use futures_util::StreamExt as _;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::{sleep, sleep_until, timeout};

use super::{ConnArgs, FdBudget, Peer, PeerArgs, ServerArgs, ServerUnderTest, ShowArgs, pick_source};
use crate::client::{Client, ClientError, Recv, Stage, Target, Transport};
use crate::procfs::{self, Proc, Sample};
use crate::stats::{Latencies, LatencySummary, Tally, Timeline, TimelinePoint, mib};

/// How long a closing connection waits for the server's Close frame.
const CLOSE_WAIT: Duration = Duration::from_secs(5);
/// Connections one load-generator process opens at most by default (a process may hold about
/// 20,000 descriptors here).
const CONNECTIONS_PER_PROCESS: usize = 19_000;

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

    /// Load-generator processes sharing the connections. Default: one per 19,000
    /// connections. With more than one, this process starts the others (`loadtest
    /// idle-worker`), gives process i the server node i mod K, and adds up their reports.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub processes: Option<u32>,

    #[command(flatten)]
    pub conn: ConnArgs,

    #[command(flatten)]
    pub server: ServerArgs,

    #[command(flatten)]
    pub show: ShowArgs,

    #[command(flatten)]
    pub peer: PeerArgs,
}

/// `loadtest idle-worker`: one process of a multi-process `idle` run.
#[derive(Debug, Clone, Args)]
pub struct WorkerArgs {
    /// The server node's WebSocket URL.
    #[arg(long)]
    pub url: String,

    /// Speak Socket.IO's framing (the Socket.IO peer).
    #[arg(long)]
    pub socketio: bool,

    #[arg(long)]
    pub channel: String,

    #[arg(long)]
    pub connections: usize,

    /// Source addresses to spread the connections over; none lets the kernel choose.
    #[arg(long, value_delimiter = ',')]
    pub source_ips: Vec<IpAddr>,

    #[arg(long, default_value_t = 200)]
    pub concurrency: u32,

    #[arg(long, default_value_t = 10)]
    pub timeout_secs: u64,

    /// Prefix of the progress lines on stderr.
    #[arg(long, default_value = "")]
    pub label: String,
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

/// What a group of connections reports once every one is established or has failed.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Opened {
    established: u64,
    connect_errors: u64,
    subscribe_errors: u64,
    errors: Tally,
    /// Per established connection: milliseconds since the group started, and its latency in µs.
    samples: Vec<(u64, u64)>,
    protocol: Option<u64>,
    ping_interval_s: Option<u64>,
}

impl Opened {
    fn merge(&mut self, other: Self) {
        self.established += other.established;
        self.connect_errors += other.connect_errors;
        self.subscribe_errors += other.subscribe_errors;
        for (key, count) in other.errors.by_count() {
            self.errors.add_n(key, count);
        }
        self.samples.extend(other.samples);
        self.protocol = self.protocol.or(other.protocol);
        self.ping_interval_s = self.ping_interval_s.or(other.ping_interval_s);
    }
}

/// What a group of connections reports after closing.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Closed {
    /// Connections lost while held, by reason.
    drops: Tally,
    frames: u64,
    pings: u64,
}

impl Closed {
    fn merge(&mut self, other: Self) {
        for (key, count) in other.drops.by_count() {
            self.drops.add_n(key, count);
        }
        self.frames += other.frames;
        self.pings += other.pings;
    }
}

/// Connections held by this process.
struct Group {
    stop: watch::Sender<bool>,
    tasks: JoinSet<()>,
    shared: Arc<Shared>,
}

impl Group {
    /// Opens `n` connections with at most `concurrency` attempts in flight, printing progress
    /// every second (prefixed with `label`), and returns once each is established or failed.
    async fn open(
        target: Arc<Target>,
        sources: Vec<IpAddr>,
        channel: Arc<str>,
        n: usize,
        concurrency: usize,
        step_timeout: Duration,
        label: &str,
    ) -> (Self, Opened) {
        let shared = Arc::new(Shared::default());
        let (stop_tx, stop_rx) = watch::channel(false);
        let (out_tx, mut out_rx) = mpsc::unbounded_channel::<Outcome>();
        let started = Instant::now();
        let spawner = tokio::spawn({
            let shared = shared.clone();
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
        let mut opened = Opened::default();
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
                            opened.established += 1;
                            opened.samples.push((started.elapsed().as_millis() as u64, e.latency.as_micros() as u64));
                            opened.protocol = opened.protocol.or(e.protocol);
                            opened.ping_interval_s = opened.ping_interval_s.or(e.ping_interval_s);
                        }
                        Err(e) => {
                            if e.stage == Stage::Command {
                                opened.subscribe_errors += 1;
                            } else {
                                opened.connect_errors += 1;
                            }
                            opened.errors.add(e.to_string());
                        }
                    }
                }
                _ = progress.tick() => eprintln!(
                    "  {label}{:>6.1} s: {}/{n} established, {} failed",
                    started.elapsed().as_secs_f64(),
                    opened.established,
                    opened.connect_errors + opened.subscribe_errors,
                ),
            }
        }
        // Outcomes that never arrived belong to tasks that ended abnormally.
        for _ in received..n {
            opened.errors.add("connection task ended without an outcome");
            opened.connect_errors += 1;
        }
        let tasks = match spawner.await {
            Ok(tasks) => tasks,
            Err(e) => {
                opened.errors.add(format!("connection spawner failed: {e}"));
                JoinSet::new()
            }
        };
        (Self { stop: stop_tx, tasks, shared }, opened)
    }

    /// Closes every connection (each waits for the server's Close frame).
    async fn close(mut self) -> Closed {
        let _ = self.stop.send(true);
        let tasks = &mut self.tasks;
        let drained =
            timeout(CLOSE_WAIT + Duration::from_secs(10), async { while tasks.join_next().await.is_some() {} }).await;
        if drained.is_err() {
            eprintln!("warning: some connections did not close in time; aborting them");
            self.tasks.shutdown().await;
        }
        Closed {
            drops: self.shared.dropped.lock().expect("tally lock").clone(),
            frames: self.shared.frames.load(Ordering::Relaxed),
            pings: self.shared.pings.load(Ordering::Relaxed),
        }
    }
}

/// Where the connections of a run are held.
enum Held {
    Here(Group),
    Workers(Vec<Worker>),
}

/// A `loadtest idle-worker` process: one JSON line on stdout when its connections are open,
/// and another after it was told to close them (a line on its stdin).
struct Worker {
    label: String,
    child: Child,
    stdin: ChildStdin,
    stdout: tokio::io::Lines<BufReader<ChildStdout>>,
}

/// Starts one worker process per share of the connections; worker i connects to node i mod K
/// from every K-th source address.
async fn start_workers(
    args: &IdleArgs,
    sut: &ServerUnderTest,
    channel: &str,
    sources: &[IpAddr],
    processes: usize,
) -> anyhow::Result<Vec<Worker>> {
    let exe = std::env::current_exe().context("cannot find the loadtest binary to start workers")?;
    let n = args.connections;
    let mut workers = Vec::with_capacity(processes);
    for i in 0..processes {
        let count = n / processes + usize::from(i < n % processes);
        let target = sut.target_for(i);
        let ips: Vec<String> = sources.iter().skip(i).step_by(processes).map(ToString::to_string).collect();
        let label = format!("process {}/{processes}: ", i + 1);
        let mut command = tokio::process::Command::new(&exe);
        command
            .arg("idle-worker")
            .args(["--url", &target.url, "--channel", channel, "--connections", &count.to_string()])
            .args(["--concurrency", &(args.conn.concurrency as usize).div_ceil(processes).to_string()])
            .args(["--timeout-secs", &args.conn.timeout_secs.to_string(), "--label", &label]);
        if !ips.is_empty() {
            command.args(["--source-ips", &ips.join(",")]);
        }
        if target.transport == Transport::SocketIo {
            command.arg("--socketio");
        }
        let mut child = command
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start {}", exe.display()))?;
        let stdin = child.stdin.take().context("worker has no stdin")?;
        let stdout = BufReader::new(child.stdout.take().context("worker has no stdout")?).lines();
        workers.push(Worker { label: label.trim_end_matches([':', ' ']).to_owned(), child, stdin, stdout });
    }
    Ok(workers)
}

impl Worker {
    async fn read<T: serde::de::DeserializeOwned>(&mut self, what: &str) -> anyhow::Result<T> {
        let line = self
            .stdout
            .next_line()
            .await
            .with_context(|| format!("{}: cannot read its {what} report", self.label))?
            .with_context(|| format!("{}: ended before its {what} report", self.label))?;
        serde_json::from_str(&line).with_context(|| format!("{}: unreadable {what} report: {line}", self.label))
    }

    /// Waits for every worker's report of its open connections, and adds them up.
    async fn opened_all(mut workers: Vec<Self>) -> anyhow::Result<(Vec<Self>, Opened)> {
        let reports = futures_util::future::join_all(workers.iter_mut().map(|w| w.read::<Opened>("opening"))).await;
        let mut opened = Opened::default();
        for report in reports {
            opened.merge(report?);
        }
        Ok((workers, opened))
    }

    /// Tells every worker to close its connections, and adds up what they report.
    async fn close_all(mut workers: Vec<Self>) -> Closed {
        let mut closed = Closed::default();
        let reports = futures_util::future::join_all(workers.iter_mut().map(|w| async move {
            w.stdin.write_all(b"close\n").await?;
            w.stdin.flush().await?;
            w.read::<Closed>("closing").await
        }))
        .await;
        for (w, report) in workers.iter_mut().zip(reports) {
            match report {
                Ok(r) => closed.merge(r),
                Err(e) => closed.drops.add(format!("{e:#}")),
            }
            let _ = timeout(Duration::from_secs(10), w.child.wait()).await;
        }
        closed
    }
}

/// `loadtest idle-worker`: opens its connections, reports them as one JSON line on stdout,
/// holds them until a line (or the end) arrives on stdin, closes them and reports again.
pub async fn worker(args: WorkerArgs) -> anyhow::Result<ExitCode> {
    use std::io::Write as _;
    super::ensure_fd_budget(args.connections)?;
    let mut target = Target::resolve(&args.url).await?;
    if args.socketio {
        target = target.with_transport(Transport::SocketIo);
    }
    let (group, opened) = Group::open(
        Arc::new(target),
        args.source_ips,
        Arc::from(args.channel.as_str()),
        args.connections,
        args.concurrency as usize,
        Duration::from_secs(args.timeout_secs),
        &args.label,
    )
    .await;
    let emit = |line: String| -> anyhow::Result<()> {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{line}")?;
        out.flush()?;
        Ok(())
    };
    emit(serde_json::to_string(&opened)?)?;
    let mut line = String::new();
    let _ = BufReader::new(tokio::io::stdin()).read_line(&mut line).await;
    let closed = group.close().await;
    emit(serde_json::to_string(&closed)?)?;
    Ok(ExitCode::SUCCESS)
}

/// Server figures at the points of the run where they are read.
#[derive(Debug, Clone, Serialize)]
pub struct ServerSamples {
    /// The first node; figures are summed over `pids`.
    pub pid: u32,
    pub pids: Vec<u32>,
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
    /// Load-generator processes that held the connections.
    pub processes: usize,
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
    let processes = args
        .processes
        .map_or_else(|| args.connections.div_ceil(CONNECTIONS_PER_PROCESS).max(1), |k| k as usize)
        .min(args.connections);
    let fd_budget = super::ensure_fd_budget(args.connections.div_ceil(processes).max(args.warmup))?;
    if args.server.spawn_server.is_some() {
        let per_node = args.connections.div_ceil(usize::from(args.server.nodes.max(1)));
        anyhow::ensure!(
            per_node <= CONNECTIONS_PER_PROCESS + 500,
            "{} connections on {} server node(s) are {per_node} per node, more than one server process \
             can hold here (about 19,500 descriptors): add --nodes {} (with Redis, see --help)",
            args.connections,
            args.server.nodes,
            args.connections.div_ceil(CONNECTIONS_PER_PROCESS)
        );
    }
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
        measure(&args, &sut, &channel, fd_budget, processes).await
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

/// The server's figures, summed over its nodes.
fn sample_server(pids: &[u32], when: &str) -> Option<Sample> {
    if pids.is_empty() {
        return None;
    }
    let mut sum = Sample { rss_kib: 0, hwm_kib: 0, threads: 0, fds: Some(0) };
    for pid in pids {
        match procfs::sample(Proc::Pid(*pid)) {
            Ok(s) => {
                sum.rss_kib += s.rss_kib;
                sum.hwm_kib += s.hwm_kib;
                sum.threads += s.threads;
                sum.fds = sum.fds.zip(s.fds).map(|(a, b)| a + b);
            }
            Err(e) => {
                eprintln!("warning: cannot read server memory {when} (pid {pid}): {e:#}");
                return None;
            }
        }
    }
    Some(sum)
}

async fn measure(
    args: &IdleArgs,
    sut: &ServerUnderTest,
    channel_name: &str,
    fd_budget: FdBudget,
    processes: usize,
) -> anyhow::Result<IdleReport> {
    let n = args.connections;
    let target = Arc::new(sut.target().clone());
    // At least one source address per process, so that processes never share one.
    let wanted_sources = args.conn.sources.map(|k| if k == 0 { 0 } else { k.max(processes) });
    let sources = match wanted_sources {
        Some(k) => super::source_addrs(n, Some(k), &target)?,
        None => {
            let k = n.div_ceil(super::CONNECTIONS_PER_SOURCE).max(1).max(processes);
            super::source_addrs(n, Some(k), &target)?
        }
    };
    let pids = sut.pids.clone();
    if pids.is_empty() {
        eprintln!("note: neither --server-pid nor --spawn-server given; server memory is not measured");
    }
    for pid in &pids {
        super::check_server_fd_limit(*pid, n.div_ceil(pids.len()));
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
    let baseline = sample_server(&pids, "at baseline");

    // 3. Open and subscribe N connections, here or in worker processes.
    eprintln!(
        "opening {n} connections ({concurrency} in flight, {} source address(es), {processes} process(es))",
        sources.len()
    );
    let channel: Arc<str> = Arc::from(channel_name);
    let overflows_before = procfs::tcp_ext_counter("ListenOverflows");
    let started = Instant::now();
    let (held, opened) = if processes <= 1 {
        let (group, opened) =
            Group::open(target.clone(), sources.clone(), channel, n, concurrency, step_timeout, "").await;
        (Held::Here(group), opened)
    } else {
        let workers = start_workers(args, sut, channel_name, &sources, processes).await?;
        let (workers, opened) = Worker::opened_all(workers).await?;
        (Held::Workers(workers), opened)
    };
    let establish_time = started.elapsed();
    let all_established_at = Instant::now();
    let listen_overflows = procfs::tcp_ext_counter("ListenOverflows")
        .zip(overflows_before)
        .map(|(after, before)| after.saturating_sub(before));
    let established = opened.established;
    let mut latencies = Latencies::default();
    let mut samples = Vec::with_capacity(opened.samples.len());
    for (at_ms, latency_us) in &opened.samples {
        let latency = Duration::from_micros(*latency_us);
        latencies.record(latency);
        samples.push((Duration::from_millis(*at_ms), latency));
    }
    eprintln!(
        "{established}/{n} established in {:.2} s; settling {} s",
        establish_time.as_secs_f64(),
        args.settle_secs
    );

    // 4. Settle and measure.
    sleep(settle).await;
    let after_connect = sample_server(&pids, "after connecting");

    // 5. Hold, then close.
    let hold = Duration::from_secs(args.hold_secs).max(settle);
    if established > 0 {
        sleep_until((all_established_at + hold).into()).await;
    }
    let end_of_hold = sample_server(&pids, "at the end of the hold");
    let loadtest_rss_kib = procfs::sample(Proc::Current).ok().map(|s| s.rss_kib);

    eprintln!("closing connections");
    let closed = match held {
        Held::Here(group) => group.close().await,
        Held::Workers(workers) => Worker::close_all(workers).await,
    };
    sleep(settle).await;
    let after_close = sample_server(&pids, "after closing");
    let Opened {
        connect_errors,
        subscribe_errors,
        errors,
        protocol: server_protocol,
        ping_interval_s: server_ping_interval_s,
        ..
    } = opened;
    let drops = closed.drops;

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
        processes,
        sources,
        settle_secs: args.settle_secs,
        hold_secs: hold.as_secs(),
        server: pids.first().map(|pid| ServerSamples {
            pid: *pid,
            pids: pids.clone(),
            baseline,
            after_connect,
            end_of_hold,
            after_close,
        }),
        server_rss_bytes_per_connection,
        server_exit: None,
        server_protocol,
        server_ping_interval_s,
        frames_received: closed.frames,
        pings_received: closed.pings,
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
        "idle: {}/{} connections subscribed to {} in {:.2} s ({:.0}/s; concurrency {}; sources {}; {} load-generator process(es))",
        r.connections_established,
        r.connections_requested,
        r.channel,
        r.establish_secs,
        r.connections_per_sec,
        r.concurrency,
        sources,
        r.processes
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
