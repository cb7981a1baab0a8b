//! The domains' WebSocket operations (PROTOCOL.md §2 and §3): each command to the service that
//! owns it, one arm per operation. The realtime core hands them here through
//! [`realtime::commands::Commands`], so it names no domain.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::auth::Role;
use crate::domain::account::DeliveryContact;
use crate::engine::sales::OrderAction;
use crate::fairs::Fairs;
use crate::metrics::timed;
use crate::realtime::commands::{Caller, Commands};
use crate::realtime::protocol::{Command, DeliveryInput, ReplyError};
use crate::sales::{OfferRequest, OrderFor, OrderRequest, Sales};
use crate::shows::Shows;

/// The services behind the operations.
pub struct DomainCommands {
    pub shows: Arc<Shows>,
    pub sales: Arc<Sales>,
    pub fairs: Arc<Fairs>,
}

/// Where a chat command goes: a show's chat or a booth's Q&A.
enum ChatIn {
    Show(Uuid),
    Booth(Uuid),
}

fn room_of(show: Option<Uuid>, booth: Option<Uuid>) -> Result<ChatIn, ReplyError> {
    match (show, booth) {
        (Some(show), None) => Ok(ChatIn::Show(show)),
        (None, Some(booth)) => Ok(ChatIn::Booth(booth)),
        _ => Err(ReplyError::bad_request("give exactly one of show and booth")),
    }
}

#[async_trait]
impl Commands for DomainCommands {
    async fn apply(&self, caller: Caller<'_>, command: Command) -> Result<Value, ReplyError> {
        let (shows, fairs) = (&self.shows, &self.fairs);
        let done = |()| json!({});
        Ok(match command {
            // The session's own: they never come here.
            Command::Subscribe { .. } | Command::Unsubscribe { .. } => return Err(ReplyError::internal()),
            Command::ChatSend { show, booth, text } => match room_of(show, booth)? {
                ChatIn::Show(show) => self.chat_send(&caller, show, text).await?,
                ChatIn::Booth(booth) => {
                    let user = caller.signed_in()?;
                    let msg_id = timed(caller.metrics, "chat.send", fairs.chat_send(&user, booth, &text)).await?;
                    json!({ "msg_id": msg_id })
                }
            },
            Command::ChatDelete { show, booth, msg_id } => match room_of(show, booth)? {
                ChatIn::Show(show) => shows.chat_delete(&caller.signed_in()?, show, msg_id).await.map(done)?,
                ChatIn::Booth(booth) => fairs.chat_delete(&caller.signed_in()?, booth, msg_id).await.map(done)?,
            },
            Command::ChatMute { show, booth, user_id, minutes } => match room_of(show, booth)? {
                ChatIn::Show(show) => shows.mute(&caller.signed_in()?, show, user_id, minutes).await.map(done)?,
                ChatIn::Booth(booth) => fairs.mute(&caller.signed_in()?, booth, user_id, minutes).await.map(done)?,
            },
            Command::ChatSlow { show, booth, seconds } => match room_of(show, booth)? {
                ChatIn::Show(show) => shows.slow(&caller.signed_in()?, show, seconds).await.map(done)?,
                ChatIn::Booth(booth) => fairs.slow(&caller.signed_in()?, booth, seconds).await.map(done)?,
            },
            Command::ChatBan { show, booth, user_id } => match room_of(show, booth)? {
                ChatIn::Show(show) => shows.ban(&caller.signed_in()?, show, user_id).await.map(done)?,
                ChatIn::Booth(booth) => fairs.ban(&caller.signed_in()?, booth, user_id).await.map(done)?,
            },
            Command::React { show, kind: _ } => shows.react(&caller.signed_in()?, show).await.map(done)?,
            Command::ShowPin { show, product_id } => {
                shows.pin(&caller.signed_in()?, show, product_id).await.map(done)?
            }
            Command::ShowAnnounce { show, text } => {
                shows.announce(&caller.signed_in()?, show, &text).await.map(done)?
            }
            Command::ShowModerators { show, add, remove } => {
                let moderators = shows.set_moderators(&caller.signed_in()?, show, &add, &remove).await?;
                json!({ "moderators": moderators })
            }
            Command::OfferStart { show, product_id, price, quantity, per_buyer_limit, duration_s } => {
                let r = OfferRequest { show, product: product_id, price, quantity, per_buyer_limit, duration_s };
                json!({ "offer": self.sales.offer_start(&caller.signed_in()?, &r).await? })
            }
            Command::OfferStop { show, offer_id } => {
                json!({ "offer": self.sales.offer_stop(&caller.signed_in()?, show, offer_id).await? })
            }
            Command::OrderPlace { show, offer_id, product_id, qty, key, delivery } => {
                self.order_place(&caller, show, offer_id, product_id, qty, key, delivery).await?
            }
            Command::OrderCancel { order_id } => {
                self.order_act(&caller, order_id, OrderAction::Cancel { by_seller: false }).await?
            }
            Command::OrderConfirm { order_id } => self.order_act(&caller, order_id, OrderAction::Confirm).await?,
            Command::OrderShip { order_id } => self.order_act(&caller, order_id, OrderAction::Ship).await?,
        })
    }
}

impl DomainCommands {
    /// `chat.send` in a show; a buyer's message may also be an order ("chốt 2"), placed in the
    /// background and answered privately on `user:<id>`.
    async fn chat_send(&self, caller: &Caller<'_>, show: Uuid, text: String) -> Result<Value, ReplyError> {
        let user = caller.signed_in()?;
        let msg_id = timed(caller.metrics, "chat.send", self.shows.chat_send(&user, show, &text)).await?;
        if user.role == Role::Buyer {
            let sales = self.sales.clone();
            caller.work.spawn(async move { sales.chat_order(&user, show, msg_id, &text).await });
        }
        Ok(json!({ "msg_id": msg_id }))
    }

    #[allow(clippy::too_many_arguments, reason = "the command's fields, as the protocol names them")]
    async fn order_place(
        &self,
        caller: &Caller<'_>,
        show: Uuid,
        offer_id: Option<Uuid>,
        product_id: Option<Uuid>,
        qty: i64,
        key: String,
        delivery: Option<DeliveryInput>,
    ) -> Result<Value, ReplyError> {
        let user = caller.signed_in()?;
        let item = match (offer_id, product_id) {
            (Some(o), None) => OrderFor::Offer(o),
            (None, Some(p)) => OrderFor::Product(p),
            _ => return Err(ReplyError::bad_request("give exactly one of offer_id and product_id")),
        };
        let delivery = delivery.map(|d| DeliveryContact { name: d.name, phone: d.phone, address: d.address });
        let source = if offer_id.is_some() { "offer" } else { "pinned" };
        let r = OrderRequest { show, item, qty, key, delivery, source };
        let order = timed(caller.metrics, "order.place", self.sales.order_place(&user, &r)).await?;
        Ok(json!({ "needs_address": order.needs_address, "order": order }))
    }

    async fn order_act(&self, caller: &Caller<'_>, order_id: Uuid, action: OrderAction) -> Result<Value, ReplyError> {
        let order = self.sales.order_act(&caller.signed_in()?, order_id, action).await?;
        Ok(json!({ "order": order }))
    }
}
