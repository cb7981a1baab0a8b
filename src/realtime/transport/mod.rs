//! The transport: the HTTP accept loop and its bounds (`http`), the WebSocket's upgrade checks
//! and its one task per connection, which reads commands and writes queued frames (`ws`), and
//! each connection's bounded outbound queue (`outbound`).

pub mod http;
pub mod outbound;
pub mod ws;
