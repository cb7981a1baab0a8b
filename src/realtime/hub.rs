//! This node's subscribers per channel, and the fan-out of one prepared frame to all of them.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, Mutex};

use axum::extract::ws::Utf8Bytes;
use serde_json::value::RawValue;
use tokio::sync::watch;
use uuid::Uuid;

use crate::engine::{EventSink, Publication, StreamPosition};
use crate::metrics::Metrics;
use crate::realtime::protocol::Disconnect;
use crate::realtime::room::Room;
use crate::realtime::transport::outbound::Outbound;

/// Shards of the channel map, so joins and broadcasts on different channels rarely contend.
const SHARDS: usize = 64;

/// Events a joining subscriber may buffer while its history is read; a channel busier than this
/// during one history read means the client cannot keep up anyway.
const MAX_PENDING: usize = 1024;

/// A connection's key in the hub.
pub type ConnKey = u64;

pub struct Hub {
    /// Each shard's lock is held while one publication is pushed to that channel's subscribers,
    /// which keeps per-channel order; pushing never blocks.
    shards: Box<[Mutex<Shard>]>,
    hasher: RandomState,
    metrics: Arc<Metrics>,
}

type Shard = HashMap<Arc<str>, ChannelSubs>;

/// Events a room may buffer while it loads: a show busier than this during one load is rebuilt.
const MAX_ROOM_BUFFER: usize = 4096;

/// Recent events kept per channel for subscribers that come back with `since`.
const RECENT_FRAMES: usize = 128;
const RECENT_BYTES: usize = 128 * 1024;

#[derive(Default)]
struct ChannelSubs {
    subs: HashMap<ConnKey, Sub>,
    room: RoomSlot,
    recent: Recent,
}

/// The latest history-kept events this node delivered on a channel, without a gap, so a
/// subscriber recovering with `since` is served here instead of by a history read (which, on
/// Redis, is a round trip per subscriber and can be ahead of this node's delivery).
#[derive(Default)]
struct Recent {
    epoch: String,
    frames: VecDeque<(u64, Utf8Bytes)>,
    bytes: usize,
}

impl Recent {
    fn push(&mut self, position: &StreamPosition, frame: &Utf8Bytes) {
        let last = self.frames.back().map(|(o, _)| *o);
        if position.epoch == self.epoch && last.is_some_and(|l| position.offset <= l) {
            return;
        }
        if position.epoch != self.epoch || last.is_some_and(|l| position.offset != l + 1) {
            // A new history, or a gap: start again from here.
            self.frames.clear();
            self.bytes = 0;
            self.epoch.clone_from(&position.epoch);
        }
        self.frames.push_back((position.offset, frame.clone()));
        self.bytes += frame.len();
        while self.frames.len() > RECENT_FRAMES || self.bytes > RECENT_BYTES {
            let Some((_, f)) = self.frames.pop_front() else { break };
            self.bytes -= f.len();
        }
    }

    /// The events after `since` and the position they end at, when they are all here.
    fn since(&self, since: &StreamPosition) -> Option<(Vec<Utf8Bytes>, StreamPosition)> {
        let (first, last) = (self.frames.front()?.0, self.frames.back()?.0);
        if since.epoch != self.epoch || since.offset + 1 < first || since.offset > last {
            return None;
        }
        let frames = self.frames.iter().filter(|(o, _)| *o > since.offset).map(|(_, f)| f.clone()).collect();
        Some((frames, StreamPosition { offset: last, epoch: self.epoch.clone() }))
    }
}

/// A channel's live state, for channels that keep one.
#[derive(Default)]
enum RoomSlot {
    #[default]
    Absent,
    /// One subscriber is loading it; events arriving meanwhile wait here, and the others wait
    /// on the watch (its sender is dropped when loading ends either way).
    Loading {
        buffer: Vec<(Option<StreamPosition>, Utf8Bytes)>,
        overflowed: bool,
        _done: watch::Sender<()>,
        waiting: watch::Receiver<()>,
    },
    Ready(Box<dyn Room>),
}

/// What a joining subscriber finds.
pub enum RoomState {
    /// The snapshot and the position it reflects.
    Ready(Arc<RawValue>, StreamPosition),
    /// Nobody has it: the caller loads it and calls [`Hub::install_room`] or [`Hub::abort_room`].
    Load,
    /// Someone is loading it: wait for the receiver to close, then ask again.
    Wait(watch::Receiver<()>),
    /// The caller is no longer subscribed (kicked, or the channel was reset).
    Gone,
}

