//! `fair`: a fair's lobby under load. N visitors join `fair:<id>` as fast as `--concurrency`
//! allows, spread round robin over the nodes, while `--booths` booth Q&A chats and `--shows`
//! stage shows each carry chat at `--rate`, and `--booth-visitors` more connections follow the
//! booths. One watcher per node follows the lobby's `visitors` count. Measured: the lobby's join
//! rate and join-to-snapshot latency, and the visitors count lag: how long after the last join
//! (and after half the visitors leave) each node's watcher is told the right count. Checked:
//! everyone joins, the lobby and booth streams arrive without gaps, every node reaches the right
//! count within `--lag-timeout-secs`, and the publishers get no errors.
//!
//! Runs against the demo fair (`--demo` seeds it, with a booth for each demo seller) as the demo
//! organiser; the stage shows are created in it by the demo seller, who has a booth there.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Args;
use futures_util::StreamExt as _;
use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::{OwnedSemaphorePermit, mpsc, watch};
use tokio::time::{sleep, timeout};
use tokio_tungstenite::tungstenite::Message;

use super::publisher::{self, PublisherCounters, PublisherReport};
use super::viewer::{self, Ended, ViewerState};
use super::{ConnArgs, DEMO_ORGANISER, DEMO_PASSWORD, DEMO_SELLER, Progress, ServerArgs, ServerUnderTest, pick_source};
use crate::client::{Client, ClientError, Target, close_stream};
use crate::http::Api;
use crate::stats::{Latencies, LatencySummary, Tally};

const CLOSE_WAIT: Duration = Duration::from_secs(3);

#[derive(Debug, Clone, Args)]
pub struct FairArgs {
    /// Visitors that join the lobby.
    #[arg(long, default_value_t = 2000)]
    pub visitors: usize,

    /// Booths whose Q&A chat runs during the storm (at most the fair's booths).
    #[arg(long, default_value_t = 3)]
    pub booths: usize,

    /// Stage shows live during the storm, created in the fair for the run.
    #[arg(long, default_value_t = 2)]
    pub shows: usize,

    /// Connections that follow a booth (spread over the booths), besides the visitors.
    #[arg(long, default_value_t = 200)]
    pub booth_visitors: usize,

    /// Chat messages a second in each booth and each show.
    #[arg(long, default_value_t = 5.0)]
    pub rate: f64,

    /// Seconds to keep everyone connected after the count settled.
    #[arg(long, default_value_t = 2)]
    pub hold_secs: u64,

    /// Seconds each node's watcher may take to show the right visitor count.
    #[arg(long, default_value_t = 15)]
    pub lag_timeout_secs: u64,

    /// Write the report as JSON to this file.
    #[arg(long, value_name = "PATH")]
    pub json: Option<PathBuf>,

    #[command(flatten)]
    pub conn: ConnArgs,

    #[command(flatten)]
    pub server: ServerArgs,
}

