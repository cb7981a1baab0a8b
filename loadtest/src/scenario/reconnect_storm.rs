//! `reconnect-storm`: N viewers follow a live show while a publisher keeps chat
//! flowing; at one moment every viewer drops its connection, waits a random
//! jitter, and reconnects (retrying failures with exponential backoff),
//! subscribing with `since {off, epoch}` of the last event it saw.
//!
//! Measured: drop-to-resubscribed time per viewer and until all are back, and
//! the share of viewers whose subscribe reply `recovered` every missed event.
//! Checked: missed events plus the live events afterwards continue each
//! viewer's offsets without a gap or repeat, up to the channel's final offset.

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Args;
use serde::Serialize;
use serde_json::{Map, json};
use tokio::sync::{OwnedSemaphorePermit, mpsc, watch};
use tokio::time::{sleep, timeout};

use super::join_storm::channel_offset;
use super::publisher::{self, PublisherCounters, PublisherReport};
use super::viewer::{self, Ended, ViewerState};
use super::{ConnArgs, Progress, ServerArgs, ServerUnderTest, ShowArgs, pick_source};
use crate::client::{Client, ClientError, Target, close_stream};
use crate::stats::{Latencies, LatencySummary, SplitMix, Tally, Timeline, TimelinePoint};

const CLOSE_WAIT: Duration = Duration::from_secs(3);

#[derive(Debug, Clone, Args)]
pub struct ReconnectStormArgs {
    /// Viewers following the show.
    #[arg(long, default_value_t = 2000)]
    pub viewers: usize,

    /// Chat messages a second published throughout.
    #[arg(long, default_value_t = 20.0)]
    pub rate: f64,

    /// Seconds of publishing between all viewers being connected and the drop.
    #[arg(long, default_value_t = 2)]
    pub before_secs: u64,

    /// Each viewer waits a uniformly random 0..J ms after the drop before reconnecting.
    #[arg(long, default_value_t = 2000)]
    pub jitter_ms: u64,

    /// First backoff after a failed reconnect, ms (doubled per failure, with jitter).
    #[arg(long, default_value_t = 250)]
    pub backoff_ms: u64,

    /// Largest backoff, ms.
    #[arg(long, default_value_t = 5000)]
    pub max_backoff_ms: u64,

    /// Reconnect attempts per viewer before giving up.
    #[arg(long, default_value_t = 20)]
    pub max_attempts: u32,

    /// Seconds of publishing after every viewer is back.
    #[arg(long, default_value_t = 2)]
    pub after_secs: u64,

    /// Write the report as JSON to this file.
    #[arg(long, value_name = "PATH")]
    pub json: Option<PathBuf>,

    /// Write an SVG chart of drop-to-resubscribed time over the storm.
    #[arg(long, value_name = "PATH")]
    pub chart: Option<PathBuf>,

    #[command(flatten)]
    pub conn: ConnArgs,

    #[command(flatten)]
    pub server: ServerArgs,

    #[command(flatten)]
    pub show: ShowArgs,
}

/// One viewer's reconnect.
#[derive(Debug, Clone)]
struct Reconnect {
    /// Since the drop signal.
    done_at: Duration,
    /// From its own drop to the subscribe reply.
    latency: Duration,
    attempts: u32,
    recovered: bool,
    missed: u64,
    /// Failure of the last attempt when it gave up.
    failed: Option<String>,
}

#[derive(Debug, Default)]
struct Totals {
    chats: u64,
    gaps: u64,
    repeats: u64,
    last_offs: Vec<u64>,
    dropped_before: Tally,
    dropped_after: Tally,
}

#[derive(Debug, Clone)]
struct Plan {
    channel: Arc<str>,
    tag: Arc<str>,
    step_timeout: Duration,
    jitter_ms: u64,
    backoff_ms: u64,
    max_backoff_ms: u64,
    max_attempts: u32,
}

