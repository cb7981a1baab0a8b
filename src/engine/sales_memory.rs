//! [`Sales`] in memory: every operation under the state lock, then the sales lock.

use crate::realtime::channel::Channel;
use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use uuid::Uuid;

use serde_json::value::RawValue;

use super::memory::{Entry, MemoryEngine};
use super::sales::*;
use super::{Broker, EngineError, State};

/// A status change: by a user, or the address deadline.
#[derive(Debug, Clone, Copy)]
enum Act {
    User(OrderAction),
    ExpireAddress { now_ms: u64 },
}

/// Everything sales keep in memory.
#[derive(Default)]
pub(crate) struct SalesMem {
    offers: HashMap<(Uuid, Uuid), OfferState>,
    bought: HashMap<(Uuid, Uuid), i64>,
    idem: HashMap<(Uuid, Uuid, String), Idem>,
    orders: HashMap<Uuid, OrderRecord>,
    index: HashMap<Uuid, BTreeSet<Uuid>>,
    log: HashMap<Uuid, VecDeque<String>>,
    schedule: BTreeSet<(u64, Uuid, Uuid)>,
    stats: HashMap<(Uuid, Uuid), HashMap<String, i64>>,
    /// Per offer, the buyers with a stored outcome other than `sold_out`.
    offer_buyers: HashMap<(Uuid, Uuid), HashSet<Uuid>>,
    /// Address deadlines: (due ms, seller, order).
    address_due: BTreeSet<(u64, Uuid, Uuid)>,
    /// Per buyer, their orders' sellers.
    buyer_sellers: HashMap<Uuid, HashMap<Uuid, Uuid>>,
}

struct Idem {
    fingerprint: String,
    outcome: Result<Uuid, Refusal>,
    expires: Instant,
}

struct OrderRecord {
    seller: Uuid,
    buyer: Uuid,
    order: StoredOrder,
    qty: i64,
    offer: Option<Uuid>,
    show: Option<Uuid>,
    product: Uuid,
    unit_price: i64,
    moves: Vec<StockMove>,
    address_due_ms: Option<u64>,
}

fn counter(state: &HashMap<String, Entry>, key: &str) -> Result<i64, EngineError> {
    match state.get(key).filter(|e| e.live(Instant::now())) {
        None => Ok(0),
        Some(e) => std::str::from_utf8(&e.value)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| EngineError::Internal(format!("{key} is not an integer"))),
    }
}

fn add(state: &mut HashMap<String, Entry>, key: &str, delta: i64) -> Result<(), EngineError> {
    let next = counter(state, key)? + delta;
    state.insert(key.to_owned(), Entry { value: Bytes::from(next.to_string()), expires: None });
    Ok(())
}

/// Which sales counters an order moves.
struct SaleRef {
    seller: Uuid,
    show: Option<Uuid>,
    product: Uuid,
    offer: Option<Uuid>,
}

fn stats_add(sales: &mut SalesMem, at: SaleRef, qty: i64, revenue: i64, orders: i64) {
    let Some(show) = at.show else { return };
    let s = sales.stats.entry((at.seller, show)).or_default();
    for prefix in std::iter::once(format!("p:{}", at.product)).chain(at.offer.map(|o| format!("o:{o}"))) {
        *s.entry(format!("{prefix}:orders")).or_default() += orders;
        *s.entry(format!("{prefix}:units")).or_default() += qty;
        *s.entry(format!("{prefix}:revenue")).or_default() += revenue;
    }
}

fn log(sales: &mut SalesMem, seller: Uuid, entry: String) {
    let log = sales.log.entry(seller).or_default();
    log.push_back(entry);
    while log.len() > ORDER_LOG_MAX {
        log.pop_front();
    }
}