/// How long one node took to show a visitor count.
#[derive(Debug, Clone, Serialize)]
pub struct CountLag {
    pub node: usize,
    pub expected: u64,
    /// From the moment the count became true (the last join, or the leaves sent) to the first
    /// `visitors` event with it; none when it never came within the timeout.
    pub lag_ms: Option<f64>,
    /// The last count the node's watcher was told.
    pub last_seen: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct FairReport {
    pub scenario: &'static str,
    pub urls: Vec<String>,
    pub server_args: Vec<String>,
    pub fair_id: String,
    pub visitors_requested: usize,
    /// Every connection that joined (lobby and booths).
    pub joined: u64,
    /// Visitors that joined the lobby; the join rate and latency are theirs.
    pub lobby_joined: u64,
    pub join_errors: Tally,
    pub concurrency: u32,
    pub join_secs: f64,
    pub joins_per_sec: f64,
    pub join_latency: Option<LatencySummary>,
    pub lag_after_joins: Vec<CountLag>,
    pub lag_after_leaves: Vec<CountLag>,
    pub booths: usize,
    pub booth_visitors: u64,
    pub booth_chat_deliveries: u64,
    pub booth_chat_latency: Option<LatencySummary>,
    pub shows: usize,
    pub publishers: Vec<PublisherReport>,
    pub lobby_gaps: u64,
    pub booth_gaps: u64,
    pub repeats: u64,
    pub dropped: Tally,
    pub server_cpu_secs: Option<f64>,
    pub server_exit: Option<String>,
    pub ok: bool,
}

#[derive(Debug, Default)]
struct Totals {
    lobby_gaps: u64,
    booth_gaps: u64,
    repeats: u64,
    booth_chats: u64,
    booth_latency: Latencies,
    dropped: Tally,
}

pub async fn run(args: FairArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.visitors >= 2, "--visitors must be at least 2");
    super::ensure_fd_budget(args.visitors + args.booth_visitors + 16)?;
    let limit = (args.rate.ceil() as u64 * 2).max(1000).to_string();
    let defaults = [
        ("--chat-rate", limit.clone()),
        ("--chat-burst", limit.clone()),
        ("--command-rate", limit.clone()),
        ("--command-burst", limit),
        ("--max-connections", (args.visitors + args.booth_visitors + 100).max(19_000).to_string()),
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
    Ok(if report.ok { ExitCode::SUCCESS } else { ExitCode::from(2) })
}

/// Every `visitors` count a node's watcher is told, with when.
type Counts = Arc<Mutex<Vec<(Instant, u64)>>>;

/// One watcher per node: follows the lobby and records its counts until `stop`.
async fn watch_counts(
    target: Target,
    channel: String,
    step_timeout: Duration,
    counts: Counts,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let mut client = Client::connect(&target, None, step_timeout).await.context("watcher cannot connect")?;
    client.subscribe(&channel, step_timeout).await.context("watcher cannot join the lobby")?;
    let mut ws = client.into_stream();
    loop {
        let msg = tokio::select! {
            biased;
            () = super::signalled(&mut stop) => break,
            msg = ws.next() => msg,
        };
        let Some(Ok(Message::Text(text))) = msg else {
            if matches!(msg, None | Some(Err(_)) | Some(Ok(Message::Close(_)))) {
                anyhow::bail!("the watcher's connection ended");
            }
            continue;
        };
        let Ok(frame) = serde_json::from_str::<Value>(text.as_str()) else { continue };
        if frame["ev"] == "visitors"
            && let Some(n) = frame["data"]["count"].as_u64()
        {
            counts.lock().expect("lock").push((Instant::now(), n));
        }
    }
    close_stream(&mut ws, CLOSE_WAIT).await;
    Ok(())
}

/// Waits until every node's watcher was told `expected` (after `since`), or the timeout.
async fn lags(watchers: &[Counts], expected: u64, since: Instant, wait: Duration) -> Vec<CountLag> {
    let deadline = Instant::now() + wait;
    loop {
        let found: Vec<CountLag> = watchers
            .iter()
            .enumerate()
            .map(|(node, counts)| {
                let counts = counts.lock().expect("lock");
                let first = counts.iter().find(|(at, n)| *n == expected && *at >= since).map(|(at, _)| *at);
                CountLag {
                    node,
                    expected,
                    lag_ms: first.map(|at| at.duration_since(since).as_secs_f64() * 1000.0),
                    last_seen: counts.last().map_or(0, |(_, n)| *n),
                }
            })
            .collect();
        if found.iter().all(|l| l.lag_ms.is_some()) || Instant::now() >= deadline {
            return found;
        }
        sleep(Duration::from_millis(20)).await;
    }
}

#[allow(clippy::too_many_arguments, reason = "plain task plumbing")]
async fn visit(
    target: Target,
    source: Option<std::net::IpAddr>,
    channel: Arc<str>,
    booth: bool,
    tag: Arc<str>,
    step_timeout: Duration,
    permit: OwnedSemaphorePermit,
    outcomes: mpsc::UnboundedSender<(bool, Result<Duration, ClientError>)>,
    mut stop: watch::Receiver<bool>,
    totals: Arc<Mutex<Totals>>,
) {
    let started = Instant::now();
    let joined = async {
        let mut client = Client::connect(&target, source, step_timeout).await?;
        let data = client.subscribe(&channel, step_timeout).await?;
        Ok::<_, ClientError>((client, ViewerState::from_reply(&data)))
    }
    .await;
    let latency = started.elapsed();
    drop(permit);
    let (client, mut state) = match joined {
        Ok(v) => {
            let _ = outcomes.send((booth, Ok(latency)));
            v
        }
        Err(e) => {
            let _ = outcomes.send((booth, Err(e)));
            return;
        }
    };
    drop(outcomes);
    let mut ws = client.into_stream();
    let mut latencies = Latencies::default();
    let ended = viewer::follow(&mut ws, &mut state, &tag, &mut stop, |l| latencies.record(l)).await;
    if ended == Ended::Signalled {
        close_stream(&mut ws, CLOSE_WAIT).await;
    }
    let mut t = totals.lock().expect("lock");
    if booth {
        t.booth_gaps += state.gaps;
        t.booth_chats += state.chats;
        t.booth_latency.merge(&latencies);
    } else {
        t.lobby_gaps += state.gaps;
    }
    t.repeats += state.repeats;
    if let Ended::Dropped(why) = ended {
        t.dropped.add(why);
    }
}

/// The demo fair: its id and its approved booths' ids.
async fn demo_fair(api: &Api) -> anyhow::Result<(String, Vec<String>)> {
    let fairs = api.get_json("open fairs", "/api/fairs?status=open", None).await?;
    let fair = fairs["items"][0]["id"].as_str().context("no open fair (start the server with --demo)")?.to_owned();
    let view = api.get_json("the fair", &format!("/api/fairs/{fair}"), None).await?;
    let booths =
        view["booths"].as_array().map(|b| b.iter().filter_map(|b| b["id"].as_str().map(str::to_owned)).collect());
    Ok((fair, booths.unwrap_or_default()))
}

async fn measure(args: &FairArgs, sut: &ServerUnderTest) -> anyhow::Result<FairReport> {
    let tag = super::run_tag();
    let api = Api::for_target(sut.target())?;
    api.login(DEMO_ORGANISER, DEMO_PASSWORD).await.context("the demo organiser (start the server with --demo)")?;
    let (fair, all_booths) = demo_fair(&api).await?;
    let booths: Vec<String> = all_booths.into_iter().take(args.booths).collect();
    anyhow::ensure!(args.booth_visitors == 0 || !booths.is_empty(), "the fair has no booth for --booth-visitors");
    let lobby = format!("fair:{fair}");
    let step_timeout = args.conn.step_timeout();

    // Stage shows in the fair, an hour apart on the agenda, all started now.
    let seller = api.login(DEMO_SELLER, DEMO_PASSWORD).await?;
    let mut rooms: Vec<String> = booths.iter().map(|b| format!("booth:{b}")).collect();
    let base_ms = super::unix_micros() / 1000 + 3 * 3600 * 1000;
    for i in 0..args.shows {
        let product = api.create_product(&seller.token, &format!("Đặc sản (đo tải {tag} {i})"), 200_000, 1000).await?;
        let at = ocop_live::clock::ms_to_rfc3339(base_ms + 61 * 60 * 1000 * i as u64);
        let body = json!({"title": format!("Sân khấu {i} ({tag})"), "scheduled_at": at, "fair_id": fair, "products": [product]});
        let show = api.post_json("stage show", "/api/shows", Some(&seller.token), &body).await?;
        let id = show["show"]["id"].as_str().context("no show id")?.to_owned();
        api.start_show(&seller.token, &id).await?;
        rooms.push(format!("show:{id}"));
    }

    // One publisher per booth and per show.
    let (pub_stop_tx, pub_stop_rx) = watch::channel(false);
    let tag: Arc<str> = Arc::from(tag.as_str());
    let mut publishers = Vec::new();
    for room in &rooms {
        let guest = api.guest("Người đo tải").await?;
        publishers.push(tokio::spawn(publisher::publish(
            sut.target().with_token(Some(&guest.token)),
            room.clone(),
            args.rate,
            None,
            tag.clone(),
            pub_stop_rx.clone(),
            Arc::new(PublisherCounters::default()),
            step_timeout,
        )));
    }

    // A watcher per node, in the lobby before anyone else.
    let (watch_stop_tx, watch_stop_rx) = watch::channel(false);
    let mut watchers: Vec<Counts> = Vec::new();
    let mut watcher_tasks = Vec::new();
    for target in &sut.targets {
        let counts: Counts = Arc::default();
        watchers.push(counts.clone());
        watcher_tasks.push(tokio::spawn(watch_counts(
            target.with_token(None),
            lobby.clone(),
            step_timeout,
            counts,
            watch_stop_rx.clone(),
        )));
    }
    let watchers_n = sut.targets.len() as u64;
    sleep(Duration::from_secs(1)).await;

    let n = args.visitors;
    let total = n + args.booth_visitors;
    let sources = super::source_addrs(total, args.conn.sources, sut.target())?;
    eprintln!("{n} visitors joining {lobby} and {} following {} booths", args.booth_visitors, booths.len());
    let totals = Arc::new(Mutex::new(Totals::default()));
    // Two halves, so half the visitors can leave while the others stay.
    let (stop_a_tx, stop_a_rx) = watch::channel(false);
    let (stop_b_tx, stop_b_rx) = watch::channel(false);
    let (out_tx, mut out_rx) = mpsc::unbounded_channel();
    let targets: Arc<Vec<Target>> = Arc::new(sut.targets.iter().map(|t| t.with_token(None)).collect());
    let channels: Arc<Vec<Arc<str>>> =
        Arc::new(booths.iter().map(|b| Arc::from(format!("booth:{b}").as_str())).collect());
    let lobby_name: Arc<str> = Arc::from(lobby.as_str());
    let joined = Arc::new(AtomicU64::new(0));
    let cpu_before = sut.cpu_micros();
    let started = Instant::now();
    let spawner = super::spawn_staged(total, args.conn.concurrency as usize, {
        let (totals, sources, targets, tag, channels, lobby_name) =
            (totals.clone(), sources.clone(), targets.clone(), tag.clone(), channels.clone(), lobby_name.clone());
        move |i, permit| {
            let booth = i >= n;
            let channel = if booth { channels[(i - n) % channels.len()].clone() } else { lobby_name.clone() };
            let stop = if booth || i % 2 == 0 { stop_a_rx.clone() } else { stop_b_rx.clone() };
            visit(
                targets[i % targets.len()].clone(),
                pick_source(&sources, i),
                channel,
                booth,
                tag.clone(),
                step_timeout,
                permit,
                out_tx.clone(),
                stop,
                totals.clone(),
            )
        }
    });
    let progress = Progress::start({
        let joined = joined.clone();
        move |_| format!("{}/{total} joined", joined.load(Ordering::Relaxed))
    });
    let mut latency = Latencies::default();
    let mut errors = Tally::default();
    let mut lobby_joined = 0u64;
    let mut joined_at = started;
    for _ in 0..total {
        match out_rx.recv().await {
            Some((booth, Ok(l))) => {
                if !booth {
                    latency.record(l);
                    lobby_joined += 1;
                    joined_at = Instant::now();
                }
                joined.fetch_add(1, Ordering::Relaxed);
            }
            Some((_, Err(e))) => errors.add(e.to_string()),
            None => errors.add("visitor task ended without an outcome"),
        }
    }
    drop(progress);
    let join_time = joined_at.duration_since(started);
    let cpu_after = sut.cpu_micros();
    let mut tasks = spawner.await?;
    let all_joined = joined.load(Ordering::Relaxed);
    eprintln!("{all_joined}/{total} joined in {:.2} s", join_time.as_secs_f64());

    let wait = Duration::from_secs(args.lag_timeout_secs);
    let in_lobby = n as u64 + watchers_n;
    let lag_after_joins = lags(&watchers, in_lobby, joined_at, wait).await;
    // Half the lobby leaves (the odd ones); the count must follow on every node.
    let _ = stop_b_tx.send(true);
    let left_at = Instant::now();
    let staying = (n as u64).div_ceil(2) + watchers_n;
    let lag_after_leaves = lags(&watchers, staying, left_at, wait).await;
    sleep(Duration::from_secs(args.hold_secs)).await;

    let _ = pub_stop_tx.send(true);
    let mut reports = Vec::new();
    for p in publishers {
        reports.push(p.await??);
    }
    sleep(Duration::from_millis(500)).await;
    let _ = stop_a_tx.send(true);
    let _ = watch_stop_tx.send(true);
    if timeout(CLOSE_WAIT + Duration::from_secs(10), async { while tasks.join_next().await.is_some() {} })
        .await
        .is_err()
    {
        tasks.shutdown().await;
    }
    for w in watcher_tasks {
        w.await??;
    }
    let totals = std::mem::take(&mut *totals.lock().expect("lock"));
    let settled = |lags: &[CountLag]| lags.iter().all(|l| l.lag_ms.is_some());
    let ok = all_joined == total as u64
        && settled(&lag_after_joins)
        && settled(&lag_after_leaves)
        && totals.lobby_gaps == 0
        && totals.booth_gaps == 0
        && totals.repeats == 0
        && totals.dropped.total() == 0
        && (args.booth_visitors == 0 || totals.booth_chats > 0)
        && reports.iter().all(|r| r.errors.total() == 0);
    Ok(FairReport {
        scenario: "fair",
        urls: sut.targets.iter().map(|t| t.url.clone()).collect(),
        server_args: sut.server_args.clone(),
        fair_id: fair,
        visitors_requested: n,
        joined: all_joined,
        join_errors: errors,
        concurrency: args.conn.concurrency,
        join_secs: join_time.as_secs_f64(),
        lobby_joined,
        joins_per_sec: lobby_joined as f64 / join_time.as_secs_f64().max(1e-9),
        join_latency: latency.summary(),
        lag_after_joins,
        lag_after_leaves,
        booths: booths.len(),
        booth_visitors: args.booth_visitors as u64,
        booth_chat_deliveries: totals.booth_chats,
        booth_chat_latency: totals.booth_latency.summary(),
        shows: args.shows,
        publishers: reports,
        lobby_gaps: totals.lobby_gaps,
        booth_gaps: totals.booth_gaps,
        repeats: totals.repeats,
        dropped: totals.dropped,
        server_cpu_secs: cpu_before.zip(cpu_after).map(|(b, a)| a.saturating_sub(b) as f64 / 1e6),
        server_exit: None,
        ok,
    })
}

#[allow(clippy::print_stdout, reason = "the summary is the program's output")]
fn print_summary(r: &FairReport) {
    println!(
        "fair: {}/{} visitors joined the lobby of fair {} in {:.2} s ({:.0} joins/s, {} in flight) over {} node(s)",
        r.lobby_joined,
        r.visitors_requested,
        r.fair_id,
        r.join_secs,
        r.joins_per_sec,
        r.concurrency,
        r.urls.len()
    );
    if r.join_errors.total() > 0 {
        println!("  join errors: {}", r.join_errors.describe(5));
    }
    if let Some(l) = &r.join_latency {
        println!("  join-to-snapshot latency: {}", l.line());
    }
    for (what, lags) in [("after the joins", &r.lag_after_joins), ("after half left", &r.lag_after_leaves)] {
        for l in lags {
            match l.lag_ms {
                Some(ms) => println!("  visitors count {what}: node {} showed {} after {ms:.0} ms", l.node, l.expected),
                None => println!(
                    "  visitors count {what}: node {} never showed {} (last {})",
                    l.node, l.expected, l.last_seen
                ),
            }
        }
    }
    println!(
        "  {} booths, {} shows; booth chat deliveries {}{}",
        r.booths,
        r.shows,
        r.booth_chat_deliveries,
        r.booth_chat_latency.as_ref().map(|l| format!(", latency {}", l.line())).unwrap_or_default()
    );
    for p in &r.publishers {
        println!("  publisher: sent {}, acked {}, errors {}", p.sent, p.acked, p.errors.describe(3));
    }
    println!(
        "  gaps: lobby {}, booths {}; repeats {}; dropped {}",
        r.lobby_gaps,
        r.booth_gaps,
        r.repeats,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_node_lags_until_its_watcher_is_told_the_count() {
        let since = Instant::now();
        let a: Counts = Arc::new(Mutex::new(vec![(since, 5)]));
        let b: Counts = Arc::default();
        let later = since + Duration::from_millis(300);
        a.lock().unwrap().push((later, 7));
        let found = lags(&[a, b], 7, since, Duration::from_millis(50)).await;
        assert!((found[0].lag_ms.unwrap() - 300.0).abs() < 1.0, "{found:?}");
        assert_eq!((found[0].last_seen, found[1].lag_ms), (7, None));
    }
}