struct Sub {
    /// The signed-in user, so a ban can remove them.
    user: Option<Uuid>,
    out: Arc<Outbound>,
    /// Events that arrived while the subscriber's history was being read; None once active.
    pending: Option<Vec<(Option<StreamPosition>, Utf8Bytes)>>,
    /// After activation: the position the subscriber was already sent (its history read may be
    /// ahead of this node's delivery, as with Redis pub/sub), so later deliveries up to it are
    /// skipped. Cleared by the first event past it.
    sent_up_to: Option<Box<StreamPosition>>,
}

impl Hub {
    pub fn new(metrics: Arc<Metrics>) -> Self {
        let shards = (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect();
        Self { shards, hasher: RandomState::new(), metrics }
    }

    fn shard(&self, channel: &str) -> &Mutex<Shard> {
        let i = self.hasher.hash_one(channel) as usize % SHARDS;
        &self.shards[i]
    }

    /// Adds a subscriber that buffers events until [`Hub::activate`]. Returns the channel's
    /// shared name, so thousands of subscribers hold one copy of it.
    pub fn join(&self, channel: &str, conn: ConnKey, out: Arc<Outbound>, user: Option<Uuid>) -> Arc<str> {
        let mut shard = self.shard(channel).lock().unwrap();
        let name = match shard.get_key_value(channel) {
            Some((name, _)) => name.clone(),
            None => Arc::from(channel),
        };
        let subs = shard.entry(name.clone()).or_default();
        subs.subs.insert(conn, Sub { user, out, pending: Some(Vec::new()), sent_up_to: None });
        name
    }

    /// The channel's room, for a subscriber that joined it.
    pub fn room(&self, channel: &str, conn: ConnKey) -> RoomState {
        let mut shard = self.shard(channel).lock().unwrap();
        let Some(subs) = shard.get_mut(channel) else { return RoomState::Gone };
        if !subs.subs.contains_key(&conn) {
            return RoomState::Gone;
        }
        match &mut subs.room {
            RoomSlot::Ready(room) => RoomState::Ready(room.snapshot(), room.position().clone()),
            RoomSlot::Loading { waiting, .. } => RoomState::Wait(waiting.clone()),
            RoomSlot::Absent => {
                let (done, waiting) = watch::channel(());
                subs.room = RoomSlot::Loading { buffer: Vec::new(), overflowed: false, _done: done, waiting };
                RoomState::Load
            }
        }
    }

    /// Installs a loaded room and applies what arrived while it loaded. False when events were
    /// dropped meanwhile (the room is discarded and must be loaded again).
    pub fn install_room(&self, channel: &str, mut room: Box<dyn Room>) -> bool {
        let mut shard = self.shard(channel).lock().unwrap();
        let Some(subs) = shard.get_mut(channel) else { return false };
        let slot = std::mem::take(&mut subs.room);
        let RoomSlot::Loading { buffer, overflowed, .. } = slot else {
            subs.room = slot;
            return false;
        };
        if overflowed {
            return false;
        }
        let mut kicked = Vec::new();
        for (position, frame) in &buffer {
            kicked.extend(room.apply(position.as_ref(), frame.as_bytes()));
        }
        subs.room = RoomSlot::Ready(room);
        for user in kicked {
            subs.subs.retain(|_, s| s.user != Some(user));
        }
        true
    }

    /// Gives up loading; the next subscriber tries again.
    pub fn abort_room(&self, channel: &str) {
        let mut shard = self.shard(channel).lock().unwrap();
        if let Some(subs) = shard.get_mut(channel)
            && matches!(subs.room, RoomSlot::Loading { .. })
        {
            subs.room = RoomSlot::Absent;
        }
    }

    /// The status of the channel's room, when it is loaded here and has one.
    pub fn room_status(&self, channel: &str) -> Option<String> {
        let shard = self.shard(channel).lock().unwrap();
        match &shard.get(channel)?.room {
            RoomSlot::Ready(room) => room.status().map(str::to_owned),
            _ => None,
        }
    }

    /// The record of the channel's room on this node (a show), when it has one ready.
    pub fn room_record(&self, channel: &str) -> Option<serde_json::Value> {
        let shard = self.shard(channel).lock().unwrap();
        match &shard.get(channel)?.room {
            RoomSlot::Ready(room) => room.record().cloned(),
            _ => None,
        }
    }

    /// The events after `since` this node delivered on the channel and the position they end
    /// at, when it still has all of them.
    pub fn recent_since(&self, channel: &str, since: &StreamPosition) -> Option<(Vec<Utf8Bytes>, StreamPosition)> {
        let shard = self.shard(channel).lock().unwrap();
        shard.get(channel)?.recent.since(since)
    }

    /// Starts live delivery after the subscriber was sent everything up to `after`: buffered
    /// events past it are queued now, in order, and later ones as they come.
    pub fn activate(&self, channel: &str, conn: ConnKey, after: &StreamPosition) {
        let mut shard = self.shard(channel).lock().unwrap();
        let Some(sub) = shard.get_mut(channel).and_then(|c| c.subs.get_mut(&conn)) else {
            return;
        };
        let Some(pending) = sub.pending.take() else {
            return;
        };
        // Deliveries are in offset order: once one past `after` has arrived, none up to it can.
        let mut caught_up = after.epoch.is_empty() && after.offset == 0;
        for (position, frame) in pending {
            match position {
                None => {
                    sub.out.push(frame);
                }
                Some(p) if p.epoch == after.epoch || after.epoch.is_empty() => {
                    if p.offset > after.offset {
                        caught_up = true;
                        sub.out.push(frame);
                    }
                }
                Some(_) => {
                    // History restarted between the read and now: this client must recover.
                    sub.out.close(Disconnect::RESYNC);
                    return;
                }
            }
        }
        if !caught_up {
            sub.sent_up_to = Some(Box::new(after.clone()));
        }
    }

    pub fn leave(&self, channel: &str, conn: ConnKey) {
        let mut shard = self.shard(channel).lock().unwrap();
        if let Some(subs) = shard.get_mut(channel) {
            subs.subs.remove(&conn);
            if subs.subs.is_empty() {
                shard.remove(channel);
            }
        }
    }

    /// How many of this node's subscribers of `channel` are signed in as `user` (a booth's
    /// seller, for their presence).
    pub fn user_count(&self, channel: &str, user: Uuid) -> usize {
        let shard = self.shard(channel).lock().unwrap();
        shard.get(channel).map_or(0, |subs| subs.subs.values().filter(|s| s.user == Some(user)).count())
    }

    /// Every channel with local subscribers and their number.
    pub fn channel_counts(&self) -> Vec<(Arc<str>, usize)> {
        let mut out = Vec::new();
        for shard in self.shards.iter() {
            let shard = shard.lock().unwrap();
            out.extend(shard.iter().map(|(ch, subs)| (ch.clone(), subs.subs.len())));
        }
        out
    }
}

impl EventSink for Hub {
    fn deliver(&self, publication: Publication) {
        let frame = match Utf8Bytes::try_from(publication.frame) {
            Ok(f) => f,
            Err(_) => {
                tracing::error!(channel = %publication.channel, "publication is not UTF-8; dropped");
                return;
            }
        };
        let mut shard = self.shard(&publication.channel).lock().unwrap();
        let Some(subs) = shard.get_mut(&*publication.channel) else {
            return;
        };
        if let Some(position) = &publication.position {
            subs.recent.push(position, &frame);
        }
        let kicked = match &mut subs.room {
            RoomSlot::Absent => None,
            RoomSlot::Ready(room) => room.apply(publication.position.as_ref(), frame.as_bytes()),
            RoomSlot::Loading { buffer, overflowed, .. } => {
                if buffer.len() < MAX_ROOM_BUFFER {
                    buffer.push((publication.position.clone(), frame.clone()));
                } else {
                    *overflowed = true;
                }
                None
            }
        };
        let mut dropped = 0u64;
        for sub in subs.subs.values_mut() {
            match &mut sub.pending {
                Some(pending) if pending.len() < MAX_PENDING => {
                    pending.push((publication.position.clone(), frame.clone()));
                }
                Some(_) => {
                    sub.out.close(Disconnect::SLOW);
                    dropped += 1;
                }
                None => {
                    if let (Some(sent), Some(p)) = (&sub.sent_up_to, &publication.position) {
                        if p.epoch == sent.epoch && p.offset <= sent.offset {
                            // Already in the subscriber's history reply.
                            continue;
                        }
                        sub.sent_up_to = None;
                    }
                    if !sub.out.push(frame.clone()) && sub.out.close_reason() == Some(Disconnect::SLOW) {
                        dropped += 1;
                    }
                }
            }
        }
        if dropped > 0 {
            tracing::debug!(channel = %publication.channel, dropped, "slow subscribers closed");
        }
        if let Some(user) = kicked {
            // The ban event itself was the last frame they get from this channel.
            subs.subs.retain(|_, s| s.user != Some(user));
            if subs.subs.is_empty() {
                shard.remove(&*publication.channel);
            }
        }
        self.metrics.hub_publications.inc();
    }

