//! OCOP Live: the realtime backend for live selling shows and online fairs of OCOP products.
//!
//! The layout, from the door inwards:
//! - [`http`]: what is served over HTTP: the REST layer ([`http::api`], with its OpenAPI
//!   document), the browser client's pages and files ([`http::web`]), and `/healthz`, `/readyz`,
//!   `/metrics` ([`http::ops`]).
//! - [`realtime`]: the realtime core, which knows no single domain: the accept loop and the
//!   WebSocket ([`realtime::transport`]), the wire contract ([`realtime::protocol`]), channel
//!   names and who may subscribe ([`realtime::channel`]), typed events and their one publish
//!   function ([`realtime::events`]), one connection's session ([`realtime::session`]), this
//!   node's subscribers ([`realtime::hub`]), rooms ([`realtime::room`]), viewer-count reports
//!   ([`realtime::presence`]) and the published JSON Schemas ([`realtime::schema`]).
//! - The domains, each a service over the engine: [`shows`] (lifecycle, reactions, viewers,
//!   pinning, the show's room), [`chat`] (chat in any room, moderation and its log), [`sales`]
//!   (flash offers and orders, "chốt đơn" from the chat), [`catalog`] (sellers and products),
//!   [`accounts`] (accounts, delivery contacts, and the sign-in throttles).
//! - [`engine`]: broker, presence and state traits with memory and Redis implementations, the
//!   sales operations money depends on, and leases.
//! - Shared ground: [`domain`] (shapes and validation, no I/O), [`auth`] (users, roles, access
//!   tokens), [`clock`], [`vn`] (Vietnamese text), [`metrics`] and [`telemetry`], [`config`].
//! - Putting it together: [`app`] builds one server and runs it, [`state`] is what every request
//!   and connection shares ([`AppState`]), [`demo`] is the `--demo` data set.

pub mod accounts;
pub mod app;
pub mod auth;
pub mod catalog;
pub mod chat;
pub mod clock;
pub mod commands;
pub mod config;
pub mod demo;
pub mod domain;
pub mod engine;
pub mod fairs;
pub mod http;
pub mod metrics;
pub mod realtime;
pub mod sales;
pub mod shows;
pub mod state;
pub mod telemetry;
pub mod vn;

pub use app::App;
pub use config::Config;
pub use state::AppState;
