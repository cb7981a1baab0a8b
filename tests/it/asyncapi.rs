//! The AsyncAPI document in `proto/` describes what the server implements.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use ocop_live::realtime::channel::ChannelKind;
use ocop_live::realtime::protocol::{
    CloseCode, CommandFrame, Disconnect, ErrorCode, KNOWN_OPS, SUBPROTOCOL, ServerFrame,
};
use serde_json::{Value, json};

fn proto_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("proto")
}

fn document_text() -> String {
    std::fs::read_to_string(proto_dir().join("asyncapi.json")).expect("proto/asyncapi.json is readable")
}

fn document() -> Value {
    serde_json::from_str(&document_text()).unwrap_or_else(|e| panic!("proto/asyncapi.json is not JSON: {e}"))
}

/// Follows local references (`#/...`) until a value that is not one.
fn resolve<'a>(doc: &'a Value, mut value: &'a Value) -> &'a Value {
    // A bound instead of cycle detection: real chains here are one or two links long.
    for _ in 0..16 {
        match value.get("$ref").and_then(Value::as_str) {
            Some(r) if r.starts_with('#') => {
                value = doc.pointer(&r[1..]).unwrap_or_else(|| panic!("dangling reference {r}"));
            }
            _ => return value,
        }
    }
    panic!("reference chain too long (a cycle?) at {value}");
}

