//! Flash offers and orders: the rules around the engine's atomic [`crate::engine::sales`]
//! operations, the events they publish, and "chốt đơn" from the chat.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::accounts::Accounts;
use crate::auth::{Role, User};
use crate::catalog::{Catalog, CatalogError, unit_moves};
use crate::domain::account::DeliveryContact;
use crate::domain::chat_order::{self, ChatIntent};
use crate::domain::show::{Show, ShowStatus};
use crate::engine::sales::{
    ActionOutcome, CloseReason, OfferOpen, OfferState, OfferStatus, OpenOutcome, OrderAction, PlaceOrder, PlaceOutcome,
    Refusal, StoredOrder, Target,
};
use crate::engine::{Engine, EngineError};
use crate::protocol::{ErrorCode, ReplyError, format_rfc3339, now_rfc3339};
use crate::shows::{ShowError, Shows, channel_of};

/// Bounds of an offer, each what a seller on camera could mean.
pub const MIN_DURATION_S: u64 = 10;
pub const MAX_DURATION_S: u64 = 2 * 3600;
pub const MAX_OFFER_QUANTITY: i64 = 100_000;
pub const MAX_ORDER_QTY: i64 = 99;
/// How long this node remembers that an offer is over (longer than any offer lives).
const FINAL_MEMORY: Duration = Duration::from_secs(3 * 3600);

/// An offer as clients see it (`offer` in PROTOCOL.md).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Offer {
    pub id: Uuid,
    pub show_id: Uuid,
    pub product_id: Uuid,
    pub product_name: String,
    pub price: i64,
    pub list_price: i64,
    pub quantity: i64,
    pub remaining: i64,
    pub per_buyer_limit: i64,
    pub starts_at: String,
    pub ends_at: String,
    /// `live`, `sold_out` or `ended`.
    pub status: String,
}

fn ms_to_rfc3339(ms: u64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format_rfc3339(t)
}

fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or_default()
}

impl From<&OfferState> for Offer {
    fn from(s: &OfferState) -> Self {
        Offer {
            id: s.id,
            show_id: s.show,
            product_id: s.product,
            product_name: s.product_name.clone(),
            price: s.price,
            list_price: s.list_price,
            quantity: s.quantity,
            remaining: s.remaining,
            per_buyer_limit: s.per_buyer_limit,
            starts_at: ms_to_rfc3339(s.starts_at_ms),
            ends_at: ms_to_rfc3339(s.ends_at_ms),
            status: s.status.as_str().to_owned(),
        }
    }
}

/// `offer.start` parameters.
#[derive(Debug, Clone)]
pub struct OfferRequest {
    pub show: Uuid,
    pub product: Uuid,
    pub price: i64,
    pub quantity: i64,
    pub per_buyer_limit: i64,
    pub duration_s: u64,
}

/// What an order is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderFor {
    Offer(Uuid),
    Product(Uuid),
}

/// `order.place` parameters.
#[derive(Debug, Clone)]
pub struct OrderRequest {
    pub show: Uuid,
    pub item: OrderFor,
    pub qty: i64,
    pub key: String,
    pub delivery: Option<DeliveryContact>,
    /// `offer`, `pinned` or `chat`.
    pub source: &'static str,
}

#[derive(Debug, thiserror::Error)]
#[error("{0:?}")]
pub struct SalesError(pub ReplyError);

impl From<EngineError> for SalesError {
    fn from(e: EngineError) -> Self {
        SalesError(e.into())
    }
}
impl From<ShowError> for SalesError {
    fn from(e: ShowError) -> Self {
        SalesError(e.into())
    }
}
impl From<CatalogError> for SalesError {
    fn from(e: CatalogError) -> Self {
        SalesError(match e {
            CatalogError::NotFound => ReplyError::new(ErrorCode::NotFound, "no such product"),
            CatalogError::Invalid(_) => ReplyError::bad_request("invalid product"),
            CatalogError::Engine(e) => e.into(),
        })
    }
}

fn err(code: ErrorCode, message: impl Into<String>) -> SalesError {
    SalesError(ReplyError::new(code, message))
}

