//! One connection's session: decodes commands, checks permissions and limits, applies them.
//!
//! Knows nothing of WebSocket messages: it gets text and pushes encoded frames to the
//! connection's [`Outbound`] queue, so replies and events leave in the order they were queued.

use std::num::NonZeroU32;
use std::sync::Arc;

use axum::extract::ws::Utf8Bytes;
use governor::clock::Clock;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use serde_json::value::RawValue;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::auth::{Claims, User};
use crate::engine::StreamPosition;
use crate::metrics::{CommandLabels, timed};
use crate::realtime::channel::Channel;
use crate::realtime::commands::Caller;
use crate::realtime::hub::ConnKey;
use crate::realtime::hub::RoomState;
use crate::realtime::protocol::{
    Command, CommandFrame, Disconnect, ErrorCode, ReplyError, Since, SubscribeResult, decode_command, encode_err,
    encode_ok,
};
use crate::realtime::transport::outbound::Outbound;
use crate::state::AppState;

/// Who a signed-in connection acts as.
struct Identity {
    claims: Claims,
    user: User,
}

pub struct Session {
    state: AppState,
    key: ConnKey,
    pub conn_id: Uuid,
    /// Boxed: most connections are anonymous viewers, and an idle connection should stay small.
    identity: Option<Box<Identity>>,
    out: Arc<Outbound>,
    /// Channels this connection is subscribed to; at most `max_subscriptions` (64 by default),
    /// few enough that a linear search beats hashing and costs less memory.
    subscriptions: Vec<Arc<str>>,
    limiter: DefaultDirectRateLimiter,
    /// Commands refused by the rate limit since the last accepted one.
    refused_in_row: u32,
}

/// Event frames (from the hub or the engine's history) as a reply carries them.
fn frames<F: Into<bytes::Bytes>>(events: Vec<F>) -> Vec<Box<RawValue>> {
    events
        .into_iter()
        .filter_map(|frame| {
            let frame: bytes::Bytes = frame.into();
            let text = std::str::from_utf8(&frame).ok()?;
            RawValue::from_string(text.to_owned()).ok()
        })
        .collect()
}

impl Session {
    pub fn new(state: AppState, key: ConnKey, claims: Option<Claims>, out: Arc<Outbound>) -> Self {
        let limits = &state.config.limits;
        let rate = NonZeroU32::new(limits.command_rate).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(limits.command_burst).unwrap_or(NonZeroU32::MIN);
        // One clock for every connection: creating one calibrates the CPU counter, far too slow
        // for a join storm.
        let limiter =
            RateLimiter::direct_with_clock(Quota::per_second(rate).allow_burst(burst), state.limiter_clock.clone());
        let identity = claims.map(|claims| Box::new(Identity { user: claims.user(), claims }));
        Self {
            state,
            key,
            conn_id: Uuid::now_v7(),
            identity,
            out,
            subscriptions: Vec::new(),
            limiter,
            refused_in_row: 0,
        }
    }

    pub fn user(&self) -> Option<&User> {
        self.identity.as_ref().map(|i| &i.user)
    }

    /// Whether the connection's token has expired (`Claims::is_expired_at`, now).
    pub fn token_expired(&self) -> bool {
        self.identity.as_ref().is_some_and(|i| i.claims.is_expired_at(self.state.clock.now_ms() / 1000))
    }

    /// When the connection's token expires (`exp`, seconds since the Unix epoch), if it is
    /// signed in.
    pub fn expires_at(&self) -> Option<u64> {
        self.identity.as_ref().map(|i| i.claims.exp)
    }

    fn send(&self, text: String) {
        self.out.push(Utf8Bytes::from(text));
    }

    fn count(&self, op: &'static str, result: Result<(), ErrorCode>) {
        let result = match result {
            Ok(()) => "ok",
            Err(code) => code.as_str(),
        };
        self.state.metrics.commands.get_or_create(&CommandLabels { op, result }).inc();
    }

