//! Scenarios and the options and set-up steps they share.

pub mod idle;

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::Args;
use serde::Serialize;

use crate::client::Target;
use crate::procfs::{self, Limit};
use crate::server::SpawnedServer;

/// Connections planned per local source address when `--sources` is not given.
/// The default ephemeral port range (32768–60999) holds about 28,000 ports.
pub const CONNECTIONS_PER_SOURCE: usize = 20_000;

/// Descriptors kept spare beyond one per connection (stdio, epoll, probes…).
pub const SPARE_FDS: u64 = 64;

/// How clients reach the server.
#[derive(Debug, Clone, Args)]
pub struct ConnArgs {
    /// WebSocket URL of the server (host and port are replaced when --spawn-server is used).
    #[arg(long, env = "LOADTEST_URL", default_value = "ws://127.0.0.1:8080/ws")]
    pub url: String,

    /// Spread connections over the local source addresses 127.0.0.2 … 127.0.0.(1+K),
    /// binding each socket before connecting, so ephemeral ports do not run out.
    /// 0 lets the kernel pick the source. Default: one source per 20,000 connections.
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
    /// PID of an already running server whose memory is sampled from /proc.
    #[arg(long, value_name = "PID", conflicts_with = "spawn_server")]
    pub server_pid: Option<u32>,

    /// Start this server binary with `--listen 127.0.0.1:<free port>`, wait for
    /// /healthz, run against it, and stop it at the end.
    #[arg(long, value_name = "PATH")]
    pub spawn_server: Option<PathBuf>,

    /// Extra argument for the spawned server (repeatable).
    #[arg(long = "server-arg", value_name = "ARG", allow_hyphen_values = true, requires = "spawn_server")]
    pub server_args: Vec<String>,

    /// Where the spawned server's stdout and stderr go.
    /// Default: ocop-live-loadtest-<loadtest pid>.log in the temporary directory.
    #[arg(long, value_name = "PATH", requires = "spawn_server")]
    pub server_log: Option<PathBuf>,

    /// Seconds to wait for the spawned server to answer /healthz.
    #[arg(long, default_value_t = 30)]
    pub server_ready_secs: u64,
}

/// The server under test, as resolved at start-up.
#[derive(Debug)]
pub struct ServerUnderTest {
    pub target: Target,
    pub pid: Option<u32>,
    pub spawned: Option<SpawnedServer>,
}

impl ServerUnderTest {
    /// Starts the server if asked to, and resolves the target URL.
    pub async fn prepare(conn: &ConnArgs, server: &ServerArgs) -> anyhow::Result<Self> {
        let target = Target::resolve(&conn.url).await?;
        if let Some(binary) = &server.spawn_server {
            let log = match &server.server_log {
                Some(p) => p.clone(),
                None => std::env::temp_dir().join(format!("ocop-live-loadtest-{}.log", std::process::id())),
            };
            eprintln!("starting {} (log: {})", binary.display(), log.display());
            let spawned =
                SpawnedServer::start(binary, &server.server_args, log, Duration::from_secs(server.server_ready_secs))
                    .await?;
            eprintln!("server pid {} is up on {}", spawned.pid, spawned.addr);
            return Ok(Self {
                target: target.with_addr(spawned.addr)?,
                pid: Some(spawned.pid),
                spawned: Some(spawned),
            });
        }
        if let Some(pid) = server.server_pid {
            procfs::sample(procfs::Proc::Pid(pid)).with_context(|| format!("cannot sample server pid {pid}"))?;
        }
        Ok(Self { target, pid: server.server_pid, spawned: None })
    }

    /// Stops a spawned server (if any) and describes how it ended.
    pub async fn finish(self) -> Option<String> {
        let spawned = self.spawned?;
        Some(match spawned.stop(Duration::from_secs(10)).await {
            Ok(status) => status.to_string(),
            Err(e) => format!("could not stop server: {e:#}"),
        })
    }
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
