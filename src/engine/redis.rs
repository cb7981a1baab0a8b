//! The Redis engine: many nodes share history, presence and state through one Redis.
//!
//! Commands go over one multiplexed, self-reconnecting connection. Each node holds one pub/sub
//! connection, owned by a single task that reference-counts channel subscriptions, tracks the
//! last offset delivered per channel, and fills any gap from history (after a reconnect, or a
//! dropped message) before delivering further, so the node's [`EventSink`] sees every channel in
//! order without gaps, or is told that the channel's events were lost.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::StreamExt;
use redis::aio::{ConnectionManager, ConnectionManagerConfig, PubSubSink};
use redis::{AsyncCommands, Script, Value};
use serde_json::value::RawValue;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::memory::new_epoch;
use super::{
    Broker, EngineConfig, EngineError, EventSink, History, Presence, Publication, State, StreamPosition, Take,
    WindowCount, channel_tag,
};

/// How long one command may take before the engine is considered unreachable for that call.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);
/// How long to wait for a TCP connection to Redis.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Commands queued on the multiplexed connection before senders wait.
const PIPELINE_BUFFER: usize = 8192;
/// Pending subscribe/unsubscribe requests to the pub/sub task; senders wait when it is full.
const PUBSUB_QUEUE: usize = 4096;

/// Assigns the next offset, appends to the capped history and publishes, as one step. When the
/// channel has no epoch (new, expired, or lost with a restart) a new one starts and any stale
/// history is removed first, so the append below can never fail halfway. A Lua function, so the
/// sales scripts publish the same way within their own atomic step.
pub(super) const PUBLISH_FN: &str = r#"
local function publish_event(meta, log, pubsub, head, tail, size, ttl, new_epoch)
  local epoch = redis.call('HGET', meta, 'epoch')
  if not epoch then
    epoch = new_epoch
    redis.call('DEL', log)
    redis.call('HSET', meta, 'epoch', epoch, 'off', 0)
  end
  local off = redis.call('HINCRBY', meta, 'off', 1)
  local frame = head .. off .. tail
  redis.call('XADD', log, 'MAXLEN', size, off .. '-0', 'f', frame)
  redis.call('EXPIRE', meta, ttl)
  redis.call('EXPIRE', log, ttl)
  redis.call('PUBLISH', pubsub, epoch .. ' ' .. off .. '\n' .. frame)
  return {epoch, off}
end
"#;

/// KEYS: meta, log; ARGV: pub/sub name, the frame before and after its offset
/// (`protocol::numbered_event_parts`), history size, TTL, a new epoch.
const PUBLISH_CALL: &str =
    "return publish_event(KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6])";

/// Reads a channel's position and, when `since` (ARGV[1] offset, ARGV[2] epoch) is still
/// covered, the events after it as offset/frame pairs. Read-only.
const HISTORY_LUA: &str = r#"
local meta = redis.call('HMGET', KEYS[1], 'epoch', 'off')
local epoch = meta[1] or ''
local off = tonumber(meta[2] or '0')
if ARGV[1] == '' then return {epoch, off, 0} end
local since = tonumber(ARGV[1])
local same = (ARGV[2] == epoch) or (ARGV[2] == '' and since == 0)
if (not same) or since > off then return {epoch, off, 0} end
if since == off then return {epoch, off, 1} end
local first = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', 1)
if #first == 0 then return {epoch, off, 0} end
local first_off = tonumber(string.match(first[1][1], '^(%d+)'))
if first_off > since + 1 then return {epoch, off, 0} end
local out = {epoch, off, 1}
for _, e in ipairs(redis.call('XRANGE', KEYS[2], '(' .. since .. '-0', '+')) do
  out[#out + 1] = tonumber(string.match(e[1], '^(%d+)'))
  out[#out + 1] = e[2][2]
end
return out
"#;

/// Replaces one node's count, stamped with an expiry on Redis' own clock so every node agrees.
const PRESENCE_REPORT_LUA: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if tonumber(ARGV[2]) == 0 then
  redis.call('HDEL', KEYS[1], ARGV[1])
else
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. ':' .. (now + tonumber(ARGV[3])))
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]) * 2)
end
return 1
"#;