fn refusal(r: Refusal) -> SalesError {
    match r {
        Refusal::SoldOut => err(ErrorCode::SoldOut, "sold out"),
        Refusal::LimitReached => err(ErrorCode::LimitReached, "you reached this offer's per-buyer limit"),
        Refusal::OfferEnded => err(ErrorCode::OfferEnded, "the offer has ended"),
        Refusal::InsufficientStock => err(ErrorCode::InsufficientStock, "not enough left for that quantity"),
        Refusal::IdempotencyConflict => {
            err(ErrorCode::IdempotencyConflict, "this key was used for a different order; use a new key")
        }
        Refusal::StalePrice | Refusal::NoSuchOffer => err(ErrorCode::NotFound, "no such offer"),
    }
}

/// An order as clients see it.
pub fn order_view(order: &StoredOrder) -> Value {
    let mut v: Value = serde_json::from_str(&order.json).unwrap_or_else(|_| json!({ "id": order.id }));
    if let Some(obj) = v.as_object_mut() {
        obj.insert("status".into(), json!(order.status));
        if !order.updated_at.is_empty() {
            obj.insert("updated_at".into(), json!(order.updated_at));
        }
    }
    v
}

type OfferCell = Arc<tokio::sync::OnceCell<OfferState>>;

pub struct Sales {
    engine: Engine,
    catalog: Catalog,
    accounts: Accounts,
    shows: Arc<Shows>,
    /// Offers this node knows are sold out or ended (final states), with when it learnt it:
    /// later orders are refused here without a round trip.
    finished: Mutex<HashMap<Uuid, (OfferStatus, Instant)>>,
    /// The fixed part of offers (price, product, seller), cached: it never changes.
    /// One cell per offer, so a burst of first orders on this node reads the offer once.
    offers: Mutex<HashMap<Uuid, (OfferCell, Instant)>>,
    /// Offers whose remaining count changed here since the last stock tick.
    stock_dirty: Mutex<HashSet<(Uuid, Uuid)>>,
}

fn pointer_key(order: Uuid) -> String {
    format!("order:{order}:seller")
}
fn buyer_index(buyer: Uuid) -> String {
    format!("{{u:{buyer}}}:orders")
}

impl Sales {
    pub fn new(engine: Engine, catalog: Catalog, accounts: Accounts, shows: Arc<Shows>) -> Self {
        Self {
            engine,
            catalog,
            accounts,
            shows,
            finished: Mutex::new(HashMap::new()),
            offers: Mutex::new(HashMap::new()),
            stock_dirty: Mutex::new(HashSet::new()),
        }
    }

    async fn publish(&self, channel: &str, event: &str, data: Value, history: bool) -> Result<(), SalesError> {
        let raw = serde_json::value::to_raw_value(&data).map_err(|e| EngineError::Internal(e.to_string()))?;
        self.engine.broker.publish(channel, event, &raw, history).await?;
        Ok(())
    }

    async fn live_show_of_seller(&self, user: &User, show: Uuid) -> Result<Show, SalesError> {
        let show = self.shows.get(show).await?;
        if user.seller_id != Some(show.seller_id) {
            return Err(err(ErrorCode::Forbidden, "only the show's seller runs its offers"));
        }
        if show.status != ShowStatus::Live {
            return Err(err(ErrorCode::InvalidState, "the show is not live"));
        }
        Ok(show)
    }

