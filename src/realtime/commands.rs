//! Where a connection's operations go: the session carries out `subscribe` and `unsubscribe`
//! itself and hands every other operation to the [`Commands`] the server was built with, so
//! the realtime core names no domain (the domains' commands are `crate::commands`).

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;
use tokio_util::task::TaskTracker;

use crate::auth::User;
use crate::metrics::Metrics;
use crate::realtime::protocol::{Command, ErrorCode, ReplyError};

/// Who sent a command, and where work it starts without waiting goes.
pub struct Caller<'a> {
    pub user: Option<&'a User>,
    pub metrics: &'a Arc<Metrics>,
    /// Work a command starts and does not wait for (an order from a chat message); shutdown
    /// waits for it.
    pub work: &'a TaskTracker,
}

impl Caller<'_> {
    /// The signed-in user (a guest token is enough), for every command but the subscriptions.
    pub fn signed_in(&self) -> Result<User, ReplyError> {
        self.user.cloned().ok_or_else(|| {
            ReplyError::new(ErrorCode::Unauthenticated, "sign in (a guest token is enough) to take part")
        })
    }
}

/// Carries out every operation but `subscribe` and `unsubscribe`, each handler checking the
/// caller's rights for its own command; the result is the reply's `data`.
#[async_trait]
pub trait Commands: Send + Sync + 'static {
    async fn apply(&self, caller: Caller<'_>, command: Command) -> Result<Value, ReplyError>;
}
