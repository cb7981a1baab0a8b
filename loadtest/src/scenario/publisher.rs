//! An open-loop chat publisher: one signed-in connection sends `chat.send` at a
//! fixed rate without waiting for replies, each text carrying the time it was
//! scheduled for (`t=<unix µs> n=<seq> r=<run tag>`), so receivers can measure
//! per-delivery latency. Latency counts from the scheduled time, so a
//! publisher that falls behind does not hide the delay (no coordinated omission).

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use futures_util::{SinkExt as _, StreamExt as _};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::watch;
use tokio::time::{sleep_until, timeout};
use tokio_tungstenite::tungstenite::Message;

use crate::client::{Client, SIO_PONG, Target, Unwrapped, unwrap_text};
use crate::stats::{Latencies, LatencySummary, Tally};

/// Live counters, read by progress lines.
#[derive(Debug, Default)]
pub struct PublisherCounters {
    pub sent: AtomicU64,
    pub acked: AtomicU64,
    pub failed: AtomicU64,
}

/// What the publisher did.
#[derive(Debug, Clone, Serialize)]
pub struct PublisherReport {
    pub rate_per_sec: f64,
    pub sent: u64,
    /// `chat.send` replies with ok: messages the server accepted and published.
    pub acked: u64,
    /// Replies with an error, by code.
    pub errors: Tally,
    /// Messages without a reply when the publisher stopped.
    pub unanswered: u64,
    /// Send to ok-reply, milliseconds.
    pub ack_latency: Option<LatencySummary>,
    /// Largest delay of a send behind its schedule, milliseconds.
    pub max_send_lag_ms: f64,
    pub seconds: f64,
}

/// A chat text this run published: `t=<unix µs> n=<seq> r=<tag>`.
pub fn chat_text(scheduled_unix_us: u64, seq: u64, tag: &str) -> String {
    format!("t={scheduled_unix_us} n={seq} r={tag}")
}

/// Parses [`chat_text`]: `(scheduled unix µs, seq)` when the text carries `tag`.
pub fn parse_chat_text(text: &str, tag: &str) -> Option<(u64, u64)> {
    let (mut t, mut n, mut r) = (None, None, None);
    for part in text.split_whitespace() {
        if let Some(v) = part.strip_prefix("t=") {
            t = v.parse().ok();
        } else if let Some(v) = part.strip_prefix("n=") {
            n = v.parse().ok();
        } else if let Some(v) = part.strip_prefix("r=") {
            r = Some(v);
        }
    }
    (r == Some(tag)).then_some(())?;
    Some((t?, n?))
}

/// Just the fields of a server frame that the event readers look at, borrowed
/// from the text where possible.
#[derive(Debug, Deserialize)]
pub struct LiteFrame<'a> {
    #[serde(default)]
    pub re: Option<u64>,
    #[serde(default)]
    pub ok: Option<bool>,
    #[serde(default, borrow)]
    pub ev: Option<Cow<'a, str>>,
    #[serde(default)]
    pub off: Option<u64>,
    #[serde(default, borrow)]
    pub data: Option<LiteData<'a>>,
    #[serde(default, borrow)]
    pub error: Option<LiteError<'a>>,
}

#[derive(Debug, Deserialize)]
pub struct LiteData<'a> {
    #[serde(default, borrow)]
    pub text: Option<Cow<'a, str>>,
}

#[derive(Debug, Deserialize)]
pub struct LiteError<'a> {
    #[serde(default, borrow)]
    pub code: Option<Cow<'a, str>>,
}

