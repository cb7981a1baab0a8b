//! The wire contract of `/ws` (PROTOCOL.md §2): frames, commands, replies, error and close codes.
//!
//! Nothing here knows about WebSocket messages or sockets: the transport hands text in and gets
//! text out. The JSON Schemas in `proto/schemas/` are generated from these types.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;
use uuid::Uuid;

/// The protocol version announced in `hello`.
pub const PROTOCOL_VERSION: u32 = 1;

/// The WebSocket subprotocol the server accepts when offered.
pub const SUBPROTOCOL: &str = "ocop-live.v1";

/// A command from the client: `{"id": <u64>, "op": "<name>", ...params}`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
pub struct CommandFrame {
    /// Chosen by the client, unique per connection; echoed in the reply's `re`.
    pub id: u64,
    #[serde(flatten)]
    pub command: Command,
}

/// Defines [`Command`] with each operation's name written once: the serde tag, [`Command::op`]
/// and [`KNOWN_OPS`] all come from it.
macro_rules! commands {
    ($($(#[$meta:meta])* $variant:ident = $op:literal { $($fields:tt)* },)*) => {
        /// The operations a client may ask for, tagged by `op`.
        #[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
        #[serde(tag = "op", deny_unknown_fields)]
        pub enum Command {
            $($(#[$meta])* #[serde(rename = $op)] $variant { $($fields)* },)*
        }

        /// Every operation name this server knows, so an unknown one is told apart from bad
        /// parameters.
        pub const KNOWN_OPS: &[&str] = &[$($op),*];

        impl Command {
            /// The operation name, for metrics and logs.
            pub fn op(&self) -> &'static str {
                match self {
                    $(Command::$variant { .. } => $op,)*
                }
            }
        }
    };
}

commands! {
    /// Start receiving a channel's events, with a snapshot and optional recovery.
    Subscribe = "subscribe" {
        /// The channel, for example `show:0190f3c4-...`.
        ch: String,
        /// The last position the client saw, to recover what it missed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        since: Option<Since>,
    },
    /// Stop receiving a channel's events.
    Unsubscribe = "unsubscribe" { ch: String },
    /// Post a chat message in a show, or in a booth's Q&A with `booth` instead of `show` (any
    /// signed-in user, guests included).
    ChatSend = "chat.send" {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        show: Option<Uuid>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        booth: Option<Uuid>,
        text: String,
    },
    /// Remove a chat message (moderators); `show` or `booth`.
    ChatDelete = "chat.delete" {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        show: Option<Uuid>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        booth: Option<Uuid>,
        msg_id: Uuid,
    },
    /// Silence a user in a show or a booth for some minutes (moderators).
    ChatMute = "chat.mute" {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        show: Option<Uuid>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        booth: Option<Uuid>,
        user_id: Uuid,
        minutes: u32,
    },
    /// Slow mode: seconds each viewer waits between messages, 0 to turn off (moderators); `show`
    /// or `booth`.
    ChatSlow = "chat.slow" {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        show: Option<Uuid>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        booth: Option<Uuid>,
        seconds: u32,
    },
    /// Remove a user from a show or a booth for good (moderators).
    ChatBan = "chat.ban" {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        show: Option<Uuid>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        booth: Option<Uuid>,
        user_id: Uuid,
    },
    /// Send a reaction (any signed-in user).
    React = "react" { show: Uuid, kind: ReactionKind },
    /// Put a lineup product on screen, or none (the show's seller).
    ShowPin = "show.pin" { show: Uuid, product_id: Option<Uuid> },
    /// Post (or clear with an empty text) the pinned announcement (moderators).
    ShowAnnounce = "show.announce" { show: Uuid, text: String },
    /// Open a flash offer in a live show (the show's seller).
    OfferStart = "offer.start" {
        show: Uuid,
        product_id: Uuid,
        /// VND, at most the list price.
        price: i64,
        quantity: i64,
        per_buyer_limit: i64,
        /// 10 to 7200.
        duration_s: u64,
    },
    /// End a flash offer now; unsold units return to stock (the show's seller).
    OfferStop = "offer.stop" { show: Uuid, offer_id: Uuid },
    /// Order from an offer (offer price) or a lineup product (list price). Buyers only.
    OrderPlace = "order.place" {
        show: Uuid,
        #[serde(default)]
        offer_id: Option<Uuid>,
        #[serde(default)]
        product_id: Option<Uuid>,
        qty: i64,
        /// Idempotency key, 8 to 64 characters: the same key returns the same order.
        key: String,
        /// Where to deliver, when not the buyer's saved contact.
        #[serde(default)]
        delivery: Option<DeliveryInput>,
    },
    /// Cancel an order (the buyer while placed; the seller while placed or confirmed).
    OrderCancel = "order.cancel" { order_id: Uuid },
    /// Confirm an order (the seller).
    OrderConfirm = "order.confirm" { order_id: Uuid },
    /// Mark a confirmed order shipped (the seller).
    OrderShip = "order.ship" { order_id: Uuid },
    /// Appoint or remove moderators (the show's seller).
    ShowModerators = "show.moderators" {
        show: Uuid,
        #[serde(default)]
        add: Vec<Uuid>,
        #[serde(default)]
        remove: Vec<Uuid>,
    },
}

/// A delivery contact given with an order.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeliveryInput {
    pub name: String,
    pub phone: String,
    pub address: String,
}

/// Reactions viewers can send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReactionKind {
    Heart,
}

/// A position in a channel's history: the offset of the last event seen and its epoch.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Since {
    pub off: u64,
    pub epoch: String,
}

