//! This node's subscribers per channel, and the fan-out of one prepared frame to all of them.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, Mutex};

use axum::extract::ws::Utf8Bytes;

use crate::engine::{EventSink, Publication, StreamPosition};
use crate::metrics::Metrics;
use crate::protocol::Disconnect;
use crate::transport::outbound::Outbound;

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

#[derive(Default)]
struct ChannelSubs {
    subs: HashMap<ConnKey, Sub>,
}

struct Sub {
    out: Arc<Outbound>,
    /// Events that arrived while the subscriber's history was being read; None once active.
    pending: Option<Vec<(Option<StreamPosition>, Utf8Bytes)>>,
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
    pub fn join(&self, channel: &str, conn: ConnKey, out: Arc<Outbound>) -> Arc<str> {
        let mut shard = self.shard(channel).lock().unwrap();
        let name = match shard.get_key_value(channel) {
            Some((name, _)) => name.clone(),
            None => Arc::from(channel),
        };
        let subs = shard.entry(name.clone()).or_default();
        subs.subs.insert(conn, Sub { out, pending: Some(Vec::new()) });
        name
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
        for (position, frame) in pending {
            match position {
                None => {
                    sub.out.push(frame);
                }
                Some(p) if p.epoch == after.epoch || after.epoch.is_empty() => {
                    if p.offset > after.offset {
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

    /// Local subscribers of one channel.
    pub fn local_count(&self, channel: &str) -> usize {
        self.shard(channel).lock().unwrap().get(channel).map_or(0, |c| c.subs.len())
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
                    if !sub.out.push(frame.clone()) && sub.out.close_reason() == Some(Disconnect::SLOW) {
                        dropped += 1;
                    }
                }
            }
        }
        if dropped > 0 {
            tracing::debug!(channel = %publication.channel, dropped, "slow subscribers closed");
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