/// Publishes chat to `room` (`show:<id>`, or `booth:<id>` for a booth's Q&A) at `rate` messages a second until `duration` has passed (when
/// given) or `stop` turns true; then waits up to 5 s for the outstanding replies.
/// `target` must carry a token (a guest token is enough).
#[allow(clippy::too_many_arguments, reason = "plain task plumbing")]
pub async fn publish(
    target: Target,
    room: String,
    rate: f64,
    duration: Option<Duration>,
    tag: Arc<str>,
    mut stop: watch::Receiver<bool>,
    counters: Arc<PublisherCounters>,
    step_timeout: Duration,
) -> anyhow::Result<PublisherReport> {
    anyhow::ensure!(rate > 0.0 && rate.is_finite(), "the chat rate must be positive");
    let (kind, id) = room.split_once(':').context("the room is show:<id> or booth:<id>")?;
    let (kind, id) = (kind.to_owned(), id.to_owned());
    let transport = target.transport;
    let client = Client::connect(&target, None, step_timeout).await.context("publisher cannot connect")?;
    let (sink, mut stream) = client.into_stream().split();
    // Shared with the reader, which answers Socket.IO pings.
    let sink = Arc::new(tokio::sync::Mutex::new(sink));
    let sent_at: Arc<Mutex<HashMap<u64, Instant>>> = Arc::default();

    let reader = tokio::spawn({
        let (sent_at, counters, sink) = (sent_at.clone(), counters.clone(), sink.clone());
        async move {
            let mut errors = Tally::default();
            let mut latency = Latencies::default();
            while let Some(msg) = stream.next().await {
                let text = match msg {
                    Ok(Message::Text(t)) => t,
                    Ok(Message::Close(_)) | Err(_) => break,
                    Ok(_) => continue,
                };
                let inner = match unwrap_text(transport, text.as_str()) {
                    Unwrapped::Frame(inner) => inner,
                    Unwrapped::Ping => {
                        let _ = sink.lock().await.send(Message::text(SIO_PONG)).await;
                        continue;
                    }
                    Unwrapped::Other => continue,
                    Unwrapped::Disconnect => break,
                };
                let Ok(frame) = serde_json::from_str::<LiteFrame<'_>>(inner) else { continue };
                let Some(re) = frame.re else { continue };
                let started = sent_at.lock().expect("publisher lock").remove(&re);
                if frame.ok == Some(true) {
                    counters.acked.fetch_add(1, Ordering::Relaxed);
                    if let Some(s) = started {
                        latency.record(s.elapsed());
                    }
                } else {
                    counters.failed.fetch_add(1, Ordering::Relaxed);
                    let code = frame.error.and_then(|e| e.code).unwrap_or(Cow::Borrowed("no error code"));
                    errors.add(format!("chat.send error {code}"));
                }
            }
            (errors, latency)
        }
    });

    let interval = Duration::from_secs_f64(1.0 / rate);
    let started = Instant::now();
    let started_unix = super::unix_micros();
    let mut max_lag = Duration::ZERO;
    let mut seq: u64 = 0;
    let mut send_error = None;
    loop {
        let offset = interval.mul_f64(seq as f64);
        if duration.is_some_and(|d| offset >= d) || *stop.borrow() {
            break;
        }
        let due = started + offset;
        tokio::select! {
            () = sleep_until(due.into()) => {}
            _ = stop.changed() => break,
        }
        max_lag = max_lag.max(due.elapsed());
        seq += 1;
        let text = chat_text(started_unix + offset.as_micros() as u64, seq, &tag);
        let frame = json!({ "id": seq, "op": "chat.send", kind.as_str(): id, "text": text }).to_string();
        sent_at.lock().expect("publisher lock").insert(seq, Instant::now());
        if let Err(e) = sink.lock().await.send(Message::text(transport.wrap(frame))).await {
            send_error = Some(e.to_string());
            break;
        }
        counters.sent.fetch_add(1, Ordering::Relaxed);
    }
    let seconds = started.elapsed().as_secs_f64();
    let sent = counters.sent.load(Ordering::Relaxed);
    let _ = timeout(Duration::from_secs(5), async {
        while counters.acked.load(Ordering::Relaxed) + counters.failed.load(Ordering::Relaxed) < sent {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    let _ = sink.lock().await.close().await;
    let (mut errors, latency) = match timeout(Duration::from_secs(5), reader).await {
        Ok(Ok(r)) => r,
        _ => (Tally::default(), Latencies::default()),
    };
    if let Some(e) = send_error {
        errors.add(format!("send failed: {e}"));
    }
    let acked = counters.acked.load(Ordering::Relaxed);
    let failed = counters.failed.load(Ordering::Relaxed);
    Ok(PublisherReport {
        rate_per_sec: rate,
        sent,
        acked,
        errors,
        unanswered: sent.saturating_sub(acked + failed),
        ack_latency: latency.summary(),
        max_send_lag_ms: max_lag.as_secs_f64() * 1000.0,
        seconds,
    })
}

#[cfg(test)]
mod tests {
    use super::{chat_text, parse_chat_text};

    #[test]
    fn chat_texts_round_trip_and_ignore_other_runs() {
        let text = chat_text(1_795_929_870_123_456, 42, "abc123");
        assert_eq!(parse_chat_text(&text, "abc123"), Some((1_795_929_870_123_456, 42)));
        assert_eq!(parse_chat_text(&text, "other"), None);
        assert_eq!(parse_chat_text("Mật này có kết tinh không shop?", "abc123"), None);
    }
}
