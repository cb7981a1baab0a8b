//! The hand-written schemas of `show:` channels in `proto/schemas/show/` and of the order feeds
//! (`user:` and `seller:` channels) in `proto/schemas/orders/`: checks any test can run on the
//! events, snapshots, offers and orders it receives, and tests that the schemas, the committed
//! examples and the running server agree.

use std::collections::{BTreeMap, BTreeSet};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use jsonschema::error::ValidationErrorKind;
use serde_json::{Value, json};

use ocop_live::auth::Role;

use crate::helpers::*;

/// Events kept in history (they carry `off`), each with the `$defs` entry of `events.json` that
/// describes its frame.
const KEPT: &[(&str, &str)] = &[
    ("chat", "ChatEvent"),
    ("chat.deleted", "ChatDeletedEvent"),
    ("pinned", "PinnedEvent"),
    ("status", "StatusEvent"),
    ("show", "ShowEvent"),
    ("announcement", "AnnouncementEvent"),
    ("banned", "BannedEvent"),
    ("offer", "OfferEvent"),
];

/// Ephemeral events (never an `off`).
const EPHEMERAL: &[(&str, &str)] =
    &[("viewers", "ViewersEvent"), ("reactions", "ReactionsEvent"), ("stock", "StockEvent")];

/// The events of the private order feeds, all kept: channel kind, event, and the `$defs` entry of
/// `orders/order.json` that describes its frame.
const ORDER_EVENTS: &[(&str, &str, &str)] = &[
    ("user", "order", "UserOrderEvent"),
    ("user", "order.failed", "UserOrderFailedEvent"),
    ("user", "notify", "UserNotifyEvent"),
    ("seller", "order", "SellerOrderEvent"),
];

fn schema_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("proto/schemas")
}

fn show_schema_dir() -> PathBuf {
    schema_dir().join("show")
}

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("proto/examples")
}

/// Where the schemas pretend to live, so `snapshot.json` finds `events.json` beside it; nothing
/// is fetched from the network.
const BASE: &str = "https://ocop-live.invalid/proto/schemas/";

/// The hand-written schemas, by path under `proto/schemas/`.
const HAND_WRITTEN: &[&str] = &["show/events.json", "show/snapshot.json", "orders/order.json"];

/// Serves the hand-written schemas from `proto/schemas/`.
struct ShowSchemas;

impl jsonschema::Retrieve for ShowSchemas {
    fn retrieve(&self, uri: &jsonschema::Uri<String>) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        let name = uri
            .path()
            .as_str()
            .strip_prefix("/proto/schemas/")
            .filter(|n| HAND_WRITTEN.contains(n))
            .ok_or_else(|| format!("{uri} is not one of {HAND_WRITTEN:?} in proto/schemas/"))?;
        let text = std::fs::read_to_string(schema_dir().join(name)).map_err(|e| format!("{uri}: {e}"))?;
        Ok(serde_json::from_str(&text)?)
    }
}

/// A validator for `reference` (relative to `proto/schemas/show/`), with `format` asserted
/// (`uuid`, `date-time`, `uri`, ...), which draft 2020-12 otherwise only annotates.
fn validator(reference: &str) -> jsonschema::Validator {
    jsonschema::options()
        .with_base_uri(format!("{BASE}show/check.json"))
        .with_retriever(ShowSchemas)
        .should_validate_formats(true)
        .build(&json!({ "$ref": reference }))
        .unwrap_or_else(|e| panic!("proto/schemas/show/{reference} does not build: {e}"))
}

struct Validators {
    /// By event name.
    events: BTreeMap<&'static str, jsonschema::Validator>,
    snapshot: jsonschema::Validator,
    offer: jsonschema::Validator,
    /// By channel kind and event name.
    order_events: BTreeMap<(&'static str, &'static str), jsonschema::Validator>,
    order: jsonschema::Validator,
}

fn validators() -> &'static Validators {
    static V: OnceLock<Validators> = OnceLock::new();
    V.get_or_init(|| Validators {
        events: KEPT
            .iter()
            .chain(EPHEMERAL)
            .map(|(ev, def)| (*ev, validator(&format!("events.json#/$defs/{def}"))))
            .collect(),
        snapshot: validator("snapshot.json"),
        offer: validator("events.json#/$defs/Offer"),
        order_events: ORDER_EVENTS
            .iter()
            .map(|(kind, ev, def)| ((*kind, *ev), validator(&format!("../orders/order.json#/$defs/{def}"))))
            .collect(),
        order: validator("../orders/order.json"),
    })
}

/// Every error, one a line, with where in the instance it is; for `anyOf`/`oneOf`, why each
/// alternative failed, so the field at fault is named.
fn errors(validator: &jsonschema::Validator, instance: &Value) -> Option<String> {
    fn describe(error: &jsonschema::ValidationError<'_>, depth: usize, out: &mut Vec<String>) {
        let indent = "  ".repeat(depth + 1);
        let at = error.instance_path().to_string();
        let at = if at.is_empty() { "/".to_owned() } else { at };
        match error.kind() {
            ValidationErrorKind::AnyOf { context } | ValidationErrorKind::OneOfNotValid { context } => {
                out.push(format!("{indent}- at {at}: matches none of these alternatives:"));
                for (i, branch) in context.iter().enumerate() {
                    out.push(format!("{indent}  alternative {}:", i + 1));
                    for inner in branch {
                        describe(inner, depth + 2, out);
                    }
                }
            }
            _ => {
                // The message quotes the instance, which may be a whole product, before saying
                // what is wrong with it: keep its start and the reason at its end.
                let mut message = error.to_string();
                let chars: Vec<char> = message.chars().collect();
                if chars.len() > 200 {
                    let (head, tail) = (&chars[..60], &chars[chars.len() - 100..]);
                    message = format!("{} … {}", head.iter().collect::<String>(), tail.iter().collect::<String>());
                }
                out.push(format!("{indent}- at {at}: {message}"));
            }
        }
    }
    let mut lines = Vec::new();
    for error in validator.iter_errors(instance) {
        describe(&error, 0, &mut lines);
    }
    (!lines.is_empty()).then(|| lines.join("\n"))
}

