//! OCOP Live: the realtime backend for live selling shows and online fairs of OCOP products.
//!
//! Layout:
//! - [`config`]: flags and environment variables.
//! - [`app`]: builds one server instance (state, router, background tasks) and runs it.
//! - [`state`]: what every request and connection shares ([`AppState`]).
//! - [`ops`]: `/healthz`, `/readyz`, `/metrics`.
//! - [`api`]: the REST layer (accounts, catalog, traceability) with its OpenAPI document.
//! - [`shows`]: live shows: lifecycle, reactions, viewers, pinning, and their chat rooms.
//! - [`chat`]: chat in any room: the rules a message passes, moderation and its log.
//! - [`sales`]: flash offers and orders, including "chốt đơn" from the chat.
//! - [`room`]: a channel's live state on this node (the `Room` trait), and where each kind of
//!   channel gets its room (`Rooms`).
//! - [`accounts`], [`catalog`]: services that keep accounts, sellers and products in the engine.
//! - [`throttle`]: sign-in, registration and guest-token throttles, counted in the engine.
//! - [`demo`]: the `--demo` data set.
//! - [`transport`]: the HTTP accept loop and its bounds, the WebSocket endpoint, one task per
//!   connection and its outbound queue.
//! - [`protocol`]: the wire contract: commands, replies, events, error and close codes.
//! - [`session`]: one connection's state; applies commands with permissions and limits.
//! - [`hub`]: this node's subscribers per channel; fans one prepared frame out to all.
//! - [`presence`]: when a node reports its viewer counts to the engine.
//! - [`engine`]: broker, presence and state traits with memory and Redis implementations.
//! - [`channel`]: channel names and who may subscribe.
//! - [`events`]: the events of each channel kind, typed, and the one function that publishes one.
//! - [`domain`]: accounts, seller profiles, products and combos: shapes and validation, no I/O.
//! - [`vn`]: Vietnamese text: search folding, phone numbers, text cleaning, word filters.
//! - [`auth`]: users, roles and access tokens.
//! - [`clock`]: the time services read (the system's, or one that follows tokio's in tests).
//! - [`metrics`], [`telemetry`]: Prometheus metrics and logs.
//! - [`schema`]: the JSON Schemas of the wire contract, as published in `proto/`.
//! - [`web`]: the browser client's pages and files, served by the node and embedded in release
//!   builds.

pub mod accounts;
pub mod api;
pub mod app;
pub mod auth;
pub mod catalog;
pub mod channel;
pub mod chat;
pub mod clock;
pub mod config;
pub mod demo;
pub mod domain;
pub mod engine;
pub mod events;
pub mod hub;
pub mod metrics;
pub mod ops;
pub mod presence;
pub mod protocol;
pub mod room;
pub mod sales;
pub mod schema;
pub mod session;
pub mod shows;
pub mod state;
pub mod telemetry;
pub mod throttle;
pub mod transport;
pub mod vn;
pub mod web;

pub use app::App;
pub use config::Config;
pub use state::AppState;
