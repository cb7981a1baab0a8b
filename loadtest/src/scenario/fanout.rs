//! `fanout`: N viewers subscribed to one live show; one publisher (a guest)
//! sends chat at R messages a second, open loop, for D seconds, each text
//! carrying its scheduled send time. Every viewer measures the latency of each
//! delivery and checks the channel's offsets for gaps.
//!
//! Reported: per-delivery latency (p50, p90, p99, p99.9, max), deliveries per
//! second, losses (expected = viewers × acknowledged messages), offset gaps,
//! and the server's CPU time per delivery (utime + stime from /proc over the
//! publishing phase, divided by the deliveries).

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use futures_util::StreamExt as _;
use serde::Serialize;
use tokio::sync::{OwnedSemaphorePermit, mpsc, watch};
use tokio::time::{sleep, timeout};

use super::publisher::{self, LiteFrame, PublisherCounters, PublisherReport};
use super::{ConnArgs, Peer, PeerArgs, Progress, ServerArgs, ServerUnderTest, ShowArgs, pick_source};
use crate::client::{Client, ClientError, Recv, Target};
use crate::procfs::{self, Proc};
use crate::stats::{Latencies, LatencySummary, Tally, Timeline, TimelinePoint};

/// Latency recorders; viewers pick one by index so they rarely wait for each other.
const SHARDS: usize = 8;
const CLOSE_WAIT: Duration = Duration::from_secs(3);

/// Who the viewers are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ViewerKind {
    /// No token: anonymous viewers.
    Anon,
    /// Each viewer signs in as a guest first (POST /api/auth/guest).
    Guest,
}

#[derive(Debug, Clone, Args)]
pub struct FanoutArgs {
    /// Viewers subscribed to the show.
    #[arg(long, default_value_t = 1000)]
    pub viewers: usize,

    /// Chat messages a second sent by the publisher.
    #[arg(long, default_value_t = 20.0)]
    pub rate: f64,

    /// Seconds of publishing.
    #[arg(long, default_value_t = 10)]
    pub duration_secs: u64,

    /// Anonymous or guest viewers.
    #[arg(long, value_enum, default_value_t = ViewerKind::Anon)]
    pub viewer_kind: ViewerKind,

    /// Seconds to wait after the last message for deliveries still on their way.
    #[arg(long, default_value_t = 5)]
    pub drain_secs: u64,

    /// Write the report as JSON to this file.
    #[arg(long, value_name = "PATH")]
    pub json: Option<PathBuf>,

