//! The hand-written schemas of `fair:` and `booth:` channels in `proto/schemas/fair/`: checks any
//! test can run on the events, snapshots, fairs, booths and notifications it receives, and tests
//! that the schemas, the committed examples and the running server agree.

use std::collections::{BTreeMap, BTreeSet};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use jsonschema::error::ValidationErrorKind;
use serde_json::{Value, json};
use uuid::Uuid;

use ocop_live::Config;
use ocop_live::auth::{Role, User};
use ocop_live::realtime::events::{BoothEvent, Event, FairEvent};

use crate::helpers::*;
use crate::show_proto::{check_order_event, check_show_event, check_show_snapshot};

/// The events of one kind of channel, each with the `$defs` entry of `fair/events.json` that
/// describes its frame, and the groups that list them.
struct ChannelEvents {
    kind: &'static str,
    kept: &'static [(&'static str, &'static str)],
    ephemeral: &'static [(&'static str, &'static str)],
    kept_group: &'static str,
    ephemeral_group: &'static str,
    channel_def: &'static str,
}

/// `fair:<id>`, the lobby.
const LOBBY: ChannelEvents = ChannelEvents {
    kind: "fair",
    kept: &[
        ("fair", "LobbyFairEvent"),
        ("show.live", "LobbyShowLiveEvent"),
        ("show.ended", "LobbyShowEndedEvent"),
        ("agenda", "LobbyAgendaEvent"),
        ("announcement", "LobbyAnnouncementEvent"),
        ("booth", "LobbyBoothEvent"),
    ],
    ephemeral: &[("visitors", "LobbyVisitorsEvent")],
    kept_group: "LobbyKeptEvent",
    ephemeral_group: "LobbyEphemeralEvent",
    channel_def: "#/$defs/FairChannel",
};

/// `booth:<id>`.
const BOOTH: ChannelEvents = ChannelEvents {
    kind: "booth",
    kept: &[
        ("chat", "BoothChatEvent"),
        ("chat.deleted", "BoothChatDeletedEvent"),
        ("banned", "BoothBannedEvent"),
        ("booth", "BoothBoothEvent"),
    ],
    ephemeral: &[("presence", "BoothPresenceEvent")],
    kept_group: "BoothKeptEvent",
    ephemeral_group: "BoothEphemeralEvent",
    channel_def: "#/$defs/BoothChannel",
};

const CHANNELS: [&ChannelEvents; 2] = [&LOBBY, &BOOTH];

/// The notifications about fairs on `user:<id>`, and the object each carries.
const NOTIFY_KINDS: &[(&str, &str)] = &[
    ("show.soon", "show"),
    ("show.live", "show"),
    ("booth.approved", "booth"),
    ("booth.rejected", "booth"),
    ("booth.applied", "booth"),
    ("inquiry", "inquiry"),
];

fn schema_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("proto/schemas")
}

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("proto/examples")
}

/// Where the schemas pretend to live, so references between them resolve; nothing is fetched
/// from the network.
const BASE: &str = "https://ocop-live.invalid/proto/schemas/";

/// The hand-written schemas, by path under `proto/schemas/`.
const HAND_WRITTEN: &[&str] = &[
    "show/events.json",
    "show/snapshot.json",
    "orders/order.json",
    "fair/events.json",
    "fair/lobby-snapshot.json",
    "fair/booth-snapshot.json",
];

/// Serves the hand-written schemas from `proto/schemas/`.
struct FairSchemas;

