//! Scenarios and the options and set-up steps they share.

pub mod fair;
pub mod fanout;
pub mod flash_sale;
pub mod idle;
pub mod join_storm;
pub mod publisher;
pub mod reconnect_storm;
pub mod viewer;

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use clap::{Args, ValueEnum};
use serde::Serialize;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;

use crate::client::{Target, Transport};
use crate::http::{Account, Api};
use crate::procfs::{self, Limit};
use crate::server::SpawnedServer;

/// Connections planned per local source address when `--sources` is not given.
/// The default ephemeral port range (32768–60999) holds about 28,000 ports, but `bind()`
/// with port 0 first searches the half of the range it prefers (Linux leaves the other half
/// to `connect()`); past about 14,000 sockets on one address each `bind()` becomes a long
/// search that blocks a runtime thread, and connection latency jumps to seconds. Staying
/// under half the range keeps binds fast.
pub const CONNECTIONS_PER_SOURCE: usize = 10_000;

/// Descriptors kept spare beyond one per connection (stdio, epoll, probes…).
pub const SPARE_FDS: u64 = 64;

/// The demo seller whose account the scenarios use to run a show (seeded by `--demo`).
pub const DEMO_SELLER: &str = "htx.caonguyenda@demo.ocop.vn";
/// The demo organiser, who runs the demo fair (seeded by `--demo`).
pub const DEMO_ORGANISER: &str = "btc@demo.ocop.vn";
/// The password of every demo account.
pub const DEMO_PASSWORD: &str = "ocop-demo-2026";

/// How clients reach the server.
#[derive(Debug, Clone, Args)]
pub struct ConnArgs {
    /// WebSocket URL of a server node (repeatable, or comma-separated in LOADTEST_URL); clients
    /// are spread over the nodes round robin. With --spawn-server the host and port are
    /// replaced by those of the spawned node(s).
    #[arg(long = "url", env = "LOADTEST_URL", value_delimiter = ',', default_value = "ws://127.0.0.1:8080/ws")]
    pub urls: Vec<String>,

    /// Spread connections over the local source addresses 127.0.0.2 … 127.0.0.(1+K),
    /// binding each socket before connecting, so ephemeral ports do not run out.
    /// 0 lets the kernel pick the source. Default: one source per 10,000 connections.
    #[arg(long, value_name = "K")]
    pub sources: Option<usize>,

    /// Connection attempts in flight at once.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..))]
    pub concurrency: u32,

    /// Timeout in seconds for each step: TCP + upgrade, hello, command reply.
    #[arg(long, default_value_t = 10)]
    pub timeout_secs: u64,
}

impl ConnArgs {
    pub fn step_timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs)
    }
}

/// Which server process to measure, or which binary to start.
#[derive(Debug, Clone, Args)]
pub struct ServerArgs {
    /// PID of an already running server node whose memory and CPU are sampled from /proc
    /// (repeatable, one per node).
    #[arg(long = "server-pid", value_name = "PID", conflicts_with = "spawn_server")]
    pub server_pids: Vec<u32>,

    /// Start this server binary with `--listen 127.0.0.1:<free port>` (plus `--demo`, the
    /// scenario's raised limits and every --server-arg), wait for /healthz, run against it,
    /// and stop it at the end.
    #[arg(long, value_name = "PATH")]
    pub spawn_server: Option<PathBuf>,

    /// Number of server nodes to spawn; more than one needs a shared Redis
    /// (--server-arg --redis-url --server-arg redis://… and --jwt-secret).
    #[arg(long, default_value_t = 1, requires = "spawn_server", value_parser = clap::value_parser!(u16).range(1..=16))]
    pub nodes: u16,

    /// Extra argument for the spawned server (repeatable). A flag given here replaces the
    /// scenario's default for it.
    #[arg(long = "server-arg", value_name = "ARG", allow_hyphen_values = true, requires = "spawn_server")]
    pub server_args: Vec<String>,

    /// Do not pass `--demo` to the spawned server (its demo seller must then exist already).
    #[arg(long, requires = "spawn_server")]
    pub no_demo: bool,

    /// Where the spawned server's stdout and stderr go (node i > 0 appends `.<i>`).
    /// Default: ocop-live-loadtest-<loadtest pid>.log in the temporary directory.
    #[arg(long, value_name = "PATH", requires = "spawn_server")]
    pub server_log: Option<PathBuf>,

    /// Seconds to wait for the spawned server to answer /healthz.
    #[arg(long, default_value_t = 30)]
    pub server_ready_secs: u64,
}