    /// `offer.start`.
    pub async fn offer_start(&self, user: &User, r: &OfferRequest) -> Result<Offer, SalesError> {
        let show = self.live_show_of_seller(user, r.show).await?;
        if show.lineup_code(r.product).is_none() {
            return Err(err(ErrorCode::BadRequest, "the product is not in this show's lineup"));
        }
        let record = self.catalog.record(r.product).await?;
        let today = crate::api::products::today_in_vietnam();
        if record.certificate_expired(today) {
            return Err(err(
                ErrorCode::InvalidState,
                "the product's OCOP certificate has expired; renew it before offering it",
            ));
        }
        if !(1..=record.price).contains(&r.price) {
            return Err(err(
                ErrorCode::BadRequest,
                format!("price must be from 1 to the list price ({} đ)", record.price),
            ));
        }
        if !(1..=MAX_OFFER_QUANTITY).contains(&r.quantity) {
            return Err(err(ErrorCode::BadRequest, format!("quantity must be from 1 to {MAX_OFFER_QUANTITY}")));
        }
        if !(1..=r.quantity.min(MAX_ORDER_QTY)).contains(&r.per_buyer_limit) {
            return Err(err(ErrorCode::BadRequest, "per_buyer_limit must be from 1 to the quantity (at most 99)"));
        }
        if !(MIN_DURATION_S..=MAX_DURATION_S).contains(&r.duration_s) {
            return Err(err(
                ErrorCode::BadRequest,
                format!("duration_s must be from {MIN_DURATION_S} to {MAX_DURATION_S}"),
            ));
        }
        let start = now_ms();
        let open = OfferOpen {
            seller: show.seller_id,
            id: Uuid::now_v7(),
            show: show.id,
            product: record.id,
            product_name: record.name.clone(),
            price: r.price,
            list_price: record.price,
            quantity: r.quantity,
            per_buyer_limit: r.per_buyer_limit,
            starts_at_ms: start,
            ends_at_ms: start + r.duration_s * 1000,
            moves: unit_moves(&record),
        };
        match self.engine.sales.offer_open(&open).await? {
            OpenOutcome::Opened => {}
            OpenOutcome::Short { available, .. } => {
                return Err(err(
                    ErrorCode::InsufficientStock,
                    format!("not enough stock for {} (a component has {available})", r.quantity),
                ));
            }
        }
        self.remember_offer(show.seller_id, show.id, open.id).await?;
        let state = self
            .engine
            .sales
            .offer_get(show.seller_id, open.id)
            .await?
            .ok_or_else(|| EngineError::Internal("offer vanished".into()))?;
        let offer = Offer::from(&state);
        self.publish(&channel_of(show.id), "offer", json!({ "offer": offer }), true).await?;
        Ok(offer)
    }

    /// `offer.stop`.
    pub async fn offer_stop(&self, user: &User, show: Uuid, offer: Uuid) -> Result<Offer, SalesError> {
        let show = self.shows.get(show).await?;
        if user.seller_id != Some(show.seller_id) {
            return Err(err(ErrorCode::Forbidden, "only the show's seller runs its offers"));
        }
        // Checks the offer belongs to this show.
        self.offer_state(show.id, Some(show.seller_id), offer).await?;
        match self.engine.sales.offer_close(show.seller_id, offer, CloseReason::Stopped).await? {
            Some(closed) => Ok(self.announce_end(closed).await?),
            None => Err(err(ErrorCode::InvalidState, "the offer has already ended")),
        }
    }

    async fn announce_end(&self, closed: OfferState) -> Result<Offer, SalesError> {
        self.finished.lock().unwrap().insert(closed.id, (OfferStatus::Ended, Instant::now()));
        let mut offer = Offer::from(&closed);
        offer.remaining = 0;
        self.publish(&channel_of(closed.show), "offer", json!({ "offer": offer }), true).await?;
        Ok(offer)
    }

    /// Ends every live offer of a show that ended, returning unsold units to stock.
    pub async fn close_show_offers(&self, seller: Uuid, show: Uuid) -> Result<(), SalesError> {
        let ids = self.engine.state.index_range(&format!("{{s:{seller}}}:show:{show}:offers"), None, 1000).await?;
        for offer in ids.iter().filter_map(|i| Uuid::parse_str(i).ok()) {
            if let Some(closed) = self.engine.sales.offer_close(seller, offer, CloseReason::Stopped).await? {
                self.announce_end(closed).await?;
            }
        }
        Ok(())
    }

    fn offer_cell(&self, offer: Uuid) -> OfferCell {
        let mut cache = self.offers.lock().unwrap();
        if cache.len() > 10_000 {
            cache.retain(|_, (_, at)| at.elapsed() < FINAL_MEMORY);
        }
        cache.entry(offer).or_insert_with(|| (Arc::new(tokio::sync::OnceCell::new()), Instant::now())).0.clone()
    }

