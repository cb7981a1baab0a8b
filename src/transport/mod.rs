//! The WebSocket transport: upgrade checks, the reader loop and the writer task.

pub mod outbound;
pub mod ws;