    /// Write an SVG chart of delivery latency over time.
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

#[derive(Debug)]
struct Shard {
    latency: Latencies,
    timeline: Timeline,
}

/// State shared by the viewer tasks.
#[derive(Debug)]
struct Shared {
    tag: Arc<str>,
    shards: Vec<Mutex<Shard>>,
    /// Unix µs when publishing started (0 before).
    publish_start_us: AtomicU64,
    deliveries: AtomicU64,
    last_delivery_us: AtomicU64,
    /// Offsets that were skipped (missing events) and offsets seen twice or backwards.
    offset_gaps: AtomicU64,
    offset_repeats: AtomicU64,
    /// Messages of this run delivered out of sequence order.
    out_of_order: AtomicU64,
    unparsed: AtomicU64,
    /// Deliveries per viewer, filled in when each viewer stops.
    per_viewer: Mutex<Vec<u64>>,
    dropped: Mutex<Tally>,
}

impl Shared {
    fn new(tag: Arc<str>, bucket: Duration) -> Self {
        Self {
            tag,
            shards: (0..SHARDS)
                .map(|_| Mutex::new(Shard { latency: Latencies::default(), timeline: Timeline::new(bucket) }))
                .collect(),
            publish_start_us: AtomicU64::new(0),
            deliveries: AtomicU64::new(0),
            last_delivery_us: AtomicU64::new(0),
            offset_gaps: AtomicU64::new(0),
            offset_repeats: AtomicU64::new(0),
            out_of_order: AtomicU64::new(0),
            unparsed: AtomicU64::new(0),
            per_viewer: Mutex::new(Vec::new()),
            dropped: Mutex::new(Tally::default()),
        }
    }
}

type Outcome = Result<Duration, ClientError>;

#[allow(clippy::too_many_arguments, reason = "plain task plumbing")]
async fn viewer(
    index: usize,
    target: Target,
    source: Option<IpAddr>,
    channel: Arc<str>,
    step_timeout: Duration,
    permit: OwnedSemaphorePermit,
    outcomes: mpsc::UnboundedSender<Outcome>,
    mut stop: watch::Receiver<bool>,
    shared: Arc<Shared>,
) {
    let started = Instant::now();
    let established = async {
        let mut client = Client::connect(&target, source, step_timeout).await?;
        let data = client.subscribe(&channel, step_timeout).await?;
        Ok::<_, ClientError>((client, data["off"].as_u64().unwrap_or(0)))
    }
    .await;
    drop(permit);
    let (mut client, mut last_off) = match established {
        Ok(v) => {
            let _ = outcomes.send(Ok(started.elapsed()));
            v
        }
        Err(e) => {
            let _ = outcomes.send(Err(e));
            return;
        }
    };
    drop(outcomes);
    let shard = &shared.shards[index % SHARDS];
    let (mut delivered, mut last_seq) = (0u64, 0u64);
    loop {
        let msg = tokio::select! {
            biased;
            () = super::signalled(&mut stop) => {
                client.close(CLOSE_WAIT).await;
                break;
            }
            msg = client.recv() => msg,
        };
        let text = match msg {
            Recv::Text(t) => t,
            Recv::Ping | Recv::Other => continue,
            Recv::Closed(reason) => {
                shared.dropped.lock().expect("lock").add(reason);
                break;
            }
        };
        let now_us = super::unix_micros();
        let Ok(frame) = serde_json::from_str::<LiteFrame<'_>>(text.as_str()) else {
            shared.unparsed.fetch_add(1, Ordering::Relaxed);
            continue;
        };
        if let Some(off) = frame.off {
            if off == last_off + 1 {
            } else if off > last_off {
                shared.offset_gaps.fetch_add(off - last_off - 1, Ordering::Relaxed);
            } else {
                shared.offset_repeats.fetch_add(1, Ordering::Relaxed);
            }
            last_off = last_off.max(off);
        }
        if frame.ev.as_deref() != Some("chat") {
            continue;
        }
        let Some((sent_us, seq)) =
            frame.data.and_then(|d| d.text).and_then(|t| publisher::parse_chat_text(&t, &shared.tag))
        else {
            continue;
        };
        if seq <= last_seq {
            shared.out_of_order.fetch_add(1, Ordering::Relaxed);
        }
        last_seq = last_seq.max(seq);
        delivered += 1;
        let latency = Duration::from_micros(now_us.saturating_sub(sent_us));
        let since_start = Duration::from_micros(now_us.saturating_sub(shared.publish_start_us.load(Ordering::Relaxed)));
        {
            let mut s = shard.lock().expect("lock");
            s.latency.record(latency);
            s.timeline.record(since_start, latency);
        }
        shared.deliveries.fetch_add(1, Ordering::Relaxed);
        shared.last_delivery_us.fetch_max(now_us, Ordering::Relaxed);
    }
    shared.per_viewer.lock().expect("lock").push(delivered);
}

/// The `fanout` report.
#[derive(Debug, Clone, Serialize)]
pub struct FanoutReport {
    pub scenario: &'static str,
    /// The peer server measured instead of ocop-live, if any.
    pub peer: Option<Peer>,
    pub urls: Vec<String>,
    pub server_args: Vec<String>,
    pub show_id: String,
    pub viewer_kind: ViewerKind,
    pub viewers_requested: usize,
    pub viewers_connected: u64,
    pub connect_errors: Tally,
    pub connect_secs: f64,
    pub connect_latency: Option<LatencySummary>,
    pub publisher: PublisherReport,
    /// viewers connected × messages acknowledged.
    pub expected_deliveries: u64,
    pub deliveries: u64,
    pub lost: u64,
    /// Viewers that received fewer messages than were acknowledged.
    pub viewers_with_losses: u64,
    pub offset_gaps: u64,
    pub offset_repeats: u64,
    pub out_of_order: u64,
    pub unparsed_frames: u64,
    pub dropped: Tally,
    pub delivery_latency: Option<LatencySummary>,
    pub deliveries_per_sec: f64,
    /// From the first scheduled send to the last delivery.
    pub delivery_window_secs: f64,
    pub server_cpu_secs: Option<f64>,
    pub server_cpu_us_per_delivery: Option<f64>,
    /// Server CPU time / wall time over the phase (1.0 = one core busy).
    pub server_cores_busy: Option<f64>,
    pub loadtest_cpu_secs: Option<f64>,
    pub timeline: Vec<TimelinePoint>,
    pub server_exit: Option<String>,
    pub ok: bool,
}

