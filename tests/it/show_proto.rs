//! The hand-written schemas of `show:` channels in `proto/schemas/show/`: checks any test can run on
//! the show events and snapshots it receives, and tests that the schemas, the committed examples and
//! the running server agree.

use std::collections::{BTreeMap, BTreeSet};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use jsonschema::error::ValidationErrorKind;
use serde_json::{Value, json};

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
];

/// Ephemeral events (never an `off`).
const EPHEMERAL: &[(&str, &str)] = &[("viewers", "ViewersEvent"), ("reactions", "ReactionsEvent")];

fn show_schema_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("proto/schemas/show")
}

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("proto/examples")
}

/// Where the schemas pretend to live, so `snapshot.json` finds `events.json` beside it; nothing
/// is fetched from the network.
const BASE: &str = "https://ocop-live.invalid/proto/schemas/show/";

/// Serves `events.json` and `snapshot.json` from `proto/schemas/show/`.
struct ShowSchemas;

impl jsonschema::Retrieve for ShowSchemas {
    fn retrieve(&self, uri: &jsonschema::Uri<String>) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        let name = uri
            .path()
            .as_str()
            .strip_prefix("/proto/schemas/show/")
            .filter(|n| matches!(*n, "events.json" | "snapshot.json"))
            .ok_or_else(|| format!("{uri} is not one of proto/schemas/show/*.json"))?;
        let text = std::fs::read_to_string(show_schema_dir().join(name)).map_err(|e| format!("{uri}: {e}"))?;
        Ok(serde_json::from_str(&text)?)
    }
}

/// A validator for `reference` (relative to `proto/schemas/show/`), with `format` asserted
/// (`uuid`, `date-time`, `uri`, ...), which draft 2020-12 otherwise only annotates.
fn validator(reference: &str) -> jsonschema::Validator {
    jsonschema::options()
        .with_base_uri(format!("{BASE}check.json"))
        .with_retriever(ShowSchemas)
        .should_validate_formats(true)
        .build(&json!({ "$ref": reference }))
        .unwrap_or_else(|e| panic!("proto/schemas/show/{reference} does not build: {e}"))
}

struct Validators {
    /// By event name.
    events: BTreeMap<&'static str, jsonschema::Validator>,
    snapshot: jsonschema::Validator,
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
        ("an event the schemas do not define", with(chat(), "/ev", json!("offer")), "unknown show event \"offer\""),
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

/// Reads frames until every event in `wanted` arrived, checking each show event on the way;
/// returns the events by name (the last of each).
async fn events_until(client: &mut Client, wanted: &[&str]) -> BTreeMap<String, Value> {
    let mut got = BTreeMap::new();
    while !wanted.iter().all(|w| got.contains_key(*w)) {
        let frame = client.recv().await;
        if frame.get("ch").is_some() {
            check_show_event(&frame);
            got.insert(frame["ev"].as_str().unwrap().to_owned(), frame);
        }
    }
    got
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