/// Sums unexpired counts and drops the expired ones.
const PRESENCE_COUNT_LUA: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local all = redis.call('HGETALL', KEYS[1])
local total = 0
for i = 1, #all, 2 do
  local count, expires = string.match(all[i + 1], '^(%d+):(%d+)$')
  if count and tonumber(expires) > now then
    total = total + tonumber(count)
  else
    redis.call('HDEL', KEYS[1], all[i])
  end
end
return total
"#;

/// Takes every quantity or none: all counters are checked before any is changed.
const TAKE_ALL_LUA: &str = r#"
for i = 1, #KEYS do
  local have = tonumber(redis.call('GET', KEYS[i]) or '0')
  if have == nil then return redis.error_reply('counter is not an integer: ' .. KEYS[i]) end
  if have < tonumber(ARGV[i]) then return {0, i - 1, have} end
end
for i = 1, #KEYS do
  redis.call('DECRBY', KEYS[i], ARGV[i])
end
return {1, 0, 0}
"#;

/// The position and the last ARGV[1] events, oldest first. Read-only.
const RECENT_LUA: &str = r#"
local meta = redis.call('HMGET', KEYS[1], 'epoch', 'off')
local out = {meta[1] or '', tonumber(meta[2] or '0')}
local entries = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', tonumber(ARGV[1]))
for i = #entries, 1, -1 do
  out[#out + 1] = entries[i][2][2]
end
return out
"#;

/// Sets only when the current value is ARGV[1] (ARGV[3] == '1': expected absent).
const CAS_LUA: &str = r#"
local current = redis.call('GET', KEYS[1])
if ARGV[3] == '1' then
  if current then return 0 end
elseif current ~= ARGV[1] then
  return 0
end
redis.call('SET', KEYS[1], ARGV[2])
return 1
"#;

/// KEYS[1] the lease, ARGV[1] the holder, ARGV[2] its time in ms: 1 when held by ARGV[1] now.
const LEASE_HOLD_LUA: &str = r#"
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if holder then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
"#;

/// KEYS[1] the lease, ARGV[1] the holder: deleted (1) only when held by ARGV[1].
const LEASE_RELEASE_LUA: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"#;

const SET_MAX_LUA: &str = r#"
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if current == nil then return redis.error_reply('not an integer: ' .. KEYS[1]) end
local value = tonumber(ARGV[1])
if value > current then
  redis.call('SET', KEYS[1], ARGV[1])
  return value
end
return current
"#;

/// Adds ARGV[1] (0: only reads) to a counter that expires ARGV[2] ms after it was created;
/// returns {count, ms left}.
const COUNT_IN_WINDOW_LUA: &str = r#"
local n
if tonumber(ARGV[1]) == 0 then
  n = tonumber(redis.call('GET', KEYS[1]) or '0')
  if n == nil then return redis.error_reply('not an integer: ' .. KEYS[1]) end
else
  n = redis.call('INCRBY', KEYS[1], ARGV[1])
end
local left = redis.call('PTTL', KEYS[1])
if left == -1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  left = tonumber(ARGV[2])
elseif left < 0 then
  left = 0
end
return {n, left}
"#;

struct Scripts {
    count_in_window: Script,
    recent: Script,
    cas: Script,
    lease_hold: Script,
    lease_release: Script,
    set_max: Script,
    take_all: Script,
    publish: Script,
    history: Script,
    presence_report: Script,
    presence_count: Script,
}

/// The Redis engine. Cheap to share; dropping it stops its pub/sub task.
pub struct RedisEngine {
    conn: ConnectionManager,
    scripts: Arc<Scripts>,
    sales_scripts: super::sales_redis::SalesScripts,
    config: EngineConfig,
    pubsub: mpsc::Sender<PubSubRequest>,
    stop: CancellationToken,
}

impl Drop for RedisEngine {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

enum PubSubRequest {
    Subscribe(String, oneshot::Sender<Result<(), EngineError>>),
    Unsubscribe(String),
}

fn unavailable(e: impl std::fmt::Display) -> EngineError {
    EngineError::Unavailable(e.to_string())
}

pub(super) fn map_err(e: redis::RedisError) -> EngineError {
    if e.is_io_error() || e.is_timeout() || e.is_connection_dropped() || e.is_connection_refusal() {
        EngineError::Unavailable(e.to_string())
    } else {
        EngineError::Internal(e.to_string())
    }
}

impl RedisEngine {
    /// Connects to Redis (failing when it cannot be reached now) and starts the pub/sub task.
    pub async fn connect(url: &str, config: EngineConfig, sink: Arc<dyn EventSink>) -> Result<Self, EngineError> {
        let client = redis::Client::open(url).map_err(|e| EngineError::Internal(format!("bad Redis URL: {e}")))?;
        let manager_config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(RESPONSE_TIMEOUT))
            .set_number_of_retries(1)
            // A flash sale sends thousands of commands at once; the default queue of 50 would
            // make them wait for each other before they even reach Redis.
            .set_pipeline_buffer_size(PIPELINE_BUFFER)
            .set_max_delay(Duration::from_secs(1));
        let conn = tokio::time::timeout(
            CONNECT_TIMEOUT * 2,
            ConnectionManager::new_with_config(client.clone(), manager_config),
        )
        .await
        .map_err(|_| unavailable("timed out connecting to Redis"))?
        .map_err(map_err)?;
        let scripts = Arc::new(Scripts {
            count_in_window: Script::new(COUNT_IN_WINDOW_LUA),
            recent: Script::new(RECENT_LUA),
            cas: Script::new(CAS_LUA),
            lease_hold: Script::new(LEASE_HOLD_LUA),
            lease_release: Script::new(LEASE_RELEASE_LUA),
            set_max: Script::new(SET_MAX_LUA),
            take_all: Script::new(TAKE_ALL_LUA),
            publish: Script::new(&format!("{PUBLISH_FN}\n{PUBLISH_CALL}")),
            history: Script::new(HISTORY_LUA),
            presence_report: Script::new(PRESENCE_REPORT_LUA),
            presence_count: Script::new(PRESENCE_COUNT_LUA),
        });
        let (tx, rx) = mpsc::channel(PUBSUB_QUEUE);
        let stop = CancellationToken::new();
        let task = PubSubTask {
            client,
            reader: HistoryReader { conn: conn.clone(), scripts: scripts.clone(), prefix: config.key_prefix.clone() },
            sink,
            prefix: config.key_prefix.clone(),
            refs: HashMap::new(),
            tracking: HashMap::new(),
        };
        tokio::spawn(task.run(rx, stop.clone()));
        let engine =
            Self { conn, scripts, sales_scripts: super::sales_redis::SalesScripts::new(), config, pubsub: tx, stop };
        engine.load_scripts().await?;
        Ok(engine)
    }

    /// Loads every script now, so the first burst of a flash sale does not meet `NOSCRIPT`
    /// a thousand times. After a Redis restart the scripts are sent again on first use.
    async fn load_scripts(&self) -> Result<(), EngineError> {
        let mut conn = self.conn.clone();
        let all = [
            &self.scripts.publish,
            &self.scripts.history,
            &self.scripts.recent,
            &self.scripts.cas,
            &self.scripts.set_max,
            &self.scripts.take_all,
            &self.scripts.presence_report,
            &self.scripts.presence_count,
            &self.scripts.count_in_window,
        ];
        for script in all.into_iter().chain(self.sales_scripts.all()) {
            script.load_async(&mut conn).await.map_err(map_err)?;
        }
        Ok(())
    }

    pub(super) fn key(&self, key: &str) -> String {
        format!("{}{key}", self.config.key_prefix)
    }

    /// The keys and arguments `publish_event` takes for a history-kept `event` on `channel`:
    /// `[meta, log]` and `[pub/sub name, channel, event, data, history size, TTL, new epoch]`.
    pub(super) fn event_target(&self, channel: &str, event: &str, data: &str) -> ([String; 2], [String; 6]) {
        let prefix = &self.config.key_prefix;
        let (head, tail) = crate::realtime::protocol::numbered_event_parts(channel, event, data);
        (
            [meta_key(prefix, channel), log_key(prefix, channel)],
            [
                pubsub_name(prefix, channel),
                head,
                tail,
                self.config.history_size.to_string(),
                self.config.history_ttl.as_secs().max(1).to_string(),
                new_epoch(),
            ],
        )
    }

    pub(super) fn prefix(&self) -> &str {
        &self.config.key_prefix
    }

    pub(super) fn conn(&self) -> ConnectionManager {
        self.conn.clone()
    }

    pub(super) fn sales_scripts(&self) -> &super::sales_redis::SalesScripts {
        &self.sales_scripts
    }

    fn reader(&self) -> HistoryReader {
        HistoryReader { conn: self.conn.clone(), scripts: self.scripts.clone(), prefix: self.config.key_prefix.clone() }
    }
}

pub(super) fn meta_key(prefix: &str, channel: &str) -> String {
    format!("{prefix}{}:ch:{channel}:meta", channel_tag(channel))
}
pub(super) fn log_key(prefix: &str, channel: &str) -> String {
    format!("{prefix}{}:ch:{channel}:log", channel_tag(channel))
}
pub(super) fn pubsub_name(prefix: &str, channel: &str) -> String {
    format!("{prefix}ch:{channel}")
}

/// Reads history over the command connection; shared by the engine and its pub/sub task.
#[derive(Clone)]
struct HistoryReader {
    conn: ConnectionManager,
    scripts: Arc<Scripts>,
    prefix: String,
}

/// A history read with each event's offset.
struct Read {
    position: StreamPosition,
    recovered: bool,
    events: Vec<(u64, Bytes)>,
}

impl HistoryReader {
    async fn read(&self, channel: &str, since: Option<&StreamPosition>) -> Result<Read, EngineError> {
        let mut conn = self.conn.clone();
        let (since_off, since_epoch) = match since {
            Some(s) => (s.offset.to_string(), s.epoch.clone()),
            None => (String::new(), String::new()),
        };
        let reply: Vec<Value> = self
            .scripts
            .history
            .key(meta_key(&self.prefix, channel))
            .key(log_key(&self.prefix, channel))
            .arg(since_off)
            .arg(since_epoch)
            .invoke_async(&mut conn)
            .await
            .map_err(map_err)?;
        let bad = || EngineError::Internal("malformed history reply".into());
        let mut it = reply.into_iter();
        let epoch: String = it.next().and_then(|v| redis::from_redis_value(v).ok()).ok_or_else(bad)?;
        let offset: u64 = it.next().and_then(|v| redis::from_redis_value(v).ok()).ok_or_else(bad)?;
        let recovered: i64 = it.next().and_then(|v| redis::from_redis_value(v).ok()).ok_or_else(bad)?;
        let mut events = Vec::new();
        while let Some(off) = it.next() {
            let off: u64 = redis::from_redis_value(off).map_err(|_| bad())?;
            let frame: Vec<u8> = it.next().and_then(|v| redis::from_redis_value(v).ok()).ok_or_else(bad)?;
            events.push((off, Bytes::from(frame)));
        }
        Ok(Read { position: StreamPosition { offset, epoch }, recovered: recovered == 1, events })
    }
}

#[async_trait]
impl Broker for RedisEngine {
    async fn publish(
        &self,
        channel: &str,
        event: &str,
        data: &RawValue,
        history: bool,
    ) -> Result<Option<StreamPosition>, EngineError> {
        let prefix = &self.config.key_prefix;
        let mut conn = self.conn.clone();
        if !history {
            let frame = crate::realtime::protocol::encode_event(channel, event, None, data);
            let payload = format!("-\n{frame}");
            let _: i64 = conn.publish(pubsub_name(prefix, channel), payload).await.map_err(map_err)?;
            return Ok(None);
        }
        let (head, tail) = crate::realtime::protocol::numbered_event_parts(channel, event, data.get());
        let (epoch, offset): (String, u64) = self
            .scripts
            .publish
            .key(meta_key(prefix, channel))
            .key(log_key(prefix, channel))
            .arg(pubsub_name(prefix, channel))
            .arg(head)
            .arg(tail)
            .arg(self.config.history_size)
            .arg(self.config.history_ttl.as_secs().max(1))
            .arg(new_epoch())
            .invoke_async(&mut conn)
            .await
            .map_err(map_err)?;
        Ok(Some(StreamPosition { offset, epoch }))
    }

    async fn history(&self, channel: &str, since: Option<&StreamPosition>) -> Result<History, EngineError> {
        let read = self.reader().read(channel, since).await?;
        Ok(History {
            position: read.position,
            recovered: read.recovered,
            events: read.events.into_iter().map(|(_, f)| f).collect(),
        })
    }

    async fn recent(&self, channel: &str, limit: usize) -> Result<History, EngineError> {
        let prefix = &self.config.key_prefix;
        let mut conn = self.conn.clone();
        let reply: Vec<Value> = self
            .scripts
            .recent
            .key(meta_key(prefix, channel))
            .key(log_key(prefix, channel))
            .arg(limit.max(1))
            .invoke_async(&mut conn)
            .await
            .map_err(map_err)?;
        let bad = || EngineError::Internal("malformed recent reply".into());
        let mut it = reply.into_iter();
        let epoch: String = it.next().and_then(|v| redis::from_redis_value(v).ok()).ok_or_else(bad)?;
        let offset: u64 = it.next().and_then(|v| redis::from_redis_value(v).ok()).ok_or_else(bad)?;
        let events = it
            .map(|v| redis::from_redis_value::<Vec<u8>>(v).map(Bytes::from).map_err(|_| bad()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(History { position: StreamPosition { offset, epoch }, recovered: false, events })
    }

    async fn subscribe(&self, channel: &str) -> Result<(), EngineError> {
        let (tx, rx) = oneshot::channel();
        self.pubsub
            .send(PubSubRequest::Subscribe(channel.to_owned(), tx))
            .await
            .map_err(|_| unavailable("pub/sub task stopped"))?;
        rx.await.map_err(|_| unavailable("pub/sub task stopped"))?
    }

    async fn unsubscribe(&self, channel: &str) {
        // The task is gone only when the engine is being dropped; nothing is left to undo then.
        let _ = self.pubsub.send(PubSubRequest::Unsubscribe(channel.to_owned())).await;
    }

    async fn ping(&self) -> Result<(), EngineError> {
        let mut conn = self.conn.clone();
        let _: String = redis::cmd("PING").query_async(&mut conn).await.map_err(map_err)?;
        Ok(())
    }
}

/// What the pub/sub task last delivered for a channel.
#[derive(Debug, Clone)]
struct Track {
    epoch: String,
    offset: u64,
}

/// Owns the node's pub/sub connection; the only place subscriptions change.
struct PubSubTask {
    client: redis::Client,
    reader: HistoryReader,
    sink: Arc<dyn EventSink>,
    prefix: String,
    /// Local references per channel; SUBSCRIBE on 0 → 1, UNSUBSCRIBE on 1 → 0.
    refs: HashMap<String, usize>,
    /// Last delivered position per subscribed channel, to detect gaps.
    tracking: HashMap<String, Track>,
}

impl PubSubTask {
    async fn run(mut self, mut requests: mpsc::Receiver<PubSubRequest>, stop: CancellationToken) {
        let mut backoff = Duration::from_millis(50);
        loop {
            let connected = tokio::select! {
                _ = stop.cancelled() => return,
                c = tokio::time::timeout(CONNECT_TIMEOUT, self.client.get_async_pubsub()) => c,
            };
            let pubsub = match connected {
                Ok(Ok(p)) => p,
                other => {
                    let why = match other {
                        Ok(Err(e)) => e.to_string(),
                        _ => "timed out".to_owned(),
                    };
                    tracing::warn!(error = %why, "redis pub/sub connection failed; retrying");
                    // Serve requests while disconnected: subscribes fail fast, unsubscribes count.
                    let deadline = tokio::time::sleep(backoff);
                    tokio::pin!(deadline);
                    loop {
                        tokio::select! {
                            _ = stop.cancelled() => return,
                            _ = &mut deadline => break,
                            req = requests.recv() => match req {
                                None => return,
                                Some(PubSubRequest::Subscribe(_, reply)) => {
                                    let _ = reply.send(Err(unavailable("redis pub/sub is reconnecting")));
                                }
                                Some(PubSubRequest::Unsubscribe(ch)) => self.release(&ch),
                            },
                        }
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(2));
                    continue;
                }
            };
            backoff = Duration::from_millis(50);
            let (mut sink, mut stream) = pubsub.split();
            if let Err(e) = self.resume(&mut sink).await {
                tracing::warn!(error = %e, "redis pub/sub resubscribe failed; reconnecting");
                continue;
            }
            tracing::info!(channels = self.refs.len(), "redis pub/sub connected");
            loop {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    req = requests.recv() => match req {
                        None => return,
                        Some(PubSubRequest::Subscribe(ch, reply)) => {
                            let result = self.acquire(&mut sink, &ch).await;
                            let broken = matches!(result, Err(EngineError::Unavailable(_)));
                            let _ = reply.send(result);
                            if broken {
                                break;
                            }
                        }
                        Some(PubSubRequest::Unsubscribe(ch)) => {
                            self.release(&ch);
                            if !self.refs.contains_key(&ch) {
                                // A failed UNSUBSCRIBE only leaves unwanted messages, dropped below.
                                let _ = sink.unsubscribe(pubsub_name(&self.prefix, &ch)).await;
                            }
                        }
                    },
                    msg = stream.next() => match msg {
                        Some(msg) => self.on_message(&msg).await,
                        None => {
                            tracing::warn!("redis pub/sub connection lost; reconnecting");
                            break;
                        }
                    },
                }
            }
        }
    }

    fn release(&mut self, channel: &str) {
        if let Some(n) = self.refs.get_mut(channel) {
            *n -= 1;
            if *n == 0 {
                self.refs.remove(channel);
                self.tracking.remove(channel);
            }
        }
    }

    async fn acquire(&mut self, sink: &mut PubSubSink, channel: &str) -> Result<(), EngineError> {
        if let Some(n) = self.refs.get_mut(channel) {
            *n += 1;
            return Ok(());
        }
        sink.subscribe(pubsub_name(&self.prefix, channel)).await.map_err(map_err)?;
        // Events up to this baseline are covered by every subscriber's own history read, which
        // happens after this returns; later ones arrive by pub/sub, and gaps are filled.
        let baseline = self.reader.read(channel, None).await?;
        self.refs.insert(channel.to_owned(), 1);
        let track = self.tracking.entry(channel.to_owned()).or_insert(Track { epoch: String::new(), offset: 0 });
        if track.epoch != baseline.position.epoch || track.offset < baseline.position.offset {
            *track = Track { epoch: baseline.position.epoch, offset: baseline.position.offset };
        }
        Ok(())
    }

    /// After a (re)connect: subscribe to every channel still wanted, then deliver what was
    /// published while the connection was down.
    async fn resume(&mut self, sink: &mut PubSubSink) -> Result<(), EngineError> {
        let channels: Vec<String> = self.refs.keys().cloned().collect();
        for ch in &channels {
            sink.subscribe(pubsub_name(&self.prefix, ch)).await.map_err(map_err)?;
        }
        for ch in &channels {
            self.fill_gap(ch).await;
        }
        Ok(())
    }

    async fn on_message(&mut self, msg: &redis::Msg) {
        let Some(channel) = msg.get_channel_name().strip_prefix(&self.prefix).and_then(|c| c.strip_prefix("ch:"))
        else {
            return;
        };
        if !self.refs.contains_key(channel) {
            return;
        }
        let payload = msg.get_payload_bytes();
        let Some(split) = payload.iter().position(|b| *b == b'\n') else {
            tracing::warn!(channel, "malformed pub/sub payload dropped");
            return;
        };
        let header = &payload[..split];
        let frame = Bytes::copy_from_slice(&payload[split + 1..]);
        if header == b"-" {
            self.sink.deliver(Publication { channel: channel.into(), position: None, frame });
            return;
        }
        let parsed = std::str::from_utf8(header).ok().and_then(|h| {
            let (epoch, off) = h.split_once(' ')?;
            Some((epoch.to_owned(), off.parse::<u64>().ok()?))
        });
        let Some((epoch, offset)) = parsed else {
            tracing::warn!(channel, "malformed pub/sub header dropped");
            return;
        };
        let channel = channel.to_owned();
        let Some(track) = self.tracking.get(&channel).cloned() else {
            return;
        };
        let continues =
            offset == track.offset + 1 && (epoch == track.epoch || (track.epoch.is_empty() && track.offset == 0));
        if continues {
            self.tracking.insert(channel.clone(), Track { epoch: epoch.clone(), offset });
            let position = Some(StreamPosition { offset, epoch });
            self.sink.deliver(Publication { channel: channel.as_str().into(), position, frame });
        } else if epoch == track.epoch && offset <= track.offset {
            // Already delivered (from history during a gap fill).
        } else {
            self.fill_gap(&channel).await;
        }
    }

    /// Delivers every event after the tracked position from history, or reports the channel lost.
    async fn fill_gap(&mut self, channel: &str) {
        let Some(track) = self.tracking.get(channel).cloned() else {
            return;
        };
        let since = StreamPosition { offset: track.offset, epoch: track.epoch.clone() };
        match self.reader.read(channel, Some(&since)).await {
            Ok(read) if read.recovered => {
                let mut last = track;
                for (offset, frame) in read.events {
                    if offset <= last.offset {
                        continue;
                    }
                    last = Track { epoch: read.position.epoch.clone(), offset };
                    let position = Some(StreamPosition { offset, epoch: read.position.epoch.clone() });
                    self.sink.deliver(Publication { channel: channel.into(), position, frame });
                }
                self.tracking.insert(channel.to_owned(), last);
            }
            Ok(read) => {
                tracing::warn!(channel, "events lost beyond history; subscribers must recover");
                self.tracking
                    .insert(channel.to_owned(), Track { epoch: read.position.epoch, offset: read.position.offset });
                self.sink.lost(channel);
            }
            Err(e) => {
                // Without history the gap cannot be judged; subscribers recover on their own.
                tracing::warn!(channel, error = %e, "history unavailable while filling a gap");
                self.sink.lost(channel);
            }
        }
    }
}

#[async_trait]
impl Presence for RedisEngine {
    async fn report(&self, channel: &str, node: &str, count: u64, ttl: Duration) -> Result<(), EngineError> {
        let mut conn = self.conn.clone();
        let key = self.key(&format!("{}:presence", channel_tag(channel)));
        let _: i64 = self
            .scripts
            .presence_report
            .key(key)
            .arg(node)
            .arg(count)
            .arg(ttl.as_millis().max(1) as u64)
            .invoke_async(&mut conn)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn count(&self, channel: &str) -> Result<u64, EngineError> {
        let mut conn = self.conn.clone();
        let key = self.key(&format!("{}:presence", channel_tag(channel)));
        self.scripts.presence_count.key(key).invoke_async(&mut conn).await.map_err(map_err)
    }
}

#[async_trait]
impl State for RedisEngine {
    async fn get(&self, key: &str) -> Result<Option<Bytes>, EngineError> {
        let mut conn = self.conn.clone();
        let v: Option<Vec<u8>> = conn.get(self.key(key)).await.map_err(map_err)?;
        Ok(v.map(Bytes::from))
    }

    async fn set(&self, key: &str, value: &[u8], ttl: Option<Duration>) -> Result<(), EngineError> {
        let mut conn = self.conn.clone();
        let mut cmd = redis::cmd("SET");
        cmd.arg(self.key(key)).arg(value);
        if let Some(ttl) = ttl {
            cmd.arg("PX").arg(ttl.as_millis().max(1) as u64);
        }
        let _: () = cmd.query_async(&mut conn).await.map_err(map_err)?;
        Ok(())
    }

    async fn set_nx(&self, key: &str, value: &[u8], ttl: Option<Duration>) -> Result<bool, EngineError> {
        let mut conn = self.conn.clone();
        let mut cmd = redis::cmd("SET");
        cmd.arg(self.key(key)).arg(value).arg("NX");
        if let Some(ttl) = ttl {
            cmd.arg("PX").arg(ttl.as_millis().max(1) as u64);
        }
        let set: Option<String> = cmd.query_async(&mut conn).await.map_err(map_err)?;
        Ok(set.is_some())
    }

    async fn lease_hold(&self, key: &str, holder: &str, ttl: Duration) -> Result<bool, EngineError> {
        let mut conn = self.conn.clone();
        let ms = ttl.as_millis().clamp(1, u128::from(u64::MAX)) as u64;
        let held: i64 = self
            .scripts
            .lease_hold
            .key(self.key(key))
            .arg(holder)
            .arg(ms)
            .invoke_async(&mut conn)
            .await
            .map_err(map_err)?;
        Ok(held == 1)
    }

    async fn lease_release(&self, key: &str, holder: &str) -> Result<bool, EngineError> {
        let mut conn = self.conn.clone();
        let released: i64 =
            self.scripts.lease_release.key(self.key(key)).arg(holder).invoke_async(&mut conn).await.map_err(map_err)?;
        Ok(released == 1)
    }

    async fn incr_by(&self, key: &str, delta: i64) -> Result<i64, EngineError> {
        let mut conn = self.conn.clone();
        conn.incr(self.key(key), delta).await.map_err(map_err)
    }

    async fn delete(&self, key: &str) -> Result<bool, EngineError> {
        let mut conn = self.conn.clone();
        let n: i64 = conn.del(self.key(key)).await.map_err(map_err)?;
        Ok(n > 0)
    }

    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Bytes>>, EngineError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        // One GET per key in one pipeline: works whatever slots the keys are in.
        let mut pipe = redis::pipe();
        for key in keys {
            pipe.get(self.key(key));
        }
        let mut conn = self.conn.clone();
        let values: Vec<Option<Vec<u8>>> = pipe.query_async(&mut conn).await.map_err(map_err)?;
        Ok(values.into_iter().map(|v| v.map(Bytes::from)).collect())
    }

    async fn set_many(&self, entries: &[(String, Bytes)]) -> Result<(), EngineError> {
        if entries.is_empty() {
            return Ok(());
        }
        let mut cmd = redis::cmd("MSET");
        for (key, value) in entries {
            cmd.arg(self.key(key)).arg(value.as_ref());
        }
        let mut conn = self.conn.clone();
        let _: () = cmd.query_async(&mut conn).await.map_err(map_err)?;
        Ok(())
    }

    async fn index_add(&self, index: &str, member: &str) -> Result<(), EngineError> {
        let mut conn = self.conn.clone();
        let _: i64 = conn.zadd(self.key(index), member, 0).await.map_err(map_err)?;
        Ok(())
    }

    async fn index_remove(&self, index: &str, member: &str) -> Result<(), EngineError> {
        let mut conn = self.conn.clone();
        let _: i64 = conn.zrem(self.key(index), member).await.map_err(map_err)?;
        Ok(())
    }

    async fn index_range(&self, index: &str, after: Option<&str>, limit: usize) -> Result<Vec<String>, EngineError> {
        let mut conn = self.conn.clone();
        let min = match after {
            Some(a) => format!("({a}"),
            None => "-".to_owned(),
        };
        redis::cmd("ZRANGE")
            .arg(self.key(index))
            .arg(min)
            .arg("+")
            .arg("BYLEX")
            .arg("LIMIT")
            .arg(0)
            .arg(limit)
            .query_async(&mut conn)
            .await
            .map_err(map_err)
    }

    async fn take_all(&self, items: &[(String, i64)]) -> Result<Take, EngineError> {
        let mut invocation = self.scripts.take_all.prepare_invoke();
        for (key, qty) in items {
            invocation.key(self.key(key)).arg(*qty);
        }
        let mut conn = self.conn.clone();
        let (taken, index, available): (i64, usize, i64) = invocation.invoke_async(&mut conn).await.map_err(map_err)?;
        Ok(if taken == 1 { Take::Taken } else { Take::Short { index, available } })
    }

    async fn compare_and_set(&self, key: &str, expected: Option<&[u8]>, value: &[u8]) -> Result<bool, EngineError> {
        let mut conn = self.conn.clone();
        let absent = if expected.is_none() { "1" } else { "0" };
        let set: i64 = self
            .scripts
            .cas
            .key(self.key(key))
            .arg(expected.unwrap_or_default())
            .arg(value)
            .arg(absent)
            .invoke_async(&mut conn)
            .await
            .map_err(map_err)?;
        Ok(set == 1)
    }

    async fn set_max(&self, key: &str, value: i64) -> Result<i64, EngineError> {
        let mut conn = self.conn.clone();
        self.scripts.set_max.key(self.key(key)).arg(value).invoke_async(&mut conn).await.map_err(map_err)
    }

    async fn set_add(&self, key: &str, members: &[String], ttl: Option<Duration>) -> Result<(), EngineError> {
        if members.is_empty() {
            return Ok(());
        }
        let mut conn = self.conn.clone();
        let mut pipe = redis::pipe();
        pipe.atomic().sadd(self.key(key), members).ignore();
        if let Some(ttl) = ttl {
            pipe.pexpire(self.key(key), ttl.as_millis().max(1) as i64).ignore();
        }
        let _: () = pipe.query_async(&mut conn).await.map_err(map_err)?;
        Ok(())
    }

    async fn set_len(&self, key: &str) -> Result<u64, EngineError> {
        let mut conn = self.conn.clone();
        conn.scard(self.key(key)).await.map_err(map_err)
    }

    async fn count_in_window(&self, key: &str, delta: i64, window: Duration) -> Result<WindowCount, EngineError> {
        let mut conn = self.conn.clone();
        let (count, left): (i64, i64) = self
            .scripts
            .count_in_window
            .key(self.key(key))
            .arg(delta)
            .arg(window.as_millis().max(1) as u64)
            .invoke_async(&mut conn)
            .await
            .map_err(map_err)?;
        Ok(WindowCount { count, resets_in: Duration::from_millis(left.max(0) as u64) })
    }
}
