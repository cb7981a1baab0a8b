//! `join-storm`: N viewers join one live show as fast as `--concurrency`
//! allows while a publisher keeps chat flowing on it. Measured: joins per
//! second (overall, per second, and per 1,000 connections, to see whether the
//! rate falls as the server fills up) and join-to-snapshot latency (TCP
//! connect to the subscribe reply). Checked: every viewer joins, and from its
//! snapshot's offset on receives every event, in order, up to the channel's
//! final offset.

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Args;
use serde::Serialize;
use tokio::sync::{OwnedSemaphorePermit, mpsc, watch};
use tokio::time::{sleep, timeout};

use super::publisher::{self, PublisherCounters, PublisherReport};
use super::viewer::{self, Ended, ViewerState};
use super::{ConnArgs, Progress, ServerArgs, ServerUnderTest, ShowArgs, pick_source};
use crate::client::{Client, ClientError, Target, close_stream};
use crate::procfs;
use crate::stats::{Latencies, LatencySummary, Tally, Timeline, TimelinePoint};

const CLOSE_WAIT: Duration = Duration::from_secs(3);

#[derive(Debug, Clone, Args)]
pub struct JoinStormArgs {
    /// Viewers that join.
    #[arg(long, default_value_t = 5000)]
    pub viewers: usize,

    /// Chat messages a second published on the show during the storm.
    #[arg(long, default_value_t = 10.0)]
    pub rate: f64,

    /// Seconds to keep everyone connected (and publishing) after the last join.
    #[arg(long, default_value_t = 2)]
    pub hold_secs: u64,

    /// Write the report as JSON to this file.
    #[arg(long, value_name = "PATH")]
    pub json: Option<PathBuf>,

    /// Write an SVG chart of join latency and joins per second over the storm.
    #[arg(long, value_name = "PATH")]
    pub chart: Option<PathBuf>,

    #[command(flatten)]
    pub conn: ConnArgs,

    #[command(flatten)]
    pub server: ServerArgs,

    #[command(flatten)]
    pub show: ShowArgs,
}

/// Aggregated viewer results.
#[derive(Debug, Default)]
struct Totals {
    chats: u64,
    gaps: u64,
    repeats: u64,
    last_offs: Vec<u64>,
    dropped: Tally,
}

type Outcome = Result<Duration, ClientError>;

#[allow(clippy::too_many_arguments, reason = "plain task plumbing")]
async fn join(
    target: Target,
    source: Option<IpAddr>,
    channel: Arc<str>,
    tag: Arc<str>,
    step_timeout: Duration,
    permit: OwnedSemaphorePermit,
    outcomes: mpsc::UnboundedSender<Outcome>,
    mut stop: watch::Receiver<bool>,
    totals: Arc<Mutex<Totals>>,
) {
    let started = Instant::now();
    let established = async {
        let mut client = Client::connect(&target, source, step_timeout).await?;
        let data = client.subscribe(&channel, step_timeout).await?;
        Ok::<_, ClientError>((client, ViewerState::from_reply(&data)))
    }
    .await;
    let latency = started.elapsed();
    drop(permit);
    let (client, mut state) = match established {
        Ok(v) => {
            let _ = outcomes.send(Ok(latency));
            v
        }
        Err(e) => {
            let _ = outcomes.send(Err(e));
            return;
        }
    };
    drop(outcomes);
    let mut ws = client.into_stream();
    let ended = viewer::follow(&mut ws, &mut state, &tag, &mut stop, |_| {}).await;
    if ended == Ended::Signalled {
        close_stream(&mut ws, CLOSE_WAIT).await;
    }
    let mut t = totals.lock().expect("lock");
    t.chats += state.chats;
    t.gaps += state.gaps;
    t.repeats += state.repeats;
    t.last_offs.push(state.last_off);
    if let Ended::Dropped(why) = ended {
        t.dropped.add(why);
    }
}

