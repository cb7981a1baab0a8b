//! The realtime core: everything between a socket and a domain service, knowing no single
//! domain. Connections come in through [`transport`], speak [`protocol`], join [`channel`]s
//! through a [`session`], and receive the [`events`] the [`hub`] fans out, starting from a
//! [`room`]'s snapshot; [`presence`] reports each node's viewer counts.

pub mod channel;
pub mod errors;
pub mod events;
pub mod hub;
pub mod presence;
pub mod protocol;
pub mod room;
pub mod schema;
pub mod session;
pub mod transport;
