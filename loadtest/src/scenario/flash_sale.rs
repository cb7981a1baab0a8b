//! `flash-sale`: N buyers, connected and subscribed to a live show before the
//! offer opens; the seller starts an offer of Q units with a per-buyer limit L;
//! all buyers send `order.place` at once. Buyers may be spread over several
//! server nodes (`--url` repeated, or `--nodes K` with a spawned Redis-backed
//! server).
//!
//! Measured: acknowledgements per second and the send-to-reply latency of
//! `order.place`. Checked, with exit status 2 when broken:
//! - units sold = min(Q, demand) (with `--qty` q > 1: stock left < q when demand ≥ Q);
//! - acknowledged orders = stored orders (`GET /api/seller/orders`, paged), same ids,
//!   none duplicated; the show summary agrees;
//! - no buyer above the limit;
//! - every `order.place` answered, with no error but `sold_out`, `limit_reached`,
//!   `insufficient_stock`;
//! - the seller's live feed (`seller:<id>`) carried every acknowledged order.
//!
//! With `--peer`, the same run goes to a Node peer (`loadtest/peers/`) that places orders
//! with ocop-live's order script on Redis (`--peer-redis-url`): buyers are named by their
//! token instead of registering, and the stored orders and counters come from the peer's
//! `GET /orders` and `GET /summary`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::{Args, ValueEnum};
use futures_util::StreamExt as _;
use serde::Serialize;
use serde_json::{Map, Value, json};
use tokio::sync::{OwnedSemaphorePermit, mpsc, watch};
use tokio::time::{sleep, timeout};

use super::{ConnArgs, PEER_SHOW, Peer, PeerArgs, Progress, ServerArgs, ServerUnderTest, ShowArgs, pick_source};
use crate::client::{Client, ClientError, Event, Target};
use crate::http::{Account, Api};
use crate::stats::{Latencies, LatencySummary, Tally, Timeline, TimelinePoint};

/// Refusals a correct server gives in a flash sale.
const EXPECTED_REFUSALS: [&str; 3] = ["sold_out", "limit_reached", "insufficient_stock"];
const BUYER_PASSWORD: &str = "mat-khau-do-tai-2026";

#[derive(Debug, Clone, Args)]
pub struct FlashSaleArgs {
    /// Buyer connections; each places one order.
    #[arg(long, default_value_t = 1000)]
    pub buyers: usize,

    /// Distinct buyer accounts (registered for the run); connection i signs in as account
    /// i mod M, so M < N makes several connections of one buyer race. Default: one per buyer.
    #[arg(long)]
    pub accounts: Option<usize>,

    /// Units in the offer.
    #[arg(long, default_value_t = 100)]
    pub units: i64,

    /// Units one buyer account may buy from the offer.
    #[arg(long, default_value_t = 1)]
    pub per_buyer_limit: i64,

    /// Units per order.
    #[arg(long, default_value_t = 1)]
    pub qty: i64,

    /// When buyers order.
    #[arg(long, value_enum, default_value_t = Trigger::OfferEvent)]
    pub trigger: Trigger,

    /// How long the offer runs, in seconds (10 to 7200).
    #[arg(long, default_value_t = 300)]
    pub offer_secs: u64,

    /// Registrations in flight at once (each hashes a password with Argon2id on the server).
    #[arg(long, default_value_t = 4)]
    pub register_concurrency: usize,

    /// Seconds to wait for each `order.place` reply.
    #[arg(long, default_value_t = 60)]
    pub order_timeout_secs: u64,

    /// Write the report as JSON to this file.
    #[arg(long, value_name = "PATH")]
    pub json: Option<PathBuf>,

    /// Read this Redis server's `INFO commandstats` just before the offer opens and after the
    /// sale (plus a second for what follows the replies), and report the commands per placed
    /// order.
    #[arg(long, value_name = "URL")]
    pub redis_stats: Option<String>,