impl MemoryEngine {
    fn close_locked(
        state: &mut HashMap<String, Entry>,
        sales: &mut SalesMem,
        seller: Uuid,
        offer: Uuid,
        reason: CloseReason,
    ) -> Result<Option<OfferState>, EngineError> {
        let Some(o) = sales.offers.get_mut(&(seller, offer)) else { return Ok(None) };
        if o.status == OfferStatus::Ended {
            return Ok(None);
        }
        if let CloseReason::Expired { now_ms } = reason
            && o.ends_at_ms > now_ms
        {
            return Ok(None);
        }
        let unsold = o.remaining;
        o.status = OfferStatus::Ended;
        o.remaining = 0;
        let closed = o.clone();
        for (key, per_unit) in &closed.moves {
            add(state, key, unsold * per_unit)?;
        }
        sales.schedule.retain(|(_, s, id)| !(*s == seller && *id == offer));
        Ok(Some(OfferState { remaining: unsold, ..closed }))
    }

    fn place_locked(&self, r: &PlaceOrder) -> Result<PlaceOutcome, EngineError> {
        let mut state = self.state.lock().unwrap();
        let mut sales = self.sales.lock().unwrap();
        let now = Instant::now();
        let idem_id = (r.seller, r.buyer, r.key.clone());
        if let Some(seen) = sales.idem.get(&idem_id).filter(|i| i.expires > now) {
            if seen.fingerprint != r.fingerprint {
                return Ok(PlaceOutcome::Refused(Refusal::IdempotencyConflict));
            }
            return Ok(match seen.outcome {
                Err(refusal) => PlaceOutcome::Refused(refusal),
                Ok(id) => match sales.orders.get(&id) {
                    Some(o) => PlaceOutcome::Replayed { order: o.order.clone() },
                    None => return Err(EngineError::Internal("idempotent order vanished".into())),
                },
            });
        }
        let expires = now + Duration::from_secs(IDEMPOTENCY_TTL_S);
        let refuse = |sales: &mut SalesMem, refusal: Refusal| {
            sales
                .idem
                .insert(idem_id.clone(), Idem { fingerprint: r.fingerprint.clone(), outcome: Err(refusal), expires });
            if let (Target::Offer { offer }, false) = (&r.target, refusal == Refusal::SoldOut) {
                sales.offer_buyers.entry((r.seller, *offer)).or_default().insert(r.buyer);
            }
            Ok(PlaceOutcome::Refused(refusal))
        };
        let (moves, offer_id, remaining) = match &r.target {
            Target::Offer { offer } => {
                let Some(o) = sales.offers.get(&(r.seller, *offer)).cloned() else {
                    return Ok(PlaceOutcome::Refused(Refusal::NoSuchOffer));
                };
                match o.status {
                    OfferStatus::SoldOut => return refuse(&mut sales, Refusal::SoldOut),
                    OfferStatus::Ended => return refuse(&mut sales, Refusal::OfferEnded),
                    OfferStatus::Live if r.now_ms >= o.ends_at_ms => return refuse(&mut sales, Refusal::OfferEnded),
                    OfferStatus::Live => {}
                }
                if o.price != r.unit_price {
                    return Ok(PlaceOutcome::Refused(Refusal::StalePrice));
                }
                let bought = sales.bought.get(&(*offer, r.buyer)).copied().unwrap_or(0);
                if bought + r.qty > o.per_buyer_limit {
                    return refuse(&mut sales, Refusal::LimitReached);
                }
                if o.remaining < r.qty {
                    return refuse(
                        &mut sales,
                        if o.remaining == 0 { Refusal::SoldOut } else { Refusal::InsufficientStock },
                    );
                }
                let entry = sales
                    .offers
                    .get_mut(&(r.seller, *offer))
                    .ok_or_else(|| EngineError::Internal("offer vanished".into()))?;
                entry.remaining -= r.qty;
                if entry.remaining == 0 {
                    entry.status = OfferStatus::SoldOut;
                }
                let left = entry.remaining;
                *sales.bought.entry((*offer, r.buyer)).or_default() += r.qty;
                sales.offer_buyers.entry((r.seller, *offer)).or_default().insert(r.buyer);
                (o.moves.clone(), Some(*offer), Some(left))
            }
            Target::Stock { moves } => {
                for (key, per_unit) in moves {
                    if counter(&state, key)? < r.qty * per_unit {
                        return refuse(&mut sales, Refusal::InsufficientStock);
                    }
                }
                for (key, per_unit) in moves {
                    add(&mut state, key, -r.qty * per_unit)?;
                }
                (moves.clone(), None, None)
            }
        };
        let order = StoredOrder {
            id: r.order_id,
            json: r.order_json.clone(),
            status: "placed".into(),
            needs_address: r.address_due_ms.is_some(),
            ..StoredOrder::default()
        };
        sales.orders.insert(
            r.order_id,
            OrderRecord {
                seller: r.seller,
                buyer: r.buyer,
                order: order.clone(),
                qty: r.qty,
                offer: offer_id,
                show: r.show,
                product: r.product,
                unit_price: r.unit_price,
                moves,
                address_due_ms: r.address_due_ms,
            },
        );
        sales.index.entry(r.seller).or_default().insert(r.order_id);
        log(&mut sales, r.seller, format!("placed {}", r.order_id));
        sales.idem.insert(idem_id, Idem { fingerprint: r.fingerprint.clone(), outcome: Ok(r.order_id), expires });
        stats_add(
            &mut sales,
            SaleRef { seller: r.seller, show: r.show, product: r.product, offer: offer_id },
            r.qty,
            r.qty * r.unit_price,
            1,
        );
        if sales.idem.len() > 100_000 {
            sales.idem.retain(|_, i| i.expires > now);
        }
        let sold_out = remaining == Some(0);
        Ok(PlaceOutcome::Placed { order, remaining, sold_out })
    }

