//! A connection's outbound queue: bounded in bytes, drained by the connection's task (the one
//! task that also reads the socket, see `transport::ws`) when it turns to writing.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::extract::ws::Utf8Bytes;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::realtime::protocol::Disconnect;

/// Frames waiting for one client. Pushing never blocks: a client whose queue would exceed its
/// byte budget is closed with 4008 instead, so one slow phone never stalls a broadcast.
pub struct Outbound {
    /// Held only to append or swap out the queue; never across an await.
    state: Mutex<QueueState>,
    /// Wakes the connection's task when frames arrive (a stored permit means no wake-up is lost).
    ready: Notify,
    /// Cancelled when the connection must end (a child of the server's shutdown token); the
    /// connection's task watches it while it reads and while it writes.
    closing: CancellationToken,
    max_bytes: usize,
    /// When the connection started, and when the peer last sent anything (ms after start):
    /// the dead-peer check reads what reading the socket records.
    started: Instant,
    last_seen_ms: AtomicU64,
}

struct QueueState {
    frames: VecDeque<Utf8Bytes>,
    bytes: usize,
    close: Option<Disconnect>,
}

/// What the connection's task takes from the queue in one go.
pub struct Batch {
    pub frames: VecDeque<Utf8Bytes>,
    pub bytes: usize,
    pub close: Option<Disconnect>,
}

impl Outbound {
    /// A queue of at most `max_bytes`; `closing` ends the connection when cancelled.
    pub fn new(max_bytes: usize, closing: CancellationToken) -> Self {
        Self {
            state: Mutex::new(QueueState { frames: VecDeque::new(), bytes: 0, close: None }),
            ready: Notify::new(),
            closing,
            max_bytes,
            started: Instant::now(),
            last_seen_ms: AtomicU64::new(0),
        }
    }

    /// Milliseconds since the connection started.
    pub fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    /// Records that the peer sent something.
    pub fn seen(&self) {
        self.last_seen_ms.store(self.now_ms(), Ordering::Relaxed);
    }

    /// When the peer last sent something, in [`Outbound::now_ms`] time.
    pub fn last_seen_ms(&self) -> u64 {
        self.last_seen_ms.load(Ordering::Relaxed)
    }

    /// Queues a frame; false when the connection is closing (now or because of this frame).
    pub fn push(&self, frame: Utf8Bytes) -> bool {
        let mut state = self.state.lock().unwrap();
        if state.close.is_some() {
            return false;
        }
        if state.bytes + frame.len() > self.max_bytes {
            state.close = Some(Disconnect::SLOW);
            drop(state);
            self.closing.cancel();
            self.ready.notify_one();
            return false;
        }
        state.bytes += frame.len();
        state.frames.push_back(frame);
        drop(state);
        self.ready.notify_one();
        true
    }

    /// Asks the connection's task to send `reason` and end the connection; the first reason wins.
    pub fn close(&self, reason: Disconnect) {
        let mut state = self.state.lock().unwrap();
        if state.close.is_none() {
            state.close = Some(reason);
        }
        drop(state);
        self.closing.cancel();
        self.ready.notify_one();
    }

    /// The reason the connection is closing, if it is.
    pub fn close_reason(&self) -> Option<Disconnect> {
        self.state.lock().unwrap().close.clone()
    }

    /// Takes everything queued, leaving an empty queue that holds no allocation.
    pub fn take(&self) -> Batch {
        let mut state = self.state.lock().unwrap();
        let frames = std::mem::take(&mut state.frames);
        let bytes = std::mem::replace(&mut state.bytes, 0);
        Batch { frames, bytes, close: state.close.clone() }
    }

    /// Resolves when frames may be waiting.
    pub async fn ready(&self) {
        self.ready.notified().await;
    }

    pub fn closing(&self) -> &CancellationToken {
        &self.closing
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::realtime::protocol::CloseCode;

    #[test]
    fn overflow_closes_with_too_slow_and_refuses_more() {
        let q = Outbound::new(10, CancellationToken::new());
        assert!(q.push("12345".into()));
        assert!(q.push("12345".into()));
        assert!(!q.push("1".into()));
        assert!(q.closing().is_cancelled());
        assert_eq!(q.close_reason().map(|d| d.code), Some(CloseCode::TooSlow));
        let batch = q.take();
        assert_eq!(batch.frames.len(), 2);
        assert_eq!(batch.bytes, 10);
        assert!(!q.push("x".into()));
    }

    #[test]
    fn first_close_reason_wins() {
        let q = Outbound::new(100, CancellationToken::new());
        q.close(Disconnect::RESTARTING);
        q.close(Disconnect::ABUSE);
        assert_eq!(q.close_reason(), Some(Disconnect::RESTARTING));
    }

    #[test]
    fn take_resets_the_budget() {
        let q = Outbound::new(10, CancellationToken::new());
        assert!(q.push("1234567890".into()));
        q.take();
        assert!(q.push("1234567890".into()));
    }
}