/// Why a text frame could not become a command; each carries the reply it deserves.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodeError {
    /// The command id when it could be read, so the reply can name it.
    pub re: Option<u64>,
    pub error: ReplyError,
}

/// Decodes one text frame into a command.
///
/// Not JSON, not an object, or no numeric `id` gives `bad_request` with `re: null`; a key that
/// appears twice in one object, at any depth, gives `bad_request` (with `re: null` when the
/// repeated key is the top-level `id`); a known id with a missing or unknown `op` gives
/// `bad_request` or `unknown_op` naming that id; parameters of the wrong shape give
/// `bad_request` naming the field.
pub fn decode_command(text: &str) -> Result<CommandFrame, DecodeError> {
    let repeated = std::cell::Cell::new(Repeated::None);
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let value =
        serde::de::DeserializeSeed::deserialize(UniqueKeys { repeated: &repeated, top: true }, &mut deserializer)
            .and_then(|value| deserializer.end().map(|()| value))
            .map_err(|e| DecodeError {
                re: None,
                error: ReplyError::new(ErrorCode::BadRequest, format!("frame is not valid JSON: {e}")),
            })?;
    let Value::Object(map) = value else {
        return Err(DecodeError { re: None, error: ReplyError::bad_request("frame must be a JSON object") });
    };
    match repeated.get() {
        Repeated::None => {}
        Repeated::Id => {
            return Err(DecodeError { re: None, error: ReplyError::bad_request("key `id` appears more than once") });
        }
        Repeated::Other => {
            let re = match map.get("id") {
                Some(Value::Number(n)) => n.as_u64(),
                _ => None,
            };
            let error = ReplyError::bad_request("a key appears more than once in one object");
            return Err(DecodeError { re, error });
        }
    }
    let id = match map.get("id") {
        Some(Value::Number(n)) if n.is_u64() => n.as_u64().unwrap_or_default(),
        Some(_) => {
            return Err(DecodeError {
                re: None,
                error: ReplyError::bad_request("`id` must be a non-negative integer"),
            });
        }
        None => {
            return Err(DecodeError { re: None, error: ReplyError::bad_request("command has no `id`") });
        }
    };
    let re = Some(id);
    match map.get("op") {
        Some(Value::String(op)) if KNOWN_OPS.contains(&op.as_str()) => {}
        Some(Value::String(op)) => {
            let shown: String = op.chars().take(64).collect();
            return Err(DecodeError {
                re,
                error: ReplyError::new(ErrorCode::UnknownOp, format!("unknown op {shown:?}")),
            });
        }
        Some(_) => {
            return Err(DecodeError { re, error: ReplyError::bad_request("`op` must be a string") });
        }
        None => {
            return Err(DecodeError { re, error: ReplyError::bad_request("command has no `op`") });
        }
    }
    serde_json::from_value::<CommandFrame>(Value::Object(map))
        .map_err(|e| DecodeError { re, error: ReplyError::bad_request(format!("invalid parameters: {e}")) })
}