    /// Write an SVG chart of order.place latency over the sale.
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

/// The show, the seller and where the stored orders are read: ocop-live's REST API, or a peer.
struct Sale {
    show_id: String,
    product_id: String,
    seller_token: String,
    seller_id: String,
    store: Store,
}

enum Store {
    /// `GET /api/seller/orders` and the show summary, as the seller.
    Rest { api: Api },
    /// The peer's `GET /orders` and `GET /summary`.
    Peer { api: Api },
}

impl Sale {
    async fn prepare(sut: &ServerUnderTest, args: &FlashSaleArgs, tag: &str) -> anyhow::Result<Self> {
        if args.peer.peer.is_some() {
            return Ok(Self {
                show_id: PEER_SHOW.to_owned(),
                product_id: format!("peer-product-{tag}"),
                seller_token: "seller".to_owned(),
                seller_id: "peer-seller".to_owned(),
                store: Store::Peer { api: Api::for_target(sut.target())? },
            });
        }
        let setup = super::setup_show(sut, &args.show, args.units, tag).await?;
        Ok(Self {
            seller_id: setup.seller.seller_id.clone().context("the seller account has no seller_id")?,
            show_id: setup.show_id,
            product_id: setup.product_id,
            seller_token: setup.seller.token,
            store: Store::Rest { api: setup.api },
        })
    }

    /// The stored orders of the offer.
    async fn stored_orders(&self, offer: &str) -> anyhow::Result<Vec<Value>> {
        let all = match &self.store {
            Store::Rest { api } => api.seller_orders(&self.seller_token).await?,
            Store::Peer { api } => api.peer_orders(offer).await?,
        };
        Ok(all.into_iter().filter(|o| o["offer_id"] == offer).collect())
    }

    /// Orders and units of the offer as the server counts them (the show summary).
    async fn counted(&self, offer: &str) -> anyhow::Result<(i64, i64)> {
        match &self.store {
            Store::Rest { api } => {
                let s = api.show_summary(&self.seller_token, &self.show_id).await?;
                let line = s["offers"].as_array().and_then(|l| l.iter().find(|l| l["id"] == offer));
                Ok(line.map_or((0, 0), |l| (l["orders"].as_i64().unwrap_or(0), l["units"].as_i64().unwrap_or(0))))
            }
            Store::Peer { api } => api.peer_summary(offer, &self.show_id).await,
        }
    }
}

/// What one buyer's `order.place` got.
#[derive(Debug, Clone)]
enum Outcome {
    Placed { order_id: String, buyer_id: String, qty: i64 },
    Refused(String),
    NoReply(String),
}

#[derive(Debug, Clone)]
struct OrderResult {
    account: usize,
    latency: Duration,
    /// Since the go signal.
    done_at: Duration,
    outcome: Outcome,
}

/// The go signal: the offer id.
type Go = Option<Arc<str>>;

/// When buyers send `order.place`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Trigger {
    /// Each buyer orders as soon as it receives the `offer` event on the show channel,
    /// like an app reacting to the broadcast.
    OfferEvent,
    /// Every buyer orders as soon as the seller's `offer.start` reply arrives (a signal
    /// inside the load generator), whether or not its `offer` event has arrived yet.
    Immediate,
}

