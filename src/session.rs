//! One connection's session: decodes commands, checks permissions and limits, applies them.
//!
//! Knows nothing of WebSocket messages: it gets text and pushes encoded frames to the
//! connection's [`Outbound`] queue, so replies and events leave in the order they were queued.

use std::num::NonZeroU32;
use std::sync::Arc;

use axum::extract::ws::Utf8Bytes;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use serde_json::value::RawValue;
use uuid::Uuid;

use crate::app::AppState;
use crate::auth::{Claims, User, unix_now};
use crate::channel::Channel;
use crate::engine::{EngineError, StreamPosition};
use crate::hub::ConnKey;
use crate::metrics::{CommandLabels, timed};
use crate::protocol::{
    Command, CommandFrame, Disconnect, ErrorCode, ReplyError, Since, SubscribeResult, decode_command, encode_err,
    encode_ok,
};
use crate::transport::outbound::Outbound;

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

impl From<EngineError> for ReplyError {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::Unavailable(_) => ReplyError::unavailable(),
            EngineError::Internal(msg) => {
                tracing::error!(error = %msg, "engine internal error");
                ReplyError::internal()
            }
        }
    }
}

impl Session {
    pub fn new(state: AppState, key: ConnKey, claims: Option<Claims>, out: Arc<Outbound>) -> Self {
        let limits = &state.config.limits;
        let rate = NonZeroU32::new(limits.command_rate).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(limits.command_burst).unwrap_or(NonZeroU32::MIN);
        let limiter = RateLimiter::direct(Quota::per_second(rate).allow_burst(burst));
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
        if let Some(identity) = &self.identity
            && identity.claims.exp < unix_now()
        {
            self.out.close(Disconnect::TOKEN_EXPIRED);
            return;
        }
        let frame = decode_command(text);
        if let Err(wait) = self.limiter.check() {
            let retry = wait.wait_time_from(DefaultClock::default().now());
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
        let result = match frame.command {
            Command::Subscribe { ch, since } => self.subscribe(id, &ch, since).await,
            Command::Unsubscribe { ch } => {
                self.unsubscribe(&ch).await.map(|()| self.send(encode_ok(id, &serde_json::json!({}))))
            }
        };
        match result {
            Ok(()) => self.count(op, Ok(())),
            Err(error) => {
                self.count(op, Err(error.code));
                self.send(encode_err(Some(id), &error));
            }
        }
    }

    /// Subscribes and queues the reply itself, before any live event of the channel.
    async fn subscribe(&mut self, id: u64, name: &str, since: Option<Since>) -> Result<(), ReplyError> {
        let channel = Channel::parse(name)?;
        channel.check_subscribe(self.user())?;
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
        // Join first so nothing published from here on is missed, then read history: events
        // seen twice are filtered by offset on activation.
        let name = self.state.hub.join(&name, self.key, self.out.clone());
        if let Err(e) = timed(metrics, "subscribe", broker.subscribe(&name)).await {
            self.state.hub.leave(&name, self.key);
            return Err(e.into());
        }
        let since = since.map(|s| StreamPosition { offset: s.off, epoch: s.epoch });
        let history = match timed(metrics, "history", broker.history(&name, since.as_ref())).await {
            Ok(h) => h,
            Err(e) => {
                self.state.hub.leave(&name, self.key);
                broker.unsubscribe(&name).await;
                return Err(e.into());
            }
        };
        // Taken after the history read, so the state it shows is at least as new as `off`.
        let snapshot = match self.state.snapshots.snapshot(&channel, self.user()).await {
            Ok(s) => s,
            Err(e) => {
                self.state.hub.leave(&name, self.key);
                broker.unsubscribe(&name).await;
                return Err(e);
            }
        };
        let missed = history
            .events
            .into_iter()
            .filter_map(|frame| String::from_utf8(frame.to_vec()).ok().and_then(|s| RawValue::from_string(s).ok()))
            .collect();
        let result = SubscribeResult {
            epoch: history.position.epoch.clone(),
            off: history.position.offset,
            snapshot,
            recovered: history.recovered,
            missed,
        };
        self.send(encode_ok(id, &result));
        self.state.hub.activate(&name, self.key, &history.position);
        // Grow one at a time: most viewers hold one or two subscriptions.
        self.subscriptions.reserve_exact(1);
        self.subscriptions.push(name);
        Ok(())
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