/// Whether a frame repeats a key within one object: JSON leaves the meaning of a repeated key
/// open, and taking the last one would let `{"op":"subscribe",...,"op":"unsubscribe"}` mean
/// what a filter reading the first one did not see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Repeated {
    None,
    /// The top-level `id`: the command has no one id to answer.
    Id,
    Other,
}

/// Reads a JSON value as `serde_json::Value` does, in the same single pass, noting repeated keys
/// in `repeated` instead of letting the last one win.
#[derive(Clone, Copy)]
struct UniqueKeys<'a> {
    repeated: &'a std::cell::Cell<Repeated>,
    /// Whether this is the frame itself rather than a value nested in it.
    top: bool,
}

impl<'de> serde::de::DeserializeSeed<'de> for UniqueKeys<'_> {
    type Value = Value;
    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for UniqueKeys<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let nested = UniqueKeys { top: false, ..self };
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(item) = seq.next_element_seed(nested)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let nested = UniqueKeys { top: false, ..self };
        let mut map = serde_json::Map::new();
        while let Some(key) = access.next_key::<String>()? {
            let value = access.next_value_seed(nested)?;
            match map.entry(key) {
                serde_json::map::Entry::Vacant(slot) => {
                    slot.insert(value);
                }
                serde_json::map::Entry::Occupied(first) => {
                    let which = if self.top && first.key() == "id" { Repeated::Id } else { Repeated::Other };
                    if self.repeated.get() != Repeated::Id {
                        self.repeated.set(which);
                    }
                }
            }
        }
        Ok(Value::Object(map))
    }
}

/// The error codes of PROTOCOL.md §2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    BadRequest,
    UnknownOp,
    Unauthenticated,
    Forbidden,
    NotFound,
    RateLimited,
    Muted,
    SoldOut,
    LimitReached,
    OfferEnded,
    InsufficientStock,
    IdempotencyConflict,
    InvalidState,
    Unavailable,
    Internal,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::UnknownOp => "unknown_op",
            ErrorCode::Unauthenticated => "unauthenticated",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::NotFound => "not_found",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::Muted => "muted",
            ErrorCode::SoldOut => "sold_out",
            ErrorCode::LimitReached => "limit_reached",
            ErrorCode::OfferEnded => "offer_ended",
            ErrorCode::InsufficientStock => "insufficient_stock",
            ErrorCode::IdempotencyConflict => "idempotency_conflict",
            ErrorCode::InvalidState => "invalid_state",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::Internal => "internal",
        }
    }
}

/// A command's failure, sent in its reply; the connection stays open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, thiserror::Error)]
#[error("{code:?}: {message}")]
pub struct ReplyError {
    pub code: ErrorCode,
    pub message: String,
    /// When to try again, with `rate_limited`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
}

impl ReplyError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), retry_after_ms: None }
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::BadRequest, message)
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Forbidden, message)
    }
    pub fn unavailable() -> Self {
        Self::new(ErrorCode::Unavailable, "the engine cannot be reached; retry with the same key")
    }
    pub fn internal() -> Self {
        Self::new(ErrorCode::Internal, "internal error")
    }
}

/// The close codes of PROTOCOL.md §2, kept apart from reply errors: these end the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseCode {
    Normal = 1000,
    GoingAway = 1001,
    BinaryFrame = 1003,
    Policy = 1008,
    TooBig = 1009,
    InternalError = 1011,
    Restarting = 1012,
    TooSlow = 4008,
    RateLimited = 4029,
}

/// Why the server ends a connection: the close frame it sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disconnect {
    pub code: CloseCode,
    pub reason: &'static str,
}

impl Disconnect {
    pub const NORMAL: Self = Self { code: CloseCode::Normal, reason: "bye" };
    pub const BINARY: Self = Self { code: CloseCode::BinaryFrame, reason: "binary frames are not accepted" };
    pub const TOO_BIG: Self = Self { code: CloseCode::TooBig, reason: "message too big" };
    pub const TOKEN_EXPIRED: Self = Self { code: CloseCode::Policy, reason: "token expired" };
    pub const RESTARTING: Self = Self { code: CloseCode::Restarting, reason: "server restarting" };
    pub const SLOW: Self = Self { code: CloseCode::TooSlow, reason: "too slow to keep up" };
    pub const RESYNC: Self = Self { code: CloseCode::TooSlow, reason: "history lost; reconnect and recover" };
    pub const ABUSE: Self = Self { code: CloseCode::RateLimited, reason: "rate limits exceeded repeatedly" };
    pub const INTERNAL: Self = Self { code: CloseCode::InternalError, reason: "internal error" };

