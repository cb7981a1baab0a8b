//! The events of each channel kind, typed (PROTOCOL.md §2, "Events"), and [`publish`], the one
//! way a service sends one: it builds the channel's name from the event's kind, encodes the
//! event's data once and hands it to the broker, which assembles the frame.
//!
//! Each enum is declared through [`events!`], so an event's name and whether the channel's
//! history keeps it are written once, beside its data; [`Event::ALL`] lists them for the
//! contract's tests.

use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use crate::domain::fair::{Booth, Fair};
use crate::domain::show::{Show, ShowStatus};
use crate::engine::order::Order;
use crate::engine::sales::OfferState;
use crate::engine::{Broker, EngineError, StreamPosition};
use crate::realtime::channel::{Channel, ChannelKind};

/// An event of one channel kind.
pub trait Event: Serialize {
    /// The kind of channel the event goes out on.
    const KIND: ChannelKind;
    /// Every event of the kind: its name, and whether the channel's history keeps it.
    const ALL: &'static [(&'static str, bool)];
    /// The event's name (`ev` in the frame).
    fn name(&self) -> &'static str;
    /// Whether the channel's history keeps it (it then has an offset) or it is ephemeral.
    fn kept(&self) -> bool;
}

/// Declares an event enum: each variant with its name, whether it is kept, and its data, which
/// serializes as the frame's `data` (the variant's fields, or its one value).
macro_rules! events {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident<$lt:lifetime> on $kind:ident {
            $($(#[$vmeta:meta])* $variant:ident = ($ev:literal, $kept:literal) $body:tt,)*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Serialize)]
        #[serde(untagged)]
        $vis enum $name<$lt> {
            $($(#[$vmeta])* $variant $body,)*
        }

        impl Event for $name<'_> {
            const KIND: ChannelKind = ChannelKind::$kind;
            const ALL: &'static [(&'static str, bool)] = &[$(($ev, $kept)),*];

            fn name(&self) -> &'static str {
                match self {
                    $(Self::$variant { .. } => $ev,)*
                }
            }

            fn kept(&self) -> bool {
                match self {
                    $(Self::$variant { .. } => $kept,)*
                }
            }
        }
    };
}

events! {
    /// On `show:<id>`. Fields are declared in the order the frames have always had them
    /// (alphabetical).
    pub enum ShowEvent<'a> on Show {
        /// The whole show after a change of its settings (slow mode, moderators, …).
        Show = ("show", true) { show: &'a Show },
        /// With `reason` and `by` when the fair's organiser or an admin ended the show.
        Status = ("status", true) {
            status: ShowStatus,
            #[serde(skip_serializing_if = "Option::is_none")]
            reason: Option<&'a str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            by: Option<&'a Value>,
        },
        /// The product on screen, or null.
        Pinned = ("pinned", true) { product: &'a Value },
        /// A chat message as `chat` admitted it: `{msg_id, user, text, at}`.
        Chat = ("chat", true) (&'a Value),
        ChatDeleted = ("chat.deleted", true) { msg_id: Uuid },
        /// A viewer removed for good; every node's hub drops their subscriptions.
        Banned = ("banned", true) { user_id: Uuid },
        /// The pinned announcement, or null when cleared.
        Announcement = ("announcement", true) { text: Option<&'a str> },
        Offer = ("offer", true) { offer: &'a OfferState },
        /// What remains of an offer (coalesced, at most ten a second).
        Stock = ("stock", false) { offer_id: Uuid, remaining: i64 },
        Viewers = ("viewers", false) { count: u64 },
        Reactions = ("reactions", false) { heart: u64 },
    }
}

events! {
    /// On `user:<id>`: the user's orders and notices.
    pub enum UserEvent<'a> on User {
        Order = ("order", true) { order: &'a Order },
        /// `{kind, order}`: an order waits for its address, or was cancelled without one.
        Notify = ("notify", true) (&'a Value),
        /// A chat message that tried to order and could not: `{error, msg_id, show_id}`.
        OrderFailed = ("order.failed", true) (&'a Value),
    }
}

events! {
    /// On `seller:<id>`: the seller's order feed.
    pub enum SellerEvent<'a> on Seller {
        Order = ("order", true) { order: &'a Order },
    }
}

events! {
    /// On `fair:<id>`: the lobby.
    pub enum FairEvent<'a> on Fair {
        /// The fair after a change of status or details.
        Fair = ("fair", true) { fair: &'a Fair },
        /// A show of the agenda went live.
        ShowLive = ("show.live", true) { show: &'a Show },
        ShowEnded = ("show.ended", true) { show_id: Uuid },
        /// A show joined the agenda.
        Agenda = ("agenda", true) { show: &'a Show },
        /// The organiser's announcement, or null when cleared.
        Announcement = ("announcement", true) { text: Option<&'a str> },
        /// A booth approved or changed (`status` other than `approved`: it left the lobby).
        Booth = ("booth", true) { booth: &'a Booth },
        /// Connections in the lobby on every node (at most one a second).
        Visitors = ("visitors", false) { count: u64 },
    }
}

events! {
    /// On `booth:<id>`: the booth's Q&A chat and its seller's presence.
    pub enum BoothEvent<'a> on Booth {
        Chat = ("chat", true) (&'a Value),
        ChatDeleted = ("chat.deleted", true) { msg_id: Uuid },
        Banned = ("banned", true) { user_id: Uuid },
        /// The booth after a change (texts, featured products, status).
        Booth = ("booth", true) { booth: &'a Booth },
        Presence = ("presence", false) { seller_online: bool },
    }
}

/// Publishes `event` on the channel of its kind with id `id`.
pub async fn publish<E: Event>(
    broker: &dyn Broker,
    id: Uuid,
    event: &E,
) -> Result<Option<StreamPosition>, EngineError> {
    let data = serde_json::value::to_raw_value(event).map_err(|e| EngineError::Internal(e.to_string()))?;
    broker.publish(&Channel::new(E::KIND, id).to_string(), event.name(), &data, event.kept()).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn events_name_themselves_say_if_kept_and_serialize_as_their_data() {
        let stock = ShowEvent::Stock { offer_id: Uuid::nil(), remaining: 3 };
        assert_eq!((stock.name(), stock.kept()), ("stock", false));
        assert_eq!(serde_json::to_value(&stock).unwrap(), json!({"offer_id": Uuid::nil(), "remaining": 3}));
        let message = json!({"msg_id": "m", "text": "chốt 2"});
        let chat = ShowEvent::Chat(&message);
        assert_eq!((chat.name(), chat.kept()), ("chat", true));
        assert_eq!(serde_json::to_string(&chat).unwrap(), serde_json::to_string(&message).unwrap());
        assert_eq!(
            serde_json::to_value(ShowEvent::Pinned { product: &Value::Null }).unwrap(),
            json!({"product": null})
        );
        assert_eq!(ShowEvent::ALL.len(), 11);
        assert!(ShowEvent::ALL.iter().all(|(name, _)| !name.is_empty()));
        let failed = json!({"error": {"code": "sold_out"}});
        assert_eq!(UserEvent::OrderFailed(&failed).name(), "order.failed");
        assert_eq!(<SellerEvent<'_> as Event>::KIND, ChannelKind::Seller);
    }
}