#[allow(clippy::too_many_arguments, reason = "plain task plumbing")]
async fn buyer(
    index: usize,
    account: usize,
    target: Target,
    source: Option<IpAddr>,
    show: Arc<str>,
    qty: i64,
    trigger: Trigger,
    sale_start: Arc<OnceLock<Instant>>,
    tag: Arc<str>,
    step_timeout: Duration,
    order_timeout: Duration,
    permit: OwnedSemaphorePermit,
    connected: mpsc::UnboundedSender<Result<(), ClientError>>,
    results: mpsc::UnboundedSender<OrderResult>,
    mut go: watch::Receiver<Go>,
    mut stop: watch::Receiver<bool>,
) {
    let established = async {
        let mut client = Client::connect(&target, source, step_timeout).await?;
        client.subscribe(&format!("show:{show}"), step_timeout).await?;
        Ok::<_, ClientError>(client)
    }
    .await;
    drop(permit);
    let mut client = match established {
        Ok(c) => {
            let _ = connected.send(Ok(()));
            c
        }
        Err(e) => {
            let _ = connected.send(Err(e));
            return;
        }
    };
    drop(connected);
    // Wait for the offer, reading (and dropping) other events meanwhile so pings are answered.
    let offer: Arc<str> = loop {
        tokio::select! {
            changed = go.changed() => {
                if changed.is_err() {
                    return;
                }
                let g = go.borrow_and_update().clone();
                if let (Trigger::Immediate, Some(offer)) = (trigger, g) {
                    break offer;
                }
            }
            ev = client.next_event() => match ev {
                Ok(ev) if trigger == Trigger::OfferEvent && ev.ev == "offer" && ev.data["offer"]["status"] == "live" => {
                    if let Some(id) = ev.data["offer"]["id"].as_str() {
                        break Arc::from(id);
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    let _ = results.send(OrderResult {
                        account,
                        latency: Duration::ZERO,
                        done_at: Duration::ZERO,
                        outcome: Outcome::NoReply(format!("before the offer: {e}")),
                    });
                    return;
                }
            }
        }
    };
    let mut fields = Map::new();
    fields.insert("show".into(), json!(&*show));
    fields.insert("offer_id".into(), json!(&*offer));
    fields.insert("qty".into(), json!(qty));
    fields.insert("key".into(), json!(format!("lt-{tag}-{index}")));
    fields.insert(
        "delivery".into(),
        json!({ "name": format!("Người mua {account}"), "phone": "0912345678", "address": "12 Hàng Bạc, Hoàn Kiếm, Hà Nội" }),
    );
    let sent = Instant::now();
    let reply = client.command_raw("order.place", fields, order_timeout).await;
    let latency = sent.elapsed();
    let outcome = match reply {
        Ok(Ok(data)) => {
            let order = &data["order"];
            Outcome::Placed {
                order_id: order["id"].as_str().unwrap_or_default().to_owned(),
                buyer_id: order["buyer_id"].as_str().unwrap_or_default().to_owned(),
                qty: order["items"][0]["qty"].as_i64().unwrap_or(0),
            }
        }
        Ok(Err(e)) => Outcome::Refused(e.code),
        Err(e) => Outcome::NoReply(e.kind),
    };
    let done_at = sale_start.get().map_or(Duration::ZERO, Instant::elapsed);
    let _ = results.send(OrderResult { account, latency, done_at, outcome });
    drop(results);
    // Stay connected like a viewer until the run ends.
    loop {
        tokio::select! {
            () = super::signalled(&mut stop) => break,
            ev = client.next_event() => if ev.is_err() { break },
        }
    }
}

/// What the seller's connection saw after starting the offer.
#[derive(Debug, Default)]
struct SellerFeed {
    /// Order ids from `order` events on `seller:<id>` for this offer.
    orders: HashSet<String>,
    /// The offer's last `status` and `remaining` from `offer` and `stock` events.
    status: Option<String>,
    remaining: Option<i64>,
}

fn seller_event(feed: &Mutex<SellerFeed>, offer: &str, ev: &Event) {
    let mut feed = feed.lock().expect("lock");
    match ev.ev.as_str() {
        "order" if ev.ch.as_deref().is_some_and(|c| c.starts_with("seller:")) => {
            let o = &ev.data["order"];
            if o["offer_id"] == offer
                && let Some(id) = o["id"].as_str()
            {
                feed.orders.insert(id.to_owned());
            }
        }
        "offer" if ev.data["offer"]["id"] == offer => {
            feed.status = ev.data["offer"]["status"].as_str().map(str::to_owned);
            feed.remaining = ev.data["offer"]["remaining"].as_i64();
        }
        "stock" if ev.data["offer_id"] == offer => feed.remaining = ev.data["remaining"].as_i64(),
        _ => {}
    }
}

/// One correctness check.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub ok: bool,
    pub detail: String,
}

/// The `flash-sale` report.
#[derive(Debug, Clone, Serialize)]
pub struct FlashSaleReport {
    pub scenario: &'static str,
    /// The peer server measured instead of ocop-live, if any.
    pub peer: Option<Peer>,
    pub urls: Vec<String>,
    pub server_args: Vec<String>,
    pub show_id: String,
    pub offer_id: String,
    pub buyers: usize,
    pub accounts: usize,
    pub units: i64,
    pub per_buyer_limit: i64,
    pub qty: i64,
    pub trigger: Trigger,
    /// Units the buyers could take if stock were unlimited (limits applied).
    pub demand: i64,
    pub register_secs: f64,
    pub registrations_per_sec: f64,
    pub connected: u64,
    pub connect_errors: Tally,
    pub connect_secs: f64,
    /// `order.place` replies of any kind.
    pub replies: u64,
    pub placed: u64,
    pub refused: Tally,
    pub no_reply: Tally,
    pub units_sold_acked: i64,
    pub units_sold_stored: i64,
    pub stored_orders: usize,
    /// From the seller's offer.start to the last reply.
    pub sale_secs: f64,
    pub replies_per_sec: f64,
    /// From the seller's offer.start to the last acknowledged order.
    pub sell_secs: f64,
    pub placed_per_sec: f64,
    pub ack_latency: Option<LatencySummary>,
    pub placed_latency: Option<LatencySummary>,
    pub refused_latency: Option<LatencySummary>,
    pub offer_status_seen: Option<String>,
    pub offer_remaining_seen: Option<i64>,
    pub server_cpu_secs: Option<f64>,
    /// Redis commands run during the sale, by name (with `--redis-stats`).
    pub redis_commands: Option<BTreeMap<String, u64>>,
    /// Their sum over the placed orders.
    pub redis_commands_per_placed: Option<f64>,
    pub timeline: Vec<TimelinePoint>,
    pub checks: Vec<Check>,
    pub server_exit: Option<String>,
    pub ok: bool,
}

