//! The engine: the small traits everything shared between nodes goes through, with a memory
//! implementation (one node) and a Redis implementation (many nodes).
//!
//! Guarantees every implementation gives, checked by one conformance suite (`tests/it/engine.rs`):
//!
//! - **Broker.** A history-kept publication gets the channel's next offset (1, 2, 3, ... with no
//!   gaps) within the channel's current epoch, is appended to the channel's capped history and is
//!   delivered to every node subscribed to the channel, as one atomic step. Each node's
//!   [`EventSink`] receives a channel's publications in offset order without gaps or duplicates;
//!   when that cannot be ensured (history lost or trimmed past what the node missed) the sink is
//!   told with [`EventSink::lost`] instead. Ephemeral publications (no history) are delivered at
//!   most once, in no guaranteed order relative to other nodes' publications.
//! - **Presence.** Each node reports its own count per channel with a time to live; the count is
//!   the sum over nodes whose report has not expired, so a node that dies stops counting.
//! - **State.** Each operation is atomic on its key.
//!
//! Keys: every key lives under the configured prefix, and a key's owner is its hash tag
//! (`{s:<seller>}`, `{f:<fair>}`, `{u:<user>}`, `{c:<channel>}`), see [`channel_tag`].

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use serde_json::value::RawValue;

pub mod lease;
pub mod memory;
pub mod order;
pub mod redis;
pub mod sales;
mod sales_memory;
pub mod sales_redis;

/// A position in a channel's history.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StreamPosition {
    /// The offset of the latest event (0 before the first).
    pub offset: u64,
    /// The history lifetime; it changes whenever history was lost. Empty before the first event.
    pub epoch: String,
}

/// One event as the broker delivers it to a node.
#[derive(Debug, Clone)]
pub struct Publication {
    pub channel: Arc<str>,
    /// Present for history-kept events.
    pub position: Option<StreamPosition>,
    /// The complete client frame, encoded once by the publisher.
    pub frame: Bytes,
}

/// What a subscriber needs to join a channel: where it stands and what it missed.
#[derive(Debug, Clone, Default)]
pub struct History {
    pub position: StreamPosition,
    /// True when `since` was given and `events` hold every event after it.
    pub recovered: bool,
    /// Frames after `since`, in order (empty unless recovered).
    pub events: Vec<Bytes>,
}

/// Where a node's broker hands the events of the channels it subscribed to.
pub trait EventSink: Send + Sync + 'static {
    /// Called in offset order per channel, never concurrently for one channel.
    fn deliver(&self, publication: Publication);
    /// Events of `channel` were lost and could not be recovered: its subscribers must resubscribe.
    fn lost(&self, channel: &str);
}

/// Why an engine call failed.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The backing store cannot be reached; the outcome of a write is unknown, and retrying with
    /// the same idempotency key is safe.
    #[error("engine unavailable: {0}")]
    Unavailable(String),
    /// The store answered something it never should (a bug or corrupted data).
    #[error("engine internal error: {0}")]
    Internal(String),
}

/// Publish with history, node subscriptions, history reads.
#[async_trait]
pub trait Broker: Send + Sync + 'static {
    /// Publishes `event` with `data` on `channel`. With `history`, the event is assigned the next
    /// offset and kept for recovery, and its position is returned.
    async fn publish(
        &self,
        channel: &str,
        event: &str,
        data: &RawValue,
        history: bool,
    ) -> Result<Option<StreamPosition>, EngineError>;

    /// The channel's current position and, when `since` can be served from history, every event
    /// after it.
    async fn history(&self, channel: &str, since: Option<&StreamPosition>) -> Result<History, EngineError>;

    /// The channel's position and its last `limit` kept events, oldest first.
    async fn recent(&self, channel: &str, limit: usize) -> Result<History, EngineError>;

    /// Makes this node receive `channel`'s publications. Reference-counted: each call must be
    /// matched by one [`Broker::unsubscribe`]. Returns once delivery is in place.
    async fn subscribe(&self, channel: &str) -> Result<(), EngineError>;

    /// Drops one reference taken by [`Broker::subscribe`].
    async fn unsubscribe(&self, channel: &str);

    /// Whether the backing store answers.
    async fn ping(&self) -> Result<(), EngineError>;
}

/// Viewer counts across nodes.
#[async_trait]
pub trait Presence: Send + Sync + 'static {
    /// Replaces this node's count for `channel`, valid for `ttl` unless reported again.
    async fn report(&self, channel: &str, node: &str, count: u64, ttl: Duration) -> Result<(), EngineError>;
    /// The sum of the unexpired counts of every node.
    async fn count(&self, channel: &str) -> Result<u64, EngineError>;
}