/// Joins per second and latency for each 1,000 connections, in completion order.
#[derive(Debug, Clone, Serialize)]
pub struct Slice {
    /// Joins completed up to the end of this slice.
    pub joined_upto: usize,
    pub joins_per_sec: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

/// The `join-storm` report.
#[derive(Debug, Clone, Serialize)]
pub struct JoinStormReport {
    pub scenario: &'static str,
    pub urls: Vec<String>,
    pub server_args: Vec<String>,
    pub show_id: String,
    pub viewers_requested: usize,
    pub joined: u64,
    pub join_errors: Tally,
    pub concurrency: u32,
    pub join_secs: f64,
    pub joins_per_sec: f64,
    pub join_latency: Option<LatencySummary>,
    pub per_thousand: Vec<Slice>,
    pub listen_overflows: Option<u64>,
    pub publisher: PublisherReport,
    pub final_offset: u64,
    pub chat_deliveries: u64,
    pub offset_gaps: u64,
    pub offset_repeats: u64,
    /// Viewers whose last offset is below the channel's final offset.
    pub viewers_behind: u64,
    pub dropped: Tally,
    pub server_cpu_secs: Option<f64>,
    pub timeline: Vec<TimelinePoint>,
    pub server_exit: Option<String>,
    pub ok: bool,
}

pub async fn run(args: JoinStormArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.viewers > 0, "--viewers must be at least 1");
    super::ensure_fd_budget(args.viewers + 8)?;
    let limit = (args.rate.ceil() as u64 * 2).max(1000).to_string();
    let defaults = [
        ("--chat-rate", limit.clone()),
        ("--chat-burst", limit.clone()),
        ("--command-rate", limit.clone()),
        ("--command-burst", limit),
        ("--max-connections", (args.viewers + 100).max(19_000).to_string()),
    ];
    let sut = ServerUnderTest::prepare(&args.conn, &args.server, &defaults).await?;
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
            &format!("join-storm: {} viewers, join-to-snapshot latency and joins/s", report.viewers_requested),
            "seconds since the storm started",
            &report.timeline,
            true,
        )?;
    }
    Ok(if report.ok { ExitCode::SUCCESS } else { ExitCode::from(2) })
}

/// The channel's latest offset, from a fresh anonymous subscription.
pub async fn channel_offset(target: &Target, channel: &str, step_timeout: Duration) -> anyhow::Result<u64> {
    let mut client = Client::connect(&target.with_token(None), None, step_timeout).await?;
    let data = client.subscribe(channel, step_timeout).await?;
    let mut ws = client.into_stream();
    close_stream(&mut ws, Duration::from_secs(2)).await;
    Ok(data["off"].as_u64().unwrap_or(0))
}

async fn measure(args: &JoinStormArgs, sut: &ServerUnderTest) -> anyhow::Result<JoinStormReport> {
    let n = args.viewers;
    let tag = super::run_tag();
    let setup = super::setup_show(sut, &args.show, 1000, &tag).await?;
    let sources = super::source_addrs(n, args.conn.sources, sut.target())?;
    let step_timeout = args.conn.step_timeout();
    let publisher_account = setup.api.guest("Người đo tải").await?;
    let tag: Arc<str> = Arc::from(tag.as_str());

    // The show broadcasts throughout.
    let counters = Arc::new(PublisherCounters::default());
    let (pub_stop_tx, pub_stop_rx) = watch::channel(false);
    let publisher = tokio::spawn(publisher::publish(
        sut.target().with_token(Some(&publisher_account.token)),
        setup.channel.clone(),
        args.rate,
        None,
        tag.clone(),
        pub_stop_rx,
        counters.clone(),
        step_timeout,
    ));
    sleep(Duration::from_secs(1)).await;

    eprintln!("{n} viewers joining {} ({} in flight)", setup.channel, args.conn.concurrency);
    let totals = Arc::new(Mutex::new(Totals::default()));
    let (stop_tx, stop_rx) = watch::channel(false);
    let (out_tx, mut out_rx) = mpsc::unbounded_channel::<Outcome>();
    let channel: Arc<str> = Arc::from(setup.channel.as_str());
    let targets: Arc<Vec<Target>> = Arc::new(sut.targets.iter().map(|t| t.with_token(None)).collect());
    let joined = Arc::new(AtomicU64::new(0));
    let overflows_before = procfs::tcp_ext_counter("ListenOverflows");
    let cpu_before = sut.cpu_micros();
    let started = Instant::now();
    let spawner = super::spawn_staged(n, args.conn.concurrency as usize, {
        let (totals, sources, channel, targets, tag) =
            (totals.clone(), sources.clone(), channel.clone(), targets.clone(), tag.clone());
        move |i, permit| {
            join(
                targets[i % targets.len()].clone(),
                pick_source(&sources, i),
                channel.clone(),
                tag.clone(),
                step_timeout,
                permit,
                out_tx.clone(),
                stop_rx.clone(),
                totals.clone(),
            )
        }
    });
    let progress = Progress::start({
        let (joined, counters) = (joined.clone(), counters.clone());
        move |_| {
            format!(
                "{}/{n} joined; chat sent {}",
                joined.load(Ordering::Relaxed),
                counters.sent.load(Ordering::Relaxed)
            )
        }
    });
    let mut latency = Latencies::default();
    let mut errors = Tally::default();
    let mut done_at: Vec<(Duration, Duration)> = Vec::with_capacity(n);
    for _ in 0..n {
        match out_rx.recv().await {
            Some(Ok(l)) => {
                let at = started.elapsed();
                latency.record(l);
                done_at.push((at, l));
                joined.fetch_add(1, Ordering::Relaxed);
            }
            Some(Err(e)) => errors.add(e.to_string()),
            None => errors.add("viewer task ended without an outcome"),
        }
    }
    drop(progress);
    let join_time = started.elapsed();
    let cpu_after = sut.cpu_micros();
    let listen_overflows =
        procfs::tcp_ext_counter("ListenOverflows").zip(overflows_before).map(|(a, b)| a.saturating_sub(b));
    let joined = joined.load(Ordering::Relaxed);
    let mut tasks = spawner.await?;
    eprintln!("{joined}/{n} joined in {:.2} s; holding {} s", join_time.as_secs_f64(), args.hold_secs);

    sleep(Duration::from_secs(args.hold_secs)).await;
    let _ = pub_stop_tx.send(true);
    let publisher = publisher.await??;
    // Let the last events reach everyone, then read the channel's final offset.
    sleep(Duration::from_secs(1)).await;
    let final_offset = channel_offset(sut.target(), &setup.channel, step_timeout).await?;
    sleep(Duration::from_millis(500)).await;
    let _ = stop_tx.send(true);
    if timeout(CLOSE_WAIT + Duration::from_secs(10), async { while tasks.join_next().await.is_some() {} })
        .await
        .is_err()
    {
        tasks.shutdown().await;
    }

    let mut per_thousand = Vec::new();
    let mut prev = Duration::ZERO;
    for (k, chunk) in done_at.chunks(1000).enumerate() {
        let end = chunk.last().map_or(prev, |c| c.0);
        let mut h = Latencies::default();
        for (_, l) in chunk {
            h.record(*l);
        }
        let s = h.summary();
        per_thousand.push(Slice {
            joined_upto: k * 1000 + chunk.len(),
            joins_per_sec: chunk.len() as f64 / (end - prev).as_secs_f64().max(1e-9),
            p50_ms: s.map_or(0.0, |s| s.p50_ms),
            p99_ms: s.map_or(0.0, |s| s.p99_ms),
        });
        prev = end;
    }
    let totals = std::mem::take(&mut *totals.lock().expect("lock"));
    let viewers_behind = totals.last_offs.iter().filter(|o| **o < final_offset).count() as u64;
    let ok = joined == n as u64
        && totals.gaps == 0
        && totals.repeats == 0
        && viewers_behind == 0
        && totals.dropped.total() == 0
        && publisher.errors.total() == 0;
    Ok(JoinStormReport {
        scenario: "join-storm",
        urls: sut.targets.iter().map(|t| t.url.clone()).collect(),
        server_args: sut.server_args.clone(),
        show_id: setup.show_id.clone(),
        viewers_requested: n,
        joined,
        join_errors: errors,
        concurrency: args.conn.concurrency,
        join_secs: join_time.as_secs_f64(),
        joins_per_sec: joined as f64 / join_time.as_secs_f64().max(1e-9),
        join_latency: latency.summary(),
        per_thousand,
        listen_overflows,
        publisher,
        final_offset,
        chat_deliveries: totals.chats,
        offset_gaps: totals.gaps,
        offset_repeats: totals.repeats,
        viewers_behind,
        dropped: totals.dropped,
        server_cpu_secs: cpu_before.zip(cpu_after).map(|(b, a)| a.saturating_sub(b) as f64 / 1e6),
        timeline: Timeline::from_samples(&done_at, 40).points(),
        server_exit: None,
        ok,
    })
}

