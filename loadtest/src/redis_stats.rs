//! `INFO commandstats` over a plain RESP connection: how many commands of each kind a Redis
//! server ran, read before and after a scenario so the difference is what the scenario cost.

use std::collections::BTreeMap;

use anyhow::Context as _;
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::TcpStream;

/// Calls per command name (lower case, as Redis reports them).
pub type CommandCounts = BTreeMap<String, u64>;

/// Reads the command counters of the Redis server at `url` (`redis://host:port/…`).
pub async fn command_counts(url: &str) -> anyhow::Result<CommandCounts> {
    let rest = url.strip_prefix("redis://").context("--redis-stats takes a redis:// URL")?;
    let host = rest.split('/').next().unwrap_or(rest);
    let host = host.rsplit('@').next().unwrap_or(host);
    let mut stream = TcpStream::connect(host).await.with_context(|| format!("cannot reach Redis at {host}"))?;
    stream.write_all(b"*2\r\n$4\r\nINFO\r\n$12\r\ncommandstats\r\n").await?;
    let mut reader = BufReader::new(stream);
    let mut header = String::new();
    reader.read_line(&mut header).await?;
    let len: usize = header
        .strip_prefix('$')
        .and_then(|l| l.trim_end().parse().ok())
        .with_context(|| format!("unexpected INFO reply {header:?}"))?;
    let mut body = vec![0; len];
    reader.read_exact(&mut body).await?;
    Ok(parse(&String::from_utf8_lossy(&body)))
}

/// `cmdstat_get:calls=12,usec=…` lines into `{"get": 12}`.
fn parse(info: &str) -> CommandCounts {
    info.lines()
        .filter_map(|line| {
            let (name, fields) = line.strip_prefix("cmdstat_")?.split_once(':')?;
            let calls = fields.split(',').find_map(|f| f.strip_prefix("calls="))?.parse().ok()?;
            Some((name.to_owned(), calls))
        })
        .collect()
}

/// What ran between two readings (the `INFO` call itself left out).
pub fn delta(before: &CommandCounts, after: &CommandCounts) -> CommandCounts {
    after
        .iter()
        .filter(|(name, _)| name.as_str() != "info")
        .map(|(name, calls)| (name.clone(), calls.saturating_sub(before.get(name).copied().unwrap_or(0))))
        .filter(|(_, calls)| *calls > 0)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_calls_and_subtracts() {
        let before = parse(
            "# Commandstats\r\ncmdstat_evalsha:calls=10,usec=5,usec_per_call=0.5\r\ncmdstat_info:calls=1,usec=1\r\n",
        );
        let after =
            parse("cmdstat_evalsha:calls=25,usec=9\r\ncmdstat_get:calls=3,usec=1\r\ncmdstat_info:calls=2,usec=1\r\n");
        assert_eq!(before.get("evalsha"), Some(&10));
        let d = delta(&before, &after);
        assert_eq!(d.get("evalsha"), Some(&15));
        assert_eq!(d.get("get"), Some(&3));
        assert!(!d.contains_key("info"));
    }
}
