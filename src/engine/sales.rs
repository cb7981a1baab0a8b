//! Flash offers and order capture: the atomic operations money depends on.
//!
//! Guarantees of every implementation (checked by `tests/it/sales.rs` against a reference
//! model): opening an offer takes its quantity from stock (every component of a combo) or takes
//! nothing; placing an order checks the offer (live, not past its end), the buyer's limit and what
//! remains, then takes the units, stores the order, appends it to the seller's order log and
//! records the idempotency key, as one step; the same key from the same buyer gives the same
//! outcome (order or refusal) without taking anything again; an offer closes once, returning
//! what it did not sell. Cancelling an order returns its units to the product's stock.
//!
//! Keys (all under the seller's hash tag, so each operation is one script on one slot):
//! `{s:<seller>}:offer:<id>` (a hash), `…:offer:<id>:buyer:<buyer>` (units bought),
//! `{s:<seller>}:idem:<buyer>:<key>`, `{s:<seller>}:order:<id>` (a hash), `{s:<seller>}:orders`
//! (the order log, a Redis Stream), `{s:<seller>}:order-index`, `{s:<seller>}:show:<id>:sales`.
//! `…:offer:<id>:buyers` is the set of buyers with a stored outcome on the offer other than
//! `sold_out`, so a node that knows the offer is over can answer everyone else without a call.
//! Placing an order also publishes it on `seller:<seller>` (whose history shares the seller's
//! tag) in the same step, so the seller's feed cannot miss an order that was stored.
//! A buyer's side of an order lives under the buyer's tag: `{u:<buyer>}:orders` (the index) and
//! `{u:<buyer>}:order-sellers` (order → seller), written with the `order` event on
//! `user:<buyer>` in one step by [`Sales::order_file`].
//! The expiry schedule `offers:expiry` and the address deadlines `orders:address-due` are the
//! global keys: each is written before what it schedules exists, so nothing can miss its time.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::EngineError;
use crate::clock::ms_to_rfc3339;

/// How long an idempotency key is remembered.
pub const IDEMPOTENCY_TTL_S: u64 = 24 * 3600;
/// Entries kept in a seller's order log stream (trimmed approximately beyond this).
pub const ORDER_LOG_MAX: usize = 100_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OfferStatus {
    Live,
    SoldOut,
    Ended,
}

impl OfferStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            OfferStatus::Live => "live",
            OfferStatus::SoldOut => "sold_out",
            OfferStatus::Ended => "ended",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "live" => Some(OfferStatus::Live),
            "sold_out" => Some(OfferStatus::SoldOut),
            "ended" => Some(OfferStatus::Ended),
            _ => None,
        }
    }
}

/// A stock counter and how many of its units one unit of the product takes.
pub type StockMove = (String, i64);

/// An offer: as opened (all `quantity` remaining, `live`), as stored, and, serialized, as
/// clients see it (`offer` in PROTOCOL.md §2, through [`OfferWire`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(into = "OfferWire")]
pub struct OfferState {
    pub seller: Uuid,
    pub id: Uuid,
    pub show: Uuid,
    pub product: Uuid,
    pub product_name: String,
    pub price: i64,
    pub list_price: i64,
    pub quantity: i64,
    pub remaining: i64,
    pub per_buyer_limit: i64,
    pub starts_at_ms: u64,
    pub ends_at_ms: u64,
    pub status: OfferStatus,
    /// Stock counters (unprefixed keys) and units per product unit.
    pub moves: Vec<StockMove>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenOutcome {
    Opened,
    /// Stock counter `index` had only `available` for the quantity asked.
    Short {
        index: usize,
        available: i64,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    Stopped,
    /// Only when the offer's end has passed at `now_ms`.
    Expired {
        now_ms: u64,
    },
}

/// What an order takes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Offer { offer: Uuid },
    Stock { moves: Vec<StockMove> },
}

/// A request to place an order. The node builds the order's JSON (with server prices); the
/// engine stores it only when every check passes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlaceOrder {
    pub seller: Uuid,
    pub buyer: Uuid,
    pub key: String,
    /// Identifies the request's parameters: the same key with another fingerprint conflicts.
    pub fingerprint: String,
    pub order_id: Uuid,
    pub qty: i64,
    /// The unit price the node used; the offer's price must match.
    pub unit_price: i64,
    pub now_ms: u64,
    pub target: Target,
    pub show: Option<Uuid>,
    pub product: Uuid,
    /// The order as clients see it, without `status` (kept apart, it changes).
    pub order_json: String,
    /// When the order has no delivery address yet, the time (ms) it cancels itself unless
    /// completed; until then the seller cannot confirm it. Scheduled by the caller first.
    pub address_due_ms: Option<u64>,
    /// The `data` of the `order` event published on `seller:<seller>` when the order is stored.
    pub seller_event: String,
}