    /// Handles one text frame: exactly one reply is queued, unless the connection is closing.
    pub async fn handle_text(&mut self, text: &str) {
        if self.token_expired() {
            self.out.close(Disconnect::TOKEN_EXPIRED);
            return;
        }
        let frame = decode_command(text);
        if let Err(wait) = self.limiter.check() {
            let retry = wait.wait_time_from(self.limiter.clock().now());
            self.state.metrics.rate_limited.inc();
            self.refused_in_row += 1;
            if self.refused_in_row >= self.state.config.limits.abuse_threshold {
                self.out.close(Disconnect::ABUSE);
                return;
            }
            let re = match &frame {
                Ok(f) => Some(f.id),
                Err(e) => e.re,
            };
            let mut error = ReplyError::new(ErrorCode::RateLimited, "too many commands; slow down");
            error.retry_after_ms = Some((retry.as_millis() as u64).max(1));
            self.count("rate_limit", Err(ErrorCode::RateLimited));
            self.send(encode_err(re, &error));
            return;
        }
        self.refused_in_row = 0;
        match frame {
            Ok(frame) => self.apply(frame).await,
            Err(e) => {
                self.count("decode", Err(e.error.code));
                self.send(encode_err(e.re, &e.error));
            }
        }
    }

    async fn apply(&mut self, frame: CommandFrame) {
        let op = frame.command.op();
        let id = frame.id;
        match self.dispatch(id, frame.command).await {
            Ok(reply) => {
                if let Some(data) = reply {
                    self.send(encode_ok(id, &data));
                }
                self.count(op, Ok(()));
            }
            Err(error) => {
                self.count(op, Err(error.code));
                self.send(encode_err(Some(id), &error));
            }
        }
    }

    /// `subscribe` and `unsubscribe` here; every other operation to the server's [`Commands`].
    /// A reply of `None` was queued by the handler itself (a subscription's, ahead of its first
    /// event).
    async fn dispatch(&mut self, id: u64, command: Command) -> Result<Option<Value>, ReplyError> {
        match command {
            Command::Subscribe { ch, since } => self.subscribe(id, &ch, since).await.map(|()| None),
            Command::Unsubscribe { ch } => self.unsubscribe(&ch).await.map(|()| Some(json!({}))),
            other => {
                let state = &self.state;
                let caller = Caller { user: self.user(), metrics: &state.metrics, work: &state.work };
                state.commands.apply(caller, other).await.map(Some)
            }
        }
    }

    /// Subscribes and queues the reply itself, before any live event of the channel.
    async fn subscribe(&mut self, id: u64, name: &str, since: Option<Since>) -> Result<(), ReplyError> {
        let channel = Channel::parse(name)?;
        channel.check_subscribe(self.user())?;
        // Before anything reaches the engine: a channel nobody can publish on, or one this user
        // may not join, is refused here.
        self.state.rooms.admit(&channel, self.user()).await?;
        let name = channel.to_string();
        if self.subscriptions.iter().any(|s| **s == *name) {
            return Err(ReplyError::new(ErrorCode::InvalidState, "already subscribed to this channel"));
        }
        let max = self.state.config.limits.max_subscriptions;
        if self.subscriptions.len() >= max {
            return Err(ReplyError::bad_request(format!("too many subscriptions (at most {max} per connection)")));
        }
        let metrics = &self.state.metrics;
        let broker = &self.state.engine.broker;
        // Join first so nothing published from here on is missed; what was already delivered
        // is told apart by offset on activation.
        let user_id = self.user().map(|u| u.id);
        let name = self.state.hub.join(&name, self.key, self.out.clone(), user_id);
        if let Err(e) = timed(metrics, "subscribe", broker.subscribe(&name)).await {
            self.state.hub.leave(&name, self.key);
            return Err(e.into());
        }
        let joined = if self.state.rooms.keeps_room(&channel) {
            self.join_room(&name, &channel, since).await
        } else {
            self.join_plain(&name, since).await
        };
        let (result, after) = match joined {
            Ok(j) => j,
            Err(e) => {
                self.state.hub.leave(&name, self.key);
                broker.unsubscribe(&name).await;
                return Err(e);
            }
        };
        self.send(encode_ok(id, &result));
        self.state.hub.activate(&name, self.key, &after);
        let viewer = match self.user() {
            Some(u) => u.id.to_string(),
            None => format!("conn:{}", self.conn_id),
        };
        self.state.rooms.joined(&channel, viewer);
        // Grow one at a time: most viewers hold one or two subscriptions.
        self.subscriptions.reserve_exact(1);
        self.subscriptions.push(name);
        Ok(())
    }

