//! The published contract in `proto/` matches the server's own types.

use std::path::Path;

use ocop_live::realtime::protocol::{CommandFrame, ServerFrame};

fn proto_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/proto"))
}

/// Fails when a committed schema differs from the generated one. `UPDATE_PROTO=1` rewrites them.
#[test]
fn committed_schemas_match_the_code() {
    let dir = proto_dir().join("schemas");
    let update = std::env::var_os("UPDATE_PROTO").is_some();
    for (name, schema) in ocop_live::realtime::schema::all() {
        let path = dir.join(name);
        let generated = serde_json::to_string_pretty(&schema).unwrap() + "\n";
        if update {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &generated).unwrap();
            continue;
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == generated,
            "proto/schemas/{name} differs from the code; run `UPDATE_PROTO=1 cargo test --test it proto` and commit"
        );
    }
}

fn validator(name: &str) -> jsonschema::Validator {
    let path = proto_dir().join("schemas").join(name);
    let schema: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    jsonschema::validator_for(&schema).unwrap()
}

/// Every example frame parses with the server's types and validates against its schema.
#[test]
fn examples_parse_and_validate() {
    let commands = validator("command.json");
    let server = validator("server-frame.json");
    let mut seen = (0, 0);
    let mut entries: Vec<_> =
        std::fs::read_dir(proto_dir().join("examples")).unwrap().map(|e| e.unwrap().path()).collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        let value: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        if name.starts_with("client.") {
            serde_json::from_value::<CommandFrame>(value.clone()).unwrap_or_else(|e| panic!("{name}: {e}"));
            ocop_live::realtime::protocol::decode_command(&text).unwrap_or_else(|e| panic!("{name}: {e:?}"));
            if let Err(e) = commands.validate(&value) {
                panic!("{name}: {e}");
            }
            seen.0 += 1;
        } else if name.starts_with("server.") {
            serde_json::from_value::<ServerFrame>(value.clone()).unwrap_or_else(|e| panic!("{name}: {e}"));
            if let Err(e) = server.validate(&value) {
                panic!("{name}: {e}");
            }
            seen.1 += 1;
        } else {
            panic!("{name}: examples are named client.*.json or server.*.json");
        }
    }
    assert!(seen.0 >= 3 && seen.1 >= 5, "examples cover both directions: {seen:?}");
}

/// The schemas reject what the server rejects.
#[test]
fn schemas_reject_malformed_frames() {
    let commands = validator("command.json");
    for bad in [
        serde_json::json!({"op": "subscribe", "ch": "show:x"}),
        serde_json::json!({"id": 1, "op": "subscribe"}),
        serde_json::json!({"id": 1, "op": "fly"}),
        serde_json::json!({"id": -1, "op": "unsubscribe", "ch": "show:x"}),
    ] {
        assert!(!commands.is_valid(&bad), "{bad}");
    }
}
