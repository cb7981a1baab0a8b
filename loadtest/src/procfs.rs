//! Small readers for Linux `/proc`: resident memory, open descriptors, limits.

use std::fs;

use anyhow::{Context as _, bail};
use serde::Serialize;

/// A process selector for `/proc/<which>/…`.
#[derive(Debug, Clone, Copy)]
pub enum Proc {
    /// This process (`/proc/self`).
    Current,
    Pid(u32),
}

impl Proc {
    fn path(self, file: &str) -> String {
        match self {
            Self::Current => format!("/proc/self/{file}"),
            Self::Pid(pid) => format!("/proc/{pid}/{file}"),
        }
    }
}

/// Memory and thread figures from `/proc/<pid>/status`, plus the open fd count.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Sample {
    /// Resident set size (`VmRSS`), KiB.
    pub rss_kib: u64,
    /// Peak resident set size (`VmHWM`), KiB.
    pub hwm_kib: u64,
    pub threads: u64,
    /// Open file descriptors; `None` when `/proc/<pid>/fd` is not readable.
    pub fds: Option<u64>,
}

/// Reads `VmRSS`, `VmHWM`, `Threads` and the fd count of a process.
pub fn sample(proc: Proc) -> anyhow::Result<Sample> {
    let path = proc.path("status");
    let status = fs::read_to_string(&path).with_context(|| format!("cannot read {path}"))?;
    let field = |name: &str| -> anyhow::Result<u64> {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.trim_start_matches(':').split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .with_context(|| format!("{path} has no {name} line"))
    };
    let fds = fs::read_dir(proc.path("fd")).ok().map(|dir| dir.count() as u64);
    Ok(Sample { rss_kib: field("VmRSS")?, hwm_kib: field("VmHWM")?, threads: field("Threads")?, fds })
}

/// A resource limit; `None` means unlimited.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Limit {
    pub soft: Option<u64>,
    pub hard: Option<u64>,
}

/// Reads the open-files limit (`RLIMIT_NOFILE`) of a process from `/proc/<pid>/limits`.
pub fn nofile_limit(proc: Proc) -> anyhow::Result<Limit> {
    let path = proc.path("limits");
    let text = fs::read_to_string(&path).with_context(|| format!("cannot read {path}"))?;
    let line = text
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .with_context(|| format!("{path} has no 'Max open files' line"))?;
    let mut values = line["Max open files".len()..].split_whitespace();
    let parse = |v: Option<&str>| -> anyhow::Result<Option<u64>> {
        match v {
            Some("unlimited") => Ok(None),
            Some(v) => Ok(Some(v.parse().with_context(|| format!("bad limit {v:?}"))?)),
            None => bail!("truncated 'Max open files' line in {path}"),
        }
    };
    Ok(Limit { soft: parse(values.next())?, hard: parse(values.next())? })
}

/// Raises this process's soft open-files limit to its hard limit, using the
/// `prlimit` tool from util-linux (the crate forbids `unsafe`, so no direct
/// `setrlimit`). Returns the limit in force afterwards; when `prlimit` is not
/// available the limit is left as it was and the caller reports it.
pub fn raise_nofile_to_hard() -> anyhow::Result<Limit> {
    let before = nofile_limit(Proc::Current)?;
    let target = match (before.soft, before.hard) {
        (Some(soft), Some(hard)) if soft < hard => hard.to_string(),
        (Some(_), None) => "unlimited".to_owned(),
        _ => return Ok(before),
    };
    let status = std::process::Command::new("prlimit")
        .arg("--pid")
        .arg(std::process::id().to_string())
        .arg(format!("--nofile={target}:"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
    if !matches!(status, Ok(s) if s.success()) {
        return Ok(before);
    }
    nofile_limit(Proc::Current)
}

/// The kernel's ephemeral port range (`net.ipv4.ip_local_port_range`).
pub fn local_port_range() -> anyhow::Result<(u16, u16)> {
    let path = "/proc/sys/net/ipv4/ip_local_port_range";
    let text = fs::read_to_string(path).with_context(|| format!("cannot read {path}"))?;
    let mut it = text.split_whitespace().map(str::parse::<u16>);
    match (it.next(), it.next()) {
        (Some(Ok(lo)), Some(Ok(hi))) if lo <= hi => Ok((lo, hi)),
        _ => bail!("cannot parse {path}: {text:?}"),
    }
}

/// A counter from the `TcpExt` block of `/proc/net/netstat` (network-namespace
/// wide), e.g. `ListenOverflows`: connections dropped because a listen queue
/// was full. `None` when the file or the counter is missing.
pub fn tcp_ext_counter(name: &str) -> Option<u64> {
    let text = fs::read_to_string("/proc/net/netstat").ok()?;
    let mut lines = text.lines().filter(|l| l.starts_with("TcpExt:"));
    let (names, values) = (lines.next()?, lines.next()?);
    let idx = names.split_whitespace().position(|n| n == name)?;
    values.split_whitespace().nth(idx)?.parse().ok()
}

/// Clock ticks per second for `/proc/<pid>/stat` times (`getconf CLK_TCK`; 100 when unknown).
pub fn clock_ticks_per_sec() -> u64 {
    static TICKS: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .filter(|t| *t > 0)
            .unwrap_or(100)
    })
}

/// CPU time (user + system) a process has used so far, in microseconds, from
/// `/proc/<pid>/stat` (resolution: one clock tick, usually 10 ms).
pub fn cpu_micros(proc: Proc) -> anyhow::Result<u64> {
    let path = proc.path("stat");
    let text = fs::read_to_string(&path).with_context(|| format!("cannot read {path}"))?;
    // The command name (field 2) may contain spaces; fields after it start past the last ')'.
    let rest = text.rsplit_once(')').map(|(_, r)| r).with_context(|| format!("cannot parse {path}"))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state is field 3, so utime (14) and stime (15) are at 11 and 12.
    let tick = |i: usize| -> anyhow::Result<u64> {
        fields.get(i).and_then(|v| v.parse().ok()).with_context(|| format!("{path}: no field {}", i + 3))
    };
    let ticks = tick(11)? + tick(12)?;
    Ok(ticks * 1_000_000 / clock_ticks_per_sec())
}

/// Total CPU time of several processes, in microseconds; `None` if any cannot be read.
pub fn cpu_micros_all(pids: &[u32]) -> Option<u64> {
    pids.iter().map(|pid| cpu_micros(Proc::Pid(*pid)).ok()).sum()
}
