//! The in-memory engine: one node, nothing kept across restarts.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use serde_json::value::RawValue;

use super::{
    Broker, EngineConfig, EngineError, EventSink, History, Presence, Publication, State, StreamPosition, Take,
    WindowCount,
};
use crate::realtime::protocol::encode_event;

/// Channels whose history was untouched this long are swept even before their TTL, when empty.
const SWEEP_EVERY: Duration = Duration::from_secs(30);

pub struct MemoryEngine {
    config: EngineConfig,
    sink: Arc<dyn EventSink>,
    /// Channel logs. The map lock is held only to find or insert a log; each log has its own lock,
    /// held across delivery so that one channel's events reach the sink in offset order.
    channels: Mutex<Channels>,
    /// Per channel, per node: (count, expiry). Small and short-lived, so one lock.
    presence: Mutex<HashMap<String, NodeCounts>>,
    /// Key-value state; one lock makes every operation atomic. Sales operations that move
    /// stock take this lock first, then `sales`.
    pub(super) state: Mutex<HashMap<String, Entry>>,
    /// Offers and orders.
    pub(super) sales: Mutex<super::sales_memory::SalesMem>,
    /// Ordered indexes; one lock, held briefly.
    indexes: Mutex<HashMap<String, BTreeSet<String>>>,
    /// Sets (unique viewers), with their expiry; one lock, held briefly.
    sets: Mutex<HashMap<String, ExpiringSet>>,
}

/// A set's members and when it expires.
type ExpiringSet = (HashSet<String>, Option<Instant>);

/// Per node: its count and when the report expires.
type NodeCounts = HashMap<String, (u64, Instant)>;

struct Channels {
    logs: HashMap<String, Arc<Mutex<ChannelLog>>>,
    last_sweep: Instant,
}

struct ChannelLog {
    epoch: String,
    offset: u64,
    events: VecDeque<(u64, Bytes)>,
    touched: Instant,
}

pub(super) struct Entry {
    pub(super) value: Bytes,
    pub(super) expires: Option<Instant>,
}

impl Entry {
    pub(super) fn live(&self, now: Instant) -> bool {
        self.expires.is_none_or(|e| e > now)
    }
}

impl MemoryEngine {
    pub fn new(config: EngineConfig, sink: Arc<dyn EventSink>) -> Self {
        Self {
            config,
            sink,
            channels: Mutex::new(Channels { logs: HashMap::new(), last_sweep: Instant::now() }),
            presence: Mutex::new(HashMap::new()),
            state: Mutex::new(HashMap::new()),
            sales: Mutex::new(Default::default()),
            indexes: Mutex::new(HashMap::new()),
            sets: Mutex::new(HashMap::new()),
        }
    }

    fn log(&self, channel: &str, create: bool) -> Option<Arc<Mutex<ChannelLog>>> {
        let mut channels = self.channels.lock().unwrap();
        let now = Instant::now();
        if now.duration_since(channels.last_sweep) > SWEEP_EVERY {
            channels.last_sweep = now;
            let ttl = self.config.history_ttl;
            channels.logs.retain(|_, log| log.lock().map(|l| now.duration_since(l.touched) < ttl).unwrap_or(false));
        }
        if let Some(log) = channels.logs.get(channel) {
            return Some(log.clone());
        }
        if !create {
            return None;
        }
        let log =
            Arc::new(Mutex::new(ChannelLog { epoch: new_epoch(), offset: 0, events: VecDeque::new(), touched: now }));
        channels.logs.insert(channel.to_owned(), log.clone());
        Some(log)
    }
}

/// Expiring entries (mutes, slow-mode marks, locks) are only dropped when read; every time the
/// map grows past another multiple of this, the expired ones are swept, so it stays bounded by
/// what is live.
const SWEEP_AT: usize = 4096;

fn sweep_expired(state: &mut HashMap<String, Entry>, now: Instant) {
    if state.len() % SWEEP_AT == SWEEP_AT - 1 {
        state.retain(|_, e| e.live(now));
    }
}

/// A fresh epoch id: short, random, unique enough to never repeat for a channel.
pub(crate) fn new_epoch() -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    id[..12].to_owned()
}

/// Whether `since` can be served by a history whose retained events start at `first`.
pub(crate) fn recoverable(since: &StreamPosition, epoch: &str, offset: u64, first: Option<u64>) -> bool {
    // A client that subscribed before the channel's first event holds the empty epoch at 0.
    let same_lifetime = since.epoch == epoch || (since.epoch.is_empty() && since.offset == 0);
    if !same_lifetime || since.offset > offset {
        return false;
    }
    since.offset == offset || first.is_some_and(|first| first <= since.offset + 1)
}