pub async fn run(args: FanoutArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.viewers > 0, "--viewers must be at least 1");
    anyhow::ensure!(args.rate > 0.0, "--rate must be positive");
    super::ensure_fd_budget(args.viewers + 8)?;
    let limit = (args.rate.ceil() as u64 * 2).max(1000).to_string();
    let defaults = [
        ("--chat-rate", limit.clone()),
        ("--chat-burst", limit.clone()),
        ("--command-rate", limit.clone()),
        ("--command-burst", limit),
        ("--max-connections", (args.viewers + 100).max(19_000).to_string()),
        // Every guest viewer signs in from this one address.
        ("--guest-ip-limit", (args.viewers + 100).max(600).to_string()),
    ];
    anyhow::ensure!(
        args.peer.peer.is_none() || args.viewer_kind == ViewerKind::Anon,
        "peers have no guest sign-in: use --viewer-kind anon with --peer"
    );
    let sut = if args.peer.peer.is_some() {
        ServerUnderTest::prepare_peer(&args.conn, &args.server, &args.peer).await?
    } else {
        ServerUnderTest::prepare(&args.conn, &args.server, &defaults).await?
    };
    let measured = measure(&args, &sut).await;
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
            &format!("fanout: {} viewers, {} msg/s: delivery latency per second", report.viewers_connected, args.rate),
            "seconds since publishing started",
            &report.timeline,
            true,
        )?;
    }
    Ok(if report.ok { ExitCode::SUCCESS } else { ExitCode::from(2) })
}