    fn act_locked(&self, seller: Uuid, order: Uuid, action: Act, now: &str) -> Result<ActionOutcome, EngineError> {
        let mut state = self.state.lock().unwrap();
        let mut sales = self.sales.lock().unwrap();
        let Some(record) = sales.orders.get(&order).filter(|o| o.seller == seller) else {
            return Ok(ActionOutcome::NotFound);
        };
        let status = record.order.status.clone();
        let waiting = record.order.needs_address;
        let due = record.address_due_ms.unwrap_or(u64::MAX);
        let next = match (action, status.as_str()) {
            (Act::User(OrderAction::Confirm), "placed") if waiting => return Ok(ActionOutcome::AwaitingAddress),
            (Act::User(OrderAction::Confirm), "placed") => "confirmed",
            (Act::User(OrderAction::Ship), "confirmed") => "shipped",
            (Act::User(OrderAction::Cancel { .. }), "placed") => "cancelled",
            (Act::User(OrderAction::Cancel { by_seller: true }), "confirmed") => "cancelled",
            (Act::ExpireAddress { now_ms }, "placed") if waiting && due <= now_ms => "cancelled",
            _ => return Ok(ActionOutcome::Invalid { status }),
        };
        let (qty, moves, offer, buyer, show, product, price) = (
            record.qty,
            record.moves.clone(),
            record.offer,
            record.buyer,
            record.show,
            record.product,
            record.unit_price,
        );
        if next == "cancelled" {
            for (key, per_unit) in &moves {
                add(&mut state, key, qty * per_unit)?;
            }
            if let Some(offer) = offer
                && sales.offers.get(&(seller, offer)).is_some_and(|o| o.status == OfferStatus::Live)
                && let Some(b) = sales.bought.get_mut(&(offer, buyer))
            {
                *b -= qty;
            }
            stats_add(&mut sales, SaleRef { seller, show, product, offer }, -qty, -qty * price, -1);
        }
        let record = sales.orders.get_mut(&order).ok_or_else(|| EngineError::Internal("order vanished".into()))?;
        record.order.status = next.to_owned();
        record.order.updated_at = now.to_owned();
        // Kept only when the deadline cancelled it: that is the reason the order shows.
        if next == "cancelled" && matches!(action, Act::User(_)) {
            record.order.needs_address = false;
        }
        let changed = record.order.clone();
        log(&mut sales, seller, format!("{next} {order}"));
        Ok(ActionOutcome::Changed(changed))
    }
}