/// Connects and subscribes, with `since` when given; returns the client and the reply data.
async fn subscribe(
    target: &Target,
    source: Option<IpAddr>,
    plan: &Plan,
    since: Option<&ViewerState>,
) -> Result<(Client, serde_json::Value), ClientError> {
    let mut client = Client::connect(target, source, plan.step_timeout).await?;
    let mut fields = Map::new();
    fields.insert("ch".into(), json!(&*plan.channel));
    if let Some(s) = since {
        fields.insert("since".into(), json!({ "off": s.last_off, "epoch": s.epoch }));
    }
    let data = client.command("subscribe", fields, plan.step_timeout).await?;
    Ok((client, data))
}

#[allow(clippy::too_many_arguments, reason = "plain task plumbing")]
async fn viewer_task(
    index: usize,
    target: Target,
    source: Option<IpAddr>,
    plan: Arc<Plan>,
    permit: OwnedSemaphorePermit,
    connected: mpsc::UnboundedSender<Result<(), ClientError>>,
    reconnects: mpsc::UnboundedSender<Reconnect>,
    mut drop_signal: watch::Receiver<Option<Instant>>,
    mut stop: watch::Receiver<bool>,
    totals: Arc<Mutex<Totals>>,
) {
    let first = subscribe(&target, source, &plan, None).await;
    drop(permit);
    let (client, data) = match first {
        Ok(v) => {
            let _ = connected.send(Ok(()));
            v
        }
        Err(e) => {
            let _ = connected.send(Err(e));
            return;
        }
    };
    drop(connected);
    let mut state = ViewerState::from_reply(&data);
    let mut ws = client.into_stream();

    // Follow until the drop signal.
    let (dropped_tx, mut dropped_rx) = watch::channel(false);
    let forward = tokio::spawn(async move {
        let _ = drop_signal.wait_for(Option::is_some).await;
        let _ = dropped_tx.send(true);
        *drop_signal.borrow()
    });
    let ended = viewer::follow(&mut ws, &mut state, &plan.tag, &mut dropped_rx, |_| {}).await;
    let drop_at = forward.await.ok().flatten().unwrap_or_else(Instant::now);
    if let Ended::Dropped(why) = &ended {
        totals.lock().expect("lock").dropped_before.add(why.clone());
    }
    // The drop: the socket goes away without a close handshake.
    drop(ws);
    let own_drop = Instant::now();

    let mut rng = SplitMix::new(index as u64 ^ super::unix_micros().rotate_left(17));
    sleep(Duration::from_millis(rng.below(plan.jitter_ms + 1))).await;
    let mut backoff = plan.backoff_ms.max(1);
    let mut attempts = 0;
    let resumed = loop {
        attempts += 1;
        match subscribe(&target, source, &plan, Some(&state)).await {
            Ok(v) => break Ok(v),
            Err(e) if attempts >= plan.max_attempts => break Err(e),
            Err(_) => {
                sleep(Duration::from_millis(backoff / 2 + rng.below(backoff / 2 + 1))).await;
                backoff = (backoff * 2).min(plan.max_backoff_ms.max(1));
            }
        }
    };
    let latency = own_drop.elapsed();
    let (client, data) = match resumed {
        Ok(v) => v,
        Err(e) => {
            let _ = reconnects.send(Reconnect {
                done_at: drop_at.elapsed(),
                latency,
                attempts,
                recovered: false,
                missed: 0,
                failed: Some(e.to_string()),
            });
            return;
        }
    };
    let recovered = data["recovered"].as_bool().unwrap_or(false) && data["epoch"] == state.epoch.as_str();
    let missed = data["missed"].as_array().cloned().unwrap_or_default();
    let reply_off = data["off"].as_u64().unwrap_or(0);
    if recovered {
        for ev in &missed {
            if let Some(off) = ev["off"].as_u64() {
                state.offset(off);
            }
            if ev["ev"] == "chat"
                && ev["data"]["text"].as_str().and_then(|t| publisher::parse_chat_text(t, &plan.tag)).is_some()
            {
                state.chats += 1;
            }
        }
        if reply_off > state.last_off {
            state.gaps += reply_off - state.last_off;
            state.last_off = reply_off;
        }
    } else {
        // Rebuilt from the snapshot: continue from its offset.
        state = ViewerState {
            chats: state.chats,
            gaps: state.gaps,
            repeats: state.repeats,
            ..ViewerState::from_reply(&data)
        };
    }
    let _ = reconnects.send(Reconnect {
        done_at: drop_at.elapsed(),
        latency,
        attempts,
        recovered,
        missed: missed.len() as u64,
        failed: None,
    });
    drop(reconnects);

    let mut ws = client.into_stream();
    let ended = viewer::follow(&mut ws, &mut state, &plan.tag, &mut stop, |_| {}).await;
    if ended == Ended::Signalled {
        close_stream(&mut ws, CLOSE_WAIT).await;
    }
    let mut t = totals.lock().expect("lock");
    t.chats += state.chats;
    t.gaps += state.gaps;
    t.repeats += state.repeats;
    t.last_offs.push(state.last_off);
    if let Ended::Dropped(why) = ended {
        t.dropped_after.add(why);
    }
}