#[async_trait]
impl Broker for MemoryEngine {
    async fn publish(
        &self,
        channel: &str,
        event: &str,
        data: &RawValue,
        history: bool,
    ) -> Result<Option<StreamPosition>, EngineError> {
        if !history {
            let frame = Bytes::from(encode_event(channel, event, None, data));
            self.sink.deliver(Publication { channel: channel.into(), position: None, frame });
            return Ok(None);
        }
        let log = self.log(channel, true).ok_or_else(|| EngineError::Internal("log vanished".into()))?;
        let mut log = log.lock().unwrap();
        log.offset += 1;
        log.touched = Instant::now();
        let offset = log.offset;
        let frame = Bytes::from(encode_event(channel, event, Some(offset), data));
        log.events.push_back((offset, frame.clone()));
        while log.events.len() > self.config.history_size {
            log.events.pop_front();
        }
        let position = StreamPosition { offset, epoch: log.epoch.clone() };
        self.sink.deliver(Publication { channel: channel.into(), position: Some(position.clone()), frame });
        Ok(Some(position))
    }

    async fn history(&self, channel: &str, since: Option<&StreamPosition>) -> Result<History, EngineError> {
        let Some(log) = self.log(channel, false) else {
            let recovered = since.is_some_and(|s| recoverable(s, "", 0, None));
            return Ok(History { position: StreamPosition::default(), recovered, events: Vec::new() });
        };
        let log = log.lock().unwrap();
        let position = StreamPosition { offset: log.offset, epoch: log.epoch.clone() };
        let Some(since) = since else {
            return Ok(History { position, recovered: false, events: Vec::new() });
        };
        let first = log.events.front().map(|(off, _)| *off);
        if !recoverable(since, &log.epoch, log.offset, first) {
            return Ok(History { position, recovered: false, events: Vec::new() });
        }
        let events = log.events.iter().filter(|(off, _)| *off > since.offset).map(|(_, f)| f.clone()).collect();
        Ok(History { position, recovered: true, events })
    }

    async fn recent(&self, channel: &str, limit: usize) -> Result<History, EngineError> {
        let Some(log) = self.log(channel, false) else { return Ok(History::default()) };
        let log = log.lock().unwrap();
        let position = StreamPosition { offset: log.offset, epoch: log.epoch.clone() };
        let skip = log.events.len().saturating_sub(limit);
        let events = log.events.iter().skip(skip).map(|(_, f)| f.clone()).collect();
        Ok(History { position, recovered: false, events })
    }

    async fn subscribe(&self, _channel: &str) -> Result<(), EngineError> {
        // One node: every publication already reaches this node's sink.
        Ok(())
    }

    async fn unsubscribe(&self, _channel: &str) {}

    async fn ping(&self) -> Result<(), EngineError> {
        Ok(())
    }
}

#[async_trait]
impl Presence for MemoryEngine {
    async fn report(&self, channel: &str, node: &str, count: u64, ttl: Duration) -> Result<(), EngineError> {
        let mut presence = self.presence.lock().unwrap();
        let now = Instant::now();
        if count == 0 {
            if let Some(nodes) = presence.get_mut(channel) {
                nodes.remove(node);
                if nodes.is_empty() {
                    presence.remove(channel);
                }
            }
        } else {
            presence.entry(channel.to_owned()).or_default().insert(node.to_owned(), (count, now + ttl));
        }
        Ok(())
    }

    async fn count(&self, channel: &str) -> Result<u64, EngineError> {
        let mut presence = self.presence.lock().unwrap();
        let now = Instant::now();
        let Some(nodes) = presence.get_mut(channel) else {
            return Ok(0);
        };
        nodes.retain(|_, (_, expires)| *expires > now);
        let total = nodes.values().map(|(count, _)| count).sum();
        if nodes.is_empty() {
            presence.remove(channel);
        }
        Ok(total)
    }
}

#[async_trait]
impl State for MemoryEngine {
    async fn get(&self, key: &str) -> Result<Option<Bytes>, EngineError> {
        let state = self.state.lock().unwrap();
        Ok(state.get(key).filter(|e| e.live(Instant::now())).map(|e| e.value.clone()))
    }

    async fn set(&self, key: &str, value: &[u8], ttl: Option<Duration>) -> Result<(), EngineError> {
        let now = Instant::now();
        let mut state = self.state.lock().unwrap();
        if ttl.is_some() {
            sweep_expired(&mut state, now);
        }
        state.insert(key.to_owned(), Entry { value: Bytes::copy_from_slice(value), expires: ttl.map(|t| now + t) });
        Ok(())
    }