/// Why an order was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Refusal {
    SoldOut,
    LimitReached,
    OfferEnded,
    InsufficientStock,
    IdempotencyConflict,
    /// The offer's price is not the one the node used (a stale cache); retry after reloading.
    StalePrice,
    NoSuchOffer,
}

impl Refusal {
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::SoldOut => "sold_out",
            Refusal::LimitReached => "limit_reached",
            Refusal::OfferEnded => "offer_ended",
            Refusal::InsufficientStock => "insufficient_stock",
            Refusal::IdempotencyConflict => "idempotency_conflict",
            Refusal::StalePrice => "stale_price",
            Refusal::NoSuchOffer => "no_such_offer",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [
            Refusal::SoldOut,
            Refusal::LimitReached,
            Refusal::OfferEnded,
            Refusal::InsufficientStock,
            Refusal::IdempotencyConflict,
            Refusal::StalePrice,
            Refusal::NoSuchOffer,
        ]
        .into_iter()
        .find(|r| r.as_str() == s)
    }
}

/// A stored order: its JSON without status, and what changes: status, delivery.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StoredOrder {
    pub id: Uuid,
    pub json: String,
    pub status: String,
    pub updated_at: String,
    /// The delivery contact given after placing (JSON), replacing the one in `json`.
    pub delivery: Option<String>,
    /// Placed without a delivery address, and not completed yet.
    pub needs_address: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlaceOutcome {
    /// Stored now; for an offer, what remains and whether this order sold it out.
    Placed {
        order: StoredOrder,
        remaining: Option<i64>,
        sold_out: bool,
    },
    /// The key was seen before and that order is returned.
    Replayed {
        order: StoredOrder,
    },
    Refused(Refusal),
}