/// The `reconnect-storm` report.
#[derive(Debug, Clone, Serialize)]
pub struct ReconnectStormReport {
    pub scenario: &'static str,
    pub urls: Vec<String>,
    pub server_args: Vec<String>,
    pub show_id: String,
    pub viewers_requested: usize,
    pub connected: u64,
    pub connect_errors: Tally,
    pub jitter_ms: u64,
    pub reconnected: u64,
    pub gave_up: Tally,
    /// Viewers whose subscribe reply recovered every missed event, and their share.
    pub recovered: u64,
    pub recovered_share: f64,
    pub retries: u64,
    pub missed_events_replayed: u64,
    /// From each viewer's drop to its subscribe reply (includes the jitter).
    pub reconnect_latency: Option<LatencySummary>,
    /// From the drop signal until the last viewer was back.
    pub all_back_secs: f64,
    pub publisher: PublisherReport,
    pub final_offset: u64,
    pub offset_gaps: u64,
    pub offset_repeats: u64,
    pub viewers_behind: u64,
    pub dropped_before_signal: Tally,
    pub dropped_after_reconnect: Tally,
    pub server_cpu_secs: Option<f64>,
    pub timeline: Vec<TimelinePoint>,
    pub server_exit: Option<String>,
    pub ok: bool,
}

pub async fn run(args: ReconnectStormArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.viewers > 0, "--viewers must be at least 1");
    anyhow::ensure!(args.max_attempts > 0, "--max-attempts must be at least 1");
    // Dropped sockets may linger in the server for a moment while their replacements connect.
    super::ensure_fd_budget(args.viewers * 2 + 8)?;
    let limit = (args.rate.ceil() as u64 * 2).max(1000).to_string();
    let defaults = [
        ("--chat-rate", limit.clone()),
        ("--chat-burst", limit.clone()),
        ("--command-rate", limit.clone()),
        ("--command-burst", limit),
        ("--max-connections", (args.viewers * 2 + 100).max(19_000).to_string()),
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
            &format!(
                "reconnect-storm: {} viewers, jitter {} ms: drop-to-resubscribed time",
                report.viewers_requested, report.jitter_ms
            ),
            "seconds since the drop",
            &report.timeline,
            true,
        )?;
    }
    Ok(if report.ok { ExitCode::SUCCESS } else { ExitCode::from(2) })
}