impl jsonschema::Retrieve for FairSchemas {
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

/// A validator for `reference` (relative to `proto/schemas/fair/`), with `format` asserted.
fn validator(reference: &str) -> jsonschema::Validator {
    jsonschema::options()
        .with_base_uri(format!("{BASE}fair/check.json"))
        .with_retriever(FairSchemas)
        .should_validate_formats(true)
        .build(&json!({ "$ref": reference }))
        .unwrap_or_else(|e| panic!("proto/schemas/fair/{reference} does not build: {e}"))
}

struct Validators {
    /// By channel kind and event name.
    events: BTreeMap<(&'static str, &'static str), jsonschema::Validator>,
    lobby_snapshot: jsonschema::Validator,
    booth_snapshot: jsonschema::Validator,
    fair: jsonschema::Validator,
    booth: jsonschema::Validator,
    show: jsonschema::Validator,
    notify: jsonschema::Validator,
}

fn validators() -> &'static Validators {
    static V: OnceLock<Validators> = OnceLock::new();
    V.get_or_init(|| Validators {
        events: CHANNELS
            .iter()
            .flat_map(|c| c.kept.iter().chain(c.ephemeral).map(move |(ev, def)| (c.kind, *ev, *def)))
            .map(|(kind, ev, def)| ((kind, ev), validator(&format!("events.json#/$defs/{def}"))))
            .collect(),
        lobby_snapshot: validator("lobby-snapshot.json"),
        booth_snapshot: validator("booth-snapshot.json"),
        fair: validator("events.json#/$defs/Fair"),
        booth: validator("events.json#/$defs/Booth"),
        show: validator("../show/events.json#/$defs/Show"),
        notify: validator("../orders/order.json#/$defs/UserNotifyEvent"),
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
                // The message quotes the instance, which may be a whole fair, before saying what
                // is wrong with it: keep its start and the reason at its end.
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

#[track_caller]
fn valid(validator: &jsonschema::Validator, what: &str, schema: &str, instance: &Value) {
    if let Some(errors) = errors(validator, instance) {
        panic!("{what} does not match proto/schemas/{schema}:\n{errors}\n{what}: {instance}");
    }
}

/// The id of a `fair:` or `booth:` channel.
fn channel_id(ch: &str) -> &str {
    ch.split_once(':').map(|(_, id)| id).unwrap_or_default()
}

/// Panics unless `frame` is a valid server event on a `fair:` or `booth:` channel: `{ch, ev, off?,
/// data}` with an `ev` the schemas define for that kind of channel, `off` exactly when the event is
/// kept, `data` as `proto/schemas/fair/events.json` describes that event, and what it carries
/// belongs to the channel (the fair, a booth or a show of the lobby's fair; the booth of a booth
/// channel).
#[track_caller]
pub fn check_fair_event(frame: &Value) {
    let Some(ch) = frame.get("ch").and_then(Value::as_str) else {
        panic!("not a fair event: no string `ch` in {frame}");
    };
    let Some(channel) = CHANNELS.iter().find(|c| ch.strip_prefix(c.kind).is_some_and(|r| r.starts_with(':'))) else {
        panic!("not a fair event: {ch:?} is not a fair: or booth: channel: {frame}");
    };
    let Some(ev) = frame.get("ev").and_then(Value::as_str) else {
        panic!("not a fair event: no string `ev` in {frame}");
    };
    let kind = channel.kind;
    let Some(validator) = validators().events.get(&(kind, ev)) else {
        panic!("unknown {kind}: event {ev:?} (proto/schemas/fair/events.json defines none): {frame}");
    };
    let kept = channel.kept.iter().any(|(name, _)| *name == ev);
    match (kept, frame.get("off")) {
        (true, None) => panic!("{kind}: event `{ev}` is kept in history and must carry `off`: {frame}"),
        (false, Some(_)) => panic!("{kind}: event `{ev}` is ephemeral and must not carry `off`: {frame}"),
        _ => {}
    }
    if let Some(errors) = errors(validator, frame) {
        panic!("{kind}: event `{ev}` does not match proto/schemas/fair/events.json:\n{errors}\nframe: {frame}");
    }
    let id = channel_id(ch);
    let data = &frame["data"];
    let (field, of) = match (kind, ev) {
        ("fair", "fair") => ("fair.id", &data["fair"]["id"]),
        ("fair", "booth") => ("booth.fair_id", &data["booth"]["fair_id"]),
        ("fair", "show.live" | "agenda") => ("show.fair_id", &data["show"]["fair_id"]),
        ("booth", "booth") => ("booth.id", &data["booth"]["id"]),
        _ => return,
    };
    assert!(of == id, "{kind}: event `{ev}` on {ch} must have {field} {id}, not {of}: {frame}");
}

/// Panics unless `fair` (from a REST answer) matches the `Fair` of `proto/schemas/fair/events.json`.
#[track_caller]
pub fn check_fair(fair: &Value) {
    valid(&validators().fair, "fair", "fair/events.json#/$defs/Fair", fair);
}

/// Panics unless `booth` (from a REST answer) matches the `Booth` of
/// `proto/schemas/fair/events.json`.
#[track_caller]
pub fn check_booth(booth: &Value) {
    valid(&validators().booth, "booth", "fair/events.json#/$defs/Booth", booth);
}

/// Panics unless `show` matches the `Show` of `proto/schemas/show/events.json`.
#[track_caller]
pub fn check_show(show: &Value) {
    valid(&validators().show, "show", "show/events.json#/$defs/Show", show);
}

fn parse_time(value: &Value) -> time::OffsetDateTime {
    let text = value.as_str().unwrap_or_default();
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|e| panic!("{value} is not an RFC 3339 time: {e}"))
}

/// Panics unless `snapshot` (the `snapshot` of a `subscribe` reply on a `fair:` channel) matches
/// `proto/schemas/fair/lobby-snapshot.json`, and agrees with itself: every show and booth is of
/// the snapshot's fair, no show is both live and upcoming, the upcoming ones are by
/// `scheduled_at`, and the fair's announcement is the snapshot's.
#[track_caller]
pub fn check_lobby_snapshot(snapshot: &Value) {
    valid(&validators().lobby_snapshot, "lobby snapshot", "fair/lobby-snapshot.json", snapshot);
    let fair = &snapshot["fair"]["id"];
    let shows = ["live", "upcoming"].map(|list| snapshot[list].as_array().unwrap());
    let mut ids = BTreeSet::new();
    for (i, show) in shows.iter().flat_map(|l| l.iter()).enumerate() {
        assert!(show["fair_id"] == *fair, "lobby snapshot: show {i} is of another fair: {snapshot}");
        assert!(ids.insert(show["id"].to_string()), "lobby snapshot: show {} is listed twice: {snapshot}", show["id"]);
    }
    let times: Vec<_> = shows[1].iter().map(|s| parse_time(&s["scheduled_at"])).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "lobby snapshot: upcoming shows not by scheduled_at: {snapshot}");
    let mut booths = BTreeSet::new();
    for booth in snapshot["booths"].as_array().unwrap() {
        assert!(booth["fair_id"] == *fair, "lobby snapshot: a booth of another fair: {snapshot}");
        assert!(
            booths.insert(booth["id"].to_string()),
            "lobby snapshot: booth {} listed twice: {snapshot}",
            booth["id"]
        );
    }
    let of_fair = snapshot["fair"].get("announcement").unwrap_or(&Value::Null);
    assert!(
        *of_fair == snapshot["announcement"],
        "lobby snapshot: the fair's announcement {of_fair} is not the snapshot's {}",
        snapshot["announcement"]
    );
}

/// Panics unless `snapshot` (the `snapshot` of a `subscribe` reply on a `booth:` channel) matches
/// `proto/schemas/fair/booth-snapshot.json`, the booth says what the snapshot says of its seller,
/// and each of its `chat` frames passes [`check_fair_event`], belongs to the snapshot's booth, and
/// comes after the one before it.
#[track_caller]
pub fn check_booth_snapshot(snapshot: &Value) {
    valid(&validators().booth_snapshot, "booth snapshot", "fair/booth-snapshot.json", snapshot);
    assert_eq!(
        snapshot["booth"]["seller_online"], snapshot["seller_online"],
        "booth snapshot: the booth's seller_online is the snapshot's: {snapshot}"
    );
    let channel = format!("booth:{}", snapshot["booth"]["id"].as_str().unwrap_or_default());
    let mut last_off = 0;
    for (i, frame) in snapshot["chat"].as_array().into_iter().flatten().enumerate() {
        check_fair_event(frame);
        assert_eq!(frame["ev"], "chat", "booth snapshot: chat[{i}] is not a chat event: {frame}");
        assert_eq!(frame["ch"], channel.as_str(), "booth snapshot: chat[{i}] is from another channel: {frame}");
        let off = frame["off"].as_u64().unwrap_or_default();
        assert!(off > last_off, "booth snapshot: chat[{i}] (off {off}) is not after the one before (off {last_off})");
        last_off = off;
    }
}

/// Panics unless `frame` is a valid `notify` event on a `user:` channel (as
/// `proto/schemas/orders/order.json` describes it); a notification about a booth must carry the
/// whole booth (`Booth` of `proto/schemas/fair/events.json`) of the channel owner's seller, one
/// about a show the whole show, and a quote the owner's inquiry.
#[track_caller]
pub fn check_notify_event(frame: &Value) {
    let ch = frame["ch"].as_str().unwrap_or_default();
    let Some(owner) = ch.strip_prefix("user:") else {
        panic!("not a notification: {ch:?} is not a user: channel: {frame}");
    };
    assert_eq!(frame["ev"], "notify", "not a notification: {frame}");
    if frame.get("off").is_none() {
        panic!("user: event `notify` is kept in history and must carry `off`: {frame}");
    }
    if let Some(errors) = errors(&validators().notify, frame) {
        panic!("user: event `notify` does not match proto/schemas/orders/order.json:\n{errors}\nframe: {frame}");
    }
    let data = &frame["data"];
    if let Some(booth) = data.get("booth") {
        check_booth(booth);
        // An application goes to the fair's organiser; a decision to the booth's seller.
        if data["kind"] != "booth.applied" {
            let of = &booth["seller_user_id"];
            assert!(of == owner, "a booth notification on {ch} must be for seller_user_id {owner}, not {of}: {frame}");
        }
    }
    if let Some(show) = data.get("show") {
        check_show(show);
    }
    if data["kind"] == "quote" {
        let of = &data["inquiry"]["buyer_id"];
        assert!(of == owner, "a quote on {ch} must be for buyer_id {owner}, not {of}: {frame}");
    }
}

/// Checks an event of any channel the hand-written schemas describe.
#[track_caller]
fn check_event(frame: &Value) {
    match frame["ch"].as_str() {
        Some(ch) if ch.starts_with("fair:") || ch.starts_with("booth:") => check_fair_event(frame),
        Some(ch) if ch.starts_with("show:") => check_show_event(frame),
        Some(ch) if ch.starts_with("user:") && frame["ev"] == "notify" => check_notify_event(frame),
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

/// Each committed server frame: name and frame.
fn server_examples() -> Vec<(String, Value)> {
    let mut names: Vec<String> = std::fs::read_dir(examples_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter_map(|n| n.strip_prefix("server.").and_then(|n| n.strip_suffix(".json")).map(|n| format!("server.{n}")))
        .collect();
    names.sort();
    names.into_iter().map(|n| (n.clone(), example(&n))).collect()
}

/// Every event frame in `frame`: itself, its `missed`, and the `chat` of its snapshot.
fn frames_in(frame: &Value) -> Vec<&Value> {
    let mut frames = vec![frame];
    frames.extend(frame["data"]["missed"].as_array().into_iter().flatten());
    frames.extend(frame["data"]["snapshot"]["chat"].as_array().into_iter().flatten());
    frames.into_iter().filter(|f| f.get("ev").is_some() && f.get("ch").is_some()).collect()
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

/// The lists above are the server's own: every event of `FairEvent` and `BoothEvent`, kept exactly
/// when the server keeps it; `events.json` groups exactly these frames, each closed, naming its
/// `ev` and its channel, with `off` iff kept.
#[test]
fn the_schema_defines_exactly_the_events_the_server_publishes() {
    for (channel, all) in [(&LOBBY, FairEvent::ALL), (&BOOTH, BoothEvent::ALL)] {
        let ours: BTreeMap<&str, bool> = channel
            .kept
            .iter()
            .map(|(ev, _)| (*ev, true))
            .chain(channel.ephemeral.iter().map(|(ev, _)| (*ev, false)))
            .collect();
        let server: BTreeMap<&str, bool> = all.iter().copied().collect();
        assert_eq!(ours, server, "the {} events here and in src/realtime/events.rs", channel.kind);
    }
    let text = std::fs::read_to_string(schema_dir().join("fair/events.json")).unwrap();
    let schema: Value = serde_json::from_str(&text).unwrap();
    let defs = &schema["$defs"];
    for channel in CHANNELS {
        for (group, list, off_required) in
            [(channel.kept_group, channel.kept, true), (channel.ephemeral_group, channel.ephemeral, false)]
        {
            let refs: Vec<&str> =
                defs[group]["oneOf"].as_array().unwrap().iter().map(|r| r["$ref"].as_str().unwrap()).collect();
            let expected: Vec<String> = list.iter().map(|(_, def)| format!("#/$defs/{def}")).collect();
            assert_eq!(refs, expected, "$defs.{group}");
            for (ev, def) in list {
                let frame = &defs[*def];
                assert_eq!(frame["properties"]["ev"]["const"], *ev, "$defs.{def}");
                assert_eq!(frame["properties"]["ch"]["$ref"], channel.channel_def, "$defs.{def}");
                assert_eq!(frame["additionalProperties"], false, "$defs.{def} is closed");
                let required = frame["required"].as_array().unwrap();
                assert_eq!(required.contains(&json!("off")), off_required, "$defs.{def}: off required iff kept");
                assert_eq!(frame["properties"].get("off").is_some(), off_required, "$defs.{def}: off allowed iff kept");
            }
        }
    }
}

#[test]
fn every_fair_and_booth_event_example_validates() {
    let mut seen = BTreeSet::new();
    for (name, frame) in server_examples() {
        for event in frames_in(&frame) {
            let ch = event["ch"].as_str().unwrap();
            if !(ch.starts_with("fair:") || ch.starts_with("booth:")) {
                continue;
            }
            if let Some(message) = panic_of(|| check_fair_event(event)) {
                panic!("proto/examples/{name}.json: {message}");
            }
            seen.insert((ch.split(':').next().unwrap().to_owned(), event["ev"].as_str().unwrap().to_owned()));
        }
    }
    let all: BTreeSet<(String, String)> = CHANNELS
        .iter()
        .flat_map(|c| c.kept.iter().chain(c.ephemeral).map(|(ev, _)| (c.kind.to_owned(), (*ev).to_owned())))
        .collect();
    assert_eq!(seen, all, "every fair and booth event has an example in proto/examples/");
}

#[test]
fn fair_and_booth_subscribe_examples_carry_a_valid_snapshot() {
    let mut checked = BTreeSet::new();
    for (name, frame) in server_examples() {
        let snapshot = &frame["data"]["snapshot"];
        let check: fn(&Value) = match (snapshot.get("fair"), snapshot.get("booth")) {
            (Some(_), _) => check_lobby_snapshot,
            (_, Some(_)) => check_booth_snapshot,
            _ => continue,
        };
        if let Some(message) = panic_of(|| check(snapshot)) {
            panic!("proto/examples/{name}.json: {message}");
        }
        let reply_off = frame["data"]["off"].as_u64().unwrap();
        for frame in frames_in(&frame).into_iter().skip(1) {
            assert!(frame["off"].as_u64().unwrap() <= reply_off, "{name}: {frame} is after the reply's off");
        }
        checked.insert(name);
    }
    for name in
        ["server.reply-subscribe-fair", "server.reply-subscribe-booth", "server.reply-subscribe-booth-recovered"]
    {
        assert!(checked.contains(name), "{name} carries a snapshot: {checked:?}");
    }
}

#[test]
fn every_fair_notification_example_validates() {
    let mut seen = BTreeSet::new();
    for (name, frame) in server_examples() {
        for event in frames_in(&frame) {
            if !(event["ch"].as_str().unwrap().starts_with("user:") && event["ev"] == "notify") {
                continue;
            }
            if let Some(message) = panic_of(|| check_notify_event(event)) {
                panic!("proto/examples/{name}.json: {message}");
            }
            seen.insert(event["data"]["kind"].as_str().unwrap().to_owned());
        }
    }
    for (kind, _) in NOTIFY_KINDS {
        assert!(seen.contains(*kind), "a notify {kind} among the examples: {seen:?}");
    }
}

/// The kill switch's `status` names who stopped the show; a reason never comes alone.
#[test]
fn a_status_with_a_reason_says_who_gave_it() {
    let stopped = || example("server.show-status-ended-by-organiser");
    check_show_event(&stopped());
    check_show_event(&without(stopped(), "/data/reason"));
    let cases: Vec<(&str, Value, &str)> = vec![
        ("a reason without by", without(stopped(), "/data/by"), "\"by\" is a required property"),
        ("an empty reason", with(stopped(), "/data/reason", json!("")), "/data/reason"),
        ("a reason of 301 characters", with(stopped(), "/data/reason", json!("x".repeat(301))), "/data/reason"),
        ("by a robot", with(stopped(), "/data/by/role", json!("robot")), "/data/by/role"),
        ("by someone without an id", without(stopped(), "/data/by/id"), "\"id\" is a required property"),
        ("by with an e-mail", with(stopped(), "/data/by/email", json!("btc@ocop.vn")), "email"),
    ];
    for (what, frame, mentions) in cases {
        rejected(what, || check_show_event(&frame), mentions);
    }
}

#[test]
fn broken_lobby_events_are_rejected() {
    let fair = || example("server.fair-fair");
    let booth = || example("server.fair-booth");
    let live = || example("server.fair-show-live");
    let agenda = || example("server.fair-agenda");
    let visitors = || example("server.fair-visitors");
    let cases: Vec<(&str, Value, &str)> = vec![
        ("fair without off", without(fair(), "/off"), "must carry `off`"),
        ("fair at offset 0", with(fair(), "/off", json!(0)), "/off"),
        ("fair reopened", with(fair(), "/data/fair/status", json!("reopened")), "/data/fair/status"),
        ("an open fair without opened_at", without(fair(), "/data/fair/opened_at"), "/data/fair"),
        (
            "an open fair with closed_at",
            with(fair(), "/data/fair/closed_at", json!("2026-12-06T01:00:00.000Z")),
            "/data/fair",
        ),
        (
            "a fair opening at a local time",
            with(fair(), "/data/fair/opens_at", json!("2026-12-05T08:00:00+07:00")),
            "/data/fair/opens_at",
        ),
        (
            "a fair with a name of 121 characters",
            with(fair(), "/data/fair/name", json!("a".repeat(121))),
            "/data/fair/name",
        ),
        (
            "a fair with a banner over http",
            with(fair(), "/data/fair/banner_url", json!("http://ocop.vn/b.jpg")),
            "/data/fair/banner_url",
        ),
        ("a fair with a null province", with(fair(), "/data/fair/province", Value::Null), "/data/fair/province"),
        ("a stored fair with a null announcement", with(fair(), "/data/fair/announcement", Value::Null), "/data/fair"),
        ("fair without an organiser", without(fair(), "/data/fair/organiser_id"), "organiser_id"),
        ("fair data with an extra field", with(fair(), "/data/changed", json!(["status"])), "changed"),
        (
            "fair on a show channel",
            with(fair(), "/ch", json!("show:0190f3c4-5e6a-7b8c-9d0e-1f2a3b4c5d6e")),
            "not a fair: or booth: channel",
        ),
        (
            "fair of another fair",
            with(fair(), "/data/fair/id", json!("0190f3d0-0000-7c3d-8e4f-5a6b7c8d9e01")),
            "must have fair.id",
        ),
        (
            "booth of another fair",
            with(booth(), "/data/booth/fair_id", json!("0190f3d0-0000-7c3d-8e4f-5a6b7c8d9e01")),
            "must have booth.fair_id",
        ),
        ("booth closed", with(booth(), "/data/booth/status", json!("closed")), "/data/booth/status"),
        ("booth without seller_online", without(booth(), "/data/booth/seller_online"), "seller_online"),
        (
            "booth featuring 13 products",
            with(booth(), "/data/booth/featured_products", json!(vec![Uuid::nil(); 13])),
            "/data/booth/featured_products",
        ),
        (
            "booth featuring a product twice",
            with(booth(), "/data/booth/featured_products", json!([Uuid::nil(), Uuid::nil()])),
            "/data/booth/featured_products",
        ),
        (
            "booth with slow mode of 601 s",
            with(booth(), "/data/booth/slow_mode_s", json!(601)),
            "/data/booth/slow_mode_s",
        ),
        ("show.live of a scheduled show", with(live(), "/data/show/status", json!("scheduled")), "/data/show/status"),
        ("show.live of a show off the agenda", without(live(), "/data/show/fair_id"), "/data/show"),
        (
            "show.live of another fair's show",
            with(live(), "/data/show/fair_id", json!("0190f3d0-0000-7c3d-8e4f-5a6b7c8d9e01")),
            "must have show.fair_id",
        ),
        ("show.live without its show's duration", without(live(), "/data/show/duration_min"), "duration_min"),
        ("agenda of a live show", with(agenda(), "/data/show/status", json!("live")), "/data/show/status"),
        ("agenda of a show without a time", without(agenda(), "/data/show/scheduled_at"), "scheduled_at"),
        (
            "agenda of a show of 10 minutes",
            with(agenda(), "/data/show/duration_min", json!(10)),
            "/data/show/duration_min",
        ),
        ("agenda of a show without organiser_id", without(agenda(), "/data/show/organiser_id"), "organiser_id"),
        ("show.ended without show_id", without(example("server.fair-show-ended"), "/data/show_id"), "show_id"),
        (
            "show.ended with the show",
            with(example("server.fair-show-ended"), "/data/show", json!({})),
            "'show' was unexpected",
        ),
        (
            "an announcement of 501 characters",
            with(example("server.fair-announcement"), "/data/text", json!("a".repeat(501))),
            "/data/text",
        ),
        (
            "an announcement cleared with an empty text",
            with(example("server.fair-announcement-cleared"), "/data/text", json!("")),
            "/data/text",
        ),
        ("visitors with off", with(visitors(), "/off", json!(9)), "must not carry `off`"),
        ("visitors below zero", with(visitors(), "/data/count", json!(-1)), "/data/count"),
        ("visitors with an extra field", with(visitors(), "/data/peak", json!(2000)), "peak"),
        (
            "presence on a fair channel",
            with(example("server.booth-presence"), "/ch", fair()["ch"].clone()),
            "unknown fair: event \"presence\"",
        ),
        ("an event the schemas do not define", with(fair(), "/ev", json!("poll")), "unknown fair: event \"poll\""),
        ("a frame without ev", without(fair(), "/ev"), "no string `ev`"),
    ];
    for (what, frame, mentions) in cases {
        rejected(what, || check_fair_event(&frame), mentions);
    }
}

#[test]
fn broken_booth_events_are_rejected() {
    let chat = || example("server.booth-chat");
    let booth = || example("server.booth-booth");
    let presence = || example("server.booth-presence");
    let cases: Vec<(&str, Value, &str)> = vec![
        ("chat without off", without(chat(), "/off"), "must carry `off`"),
        ("chat without msg_id", without(chat(), "/data/msg_id"), "msg_id"),
        ("chat with 501 characters", with(chat(), "/data/text", json!("ạ".repeat(501))), "/data/text"),
        ("chat at a time without milliseconds", with(chat(), "/data/at", json!("2026-12-05T02:15:02Z")), "/data/at"),
        ("chat from an unknown role", with(chat(), "/data/user/role", json!("vip")), "/data/user/role"),
        (
            "chat with the booth's id",
            with(chat(), "/data/booth_id", booth()["data"]["booth"]["id"].clone()),
            "booth_id",
        ),
        (
            "chat on an upper-case channel",
            with(chat(), "/ch", json!("booth:0190F3D1-8E9F-7A0B-8C1D-2E3F4A5B6C07")),
            "/ch",
        ),
        (
            "chat.deleted with a msg_id that is not a UUID",
            with(example("server.booth-chat-deleted"), "/data/msg_id", json!("m1")),
            "uuid",
        ),
        ("banned without user_id", without(example("server.booth-banned"), "/data/user_id"), "user_id"),
        (
            "booth of another booth",
            with(booth(), "/data/booth/id", json!("0190f3d1-0000-7a0b-8c1d-2e3f4a5b6c07")),
            "must have booth.id",
        ),
        ("booth without title", without(booth(), "/data/booth/title"), "title"),
        (
            "booth with an empty seller name",
            with(booth(), "/data/booth/seller_name", json!("")),
            "/data/booth/seller_name",
        ),
        (
            "booth created at a date",
            with(booth(), "/data/booth/created_at", json!("2026-11-19")),
            "/data/booth/created_at",
        ),
        ("presence with off", with(presence(), "/off", json!(9)), "must not carry `off`"),
        ("presence as a count", with(presence(), "/data/seller_online", json!(1)), "/data/seller_online"),
        ("presence with the seller's id", with(presence(), "/data/seller_id", json!(Uuid::nil())), "seller_id"),
        (
            "an announcement in a booth",
            with(chat(), "/ev", json!("announcement")),
            "unknown booth: event \"announcement\"",
        ),
        ("visitors in a booth", with(presence(), "/ev", json!("visitors")), "unknown booth: event \"visitors\""),
        ("a frame without ch", without(chat(), "/ch"), "no string `ch`"),
    ];
    for (what, frame, mentions) in cases {
        rejected(what, || check_fair_event(&frame), mentions);
    }
}

#[test]
fn broken_snapshots_are_rejected() {
    let lobby = || example("server.reply-subscribe-fair")["data"]["snapshot"].clone();
    let booth = || example("server.reply-subscribe-booth")["data"]["snapshot"].clone();
    let scheduled = example("server.fair-agenda")["data"]["show"].clone();
    let mut late_first = lobby();
    let mut later = scheduled.clone();
    later["id"] = json!("0190f3d2-3c4d-7e5f-8a6b-7c8d9e0f1a02");
    later["scheduled_at"] = json!("2026-12-06T20:00:00+07:00");
    late_first["live"] = json!([]);
    late_first["upcoming"] = json!([later, scheduled.clone()]);
    let mut reversed = booth();
    reversed["chat"].as_array_mut().unwrap().reverse();
    let lobby_cases: Vec<(&str, Value, &str)> = vec![
        ("a lobby without visitors", without(lobby(), "/visitors"), "visitors"),
        ("a lobby without announcement", without(lobby(), "/announcement"), "announcement"),
        ("a lobby whose fair has no id", without(lobby(), "/fair/id"), "/fair"),
        ("a lobby with a scheduled show live", with(lobby(), "/live/0", scheduled.clone()), "/live/0"),
        (
            "a lobby with a live show upcoming",
            with(lobby(), "/upcoming", json!([lobby()["live"][0].clone()])),
            "/upcoming/0",
        ),
        ("a lobby with a pending booth", with(lobby(), "/booths/0/status", json!("pending")), "/booths/0"),
        (
            "a lobby with a booth of another fair",
            with(lobby(), "/booths/0/fair_id", json!(Uuid::now_v7())),
            "a booth of another fair",
        ),
        (
            "a lobby with a show of another fair",
            with(lobby(), "/live/0/fair_id", json!(Uuid::now_v7())),
            "of another fair",
        ),
        ("a lobby listing a booth twice", with(lobby(), "/booths/1", lobby()["booths"][0].clone()), "listed twice"),
        (
            "a lobby with a show both live and upcoming",
            with(lobby(), "/upcoming", json!([with(lobby()["live"][0].clone(), "/status", json!("scheduled"))])),
            "listed twice",
        ),
        ("a lobby with upcoming shows out of order", late_first, "not by scheduled_at"),
        (
            "a lobby whose fair has another announcement",
            with(lobby(), "/announcement", json!("Khác")),
            "is not the snapshot's",
        ),
        ("a lobby with visitors as text", with(lobby(), "/visitors", json!("1531")), "/visitors"),
        ("an empty lobby snapshot", json!({}), "fair"),
    ];
    for (what, value, mentions) in lobby_cases {
        rejected(what, || check_lobby_snapshot(&value), mentions);
    }
    // After an announcement was cleared, the lobby's fair may say so with `null`.
    check_lobby_snapshot(&with(with(lobby(), "/fair/announcement", Value::Null), "/announcement", Value::Null));
    check_lobby_snapshot(&with(without(lobby(), "/fair/announcement"), "/announcement", Value::Null));
    let mut fifty_one = booth();
    let frames: Vec<Value> = (1..=51).map(|i| with(booth()["chat"][0].clone(), "/off", json!(i))).collect();
    fifty_one["chat"] = Value::Array(frames);
    let booth_cases: Vec<(&str, Value, &str)> = vec![
        ("a booth snapshot without chat", without(booth(), "/chat"), "chat"),
        ("a booth snapshot without seller_online", without(booth(), "/seller_online"), "seller_online"),
        (
            "a booth snapshot that disagrees on its seller",
            with(booth(), "/seller_online", json!(false)),
            "seller_online is the snapshot's",
        ),
        (
            "a booth snapshot with a presence event in chat",
            with(booth(), "/chat/0", example("server.booth-presence")),
            "/chat/0",
        ),
        ("a booth snapshot with a show's chat", with(booth(), "/chat/0", example("server.show-chat")), "/chat/0"),
        (
            "a booth snapshot with chat from another booth",
            with(booth(), "/chat/0/ch", json!("booth:0190f3d1-8e9f-7a0b-8c1d-2e3f4a5b6c08")),
            "from another channel",
        ),
        ("a booth snapshot with chat newest first", reversed, "is not after the one before"),
        ("a booth snapshot with 51 chat messages", fifty_one, "/chat"),
        ("an empty booth snapshot", json!({}), "booth"),
    ];
    for (what, value, mentions) in booth_cases {
        rejected(what, || check_booth_snapshot(&value), mentions);
    }
}

#[test]
fn broken_notifications_are_rejected() {
    let approved = || example("server.user-notify-booth-approved");
    let soon = || example("server.user-notify-show-soon");
    let live = || example("server.user-notify-show-live");
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "booth.approved of a rejected booth",
            with(approved(), "/data/booth/status", json!("rejected")),
            "/data/booth/status",
        ),
        (
            "booth.rejected of an approved booth",
            with(approved(), "/data/kind", json!("booth.rejected")),
            "/data/booth/status",
        ),
        ("booth.approved without the booth", without(approved(), "/data/booth"), "\"booth\" is a required property"),
        ("booth.approved with a booth cut short", without(approved(), "/data/booth/slow_mode_s"), "slow_mode_s"),
        ("booth.approved with the fair too", with(approved(), "/data/fair", json!({})), "/data"),
        (
            "booth.approved for another seller",
            with(approved(), "/ch", json!("user:0190f3c4-bbbb-7b8c-9d0e-1f2a3b4c5d6e")),
            "must be for seller_user_id",
        ),
        (
            "show.soon of a live show",
            with(soon(), "/data/show/status", live()["data"]["show"]["status"].clone()),
            "/data/show/status",
        ),
        ("show.soon without the show", without(soon(), "/data/show"), "\"show\" is a required property"),
        ("show.live with a show without its lineup", without(live(), "/data/show/lineup"), "lineup"),
        (
            "show.live with the show's id only",
            with(live(), "/data/show", json!({"id": live()["data"]["show"]["id"]})),
            "/data/show",
        ),
        ("a notification without off", without(live(), "/off"), "must carry `off`"),
        ("a notification without a kind", without(live(), "/data/kind"), "kind"),
    ];
    for (what, frame, mentions) in cases {
        rejected(what, || check_notify_event(&frame), mentions);
    }
    // Kinds this schema does not know yet pass: clients ignore them.
    check_notify_event(&with(
        with(without(live(), "/data/show"), "/data/kind", json!("fair.soon")),
        "/data/fair",
        json!({}),
    ));
}

#[test]
fn fairs_and_booths_may_grow_but_payloads_may_not() {
    check_fair_event(&with(example("server.fair-fair"), "/data/fair/hashtag", json!("#ChoOCOP")));
    check_fair_event(&with(example("server.booth-booth"), "/data/booth/video_url", json!("https://ocop.vn/v.mp4")));
    check_lobby_snapshot(&with(
        example("server.reply-subscribe-fair")["data"]["snapshot"].clone(),
        "/polls",
        json!([]),
    ));
    check_booth_snapshot(&with(
        example("server.reply-subscribe-booth")["data"]["snapshot"].clone(),
        "/pinned",
        json!(null),
    ));
    rejected(
        "a presence event with the number of visitors",
        || check_fair_event(&with(example("server.booth-presence"), "/data/visitors", json!(3))),
        "'visitors' was unexpected",
    );
    rejected(
        "a booth event with the fair",
        || check_fair_event(&with(example("server.fair-booth"), "/data/fair", json!({}))),
        "'fair' was unexpected",
    );
}

/// Reads a client's events as they come, checking each; a test takes the ones it waits for in
/// whatever order they arrived.
struct Listener {
    client: Client,
    events: Vec<Value>,
    taken: Vec<bool>,
}

impl Listener {
    /// A new connection subscribed to `ch`, and the subscribe reply's `data`.
    async fn subscribe(app: &TestApp, token: Option<&str>, ch: &str) -> (Self, Value) {
        let mut client = Client::connect(app, token).await;
        let data = client.subscribe(ch).await;
        (Self { client, events: Vec::new(), taken: Vec::new() }, data)
    }

    /// The first event named `ev` not taken yet for which `matches` holds, waiting for it.
    async fn take(&mut self, ev: &str, matches: impl Fn(&Value) -> bool) -> Value {
        loop {
            let found = (0..self.events.len())
                .find(|&i| !self.taken[i] && self.events[i]["ev"] == ev && matches(&self.events[i]));
            if let Some(i) = found {
                self.taken[i] = true;
                return self.events[i].clone();
            }
            let frame = self.client.recv().await;
            if frame.get("ch").is_some() {
                check_event(&frame);
                self.events.push(frame);
                self.taken.push(false);
            }
        }
    }

    async fn next(&mut self, ev: &str) -> Value {
        self.take(ev, |_| true).await
    }
}

fn at(offset_s: i64) -> String {
    ocop_live::clock::format_rfc3339(time::OffsetDateTime::now_utc() + time::Duration::seconds(offset_s))
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

/// A registered seller: token, user, and one product's id.
async fn seller(api: &Api, product: &str) -> (String, Value, String) {
    let (token, user) = api.register("seller").await;
    let p = api.create_product(&token, Api::product_body(product)).await;
    (token, user, id(&p))
}

/// Whether a subscribe reply recovered, with every missed event checked and kept.
#[track_caller]
fn check_recovered(reply: &Value) -> Vec<String> {
    assert_eq!(reply["ok"], true, "{reply}");
    assert_eq!(reply["data"]["recovered"], true, "{reply}");
    let missed = reply["data"]["missed"].as_array().unwrap();
    for frame in missed {
        check_fair_event(frame);
        assert!(frame.get("off").is_some(), "only kept events are recovered: {frame}");
    }
    missed.iter().map(|f| f["ev"].as_str().unwrap().to_owned()).collect()
}

/// What a real server sends on a fair's lobby, its booths, the buyer's and the sellers' feeds and
/// the fair's show matches the schemas: every event, reply, snapshot, recovered frame, REST fair
/// and booth, from the draft to the closed fair, and every event of `FairEvent` and `BoothEvent`
/// is seen.
#[tokio::test]
async fn a_fair_on_a_running_server_matches_the_schemas() {
    let mut config = Config::for_tests();
    // A reminder soon after the show joins the agenda, so the test sees `show.soon`.
    config.reminder_lead_s = 6;
    let app = spawn_with(config).await;
    let api = app.api();
    let organiser = User {
        id: Uuid::now_v7(),
        name: "Sở Công Thương Tuyên Quang".into(),
        role: Role::Organiser,
        email: None,
        phone: None,
        seller_id: None,
    };
    let org = app.token(&organiser);
    let (honey_seller, honey_user, honey) = seller(&api, "Mật ong bạc hà Mèo Vạc").await;
    let (_, tea_user, _) = seller(&api, "Chè Shan tuyết Hoàng Su Phì").await;
    let (orange_seller, orange_user, _) = seller(&api, "Cam sành Hàm Yên").await;
    let (buyer, buyer_user) = api.register("buyer").await;
    let guest = api.post("/api/auth/guest", None, json!({"name": "Khách 2741"})).await.ok(200).clone();
    let (guest, guest_id) = (guest["token"].as_str().unwrap().to_owned(), guest["user"]["id"].clone());

    // A draft, which only its organiser sees.
    let fair = api
        .post(
            "/api/fairs",
            Some(&org),
            json!({"name": "Chợ phiên OCOP Tuyên Quang", "description": "Một tuần gian hàng trực tuyến",
                   "province": "Tuyên Quang", "theme": "Đặc sản vùng cao",
                   "banner_url": "https://live.ocop.vn/media/cho-phien.jpg",
                   "opens_at": at(2), "closes_at": at(3 * 3600)}),
        )
        .await
        .ok(201)["fair"]
        .clone();
    check_fair(&fair);
    let fair_id = id(&fair);
    let lobby = format!("fair:{fair_id}");
    let (mut organiser_lobby, draft) = Listener::subscribe(&app, Some(&org), &lobby).await;
    check_lobby_snapshot(&draft["snapshot"]);
    assert_eq!(draft["snapshot"]["fair"]["status"], "draft");

    // Published; the sellers apply, one is approved, one rejected, one added by the organiser.
    let (mut honey_feed, _) =
        Listener::subscribe(&app, Some(&honey_seller), &format!("user:{}", id(&honey_user))).await;
    let (mut orange_feed, _) =
        Listener::subscribe(&app, Some(&orange_seller), &format!("user:{}", id(&orange_user))).await;
    let published = api.post(&format!("/api/fairs/{fair_id}/publish"), Some(&org), json!({})).await.ok(200).clone();
    check_fair(&published["fair"]);
    assert_eq!(organiser_lobby.next("fair").await["data"]["fair"]["status"], "published");
    let (mut lobby_ws, first) = Listener::subscribe(&app, None, &lobby).await;
    check_lobby_snapshot(&first["snapshot"]);
    let mut booths = Vec::new();
    for (token, title) in [(&honey_seller, "Gian mật ong bạc hà Mèo Vạc"), (&orange_seller, "Cam sành Hàm Yên")]
    {
        let applied = api
            .post(&format!("/api/fairs/{fair_id}/booths"), Some(token), json!({"title": title}))
            .await
            .ok(201)["booth"]
            .clone();
        check_booth(&applied);
        assert_eq!(applied["status"], "pending");
        booths.push(id(&applied));
    }
    let (honey_booth, orange_booth) = (booths[0].clone(), booths[1].clone());
    let approved = api.post(&format!("/api/booths/{honey_booth}/approve"), Some(&org), json!({})).await.ok(200).clone();
    check_booth(&approved["booth"]);
    let rejected_booth =
        api.post(&format!("/api/booths/{orange_booth}/reject"), Some(&org), json!({})).await.ok(200).clone();
    check_booth(&rejected_booth["booth"]);
    let added = api
        .post(&format!("/api/fairs/{fair_id}/booths"), Some(&org), json!({"seller_id": tea_user["seller_id"]}))
        .await
        .ok(201)["booth"]
        .clone();
    check_booth(&added);
    assert_eq!(honey_feed.next("notify").await["data"]["kind"], "booth.approved");
    assert_eq!(orange_feed.next("notify").await["data"]["kind"], "booth.rejected");
    lobby_ws.take("booth", |f| f["data"]["booth"]["id"] == honey_booth.as_str()).await;
    lobby_ws.take("booth", |f| f["data"]["booth"]["id"] == added["id"]).await;
    for listed in
        api.get(&format!("/api/fairs/{fair_id}/booths"), Some(&org)).await.ok(200)["items"].as_array().unwrap()
    {
        check_booth(listed);
    }

    // A show joins the agenda; the buyer follows it and is reminded.
    let show = api
        .post(
            "/api/shows",
            Some(&honey_seller),
            json!({"title": "Mật ong bạc hà – phiên chợ đêm", "scheduled_at": at(12), "duration_min": 30,
                   "fair_id": fair_id, "products": [honey]}),
        )
        .await
        .ok(201)["show"]
        .clone();
    check_show(&show);
    let show_id = id(&show);
    let (mut buyer_feed, _) = Listener::subscribe(&app, Some(&buyer), &format!("user:{}", id(&buyer_user))).await;
    api.post(&format!("/api/shows/{show_id}/follow"), Some(&buyer), json!({})).await.ok(200);
    assert_eq!(lobby_ws.next("agenda").await["data"]["show"]["id"], show["id"]);
    let opened = organiser_lobby.take("fair", |f| f["data"]["fair"]["status"] == "open").await;
    assert_eq!(opened["data"]["fair"]["id"], fair["id"]);
    let (mut late, upcoming) = Listener::subscribe(&app, None, &lobby).await;
    check_lobby_snapshot(&upcoming["snapshot"]);
    assert_eq!(upcoming["snapshot"]["upcoming"][0]["id"], show["id"], "{upcoming}");
    assert_eq!(upcoming["snapshot"]["booths"].as_array().unwrap().len(), 2, "{upcoming}");
    late.next("visitors").await;
    assert_eq!(buyer_feed.next("notify").await["data"]["kind"], "show.soon");

    // The booth's Q&A: a question, the seller arrives and answers, a spammer is removed.
    let booth_ch = format!("booth:{honey_booth}");
    let (mut booth_ws, joined) = Listener::subscribe(&app, None, &booth_ch).await;
    check_booth_snapshot(&joined["snapshot"]);
    let since = json!({"off": joined["off"], "epoch": joined["epoch"]});
    let mut buyer_ws = Client::connect(&app, Some(&buyer)).await;
    let asked =
        buyer_ws.call("chat.send", json!({"booth": honey_booth, "text": "Shop có bán sỉ 50 hũ không ạ?"})).await;
    assert_eq!(asked["ok"], true, "{asked}");
    booth_ws.take("chat", |f| f["data"]["msg_id"] == asked["data"]["msg_id"]).await;
    let mut seller_ws = Client::connect(&app, Some(&honey_seller)).await;
    seller_ws.subscribe(&booth_ch).await;
    assert_eq!(booth_ws.next("presence").await["data"]["seller_online"], true);
    let answer =
        seller_ws.call("chat.send", json!({"booth": honey_booth, "text": "Dạ có ạ, gửi yêu cầu báo giá nhé"})).await;
    assert_eq!(answer["ok"], true, "{answer}");
    let mut guest_ws = Client::connect(&app, Some(&guest)).await;
    let spam = guest_ws.call("chat.send", json!({"booth": honey_booth, "text": "Ghé trang của em nhận quà"})).await;
    assert_eq!(spam["ok"], true, "{spam}");
    for (op, params) in [
        ("chat.delete", json!({"booth": honey_booth, "msg_id": spam["data"]["msg_id"]})),
        ("chat.ban", json!({"booth": honey_booth, "user_id": guest_id})),
        ("chat.mute", json!({"booth": honey_booth, "user_id": buyer_user["id"], "minutes": 5})),
        ("chat.slow", json!({"booth": honey_booth, "seconds": 10})),
    ] {
        let done = seller_ws.call(op, params).await;
        assert_eq!(done["ok"], true, "{op}: {done}");
        if op == "chat.mute" {
            let refused = buyer_ws.call("chat.send", json!({"booth": honey_booth, "text": "Còn hàng không?"})).await;
            assert_error(&refused, "muted");
        }
    }
    assert_eq!(booth_ws.next("chat.deleted").await["data"]["msg_id"], spam["data"]["msg_id"]);
    assert_eq!(booth_ws.next("banned").await["data"]["user_id"], guest_id);
    assert_eq!(booth_ws.next("booth").await["data"]["booth"]["slow_mode_s"], 10);
    lobby_ws.take("booth", |f| f["data"]["booth"]["slow_mode_s"] == 10).await;
    let patched = api
        .patch(&format!("/api/booths/{honey_booth}"), Some(&honey_seller), json!({"featured_products": [honey]}))
        .await
        .ok(200)
        .clone();
    check_booth(&patched["booth"]);
    booth_ws.take("booth", |f| f["data"]["booth"]["featured_products"] == json!([honey])).await;
    let read = api.get(&format!("/api/booths/{honey_booth}"), None).await.ok(200)["booth"].clone();
    check_booth(&read);
    assert_eq!(read["seller_online"], true, "read, the booth says its seller is there: {read}");
    let (_, now) = Listener::subscribe(&app, None, &booth_ch).await;
    check_booth_snapshot(&now["snapshot"]);
    assert_eq!(now["snapshot"]["chat"].as_array().unwrap().len(), 2, "the deleted message is left out: {now}");
    assert_eq!(now["snapshot"]["seller_online"], true, "{now}");
    let mut back = Client::connect(&app, None).await;
    let recovered = back.call("subscribe", json!({"ch": booth_ch, "since": since})).await;
    check_booth_snapshot(&recovered["data"]["snapshot"]);
    assert_eq!(check_recovered(&recovered), ["chat", "chat", "chat", "chat.deleted", "banned", "booth", "booth"]);

    // A wholesale inquiry: the seller is told, quotes, and the buyer is told.
    let inquiry = api
        .post(
            &format!("/api/booths/{honey_booth}/inquiries"),
            Some(&buyer),
            json!({"product_id": honey, "quantity": 50, "unit": "hũ 500ml", "target_price": 320000,
                   "message": "Cần 50 hũ trước Tết"}),
        )
        .await
        .ok(201)["inquiry"]
        .clone();
    assert_eq!(honey_feed.next("notify").await["data"]["inquiry"], inquiry);
    let quote = json!({"price": 340000, "quantity": 50, "valid_until": at(7 * 24 * 3600)});
    let quoted = api.post(&format!("/api/inquiries/{}/quote", id(&inquiry)), Some(&honey_seller), quote).await;
    let quoted = quoted.ok(200)["inquiry"].clone();
    let told = buyer_feed.next("notify").await;
    assert_eq!((&told["data"]["kind"], &told["data"]["inquiry"]), (&json!("quote"), &quoted));

    // The show goes live: the lobby and the follower are told; the organiser posts an announcement.
    let (mut show_ws, watching) = Listener::subscribe(&app, None, &format!("show:{show_id}")).await;
    check_show_snapshot(&watching["snapshot"]);
    api.post(&format!("/api/shows/{show_id}/start"), Some(&honey_seller), json!({})).await.ok(200);
    assert_eq!(lobby_ws.next("show.live").await["data"]["show"]["status"], "live");
    assert_eq!(buyer_feed.next("notify").await["data"]["kind"], "show.live");
    let text = "Tối nay giảm 15% cho 50 đơn đầu!";
    api.post(&format!("/api/fairs/{fair_id}/announcements"), Some(&org), json!({"text": text})).await.ok(201);
    assert_eq!(lobby_ws.next("announcement").await["data"]["text"], text);
    let (_, live) = Listener::subscribe(&app, None, &lobby).await;
    check_lobby_snapshot(&live["snapshot"]);
    let snapshot = &live["snapshot"];
    assert_eq!((&snapshot["live"][0]["id"], &snapshot["announcement"]), (&show["id"], &json!(text)), "{live}");
    assert!(snapshot["upcoming"].as_array().unwrap().is_empty(), "{live}");
    api.post(&format!("/api/fairs/{fair_id}/announcements"), Some(&org), json!({"text": ""})).await.ok(201);
    assert!(lobby_ws.take("announcement", |f| f["data"]["text"].is_null()).await["data"]["text"].is_null());
    let (_, cleared) = Listener::subscribe(&app, None, &lobby).await;
    check_lobby_snapshot(&cleared["snapshot"]);
    assert!(cleared["snapshot"]["announcement"].is_null(), "{cleared}");

    // The kill switch: the organiser stops the show with a reason.
    let reason = "Quảng cáo sai công dụng sản phẩm";
    let ended =
        api.post(&format!("/api/shows/{show_id}/end"), Some(&org), json!({"reason": reason})).await.ok(200).clone();
    check_show(&ended["show"]);
    let status = show_ws.take("status", |f| f["data"]["status"] == "ended").await;
    assert_eq!((&status["data"]["reason"], &status["data"]["by"]["role"]), (&json!(reason), &json!("organiser")));
    assert_eq!(lobby_ws.next("show.ended").await["data"]["show_id"], show["id"]);

    // A chat command names a show or a booth, exactly one.
    for (op, params) in [
        ("chat.send", json!({"text": "Xin chào"})),
        ("chat.delete", json!({"msg_id": Uuid::now_v7()})),
        ("chat.mute", json!({"user_id": Uuid::now_v7(), "minutes": 5})),
        ("chat.slow", json!({"seconds": 5})),
        ("chat.ban", json!({"user_id": Uuid::now_v7()})),
    ] {
        assert_error(&seller_ws.call(op, params.clone()).await, "bad_request");
        let mut both = params;
        both["show"] = json!(show_id);
        both["booth"] = json!(honey_booth);
        assert_error(&seller_ws.call(op, both).await, "bad_request");
    }

    // The organiser closes the fair; a visitor coming back recovers the whole lobby.
    let closed = api.post(&format!("/api/fairs/{fair_id}/close"), Some(&org), json!({})).await.ok(200).clone();
    check_fair(&closed["fair"]);
    assert_eq!(
        lobby_ws.take("fair", |f| f["data"]["fair"]["status"] == "closed").await["data"]["fair"],
        closed["fair"]
    );
    let late_answer = seller_ws.call("chat.send", json!({"booth": honey_booth, "text": "Cảm ơn cả nhà!"})).await;
    assert_error(&late_answer, "invalid_state");
    let mut again = Client::connect(&app, None).await;
    let since = json!({"off": first["off"], "epoch": first["epoch"]});
    let recovered = again.call("subscribe", json!({"ch": lobby, "since": since})).await;
    check_lobby_snapshot(&recovered["data"]["snapshot"]);
    let missed = check_recovered(&recovered);
    for ev in ["booth", "agenda", "fair", "show.live", "announcement", "show.ended"] {
        assert!(missed.iter().any(|m| m == ev), "{ev} is recovered: {missed:?}");
    }
    let view = api.get(&format!("/api/fairs/{fair_id}"), None).await.ok(200).clone();
    check_fair(&view["fair"]);
    view["booths"].as_array().unwrap().iter().for_each(check_booth);
    view["agenda"].as_array().unwrap().iter().for_each(check_show);
    for listed in api.get("/api/fairs?status=closed", None).await.ok(200)["items"].as_array().unwrap() {
        check_fair(listed);
    }

    // Every event the server publishes on these channels was seen, and checked.
    let mut seen: BTreeSet<(String, String)> = BTreeSet::new();
    for listener in [&organiser_lobby, &lobby_ws, &late, &booth_ws] {
        for frame in &listener.events {
            let kind = frame["ch"].as_str().unwrap().split(':').next().unwrap().to_owned();
            seen.insert((kind, frame["ev"].as_str().unwrap().to_owned()));
        }
    }
    for (kind, all) in [("fair", FairEvent::ALL), ("booth", BoothEvent::ALL)] {
        for (ev, _) in all {
            assert!(seen.contains(&(kind.to_owned(), (*ev).to_owned())), "{kind} {ev} was seen: {seen:?}");
        }
    }
}