pub async fn run(args: FlashSaleArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.buyers > 0, "--buyers must be at least 1");
    let accounts = args.accounts.unwrap_or(args.buyers);
    anyhow::ensure!((1..=args.buyers).contains(&accounts), "--accounts must be from 1 to --buyers");
    anyhow::ensure!(
        args.units > 0 && args.per_buyer_limit > 0 && args.qty > 0,
        "units, limit and qty must be positive"
    );
    super::ensure_fd_budget(args.buyers + 16)?;
    // Every buyer registers from this one address, far faster than the per-address default.
    let defaults = [
        ("--max-connections", (args.buyers + 100).max(19_000).to_string()),
        ("--register-ip-limit", (accounts + 100).to_string()),
    ];
    let sut = if args.peer.peer.is_some() {
        anyhow::ensure!(
            args.peer.peer_redis_url.is_some() || !args.peer.spawn_peer,
            "a spawned peer runs the flash sale on Redis: give --peer-redis-url"
        );
        ServerUnderTest::prepare_peer(&args.conn, &args.server, &args.peer).await?
    } else {
        ServerUnderTest::prepare(&args.conn, &args.server, &defaults).await?
    };
    let measured = measure(&args, accounts, &sut).await;
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
            &format!("flash-sale: {} buyers, {} units: order.place latency", report.buyers, report.units),
            "seconds since offer.start was sent",
            &report.timeline,
            true,
        )?;
    }
    Ok(if report.ok { ExitCode::SUCCESS } else { ExitCode::from(2) })
}

/// Units the buyers could take with unlimited stock: per account, as many orders of `qty`
/// as it has connections, up to its limit.
fn demand(buyers: usize, accounts: usize, limit: i64, qty: i64) -> i64 {
    (0..accounts)
        .map(|a| {
            let conns = (buyers / accounts + usize::from(a < buyers % accounts)) as i64;
            conns.min(limit / qty) * qty
        })
        .sum()
}

