//! [`Sales`] in memory: every operation under the state lock, then the sales lock.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use uuid::Uuid;

use super::EngineError;
use super::memory::{Entry, MemoryEngine};
use super::sales::*;

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
}

#[async_trait]
impl Sales for MemoryEngine {
    async fn offer_open(&self, offer: &OfferOpen) -> Result<OpenOutcome, EngineError> {
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
            updated_at: String::new(),
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

    async fn order_act(
        &self,
        seller: Uuid,
        order: Uuid,
        action: OrderAction,
        now: &str,
    ) -> Result<ActionOutcome, EngineError> {
        let mut state = self.state.lock().unwrap();
        let mut sales = self.sales.lock().unwrap();
        let Some(record) = sales.orders.get(&order).filter(|o| o.seller == seller) else {
            return Ok(ActionOutcome::NotFound);
        };
        let status = record.order.status.clone();
        let next = match (action, status.as_str()) {
            (OrderAction::Confirm, "placed") => "confirmed",
            (OrderAction::Ship, "confirmed") => "shipped",
            (OrderAction::Cancel { .. }, "placed") => "cancelled",
            (OrderAction::Cancel { by_seller: true }, "confirmed") => "cancelled",
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
        let changed = record.order.clone();
        log(&mut sales, seller, format!("{next} {order}"));
        Ok(ActionOutcome::Changed(changed))
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
