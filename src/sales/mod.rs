//! Flash offers and orders: the rules around the engine's atomic [`crate::engine::sales`]
//! operations, the events they publish, and "chốt đơn" from the chat.

pub mod chat_order;

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use uuid::Uuid;

use crate::accounts::Accounts;
use crate::auth::{Role, User};
use crate::catalog::{Catalog, CatalogError, unit_moves};
use crate::clock::Clock;
use crate::domain::account::DeliveryContact;
use crate::domain::show::{Show, ShowStatus};
use crate::engine::lease::once_per;
pub use crate::engine::order::{Order, OrderContact, OrderItem};
use crate::engine::sales::{
    ActionOutcome, CloseReason, OfferState, OfferStatus, OpenOutcome, OrderAction, PlaceOrder, PlaceOutcome, Refusal,
    StoredOrder, Target,
};
use crate::engine::{Engine, EngineError};
use crate::realtime::events::{self, Event, SellerEvent, ShowEvent, UserEvent};
use crate::realtime::protocol::ReplyError;
use crate::shows::{ShowError, Shows};
use chat_order::ChatIntent;

/// Bounds of an offer, each what a seller on camera could mean.
pub const MIN_DURATION_S: u64 = 10;
pub const MAX_DURATION_S: u64 = 2 * 3600;
pub const MAX_OFFER_QUANTITY: i64 = 100_000;
pub const MAX_ORDER_QTY: i64 = 99;
/// How long this node remembers that an offer is over (longer than any offer lives).
const FINAL_MEMORY: Duration = Duration::from_secs(3 * 3600);
/// The most buyers with a stored outcome this node loads for a finished offer (each answered by
/// the engine, everyone else at once). Every order takes a unit, so buyers with orders are at
/// most the offer's quantity; refusals other than `sold_out` add the few who asked for too much
/// or came after the end. Past this the node asks the engine for everyone: correct, slower.
const FINISHED_BUYERS_CAP: usize = 2 * MAX_OFFER_QUANTITY as usize;
/// Address deadlines handled per pass, and how often (in sales ticks) a pass runs.
const ADDRESS_BATCH: usize = 50;
const ADDRESS_EVERY_TICKS: u64 = 10;
/// At most one `stock` event per offer in this period, across nodes.
const SALES_TICK_PERIOD: Duration = Duration::from_millis(100);

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