    fn lost(&self, channel: &str) {
        let mut shard = self.shard(channel).lock().unwrap();
        if let Some(subs) = shard.remove(channel) {
            for sub in subs.subs.values() {
                sub.out.close(Disconnect::RESYNC);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_util::sync::CancellationToken;

    fn publication(channel: &str, offset: u64, epoch: &str) -> Publication {
        let frame = format!(r#"{{"ch":"{channel}","ev":"chat","off":{offset},"data":{{}}}}"#);
        Publication {
            channel: channel.into(),
            position: Some(StreamPosition { offset, epoch: epoch.to_owned() }),
            frame: bytes::Bytes::from(frame),
        }
    }

    fn offsets(out: &Outbound) -> Vec<u64> {
        out.take()
            .frames
            .iter()
            .map(|f| serde_json::from_str::<serde_json::Value>(f.as_str()).unwrap()["off"].as_u64().unwrap())
            .collect()
    }

    /// A history read can be ahead of this node's deliveries (Redis pub/sub lags behind a direct
    /// read): what the subscriber was sent in its reply must not reach it again afterwards.
    #[test]
    fn deliveries_up_to_the_history_read_are_not_sent_again() {
        let hub = Hub::new(Arc::new(Metrics::new()));
        let ch = "booth:0190f3c4-0000-7000-8000-00000000000a";
        let out = Arc::new(Outbound::new(1 << 20, CancellationToken::new()));
        hub.join(ch, 1, out.clone(), None);
        hub.deliver(publication(ch, 4, "e1"));
        // The reply carried everything up to 6; 5 and 6 reach this node only afterwards.
        hub.activate(ch, 1, &StreamPosition { offset: 6, epoch: "e1".into() });
        hub.deliver(publication(ch, 5, "e1"));
        hub.deliver(publication(ch, 6, "e1"));
        hub.deliver(publication(ch, 7, "e1"));
        hub.deliver(publication(ch, 8, "e1"));
        assert_eq!(offsets(&out), vec![7, 8]);
    }

    #[test]
    fn recent_events_serve_a_returning_subscriber_only_when_none_is_missing() {
        let hub = Hub::new(Arc::new(Metrics::new()));
        let ch = "booth:0190f3c4-0000-7000-8000-00000000000c";
        let out = Arc::new(Outbound::new(1 << 20, CancellationToken::new()));
        hub.join(ch, 1, out.clone(), None);
        hub.activate(ch, 1, &StreamPosition { offset: 0, epoch: String::new() });
        for off in 1..=5 {
            hub.deliver(publication(ch, off, "e1"));
        }
        let at = |offset: u64, epoch: &str| StreamPosition { offset, epoch: epoch.to_owned() };
        let (frames, position) = hub.recent_since(ch, &at(2, "e1")).expect("covered");
        assert_eq!(frames.len(), 3);
        assert!(frames[0].as_str().contains(r#""off":3"#));
        assert_eq!(position, at(5, "e1"));
        let (frames, position) = hub.recent_since(ch, &at(5, "e1")).expect("up to date");
        assert!(frames.is_empty());
        assert_eq!(position, at(5, "e1"));
        // Another history, or a client ahead of this node: the engine's history decides.
        assert!(hub.recent_since(ch, &at(2, "e0")).is_none());
        assert!(hub.recent_since(ch, &at(6, "e1")).is_none());
        // A gap starts the kept events again: nothing before it can be served.
        hub.deliver(publication(ch, 8, "e1"));
        assert!(hub.recent_since(ch, &at(5, "e1")).is_none());
        assert_eq!(hub.recent_since(ch, &at(7, "e1")).map(|(f, _)| f.len()), Some(1));
        // At most RECENT_FRAMES are kept.
        for off in 9..9 + RECENT_FRAMES as u64 {
            hub.deliver(publication(ch, off, "e1"));
        }
        assert!(hub.recent_since(ch, &at(7, "e1")).is_none());
        assert_eq!(hub.recent_since(ch, &at(8, "e1")).map(|(f, _)| f.len()), Some(RECENT_FRAMES));
        // Nobody left on the channel: nothing kept.
        hub.leave(ch, 1);
        assert!(hub.recent_since(ch, &at(8, "e1")).is_none());
    }

    #[test]
    fn buffered_deliveries_past_the_history_read_follow_it() {
        let hub = Hub::new(Arc::new(Metrics::new()));
        let ch = "booth:0190f3c4-0000-7000-8000-00000000000b";
        let out = Arc::new(Outbound::new(1 << 20, CancellationToken::new()));
        hub.join(ch, 1, out.clone(), None);
        for off in 3..=7 {
            hub.deliver(publication(ch, off, "e1"));
        }
        hub.activate(ch, 1, &StreamPosition { offset: 5, epoch: "e1".into() });
        hub.deliver(publication(ch, 8, "e1"));
        assert_eq!(offsets(&out), vec![6, 7, 8]);
    }
}