async fn measure(args: &FanoutArgs, sut: &ServerUnderTest) -> anyhow::Result<FanoutReport> {
    let n = args.viewers;
    let tag = super::run_tag();
    // A peer needs no set-up: any show id works and nobody signs in.
    let setup = match args.peer.peer {
        Some(_) => None,
        None => Some(super::setup_show(sut, &args.show, 1000, &tag).await?),
    };
    let (show_id, channel_name) = match &setup {
        Some(s) => (s.show_id.clone(), s.channel.clone()),
        None => (super::PEER_SHOW.to_owned(), format!("show:{}", super::PEER_SHOW)),
    };
    let sources = super::source_addrs(n, args.conn.sources, sut.target())?;
    let step_timeout = args.conn.step_timeout();

    // Tokens for guest viewers, fetched before anything is timed.
    let mut tokens: Vec<Option<String>> = vec![None; n];
    if let (ViewerKind::Guest, Some(setup)) = (args.viewer_kind, &setup) {
        eprintln!("signing in {n} guests");
        let api = &setup.api;
        let fetched: Vec<anyhow::Result<String>> = futures_util::stream::iter(0..n)
            .map(|i| async move { Ok(api.guest(&format!("Khách {i}")).await?.token) })
            .buffered(32)
            .collect()
            .await;
        for (slot, t) in tokens.iter_mut().zip(fetched) {
            *slot = Some(t?);
        }
    }
    let publisher_target = match &setup {
        Some(setup) => sut.target().with_token(Some(&setup.api.guest("Người đo tải").await?.token)),
        None => sut.target().clone(),
    };

    // Viewers.
    eprintln!("connecting {n} viewers to {channel_name} ({} in flight)", args.conn.concurrency);
    let tag: Arc<str> = Arc::from(tag.as_str());
    // About 40 points over the run, at least 100 ms each.
    let bucket = Duration::from_millis((args.duration_secs * 1000 / 40).max(100));
    let shared = Arc::new(Shared::new(tag.clone(), bucket));
    let (stop_tx, stop_rx) = watch::channel(false);
    let (out_tx, mut out_rx) = mpsc::unbounded_channel::<Outcome>();
    let channel: Arc<str> = Arc::from(channel_name.as_str());
    let targets: Vec<Target> = (0..n).map(|i| sut.target_for(i).with_token(tokens[i].as_deref())).collect();
    let targets = Arc::new(targets);
    let connected = Arc::new(AtomicU64::new(0));
    let connect_started = Instant::now();
    let spawner = super::spawn_staged(n, args.conn.concurrency as usize, {
        let (shared, sources, channel, targets) = (shared.clone(), sources.clone(), channel.clone(), targets.clone());
        move |i, permit| {
            viewer(
                i,
                targets[i].clone(),
                pick_source(&sources, i),
                channel.clone(),
                step_timeout,
                permit,
                out_tx.clone(),
                stop_rx.clone(),
                shared.clone(),
            )
        }
    });
    let progress = Progress::start({
        let connected = connected.clone();
        move |_| format!("{}/{n} viewers connected", connected.load(Ordering::Relaxed))
    });
    let mut connect_latency = Latencies::default();
    let mut connect_errors = Tally::default();
    for _ in 0..n {
        match out_rx.recv().await {
            Some(Ok(d)) => {
                connect_latency.record(d);
                connected.fetch_add(1, Ordering::Relaxed);
            }
            Some(Err(e)) => connect_errors.add(e.to_string()),
            None => {
                connect_errors.add("viewer task ended without an outcome");
            }
        }
    }
    drop(progress);
    let connect_secs = connect_started.elapsed().as_secs_f64();
    let viewers_connected = connected.load(Ordering::Relaxed);
    let mut tasks = spawner.await?;
    eprintln!("{viewers_connected}/{n} viewers connected in {connect_secs:.2} s");
    anyhow::ensure!(viewers_connected > 0, "no viewer connected: {}", connect_errors.describe(3));
    sleep(Duration::from_secs(1)).await;

    // Publishing.
    eprintln!("publishing {} msg/s for {} s", args.rate, args.duration_secs);
    let cpu_before = sut.cpu_micros();
    let own_cpu_before = procfs::cpu_micros(Proc::Current).ok();
    let phase_started = Instant::now();
    shared.publish_start_us.store(super::unix_micros(), Ordering::Relaxed);
    let counters = Arc::new(PublisherCounters::default());
    let (pub_stop_tx, pub_stop_rx) = watch::channel(false);
    let progress = Progress::start({
        let (counters, shared) = (counters.clone(), shared.clone());
        move |_| {
            format!(
                "sent {}, acked {}, deliveries {}",
                counters.sent.load(Ordering::Relaxed),
                counters.acked.load(Ordering::Relaxed),
                shared.deliveries.load(Ordering::Relaxed)
            )
        }
    });
    let publisher = publisher::publish(
        publisher_target,
        format!("show:{show_id}"),
        args.rate,
        Some(Duration::from_secs(args.duration_secs)),
        tag.clone(),
        pub_stop_rx,
        counters.clone(),
        step_timeout,
    )
    .await;
    drop(pub_stop_tx);
    let publisher = match publisher {
        Ok(p) => p,
        Err(e) => {
            let _ = stop_tx.send(true);
            return Err(e);
        }
    };
    let expected = viewers_connected * publisher.acked;
    let _ = timeout(Duration::from_secs(args.drain_secs), async {
        while shared.deliveries.load(Ordering::Relaxed) < expected {
            sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    let wall = phase_started.elapsed();
    let cpu_after = sut.cpu_micros();
    let own_cpu_after = procfs::cpu_micros(Proc::Current).ok();
    drop(progress);

    let _ = stop_tx.send(true);
    if timeout(CLOSE_WAIT + Duration::from_secs(10), async { while tasks.join_next().await.is_some() {} })
        .await
        .is_err()
    {
        tasks.shutdown().await;
    }

    let mut latency = Latencies::default();
    let mut timeline = Timeline::new(bucket);
    for shard in &shared.shards {
        let s = shard.lock().expect("lock");
        latency.merge(&s.latency);
        timeline.merge(&s.timeline);
    }
    let deliveries = shared.deliveries.load(Ordering::Relaxed);
    let start_us = shared.publish_start_us.load(Ordering::Relaxed);
    let window = Duration::from_micros(shared.last_delivery_us.load(Ordering::Relaxed).saturating_sub(start_us));
    let per_viewer = shared.per_viewer.lock().expect("lock").clone();
    let viewers_with_losses = per_viewer.iter().filter(|d| **d < publisher.acked).count() as u64
        + viewers_connected.saturating_sub(per_viewer.len() as u64);
    let server_cpu = cpu_before.zip(cpu_after).map(|(b, a)| a.saturating_sub(b));
    let dropped = shared.dropped.lock().expect("lock").clone();
    let lost = expected.saturating_sub(deliveries);
    let offset_gaps = shared.offset_gaps.load(Ordering::Relaxed);
    let offset_repeats = shared.offset_repeats.load(Ordering::Relaxed);
    let out_of_order = shared.out_of_order.load(Ordering::Relaxed);
    let ok = viewers_connected == n as u64
        && lost == 0
        && offset_gaps == 0
        && offset_repeats == 0
        && out_of_order == 0
        && dropped.total() == 0
        && publisher.acked == publisher.sent
        && publisher.acked > 0;
    Ok(FanoutReport {
        scenario: "fanout",
        peer: args.peer.peer,
        urls: sut.targets.iter().map(|t| t.url.clone()).collect(),
        server_args: sut.server_args.clone(),
        show_id,
        viewer_kind: args.viewer_kind,
        viewers_requested: n,
        viewers_connected,
        connect_errors,
        connect_secs,
        connect_latency: connect_latency.summary(),
        expected_deliveries: expected,
        deliveries,
        lost,
        viewers_with_losses,
        offset_gaps,
        offset_repeats,
        out_of_order,
        unparsed_frames: shared.unparsed.load(Ordering::Relaxed),
        dropped,
        delivery_latency: latency.summary(),
        deliveries_per_sec: deliveries as f64 / window.as_secs_f64().max(1e-9),
        delivery_window_secs: window.as_secs_f64(),
        server_cpu_secs: server_cpu.map(|c| c as f64 / 1e6),
        server_cpu_us_per_delivery: server_cpu.filter(|_| deliveries > 0).map(|c| c as f64 / deliveries as f64),
        server_cores_busy: server_cpu.map(|c| c as f64 / 1e6 / wall.as_secs_f64().max(1e-9)),
        loadtest_cpu_secs: own_cpu_before.zip(own_cpu_after).map(|(b, a)| a.saturating_sub(b) as f64 / 1e6),
        timeline: timeline.points(),
        publisher,
        server_exit: None,
        ok,
    })
}

#[allow(clippy::print_stdout, reason = "the summary is the program's output")]
fn print_summary(r: &FanoutReport) {
    if let Some(peer) = r.peer {
        println!("peer: {}", peer.name());
    }
    println!(
        "fanout: {}/{} {:?} viewers on show {} (connected in {:.2} s), {} msg/s for {:.1} s",
        r.viewers_connected,
        r.viewers_requested,
        r.viewer_kind,
        r.show_id,
        r.connect_secs,
        r.publisher.rate_per_sec,
        r.publisher.seconds
    );
    if r.connect_errors.total() > 0 {
        println!("  connect errors: {}", r.connect_errors.describe(5));
    }
    println!(
        "  publisher: sent {}, acked {}, errors {}, unanswered {}, max send lag {:.1} ms",
        r.publisher.sent,
        r.publisher.acked,
        r.publisher.errors.describe(3),
        r.publisher.unanswered,
        r.publisher.max_send_lag_ms
    );
    if let Some(l) = &r.publisher.ack_latency {
        println!("  chat.send ack latency: {}", l.line());
    }
    println!(
        "  deliveries {}/{} expected ({} lost, {} viewers with losses); offset gaps {}, repeats {}, out of order {}",
        r.deliveries,
        r.expected_deliveries,
        r.lost,
        r.viewers_with_losses,
        r.offset_gaps,
        r.offset_repeats,
        r.out_of_order
    );
    if r.dropped.total() > 0 {
        println!("  dropped viewers: {}", r.dropped.describe(5));
    }
    if let Some(l) = &r.delivery_latency {
        println!("  delivery latency: {}", l.line());
    }
    println!("  deliveries/s: {:.0} (over {:.2} s)", r.deliveries_per_sec, r.delivery_window_secs);
    if let (Some(cpu), Some(per), Some(busy)) = (r.server_cpu_secs, r.server_cpu_us_per_delivery, r.server_cores_busy) {
        println!("  server CPU: {cpu:.2} s ({busy:.2} cores busy), {per:.2} µs per delivery");
    }
    if let Some(own) = r.loadtest_cpu_secs {
        println!("  loadtest CPU: {own:.2} s (it shares the machine with the server)");
    }
    if let Some(exit) = &r.server_exit {
        println!("  spawned server stopped: {exit}");
    }
    println!("  result: {}", if r.ok { "OK" } else { "FAILED" });
}
