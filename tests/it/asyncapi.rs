//! The AsyncAPI document in `proto/` describes what the server implements.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use ocop_live::channel::ChannelKind;
use ocop_live::protocol::{CloseCode, CommandFrame, Disconnect, ErrorCode, KNOWN_OPS, SUBPROTOCOL, ServerFrame};
use serde_json::Value;

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
        for reply in replies {
            let reply = resolve(&doc, reply);
            assert!(refs(&reply["payload"]).contains(&"./schemas/reply.json".to_owned()), "a reply of {op}");
        }
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
    let (_, reply) = ocop_live::schema::all().into_iter().find(|(name, _)| *name == "reply.json").unwrap();
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
        serde_json::from_str::<Value>(&text).unwrap_or_else(|e| panic!("{r} is not JSON: {e}"));
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
