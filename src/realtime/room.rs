//! Rooms: a channel's live state on this node, and where each kind of channel gets its own.
//!
//! A [`Room`] is kept by the hub from the channel's own events, under the lock that queues them
//! for subscribers, so a joining subscriber gets a snapshot and the offset it reflects in one
//! step. A show's room is one implementation (`shows::room::ShowRoom`); a fair's lobby or a
//! booth's room is only another. [`Rooms`] is what the session asks when someone subscribes:
//! whether the channel exists and may be joined, whether it keeps a room, and to load that room.
//! Channels that keep none (`user:`, `seller:`) start from their history and an empty snapshot.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;
use serde_json::value::RawValue;
use uuid::Uuid;

use crate::auth::User;
use crate::engine::StreamPosition;
use crate::realtime::channel::{Channel, ChannelKind};
use crate::realtime::protocol::{ErrorCode, ReplyError};

/// A channel's live state on this node.
pub trait Room: Send + Sync + 'static {
    /// Applies one event of the channel (its whole frame, at `position` when kept). Events at or
    /// before the room's position are already reflected and are skipped. Returns a user to
    /// remove from the channel, when the event bans one.
    fn apply(&mut self, position: Option<&StreamPosition>, frame: &[u8]) -> Option<Uuid>;
    /// The snapshot a joining subscriber starts from (encoded once per change and shared).
    fn snapshot(&mut self) -> Arc<RawValue>;
    /// The position the snapshot reflects.
    fn position(&self) -> &StreamPosition;
    /// The room's status, for rooms that have one (a show's `scheduled`, `live`, `ended`).
    fn status(&self) -> Option<&str> {
        None
    }
    /// The record the room keeps (a show's), as the channel's events left it, so a service on
    /// this node can read it without the engine.
    fn record(&self) -> Option<&Value> {
        None
    }
}

/// Where the rooms of some kinds of channel come from. The session asks it for every
/// subscription, before anything reaches the engine.
#[async_trait]
pub trait Rooms: Send + Sync + 'static {
    /// Refuses a channel that does not exist (`not_found`), or that `user` may not join (a
    /// viewer banned from a show): asked before the node subscribes, so a made-up channel costs
    /// the engine nothing and never takes part in presence reports.
    async fn admit(&self, channel: &Channel, user: Option<&User>) -> Result<(), ReplyError>;
    /// Whether the channel keeps a room; without one, a subscriber starts from the channel's
    /// history and an empty snapshot.
    fn keeps_room(&self, channel: &Channel) -> bool;
    /// Loads the room of a channel that keeps one, from what the engine stores.
    async fn load(&self, channel: &Channel) -> Result<Box<dyn Room>, ReplyError>;
    /// A subscriber joined (`viewer`: the user's id, or the connection's for an anonymous one).
    fn joined(&self, _channel: &Channel, _viewer: String) {}
}

/// The refusal of a channel that does not exist, worded per kind.
pub fn not_found(kind: ChannelKind) -> ReplyError {
    let message = match kind {
        ChannelKind::Fair => "no such fair",
        ChannelKind::Booth => "no such booth",
        ChannelKind::Show => "no such show",
        ChannelKind::User | ChannelKind::Seller => "no such channel",
    };
    ReplyError::new(ErrorCode::NotFound, message)
}

/// The rooms of fairs and booths while no fair exists: every `fair:` and `booth:` channel is
/// unknown, and every other channel exists and keeps no room.
#[derive(Debug, Default)]
pub struct NoFairs;

#[async_trait]
impl Rooms for NoFairs {
    async fn admit(&self, channel: &Channel, _user: Option<&User>) -> Result<(), ReplyError> {
        match channel.kind {
            ChannelKind::Fair | ChannelKind::Booth => Err(not_found(channel.kind)),
            ChannelKind::Show | ChannelKind::User | ChannelKind::Seller => Ok(()),
        }
    }

    fn keeps_room(&self, _channel: &Channel) -> bool {
        false
    }

    async fn load(&self, channel: &Channel) -> Result<Box<dyn Room>, ReplyError> {
        Err(not_found(channel.kind))
    }
}

/// Shows' rooms from `shows`, every other kind from `rest` (the fairs domain, when there is one).
pub struct WithShows {
    pub shows: Arc<dyn Rooms>,
    pub rest: Arc<dyn Rooms>,
}

impl WithShows {
    fn of(&self, channel: &Channel) -> &dyn Rooms {
        if channel.kind == ChannelKind::Show { self.shows.as_ref() } else { self.rest.as_ref() }
    }
}

#[async_trait]
impl Rooms for WithShows {
    async fn admit(&self, channel: &Channel, user: Option<&User>) -> Result<(), ReplyError> {
        self.of(channel).admit(channel, user).await
    }

    fn keeps_room(&self, channel: &Channel) -> bool {
        self.of(channel).keeps_room(channel)
    }

    async fn load(&self, channel: &Channel) -> Result<Box<dyn Room>, ReplyError> {
        self.of(channel).load(channel).await
    }

    fn joined(&self, channel: &Channel, viewer: String) {
        self.of(channel).joined(channel, viewer)
    }
}