    /// The offer, read once per node (its price, product and seller never change); concurrent
    /// first readers wait for the one read. `seller` is looked up from the show when unknown.
    async fn offer_state(&self, show: Uuid, seller: Option<Uuid>, offer: Uuid) -> Result<OfferState, SalesError> {
        let cell = self.offer_cell(offer);
        let state = cell
            .get_or_try_init(|| async {
                let seller = match seller {
                    Some(s) => s,
                    None => self.shows.get(show).await?.seller_id,
                };
                self.engine
                    .sales
                    .offer_get(seller, offer)
                    .await?
                    .ok_or_else(|| err(ErrorCode::NotFound, "no such offer"))
            })
            .await?;
        if state.show != show || seller.is_some_and(|s| s != state.seller) {
            return Err(err(ErrorCode::NotFound, "no such offer in this show"));
        }
        Ok(state.clone())
    }

    /// `order.place` (and orders from chat): one atomic engine operation.
    pub async fn order_place(&self, user: &User, r: &OrderRequest) -> Result<Value, SalesError> {
        if user.role != Role::Buyer {
            return Err(err(ErrorCode::Forbidden, "only buyer accounts order; sign up as a buyer"));
        }
        let key_ok =
            (8..=64).contains(&r.key.len()) && r.key.chars().all(|c| c.is_ascii_alphanumeric() || "-_:.".contains(c));
        if !key_ok {
            return Err(err(ErrorCode::BadRequest, "key must be 8 to 64 characters of letters, digits, - _ : ."));
        }
        if !(1..=MAX_ORDER_QTY).contains(&r.qty) {
            return Err(err(ErrorCode::BadRequest, format!("qty must be from 1 to {MAX_ORDER_QTY}")));
        }
        // After sell-out every node answers without asking the engine.
        if let OrderFor::Offer(offer) = r.item
            && let Some((status, _)) = self.finished.lock().unwrap().get(&offer).copied()
        {
            return Err(refusal(if status == OfferStatus::SoldOut { Refusal::SoldOut } else { Refusal::OfferEnded }));
        }
        let delivery = match &r.delivery {
            Some(d) => DeliveryContact::parse(d).map_err(|f| {
                let fields: Vec<String> = f.0.iter().map(|(k, v)| format!("delivery.{k}: {v}")).collect();
                err(ErrorCode::BadRequest, fields.join("; "))
            })?,
            None => match self.accounts.get(user.id).await.ok().and_then(|a| a.delivery) {
                Some(d) => d,
                None => return Err(err(ErrorCode::BadRequest, "add a delivery contact (name, phone, address) first")),
            },
        };
        // An offer is live only while its show is: ending a show ends its offers. So the hot
        // path of a flash sale asks the engine nothing but its one script (the offer is read
        // once per node); lineup orders read the show once.
        let (seller_id, show_id, target, product_id, unit_price, name, offer_id, fingerprint) = match r.item {
            OrderFor::Offer(offer) => {
                let state = self.offer_state(r.show, None, offer).await?;
                (
                    state.seller,
                    r.show,
                    Target::Offer { offer },
                    state.product,
                    state.price,
                    state.product_name.clone(),
                    Some(offer),
                    format!("o:{offer}:{}", r.qty),
                )
            }
            OrderFor::Product(product) => {
                let show = self.shows.get(r.show).await?;
                if show.status != ShowStatus::Live {
                    return Err(err(ErrorCode::InvalidState, "the show is not live"));
                }
                if show.lineup_code(product).is_none() {
                    return Err(err(ErrorCode::BadRequest, "the product is not in this show's lineup"));
                }
                let record = self.catalog.record(product).await?;
                (
                    show.seller_id,
                    show.id,
                    Target::Stock { moves: unit_moves(&record) },
                    product,
                    record.price,
                    record.name.clone(),
                    None,
                    format!("p:{product}:{}", r.qty),
                )
            }
        };
        let order_id = Uuid::now_v7();
        let mut order = json!({
            "id": order_id,
            "key": r.key,
            "buyer_id": user.id,
            "seller_id": seller_id,
            "show_id": show_id,
            "items": [{"product_id": product_id, "name": name, "qty": r.qty, "unit_price": unit_price}],
            "total": r.qty * unit_price,
            "source": r.source,
            "payment": "cod",
            "delivery": delivery,
            "created_at": now_rfc3339(),
        });
        if let Some(o) = offer_id {
            order["offer_id"] = json!(o);
        }
        let request = PlaceOrder {
            seller: seller_id,
            buyer: user.id,
            key: r.key.clone(),
            fingerprint,
            order_id,
            qty: r.qty,
            unit_price,
            now_ms: now_ms(),
            target,
            show: Some(show_id),
            product: product_id,
            order_json: order.to_string(),
        };
        let outcome = self.engine.sales.order_place(&request).await?;
        match outcome {
            PlaceOutcome::Placed { order, remaining, sold_out } => {
                self.index(user.id, seller_id, order.id).await?;
                let view = order_view(&order);
                self.notify(&view, user.id, seller_id).await?;
                if let Some(offer) = offer_id {
                    if sold_out {
                        self.sold_out(seller_id, offer).await?;
                    } else if remaining.is_some() {
                        self.stock_dirty.lock().unwrap().insert((seller_id, offer));
                    }
                }
                Ok(view)
            }
            PlaceOutcome::Replayed { order } => {
                // The first attempt may have stopped before indexing: do it again (idempotent).
                self.index(user.id, seller_id, order.id).await?;
                Ok(order_view(&order))
            }
            PlaceOutcome::Refused(Refusal::StalePrice) => {
                if let Some(o) = offer_id {
                    self.offers.lock().unwrap().remove(&o);
                }
                Err(refusal(Refusal::StalePrice))
            }
            PlaceOutcome::Refused(r) => {
                if let (Some(o), Refusal::SoldOut | Refusal::OfferEnded) = (offer_id, r) {
                    let status = if r == Refusal::SoldOut { OfferStatus::SoldOut } else { OfferStatus::Ended };
                    self.finished.lock().unwrap().insert(o, (status, Instant::now()));
                }
                Err(refusal(r))
            }
        }
    }