#[allow(clippy::print_stdout, reason = "the summary is the program's output")]
fn print_summary(r: &JoinStormReport) {
    println!(
        "join-storm: {}/{} viewers joined show {} in {:.2} s ({:.0} joins/s, {} in flight)",
        r.joined, r.viewers_requested, r.show_id, r.join_secs, r.joins_per_sec, r.concurrency
    );
    if r.join_errors.total() > 0 {
        println!("  join errors: {}", r.join_errors.describe(5));
    }
    if let Some(l) = &r.join_latency {
        println!("  join-to-snapshot latency: {}", l.line());
    }
    for s in &r.per_thousand {
        println!(
            "    up to {:>6} joined: {:>7.0} joins/s, p50 {:.1} ms, p99 {:.1} ms",
            s.joined_upto, s.joins_per_sec, s.p50_ms, s.p99_ms
        );
    }
    if let Some(n) = r.listen_overflows.filter(|n| *n > 0) {
        println!("  kernel ListenOverflows +{n} (accept queue full; those connects waited for a SYN retransmit)");
    }
    println!(
        "  chat during the storm: sent {}, acked {}, errors {}; deliveries {}",
        r.publisher.sent,
        r.publisher.acked,
        r.publisher.errors.describe(3),
        r.chat_deliveries
    );
    println!(
        "  offsets: final {}, gaps {}, repeats {}, viewers behind {}; dropped {}",
        r.final_offset,
        r.offset_gaps,
        r.offset_repeats,
        r.viewers_behind,
        r.dropped.describe(4)
    );
    if let Some(cpu) = r.server_cpu_secs {
        println!("  server CPU while joining: {cpu:.2} s");
    }
    if let Some(exit) = &r.server_exit {
        println!("  spawned server stopped: {exit}");
    }
    println!("  result: {}", if r.ok { "OK" } else { "FAILED" });
}
