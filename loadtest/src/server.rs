//! Starting and stopping a server process for a run, and tiny HTTP probes.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tokio::time::{sleep, timeout};

/// A server process started by the load generator. It is killed if dropped
/// without [`SpawnedServer::stop`].
#[derive(Debug)]
pub struct SpawnedServer {
    child: Child,
    pub pid: u32,
    pub addr: SocketAddr,
    pub log: PathBuf,
}

/// Picks a free TCP port on 127.0.0.1 by binding port 0 and releasing it.
pub fn free_local_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("cannot bind 127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

impl SpawnedServer {
    /// Starts `binary --listen 127.0.0.1:<free port> [extra args]`, with stdout
    /// and stderr appended to `log`, and waits until `GET /healthz` answers 200.
    pub async fn start(
        binary: &Path,
        extra_args: &[String],
        log: PathBuf,
        ready_timeout: Duration,
    ) -> anyhow::Result<Self> {
        let port = free_local_port()?;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let mut command = Command::new(binary);
        command.arg("--listen").arg(addr.to_string()).args(extra_args);
        Self::launch(command, &binary.display().to_string(), addr, log, ready_timeout).await
    }

    /// Starts a peer server, `node <script> --port <free port>` (the script also gets
    /// `PORT`, `HOST=127.0.0.1` and `env`), and waits for its `GET /healthz` like
    /// [`SpawnedServer::start`].
    pub async fn start_node(
        node: &Path,
        script: &Path,
        env: &[(&str, String)],
        log: PathBuf,
        ready_timeout: Duration,
    ) -> anyhow::Result<Self> {
        let port = free_local_port()?;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let mut command = Command::new(node);
        command.arg(script).arg("--port").arg(port.to_string()).env("PORT", port.to_string()).env("HOST", "127.0.0.1");
        command.envs(env.iter().map(|(k, v)| (*k, v.as_str())));
        Self::launch(command, &format!("{} {}", node.display(), script.display()), addr, log, ready_timeout).await
    }

    async fn launch(
        mut command: Command,
        what: &str,
        addr: SocketAddr,
        log: PathBuf,
        ready_timeout: Duration,
    ) -> anyhow::Result<Self> {
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .with_context(|| format!("cannot open server log {}", log.display()))?;
        let child = command
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start {what}"))?;
        let pid = child.id().context("server process exited before its pid could be read")?;
        let mut server = Self { child, pid, addr, log };

        let deadline = Instant::now() + ready_timeout;
        loop {
            if let Some(status) = server.child.try_wait()? {
                bail!("server exited during start-up ({status}); see {}", server.log.display());
            }
            if let Ok(200) = http_get_status(addr, "/healthz", Duration::from_secs(1)).await {
                return Ok(server);
            }
            if Instant::now() >= deadline {
                bail!(
                    "server did not answer GET /healthz with 200 on {addr} within {ready_timeout:?}; see {}",
                    server.log.display()
                );
            }
            sleep(Duration::from_millis(100)).await;
        }
    }

    /// Sends SIGTERM (through `kill(1)`, as the crate forbids `unsafe`), waits
    /// up to `grace` for the process to exit, then kills it.
    pub async fn stop(mut self, grace: Duration) -> anyhow::Result<ExitStatus> {
        if let Some(status) = self.child.try_wait()? {
            return Ok(status);
        }
        let term_sent = Command::new("kill")
            .arg("-TERM")
            .arg(self.pid.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .await
            .is_ok_and(|s| s.success());
        if term_sent && let Ok(status) = timeout(grace, self.child.wait()).await {
            return Ok(status?);
        }
        self.child.kill().await?;
        Ok(self.child.wait().await?)
    }
}

/// Issues `GET path` over a fresh HTTP/1.1 connection (`Connection: close`)
/// and returns the response status code.
pub async fn http_get_status(addr: SocketAddr, path: &str, wait: Duration) -> anyhow::Result<u16> {
    // Only the status line is needed: read until it is complete, and keep what
    // arrived even if the peer then resets the connection.
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await?;
        let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nAccept: */*\r\n\r\n");
        stream.write_all(request.as_bytes()).await?;
        let mut raw = Vec::new();
        let mut chunk = [0u8; 512];
        while !raw.contains(&b'\n') {
            match stream.read(&mut chunk).await {
                Ok(0) => break,
                Ok(n) => raw.extend_from_slice(&chunk[..n]),
                Err(e) if raw.is_empty() => return Err(e.into()),
                Err(_) => break,
            }
        }
        anyhow::Ok(raw)
    };
    let raw = timeout(wait, exchange).await.with_context(|| format!("GET {path} on {addr} timed out"))??;
    let text = String::from_utf8_lossy(&raw);
    text.lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|code| code.parse().ok())
        .with_context(|| format!("GET {path} on {addr}: no HTTP status line"))
}