/// A peer server the `idle` and `fanout` scenarios can run against instead of ocop-live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Peer {
    /// `loadtest/peers/ws/server.js`: Node with the `ws` package, one JSON object per frame.
    Ws,
    /// `loadtest/peers/socketio/server.js`: Socket.IO v4, frames as `42["frame",<json>]`.
    Socketio,
}

impl Peer {
    pub fn name(self) -> &'static str {
        match self {
            Self::Ws => "ws",
            Self::Socketio => "socketio",
        }
    }

    pub fn transport(self) -> Transport {
        match self {
            Self::Ws => Transport::Plain,
            Self::Socketio => Transport::SocketIo,
        }
    }

    /// The WebSocket URL path (and query) of this peer.
    pub fn path(self) -> &'static str {
        match self {
            Self::Ws => "/ws",
            Self::Socketio => "/socket.io/?EIO=4&transport=websocket",
        }
    }
}

/// The show id used with a peer (peers have no REST set-up: any show id works).
pub const PEER_SHOW: &str = "peer-bench";

/// Running a scenario against a peer server instead of ocop-live.
#[derive(Debug, Clone, Args)]
pub struct PeerArgs {
    /// Run against a peer server (no REST set-up; the show is `peer-bench`). With --url the
    /// peer is already running (for socketio give ws://HOST:PORT/socket.io/?EIO=4&transport=websocket);
    /// with --spawn-peer it is started.
    #[arg(long, value_enum, conflicts_with = "spawn_server")]
    pub peer: Option<Peer>,

    /// Start `node <peer-dir>/<peer>/server.js --port <free port>`, wait for /healthz, measure
    /// its memory and CPU like a spawned ocop-live, and stop it at the end.
    #[arg(long, requires = "peer")]
    pub spawn_peer: bool,

    /// Directory holding the peer servers (each with its node_modules installed).
    #[arg(long, value_name = "DIR", default_value = "loadtest/peers")]
    pub peer_dir: PathBuf,

    /// The Node.js binary for --spawn-peer.
    #[arg(long, value_name = "PATH", default_value = "node")]
    pub node: PathBuf,

    /// Where the spawned peer's stdout and stderr go. Default: ocop-live-loadtest-<pid>-<peer>.log
    /// in the temporary directory.
    #[arg(long, value_name = "PATH", requires = "spawn_peer")]
    pub peer_log: Option<PathBuf>,

    /// Redis for the spawned peer (its `REDIS_URL`): the Socket.IO peer then uses
    /// @socket.io/redis-adapter, and both peers run the flash sale on it, with the order script
    /// of ocop-live written to a temporary file (`ORDER_SCRIPT`). Needed for `flash-sale`.
    #[arg(long, value_name = "URL", requires = "spawn_peer")]
    pub peer_redis_url: Option<String>,
}

/// The server under test, as resolved at start-up: one or more nodes.
#[derive(Debug)]
pub struct ServerUnderTest {
    /// One WebSocket target per node.
    pub targets: Vec<Target>,
    /// The nodes' process ids, when known (spawned, or given with --server-pid).
    pub pids: Vec<u32>,
    pub spawned: Vec<SpawnedServer>,
    /// The arguments the spawned nodes got after `--listen`.
    pub server_args: Vec<String>,
}

/// True when `args` already set `flag` (as `--flag value` or `--flag=value`).
fn has_flag(args: &[String], flag: &str) -> bool {
    args.iter().any(|a| a == flag || a.strip_prefix(flag).is_some_and(|rest| rest.starts_with('=')))
}

