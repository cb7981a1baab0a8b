//! Channel snapshots: the current state a subscriber starts from.

use async_trait::async_trait;
use serde_json::Value;

use crate::auth::User;
use crate::channel::{Channel, ChannelKind};
use crate::protocol::{ErrorCode, ReplyError};

/// Builds the `snapshot` of a `subscribe` reply. Each domain (shows, fairs, booths) answers for
/// its channel kind and refuses channels that do not exist.
#[async_trait]
pub trait Snapshots: Send + Sync + 'static {
    /// Refuses, with `not_found`, a fair or booth channel that does not exist. Asked before the
    /// node subscribes, so a made-up channel costs the engine nothing and never takes part in
    /// presence reports. Shows are answered by loading their room, `user:` and `seller:` by
    /// their owner check.
    async fn check_exists(&self, channel: &Channel) -> Result<(), ReplyError>;

    async fn snapshot(&self, channel: &Channel, user: Option<&User>) -> Result<Value, ReplyError>;
}

/// The refusal of a fair or booth that does not exist, worded like that of an unknown show.
pub fn not_found(kind: ChannelKind) -> ReplyError {
    let message = match kind {
        ChannelKind::Fair => "no such fair",
        ChannelKind::Booth => "no such booth",
        ChannelKind::Show => "no such show",
        ChannelKind::User | ChannelKind::Seller => "no such channel",
    };
    ReplyError::new(ErrorCode::NotFound, message)
}

/// Snapshots while no fair exists (fairs have no module yet): every `fair:` and `booth:`
/// channel is unknown; the other kinds start from an empty object and are rebuilt from their
/// events.
#[derive(Debug, Default)]
pub struct HistoryOnly;

#[async_trait]
impl Snapshots for HistoryOnly {
    async fn check_exists(&self, channel: &Channel) -> Result<(), ReplyError> {
        match channel.kind {
            ChannelKind::Fair | ChannelKind::Booth => Err(not_found(channel.kind)),
            ChannelKind::Show | ChannelKind::User | ChannelKind::Seller => Ok(()),
        }
    }

    async fn snapshot(&self, _channel: &Channel, _user: Option<&User>) -> Result<Value, ReplyError> {
        Ok(Value::Object(Default::default()))
    }
}