/// Atomic single-key state operations. Domain modules add multi-key operations as scripts on
/// keys of one owner.
#[async_trait]
pub trait State: Send + Sync + 'static {
    async fn get(&self, key: &str) -> Result<Option<Bytes>, EngineError>;
    async fn set(&self, key: &str, value: &[u8], ttl: Option<Duration>) -> Result<(), EngineError>;
    /// Sets only when absent; true when this call set it.
    async fn set_nx(&self, key: &str, value: &[u8], ttl: Option<Duration>) -> Result<bool, EngineError>;
    /// Holds the lease `key` for `holder` until `ttl` from now: takes it when nobody holds it
    /// (or the last hold expired), renews it when `holder` holds it already, and is false while
    /// another holder does. One atomic step, so at most one holder at a time across nodes.
    async fn lease_hold(&self, key: &str, holder: &str, ttl: Duration) -> Result<bool, EngineError>;
    /// Gives the lease `key` up when `holder` holds it (true), so another can take it at once.
    async fn lease_release(&self, key: &str, holder: &str) -> Result<bool, EngineError>;
    /// Adds `delta` to an integer (absent counts as 0) and returns the new value.
    async fn incr_by(&self, key: &str, delta: i64) -> Result<i64, EngineError>;
    /// Removes a key; true when it existed.
    async fn delete(&self, key: &str) -> Result<bool, EngineError>;
    /// Reads several keys (absent: `None`), in the order given. Not atomic across owners.
    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Bytes>>, EngineError>;
    /// Writes several keys of one owner (one hash tag) as one atomic step.
    async fn set_many(&self, entries: &[(String, Bytes)]) -> Result<(), EngineError>;
    /// Adds `member` to a lexicographically ordered index (idempotent).
    async fn index_add(&self, index: &str, member: &str) -> Result<(), EngineError>;
    /// Removes `member` from an index.
    async fn index_remove(&self, index: &str, member: &str) -> Result<(), EngineError>;
    /// Up to `limit` members strictly after `after`, in order.
    async fn index_range(&self, index: &str, after: Option<&str>, limit: usize) -> Result<Vec<String>, EngineError>;
    /// Takes `qty` from every integer counter, or from none when any has less than asked:
    /// all or nothing, as one atomic step. Keys must share one owner (hash tag).
    async fn take_all(&self, items: &[(String, i64)]) -> Result<Take, EngineError>;
    /// Replaces the value only when it is `expected` (`None`: absent); true when replaced.
    async fn compare_and_set(&self, key: &str, expected: Option<&[u8]>, value: &[u8]) -> Result<bool, EngineError>;
    /// Raises an integer to `value` when lower (absent counts as 0); returns the result.
    async fn set_max(&self, key: &str, value: i64) -> Result<i64, EngineError>;
    /// Adds members to a set (kept `ttl` from now when given).
    async fn set_add(&self, key: &str, members: &[String], ttl: Option<Duration>) -> Result<(), EngineError>;
    /// The number of members of a set.
    async fn set_len(&self, key: &str) -> Result<u64, EngineError>;
    /// Adds `delta` to a counter that lives `window` from the call that created it (a fixed
    /// window: later additions do not extend it) and returns the new value with the time left.
    /// `delta` 0 only reads: an absent counter stays absent and reads as 0 with nothing left.
    async fn count_in_window(&self, key: &str, delta: i64, window: Duration) -> Result<WindowCount, EngineError>;
}

/// A counter of [`State::count_in_window`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowCount {
    pub count: i64,
    /// Until the counter expires (zero when it does not exist).
    pub resets_in: Duration,
}

/// The outcome of [`State::take_all`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Take {
    Taken,
    /// Item `index` had only `available`; nothing was taken.
    Short {
        index: usize,
        available: i64,
    },
}

/// The engine a node runs on: one implementation behind every trait.
#[derive(Clone)]
pub struct Engine {
    pub kind: EngineKind,
    pub broker: Arc<dyn Broker>,
    pub presence: Arc<dyn Presence>,
    pub state: Arc<dyn State>,
    pub sales: Arc<dyn sales::Sales>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").field("kind", &self.kind).finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineKind {
    Memory,
    Redis,
}

/// Settings both engines share.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Events kept per channel.
    pub history_size: usize,
    /// How long a channel's history outlives its last event.
    pub history_ttl: Duration,
    /// Prefix of every key (Redis only).
    pub key_prefix: String,
}

/// The hash tag that places a channel's keys: the owner's tag for private channels, so an
/// owner's scripts can append to them atomically, and the channel's own tag otherwise.
pub fn channel_tag(channel: &str) -> String {
    match channel.split_once(':') {
        Some(("seller", id)) => format!("{{s:{id}}}"),
        Some(("user", id)) => format!("{{u:{id}}}"),
        Some(("fair", id)) => format!("{{f:{id}}}"),
        _ => format!("{{c:{channel}}}"),
    }
}

/// Compile-time proof that both engines implement every trait.
const _: fn() = || {
    fn implements<T: Broker + Presence + State + sales::Sales>() {}
    implements::<memory::MemoryEngine>();
    implements::<redis::RedisEngine>();
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_give_their_tags() {
        assert_eq!(channel_tag("seller:abc"), "{s:abc}");
        assert_eq!(channel_tag("user:abc"), "{u:abc}");
        assert_eq!(channel_tag("fair:abc"), "{f:abc}");
        assert_eq!(channel_tag("show:abc"), "{c:show:abc}");
        assert_eq!(channel_tag("booth:abc"), "{c:booth:abc}");
    }
}