    async fn index(&self, buyer: Uuid, seller: Uuid, order: Uuid) -> Result<(), EngineError> {
        self.engine.state.set(&pointer_key(order), seller.to_string().as_bytes(), None).await?;
        self.engine.state.index_add(&buyer_index(buyer), &order.to_string()).await
    }

    async fn notify(&self, view: &Value, buyer: Uuid, seller: Uuid) -> Result<(), SalesError> {
        self.publish(&format!("user:{buyer}"), "order", json!({ "order": view }), true).await?;
        self.publish(&format!("seller:{seller}"), "order", json!({ "order": view }), true).await
    }

    async fn sold_out(&self, seller: Uuid, offer: Uuid) -> Result<(), SalesError> {
        self.finished.lock().unwrap().insert(offer, (OfferStatus::SoldOut, Instant::now()));
        if let Some(state) = self.engine.sales.offer_get(seller, offer).await? {
            self.publish(&channel_of(state.show), "stock", json!({ "offer_id": offer, "remaining": 0 }), false).await?;
            self.publish(&channel_of(state.show), "offer", json!({ "offer": Offer::from(&state) }), true).await?;
        }
        Ok(())
    }

    async fn seller_of_order(&self, order: Uuid) -> Result<Uuid, SalesError> {
        let bytes = self
            .engine
            .state
            .get(&pointer_key(order))
            .await?
            .ok_or_else(|| err(ErrorCode::NotFound, "no such order"))?;
        std::str::from_utf8(&bytes)
            .ok()
            .and_then(|s| Uuid::parse_str(s).ok())
            .ok_or_else(|| err(ErrorCode::NotFound, "no such order"))
    }

