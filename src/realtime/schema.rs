//! The JSON Schemas of the wire contract, generated from the Rust message types. `proto/schemas/`
//! holds the committed copies; a test fails when they drift.

use schemars::{JsonSchema, SchemaGenerator, generate::SchemaSettings};

use crate::realtime::protocol::{CommandFrame, EventFrame, HelloFrame, ReplyFrame, ServerFrame, SubscribeResult};

/// Every published schema: file name and document.
pub fn all() -> Vec<(&'static str, serde_json::Value)> {
    vec![
        ("command.json", schema_of::<CommandFrame>()),
        ("server-frame.json", schema_of::<ServerFrame>()),
        ("hello.json", schema_of::<HelloFrame>()),
        ("reply.json", schema_of::<ReplyFrame>()),
        ("event.json", schema_of::<EventFrame>()),
        ("subscribe-result.json", schema_of::<SubscribeResult>()),
    ]
}

fn schema_of<T: JsonSchema>() -> serde_json::Value {
    let generator = SchemaGenerator::new(SchemaSettings::draft2020_12());
    let schema = generator.into_root_schema_for::<T>();
    serde_json::to_value(schema).unwrap_or_default()
}