#[async_trait]
impl Sales for MemoryEngine {
    async fn offer_open(&self, offer: &OfferState) -> Result<OpenOutcome, EngineError> {
        let mut state = self.state.lock().unwrap();
        let mut sales = self.sales.lock().unwrap();
        for (index, (key, per_unit)) in offer.moves.iter().enumerate() {
            let available = counter(&state, key)?;
            if available < offer.quantity * per_unit {
                return Ok(OpenOutcome::Short { index, available });
            }
        }
        for (key, per_unit) in &offer.moves {
            add(&mut state, key, -offer.quantity * per_unit)?;
        }
        sales.offers.insert(
            (offer.seller, offer.id),
            OfferState {
                seller: offer.seller,
                id: offer.id,
                show: offer.show,
                product: offer.product,
                product_name: offer.product_name.clone(),
                price: offer.price,
                list_price: offer.list_price,
                quantity: offer.quantity,
                remaining: offer.quantity,
                per_buyer_limit: offer.per_buyer_limit,
                starts_at_ms: offer.starts_at_ms,
                ends_at_ms: offer.ends_at_ms,
                status: OfferStatus::Live,
                moves: offer.moves.clone(),
            },
        );
        sales.schedule.insert((offer.ends_at_ms, offer.seller, offer.id));
        Ok(OpenOutcome::Opened)
    }

    async fn offer_get(&self, seller: Uuid, offer: Uuid) -> Result<Option<OfferState>, EngineError> {
        Ok(self.sales.lock().unwrap().offers.get(&(seller, offer)).cloned())
    }

    async fn offer_close(
        &self,
        seller: Uuid,
        offer: Uuid,
        reason: CloseReason,
    ) -> Result<Option<OfferState>, EngineError> {
        let mut state = self.state.lock().unwrap();
        let mut sales = self.sales.lock().unwrap();
        Self::close_locked(&mut state, &mut sales, seller, offer, reason)
    }

    async fn offers_due(&self, now_ms: u64, limit: usize) -> Result<Vec<(Uuid, Uuid)>, EngineError> {
        let sales = self.sales.lock().unwrap();
        Ok(sales.schedule.iter().take_while(|(end, ..)| *end <= now_ms).take(limit).map(|(_, s, o)| (*s, *o)).collect())
    }

    async fn offer_unschedule(&self, seller: Uuid, offer: Uuid) -> Result<(), EngineError> {
        self.sales.lock().unwrap().schedule.retain(|(_, s, o)| !(*s == seller && *o == offer));
        Ok(())
    }

    async fn order_place(&self, r: &PlaceOrder) -> Result<PlaceOutcome, EngineError> {
        let outcome = self.place_locked(r)?;
        if let PlaceOutcome::Placed { .. } = outcome {
            // After the locks: the memory engine has no crash between storing and telling.
            let data = RawValue::from_string(r.seller_event.clone())
                .map_err(|e| EngineError::Internal(format!("seller event is not JSON: {e}")))?;
            Broker::publish(self, &Channel::seller(r.seller).to_string(), "order", &data, true).await?;
        }
        Ok(outcome)
    }

    async fn order_act(
        &self,
        seller: Uuid,
        order: Uuid,
        action: OrderAction,
        now: &str,
    ) -> Result<ActionOutcome, EngineError> {
        self.act_locked(seller, order, Act::User(action), now)
    }

    async fn order_expire_address(
        &self,
        seller: Uuid,
        order: Uuid,
        now_ms: u64,
        now: &str,
    ) -> Result<Option<StoredOrder>, EngineError> {
        Ok(match self.act_locked(seller, order, Act::ExpireAddress { now_ms }, now)? {
            ActionOutcome::Changed(order) => Some(order),
            _ => None,
        })
    }

