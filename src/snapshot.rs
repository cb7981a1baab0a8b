//! Channel snapshots: the current state a subscriber starts from.

use async_trait::async_trait;
use serde_json::Value;

use crate::auth::User;
use crate::channel::Channel;
use crate::protocol::ReplyError;

/// Builds the `snapshot` of a `subscribe` reply. Each domain (shows, fairs, booths) answers for
/// its channel kind and refuses channels that do not exist.
#[async_trait]
pub trait Snapshots: Send + Sync + 'static {
    async fn snapshot(&self, channel: &Channel, user: Option<&User>) -> Result<Value, ReplyError>;
}

/// Snapshots for a node whose channels carry no state beyond their event history: every
/// channel starts from an empty object and is rebuilt from its events.
#[derive(Debug, Default)]
pub struct HistoryOnly;

#[async_trait]
impl Snapshots for HistoryOnly {
    async fn snapshot(&self, _channel: &Channel, _user: Option<&User>) -> Result<Value, ReplyError> {
        Ok(Value::Object(Default::default()))
    }
}