/// Why a sales operation did not happen. The wire's answer to each is in
/// `realtime::errors`, HTTP's in `http::api::error`.
#[derive(Debug, thiserror::Error)]
pub enum SalesError {
    #[error("sold out")]
    SoldOut,
    #[error("you reached this offer's per-buyer limit")]
    LimitReached,
    #[error("the offer has ended")]
    OfferEnded,
    #[error("{0}")]
    InsufficientStock(Cow<'static, str>),
    #[error("this key was used for a different order; use a new key")]
    IdempotencyConflict,
    /// An offer, an order or a product of the show that does not exist (for this caller).
    #[error("{0}")]
    NotFound(Cow<'static, str>),
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("{0}")]
    InvalidState(Cow<'static, str>),
    #[error("{0}")]
    BadRequest(Cow<'static, str>),
    /// The show the operation needs could not be had.
    #[error(transparent)]
    Show(#[from] ShowError),
    #[error(transparent)]
    Engine(#[from] EngineError),
}

impl From<CatalogError> for SalesError {
    fn from(e: CatalogError) -> Self {
        match e {
            CatalogError::NotFound => SalesError::NotFound("no such product".into()),
            CatalogError::Invalid(_) => SalesError::BadRequest("invalid product".into()),
            CatalogError::Engine(e) => SalesError::Engine(e),
        }
    }
}

fn refusal(r: Refusal) -> SalesError {
    match r {
        Refusal::SoldOut => SalesError::SoldOut,
        Refusal::LimitReached => SalesError::LimitReached,
        Refusal::OfferEnded => SalesError::OfferEnded,
        Refusal::InsufficientStock => SalesError::InsufficientStock("not enough left for that quantity".into()),
        Refusal::IdempotencyConflict => SalesError::IdempotencyConflict,
        Refusal::StalePrice | Refusal::NoSuchOffer => SalesError::NotFound("no such offer".into()),
    }
}

type OfferCell = Arc<tokio::sync::OnceCell<OfferState>>;
/// The buyers of a finished offer who have a stored outcome, loaded once (`None`: too many).
type BuyersCell = Arc<tokio::sync::OnceCell<Option<HashSet<Uuid>>>>;

/// What this node knows of an offer that is over.
#[derive(Clone)]
struct Finished {
    /// It sold out (else it ended with units left).
    sold_out: bool,
    at: Instant,
    buyers: BuyersCell,
}

/// Settings of the sales service.
#[derive(Debug, Clone)]
pub struct SalesConfig {
    /// How long an order may wait for its delivery address before it cancels itself.
    pub address_deadline: Duration,
}

pub struct Sales {
    engine: Engine,
    catalog: Catalog,
    accounts: Accounts,
    shows: Arc<Shows>,
    clock: Clock,
    config: SalesConfig,
    /// Offers this node knows are sold out or ended (final states), with when it learnt it:
    /// later orders from buyers without a stored outcome are refused here without a round trip.
    finished: Mutex<HashMap<Uuid, Finished>>,
    /// Orders refused here because the offer was over, without asking the engine.
    engine_free_refusals: std::sync::atomic::AtomicU64,
    /// Sales ticks so far (address deadlines are checked every few).
    ticks: std::sync::atomic::AtomicU64,
    /// The fixed part of offers (price, product, seller), cached: it never changes.
    /// One cell per offer, so a burst of first orders on this node reads the offer once.
    offers: Mutex<HashMap<Uuid, (OfferCell, Instant)>>,
    /// Offers whose remaining count changed here since the last stock tick.
    stock_dirty: Mutex<HashSet<(Uuid, Uuid)>>,
}

/// Where orders placed before buyers filed their own (`Sales::order_file`) point to their seller.
fn legacy_pointer_key(order: Uuid) -> String {
    format!("order:{order}:seller")
}

/// A short, stable digest of the request parts an idempotency key must match.
fn digest(text: &str) -> String {
    use sha2::Digest as _;
    let hash = sha2::Sha256::digest(text.as_bytes());
    hash.iter().take(12).map(|b| format!("{b:02x}")).collect()
}

impl Sales {
    pub fn new(
        engine: Engine,
        catalog: Catalog,
        accounts: Accounts,
        shows: Arc<Shows>,
        clock: Clock,
        config: SalesConfig,
    ) -> Self {
        Self {
            engine,
            clock,
            catalog,
            accounts,
            shows,
            config,
            ticks: std::sync::atomic::AtomicU64::new(0),
            engine_free_refusals: std::sync::atomic::AtomicU64::new(0),
            finished: Mutex::new(HashMap::new()),
            offers: Mutex::new(HashMap::new()),
            stock_dirty: Mutex::new(HashSet::new()),
        }
    }

    async fn publish<E: Event>(&self, id: Uuid, event: E) -> Result<(), SalesError> {
        events::publish(self.engine.broker.as_ref(), id, &event).await?;
        Ok(())
    }

    async fn live_show_of_seller(&self, user: &User, show: Uuid) -> Result<Show, SalesError> {
        let show = self.shows.get(show).await?;
        if user.seller_id != Some(show.seller_id) {
            return Err(SalesError::Forbidden("only the show's seller runs its offers"));
        }
        if show.status != ShowStatus::Live {
            return Err(SalesError::InvalidState("the show is not live".into()));
        }
        Ok(show)
    }

    /// `offer.start`.
    pub async fn offer_start(&self, user: &User, r: &OfferRequest) -> Result<OfferState, SalesError> {
        let show = self.live_show_of_seller(user, r.show).await?;
        if show.lineup_code(r.product).is_none() {
            return Err(SalesError::BadRequest("the product is not in this show's lineup".into()));
        }
        let record = self.catalog.record(r.product).await?;
        let today = self.clock.today_in_vietnam();
        if record.certificate_expired(today) {
            return Err(SalesError::InvalidState(
                "the product's OCOP certificate has expired; renew it before offering it".into(),
            ));
        }
        if !(1..=record.price).contains(&r.price) {
            return Err(SalesError::BadRequest(
                format!("price must be from 1 to the list price ({} đ)", record.price).into(),
            ));
        }
        if !(1..=MAX_OFFER_QUANTITY).contains(&r.quantity) {
            return Err(SalesError::BadRequest(format!("quantity must be from 1 to {MAX_OFFER_QUANTITY}").into()));
        }
        if !(1..=r.quantity.min(MAX_ORDER_QTY)).contains(&r.per_buyer_limit) {
            return Err(SalesError::BadRequest("per_buyer_limit must be from 1 to the quantity (at most 99)".into()));
        }
        if !(MIN_DURATION_S..=MAX_DURATION_S).contains(&r.duration_s) {
            return Err(SalesError::BadRequest(
                format!("duration_s must be from {MIN_DURATION_S} to {MAX_DURATION_S}").into(),
            ));
        }
        let start = self.clock.now_ms();
        let open = OfferState {
            seller: show.seller_id,
            id: Uuid::now_v7(),
            show: show.id,
            product: record.id,
            product_name: record.name.clone(),
            price: r.price,
            list_price: record.price,
            quantity: r.quantity,
            remaining: r.quantity,
            per_buyer_limit: r.per_buyer_limit,
            starts_at_ms: start,
            ends_at_ms: start + r.duration_s * 1000,
            status: OfferStatus::Live,
            moves: unit_moves(&record),
        };
        match self.engine.sales.offer_open(&open).await? {
            OpenOutcome::Opened => {}
            OpenOutcome::Short { available, .. } => {
                return Err(SalesError::InsufficientStock(
                    format!("not enough stock for {} (a component has {available})", r.quantity).into(),
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
        self.publish(show.id, ShowEvent::Offer { offer: &state }).await?;
        Ok(state)
    }

    /// `offer.stop`.
    pub async fn offer_stop(&self, user: &User, show: Uuid, offer: Uuid) -> Result<OfferState, SalesError> {
        let show = self.shows.get(show).await?;
        if user.seller_id != Some(show.seller_id) {
            return Err(SalesError::Forbidden("only the show's seller runs its offers"));
        }
        // Checks the offer belongs to this show.
        self.offer_state(show.id, Some(show.seller_id), offer).await?;
        match self.engine.sales.offer_close(show.seller_id, offer, CloseReason::Stopped).await? {
            Some(closed) => Ok(self.announce_end(closed).await?),
            None => Err(SalesError::InvalidState("the offer has already ended".into())),
        }
    }

    /// Remembers that an offer is over; once sold out, it stays known as sold out.
    fn learn_finished(&self, offer: Uuid, sold_out: bool) {
        let mut finished = self.finished.lock().unwrap();
        let entry = finished.entry(offer).or_insert_with(|| Finished {
            sold_out,
            at: Instant::now(),
            buyers: Arc::new(tokio::sync::OnceCell::new()),
        });
        entry.sold_out |= sold_out;
    }

    async fn announce_end(&self, closed: OfferState) -> Result<OfferState, SalesError> {
        // Nothing left at the close means it had sold out.
        self.learn_finished(closed.id, closed.remaining == 0);
        let offer = OfferState { remaining: 0, ..closed };
        self.publish(offer.show, ShowEvent::Offer { offer: &offer }).await?;
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
                    .ok_or_else(|| SalesError::NotFound("no such offer".into()))
            })
            .await?;
        if state.show != show || seller.is_some_and(|s| s != state.seller) {
            return Err(SalesError::NotFound("no such offer in this show".into()));
        }
        Ok(state.clone())
    }

    /// `order.place` (and orders from chat): one atomic engine operation.
    ///
    /// Idempotency comes before every shortcut: a buyer who may hold a stored outcome for the
    /// key is always answered by the engine, so a replay gets that outcome whatever became of
    /// the offer. Only buyers this node knows cannot have one are told "sold out" at once.
    pub async fn order_place(&self, user: &User, r: &OrderRequest) -> Result<Order, SalesError> {
        if user.role != Role::Buyer {
            return Err(SalesError::Forbidden("only buyer accounts order; sign up as a buyer"));
        }
        let key_ok =
            (8..=64).contains(&r.key.len()) && r.key.chars().all(|c| c.is_ascii_alphanumeric() || "-_:.".contains(c));
        if !key_ok {
            return Err(SalesError::BadRequest("key must be 8 to 64 characters of letters, digits, - _ : .".into()));
        }
        if !(1..=MAX_ORDER_QTY).contains(&r.qty) {
            return Err(SalesError::BadRequest(format!("qty must be from 1 to {MAX_ORDER_QTY}").into()));
        }
        let given = match &r.delivery {
            Some(d) => Some(DeliveryContact::parse(d).map_err(|f| {
                let fields: Vec<String> = f.0.iter().map(|(k, v)| format!("delivery.{k}: {v}")).collect();
                SalesError::BadRequest(fields.join("; ").into())
            })?),
            None => None,
        };
        if let OrderFor::Offer(offer) = r.item
            && let Some(refusal) = self.finished_answer(user, r.show, offer).await?
        {
            return Err(refusal);
        }
        // An offer is live only while its show is: ending a show ends its offers. So the hot
        // path of a flash sale asks the engine nothing but its one script (the offer is read
        // once per node); lineup orders read the show once.
        let (seller_id, show_id, target, product_id, unit_price, name, offer_id, item_print) = match r.item {
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
                    return Err(SalesError::InvalidState("the show is not live".into()));
                }
                if show.lineup_code(product).is_none() {
                    return Err(SalesError::BadRequest("the product is not in this show's lineup".into()));
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
        // The same key with another delivery is another request.
        let fingerprint = match &given {
            Some(d) => format!("{item_print}:{}", digest(&serde_json::to_string(d).unwrap_or_default())),
            None => format!("{item_print}:-"),
        };
        let order_id = Uuid::now_v7();
        // Without a contact in the command, the saved one; without that, what the account knows,
        // and the order waits for its address ("chốt first, details after").
        let (delivery, due) = match given {
            Some(d) => (
                OrderContact { name: d.name.clone(), phone: Some(d.phone.clone()), address: Some(d.address.clone()) },
                None,
            ),
            None => {
                // A token outlives nothing it names, but an account read can fail: that is
                // `unavailable` (retry with the same key), never a reason to refuse the order.
                let (saved, name, phone) = match self.accounts.get(user.id).await {
                    Ok(a) => (a.delivery, a.name, a.phone),
                    Err(crate::accounts::AccountError::Engine(e)) => return Err(e.into()),
                    Err(_) => (None, user.name.clone(), user.phone.clone()),
                };
                match saved {
                    Some(d) => (OrderContact { name: d.name, phone: Some(d.phone), address: Some(d.address) }, None),
                    None => {
                        let (due_ms, due_at) = self.clock.after(self.config.address_deadline);
                        // Scheduled first, so an order that is stored can never miss its deadline.
                        self.engine.sales.address_schedule(seller_id, order_id, due_ms).await?;
                        // What the account knows.
                        (OrderContact { name, phone, address: None }, Some((due_ms, due_at)))
                    }
                }
            }
        };
        let order = Order {
            address_due_at: due.as_ref().map(|(_, at)| at.clone()),
            buyer_id: user.id,
            cancel_reason: None,
            created_at: self.clock.rfc3339(),
            delivery,
            id: order_id,
            items: vec![OrderItem { product_id, name, qty: r.qty, unit_price }],
            key: r.key.clone(),
            needs_address: due.is_some(),
            offer_id,
            payment: "cod".into(),
            seller_id,
            show_id,
            source: r.source.to_owned(),
            status: String::new(),
            total: r.qty * unit_price,
            updated_at: None,
        };
        let order_json = order.stored_json()?;
        let placed_view = Order { status: "placed".into(), ..order };
        let event = json!({ "order": &placed_view }).to_string();
        let request = PlaceOrder {
            seller: seller_id,
            buyer: user.id,
            key: r.key.clone(),
            fingerprint,
            order_id,
            qty: r.qty,
            unit_price,
            now_ms: self.clock.now_ms(),
            target,
            show: Some(show_id),
            product: product_id,
            order_json,
            address_due_ms: due.as_ref().map(|(ms, _)| *ms),
            seller_event: event.clone(),
        };
        let outcome = self.engine.sales.order_place(&request).await;
        if due.is_some() && !matches!(outcome, Ok(PlaceOutcome::Placed { .. }) | Err(_)) {
            // Nothing was stored under this id: its deadline has nothing to cancel.
            let _ = self.engine.sales.address_unschedule(seller_id, order_id).await;
        }
        match outcome? {
            PlaceOutcome::Placed { order, remaining, sold_out } => {
                // The seller's feed got the order in the same step; now the buyer's side.
                self.engine.sales.order_file(user.id, seller_id, order.id, &event).await?;
                // What was stored is what was built here: no need to read the JSON back.
                let view = placed_view;
                if order.needs_address {
                    let data = json!({ "kind": "order.needs_address", "order": view });
                    self.publish(user.id, UserEvent::Notify(&data)).await?;
                }
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
                // The first attempt may have stopped before filing it for the buyer.
                let view = Order::view(&order)?;
                let event = json!({ "order": view }).to_string();
                self.engine.sales.order_file(user.id, seller_id, order.id, &event).await?;
                Ok(view)
            }
            PlaceOutcome::Refused(Refusal::StalePrice) => {
                if let Some(o) = offer_id {
                    self.offers.lock().unwrap().remove(&o);
                }
                Err(refusal(Refusal::StalePrice))
            }
            PlaceOutcome::Refused(r) => {
                if let (Some(o), Refusal::SoldOut | Refusal::OfferEnded) = (offer_id, r) {
                    self.learn_finished(o, r == Refusal::SoldOut);
                }
                Err(refusal(r))
            }
        }
    }

    /// For an offer this node knows is over: the answer for a buyer who cannot have a stored
    /// outcome (no engine call), or `None` when the engine must answer.
    async fn finished_answer(&self, user: &User, show: Uuid, offer: Uuid) -> Result<Option<SalesError>, SalesError> {
        let Some(finished) = self.finished.lock().unwrap().get(&offer).cloned() else { return Ok(None) };
        let state = self.offer_state(show, None, offer).await?;
        let buyers = finished
            .buyers
            .get_or_try_init(|| async {
                let listed = self.engine.sales.offer_buyers(state.seller, offer, FINISHED_BUYERS_CAP).await?;
                Ok::<_, SalesError>(listed.map(|b| b.into_iter().collect::<HashSet<Uuid>>()))
            })
            .await?;
        match buyers {
            Some(b) if !b.contains(&user.id) => {
                self.engine_free_refusals.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                Ok(Some(refusal(if finished.sold_out { Refusal::SoldOut } else { Refusal::OfferEnded })))
            }
            _ => Ok(None),
        }
    }

    /// Orders refused because the offer was over, without an engine call, since start.
    pub fn refused_without_engine(&self) -> u64 {
        self.engine_free_refusals.load(std::sync::atomic::Ordering::Relaxed)
    }

    async fn notify(&self, view: &Order, buyer: Uuid, seller: Uuid) -> Result<(), SalesError> {
        self.publish(buyer, UserEvent::Order { order: view }).await?;
        self.publish(seller, SellerEvent::Order { order: view }).await
    }

    async fn sold_out(&self, seller: Uuid, offer: Uuid) -> Result<(), SalesError> {
        self.learn_finished(offer, true);
        if let Some(state) = self.engine.sales.offer_get(seller, offer).await? {
            self.publish(state.show, ShowEvent::Stock { offer_id: offer, remaining: 0 }).await?;
            self.publish(state.show, ShowEvent::Offer { offer: &state }).await?;
        }
        Ok(())
    }

    /// The order and its seller, when `user` is its seller or its buyer.
    async fn find_order(&self, user: &User, order: Uuid) -> Result<(Uuid, StoredOrder), SalesError> {
        let not_found = || SalesError::NotFound("no such order".into());
        if let Some(seller) = user.seller_id
            && let Some(o) = self.engine.sales.order_get(seller, order).await?
        {
            return Ok((seller, o));
        }
        let seller = match self.engine.sales.buyer_order_seller(user.id, order).await? {
            Some(s) => Some(s),
            None => self
                .engine
                .state
                .get(&legacy_pointer_key(order))
                .await?
                .and_then(|b| std::str::from_utf8(&b).ok().and_then(|s| Uuid::parse_str(s).ok())),
        };
        let seller = seller.ok_or_else(not_found)?;
        let o = self.engine.sales.order_get(seller, order).await?.ok_or_else(not_found)?;
        Ok((seller, o))
    }

    /// `order.cancel` / `order.confirm` / shipping: the buyer cancels while placed; the seller
    /// confirms, ships, or cancels.
    pub async fn order_act(&self, user: &User, order_id: Uuid, action: OrderAction) -> Result<Order, SalesError> {
        let (seller, order) = self.find_order(user, order_id).await?;
        let view = Order::view(&order)?;
        let buyer = Some(view.buyer_id);
        let is_seller = user.seller_id == Some(seller);
        let is_buyer = buyer == Some(user.id);
        let action = match action {
            OrderAction::Cancel { .. } if is_seller => OrderAction::Cancel { by_seller: true },
            OrderAction::Cancel { .. } if is_buyer => OrderAction::Cancel { by_seller: false },
            OrderAction::Confirm | OrderAction::Ship if is_seller => action,
            _ if is_seller || is_buyer => {
                return Err(SalesError::Forbidden("only the seller confirms and ships orders"));
            }
            _ => return Err(SalesError::NotFound("no such order".into())),
        };
        match self.engine.sales.order_act(seller, order_id, action, &self.clock.rfc3339()).await? {
            ActionOutcome::Changed(order) => {
                let view = Order::view(&order)?;
                if let Some(buyer) = buyer {
                    self.notify(&view, buyer, seller).await?;
                }
                Ok(view)
            }
            ActionOutcome::NotFound => Err(SalesError::NotFound("no such order".into())),
            ActionOutcome::Invalid { status } => Err(SalesError::InvalidState(format!("the order is {status}").into())),
            ActionOutcome::AwaitingAddress => Err(SalesError::InvalidState(
                "the buyer has not given a delivery address yet; the order can be confirmed once they do".into(),
            )),
        }
    }

    /// `PUT /api/me/orders/{id}/delivery`: the buyer gives (or corrects) the delivery contact of
    /// an order that is still `placed`.
    pub async fn order_delivery(
        &self,
        user: &User,
        order_id: Uuid,
        contact: &DeliveryContact,
    ) -> Result<Order, SalesError> {
        let (seller, order) = self.find_order(user, order_id).await?;
        let view = Order::view(&order)?;
        if view.buyer_id != user.id {
            return Err(SalesError::NotFound("no such order".into()));
        }
        let contact = serde_json::to_string(contact).map_err(|e| EngineError::Internal(e.to_string()))?;
        match self.engine.sales.order_deliver(seller, order_id, &contact, &self.clock.rfc3339()).await? {
            ActionOutcome::Changed(order) => {
                let _ = self.engine.sales.address_unschedule(seller, order_id).await;
                let view = Order::view(&order)?;
                self.notify(&view, user.id, seller).await?;
                Ok(view)
            }
            ActionOutcome::Invalid { status } => Err(SalesError::InvalidState(
                format!("the order is {status}; its delivery contact can change only while it is placed").into(),
            )),
            ActionOutcome::NotFound | ActionOutcome::AwaitingAddress => {
                Err(SalesError::NotFound("no such order".into()))
            }
        }
    }

    /// After the buyer saved their contact: every order of theirs that waits for an address
    /// gets it. Returns how many.
    pub async fn fill_waiting_orders(&self, user: &User, contact: &DeliveryContact) -> Result<usize, SalesError> {
        let mut filled = 0;
        for order in self.buyer_orders(user.id, 1000).await? {
            if order.needs_address {
                match self.order_delivery(user, order.id, contact).await {
                    Ok(_) => filled += 1,
                    // Confirmed or cancelled meanwhile: nothing to fill.
                    Err(SalesError::InvalidState(_)) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(filled)
    }

    /// Cancels orders whose address deadline passed (exactly once across nodes: the engine
    /// changes an order only while it still waits) and tells both sides.
    async fn expire_addresses(&self) {
        let now = self.clock.now_ms();
        let due = match self.engine.sales.addresses_due(now, ADDRESS_BATCH).await {
            Ok(due) => due,
            Err(e) => return tracing::debug!(error = %e, "address deadline scan failed"),
        };
        for (seller, order) in due {
            match self.engine.sales.order_expire_address(seller, order, now, &self.clock.rfc3339()).await {
                Ok(Some(cancelled)) => {
                    let _ = self.engine.sales.address_unschedule(seller, order).await;
                    let view = match Order::view(&cancelled) {
                        Ok(view) => view,
                        Err(e) => {
                            tracing::error!(order = %order, error = %e, "expired order not announced");
                            continue;
                        }
                    };
                    let buyer = view.buyer_id;
                    let told = async {
                        self.notify(&view, buyer, seller).await?;
                        let data = json!({ "kind": "order.address_expired", "order": view });
                        self.publish(buyer, UserEvent::Notify(&data)).await
                    };
                    if let Err(e) = told.await {
                        tracing::warn!(order = %order, error = ?e, "address expiry not announced");
                    }
                }
                // Completed, cancelled or gone: it needs no deadline.
                Ok(None) => {
                    let _ = self.engine.sales.address_unschedule(seller, order).await;
                }
                Err(e) => tracing::debug!(order = %order, error = %e, "address expiry failed; retrying"),
            }
        }
    }

    /// The buyer's orders, oldest first.
    pub async fn buyer_orders(&self, buyer: Uuid, limit: usize) -> Result<Vec<Order>, SalesError> {
        let ids = self.engine.state.index_range(&crate::engine::sales::buyer_orders_key(buyer), None, limit).await?;
        let me = User { id: buyer, name: String::new(), role: Role::Buyer, email: None, phone: None, seller_id: None };
        let mut out = Vec::with_capacity(ids.len());
        for id in ids.iter().filter_map(|i| Uuid::parse_str(i).ok()) {
            match self.find_order(&me, id).await {
                Ok((_, o)) => out.push(Order::view(&o)?),
                Err(SalesError::NotFound(_)) => {}
                Err(e) => return Err(e),
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
    ) -> Result<Vec<Order>, SalesError> {
        let stored = self.engine.sales.seller_orders(seller, after, limit).await?;
        Ok(stored.iter().map(Order::view).collect::<Result<_, _>>()?)
    }

    /// A chat comment from a buyer that is an order command: ordered through the same
    /// operation as the button; the outcome goes privately to `user:<buyer>`.
    pub async fn chat_order(&self, user: &User, show_id: Uuid, msg_id: Uuid, text: &str) {
        if user.role != Role::Buyer {
            return;
        }
        let Some(intent) = chat_order::parse(text) else { return };
        let outcome = self.chat_intent(user, show_id, msg_id, intent).await;
        let result = match outcome {
            Ok(Some(_)) | Ok(None) => Ok(()),
            Err(e) => {
                let failed = json!({ "show_id": show_id, "msg_id": msg_id, "error": ReplyError::from(e) });
                self.publish(user.id, UserEvent::OrderFailed(&failed)).await
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
    ) -> Result<Option<Order>, SalesError> {
        let show = self.shows.get(show_id).await?;
        if show.status != ShowStatus::Live {
            return Ok(None);
        }
        match intent {
            ChatIntent::Cancel => {
                let mine = self.buyer_orders(user.id, 1000).await?;
                let latest = mine.iter().rev().find(|o| o.show_id == show_id && o.status == "placed");
                let Some(id) = latest.map(|o| o.id) else {
                    return Err(SalesError::NotFound("you have no order to cancel in this show".into()));
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
                        .ok_or_else(|| SalesError::NotFound(format!("no product {code} in this show").into()))?,
                    None => show.pinned_product_id.ok_or_else(|| {
                        SalesError::BadRequest("no product on screen; add its code, like “chốt 2 A1”".into())
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
                && s.ends_at_ms > self.clock.now_ms()
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
        if self.ticks.fetch_add(1, std::sync::atomic::Ordering::Relaxed).is_multiple_of(ADDRESS_EVERY_TICKS) {
            self.expire_addresses().await;
        }
        let now = self.clock.now_ms();
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
            match once_per(self.engine.state.as_ref(), &lock, "1", SALES_TICK_PERIOD).await {
                Ok(true) => {}
                Ok(false) => {
                    // Another node broadcast within this tenth of a second; try next tick.
                    self.stock_dirty.lock().unwrap().insert((seller, offer));
                    continue;
                }
                Err(_) => continue,
            }
            if let Ok(Some(state)) = self.engine.sales.offer_get(seller, offer).await {
                let stock = ShowEvent::Stock { offer_id: offer, remaining: state.remaining };
                let _ = self.publish(state.show, stock).await;
            }
        }
        self.finished.lock().unwrap().retain(|_, f| f.at.elapsed() < FINAL_MEMORY);
    }
}