    async fn set_nx(&self, key: &str, value: &[u8], ttl: Option<Duration>) -> Result<bool, EngineError> {
        let mut state = self.state.lock().unwrap();
        let now = Instant::now();
        if state.get(key).is_some_and(|e| e.live(now)) {
            return Ok(false);
        }
        if ttl.is_some() {
            sweep_expired(&mut state, now);
        }
        let expires = ttl.map(|t| now + t);
        state.insert(key.to_owned(), Entry { value: Bytes::copy_from_slice(value), expires });
        Ok(true)
    }

    async fn lease_hold(&self, key: &str, holder: &str, ttl: Duration) -> Result<bool, EngineError> {
        let mut state = self.state.lock().unwrap();
        let now = Instant::now();
        if let Some(e) = state.get(key).filter(|e| e.live(now))
            && e.value.as_ref() != holder.as_bytes()
        {
            return Ok(false);
        }
        sweep_expired(&mut state, now);
        state.insert(
            key.to_owned(),
            Entry { value: Bytes::copy_from_slice(holder.as_bytes()), expires: Some(now + ttl) },
        );
        Ok(true)
    }

    async fn lease_release(&self, key: &str, holder: &str) -> Result<bool, EngineError> {
        let mut state = self.state.lock().unwrap();
        let now = Instant::now();
        if state.get(key).is_some_and(|e| e.live(now) && e.value.as_ref() == holder.as_bytes()) {
            state.remove(key);
            return Ok(true);
        }
        Ok(false)
    }

    async fn incr_by(&self, key: &str, delta: i64) -> Result<i64, EngineError> {
        let mut state = self.state.lock().unwrap();
        let now = Instant::now();
        let current = match state.get(key).filter(|e| e.live(now)) {
            Some(e) => std::str::from_utf8(&e.value)
                .ok()
                .and_then(|s| s.parse::<i64>().ok())
                .ok_or_else(|| EngineError::Internal(format!("{key} is not an integer")))?,
            None => 0,
        };
        let next = current.checked_add(delta).ok_or_else(|| EngineError::Internal(format!("{key} overflows")))?;
        let expires = state.get(key).and_then(|e| e.expires).filter(|e| *e > now);
        state.insert(key.to_owned(), Entry { value: Bytes::from(next.to_string()), expires });
        Ok(next)
    }

    async fn delete(&self, key: &str) -> Result<bool, EngineError> {
        let mut state = self.state.lock().unwrap();
        let now = Instant::now();
        Ok(state.remove(key).is_some_and(|e| e.live(now)))
    }

    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Bytes>>, EngineError> {
        let state = self.state.lock().unwrap();
        let now = Instant::now();
        Ok(keys.iter().map(|k| state.get(k).filter(|e| e.live(now)).map(|e| e.value.clone())).collect())
    }

    async fn set_many(&self, entries: &[(String, Bytes)]) -> Result<(), EngineError> {
        let mut state = self.state.lock().unwrap();
        for (key, value) in entries {
            state.insert(key.clone(), Entry { value: value.clone(), expires: None });
        }
        Ok(())
    }

    async fn index_add(&self, index: &str, member: &str) -> Result<(), EngineError> {
        self.indexes.lock().unwrap().entry(index.to_owned()).or_default().insert(member.to_owned());
        Ok(())
    }

    async fn index_remove(&self, index: &str, member: &str) -> Result<(), EngineError> {
        if let Some(set) = self.indexes.lock().unwrap().get_mut(index) {
            set.remove(member);
        }
        Ok(())
    }

    async fn index_range(&self, index: &str, after: Option<&str>, limit: usize) -> Result<Vec<String>, EngineError> {
        let indexes = self.indexes.lock().unwrap();
        let Some(set) = indexes.get(index) else { return Ok(Vec::new()) };
        let members: Vec<String> = match after {
            Some(after) => set
                .range::<str, _>((std::ops::Bound::Excluded(after), std::ops::Bound::Unbounded))
                .take(limit)
                .cloned()
                .collect(),
            None => set.iter().take(limit).cloned().collect(),
        };
        Ok(members)
    }

    async fn take_all(&self, items: &[(String, i64)]) -> Result<Take, EngineError> {
        let mut state = self.state.lock().unwrap();
        let now = Instant::now();
        let read = |state: &HashMap<String, Entry>, key: &str| -> Result<i64, EngineError> {
            match state.get(key).filter(|e| e.live(now)) {
                None => Ok(0),
                Some(e) => std::str::from_utf8(&e.value)
                    .ok()
                    .and_then(|s| s.parse::<i64>().ok())
                    .ok_or_else(|| EngineError::Internal(format!("{key} is not an integer"))),
            }
        };
        // Validate everything before writing anything.
        for (index, (key, qty)) in items.iter().enumerate() {
            let available = read(&state, key)?;
            if available < *qty {
                return Ok(Take::Short { index, available });
            }
        }
        for (key, qty) in items {
            let next = read(&state, key)? - qty;
            let expires = state.get(key).and_then(|e| e.expires);
            state.insert(key.clone(), Entry { value: Bytes::from(next.to_string()), expires });
        }
        Ok(Take::Taken)
    }