    async fn order_deliver(
        &self,
        seller: Uuid,
        order: Uuid,
        delivery: &str,
        now: &str,
    ) -> Result<ActionOutcome, EngineError> {
        let mut sales = self.sales.lock().unwrap();
        let Some(record) = sales.orders.get_mut(&order).filter(|o| o.seller == seller) else {
            return Ok(ActionOutcome::NotFound);
        };
        if record.order.status != "placed" {
            return Ok(ActionOutcome::Invalid { status: record.order.status.clone() });
        }
        record.order.delivery = Some(delivery.to_owned());
        record.order.needs_address = false;
        record.order.updated_at = now.to_owned();
        let changed = record.order.clone();
        log(&mut sales, seller, format!("delivery {order}"));
        Ok(ActionOutcome::Changed(changed))
    }

    async fn address_schedule(&self, seller: Uuid, order: Uuid, due_ms: u64) -> Result<(), EngineError> {
        self.sales.lock().unwrap().address_due.insert((due_ms, seller, order));
        Ok(())
    }

    async fn addresses_due(&self, now_ms: u64, limit: usize) -> Result<Vec<(Uuid, Uuid)>, EngineError> {
        let sales = self.sales.lock().unwrap();
        Ok(sales
            .address_due
            .iter()
            .take_while(|(due, ..)| *due <= now_ms)
            .take(limit)
            .map(|(_, s, o)| (*s, *o))
            .collect())
    }

    async fn address_unschedule(&self, seller: Uuid, order: Uuid) -> Result<(), EngineError> {
        self.sales.lock().unwrap().address_due.retain(|(_, s, o)| !(*s == seller && *o == order));
        Ok(())
    }

    async fn order_file(&self, buyer: Uuid, seller: Uuid, order: Uuid, event: &str) -> Result<(), EngineError> {
        let new = self.sales.lock().unwrap().buyer_sellers.entry(buyer).or_default().insert(order, seller).is_none();
        if new {
            State::index_add(self, &buyer_orders_key(buyer), &order.to_string()).await?;
            let data = RawValue::from_string(event.to_owned())
                .map_err(|e| EngineError::Internal(format!("buyer event is not JSON: {e}")))?;
            Broker::publish(self, &Channel::user(buyer).to_string(), "order", &data, true).await?;
        }
        Ok(())
    }

    async fn buyer_order_seller(&self, buyer: Uuid, order: Uuid) -> Result<Option<Uuid>, EngineError> {
        Ok(self.sales.lock().unwrap().buyer_sellers.get(&buyer).and_then(|m| m.get(&order)).copied())
    }

    async fn offer_buyers(&self, seller: Uuid, offer: Uuid, cap: usize) -> Result<Option<Vec<Uuid>>, EngineError> {
        let sales = self.sales.lock().unwrap();
        let buyers = sales.offer_buyers.get(&(seller, offer));
        Ok(match buyers {
            None => Some(Vec::new()),
            Some(b) if b.len() > cap => None,
            Some(b) => Some(b.iter().copied().collect()),
        })
    }

    async fn order_get(&self, seller: Uuid, order: Uuid) -> Result<Option<StoredOrder>, EngineError> {
        Ok(self.sales.lock().unwrap().orders.get(&order).filter(|o| o.seller == seller).map(|o| o.order.clone()))
    }
    async fn seller_orders(
        &self,
        seller: Uuid,
        after: Option<Uuid>,
        limit: usize,
    ) -> Result<Vec<StoredOrder>, EngineError> {
        let sales = self.sales.lock().unwrap();
        let Some(index) = sales.index.get(&seller) else { return Ok(Vec::new()) };
        let ids: Vec<Uuid> = match after {
            Some(a) => {
                index.range((std::ops::Bound::Excluded(a), std::ops::Bound::Unbounded)).take(limit).copied().collect()
            }
            None => index.iter().take(limit).copied().collect(),
        };
        Ok(ids.iter().filter_map(|id| sales.orders.get(id).map(|o| o.order.clone())).collect())
    }

    async fn show_sales(&self, seller: Uuid, show: Uuid) -> Result<Vec<(String, i64)>, EngineError> {
        let sales = self.sales.lock().unwrap();
        let mut out: Vec<(String, i64)> = sales
            .stats
            .get(&(seller, show))
            .map(|m| m.iter().map(|(k, v)| (k.clone(), *v)).collect())
            .unwrap_or_default();
        out.sort();
        Ok(out)
    }
}
