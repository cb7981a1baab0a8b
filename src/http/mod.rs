//! What is served over HTTP besides the WebSocket: the REST layer ([`api`]), the browser
//! client ([`web`]) and the operations endpoints ([`ops`]).

pub mod api;
pub mod ops;
pub mod web;