    /// `order.cancel` / `order.confirm` / shipping: the buyer cancels while placed; the seller
    /// confirms, ships, or cancels.
    pub async fn order_act(&self, user: &User, order_id: Uuid, action: OrderAction) -> Result<Value, SalesError> {
        let seller = self.seller_of_order(order_id).await?;
        let order = self
            .engine
            .sales
            .order_get(seller, order_id)
            .await?
            .ok_or_else(|| err(ErrorCode::NotFound, "no such order"))?;
        let view = order_view(&order);
        let buyer = view["buyer_id"].as_str().and_then(|b| Uuid::parse_str(b).ok());
        let is_seller = user.seller_id == Some(seller);
        let is_buyer = buyer == Some(user.id);
        let action = match action {
            OrderAction::Cancel { .. } if is_seller => OrderAction::Cancel { by_seller: true },
            OrderAction::Cancel { .. } if is_buyer => OrderAction::Cancel { by_seller: false },
            OrderAction::Confirm | OrderAction::Ship if is_seller => action,
            _ if is_seller || is_buyer => {
                return Err(err(ErrorCode::Forbidden, "only the seller confirms and ships orders"));
            }
            _ => return Err(err(ErrorCode::NotFound, "no such order")),
        };
        match self.engine.sales.order_act(seller, order_id, action, &now_rfc3339()).await? {
            ActionOutcome::Changed(order) => {
                let view = order_view(&order);
                if let Some(buyer) = buyer {
                    self.notify(&view, buyer, seller).await?;
                }
                Ok(view)
            }
            ActionOutcome::NotFound => Err(err(ErrorCode::NotFound, "no such order")),
            ActionOutcome::Invalid { status } => Err(err(ErrorCode::InvalidState, format!("the order is {status}"))),
        }
    }

    /// The buyer's orders, oldest first.
    pub async fn buyer_orders(&self, buyer: Uuid, limit: usize) -> Result<Vec<Value>, SalesError> {
        let ids = self.engine.state.index_range(&buyer_index(buyer), None, limit).await?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids.iter().filter_map(|i| Uuid::parse_str(i).ok()) {
            let Ok(seller) = self.seller_of_order(id).await else { continue };
            if let Some(o) = self.engine.sales.order_get(seller, id).await? {
                out.push(order_view(&o));
            }
        }
        Ok(out)
    }

    /// The seller's orders, oldest first, after `after`.
    pub async fn seller_orders(
        &self,
        seller: Uuid,
        after: Option<Uuid>,
        limit: usize,
    ) -> Result<Vec<Value>, SalesError> {
        Ok(self.engine.sales.seller_orders(seller, after, limit).await?.iter().map(order_view).collect())
    }

    /// A chat comment from a buyer that is an order command: ordered through the same
    /// operation as the button; the outcome goes privately to `user:<buyer>`.
    pub async fn chat_order(&self, user: &User, show_id: Uuid, msg_id: Uuid, text: &str) {
        if user.role != Role::Buyer {
            return;
        }
        let Some(intent) = chat_order::parse(text) else { return };
        let outcome = self.chat_intent(user, show_id, msg_id, intent).await;
        let channel = format!("user:{}", user.id);
        let result = match outcome {
            Ok(Some(_)) | Ok(None) => Ok(()),
            Err(SalesError(e)) => {
                self.publish(
                    &channel,
                    "order.failed",
                    json!({ "show_id": show_id, "msg_id": msg_id, "error": e }),
                    true,
                )
                .await
            }
        };
        if let Err(e) = result {
            tracing::warn!(error = ?e, "chat order outcome not delivered");
        }
    }