    /// A channel without a room: its history, and an empty snapshot.
    async fn join_plain(
        &self,
        name: &str,
        since: Option<Since>,
    ) -> Result<(SubscribeResult, StreamPosition), ReplyError> {
        let since = since.map(|s| StreamPosition { offset: s.off, epoch: s.epoch });
        let (missed, position, recovered) = match since.as_ref().and_then(|s| self.state.hub.recent_since(name, s)) {
            Some((events, position)) => (frames(events), position, true),
            None => {
                let h = timed(&self.state.metrics, "history", self.state.engine.broker.history(name, since.as_ref()))
                    .await?;
                (frames(h.events), h.position, h.recovered)
            }
        };
        let snapshot = RawValue::from_string("{}".to_owned()).map_err(|_| ReplyError::internal())?;
        let result =
            SubscribeResult { epoch: position.epoch.clone(), off: position.offset, snapshot, recovered, missed };
        Ok((result, position))
    }

    /// A channel with a room: the room's snapshot and the offset it reflects, loading the room
    /// when this node has none yet; with `since`, the missed events from history instead when
    /// they are there.
    async fn join_room(
        &self,
        name: &str,
        channel: &Channel,
        since: Option<Since>,
    ) -> Result<(SubscribeResult, StreamPosition), ReplyError> {
        let hub = &self.state.hub;
        let mut attempts = 0;
        let (snapshot, position) = loop {
            attempts += 1;
            if attempts > 20 {
                return Err(ReplyError::unavailable());
            }
            match hub.room(name, self.key) {
                RoomState::Ready(snapshot, position) => break (snapshot, position),
                RoomState::Load => match timed(&self.state.metrics, "room", self.state.rooms.load(channel)).await {
                    Ok(room) => {
                        hub.install_room(name, room);
                    }
                    Err(e) => {
                        hub.abort_room(name);
                        return Err(e);
                    }
                },
                RoomState::Wait(mut done) => {
                    // The loader drops the sender when it finishes, either way.
                    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), done.changed()).await;
                }
                RoomState::Gone => return Err(ReplyError::forbidden("you are no longer in this show")),
            }
        };
        let snapshot = RawValue::from_string(snapshot.get().to_owned()).map_err(|_| ReplyError::internal())?;
        if let Some(since) = since {
            let since = StreamPosition { offset: since.off, epoch: since.epoch };
            let recovered = match hub.recent_since(name, &since) {
                Some((events, position)) => Some((frames(events), position)),
                None => {
                    let h = timed(&self.state.metrics, "history", self.state.engine.broker.history(name, Some(&since)))
                        .await?;
                    h.recovered.then(|| (frames(h.events), h.position))
                }
            };
            if let Some((missed, position)) = recovered {
                let result = SubscribeResult {
                    epoch: position.epoch.clone(),
                    off: position.offset,
                    snapshot,
                    recovered: true,
                    missed,
                };
                return Ok((result, position));
            }
        }
        let result = SubscribeResult {
            epoch: position.epoch.clone(),
            off: position.offset,
            snapshot,
            recovered: false,
            missed: Vec::new(),
        };
        Ok((result, position))
    }

    async fn unsubscribe(&mut self, name: &str) -> Result<(), ReplyError> {
        let channel = Channel::parse(name)?;
        let name = channel.to_string();
        let Some(i) = self.subscriptions.iter().position(|s| **s == *name) else {
            return Err(ReplyError::new(ErrorCode::InvalidState, "not subscribed to this channel"));
        };
        self.subscriptions.swap_remove(i);
        self.state.hub.leave(&name, self.key);
        self.state.engine.broker.unsubscribe(&name).await;
        Ok(())
    }

    /// Releases everything the connection held; runs on every exit path.
    pub async fn close(mut self) {
        for name in std::mem::take(&mut self.subscriptions) {
            self.state.hub.leave(&name, self.key);
            self.state.engine.broker.unsubscribe(&name).await;
        }
    }
}