async fn measure(args: &FlashSaleArgs, accounts: usize, sut: &ServerUnderTest) -> anyhow::Result<FlashSaleReport> {
    let n = args.buyers;
    let tag = super::run_tag();
    let setup = Sale::prepare(sut, args, &tag).await?;
    let sources = super::source_addrs(n, args.conn.sources, sut.target())?;
    let step_timeout = args.conn.step_timeout();

    // 1. Buyer accounts, before anything is timed (a peer takes the token as the buyer's id).
    if args.peer.peer.is_some() {
        eprintln!("{accounts} buyers named by their token");
    } else {
        eprintln!("registering {accounts} buyers ({} at a time)", args.register_concurrency);
    }
    let registered = Arc::new(AtomicU64::new(0));
    let progress = Progress::start({
        let registered = registered.clone();
        move |_| format!("{}/{accounts} buyers registered", registered.load(Ordering::Relaxed))
    });
    let register_started = Instant::now();
    let apis: Vec<_> = sut.targets.iter().map(crate::http::Api::for_target).collect::<anyhow::Result<Vec<_>>>()?;
    let peer = args.peer.peer.is_some();
    let buyer_accounts: Vec<anyhow::Result<Account>> = futures_util::stream::iter(0..accounts)
        .map(|i| {
            let (api, tag, registered) = (&apis[i % apis.len()], &tag, &registered);
            async move {
                if peer {
                    registered.fetch_add(1, Ordering::Relaxed);
                    return Ok(Account { token: format!("b{i}-{tag}"), seller_id: None });
                }
                let a = api
                    .register_buyer(
                        &format!("Người mua {i}"),
                        &format!("b{i}-{tag}@loadtest.example.vn"),
                        BUYER_PASSWORD,
                    )
                    .await;
                registered.fetch_add(1, Ordering::Relaxed);
                a
            }
        })
        .buffered(args.register_concurrency.max(1))
        .collect()
        .await;
    drop(progress);
    let buyer_accounts: Vec<Account> = buyer_accounts.into_iter().collect::<anyhow::Result<_>>()?;
    let register_secs = register_started.elapsed().as_secs_f64();
    eprintln!("{accounts} buyers registered in {register_secs:.2} s");

    // 2. Buyer connections, subscribed to the show.
    eprintln!("connecting {n} buyers over {} node(s)", sut.targets.len());
    let show: Arc<str> = Arc::from(setup.show_id.as_str());
    let tag_arc: Arc<str> = Arc::from(tag.as_str());
    let (go_tx, go_rx) = watch::channel::<Go>(None);
    let (stop_tx, stop_rx) = watch::channel(false);
    let (conn_tx, mut conn_rx) = mpsc::unbounded_channel();
    let (res_tx, mut res_rx) = mpsc::unbounded_channel();
    let targets: Arc<Vec<Target>> =
        Arc::new((0..n).map(|i| sut.target_for(i).with_token(Some(&buyer_accounts[i % accounts].token))).collect());
    let order_timeout = Duration::from_secs(args.order_timeout_secs);
    let sale_start: Arc<OnceLock<Instant>> = Arc::default();
    let connect_started = Instant::now();
    let spawner = super::spawn_staged(n, args.conn.concurrency as usize, {
        let (targets, sources, show, tag_arc, qty, trigger, sale_start) = (
            targets.clone(),
            sources.clone(),
            show.clone(),
            tag_arc.clone(),
            args.qty,
            args.trigger,
            sale_start.clone(),
        );
        move |i, permit| {
            buyer(
                i,
                i % accounts,
                targets[i].clone(),
                pick_source(&sources, i),
                show.clone(),
                qty,
                trigger,
                sale_start.clone(),
                tag_arc.clone(),
                step_timeout,
                order_timeout,
                permit,
                conn_tx.clone(),
                res_tx.clone(),
                go_rx.clone(),
                stop_rx.clone(),
            )
        }
    });
    let connected = Arc::new(AtomicU64::new(0));
    let progress = Progress::start({
        let connected = connected.clone();
        move |_| format!("{}/{n} buyers connected", connected.load(Ordering::Relaxed))
    });
    let mut connect_errors = Tally::default();
    for _ in 0..n {
        match conn_rx.recv().await {
            Some(Ok(())) => {
                connected.fetch_add(1, Ordering::Relaxed);
            }
            Some(Err(e)) => connect_errors.add(e.to_string()),
            None => connect_errors.add("buyer task ended without an outcome"),
        }
    }
    drop(progress);
    let connect_secs = connect_started.elapsed().as_secs_f64();
    let connected = connected.load(Ordering::Relaxed);
    let mut tasks = spawner.await?;
    eprintln!("{connected}/{n} buyers connected in {connect_secs:.2} s");

    // 3. The seller opens the offer.
    let seller_target = sut.target().with_token(Some(&setup.seller_token));
    let mut seller = Client::connect(&seller_target, None, step_timeout).await.context("seller cannot connect")?;
    seller
        .subscribe(&format!("show:{}", setup.show_id), step_timeout)
        .await
        .context("seller cannot subscribe to the show")?;
    seller
        .subscribe(&format!("seller:{}", setup.seller_id), step_timeout)
        .await
        .context("seller cannot subscribe to the order feed")?;
    let mut fields = Map::new();
    fields.insert("show".into(), json!(setup.show_id));
    fields.insert("product_id".into(), json!(setup.product_id));
    fields.insert("price".into(), json!(super::PRODUCT_PRICE / 2));
    fields.insert("quantity".into(), json!(args.units));
    fields.insert("per_buyer_limit".into(), json!(args.per_buyer_limit));
    fields.insert("duration_s".into(), json!(args.offer_secs));
    let redis_before = match &args.redis_stats {
        Some(url) => Some(crate::redis_stats::command_counts(url).await?),
        None => None,
    };
    let cpu_before = sut.cpu_micros();
    let _ = sale_start.set(Instant::now());
    let offer = seller.command("offer.start", fields, step_timeout).await.context("offer.start failed")?;
    let offer_id = offer["offer"]["id"].as_str().context("offer.start reply has no offer.id")?.to_owned();
    eprintln!("offer {offer_id}: {} units, limit {} per buyer", args.units, args.per_buyer_limit);
    let feed = Arc::new(Mutex::new(SellerFeed::default()));
    for ev in seller.take_pending_events() {
        seller_event(&feed, &offer_id, &ev);
    }
    let seller_reader = tokio::spawn({
        let (feed, offer_id, mut stop) = (feed.clone(), offer_id.clone(), stop_tx.subscribe());
        async move {
            loop {
                tokio::select! {
                    () = super::signalled(&mut stop) => break,
                    ev = seller.next_event() => match ev {
                        Ok(ev) => seller_event(&feed, &offer_id, &ev),
                        Err(_) => break,
                    },
                }
            }
        }
    });

    // 4. Go: every buyer orders at once (with --trigger offer-event, they already are).
    let _ = go_tx.send(Some(Arc::from(offer_id.as_str())));
    let replies_seen = Arc::new(AtomicU64::new(0));
    let progress = Progress::start({
        let replies_seen = replies_seen.clone();
        move |_| format!("{}/{connected} order.place answered", replies_seen.load(Ordering::Relaxed))
    });
    let mut results = Vec::with_capacity(n);
    while (results.len() as u64) < connected {
        match res_rx.recv().await {
            Some(r) => {
                results.push(r);
                replies_seen.fetch_add(1, Ordering::Relaxed);
            }
            None => break,
        }
    }
    drop(progress);
    let cpu_after = sut.cpu_micros();
    let redis_commands = match (&args.redis_stats, &redis_before) {
        (Some(url), Some(before)) => {
            // What follows a reply (the buyer's feed, stock ticks) is part of an order's cost.
            sleep(Duration::from_secs(1)).await;
            Some(crate::redis_stats::delta(before, &crate::redis_stats::command_counts(url).await?))
        }
        _ => None,
    };

    // 5. Tally the outcomes.
    let mut all_latency = Latencies::default();
    let (mut placed_latency, mut refused_latency) = (Latencies::default(), Latencies::default());
    let (mut refused, mut no_reply) = (Tally::default(), Tally::default());
    let mut acked: Vec<(String, String, i64, usize)> = Vec::new();
    let (mut sale_end, mut sell_end) = (Duration::ZERO, Duration::ZERO);
    for r in &results {
        match &r.outcome {
            Outcome::Placed { order_id, buyer_id, qty } => {
                placed_latency.record(r.latency);
                acked.push((order_id.clone(), buyer_id.clone(), *qty, r.account));
                sell_end = sell_end.max(r.done_at);
            }
            Outcome::Refused(code) => {
                refused_latency.record(r.latency);
                refused.add(code.clone());
            }
            Outcome::NoReply(why) => {
                no_reply.add(why.clone());
                continue;
            }
        }
        all_latency.record(r.latency);
        sale_end = sale_end.max(r.done_at);
    }
    let replies = placed_latency.len() + refused_latency.len();
    let samples: Vec<(Duration, Duration)> =
        results.iter().filter(|r| !matches!(r.outcome, Outcome::NoReply(_))).map(|r| (r.done_at, r.latency)).collect();
    let timeline = Timeline::from_samples(&samples, 40);

    // 6. What the server stored, and what the seller's feed carried.
    let _ = timeout(Duration::from_secs(5), async {
        while feed.lock().expect("lock").orders.len() < acked.len() {
            sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    sleep(Duration::from_millis(500)).await;
    let stored = setup.stored_orders(&offer_id).await?;
    let counted = setup.counted(&offer_id).await;
    let _ = stop_tx.send(true);
    let _ = timeout(Duration::from_secs(10), seller_reader).await;
    if timeout(Duration::from_secs(10), async { while tasks.join_next().await.is_some() {} }).await.is_err() {
        tasks.shutdown().await;
    }

    // 7. Checks.
    let mut checks = Vec::new();
    let units_acked: i64 = acked.iter().map(|a| a.2).sum();
    let units_stored: i64 = stored.iter().filter_map(|o| o["items"][0]["qty"].as_i64()).sum();
    let demand = demand(connected as usize, accounts, args.per_buyer_limit, args.qty);
    let q = args.units;
    checks.push(Check {
        name: "no oversell",
        ok: units_stored <= q && units_acked <= q,
        detail: format!("{units_stored} units stored, {units_acked} acknowledged, offer of {q}"),
    });
    let expected = q.min(demand);
    let sold_ok = if args.qty == 1 || demand < q {
        units_stored == expected
    } else {
        units_stored <= q && q - units_stored < args.qty
    };
    checks.push(Check {
        name: "units sold = min(units, demand)",
        ok: sold_ok,
        detail: format!("{units_stored} sold; min({q}, demand {demand}) = {expected}; qty {}", args.qty),
    });
    let acked_ids: HashSet<&str> = acked.iter().map(|a| a.0.as_str()).collect();
    let stored_ids: Vec<&str> = stored.iter().filter_map(|o| o["id"].as_str()).collect();
    let stored_set: HashSet<&str> = stored_ids.iter().copied().collect();
    checks.push(Check {
        name: "acknowledged orders = stored orders",
        ok: acked_ids == stored_set && acked_ids.len() == acked.len() && stored_set.len() == stored_ids.len(),
        detail: format!(
            "{} acknowledged ({} distinct), {} stored ({} distinct), {} acknowledged but not stored, {} stored but not acknowledged",
            acked.len(),
            acked_ids.len(),
            stored_ids.len(),
            stored_set.len(),
            acked_ids.difference(&stored_set).count(),
            stored_set.difference(&acked_ids).count()
        ),
    });
    let mut per_buyer: HashMap<&str, i64> = HashMap::new();
    for o in &stored {
        *per_buyer.entry(o["buyer_id"].as_str().unwrap_or("?")).or_default() +=
            o["items"][0]["qty"].as_i64().unwrap_or(0);
    }
    let mut per_account: BTreeMap<usize, i64> = BTreeMap::new();
    for a in &acked {
        *per_account.entry(a.3).or_default() += a.2;
    }
    let over = per_buyer.values().filter(|u| **u > args.per_buyer_limit).count()
        + per_account.values().filter(|u| **u > args.per_buyer_limit).count();
    checks.push(Check {
        name: "no buyer above the limit",
        ok: over == 0,
        detail: format!(
            "{} buyers bought; most units by one buyer: {}; limit {}",
            per_buyer.len(),
            per_buyer.values().max().copied().unwrap_or(0),
            args.per_buyer_limit
        ),
    });
    let unexpected: u64 =
        refused.by_count().iter().filter(|(code, _)| !EXPECTED_REFUSALS.contains(code)).map(|(_, n)| n).sum();
    checks.push(Check {
        name: "every order answered, only expected refusals",
        ok: no_reply.total() == 0 && unexpected == 0 && results.len() as u64 == connected,
        detail: format!(
            "{} replies of {connected}; refusals: {}; no reply: {}",
            replies,
            refused.describe(6),
            no_reply.describe(4)
        ),
    });
    let feed = std::mem::take(&mut *feed.lock().expect("lock"));
    let feed_missing = acked_ids.iter().filter(|id| !feed.orders.contains(**id)).count();
    checks.push(Check {
        name: "seller feed carried every acknowledged order",
        ok: feed_missing == 0 && feed.orders.len() == acked_ids.len(),
        detail: format!(
            "{} order events for the offer on seller:<id>, {feed_missing} acknowledged missing",
            feed.orders.len()
        ),
    });
    match &counted {
        Ok((orders, units)) => {
            let (orders, units) = (*orders, *units);
            checks.push(Check {
                name: "show summary agrees",
                ok: orders == stored_ids.len() as i64 && units == units_stored,
                detail: format!("summary: {orders} orders, {units} units for the offer"),
            });
        }
        Err(e) => checks.push(Check { name: "show summary agrees", ok: false, detail: format!("{e:#}") }),
    }
    if connected < n as u64 {
        checks.push(Check {
            name: "every buyer connected",
            ok: false,
            detail: format!("{connected}/{n}: {}", connect_errors.describe(4)),
        });
    }
    let ok = checks.iter().all(|c| c.ok);
    let sale_secs = sale_end.as_secs_f64();
    let sell_secs = sell_end.as_secs_f64();
    Ok(FlashSaleReport {
        scenario: "flash-sale",
        peer: args.peer.peer,
        urls: sut.targets.iter().map(|t| t.url.clone()).collect(),
        server_args: sut.server_args.clone(),
        show_id: setup.show_id.clone(),
        offer_id,
        buyers: n,
        accounts,
        units: q,
        per_buyer_limit: args.per_buyer_limit,
        qty: args.qty,
        trigger: args.trigger,
        demand,
        register_secs,
        registrations_per_sec: accounts as f64 / register_secs.max(1e-9),
        connected,
        connect_errors,
        connect_secs,
        replies,
        placed: acked.len() as u64,
        refused,
        no_reply,
        units_sold_acked: units_acked,
        units_sold_stored: units_stored,
        stored_orders: stored_ids.len(),
        sale_secs,
        replies_per_sec: replies as f64 / sale_secs.max(1e-9),
        sell_secs,
        placed_per_sec: acked.len() as f64 / sell_secs.max(1e-9),
        ack_latency: all_latency.summary(),
        placed_latency: placed_latency.summary(),
        refused_latency: refused_latency.summary(),
        offer_status_seen: feed.status,
        offer_remaining_seen: feed.remaining,
        server_cpu_secs: cpu_before.zip(cpu_after).map(|(b, a)| a.saturating_sub(b) as f64 / 1e6),
        redis_commands_per_placed: redis_commands
            .as_ref()
            .map(|c| c.values().sum::<u64>() as f64 / (acked.len() as f64).max(1.0)),
        redis_commands,
        timeline: timeline.points(),
        checks,
        server_exit: None,
        ok,
    })
}

#[allow(clippy::print_stdout, reason = "the summary is the program's output")]
fn print_summary(r: &FlashSaleReport) {
    if let Some(peer) = r.peer {
        println!("peer: {}", peer.name());
    }
    println!(
        "flash-sale: {} buyers ({} accounts) over {} node(s); offer of {} units, limit {} per buyer, {} per order; trigger {:?}",
        r.buyers,
        r.accounts,
        r.urls.len(),
        r.units,
        r.per_buyer_limit,
        r.qty,
        r.trigger
    );
    if r.peer.is_some() {
        println!(
            "  set-up: {} buyers named by their token; {}/{} connected in {:.2} s",
            r.accounts, r.connected, r.buyers, r.connect_secs
        );
    } else {
        println!(
            "  set-up: {} buyers registered in {:.2} s ({:.0}/s); {}/{} connected in {:.2} s",
            r.accounts, r.register_secs, r.registrations_per_sec, r.connected, r.buyers, r.connect_secs
        );
    }
    println!(
        "  replies {} in {:.3} s ({:.0}/s); placed {} ({} units) in {:.3} s ({:.0}/s); refused: {}; no reply: {}",
        r.replies,
        r.sale_secs,
        r.replies_per_sec,
        r.placed,
        r.units_sold_acked,
        r.sell_secs,
        r.placed_per_sec,
        r.refused.describe(6),
        r.no_reply.describe(4)
    );
    for (what, l) in [("all replies", &r.ack_latency), ("placed", &r.placed_latency), ("refused", &r.refused_latency)] {
        if let Some(l) = l {
            println!("  order.place latency, {what}: {}", l.line());
        }
    }
    if let Some(cpu) = r.server_cpu_secs {
        println!("  server CPU during the sale: {cpu:.2} s");
    }
    if let (Some(commands), Some(per)) = (&r.redis_commands, r.redis_commands_per_placed) {
        let list: Vec<String> = commands.iter().map(|(name, calls)| format!("{name} {calls}")).collect();
        println!("  redis commands during the sale: {per:.2} per placed order ({})", list.join(", "));
    }
    println!(
        "  offer as last seen by the seller: status {}, remaining {}",
        r.offer_status_seen.as_deref().unwrap_or("?"),
        r.offer_remaining_seen.map_or_else(|| "?".to_owned(), |v| v.to_string())
    );
    for c in &r.checks {
        println!("  check {}: {} ({})", if c.ok { "ok    " } else { "FAILED" }, c.name, c.detail);
    }
    if let Some(exit) = &r.server_exit {
        println!("  spawned server stopped: {exit}");
    }
    println!("  result: {}", if r.ok { "OK" } else { "FAILED" });
}

#[cfg(test)]
mod tests {
    use super::demand;

    #[test]
    fn demand_applies_the_limit_per_account() {
        // One connection per account, limit 1: one unit each.
        assert_eq!(demand(1000, 1000, 1, 1), 1000);
        // Two connections per account race for a limit of 1.
        assert_eq!(demand(300, 150, 1, 1), 150);
        // Orders of 2 under a limit of 3: one order per account.
        assert_eq!(demand(10, 5, 3, 2), 10);
        // Uneven split: 7 connections over 3 accounts (3, 2, 2), limit 5.
        assert_eq!(demand(7, 3, 5, 1), 7);
    }
}
