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
use crate::realtime::hub::ConnKey;
use crate::realtime::hub::RoomState;
use crate::realtime::protocol::{
    Command, CommandFrame, Disconnect, ErrorCode, ReplyError, Since, SubscribeResult, decode_command, encode_err,
    encode_ok,
};
use crate::realtime::transport::outbound::Outbound;
use crate::sales::{OfferRequest, OrderFor, OrderRequest};
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

/// Where a chat command goes: a show's chat or a booth's Q&A.
enum ChatIn {
    Show(Uuid),
    Booth(Uuid),
}

fn room_of(show: Option<Uuid>, booth: Option<Uuid>) -> Result<ChatIn, ReplyError> {
    match (show, booth) {
        (Some(show), None) => Ok(ChatIn::Show(show)),
        (None, Some(booth)) => Ok(ChatIn::Booth(booth)),
        _ => Err(ReplyError::bad_request("give exactly one of show and booth")),
    }
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

    /// Every operation and what carries it out, one arm each. A reply of `None` was queued by
    /// the handler itself (a subscription's, ahead of its first event). Each handler checks the
    /// caller's rights for its own command.
    async fn dispatch(&mut self, id: u64, command: Command) -> Result<Option<Value>, ReplyError> {
        use crate::engine::sales::OrderAction;
        let done = |()| Some(json!({}));
        let shows = self.state.shows.clone();
        let sales = self.state.sales.clone();
        let fairs = self.state.fairs.clone();
        Ok(match command {
            Command::Subscribe { ch, since } => self.subscribe(id, &ch, since).await.map(|()| None)?,
            Command::Unsubscribe { ch } => self.unsubscribe(&ch).await.map(done)?,
            Command::ChatSend { show, booth, text } => match room_of(show, booth)? {
                ChatIn::Show(show) => Some(self.chat_send(show, text).await?),
                ChatIn::Booth(booth) => {
                    let user = self.signed_in()?;
                    let msg_id = timed(&self.state.metrics, "chat.send", fairs.chat_send(&user, booth, &text)).await?;
                    Some(json!({ "msg_id": msg_id }))
                }
            },
            Command::ChatDelete { show, booth, msg_id } => match room_of(show, booth)? {
                ChatIn::Show(show) => shows.chat_delete(&self.signed_in()?, show, msg_id).await.map(done)?,
                ChatIn::Booth(booth) => fairs.chat_delete(&self.signed_in()?, booth, msg_id).await.map(done)?,
            },
            Command::ChatMute { show, booth, user_id, minutes } => match room_of(show, booth)? {
                ChatIn::Show(show) => shows.mute(&self.signed_in()?, show, user_id, minutes).await.map(done)?,
                ChatIn::Booth(booth) => fairs.mute(&self.signed_in()?, booth, user_id, minutes).await.map(done)?,
            },
            Command::ChatSlow { show, booth, seconds } => match room_of(show, booth)? {
                ChatIn::Show(show) => shows.slow(&self.signed_in()?, show, seconds).await.map(done)?,
                ChatIn::Booth(booth) => fairs.slow(&self.signed_in()?, booth, seconds).await.map(done)?,
            },
            Command::ChatBan { show, booth, user_id } => match room_of(show, booth)? {
                ChatIn::Show(show) => shows.ban(&self.signed_in()?, show, user_id).await.map(done)?,
                ChatIn::Booth(booth) => fairs.ban(&self.signed_in()?, booth, user_id).await.map(done)?,
            },
            Command::React { show, kind: _ } => shows.react(&self.signed_in()?, show).await.map(done)?,
            Command::ShowPin { show, product_id } => shows.pin(&self.signed_in()?, show, product_id).await.map(done)?,
            Command::ShowAnnounce { show, text } => shows.announce(&self.signed_in()?, show, &text).await.map(done)?,
            Command::ShowModerators { show, add, remove } => {
                let moderators = shows.set_moderators(&self.signed_in()?, show, &add, &remove).await?;
                Some(json!({ "moderators": moderators }))
            }
            Command::OfferStart { show, product_id, price, quantity, per_buyer_limit, duration_s } => {
                let r = OfferRequest { show, product: product_id, price, quantity, per_buyer_limit, duration_s };
                let offer = sales.offer_start(&self.signed_in()?, &r).await?;
                Some(json!({ "offer": offer }))
            }
            Command::OfferStop { show, offer_id } => {
                let offer = sales.offer_stop(&self.signed_in()?, show, offer_id).await?;
                Some(json!({ "offer": offer }))
            }
            Command::OrderPlace { show, offer_id, product_id, qty, key, delivery } => {
                Some(self.order_place(show, offer_id, product_id, qty, key, delivery).await?)
            }
            Command::OrderCancel { order_id } => {
                Some(self.order_act(order_id, OrderAction::Cancel { by_seller: false }).await?)
            }
            Command::OrderConfirm { order_id } => Some(self.order_act(order_id, OrderAction::Confirm).await?),
            Command::OrderShip { order_id } => Some(self.order_act(order_id, OrderAction::Ship).await?),
        })
    }

    /// The signed-in user (a guest token is enough), for every command but the subscriptions.
    fn signed_in(&self) -> Result<User, ReplyError> {
        self.user().cloned().ok_or_else(|| {
            ReplyError::new(ErrorCode::Unauthenticated, "sign in (a guest token is enough) to take part")
        })
    }

    /// `chat.send`; a buyer's message may also be an order ("chốt 2"), placed in the background
    /// and answered privately on `user:<id>`.
    async fn chat_send(&self, show: Uuid, text: String) -> Result<Value, ReplyError> {
        let user = self.signed_in()?;
        let msg_id = timed(&self.state.metrics, "chat.send", self.state.shows.chat_send(&user, show, &text)).await?;
        if user.role == crate::auth::Role::Buyer {
            let sales = self.state.sales.clone();
            self.state.work.spawn(async move { sales.chat_order(&user, show, msg_id, &text).await });
        }
        Ok(json!({ "msg_id": msg_id }))
    }

    async fn order_place(
        &self,
        show: Uuid,
        offer_id: Option<Uuid>,
        product_id: Option<Uuid>,
        qty: i64,
        key: String,
        delivery: Option<crate::realtime::protocol::DeliveryInput>,
    ) -> Result<Value, ReplyError> {
        let user = self.signed_in()?;
        let item = match (offer_id, product_id) {
            (Some(o), None) => OrderFor::Offer(o),
            (None, Some(p)) => OrderFor::Product(p),
            _ => return Err(ReplyError::bad_request("give exactly one of offer_id and product_id")),
        };
        let delivery = delivery.map(|d| crate::domain::account::DeliveryContact {
            name: d.name,
            phone: d.phone,
            address: d.address,
        });
        let source = if offer_id.is_some() { "offer" } else { "pinned" };
        let r = OrderRequest { show, item, qty, key, delivery, source };
        let order = timed(&self.state.metrics, "order.place", self.state.sales.order_place(&user, &r)).await?;
        Ok(json!({ "needs_address": order.needs_address, "order": order }))
    }

    async fn order_act(&self, order_id: Uuid, action: crate::engine::sales::OrderAction) -> Result<Value, ReplyError> {
        let order = self.state.sales.order_act(&self.signed_in()?, order_id, action).await?;
        Ok(json!({ "order": order }))
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
