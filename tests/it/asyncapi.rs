//! The AsyncAPI document in `proto/` describes what the server implements.
