//! The realtime core: everything between a socket and a domain service, knowing no single
//! domain. Connections come in through [`transport`], speak [`protocol`], join [`channel`]s
//! through a [`session`], and receive the [`events`] the [`hub`] fans out, starting from a
//! [`room`]'s snapshot; [`presence`] reports each node's viewer counts. A session carries out
//! the subscriptions itself and hands every other operation to the server's [`commands`].

pub mod channel;
pub mod commands;
pub mod errors;
pub mod events;
pub mod hub;
pub mod presence;
pub mod protocol;
pub mod room;
pub mod schema;
pub mod session;
pub mod transport;
