//! The transport: the HTTP accept loop, and the WebSocket's upgrade checks and connection task.

pub mod http;
pub mod outbound;
pub mod ws;