/// Every `$ref` string inside `value`.
fn refs(value: &Value) -> Vec<String> {
    fn walk(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                for (key, v) in map {
                    match (key.as_str(), v) {
                        ("$ref", Value::String(r)) => out.push(r.clone()),
                        _ => walk(v, out),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(value, &mut out);
    out
}

fn messages(doc: &Value) -> &serde_json::Map<String, Value> {
    doc.pointer("/components/messages").and_then(Value::as_object).expect("components.messages is an object")
}

fn schema_file(name: &str) -> Value {
    let path = proto_dir().join("schemas").join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// Serves `./schemas/*.json` references of message payloads from the committed files.
struct ProtoFiles;

/// The document's location for resolving its relative references; no network is involved.
const BASE_URI: &str = "https://ocop-live.invalid/proto/asyncapi.json";

impl jsonschema::Retrieve for ProtoFiles {
    fn retrieve(&self, uri: &jsonschema::Uri<String>) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        let path = uri.path().as_str();
        let relative = path
            .strip_prefix("/proto/")
            .filter(|p| !p.contains(".."))
            .ok_or_else(|| format!("{uri} is outside proto/"))?;
        let text = std::fs::read_to_string(proto_dir().join(relative)).map_err(|e| format!("{uri}: {e}"))?;
        Ok(serde_json::from_str(&text)?)
    }
}

#[test]
fn is_an_asyncapi_3_document_for_the_ws_endpoint() {
    let doc = document();
    assert_eq!(doc["asyncapi"], "3.0.0");
    assert_eq!(doc["info"]["title"], "OCOP Live WebSocket API");
    assert_eq!(doc["info"]["version"], "1");
    let local = &doc["servers"]["local"];
    assert_eq!(local["host"], "127.0.0.1:8080");
    assert_eq!(local["protocol"], "ws");
    assert_eq!(local["pathname"], "/ws");
    assert_eq!(doc["channels"]["socket"]["address"], "/ws");
    assert!(document_text().contains(SUBPROTOCOL), "the subprotocol {SUBPROTOCOL} is documented");
}

/// Each operation the server knows is a `send` operation with a reply and a command message;
/// nothing else is sent by clients.
#[test]
fn every_known_op_has_an_operation_and_a_message() {
    let doc = document();
    let operations = doc["operations"].as_object().expect("operations is an object");
    for &op in KNOWN_OPS {
        let operation = operations.get(op).unwrap_or_else(|| panic!("no operation {op:?}"));
        assert_eq!(operation["action"], "send", "{op}");
        let message = messages(&doc).get(op).unwrap_or_else(|| panic!("no message {op:?}"));
        let sent: Vec<&Value> = operation["messages"].as_array().unwrap().iter().map(|m| resolve(&doc, m)).collect();
        assert_eq!(sent, [message], "operation {op} sends message {op}");
        assert!(refs(&message["payload"]).contains(&"./schemas/command.json".to_owned()), "{op}");
        let examples = message["examples"].as_array().unwrap_or_else(|| panic!("message {op} has examples"));
        for example in examples {
            assert_eq!(example["payload"]["op"], op, "an example of {op}");
        }
        let replies = operation["reply"]["messages"].as_array().unwrap_or_else(|| panic!("{op} has a reply"));
        assert!(!replies.is_empty(), "{op} has reply messages");
        let mut outcomes = BTreeSet::new();
        for reply in replies {
            let reply = resolve(&doc, reply);
            assert!(refs(&reply["payload"]).contains(&"./schemas/reply.json".to_owned()), "a reply of {op}");
            outcomes.insert(reply["name"] == "errorReply");
        }
        assert_eq!(outcomes.len(), 2, "{op} has a successful reply and errorReply");
        let description = operation["description"].as_str().unwrap_or_default();
        assert!(description.contains("Errors:"), "operation {op} lists its errors");
    }
    for (name, operation) in operations {
        if operation["action"] == "send" {
            assert!(KNOWN_OPS.contains(&name.as_str()), "operation {name} is not one the server knows");
        }
    }
}

#[test]
fn every_error_code_is_documented() {
    let codes = [
        ErrorCode::BadRequest,
        ErrorCode::UnknownOp,
        ErrorCode::Unauthenticated,
        ErrorCode::Forbidden,
        ErrorCode::NotFound,
        ErrorCode::RateLimited,
        ErrorCode::Muted,
        ErrorCode::SoldOut,
        ErrorCode::LimitReached,
        ErrorCode::OfferEnded,
        ErrorCode::InsufficientStock,
        ErrorCode::IdempotencyConflict,
        ErrorCode::InvalidState,
        ErrorCode::Unavailable,
        ErrorCode::Internal,
    ];
    let names: Vec<String> =
        codes.iter().map(|c| serde_json::to_value(c).unwrap().as_str().unwrap().to_owned()).collect();
    // The generated schema lists every variant, so a code added to the enum but not above fails here.
    let (_, reply) = ocop_live::realtime::schema::all().into_iter().find(|(name, _)| *name == "reply.json").unwrap();
    let generated: Vec<String> = serde_json::from_value(reply["$defs"]["ErrorCode"]["enum"].clone()).unwrap();
    assert_eq!(names, generated, "the list above is every ErrorCode");
    let text = document_text();
    for name in names {
        assert!(text.contains(&format!("`{name}`")), "error code {name} is not documented");
    }
}

#[test]
fn close_codes_are_documented() {
    let description = document()["info"]["description"].as_str().unwrap().to_owned();
    let codes = [
        CloseCode::Normal,
        CloseCode::GoingAway,
        CloseCode::BinaryFrame,
        CloseCode::Policy,
        CloseCode::TooBig,
        CloseCode::InternalError,
        CloseCode::Restarting,
        CloseCode::TooSlow,
        CloseCode::RateLimited,
    ];
    for code in codes {
        let row = format!("| {} |", code as u16);
        assert!(description.contains(&row), "close code {code:?} has no row in info.description");
    }
    let disconnects = [
        Disconnect::NORMAL,
        Disconnect::BINARY,
        Disconnect::TOO_BIG,
        Disconnect::TOKEN_EXPIRED,
        Disconnect::RESTARTING,
        Disconnect::SLOW,
        Disconnect::RESYNC,
        Disconnect::ABUSE,
        Disconnect::INTERNAL,
    ];
    for d in disconnects {
        let row = format!("| {} | `{}` |", d.code as u16, d.reason);
        assert!(description.contains(&row), "close {row} is not documented");
    }
}

/// Every channel kind the server parses is a logical channel with a receive operation.
#[test]
fn every_channel_kind_is_a_channel() {
    let doc = document();
    let channels = doc["channels"].as_object().unwrap();
    let operations = doc["operations"].as_object().unwrap();
    for kind in [ChannelKind::Show, ChannelKind::Fair, ChannelKind::Booth, ChannelKind::User, ChannelKind::Seller] {
        let address = format!("{}:{{id}}", kind.prefix());
        let (key, channel) = channels
            .iter()
            .find(|(_, c)| c["address"] == address.as_str())
            .unwrap_or_else(|| panic!("no channel with address {address}"));
        assert!(channel["parameters"]["id"].is_object(), "{address} describes its id");
        let pointer = format!("#/channels/{key}");
        assert!(
            operations.values().any(|o| o["action"] == "receive" && o["channel"]["$ref"] == pointer.as_str()),
            "no receive operation on {address}"
        );
    }
}

/// Local references resolve; relative file references name files under `proto/`.
#[test]
fn every_reference_resolves() {
    let doc = document();
    let proto = proto_dir();
    let all = refs(&doc);
    assert!(all.iter().any(|r| !r.starts_with('#')), "payloads reference the schema files");
    for r in all {
        if let Some(pointer) = r.strip_prefix('#') {
            assert!(doc.pointer(pointer).is_some(), "dangling reference {r}");
            continue;
        }
        let file = r.split('#').next().unwrap();
        let relative = file.strip_prefix("./").unwrap_or(file);
        assert!(
            !relative.is_empty() && !relative.starts_with('/') && !relative.contains("..") && !relative.contains("://"),
            "{r} is not a relative path inside proto/"
        );
        let path = proto.join(relative);
        assert!(path.is_file(), "{r} points to {} which does not exist", path.display());
        let text = std::fs::read_to_string(&path).unwrap();
        let target = serde_json::from_str::<Value>(&text).unwrap_or_else(|e| panic!("{r} is not JSON: {e}"));
        if let Some((_, pointer)) = r.split_once('#') {
            assert!(target.pointer(pointer).is_some(), "{r}: {relative} has nothing at {pointer}");
        }
    }
}

/// The folders of hand-written schemas under `proto/schemas/`, and their files.
const HAND_WRITTEN: [(&str, &[&str]); 3] = [
    ("show", &["events.json", "snapshot.json"]),
    ("orders", &["order.json"]),
    ("fair", &["events.json", "lobby-snapshot.json", "booth-snapshot.json"]),
];

/// The hand-written schemas of `proto/schemas/show/`, `proto/schemas/orders/` and
/// `proto/schemas/fair/` are valid draft 2020-12 schemas whose references all resolve, within the
/// file, to a file beside it, or to a hand-written file of another of these folders
/// (`../show/events.json`).
#[test]
fn the_hand_written_schemas_are_valid_and_their_references_resolve() {
    for (folder, names) in HAND_WRITTEN {
        for name in names {
            let schema = schema_file(&format!("{folder}/{name}"));
            assert_eq!(schema["$schema"], "https://json-schema.org/draft/2020-12/schema", "{folder}/{name}");
            jsonschema::meta::validate(&schema)
                .unwrap_or_else(|e| panic!("{folder}/{name} is not a valid schema: {e}"));
            for r in refs(&schema) {
                let (file, pointer) = r.split_once('#').unwrap_or((&r, ""));
                let target = if file.is_empty() {
                    schema.clone()
                } else {
                    let (other, file) = match file.strip_prefix("../").and_then(|f| f.split_once('/')) {
                        Some((other, file)) => (other, file),
                        None => (folder, file),
                    };
                    assert!(
                        HAND_WRITTEN.iter().any(|(f, files)| *f == other && files.contains(&file)),
                        "{folder}/{name}: {r} is not a hand-written schema of proto/schemas/"
                    );
                    let path = proto_dir().join("schemas").join(other).join(file);
                    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{folder}/{name}: {r}: {e}"));
                    serde_json::from_str(&text).unwrap()
                };
                assert!(target.pointer(pointer).is_some(), "{folder}/{name}: dangling reference {r}");
            }
        }
    }
}

/// Each embedded example validates against its message's payload and against the schema of its
/// direction, and is read by the server's own types.
#[test]
fn examples_validate_against_the_schemas() {
    let doc = document();
    let commands = jsonschema::validator_for(&schema_file("command.json")).unwrap();
    let server = jsonschema::validator_for(&schema_file("server-frame.json")).unwrap();
    let mut seen = (0, 0);
    for (name, message) in messages(&doc) {
        let payload = &message["payload"];
        let own = jsonschema::options()
            .with_base_uri(BASE_URI)
            .with_retriever(ProtoFiles)
            .build(payload)
            .unwrap_or_else(|e| panic!("message {name}: payload schema does not build: {e}"));
        let from_client = refs(payload).iter().any(|r| r == "./schemas/command.json");
        let examples = message["examples"].as_array().unwrap_or_else(|| panic!("message {name} has no examples"));
        assert!(!examples.is_empty(), "message {name} has no examples");
        for example in examples {
            let value = &example["payload"];
            let label = format!("message {name}, example {}", example["name"]);
            if let Err(e) = own.validate(value) {
                panic!("{label}: not valid against the message payload: {e}");
            }
            if from_client {
                if let Err(e) = commands.validate(value) {
                    panic!("{label}: not valid against command.json: {e}");
                }
                serde_json::from_value::<CommandFrame>(value.clone()).unwrap_or_else(|e| panic!("{label}: {e}"));
                seen.0 += 1;
            } else {
                if let Err(e) = server.validate(value) {
                    panic!("{label}: not valid against server-frame.json: {e}");
                }
                serde_json::from_value::<ServerFrame>(value.clone()).unwrap_or_else(|e| panic!("{label}: {e}"));
                seen.1 += 1;
            }
        }
    }
    assert!(seen.0 > 0 && seen.1 > 0, "examples in both directions: {seen:?}");
}

/// The embedded examples are the committed files in `proto/examples/`, each named after its file,
/// and every committed file appears.
#[test]
fn examples_are_the_committed_files() {
    let doc = document();
    let dir = proto_dir().join("examples");
    let mut used = BTreeSet::new();
    for (name, message) in messages(&doc) {
        for example in message["examples"].as_array().into_iter().flatten() {
            let file = format!("{}.json", example["name"].as_str().unwrap_or_default());
            let text = std::fs::read_to_string(dir.join(&file))
                .unwrap_or_else(|e| panic!("message {name}: example {file} is not in proto/examples/: {e}"));
            let committed: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(example["payload"], committed, "message {name}: example differs from proto/examples/{file}");
            let expected = if refs(&message["payload"]).iter().any(|r| r == "./schemas/command.json") {
                "client."
            } else {
                "server."
            };
            assert!(file.starts_with(expected), "message {name}: example {file} is from the wrong direction");
            used.insert(file);
        }
    }
    let files: BTreeSet<String> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    let unused: Vec<&String> = files.difference(&used).collect();
    assert!(unused.is_empty(), "examples not embedded in proto/asyncapi.json: {unused:?}");
}

/// The events the server publishes, as `channel kind → (name → kept)`: every variant of the
/// typed events of each channel kind (`ocop_live::realtime::events`), through which every event is
/// published.
fn published_events() -> BTreeMap<&'static str, BTreeMap<String, bool>> {
    use ocop_live::realtime::events::{BoothEvent, Event, FairEvent, SellerEvent, ShowEvent, UserEvent};
    let kinds: [(&str, &[(&str, bool)]); 5] = [
        ("show", ShowEvent::ALL),
        ("user", UserEvent::ALL),
        ("seller", SellerEvent::ALL),
        ("fair", FairEvent::ALL),
        ("booth", BoothEvent::ALL),
    ];
    let mut found: BTreeMap<&'static str, BTreeMap<String, bool>> = BTreeMap::new();
    for (kind, events) in kinds {
        for (name, kept) in events {
            let before = found.entry(kind).or_default().insert((*name).to_owned(), *kept);
            assert!(before.is_none(), "{kind} has two events named {name}");
        }
    }
    assert!(found["show"].len() >= 9, "at least the nine show events: {found:?}");
    let at_least = [
        ("show", &["offer", "stock"][..]),
        ("user", &["order", "order.failed"]),
        ("seller", &["order"]),
        ("fair", &["fair", "visitors"]),
        ("booth", &["chat", "presence"]),
    ];
    for (kind, events) in at_least {
        for ev in events {
            assert!(found.get(kind).is_some_and(|e| e.contains_key(*ev)), "{ev} is published on {kind}");
        }
    }
    found
}

const SHOW_EVENTS_REF: &str = "./schemas/show/events.json#/$defs/";
const ORDER_REF: &str = "./schemas/orders/order.json#/$defs/";
const FAIR_EVENTS_REF: &str = "./schemas/fair/events.json#/$defs/";

/// Each message of a logical channel: its event name, whether it is kept, and the `$defs` frame
/// of `schema` (a file of `proto/schemas/`, referenced as `prefix<frame>`) it references.
fn channel_messages<'a>(
    doc: &'a Value,
    channel: &str,
    schema: &str,
    prefix: &str,
) -> BTreeMap<String, (bool, String, &'a Value)> {
    let schema = schema_file(schema);
    let mut out = BTreeMap::new();
    let listed = doc["channels"][channel]["messages"].as_object();
    for (key, message) in listed.unwrap_or_else(|| panic!("the {channel} channel lists messages")) {
        let message = resolve(doc, message);
        let defs: Vec<String> =
            refs(&message["payload"]).iter().filter_map(|r| r.strip_prefix(prefix)).map(str::to_owned).collect();
        assert_eq!(defs.len(), 1, "{channel} channel message {key} references one frame of {prefix}: {defs:?}");
        assert!(refs(&message["payload"]).contains(&"./schemas/event.json".to_owned()), "{key} is an event frame");
        let frame = &schema["$defs"][&defs[0]];
        let ev = frame["properties"]["ev"]["const"].as_str().unwrap_or_else(|| panic!("{} names no ev", defs[0]));
        let kept = frame["required"].as_array().unwrap().contains(&Value::from("off"));
        let previous = out.insert(ev.to_owned(), (kept, defs[0].clone(), message));
        assert!(previous.is_none(), "two {channel} channel messages for {ev}");
    }
    out
}

/// Each show channel message: its event name, whether it is kept, and its `$defs` frame.
fn show_channel_messages(doc: &Value) -> BTreeMap<String, (bool, String, &Value)> {
    channel_messages(doc, "show", "show/events.json", SHOW_EVENTS_REF)
}

/// A channel has one message per event the server publishes there, kept exactly when the server
/// keeps it; its receive operation lists them all and its description names each.
fn check_channel_against_the_source(
    doc: &Value,
    channel: &str,
    receive: &str,
    documented: &BTreeMap<String, (bool, String, &Value)>,
) {
    let published = &published_events()[channel];
    let names: BTreeSet<&String> = documented.keys().collect();
    assert_eq!(names, published.keys().collect(), "{channel} channel messages vs events published in src/");
    for (ev, kept) in published {
        assert_eq!(documented[ev].0, *kept, "{channel} {ev}: kept in the document iff kept by the server");
    }
    let receive = &doc["operations"][receive]["messages"];
    let received: BTreeSet<String> =
        receive.as_array().unwrap().iter().map(|m| resolve(doc, m)["name"].to_string()).collect();
    let messages: BTreeSet<String> = documented.values().map(|(_, _, m)| m["name"].to_string()).collect();
    assert_eq!(received, messages, "the receive operation of {channel} lists every {channel} channel message");
    let description = doc["channels"][channel]["description"].as_str().unwrap();
    for ev in published.keys() {
        assert!(description.contains(&format!("`{ev}`")), "the {channel} channel's description names {ev}");
    }
}

/// The show channel has one message per event the server publishes there, kept exactly when the
/// server keeps it, and its receive operation lists them all.
#[test]
fn every_show_event_the_server_publishes_is_a_message() {
    let doc = document();
    let documented = show_channel_messages(&doc);
    check_channel_against_the_source(&doc, "show", "receiveShowEvents", &documented);
}

/// The same for the private channels: `user:` and `seller:` carry the events of `UserEvent` and
/// `SellerEvent`, each a message whose frame is in `orders/order.json`.
#[test]
fn every_order_event_the_server_publishes_is_a_message() {
    let doc = document();
    for (channel, receive) in [("user", "receiveUserEvents"), ("seller", "receiveSellerEvents")] {
        let documented = channel_messages(&doc, channel, "orders/order.json", ORDER_REF);
        check_channel_against_the_source(&doc, channel, receive, &documented);
        for (ev, (_, def, _)) in &documented {
            let frame = &schema_file("orders/order.json")["$defs"][def];
            let pattern = frame["properties"]["ch"]["$ref"].as_str().unwrap_or_default();
            let expected = format!("#/$defs/{}Channel", if channel == "user" { "User" } else { "Seller" });
            assert_eq!(pattern, expected, "{channel} {ev}: {def} is a frame of the {channel} channel");
        }
    }
}

/// A validator with `format` asserted, for the hand-written schemas.
fn strict(schema: &Value) -> jsonschema::Validator {
    jsonschema::options()
        .with_base_uri(BASE_URI)
        .with_retriever(ProtoFiles)
        .should_validate_formats(true)
        .build(schema)
        .unwrap_or_else(|e| panic!("{schema} does not build: {e}"))
}

/// Every example of a show event validates against its `events.json` frame, formats included; so
/// does every show event anywhere in the examples (in `missed`, in a snapshot's `chat`), and every
/// show snapshot validates against `snapshot.json`.
#[test]
fn show_event_examples_validate_against_their_defs() {
    let doc = document();
    for (ev, (_, def, message)) in show_channel_messages(&doc) {
        let own = strict(&json!({ "$ref": format!("{SHOW_EVENTS_REF}{def}") }));
        let examples = message["examples"].as_array().unwrap_or_else(|| panic!("the {ev} message has examples"));
        assert!(!examples.is_empty(), "the {ev} message has examples");
        for example in examples {
            assert_eq!(example["payload"]["ev"], ev.as_str(), "an example of {ev}: {}", example["name"]);
            if let Err(e) = own.validate(&example["payload"]) {
                panic!("example {} is not a valid {def}: {e}", example["name"]);
            }
        }
    }
    let any_show_event = strict(&json!({ "$ref": "./schemas/show/events.json" }));
    let snapshot = strict(&json!({ "$ref": "./schemas/show/snapshot.json" }));
    let mut checked = (0, 0);
    for (name, message) in messages(&doc) {
        for example in message["examples"].as_array().into_iter().flatten() {
            let payload = &example["payload"];
            let label = format!("message {name}, example {}", example["name"]);
            let mut frames: Vec<&Value> = vec![payload];
            frames.extend(payload["data"]["missed"].as_array().into_iter().flatten());
            let show_snapshot = payload["data"]["snapshot"].get("show").map(|_| &payload["data"]["snapshot"]);
            if let Some(s) = show_snapshot {
                if let Err(e) = snapshot.validate(s) {
                    panic!("{label}: the snapshot is not valid against show/snapshot.json: {e}");
                }
                frames.extend(s["chat"].as_array().into_iter().flatten());
                checked.1 += 1;
            }
            for frame in frames
                .into_iter()
                .filter(|f| f.get("ev").is_some() && f["ch"].as_str().is_some_and(|c| c.starts_with("show:")))
            {
                if let Err(e) = any_show_event.validate(frame) {
                    panic!("{label}: {frame} is not valid against show/events.json: {e}");
                }
                checked.0 += 1;
            }
        }
    }
    assert!(checked.0 >= 9 && checked.1 >= 1, "show events and snapshots checked: {checked:?}");
    let reply = &messages(&doc)["showSubscribeReply"];
    assert!(refs(&reply["payload"]).contains(&"./schemas/show/snapshot.json".to_owned()), "showSubscribeReply");
}

/// Every example of a `user:` or `seller:` event validates against its `orders/order.json` frame,
/// formats included, and so does every such event anywhere in the examples; every `{order}` and
/// `{offer}` reply validates against `Order` and `Offer`.
#[test]
fn order_event_examples_validate_against_their_defs() {
    let doc = document();
    for channel in ["user", "seller"] {
        for (ev, (_, def, message)) in channel_messages(&doc, channel, "orders/order.json", ORDER_REF) {
            let own = strict(&json!({ "$ref": format!("{ORDER_REF}{def}") }));
            let examples = message["examples"].as_array().unwrap_or_else(|| panic!("the {ev} message has examples"));
            assert!(!examples.is_empty(), "the {channel} {ev} message has examples");
            for example in examples {
                assert_eq!(example["payload"]["ev"], ev.as_str(), "an example of {ev}: {}", example["name"]);
                if let Err(e) = own.validate(&example["payload"]) {
                    panic!("example {} is not a valid {def}: {e}", example["name"]);
                }
            }
        }
    }
    let user_event = strict(&json!({ "$ref": format!("{ORDER_REF}UserEvent") }));
    let seller_event = strict(&json!({ "$ref": format!("{ORDER_REF}SellerEvent") }));
    let order = strict(&json!({ "$ref": "./schemas/orders/order.json" }));
    let offer = strict(&json!({ "$ref": format!("{SHOW_EVENTS_REF}Offer") }));
    let mut checked = (0, 0, 0);
    for (name, message) in messages(&doc) {
        for example in message["examples"].as_array().into_iter().flatten() {
            let payload = &example["payload"];
            let label = format!("message {name}, example {}", example["name"]);
            let mut frames: Vec<&Value> = vec![payload];
            frames.extend(payload["data"]["missed"].as_array().into_iter().flatten());
            for frame in frames.into_iter().filter(|f| f.get("ev").is_some()) {
                let validator = match frame["ch"].as_str() {
                    Some(ch) if ch.starts_with("user:") => &user_event,
                    Some(ch) if ch.starts_with("seller:") => &seller_event,
                    _ => continue,
                };
                if let Err(e) = validator.validate(frame) {
                    panic!("{label}: {frame} is not valid against orders/order.json: {e}");
                }
                checked.0 += 1;
            }
            if payload.get("re").is_some() {
                if let Some(o) = payload["data"].get("order") {
                    if let Err(e) = order.validate(o) {
                        panic!("{label}: the order is not valid against orders/order.json: {e}");
                    }
                    checked.1 += 1;
                }
                if let Some(o) = payload["data"].get("offer") {
                    if let Err(e) = offer.validate(o) {
                        panic!("{label}: the offer is not valid against show/events.json#/$defs/Offer: {e}");
                    }
                    checked.2 += 1;
                }
            }
        }
    }
    assert!(checked.0 >= 3 && checked.1 >= 1 && checked.2 >= 1, "order events, orders and offers: {checked:?}");
    let orders = &messages(&doc)["orderReply"];
    assert!(refs(&orders["payload"]).iter().any(|r| r.starts_with("./schemas/orders/order.json")), "orderReply");
    let offers = &messages(&doc)["offerReply"];
    assert!(refs(&offers["payload"]).iter().any(|r| r.starts_with(SHOW_EVENTS_REF)), "offerReply");
}

/// The same for the fairs' channels: `fair:` and `booth:` carry the events of `FairEvent` and
/// `BoothEvent`, each a message whose frame is in `fair/events.json` and names its channel.
#[test]
fn every_fair_and_booth_event_the_server_publishes_is_a_message() {
    let doc = document();
    let schema = schema_file("fair/events.json");
    for (channel, receive, pattern) in
        [("fair", "receiveFairEvents", "#/$defs/FairChannel"), ("booth", "receiveBoothEvents", "#/$defs/BoothChannel")]
    {
        let documented = channel_messages(&doc, channel, "fair/events.json", FAIR_EVENTS_REF);
        check_channel_against_the_source(&doc, channel, receive, &documented);
        for (ev, (_, def, _)) in &documented {
            let ch = &schema["$defs"][def]["properties"]["ch"]["$ref"];
            assert_eq!(ch, pattern, "{channel} {ev}: {def} is a frame of the {channel} channel");
        }
    }
}

/// Every example of a `fair:` or `booth:` event validates against its `fair/events.json` frame,
/// formats included, and so does every such event anywhere in the examples (in `missed`, in a
/// snapshot's `chat`); every lobby and booth snapshot validates against its schema; every
/// notification about a booth carries a whole booth.
#[test]
fn fair_event_examples_validate_against_their_defs() {
    let doc = document();
    for channel in ["fair", "booth"] {
        for (ev, (_, def, message)) in channel_messages(&doc, channel, "fair/events.json", FAIR_EVENTS_REF) {
            let own = strict(&json!({ "$ref": format!("{FAIR_EVENTS_REF}{def}") }));
            let examples = message["examples"].as_array().unwrap_or_else(|| panic!("the {ev} message has examples"));
            assert!(!examples.is_empty(), "the {channel} {ev} message has examples");
            for example in examples {
                assert_eq!(example["payload"]["ev"], ev.as_str(), "an example of {ev}: {}", example["name"]);
                if let Err(e) = own.validate(&example["payload"]) {
                    panic!("example {} is not a valid {def}: {e}", example["name"]);
                }
            }
        }
    }
    let lobby_event = strict(&json!({ "$ref": format!("{FAIR_EVENTS_REF}LobbyEvent") }));
    let booth_event = strict(&json!({ "$ref": format!("{FAIR_EVENTS_REF}BoothChannelEvent") }));
    let lobby_snapshot = strict(&json!({ "$ref": "./schemas/fair/lobby-snapshot.json" }));
    let booth_snapshot = strict(&json!({ "$ref": "./schemas/fair/booth-snapshot.json" }));
    let notify = strict(&messages(&doc)["userNotify"]["payload"]);
    let mut checked = (0, 0, 0, 0);
    for (name, message) in messages(&doc) {
        for example in message["examples"].as_array().into_iter().flatten() {
            let payload = &example["payload"];
            let label = format!("message {name}, example {}", example["name"]);
            let mut frames: Vec<&Value> = vec![payload];
            frames.extend(payload["data"]["missed"].as_array().into_iter().flatten());
            let snapshot = &payload["data"]["snapshot"];
            if snapshot.get("fair").is_some() {
                if let Err(e) = lobby_snapshot.validate(snapshot) {
                    panic!("{label}: the snapshot is not valid against fair/lobby-snapshot.json: {e}");
                }
                checked.1 += 1;
            }
            if snapshot.get("booth").is_some() {
                if let Err(e) = booth_snapshot.validate(snapshot) {
                    panic!("{label}: the snapshot is not valid against fair/booth-snapshot.json: {e}");
                }
                frames.extend(snapshot["chat"].as_array().into_iter().flatten());
                checked.2 += 1;
            }
            for frame in frames.iter().filter(|f| f.get("ev").is_some()) {
                let validator = match frame["ch"].as_str() {
                    Some(ch) if ch.starts_with("fair:") => &lobby_event,
                    Some(ch) if ch.starts_with("booth:") => &booth_event,
                    Some(ch) if ch.starts_with("user:") && frame["ev"] == "notify" => {
                        if let Err(e) = notify.validate(frame) {
                            panic!("{label}: {frame} is not a valid userNotify: {e}");
                        }
                        checked.3 += 1;
                        continue;
                    }
                    _ => continue,
                };
                if let Err(e) = validator.validate(frame) {
                    panic!("{label}: {frame} is not valid against fair/events.json: {e}");
                }
                checked.0 += 1;
            }
        }
    }
    assert!(
        checked.0 >= 12 && checked.1 >= 1 && checked.2 >= 2 && checked.3 >= 4,
        "fair and booth events, lobby and booth snapshots, notifications: {checked:?}"
    );
    for (reply, snapshot) in [
        ("fairSubscribeReply", "./schemas/fair/lobby-snapshot.json"),
        ("boothSubscribeReply", "./schemas/fair/booth-snapshot.json"),
    ] {
        assert!(refs(&messages(&doc)[reply]["payload"]).contains(&snapshot.to_owned()), "{reply} carries {snapshot}");
        let listed = doc["operations"]["subscribe"]["reply"]["messages"].as_array().unwrap();
        assert!(
            listed.iter().any(|m| resolve(&doc, m)["name"] == reply),
            "the subscribe operation's replies include {reply}"
        );
    }
}

/// The chat operations act on a show or, with `booth` instead, on a booth's Q&A: each message
/// has an example of both forms and takes exactly one of the two, as the server does.
#[test]
fn chat_operations_take_a_show_or_a_booth() {
    let doc = document();
    let commands = jsonschema::validator_for(&schema_file("command.json")).unwrap();
    for op in ["chat.send", "chat.delete", "chat.mute", "chat.slow", "chat.ban"] {
        let message = &messages(&doc)[op];
        let payload = strict(&message["payload"]);
        let examples: Vec<&Value> = message["examples"].as_array().unwrap().iter().map(|e| &e["payload"]).collect();
        let on_show =
            examples.iter().find(|e| e.get("show").is_some()).unwrap_or_else(|| panic!("{op}: a show example"));
        let on_booth =
            examples.iter().find(|e| e.get("booth").is_some()).unwrap_or_else(|| panic!("{op}: a booth example"));
        for example in [on_show, on_booth] {
            assert!(payload.is_valid(example), "{op}: {example}");
            assert!(commands.is_valid(example), "{op}: command.json takes {example}");
        }
        let mut both = (*on_show).clone();
        both["booth"] = on_booth["booth"].clone();
        assert!(!payload.is_valid(&both), "{op} with both show and booth is refused: {both}");
        let mut neither = (*on_show).clone();
        neither.as_object_mut().unwrap().remove("show");
        assert!(!payload.is_valid(&neither), "{op} with neither show nor booth is refused: {neither}");
        let text = format!("{}{}", message["description"], doc["operations"][op]["description"]);
        assert!(text.contains("`booth`"), "{op} documents its booth form");
    }
}