    /// Whether the frames still queued are dropped rather than sent before the close frame: a
    /// client too slow to keep up would not take them in time, and a connection whose token
    /// expired must not receive more private events.
    pub fn drops_queued_frames(&self) -> bool {
        self.code == CloseCode::TooSlow || *self == Self::TOKEN_EXPIRED
    }
}

/// A reply frame, exactly one per command.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum ReplyFrame {
    Ok {
        re: u64,
        ok: True,
        data: Value,
    },
    Err {
        /// The command id, or null when the frame had none.
        re: Option<u64>,
        ok: False,
        error: ReplyError,
    },
}

/// The JSON literal `true`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, JsonSchema)]
#[schemars(transform = literal_true)]
pub struct True;
/// The JSON literal `false`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, JsonSchema)]
#[schemars(transform = literal_false)]
pub struct False;

fn literal_true(schema: &mut schemars::Schema) {
    *schema = schemars::json_schema!({"const": true});
}
fn literal_false(schema: &mut schemars::Schema) {
    *schema = schemars::json_schema!({"const": false});
}

macro_rules! literal_bool {
    ($ty:ident, $value:literal) => {
        impl Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_bool($value)
            }
        }
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                if bool::deserialize(d)? == $value {
                    Ok($ty)
                } else {
                    Err(serde::de::Error::custom(concat!("expected ", stringify!($value))))
                }
            }
        }
    };
}
literal_bool!(True, true);
literal_bool!(False, false);

/// Encodes a successful reply.
pub fn encode_ok(re: u64, data: &impl Serialize) -> String {
    #[derive(Serialize)]
    struct Ok<'a, T> {
        re: u64,
        ok: bool,
        data: &'a T,
    }
    serde_json::to_string(&Ok { re, ok: true, data }).unwrap_or_else(|_| encode_err(Some(re), &ReplyError::internal()))
}

/// Encodes a failed reply.
pub fn encode_err(re: Option<u64>, error: &ReplyError) -> String {
    #[derive(Serialize)]
    struct Err<'a> {
        re: Option<u64>,
        ok: bool,
        error: &'a ReplyError,
    }
    // A struct of plain strings and numbers always serialises.
    serde_json::to_string(&Err { re, ok: false, error }).unwrap_or_default()
}

/// An event frame: `{"ch", "ev", "off"?, "data"}`. History-kept events carry `off`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EventFrame {
    pub ch: String,
    pub ev: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub off: Option<u64>,
    pub data: Value,
}