impl ServerUnderTest {
    /// Starts the server node(s) if asked to, and resolves the target URLs. `defaults` are
    /// flags the scenario wants on a spawned server (raised limits), each dropped when the
    /// user gave the same flag with --server-arg.
    pub async fn prepare(conn: &ConnArgs, server: &ServerArgs, defaults: &[(&str, String)]) -> anyhow::Result<Self> {
        anyhow::ensure!(!conn.urls.is_empty(), "give at least one --url");
        let mut targets = Vec::with_capacity(conn.urls.len());
        for url in &conn.urls {
            targets.push(Target::resolve(url).await?);
        }
        if let Some(binary) = &server.spawn_server {
            let mut args = Vec::new();
            if !server.no_demo && !has_flag(&server.server_args, "--demo") {
                args.push("--demo".to_owned());
            }
            for (flag, value) in defaults {
                if !has_flag(&server.server_args, flag) {
                    args.push((*flag).to_owned());
                    args.push(value.clone());
                }
            }
            args.extend(server.server_args.iter().cloned());
            if server.nodes > 1 && !has_flag(&args, "--redis-url") && std::env::var_os("REDIS_URL").is_none() {
                bail!(
                    "--nodes {} needs a shared Redis: add --server-arg --redis-url --server-arg redis://127.0.0.1:<port>/ \
                     --server-arg --jwt-secret --server-arg <32+ characters>",
                    server.nodes
                );
            }
            let log = match &server.server_log {
                Some(p) => p.clone(),
                None => std::env::temp_dir().join(format!("ocop-live-loadtest-{}.log", std::process::id())),
            };
            let mut spawned = Vec::new();
            let mut sut = Self { targets: Vec::new(), pids: Vec::new(), spawned: Vec::new(), server_args: args };
            for i in 0..server.nodes {
                let log = if i == 0 { log.clone() } else { PathBuf::from(format!("{}.{i}", log.display())) };
                eprintln!(
                    "starting {} --listen 127.0.0.1:<free port> {} (log: {})",
                    binary.display(),
                    sut.server_args.join(" "),
                    log.display()
                );
                match SpawnedServer::start(binary, &sut.server_args, log, Duration::from_secs(server.server_ready_secs))
                    .await
                {
                    Ok(node) => {
                        eprintln!("server pid {} is up on {}", node.pid, node.addr);
                        spawned.push(node);
                    }
                    Err(e) => {
                        for node in spawned {
                            let _ = node.stop(Duration::from_secs(5)).await;
                        }
                        return Err(e);
                    }
                }
            }
            for node in &spawned {
                sut.targets.push(targets[0].with_addr(node.addr)?);
                sut.pids.push(node.pid);
            }
            sut.spawned = spawned;
            return Ok(sut);
        }
        for pid in &server.server_pids {
            procfs::sample(procfs::Proc::Pid(*pid)).with_context(|| format!("cannot sample server pid {pid}"))?;
        }
        Ok(Self { targets, pids: server.server_pids.clone(), spawned: Vec::new(), server_args: Vec::new() })
    }

    /// Resolves the peer to run against (starting it with --spawn-peer).
    pub async fn prepare_peer(conn: &ConnArgs, server: &ServerArgs, peer_args: &PeerArgs) -> anyhow::Result<Self> {
        let peer = peer_args.peer.context("no --peer given")?;
        if !peer_args.spawn_peer {
            anyhow::ensure!(!conn.urls.is_empty(), "give at least one --url");
            let mut targets = Vec::with_capacity(conn.urls.len());
            for url in &conn.urls {
                targets.push(Target::resolve(url).await?.with_transport(peer.transport()));
            }
            for pid in &server.server_pids {
                procfs::sample(procfs::Proc::Pid(*pid)).with_context(|| format!("cannot sample peer pid {pid}"))?;
            }
            return Ok(Self {
                targets,
                pids: server.server_pids.clone(),
                spawned: Vec::new(),
                server_args: Vec::new(),
            });
        }
        let script = peer_args.peer_dir.join(peer.name()).join("server.js");
        anyhow::ensure!(script.is_file(), "peer server {} not found (see --peer-dir)", script.display());
        let modules = peer_args.peer_dir.join(peer.name()).join("node_modules");
        anyhow::ensure!(
            modules.is_dir(),
            "{} is missing: run `npm ci` in {} first",
            modules.display(),
            peer_args.peer_dir.join(peer.name()).display()
        );
        let log = match &peer_args.peer_log {
            Some(p) => p.clone(),
            None => std::env::temp_dir().join(format!("ocop-live-loadtest-{}-{}.log", std::process::id(), peer.name())),
        };
        let mut env = Vec::new();
        if let Some(url) = &peer_args.peer_redis_url {
            let lua = std::env::temp_dir().join(format!("ocop-live-loadtest-{}-order.lua", std::process::id()));
            std::fs::write(&lua, ocop_live::engine::sales_redis::place_offer_lua())
                .with_context(|| format!("cannot write {}", lua.display()))?;
            env.push(("REDIS_URL", url.clone()));
            env.push(("ORDER_SCRIPT", lua.display().to_string()));
        }
        eprintln!("starting {} {} (log: {})", peer_args.node.display(), script.display(), log.display());
        let node = SpawnedServer::start_node(
            &peer_args.node,
            &script,
            &env,
            log,
            Duration::from_secs(server.server_ready_secs),
        )
        .await?;
        eprintln!("peer {} pid {} is up on {}", peer.name(), node.pid, node.addr);
        let url = format!("ws://{}{}", node.addr, peer.path());
        let target = Target::resolve(&url).await?.with_transport(peer.transport());
        Ok(Self {
            targets: vec![target],
            pids: vec![node.pid],
            server_args: vec![script.display().to_string()],
            spawned: vec![node],
        })
    }