    async fn compare_and_set(&self, key: &str, expected: Option<&[u8]>, value: &[u8]) -> Result<bool, EngineError> {
        let mut state = self.state.lock().unwrap();
        let now = Instant::now();
        let current = state.get(key).filter(|e| e.live(now)).map(|e| e.value.as_ref());
        if current != expected {
            return Ok(false);
        }
        state.insert(key.to_owned(), Entry { value: Bytes::copy_from_slice(value), expires: None });
        Ok(true)
    }

    async fn set_max(&self, key: &str, value: i64) -> Result<i64, EngineError> {
        let mut state = self.state.lock().unwrap();
        let now = Instant::now();
        let current = match state.get(key).filter(|e| e.live(now)) {
            Some(e) => std::str::from_utf8(&e.value)
                .ok()
                .and_then(|s| s.parse::<i64>().ok())
                .ok_or_else(|| EngineError::Internal(format!("{key} is not an integer")))?,
            None => 0,
        };
        if value > current {
            state.insert(key.to_owned(), Entry { value: Bytes::from(value.to_string()), expires: None });
            return Ok(value);
        }
        Ok(current)
    }

    async fn set_add(&self, key: &str, members: &[String], ttl: Option<Duration>) -> Result<(), EngineError> {
        let mut sets = self.sets.lock().unwrap();
        let now = Instant::now();
        let entry = sets.entry(key.to_owned()).or_insert_with(|| (HashSet::new(), None));
        if entry.1.is_some_and(|e| e <= now) {
            entry.0.clear();
        }
        entry.0.extend(members.iter().cloned());
        if let Some(ttl) = ttl {
            entry.1 = Some(now + ttl);
        }
        Ok(())
    }

    async fn set_len(&self, key: &str) -> Result<u64, EngineError> {
        let sets = self.sets.lock().unwrap();
        let now = Instant::now();
        Ok(sets.get(key).filter(|(_, exp)| exp.is_none_or(|e| e > now)).map_or(0, |(s, _)| s.len() as u64))
    }

    async fn count_in_window(&self, key: &str, delta: i64, window: Duration) -> Result<WindowCount, EngineError> {
        let mut state = self.state.lock().unwrap();
        let now = Instant::now();
        let live = state.get(key).filter(|e| e.live(now));
        let existed = live.is_some();
        let (current, expires) = match live {
            Some(e) => {
                let n = std::str::from_utf8(&e.value)
                    .ok()
                    .and_then(|s| s.parse::<i64>().ok())
                    .ok_or_else(|| EngineError::Internal(format!("{key} is not an integer")))?;
                (n, e.expires)
            }
            None if delta == 0 => return Ok(WindowCount { count: 0, resets_in: Duration::ZERO }),
            None => (0, None),
        };
        let expires = expires.unwrap_or(now + window);
        if delta != 0 {
            let next = current.checked_add(delta).ok_or_else(|| EngineError::Internal(format!("{key} overflows")))?;
            if !existed {
                // A new key keyed by client input: expired ones are swept as the map grows.
                sweep_expired(&mut state, now);
            }
            state.insert(key.to_owned(), Entry { value: Bytes::from(next.to_string()), expires: Some(expires) });
            return Ok(WindowCount { count: next, resets_in: expires - now });
        }
        Ok(WindowCount { count: current, resets_in: expires.saturating_duration_since(now) })
    }
}

/// Where an engine of a unit test delivers: nowhere.
#[cfg(test)]
struct Nowhere;

#[cfg(test)]
impl EventSink for Nowhere {
    fn deliver(&self, _: Publication) {}
    fn lost(&self, _: &str) {}
}

#[cfg(test)]
impl MemoryEngine {
    /// An engine for unit tests of state operations: its events go nowhere.
    pub(crate) fn unconnected() -> Self {
        let config = EngineConfig { history_size: 10, history_ttl: Duration::from_secs(60), key_prefix: String::new() };
        Self::new(config, Arc::new(Nowhere))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn expired_state_is_swept_as_the_map_grows() {
        let engine = MemoryEngine::unconnected();
        for i in 0..SWEEP_AT {
            engine.set(&format!("slow:{i}"), b"1", Some(Duration::from_millis(1))).await.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
        for i in 0..SWEEP_AT {
            engine.set_nx(&format!("mute:{i}"), b"1", Some(Duration::from_secs(60))).await.unwrap();
        }
        let len = engine.state.lock().unwrap().len();
        assert!(len <= SWEEP_AT + 1, "expired entries were kept: {len}");
    }
}