async fn measure(args: &ReconnectStormArgs, sut: &ServerUnderTest) -> anyhow::Result<ReconnectStormReport> {
    let n = args.viewers;
    let tag = super::run_tag();
    let setup = super::setup_show(sut, &args.show, 1000, &tag).await?;
    let sources = super::source_addrs(n * 2, args.conn.sources, sut.target())?;
    let step_timeout = args.conn.step_timeout();
    let publisher_account = setup.api.guest("Người đo tải").await?;
    let plan = Arc::new(Plan {
        channel: Arc::from(setup.channel.as_str()),
        tag: Arc::from(tag.as_str()),
        step_timeout,
        jitter_ms: args.jitter_ms,
        backoff_ms: args.backoff_ms,
        max_backoff_ms: args.max_backoff_ms,
        max_attempts: args.max_attempts,
    });

    eprintln!("connecting {n} viewers to {}", setup.channel);
    let totals = Arc::new(Mutex::new(Totals::default()));
    let (drop_tx, drop_rx) = watch::channel::<Option<Instant>>(None);
    let (stop_tx, stop_rx) = watch::channel(false);
    let (conn_tx, mut conn_rx) = mpsc::unbounded_channel();
    let (rec_tx, mut rec_rx) = mpsc::unbounded_channel();
    let targets: Arc<Vec<Target>> = Arc::new(sut.targets.iter().map(|t| t.with_token(None)).collect());
    let spawner = super::spawn_staged(n, args.conn.concurrency as usize, {
        let (totals, sources, plan, targets) = (totals.clone(), sources.clone(), plan.clone(), targets.clone());
        move |i, permit| {
            viewer_task(
                i,
                targets[i % targets.len()].clone(),
                pick_source(&sources, i),
                plan.clone(),
                permit,
                conn_tx.clone(),
                rec_tx.clone(),
                drop_rx.clone(),
                stop_rx.clone(),
                totals.clone(),
            )
        }
    });
    let connected = Arc::new(AtomicU64::new(0));
    let progress = Progress::start({
        let connected = connected.clone();
        move |_| format!("{}/{n} viewers connected", connected.load(Ordering::Relaxed))
    });
    let mut connect_errors = Tally::default();
    for _ in 0..n {
        match conn_rx.recv().await {
            Some(Ok(())) => {
                connected.fetch_add(1, Ordering::Relaxed);
            }
            Some(Err(e)) => connect_errors.add(e.to_string()),
            None => connect_errors.add("viewer task ended without an outcome"),
        }
    }
    drop(progress);
    let connected = connected.load(Ordering::Relaxed);
    let mut tasks = spawner.await?;
    eprintln!("{connected}/{n} viewers connected; publishing {} msg/s", args.rate);
    anyhow::ensure!(connected > 0, "no viewer connected: {}", connect_errors.describe(3));

    let counters = Arc::new(PublisherCounters::default());
    let (pub_stop_tx, pub_stop_rx) = watch::channel(false);
    let publisher = tokio::spawn(publisher::publish(
        sut.target().with_token(Some(&publisher_account.token)),
        setup.channel.clone(),
        args.rate,
        None,
        plan.tag.clone(),
        pub_stop_rx,
        counters.clone(),
        step_timeout,
    ));
    sleep(Duration::from_secs(args.before_secs)).await;

    eprintln!("dropping all {connected} viewers; they reconnect within {} ms of jitter", args.jitter_ms);
    let cpu_before = sut.cpu_micros();
    let drop_at = Instant::now();
    let _ = drop_tx.send(Some(drop_at));
    let back = Arc::new(AtomicU64::new(0));
    let progress = Progress::start({
        let back = back.clone();
        move |_| format!("{}/{connected} viewers back", back.load(Ordering::Relaxed))
    });
    let mut results = Vec::with_capacity(n);
    while (results.len() as u64) < connected {
        match rec_rx.recv().await {
            Some(r) => {
                results.push(r);
                back.fetch_add(1, Ordering::Relaxed);
            }
            None => break,
        }
    }
    drop(progress);
    let all_back = drop_at.elapsed();
    let cpu_after = sut.cpu_micros();
    eprintln!("all back in {:.2} s; publishing {} s more", all_back.as_secs_f64(), args.after_secs);
    sleep(Duration::from_secs(args.after_secs)).await;
    let _ = pub_stop_tx.send(true);
    let publisher = publisher.await??;
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

    let mut latency = Latencies::default();
    let mut samples = Vec::with_capacity(results.len());
    let mut gave_up = Tally::default();
    let (mut reconnected, mut recovered, mut retries, mut missed) = (0u64, 0u64, 0u64, 0u64);
    for r in &results {
        retries += u64::from(r.attempts.saturating_sub(1));
        if let Some(why) = &r.failed {
            gave_up.add(why.clone());
            continue;
        }
        reconnected += 1;
        recovered += u64::from(r.recovered);
        missed += r.missed;
        latency.record(r.latency);
        samples.push((r.done_at, r.latency));
    }
    let totals = std::mem::take(&mut *totals.lock().expect("lock"));
    let viewers_behind = totals.last_offs.iter().filter(|o| **o < final_offset).count() as u64;
    let ok = connected == n as u64
        && reconnected == connected
        && recovered == reconnected
        && totals.gaps == 0
        && totals.repeats == 0
        && viewers_behind == 0
        && totals.dropped_after.total() == 0
        && publisher.errors.total() == 0;
    Ok(ReconnectStormReport {
        scenario: "reconnect-storm",
        urls: sut.targets.iter().map(|t| t.url.clone()).collect(),
        server_args: sut.server_args.clone(),
        show_id: setup.show_id.clone(),
        viewers_requested: n,
        connected,
        connect_errors,
        jitter_ms: args.jitter_ms,
        reconnected,
        gave_up,
        recovered,
        recovered_share: recovered as f64 / connected.max(1) as f64,
        retries,
        missed_events_replayed: missed,
        reconnect_latency: latency.summary(),
        all_back_secs: all_back.as_secs_f64(),
        publisher,
        final_offset,
        offset_gaps: totals.gaps,
        offset_repeats: totals.repeats,
        viewers_behind,
        dropped_before_signal: totals.dropped_before,
        dropped_after_reconnect: totals.dropped_after,
        server_cpu_secs: cpu_before.zip(cpu_after).map(|(b, a)| a.saturating_sub(b) as f64 / 1e6),
        timeline: Timeline::from_samples(&samples, 40).points(),
        server_exit: None,
        ok,
    })
}