/// Builds an event frame's text from already-encoded data; the one place frames are assembled,
/// so the memory and Redis engines send byte-identical frames.
pub fn encode_event(ch: &str, ev: &str, off: Option<u64>, data: &RawValue) -> String {
    match off {
        Some(off) => {
            let (head, tail) = numbered_event_parts(ch, ev, data.get());
            format!("{head}{off}{tail}")
        }
        None => {
            let ch = serde_json::to_string(ch).unwrap_or_default();
            let ev = serde_json::to_string(ev).unwrap_or_default();
            format!(r#"{{"ch":{ch},"ev":{ev},"data":{}}}"#, data.get())
        }
    }
}

/// A kept event's frame around its offset: `head`, the offset, then `tail`. The Redis engine
/// hands both to the publish script, which alone knows the offset, so a frame is still assembled
/// only here.
/// `data` is the event's data, already JSON.
pub fn numbered_event_parts(ch: &str, ev: &str, data: &str) -> (String, String) {
    let ch = serde_json::to_string(ch).unwrap_or_default();
    let ev = serde_json::to_string(ev).unwrap_or_default();
    (format!(r#"{{"ch":{ch},"ev":{ev},"off":"#), format!(r#","data":{data}}}"#))
}

/// The first frame on every connection.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HelloFrame {
    /// Always `"hello"`.
    #[schemars(regex(pattern = "^hello$"))]
    pub ev: String,
    pub data: Hello,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Hello {
    /// This connection's id.
    pub conn: uuid::Uuid,
    /// The signed-in user, or null for an anonymous viewer.
    pub user: Option<crate::auth::User>,
    /// RFC 3339 UTC with milliseconds.
    pub server_time: String,
    pub ping_interval_s: u64,
    pub protocol: u32,
}

/// The `data` of a successful `subscribe` reply.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscribeResult {
    /// The history lifetime the offsets belong to.
    pub epoch: String,
    /// The channel's latest offset when the snapshot was taken.
    pub off: u64,
    /// The channel's current state; its shape depends on the channel kind. For `show:` channels:
    /// `{show, pinned, offers, viewers, reactions: {heart}, chat: [last 50 chat events],
    /// announcement}`.
    #[schemars(with = "Value")]
    pub snapshot: Box<RawValue>,
    /// True when `missed` holds every event after `since`.
    pub recovered: bool,
    /// The events after `since.off`, in order, when recovered.
    #[schemars(with = "Vec<EventFrame>")]
    pub missed: Vec<Box<RawValue>>,
}

/// Any frame the server sends, for the schema of the server-to-client direction.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum ServerFrame {
    Hello(HelloFrame),
    Reply(ReplyFrame),
    Event(EventFrame),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_subscribe_with_since() {
        let f = decode_command(r#"{"id":7,"op":"subscribe","ch":"show:x","since":{"off":3,"epoch":"e"}}"#).unwrap();
        assert_eq!(f.id, 7);
        assert_eq!(
            f.command,
            Command::Subscribe { ch: "show:x".into(), since: Some(Since { off: 3, epoch: "e".into() }) }
        );
    }

    #[test]
    fn classifies_bad_frames() {
        let cases: &[(&str, Option<u64>, ErrorCode)] = &[
            ("not json", None, ErrorCode::BadRequest),
            ("[1,2]", None, ErrorCode::BadRequest),
            (r#"{"op":"subscribe"}"#, None, ErrorCode::BadRequest),
            (r#"{"id":-1,"op":"subscribe"}"#, None, ErrorCode::BadRequest),
            (r#"{"id":"1","op":"subscribe"}"#, None, ErrorCode::BadRequest),
            (r#"{"id":1}"#, Some(1), ErrorCode::BadRequest),
            (r#"{"id":1,"op":5}"#, Some(1), ErrorCode::BadRequest),
            (r#"{"id":2,"op":"fly"}"#, Some(2), ErrorCode::UnknownOp),
            (r#"{"id":3,"op":"subscribe"}"#, Some(3), ErrorCode::BadRequest),
            (r#"{"id":4,"op":"subscribe","ch":5}"#, Some(4), ErrorCode::BadRequest),
            (r#"{"id":5,"op":"subscribe","ch":"a","since":{"off":"x","epoch":"e"}}"#, Some(5), ErrorCode::BadRequest),
            // A repeated key, at the top, nested, in an array, or spelled with an escape.
            (r#"{"id":6,"op":"subscribe","ch":"a","op":"unsubscribe"}"#, Some(6), ErrorCode::BadRequest),
            (
                r#"{"id":7,"op":"subscribe","ch":"a","since":{"off":1,"epoch":"e","off":2}}"#,
                Some(7),
                ErrorCode::BadRequest,
            ),
            (r#"{"id":8,"op":"subscribe","ch":"a","\u0063h":"b"}"#, Some(8), ErrorCode::BadRequest),
            (r#"{"id":9,"op":"show.moderators","show":"x","add":[{"a":1,"a":2}]}"#, Some(9), ErrorCode::BadRequest),
            (r#"{"id":10,"id":11,"op":"subscribe","ch":"a"}"#, None, ErrorCode::BadRequest),
            (r#"{"id":12,"op":"subscribe","ch":"a","id":12}"#, None, ErrorCode::BadRequest),
        ];
        for (text, re, code) in cases {
            let err = decode_command(text).expect_err(text);
            assert_eq!((err.re, err.error.code), (*re, *code), "{text}");
        }
    }

    #[test]
    fn event_frames_are_valid_json_with_escaping() {
        let data = RawValue::from_string(r#"{"text":"chốt 2"}"#.into()).unwrap();
        let text = encode_event("show:\"q\"", "chat", Some(9), &data);
        let frame: EventFrame = serde_json::from_str(&text).unwrap();
        assert_eq!(frame.ch, "show:\"q\"");
        assert_eq!(frame.off, Some(9));
        assert_eq!(frame.data["text"], "chốt 2");
    }
}