    async fn chat_intent(
        &self,
        user: &User,
        show_id: Uuid,
        msg_id: Uuid,
        intent: ChatIntent,
    ) -> Result<Option<Value>, SalesError> {
        let show = self.shows.get(show_id).await?;
        if show.status != ShowStatus::Live {
            return Ok(None);
        }
        match intent {
            ChatIntent::Cancel => {
                let mine = self.buyer_orders(user.id, 1000).await?;
                let latest = mine.iter().rev().find(|o| o["show_id"] == json!(show_id) && o["status"] == "placed");
                let Some(id) = latest.and_then(|o| o["id"].as_str()).and_then(|i| Uuid::parse_str(i).ok()) else {
                    return Err(err(ErrorCode::NotFound, "you have no order to cancel in this show"));
                };
                self.order_act(user, id, OrderAction::Cancel { by_seller: false }).await.map(Some)
            }
            ChatIntent::Order { qty, code } => {
                let product = match code {
                    Some(code) => show
                        .lineup
                        .iter()
                        .find(|l| l.code.eq_ignore_ascii_case(&code))
                        .map(|l| l.product_id)
                        .ok_or_else(|| err(ErrorCode::NotFound, format!("no product {code} in this show")))?,
                    None => show.pinned_product_id.ok_or_else(|| {
                        err(ErrorCode::BadRequest, "no product on screen; add its code, like “chốt 2 A1”")
                    })?,
                };
                // A live offer for the product wins over its list price.
                let offer = self.live_offer_for(&show, product).await?;
                let item = match offer {
                    Some(o) => OrderFor::Offer(o),
                    None => OrderFor::Product(product),
                };
                let request = OrderRequest {
                    show: show.id,
                    item,
                    qty: i64::from(qty),
                    key: format!("chat:{msg_id}"),
                    delivery: None,
                    source: "chat",
                };
                self.order_place(user, &request).await.map(Some)
            }
        }
    }

    async fn live_offer_for(&self, show: &Show, product: Uuid) -> Result<Option<Uuid>, SalesError> {
        let ids = self
            .engine
            .state
            .index_range(&format!("{{s:{}}}:show:{}:offers", show.seller_id, show.id), None, 200)
            .await?;
        let mut found = None;
        for id in ids.iter().rev().filter_map(|i| Uuid::parse_str(i).ok()) {
            if let Some(s) = self.engine.sales.offer_get(show.seller_id, id).await?
                && s.product == product
                && s.status == OfferStatus::Live
                && s.ends_at_ms > now_ms()
            {
                found = Some(id);
                break;
            }
        }
        Ok(found)
    }

    /// Remembers the show's offers (for chat orders to find the live one).
    pub async fn remember_offer(&self, seller: Uuid, show: Uuid, offer: Uuid) -> Result<(), EngineError> {
        self.engine.state.index_add(&format!("{{s:{seller}}}:show:{show}:offers"), &offer.to_string()).await
    }

    /// Ten times a second: close offers whose time is up (exactly once across nodes) and
    /// broadcast the remaining counts of offers that sold here since the last tick.
    pub async fn tick(&self) {
        let now = now_ms();
        match self.engine.sales.offers_due(now, 50).await {
            Ok(due) => {
                for (seller, offer) in due {
                    match self.engine.sales.offer_close(seller, offer, CloseReason::Expired { now_ms: now }).await {
                        Ok(Some(closed)) => {
                            if let Err(e) = self.announce_end(closed).await {
                                tracing::warn!(offer = %offer, error = ?e, "offer end not announced");
                            }
                        }
                        Ok(None) => {
                            // Closed by another node, stopped, or gone: it needs no schedule.
                            let _ = self.engine.sales.offer_unschedule(seller, offer).await;
                        }
                        Err(e) => tracing::debug!(offer = %offer, error = %e, "offer expiry failed; retrying"),
                    }
                }
            }
            Err(e) => tracing::debug!(error = %e, "offer expiry scan failed"),
        }
        let dirty: Vec<(Uuid, Uuid)> = self.stock_dirty.lock().unwrap().drain().collect();
        for (seller, offer) in dirty {
            let lock = format!("{{s:{seller}}}:offer:{offer}:tick");
            match self.engine.state.set_nx(&lock, b"1", Some(Duration::from_millis(100))).await {
                Ok(true) => {}
                Ok(false) => {
                    // Another node broadcast within this tenth of a second; try next tick.
                    self.stock_dirty.lock().unwrap().insert((seller, offer));
                    continue;
                }
                Err(_) => continue,
            }
            if let Ok(Some(state)) = self.engine.sales.offer_get(seller, offer).await {
                let data = json!({ "offer_id": offer, "remaining": state.remaining });
                let _ = self.publish(&channel_of(state.show), "stock", data, false).await;
            }
        }
        self.finished.lock().unwrap().retain(|_, (_, at)| at.elapsed() < FINAL_MEMORY);
    }
}