#[allow(clippy::print_stdout, reason = "the summary is the program's output")]
fn print_summary(r: &ReconnectStormReport) {
    println!(
        "reconnect-storm: {}/{} viewers on show {}; all dropped at once, jitter 0..{} ms",
        r.connected, r.viewers_requested, r.show_id, r.jitter_ms
    );
    if r.connect_errors.total() > 0 {
        println!("  connect errors: {}", r.connect_errors.describe(5));
    }
    println!(
        "  back: {}/{} in {:.2} s ({} retries; gave up: {})",
        r.reconnected,
        r.connected,
        r.all_back_secs,
        r.retries,
        r.gave_up.describe(3)
    );
    println!(
        "  recovered every missed event: {}/{} ({:.1} %); {} missed events replayed",
        r.recovered,
        r.reconnected,
        r.recovered_share * 100.0,
        r.missed_events_replayed
    );
    if let Some(l) = &r.reconnect_latency {
        println!("  drop-to-resubscribed (incl. jitter): {}", l.line());
    }
    println!(
        "  chat: sent {}, acked {}, errors {}",
        r.publisher.sent,
        r.publisher.acked,
        r.publisher.errors.describe(3)
    );
    println!(
        "  offsets: final {}, gaps {}, repeats {}, viewers behind {}; dropped before the signal {}, after reconnecting {}",
        r.final_offset,
        r.offset_gaps,
        r.offset_repeats,
        r.viewers_behind,
        r.dropped_before_signal.describe(3),
        r.dropped_after_reconnect.describe(3)
    );
    if let Some(cpu) = r.server_cpu_secs {
        println!("  server CPU while reconnecting: {cpu:.2} s");
    }
    if let Some(exit) = &r.server_exit {
        println!("  spawned server stopped: {exit}");
    }
    println!("  result: {}", if r.ok { "OK" } else { "FAILED" });
}