    /// The first node.
    pub fn target(&self) -> &Target {
        &self.targets[0]
    }

    /// The node for client number `i` (round robin).
    pub fn target_for(&self, i: usize) -> &Target {
        &self.targets[i % self.targets.len()]
    }

    /// Total CPU time used so far by the known server processes, in microseconds.
    pub fn cpu_micros(&self) -> Option<u64> {
        if self.pids.is_empty() { None } else { procfs::cpu_micros_all(&self.pids) }
    }

    /// Stops the spawned nodes (if any) and describes how they ended.
    pub async fn finish(self) -> Option<String> {
        if self.spawned.is_empty() {
            return None;
        }
        let mut out = Vec::new();
        for node in self.spawned {
            out.push(match node.stop(Duration::from_secs(10)).await {
                Ok(status) => status.to_string(),
                Err(e) => format!("could not stop server: {e:#}"),
            });
        }
        Some(out.join("; "))
    }
}

/// Which show the scenario uses, and who runs it.
#[derive(Debug, Clone, Args)]
pub struct ShowArgs {
    /// The seller account that runs the show (a demo seller by default).
    #[arg(long, default_value = DEMO_SELLER)]
    pub seller_email: String,

    /// That seller's password.
    #[arg(long, default_value = DEMO_PASSWORD)]
    pub seller_password: String,

    /// Use this live show of the seller (its first lineup product) instead of creating a
    /// product and a show for the run.
    #[arg(long, value_name = "SHOW_ID")]
    pub show: Option<String>,
}

/// A live show ready for a scenario.
#[derive(Debug, Clone)]
pub struct ShowSetup {
    pub api: Api,
    pub seller: Account,
    pub show_id: String,
    pub product_id: String,
    /// `show:<id>`.
    pub channel: String,
}

/// List price of the product a run creates, in VND.
pub const PRODUCT_PRICE: i64 = 200_000;

/// Signs in as the seller and either takes the given show or creates a product with `stock`
/// units and a show with it in the lineup, and starts the show.
pub async fn setup_show(sut: &ServerUnderTest, args: &ShowArgs, stock: i64, tag: &str) -> anyhow::Result<ShowSetup> {
    let api = Api::for_target(sut.target())?;
    let seller = api.login(&args.seller_email, &args.seller_password).await.with_context(|| {
        format!("cannot sign in as the seller {} (a server started with --demo has this account)", args.seller_email)
    })?;
    let (show_id, product_id) = match &args.show {
        Some(show) => {
            let v = api.get_show(show).await?;
            if v["status"] != "live" {
                bail!("show {show} is {}, not live", v["status"]);
            }
            let product = v["lineup"][0]["product_id"]
                .as_str()
                .with_context(|| format!("show {show} has no product in its lineup"))?
                .to_owned();
            (show.clone(), product)
        }
        None => {
            let product = api
                .create_product(&seller.token, &format!("Mật ong bạc hà (đo tải {tag})"), PRODUCT_PRICE, stock)
                .await?;
            let show = api.create_show(&seller.token, &format!("Đo tải {tag}"), &product).await?;
            api.start_show(&seller.token, &show).await?;
            (show, product)
        }
    };
    eprintln!("show {show_id} is live (seller {}, product {product_id})", args.seller_email);
    Ok(ShowSetup { api, seller, channel: format!("show:{show_id}"), show_id, product_id })
}

/// A short tag that differs between runs (base 36 of the time in ms and the pid), for names,
/// e-mails and idempotency keys.
pub fn run_tag() -> String {
    let ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
    let mut n = ms.wrapping_mul(1000).wrapping_add(u64::from(std::process::id() % 1000));
    let mut s = Vec::new();
    while n > 0 {
        s.push(b"0123456789abcdefghijklmnopqrstuvwxyz"[(n % 36) as usize]);
        n /= 36;
    }
    s.reverse();
    String::from_utf8(s).unwrap_or_default()
}

/// Microseconds since the Unix epoch (the clock embedded in chat texts).
pub fn unix_micros() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_micros() as u64)
}

/// The source address for connection number `i` (round robin), if any.
pub fn pick_source(sources: &[IpAddr], i: usize) -> Option<IpAddr> {
    (!sources.is_empty()).then(|| sources[i % sources.len()])
}

/// Writes a report as pretty JSON.
pub fn write_json<T: Serialize>(path: &Path, report: &T) -> anyhow::Result<()> {
    let json = serde_json::to_string_pretty(report)?;
    std::fs::write(path, json + "\n").with_context(|| format!("cannot write {}", path.display()))?;
    eprintln!("report written to {}", path.display());
    Ok(())
}