/// Order status changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderAction {
    Confirm,
    Ship,
    /// By the buyer (only while placed) or the seller (placed or confirmed).
    Cancel {
        by_seller: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActionOutcome {
    Changed(StoredOrder),
    NotFound,
    /// Not allowed from the current status.
    Invalid {
        status: String,
    },
    /// A confirmation of an order that still waits for its delivery address.
    AwaitingAddress,
}

/// The sales operations.
#[async_trait]
pub trait Sales: Send + Sync + 'static {
    async fn offer_open(&self, offer: &OfferState) -> Result<OpenOutcome, EngineError>;
    async fn offer_get(&self, seller: Uuid, offer: Uuid) -> Result<Option<OfferState>, EngineError>;
    /// Closes a live (or sold-out) offer, returning unsold units to stock; `None` when it was
    /// already closed, unknown, or (for expiry) not yet due. Exactly once per offer.
    async fn offer_close(
        &self,
        seller: Uuid,
        offer: Uuid,
        reason: CloseReason,
    ) -> Result<Option<OfferState>, EngineError>;
    /// Offers whose end is at or before `now_ms`, from the expiry schedule.
    async fn offers_due(&self, now_ms: u64, limit: usize) -> Result<Vec<(Uuid, Uuid)>, EngineError>;
    /// Removes an offer from the expiry schedule.
    async fn offer_unschedule(&self, seller: Uuid, offer: Uuid) -> Result<(), EngineError>;
    async fn order_place(&self, request: &PlaceOrder) -> Result<PlaceOutcome, EngineError>;
    /// Applies a status change; `now` is stored as `updated_at`.
    async fn order_act(
        &self,
        seller: Uuid,
        order: Uuid,
        action: OrderAction,
        now: &str,
    ) -> Result<ActionOutcome, EngineError>;
    async fn order_get(&self, seller: Uuid, order: Uuid) -> Result<Option<StoredOrder>, EngineError>;
    /// Gives a placed order its delivery contact (`delivery`, JSON); it no longer needs an
    /// address. `Invalid` once the order is past `placed`.
    async fn order_deliver(
        &self,
        seller: Uuid,
        order: Uuid,
        delivery: &str,
        now: &str,
    ) -> Result<ActionOutcome, EngineError>;
    /// Cancels an order that still needs its address once its deadline (`now_ms` at or past
    /// it) has come, returning its units; `None` when it was completed, changed or is not due.
    /// Exactly once per order.
    async fn order_expire_address(
        &self,
        seller: Uuid,
        order: Uuid,
        now_ms: u64,
        now: &str,
    ) -> Result<Option<StoredOrder>, EngineError>;
    /// Schedules the address deadline of an order about to be placed.
    async fn address_schedule(&self, seller: Uuid, order: Uuid, due_ms: u64) -> Result<(), EngineError>;
    /// Orders whose address deadline is at or before `now_ms`.
    async fn addresses_due(&self, now_ms: u64, limit: usize) -> Result<Vec<(Uuid, Uuid)>, EngineError>;
    async fn address_unschedule(&self, seller: Uuid, order: Uuid) -> Result<(), EngineError>;
    /// Files a stored order on the buyer's side: their index, order → seller, and (the first
    /// time only) the `order` event with `event` as data on `user:<buyer>`, as one step.
    /// Idempotent: a replay files nothing twice.
    async fn order_file(&self, buyer: Uuid, seller: Uuid, order: Uuid, event: &str) -> Result<(), EngineError>;
    /// The seller of one of the buyer's orders, as filed.
    async fn buyer_order_seller(&self, buyer: Uuid, order: Uuid) -> Result<Option<Uuid>, EngineError>;
    /// The buyers with a stored outcome on the offer other than `sold_out` (at most `cap`;
    /// `None` when there are more).
    async fn offer_buyers(&self, seller: Uuid, offer: Uuid, cap: usize) -> Result<Option<Vec<Uuid>>, EngineError>;
    /// The seller's orders, oldest first, after `after`.
    async fn seller_orders(
        &self,
        seller: Uuid,
        after: Option<Uuid>,
        limit: usize,
    ) -> Result<Vec<StoredOrder>, EngineError>;
    /// Per show: `(field, value)` sales counters (`p:<product>:orders|units|revenue`,
    /// `o:<offer>:…`).
    async fn show_sales(&self, seller: Uuid, show: Uuid) -> Result<Vec<(String, i64)>, EngineError>;
}

pub fn offer_key(seller: Uuid, offer: Uuid) -> String {
    format!("{{s:{seller}}}:offer:{offer}")
}
pub fn buyer_key(seller: Uuid, offer: Uuid, buyer: Uuid) -> String {
    format!("{{s:{seller}}}:offer:{offer}:buyer:{buyer}")
}
pub fn idem_key(seller: Uuid, buyer: Uuid, key: &str) -> String {
    format!("{{s:{seller}}}:idem:{buyer}:{key}")
}
pub fn order_key(seller: Uuid, order: Uuid) -> String {
    format!("{{s:{seller}}}:order:{order}")
}
pub fn order_log_key(seller: Uuid) -> String {
    format!("{{s:{seller}}}:orders")
}
pub fn order_index_key(seller: Uuid) -> String {
    format!("{{s:{seller}}}:order-index")
}
pub fn sales_key(seller: Uuid, show: Uuid) -> String {
    format!("{{s:{seller}}}:show:{show}:sales")
}
pub fn offer_buyers_key(seller: Uuid, offer: Uuid) -> String {
    format!("{{s:{seller}}}:offer:{offer}:buyers")
}
pub fn buyer_orders_key(buyer: Uuid) -> String {
    format!("{{u:{buyer}}}:orders")
}
pub fn buyer_sellers_key(buyer: Uuid) -> String {
    format!("{{u:{buyer}}}:order-sellers")
}
pub const EXPIRY_SCHEDULE: &str = "offers:expiry";
pub const ADDRESS_SCHEDULE: &str = "orders:address-due";

/// The wire form of an [`OfferState`]: what it serializes as.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OfferWire {
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

impl From<OfferState> for OfferWire {
    fn from(s: OfferState) -> Self {
        OfferWire {
            id: s.id,
            show_id: s.show,
            product_id: s.product,
            product_name: s.product_name,
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