/// Panics unless `frame` is a valid server event on a `show:` channel: `{ch, ev, off?, data}` with
/// a `ch` of `show:<uuid>`, an `ev` the schemas define, `off` exactly when the event is kept, and
/// `data` as `proto/schemas/show/events.json` describes that event.
#[track_caller]
pub fn check_show_event(frame: &Value) {
    let Some(ev) = frame.get("ev").and_then(Value::as_str) else {
        panic!("not a show event: no string `ev` in {frame}");
    };
    let kept = KEPT.iter().any(|(name, _)| *name == ev);
    let Some(validator) = validators().events.get(ev) else {
        panic!("unknown show event {ev:?} (proto/schemas/show/events.json defines none): {frame}");
    };
    match (kept, frame.get("off")) {
        (true, None) => panic!("show event `{ev}` is kept in history and must carry `off`: {frame}"),
        (false, Some(_)) => panic!("show event `{ev}` is ephemeral and must not carry `off`: {frame}"),
        _ => {}
    }
    if let Some(errors) = errors(validator, frame) {
        panic!("show event `{ev}` does not match proto/schemas/show/events.json:\n{errors}\nframe: {frame}");
    }
}

/// Panics unless `snapshot` (the `snapshot` of a `subscribe` reply on a `show:` channel) matches
/// `proto/schemas/show/snapshot.json`, and each of its `chat` frames passes [`check_show_event`],
/// belongs to the snapshot's show, and comes after the one before it.
#[track_caller]
pub fn check_show_snapshot(snapshot: &Value) {
    if let Some(errors) = errors(&validators().snapshot, snapshot) {
        panic!("show snapshot does not match proto/schemas/show/snapshot.json:\n{errors}\nsnapshot: {snapshot}");
    }
    let channel = format!("show:{}", snapshot["show"]["id"].as_str().unwrap_or_default());
    let mut last_off = 0;
    for (i, frame) in snapshot["chat"].as_array().into_iter().flatten().enumerate() {
        check_show_event(frame);
        assert_eq!(frame["ev"], "chat", "show snapshot: chat[{i}] is not a chat event: {frame}");
        assert_eq!(frame["ch"], channel.as_str(), "show snapshot: chat[{i}] is from another channel: {frame}");
        let off = frame["off"].as_u64().unwrap_or_default();
        assert!(off > last_off, "show snapshot: chat[{i}] (off {off}) is not after the one before (off {last_off})");
        last_off = off;
    }
}

/// Panics unless `offer` (from an `offer.start` or `offer.stop` reply) matches the `Offer` of
/// `proto/schemas/show/events.json`.
#[track_caller]
pub fn check_offer(offer: &Value) {
    if let Some(errors) = errors(&validators().offer, offer) {
        panic!("offer does not match proto/schemas/show/events.json#/$defs/Offer:\n{errors}\noffer: {offer}");
    }
}

/// Panics unless `order` (from a reply or `GET /api/me/orders`) matches
/// `proto/schemas/orders/order.json`.
#[track_caller]
pub fn check_order(order: &Value) {
    if let Some(errors) = errors(&validators().order, order) {
        panic!("order does not match proto/schemas/orders/order.json:\n{errors}\norder: {order}");
    }
}

/// Panics unless `frame` is a valid server event on a `user:` or `seller:` channel: `{ch, ev, off,
/// data}` with an `ev` that `proto/schemas/orders/order.json` defines for that kind of channel
/// (`order` on both, `order.failed` on `user:`), the `off` every such event carries, `data` as the
/// schema describes it, and an order that belongs to the channel's owner (its `buyer_id` on
/// `user:<id>`, its `seller_id` on `seller:<id>`).
#[track_caller]
pub fn check_order_event(frame: &Value) {
    let Some(ch) = frame.get("ch").and_then(Value::as_str) else {
        panic!("not an order event: no string `ch` in {frame}");
    };
    let Some((kind, owner)) = ch.split_once(':').filter(|(kind, _)| matches!(*kind, "user" | "seller")) else {
        panic!("not an order event: {ch:?} is not a user: or seller: channel: {frame}");
    };
    let Some(ev) = frame.get("ev").and_then(Value::as_str) else {
        panic!("not an order event: no string `ev` in {frame}");
    };
    let Some(validator) = validators().order_events.get(&(kind, ev)) else {
        panic!("unknown {kind}: event {ev:?} (proto/schemas/orders/order.json defines none): {frame}");
    };
    if frame.get("off").is_none() {
        panic!("{kind}: event `{ev}` is kept in history and must carry `off`: {frame}");
    }
    if let Some(errors) = errors(validator, frame) {
        panic!("{kind}: event `{ev}` does not match proto/schemas/orders/order.json:\n{errors}\nframe: {frame}");
    }
    if ev == "order" {
        let field = if kind == "user" { "buyer_id" } else { "seller_id" };
        let of = &frame["data"]["order"][field];
        assert!(of == owner, "an order on {ch} must have {field} {owner}, not {of}: {frame}");
    }
}

/// Checks an event of any channel these schemas describe: [`check_show_event`] on `show:`,
/// [`check_order_event`] on `user:` and `seller:`.
#[track_caller]
fn check_event(frame: &Value) {
    match frame["ch"].as_str() {
        Some(ch) if ch.starts_with("show:") => check_show_event(frame),
        Some(ch) if ch.starts_with("user:") || ch.starts_with("seller:") => check_order_event(frame),
        _ => panic!("an event on a channel without hand-written schemas: {frame}"),
    }
}

/// The panic message of `f`, or None when it returned.
fn panic_of(f: impl FnOnce()) -> Option<String> {
    let payload = catch_unwind(AssertUnwindSafe(f)).err()?;
    Some(match (payload.downcast_ref::<String>(), payload.downcast_ref::<&str>()) {
        (Some(s), _) => s.clone(),
        (_, Some(s)) => (*s).to_owned(),
        _ => String::from("(a panic without a message)"),
    })
}

#[track_caller]
fn rejected(what: &str, f: impl FnOnce(), mentions: &str) {
    match panic_of(f) {
        None => panic!("{what}: accepted, but must be rejected"),
        Some(message) => assert!(
            message.contains(mentions),
            "{what}: rejected, but the message does not say {mentions:?}: {message}"
        ),
    }
}