/// A line printed to stderr every second while a phase runs; stops when dropped.
pub struct Progress(tokio::task::JoinHandle<()>);

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Progress")
    }
}

impl Progress {
    pub fn start(line: impl Fn(Duration) -> String + Send + 'static) -> Self {
        let started = Instant::now();
        Self(tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            tick.tick().await;
            loop {
                tick.tick().await;
                eprintln!("  {:>6.1} s: {}", started.elapsed().as_secs_f64(), line(started.elapsed()));
            }
        }))
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Spawns `n` connection tasks with at most `concurrency` establishing at once: each task
/// gets a permit and drops it once its connection is established (or failed). Returns the
/// spawner, which yields the tasks when all are started.
pub fn spawn_staged<F, Fut>(n: usize, concurrency: usize, make: F) -> tokio::task::JoinHandle<JoinSet<()>>
where
    F: Fn(usize, OwnedSemaphorePermit) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    tokio::spawn(async move {
        let semaphore = Arc::new(Semaphore::new(concurrency.max(1)));
        let mut tasks = JoinSet::new();
        for i in 0..n {
            let permit = semaphore.clone().acquire_owned().await.expect("semaphore is never closed");
            tasks.spawn(make(i, permit));
        }
        tasks
    })
}

/// The local source addresses for `n` connections: 127.0.0.2 … 127.0.0.(1+K).
/// Checks that each address is usable and that the ports per address fit the
/// kernel's ephemeral range.
pub fn source_addrs(n: usize, sources: Option<usize>, target: &Target) -> anyhow::Result<Vec<IpAddr>> {
    let k = sources.unwrap_or_else(|| n.div_ceil(CONNECTIONS_PER_SOURCE).max(1));
    if k == 0 {
        return Ok(Vec::new());
    }
    if k > 254 {
        bail!("--sources {k}: at most 254 addresses (127.0.0.2 … 127.0.0.255)");
    }
    match target.addr {
        SocketAddr::V4(v4) if v4.ip().is_loopback() => {}
        other => bail!(
            "local source addresses 127.0.0.x only reach loopback IPv4 targets, not {other}; \
             use --sources 0"
        ),
    }
    let (lo, hi) = procfs::local_port_range()?;
    let ports = usize::from(hi - lo) + 1;
    let per_source = n.div_ceil(k);
    if per_source > ports {
        bail!(
            "{per_source} connections per source address exceed the {ports} ephemeral ports \
             ({lo}-{hi}); use --sources {}",
            n.div_ceil(ports)
        );
    }
    let addrs: Vec<IpAddr> = (0..k).map(|i| IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2 + i as u8))).collect();
    for ip in &addrs {
        UdpSocket::bind((*ip, 0)).with_context(|| format!("source address {ip} is not usable"))?;
    }
    Ok(addrs)
}

/// What was found about the open-files limit before a run.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct FdBudget {
    pub needed: u64,
    pub limit: Limit,
}

/// Raises the soft open-files limit to the hard limit and refuses the run when
/// `connections` (plus some spare descriptors) do not fit.
pub fn ensure_fd_budget(connections: usize) -> anyhow::Result<FdBudget> {
    let needed = connections as u64 + SPARE_FDS;
    let limit = procfs::raise_nofile_to_hard()?;
    if let Some(soft) = limit.soft
        && soft < needed
    {
        let hard = limit.hard.map_or_else(|| "unlimited".to_owned(), |h| h.to_string());
        bail!(
            "{connections} connections need about {needed} file descriptors, but this process may \
             open only {soft} (RLIMIT_NOFILE soft limit; hard limit {hard}). Lower --connections, \
             or raise the limit before running, e.g. `ulimit -n {needed}`"
        );
    }
    Ok(FdBudget { needed, limit })
}

/// Warns when a server we did not start has a lower open-files limit than the run needs.
pub fn check_server_fd_limit(pid: u32, connections: usize) {
    let needed = connections as u64 + SPARE_FDS;
    if let Ok(Limit { soft: Some(soft), .. }) = procfs::nofile_limit(procfs::Proc::Pid(pid))
        && soft < needed
    {
        eprintln!(
            "warning: server pid {pid} may open only {soft} file descriptors; \
             {connections} connections need about {needed}"
        );
    }
}

/// Resolves when `signal` turns true (or its sender is gone).
pub async fn signalled(signal: &mut tokio::sync::watch::Receiver<bool>) {
    let _ = signal.wait_for(|s| *s).await;
}