fn example(name: &str) -> Value {
    let path = examples_dir().join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Each committed server frame that carries show events or a show snapshot: name and frame.
fn server_examples() -> Vec<(String, Value)> {
    let mut names: Vec<String> = std::fs::read_dir(examples_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter_map(|n| n.strip_prefix("server.").and_then(|n| n.strip_suffix(".json")).map(|n| format!("server.{n}")))
        .collect();
    names.sort();
    names.into_iter().map(|n| (n.clone(), example(&n))).collect()
}

fn is_show_event(frame: &Value) -> bool {
    frame["ch"].as_str().is_some_and(|ch| ch.starts_with("show:"))
}

/// Whether a subscribe reply is for a show: its snapshot is a show snapshot.
fn show_snapshot_of(frame: &Value) -> Option<&Value> {
    frame["data"]["snapshot"].get("show").map(|_| &frame["data"]["snapshot"])
}

#[test]
fn every_show_event_example_validates() {
    let mut seen = BTreeSet::new();
    for (name, frame) in server_examples() {
        let mut events: Vec<&Value> = Vec::new();
        if is_show_event(&frame) {
            events.push(&frame);
        }
        events.extend(frame["data"]["missed"].as_array().into_iter().flatten().filter(|f| is_show_event(f)));
        for event in events {
            if let Some(message) = panic_of(|| check_show_event(event)) {
                panic!("proto/examples/{name}.json: {message}");
            }
            seen.insert(event["ev"].as_str().unwrap().to_owned());
        }
    }
    let all: BTreeSet<String> = KEPT.iter().chain(EPHEMERAL).map(|(ev, _)| (*ev).to_owned()).collect();
    assert_eq!(seen, all, "every show event has an example in proto/examples/");
}

#[test]
fn show_subscribe_examples_carry_a_valid_snapshot() {
    let mut checked = Vec::new();
    for (name, frame) in server_examples() {
        if let Some(snapshot) = show_snapshot_of(&frame) {
            if let Some(message) = panic_of(|| check_show_snapshot(snapshot)) {
                panic!("proto/examples/{name}.json: {message}");
            }
            let reply_off = frame["data"]["off"].as_u64().unwrap();
            for c in snapshot["chat"].as_array().unwrap() {
                assert!(
                    c["off"].as_u64().unwrap() <= reply_off,
                    "{name}: a chat frame of the snapshot is after the reply's off"
                );
            }
            checked.push(name);
        }
    }
    assert!(checked.contains(&"server.reply-subscribe-show".to_owned()), "a show subscribe example: {checked:?}");
}

/// `events.json` lists exactly the events above, kept and ephemeral, and each frame names its `ev`.
#[test]
fn the_schema_defines_exactly_these_events() {
    let text = std::fs::read_to_string(show_schema_dir().join("events.json")).unwrap();
    let schema: Value = serde_json::from_str(&text).unwrap();
    let defs = &schema["$defs"];
    for (group, list, off_required) in [("KeptEvent", KEPT, true), ("EphemeralEvent", EPHEMERAL, false)] {
        let refs: Vec<&str> =
            defs[group]["oneOf"].as_array().unwrap().iter().map(|r| r["$ref"].as_str().unwrap()).collect();
        let expected: Vec<String> = list.iter().map(|(_, def)| format!("#/$defs/{def}")).collect();
        assert_eq!(refs, expected, "$defs.{group}");
        for (ev, def) in list {
            let frame = &defs[*def];
            assert_eq!(frame["properties"]["ev"]["const"], *ev, "$defs.{def}");
            assert_eq!(frame["additionalProperties"], false, "$defs.{def} is closed");
            let required = frame["required"].as_array().unwrap();
            assert_eq!(required.contains(&json!("off")), off_required, "$defs.{def}: off required iff kept");
            assert_eq!(frame["properties"].get("off").is_some(), off_required, "$defs.{def}: off allowed iff kept");
        }
    }
}

/// A valid frame of each kind, to break one field at a time.
fn chat() -> Value {
    example("server.show-chat")
}

/// `value` with the member at `pointer` set to `new` (added when missing).
fn with(mut value: Value, pointer: &str, new: Value) -> Value {
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    match value.pointer_mut(parent) {
        Some(Value::Object(map)) => {
            map.insert(key.to_owned(), new);
        }
        Some(Value::Array(items)) => items[key.parse::<usize>().unwrap()] = new,
        _ => panic!("nothing at {parent} to set {key} in"),
    }
    value
}

/// `value` without the member at `pointer`.
fn without(mut value: Value, pointer: &str) -> Value {
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    value.pointer_mut(parent).and_then(Value::as_object_mut).unwrap().remove(key).expect(pointer);
    value
}

#[test]
fn broken_show_events_are_rejected() {
    let pinned = example("server.show-pinned");
    let viewers = example("server.show-viewers");
    let cases: Vec<(&str, Value, &str)> = vec![
        ("chat without msg_id", without(chat(), "/data/msg_id"), "msg_id"),
        ("chat with a msg_id that is not a UUID", with(chat(), "/data/msg_id", json!("m1")), "uuid"),
        ("chat with an extra data field", with(chat(), "/data/likes", json!(3)), "likes"),
        ("chat with empty text", with(chat(), "/data/text", json!("")), "/data/text"),
        ("chat with 501 characters", with(chat(), "/data/text", json!("ạ".repeat(501))), "/data/text"),
        ("chat at a time without milliseconds", with(chat(), "/data/at", json!("2026-11-29T12:06:14Z")), "/data/at"),
        ("chat at a time that is not a time", with(chat(), "/data/at", json!("hôm nay")), "/data/at"),
        ("chat from an unknown role", with(chat(), "/data/user/role", json!("vip")), "/data/user/role"),
        ("chat from a user without a name", without(chat(), "/data/user/name"), "name"),
        ("chat without off", without(chat(), "/off"), "must carry `off`"),
        ("chat at offset 0", with(chat(), "/off", json!(0)), "/off"),
        ("chat on a booth channel", with(chat(), "/ch", json!("booth:0190f3c4-5e6a-7b8c-9d0e-1f2a3b4c5d6e")), "/ch"),
        (
            "chat on an upper-case channel",
            with(chat(), "/ch", json!("show:0190F3C4-5E6A-7B8C-9D0E-1F2A3B4C5D6E")),
            "/ch",
        ),
        ("a frame with a reply's field", with(chat(), "/re", json!(1)), "'re' was unexpected"),
        ("viewers with off", with(viewers.clone(), "/off", json!(7)), "must not carry `off`"),
        ("viewers with a negative count", with(viewers.clone(), "/data/count", json!(-1)), "/data/count"),
        ("viewers with an extra field", with(viewers, "/data/unique", json!(3)), "unique"),
        ("reactions with off", with(example("server.show-reactions"), "/off", json!(7)), "must not carry `off`"),
        ("reactions without heart", without(example("server.show-reactions"), "/data/heart"), "heart"),
        ("pinned without off", without(pinned.clone(), "/off"), "must carry `off`"),
        ("pinned without data.product", without(pinned.clone(), "/data/product"), "product"),
        (
            "a pinned product without trace_url",
            without(pinned.clone(), "/data/product/trace_url"),
            "\"trace_url\" is a required property",
        ),
        (
            "a pinned product without a lineup code",
            without(pinned.clone(), "/data/product/code"),
            "\"code\" is a required property",
        ),
        (
            "a pinned product priced in decimals",
            with(pinned.clone(), "/data/product/price", json!(390000.5)),
            "/data/product/price",
        ),
        ("a pinned product with 6 stars", with(pinned.clone(), "/data/product/stars", json!(6)), "/data/product/stars"),
        (
            "a pinned combo without components",
            with(pinned, "/data/product/kind", json!("combo")),
            "\"components\" is a required property",
        ),
        ("status paused", with(example("server.show-status"), "/data/status", json!("paused")), "/data/status"),
        ("show without status", without(example("server.show-show"), "/data/show/status"), "/data/show"),
        (
            "show whose hls stream has no url",
            without(example("server.show-show"), "/data/show/stream/url"),
            "/data/show",
        ),
        (
            "show with slow mode over 600 s",
            with(example("server.show-show"), "/data/show/slow_mode_s", json!(601)),
            "/data/show",
        ),
        (
            "an announcement cleared with an empty text",
            with(example("server.show-announcement"), "/data/text", json!("")),
            "/data/text",
        ),
        (
            "banned without a user id",
            with(example("server.show-banned"), "/data/user_id", json!(null)),
            "/data/user_id",
        ),
        (
            "chat.deleted with a user id",
            with(example("server.show-chat-deleted"), "/data/user_id", json!("x")),
            "user_id",
        ),
        ("an event the schemas do not define", with(chat(), "/ev", json!("poll")), "unknown show event \"poll\""),
        ("a frame without ev", without(chat(), "/ev"), "no string `ev`"),
    ];
    for (what, frame, mentions) in cases {
        rejected(what, || check_show_event(&frame), mentions);
    }
}

#[test]
fn shows_and_products_may_grow_but_event_payloads_may_not() {
    let show = with(example("server.show-show"), "/data/show/replay_count", json!(12));
    check_show_event(&show);
    let pinned = with(example("server.show-pinned"), "/data/product/weight_g", json!(500));
    check_show_event(&pinned);
    let snapshot = example("server.reply-subscribe-show")["data"]["snapshot"].clone();
    check_show_snapshot(&with(snapshot.clone(), "/polls", json!([])));
    rejected(
        "a status event with a reason",
        || check_show_event(&with(example("server.show-status"), "/data/reason", json!("x"))),
        "reason",
    );
    // Absent, not null: optional fields of the show are left out.
    rejected(
        "a show with a null fair_id",
        || check_show_event(&with(example("server.show-show"), "/data/show/fair_id", Value::Null)),
        "/data/show/fair_id",
    );
}

#[test]
fn broken_show_snapshots_are_rejected() {
    let snapshot = || example("server.reply-subscribe-show")["data"]["snapshot"].clone();
    let first_chat = || snapshot()["chat"][0].clone();
    let mut fifty_one = snapshot();
    let frames: Vec<Value> = (1..=51).map(|i| with(first_chat(), "/off", json!(i))).collect();
    fifty_one["chat"] = Value::Array(frames);
    let mut reversed = snapshot();
    reversed["chat"].as_array_mut().unwrap().reverse();
    let cases: Vec<(&str, Value, &str)> = vec![
        ("a snapshot without chat", without(snapshot(), "/chat"), "chat"),
        ("a snapshot without announcement", without(snapshot(), "/announcement"), "announcement"),
        ("a snapshot with negative viewers", with(snapshot(), "/viewers", json!(-1)), "/viewers"),
        ("a snapshot with reactions as a number", with(snapshot(), "/reactions", json!(5821)), "/reactions"),
        ("a snapshot whose show has no id", without(snapshot(), "/show/id"), "/show"),
        (
            "a snapshot pinning a product without price",
            without(snapshot(), "/pinned/price"),
            "\"price\" is a required property",
        ),
        (
            "a snapshot with a viewers event in chat",
            with(snapshot(), "/chat/0", example("server.show-viewers")),
            "/chat/0",
        ),
        ("a snapshot with a chat frame without off", without(snapshot(), "/chat/0/off"), "/chat/0"),
        ("a snapshot with a broken chat message", without(snapshot(), "/chat/1/data/msg_id"), "/chat/1"),
        ("a snapshot with 51 chat messages", fifty_one, "/chat"),
        ("a snapshot with chat newest first", reversed, "is not after the one before"),
        (
            "a snapshot with chat from another show",
            with(snapshot(), "/chat/0/ch", json!("show:0190f3c4-0000-7b8c-9d0e-1f2a3b4c5d6e")),
            "from another channel",
        ),
        ("an empty snapshot", json!({}), "show"),
    ];
    for (what, value, mentions) in cases {
        rejected(what, || check_show_snapshot(&value), mentions);
    }
}

/// Reads frames until every event in `wanted` arrived, checking each event on the way; returns
/// the events by name (the last of each).
async fn events_until(client: &mut Client, wanted: &[&str]) -> BTreeMap<String, Value> {
    let mut got = BTreeMap::new();
    while !wanted.iter().all(|w| got.contains_key(*w)) {
        let frame = client.recv().await;
        if frame.get("ch").is_some() {
            check_event(&frame);
            got.insert(frame["ev"].as_str().unwrap().to_owned(), frame);
        }
    }
    got
}

/// Reads frames until an event named `ev` arrives, checking each event on the way.
async fn next_event(client: &mut Client, ev: &str) -> Value {
    loop {
        let frame = client.recv().await;
        if frame.get("ch").is_some() {
            check_event(&frame);
            if frame["ev"] == ev {
                return frame;
            }
        }
    }
}

/// What the server really sends on a show channel, for every operation, matches the schemas.
#[tokio::test]
async fn the_server_sends_what_the_schemas_describe() {
    let app = spawn_app().await;
    let api = app.api();
    let (seller, _) = api.register("seller").await;
    let honey = api.create_product(&seller, Api::product_body("Mật ong bạc hà Mèo Vạc")).await;
    let show = api
        .post(
            "/api/shows",
            Some(&seller),
            json!({"title": "Mật ong bạc hà Mèo Vạc", "scheduled_at": "2026-11-29T19:00:00+07:00",
                   "stream": {"kind": "hls", "url": "https://media.ocop.vn/live/meo-vac.m3u8"},
                   "products": [honey["id"]]}),
        )
        .await
        .ok(201)["show"]
        .clone();
    let id = show["id"].as_str().unwrap().to_owned();
    let ch = format!("show:{id}");
    let (buyer, _) = api.register("buyer").await;
    let guest = api.post("/api/auth/guest", None, json!({"name": "Khách Minh"})).await.ok(200).clone();
    let guest_id = guest["user"]["id"].clone();
    let guest = guest["token"].as_str().unwrap().to_owned();

    // The viewer only listens: `Client::call` skips the events that arrive before its reply.
    let mut viewer = Client::connect(&app, None).await;
    let mut buyer_ws = Client::connect(&app, Some(&buyer)).await;
    check_show_snapshot(&viewer.subscribe(&ch).await["snapshot"]);
    let mut seller_ws = Client::connect(&app, Some(&seller)).await;
    let mut guest_ws = Client::connect(&app, Some(&guest)).await;

    api.post(&format!("/api/shows/{id}/start"), Some(&seller), json!({})).await.ok(200);
    let pin = seller_ws.call("show.pin", json!({"show": id, "product_id": honey["id"]})).await;
    assert_eq!(pin["ok"], true, "{pin}");
    let sent = buyer_ws.call("chat.send", json!({"show": id, "text": "Chốt A1 2 hũ nhé shop"})).await;
    assert_eq!(sent["ok"], true, "{sent}");
    let phone = guest_ws.call("chat.send", json!({"show": id, "text": "Zalo em 0912 345 678 nha"})).await;
    assert_eq!(phone["ok"], true, "{phone}");
    let deleted = seller_ws.call("chat.delete", json!({"show": id, "msg_id": phone["data"]["msg_id"]})).await;
    assert_eq!(deleted["ok"], true, "{deleted}");
    let slow = seller_ws.call("chat.slow", json!({"show": id, "seconds": 5})).await;
    assert_eq!(slow["ok"], true, "{slow}");
    let announced = seller_ws.call("show.announce", json!({"show": id, "text": "Giảm 10% trong 15 phút đầu!"})).await;
    assert_eq!(announced["ok"], true, "{announced}");
    let hearts = buyer_ws.call("react", json!({"show": id, "kind": "heart"})).await;
    assert_eq!(hearts["ok"], true, "{hearts}");
    let kept = ["status", "show", "pinned", "chat", "chat.deleted", "announcement"];
    let got = events_until(&mut viewer, &[&kept[..], &["viewers", "reactions"]].concat()).await;
    assert_eq!(got["chat.deleted"]["data"]["msg_id"], phone["data"]["msg_id"]);
    let since = got["chat"]["off"].as_u64().unwrap() - 1;

    let mut late = Client::connect(&app, None).await;
    let joined = late.subscribe(&ch).await;
    let (snapshot, epoch) = (&joined["snapshot"], &joined["epoch"]);
    check_show_snapshot(snapshot);
    assert_eq!(snapshot["chat"].as_array().unwrap().len(), 1, "the deleted message is left out: {snapshot}");
    assert_eq!(snapshot["pinned"]["id"], honey["id"]);

    let mut back = Client::connect(&app, Some(&buyer)).await;
    let recovered = back.call("subscribe", json!({"ch": ch, "since": {"off": since, "epoch": epoch}})).await;
    assert_eq!(recovered["data"]["recovered"], true, "{recovered}");
    check_show_snapshot(&recovered["data"]["snapshot"]);
    for frame in recovered["data"]["missed"].as_array().unwrap() {
        check_show_event(frame);
    }

    let moderators = seller_ws.call("show.moderators", json!({"show": id, "add": [uuid::Uuid::now_v7()]})).await;
    assert_eq!(moderators["ok"], true, "{moderators}");
    let cleared = seller_ws.call("show.announce", json!({"show": id, "text": " "})).await;
    assert_eq!(cleared["ok"], true, "{cleared}");
    let banned = seller_ws.call("chat.ban", json!({"show": id, "user_id": guest_id})).await;
    assert_eq!(banned["ok"], true, "{banned}");
    let unpinned = seller_ws.call("show.pin", json!({"show": id, "product_id": null})).await;
    assert_eq!(unpinned["ok"], true, "{unpinned}");
    let got = events_until(&mut viewer, &["show", "announcement", "banned", "pinned"]).await;
    assert!(got["announcement"]["data"]["text"].is_null() && got["pinned"]["data"]["product"].is_null());

    api.post(&format!("/api/shows/{id}/end"), Some(&seller), json!({})).await.ok(200);
    let got = events_until(&mut viewer, &["status", "show"]).await;
    assert_eq!(got["status"]["data"]["status"], "ended");
    assert!(got["show"]["data"]["show"]["summary"].is_object(), "{}", got["show"]);
    let mut after = Client::connect(&app, None).await;
    check_show_snapshot(&after.subscribe(&ch).await["snapshot"]);
}

/// Each committed server frame on a `user:` or `seller:` channel (or in a reply's `missed`).
fn order_event_examples() -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for (name, frame) in server_examples() {
        let mut events: Vec<&Value> = vec![&frame];
        events.extend(frame["data"]["missed"].as_array().into_iter().flatten());
        for event in events {
            if event["ch"].as_str().is_some_and(|ch| ch.starts_with("user:") || ch.starts_with("seller:")) {
                out.push((name.clone(), event.clone()));
            }
        }
    }
    out
}

#[test]
fn every_order_event_example_validates() {
    let mut seen = BTreeSet::new();
    for (name, event) in order_event_examples() {
        if let Some(message) = panic_of(|| check_order_event(&event)) {
            panic!("proto/examples/{name}.json: {message}");
        }
        let kind = event["ch"].as_str().unwrap().split(':').next().unwrap().to_owned();
        seen.insert((kind, event["ev"].as_str().unwrap().to_owned()));
    }
    let all: BTreeSet<(String, String)> =
        ORDER_EVENTS.iter().map(|(kind, ev, _)| ((*kind).to_owned(), (*ev).to_owned())).collect();
    assert_eq!(seen, all, "every order event has an example in proto/examples/");
}

/// Every offer and order in a committed reply validates; each `{offer}` and `{order}` reply has
/// one example at least.
#[test]
fn every_offer_and_order_reply_example_validates() {
    let mut seen = (0, 0);
    for (name, frame) in server_examples() {
        if let Some(offer) = frame["data"].get("offer") {
            if let Some(message) = panic_of(|| check_offer(offer)) {
                panic!("proto/examples/{name}.json: {message}");
            }
            seen.0 += 1;
        }
        if let Some(order) = frame["data"].get("order").filter(|_| frame.get("re").is_some()) {
            if let Some(message) = panic_of(|| check_order(order)) {
                panic!("proto/examples/{name}.json: {message}");
            }
            seen.1 += 1;
        }
    }
    assert!(seen.0 >= 2 && seen.1 >= 2, "offer and order replies among the examples: {seen:?}");
}

/// `orders/order.json` groups exactly the frames above per channel kind, each closed and kept.
#[test]
fn the_order_schema_defines_exactly_these_events() {
    let text = std::fs::read_to_string(schema_dir().join("orders/order.json")).unwrap();
    let schema: Value = serde_json::from_str(&text).unwrap();
    let defs = &schema["$defs"];
    for (group, kind) in [("UserEvent", "user"), ("SellerEvent", "seller")] {
        let refs: Vec<&str> =
            defs[group]["oneOf"].as_array().unwrap().iter().map(|r| r["$ref"].as_str().unwrap()).collect();
        let listed: Vec<&(&str, &str, &str)> = ORDER_EVENTS.iter().filter(|(k, ..)| *k == kind).collect();
        let expected: Vec<String> = listed.iter().map(|(_, _, def)| format!("#/$defs/{def}")).collect();
        assert_eq!(refs, expected, "$defs.{group}");
        for (_, ev, def) in listed {
            let frame = &defs[*def];
            assert_eq!(frame["properties"]["ev"]["const"], *ev, "$defs.{def}");
            assert_eq!(frame["additionalProperties"], false, "$defs.{def} is closed");
            assert!(frame["required"].as_array().unwrap().contains(&json!("off")), "$defs.{def}: off required");
        }
    }
    assert_eq!(schema["$ref"], "#/$defs/Order", "the root of order.json is an order");
}

#[test]
fn broken_offer_events_are_rejected() {
    let offer = || example("server.show-offer");
    let stock = || example("server.show-stock");
    let cases: Vec<(&str, Value, &str)> = vec![
        ("offer without off", without(offer(), "/off"), "must carry `off`"),
        ("offer without remaining", without(offer(), "/data/offer/remaining"), "\"remaining\" is a required property"),
        ("offer priced in decimals", with(offer(), "/data/offer/price", json!(99000.5)), "/data/offer/price"),
        ("offer at 0 đ", with(offer(), "/data/offer/price", json!(0)), "/data/offer/price"),
        ("offer with a per-buyer limit of 100", with(offer(), "/data/offer/per_buyer_limit", json!(100)), "/data"),
        ("offer paused", with(offer(), "/data/offer/status", json!("paused")), "/data/offer/status"),
        (
            "offer ending at a time without milliseconds",
            with(offer(), "/data/offer/ends_at", json!("2026-11-29T12:25:05Z")),
            "/data/offer/ends_at",
        ),
        ("offer with a show_id that is not a UUID", with(offer(), "/data/offer/show_id", json!("s1")), "uuid"),
        ("offer data with an extra field", with(offer(), "/data/reason", json!("stopped")), "reason"),
        (
            "sold out with units left",
            with(example("server.show-offer-sold-out"), "/data/offer/remaining", json!(3)),
            "/data/offer/remaining",
        ),
        (
            "ended with units left",
            with(example("server.show-offer-ended"), "/data/offer/remaining", json!(1)),
            "/data/offer/remaining",
        ),
        ("stock with off", with(stock(), "/off", json!(70)), "must not carry `off`"),
        ("stock below zero", with(stock(), "/data/remaining", json!(-1)), "/data/remaining"),
        ("stock without offer_id", without(stock(), "/data/offer_id"), "offer_id"),
        ("stock with an extra field", with(stock(), "/data/sold", json!(6)), "sold"),
    ];
    for (what, frame, mentions) in cases {
        rejected(what, || check_show_event(&frame), mentions);
    }
    let snapshot = || example("server.reply-subscribe-show-offer")["data"]["snapshot"].clone();
    check_show_snapshot(&snapshot());
    rejected(
        "a snapshot with a sold-out offer",
        || {
            check_show_snapshot(&with(
                snapshot(),
                "/offers/0",
                example("server.show-offer-sold-out")["data"]["offer"].clone(),
            ))
        },
        "/offers/0",
    );
    rejected(
        "a snapshot with an offer without its id",
        || check_show_snapshot(&without(snapshot(), "/offers/0/id")),
        "\"id\" is a required property",
    );
    rejected(
        "an offer reply without ends_at",
        || check_offer(&without(offer()["data"]["offer"].clone(), "/ends_at")),
        "ends_at",
    );
}

#[test]
fn broken_order_events_are_rejected() {
    let placed = || example("server.user-order");
    let seller = || example("server.seller-order");
    let failed = || example("server.user-order-failed");
    let shipped = || example("server.user-order-shipped");
    let cases: Vec<(&str, Value, &str)> = vec![
        ("order without off", without(placed(), "/off"), "must carry `off`"),
        ("order at offset 0", with(placed(), "/off", json!(0)), "/off"),
        ("order paid", with(placed(), "/data/order/status", json!("paid")), "/data/order/status"),
        ("order without delivery", without(placed(), "/data/order/delivery"), "\"delivery\" is a required property"),
        (
            "order with a total in decimals",
            with(placed(), "/data/order/total", json!(198000.0001)),
            "/data/order/total",
        ),
        (
            "order from a livestream source",
            with(placed(), "/data/order/source", json!("livestream")),
            "/data/order/source",
        ),
        ("order paid by bank transfer", with(placed(), "/data/order/payment", json!("bank")), "/data/order/payment"),
        ("order without items", with(placed(), "/data/order/items", json!([])), "/data/order/items"),
        ("order of 100 units", with(placed(), "/data/order/items/0/qty", json!(100)), "/data/order/items/0/qty"),
        ("order with a short key", with(placed(), "/data/order/key", json!("abc")), "/data/order/key"),
        (
            "order with a phone as typed",
            with(placed(), "/data/order/delivery/phone", json!("0912 345 678")),
            "/data/order/delivery/phone",
        ),
        (
            "placed order with updated_at",
            with(placed(), "/data/order/updated_at", json!("2026-11-29T12:31:15.004Z")),
            "/data/order",
        ),
        ("shipped order without updated_at", without(shipped(), "/data/order/updated_at"), "/data/order"),
        ("offer order without offer_id", without(placed(), "/data/order/offer_id"), "/data/order"),
        ("order with a null offer_id", with(placed(), "/data/order/offer_id", Value::Null), "/data/order/offer_id"),
        ("order data with an extra field", with(placed(), "/data/changed_by", json!("seller")), "changed_by"),
        (
            "order of another buyer on a user channel",
            with(placed(), "/ch", json!("user:0190f3c4-0000-7b8c-9d0e-1f2a3b4c5d6e")),
            "must have buyer_id",
        ),
        (
            "order of another seller on a seller channel",
            with(seller(), "/ch", json!("seller:0190f3b0-0000-7c21-8d3e-4f5a6b7c8d01")),
            "must have seller_id",
        ),
        (
            "order on a show channel",
            with(placed(), "/ch", json!("show:0190f3c4-5e6a-7b8c-9d0e-1f2a3b4c5d6e")),
            "not a user: or seller: channel",
        ),
        (
            "order.failed on a seller channel",
            with(failed(), "/ch", json!("seller:0190f3b0-11aa-7c21-8d3e-4f5a6b7c8d01")),
            "unknown seller: event \"order.failed\"",
        ),
        ("order.failed without msg_id", without(failed(), "/data/msg_id"), "msg_id"),
        ("order.failed muted", with(failed(), "/data/error/code", json!("muted")), "/data/error/code"),
        ("order.failed without a message", without(failed(), "/data/error/message"), "message"),
        ("order.failed with an empty message", with(failed(), "/data/error/message", json!("")), "/data/error/message"),
        (
            "an event the order schema does not define",
            with(placed(), "/ev", json!("refund")),
            "unknown user: event \"refund\"",
        ),
        ("a frame without ch", without(placed(), "/ch"), "no string `ch`"),
    ];
    for (what, frame, mentions) in cases {
        rejected(what, || check_order_event(&frame), mentions);
    }
}

#[test]
fn offers_and_orders_may_grow_but_their_payloads_may_not() {
    check_show_event(&with(example("server.show-offer"), "/data/offer/badge", json!("Giá sốc")));
    check_order_event(&with(example("server.user-order"), "/data/order/note", json!("Gọi trước khi giao")));
    check_order_event(&with(example("server.user-order"), "/data/order/delivery/ward", json!("Lạch Tray")));
    rejected(
        "a stock event with a price",
        || check_show_event(&with(example("server.show-stock"), "/data/price", json!(99000))),
        "price",
    );
    rejected(
        "an order.failed with the order",
        || check_order_event(&with(example("server.user-order-failed"), "/data/order", json!({}))),
        "order",
    );
}

/// What the server really sends for offers and orders, on the show's channel and on the buyer's
/// and the seller's feeds, matches the schemas: every event, reply, snapshot and recovered frame.
#[tokio::test]
async fn offers_and_orders_on_a_running_server_match_the_schemas() {
    let app = spawn_app().await;
    let api = app.api();
    let (seller, _) = api.register("seller").await;
    let seller_id = api.get("/api/me", Some(&seller)).await.ok(200)["user"]["seller_id"].as_str().unwrap().to_owned();
    let honey = api.create_product(&seller, Api::product_body("Mật ong bạc hà Mèo Vạc")).await;
    let tea = api.create_product(&seller, Api::product_body("Chè Shan tuyết Hoàng Su Phì")).await;
    let show = api
        .post(
            "/api/shows",
            Some(&seller),
            json!({"title": "Mật ong và chè vùng cao", "products": [honey["id"], tea["id"]]}),
        )
        .await
        .ok(201)["show"]
        .clone();
    let id = show["id"].as_str().unwrap().to_owned();
    let ch = format!("show:{id}");
    api.post(&format!("/api/shows/{id}/start"), Some(&seller), json!({})).await.ok(200);

    // Commands go through their own connections; the viewer and the feeds only listen.
    let mut viewer = Client::connect(&app, None).await;
    check_show_snapshot(&viewer.subscribe(&ch).await["snapshot"]);
    let mut seller_ws = Client::connect(&app, Some(&seller)).await;
    let mut seller_feed = Client::connect(&app, Some(&seller)).await;
    seller_feed.subscribe(&format!("seller:{seller_id}")).await;
    let buyer = user(Role::Buyer);
    let token = app.token(&buyer);
    let mut buyer_ws = Client::connect(&app, Some(&token)).await;
    let mut buyer_feed = Client::connect(&app, Some(&token)).await;
    let feed = buyer_feed.subscribe(&format!("user:{}", buyer.id)).await;
    let (lan, _) = api.register("buyer").await;
    let contact =
        json!({"name": "Nguyễn Thị Lan", "phone": "+84 912 345 678", "address": "Số 15 ngõ 42 Lạch Tray, Hải Phòng"});
    api.put("/api/me/delivery", Some(&lan), contact).await.ok(200);
    let mut lan_ws = Client::connect(&app, Some(&lan)).await;

    // A flash offer: 3 jars of honey at 99.000 đ, at most 2 per buyer.
    let started = seller_ws
        .call(
            "offer.start",
            json!({"show": id, "product_id": honey["id"], "price": 99000, "quantity": 3, "per_buyer_limit": 2,
                   "duration_s": 600}),
        )
        .await;
    assert_eq!(started["ok"], true, "{started}");
    let offer = started["data"]["offer"].clone();
    check_offer(&offer);
    assert_eq!(next_event(&mut viewer, "offer").await["data"]["offer"], offer);
    let mut late = Client::connect(&app, None).await;
    let snapshot = late.subscribe(&ch).await["snapshot"].clone();
    check_show_snapshot(&snapshot);
    assert_eq!(snapshot["offers"][0], offer, "the live offer is in the snapshot: {snapshot}");

    // The order button, with a delivery contact.
    let delivery = json!({"name": "Trần Văn Hùng", "phone": "0987 654 321", "address": "Số 8 ngõ 15 Đội Cấn, Hà Nội"});
    let placed = buyer_ws
        .call(
            "order.place",
            json!({"show": id, "offer_id": offer["id"], "qty": 2, "key": format!("schema-{}", buyer.id),
                   "delivery": delivery}),
        )
        .await;
    assert_eq!(placed["ok"], true, "{placed}");
    let order = placed["data"]["order"].clone();
    check_order(&order);
    assert_eq!(next_event(&mut buyer_feed, "order").await["data"]["order"], order);
    assert_eq!(next_event(&mut seller_feed, "order").await["data"]["order"], order);
    assert_eq!(next_event(&mut viewer, "stock").await["data"], json!({"offer_id": offer["id"], "remaining": 1}));

    // The last jar, to the saved contact: the offer sells out; stopping it ends it.
    let last =
        lan_ws.call("order.place", json!({"show": id, "offer_id": offer["id"], "qty": 1, "key": "schema-lan-1"})).await;
    assert_eq!(last["ok"], true, "{last}");
    check_order(&last["data"]["order"]);
    assert_eq!(next_event(&mut seller_feed, "order").await["data"]["order"], last["data"]["order"]);
    let got = events_until(&mut viewer, &["stock", "offer"]).await;
    assert_eq!(
        (got["stock"]["data"]["remaining"].as_i64(), got["offer"]["data"]["offer"]["status"].as_str()),
        (Some(0), Some("sold_out"))
    );
    let stopped = seller_ws.call("offer.stop", json!({"show": id, "offer_id": offer["id"]})).await;
    assert_eq!(stopped["data"]["offer"]["status"], "ended", "{stopped}");
    check_offer(&stopped["data"]["offer"]);
    assert_eq!(next_event(&mut viewer, "offer").await["data"]["offer"], stopped["data"]["offer"]);

    // Chốt đơn from a buyer who saved no contact: placed at once, waiting for its address.
    let sent = buyer_ws.call("chat.send", json!({"show": id, "text": "chốt 1 A2 nha shop"})).await;
    let waiting = next_event(&mut buyer_feed, "order").await["data"]["order"].clone();
    assert_eq!(waiting["key"], format!("chat:{}", sent["data"]["msg_id"].as_str().unwrap()), "{waiting}");
    assert_eq!(waiting["needs_address"], true, "{waiting}");
    let told = next_event(&mut buyer_feed, "notify").await;
    assert_eq!((told["data"]["kind"].as_str(), &told["data"]["order"]), (Some("order.needs_address"), &waiting));
    assert_eq!(next_event(&mut seller_feed, "order").await["data"]["order"], waiting);
    // A comment that cannot order is refused privately.
    let nothing = buyer_ws.call("chat.send", json!({"show": id, "text": "chốt 1 A9"})).await;
    let failed = next_event(&mut buyer_feed, "order.failed").await;
    assert_eq!(failed["data"]["msg_id"], nothing["data"]["msg_id"], "{failed}");
    assert_eq!(failed["data"]["error"]["code"], "not_found", "{failed}");
    let comment = lan_ws.call("chat.send", json!({"show": id, "text": "A2 x2"})).await;
    let ordered = next_event(&mut seller_feed, "order").await["data"]["order"].clone();
    assert_eq!(ordered["key"], format!("chat:{}", comment["data"]["msg_id"].as_str().unwrap()), "{ordered}");
    assert_eq!((ordered["source"].as_str(), ordered.get("offer_id")), (Some("chat"), None), "{ordered}");

    // Confirmed and shipped by the seller; the chat order cancelled by its buyer.
    for op in ["order.confirm", "order.ship"] {
        let r = seller_ws.call(op, json!({"order_id": order["id"]})).await;
        assert_eq!(r["ok"], true, "{r}");
        check_order(&r["data"]["order"]);
        assert_eq!(next_event(&mut buyer_feed, "order").await["data"]["order"], r["data"]["order"]);
        assert_eq!(next_event(&mut seller_feed, "order").await["data"]["order"], r["data"]["order"]);
    }
    let cancelled = lan_ws.call("order.cancel", json!({"order_id": ordered["id"]})).await;
    assert_eq!(cancelled["data"]["order"]["status"], "cancelled", "{cancelled}");
    check_order(&cancelled["data"]["order"]);
    assert_eq!(next_event(&mut seller_feed, "order").await["data"]["order"], cancelled["data"]["order"]);
    for mine in api.get("/api/me/orders", Some(&lan)).await.ok(200)["items"].as_array().unwrap() {
        check_order(mine);
    }

    // A reconnecting buyer recovers the whole feed.
    let mut back = Client::connect(&app, Some(&token)).await;
    let since = json!({"off": feed["off"], "epoch": feed["epoch"]});
    let recovered = back.call("subscribe", json!({"ch": format!("user:{}", buyer.id), "since": since})).await;
    assert_eq!((recovered["data"]["recovered"].as_bool(), &recovered["data"]["snapshot"]), (Some(true), &json!({})));
    let missed: Vec<&str> =
        recovered["data"]["missed"].as_array().unwrap().iter().map(|f| f["ev"].as_str().unwrap()).collect();
    assert_eq!(missed, ["order", "order", "notify", "order.failed", "order", "order"], "{recovered}");
    for frame in recovered["data"]["missed"].as_array().unwrap() {
        check_order_event(frame);
    }
}
