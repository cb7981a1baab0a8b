//! The sales operations on both engines, against a reference model.

use std::collections::HashMap;

use ocop_live::engine::sales::*;
use uuid::Uuid;

use crate::engine::Backend;

macro_rules! both {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $( #[tokio::test] async fn $name() { super::$name(super::Backend::memory(100).await).await } )*
        }
        mod redis {
            $( #[tokio::test] async fn $name() { super::$name(super::Backend::redis(100).await).await } )*
        }
    };
}

both!(
    an_offer_sells_exactly_its_quantity,
    replays_and_conflicts,
    combos_open_all_or_nothing,
    random_sequences_agree_with_the_model
);

fn stock_key(seller: Uuid, product: Uuid) -> String {
    format!("{{s:{seller}}}:stock:{product}")
}

fn open(seller: Uuid, product: Uuid, quantity: i64, limit: i64, ends_at_ms: u64) -> OfferState {
    OfferState {
        seller,
        id: Uuid::now_v7(),
        show: Uuid::now_v7(),
        product,
        product_name: "Mật ong".into(),
        price: 99_000,
        list_price: 120_000,
        quantity,
        remaining: quantity,
        per_buyer_limit: limit,
        starts_at_ms: 0,
        ends_at_ms,
        status: OfferStatus::Live,
        moves: vec![(stock_key(seller, product), 1)],
    }
}

fn place(seller: Uuid, offer: &OfferState, buyer: Uuid, key: &str, qty: i64, now_ms: u64) -> PlaceOrder {
    PlaceOrder {
        seller,
        buyer,
        key: key.to_owned(),
        fingerprint: format!("{}:{qty}", offer.id),
        order_id: Uuid::now_v7(),
        qty,
        unit_price: offer.price,
        now_ms,
        target: Target::Offer { offer: offer.id },
        show: Some(offer.show),
        product: offer.product,
        order_json: format!(r#"{{"qty":{qty}}}"#),
        address_due_ms: None,
        seller_event: format!(r#"{{"order":{{"qty":{qty}}}}}"#),
    }
}

async fn stock(b: &Backend, key: &str) -> i64 {
    b.engine.state.incr_by(key, 0).await.unwrap()
}

async fn an_offer_sells_exactly_its_quantity(b: Backend) {
    let sales = b.engine.sales.clone();
    let (seller, product) = (Uuid::now_v7(), Uuid::now_v7());
    b.engine.state.set(&stock_key(seller, product), b"150", None).await.unwrap();
    let offer = open(seller, product, 100, 2, u64::MAX / 2);
    assert_eq!(sales.offer_open(&offer).await.unwrap(), OpenOutcome::Opened);
    assert_eq!(stock(&b, &stock_key(seller, product)).await, 50);
    // 120 buyers each want 1, concurrently: exactly 100 succeed.
    let tasks: Vec<_> = (0..120)
        .map(|i| {
            let sales = sales.clone();
            let request = place(seller, &offer, Uuid::now_v7(), &format!("k{i}"), 1, 1);
            tokio::spawn(async move { sales.order_place(&request).await.unwrap() })
        })
        .collect();
    let mut placed = 0;
    let mut refused = HashMap::new();
    for t in tasks {
        match t.await.unwrap() {
            PlaceOutcome::Placed { .. } => placed += 1,
            PlaceOutcome::Refused(r) => *refused.entry(r).or_insert(0) += 1,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(placed, 100);
    assert_eq!(refused.get(&Refusal::SoldOut), Some(&20));
    let state = sales.offer_get(seller, offer.id).await.unwrap().unwrap();
    assert_eq!((state.remaining, state.status), (0, OfferStatus::SoldOut));
    assert_eq!(sales.seller_orders(seller, None, 1000).await.unwrap().len(), 100);
    // Closing a sold-out offer returns nothing; the stock stays at 50.
    let closed = sales.offer_close(seller, offer.id, CloseReason::Stopped).await.unwrap().unwrap();
    assert_eq!(closed.remaining, 0);
    assert!(sales.offer_close(seller, offer.id, CloseReason::Stopped).await.unwrap().is_none());
    assert_eq!(stock(&b, &stock_key(seller, product)).await, 50);
    let stats: HashMap<String, i64> = sales.show_sales(seller, offer.show).await.unwrap().into_iter().collect();
    assert_eq!(stats[&format!("o:{}:units", offer.id)], 100);
    assert_eq!(stats[&format!("p:{product}:revenue")], 100 * 99_000);
}

async fn replays_and_conflicts(b: Backend) {
    let sales = b.engine.sales.clone();
    let (seller, product, buyer) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    b.engine.state.set(&stock_key(seller, product), b"10", None).await.unwrap();
    let offer = open(seller, product, 5, 3, 10_000);
    sales.offer_open(&offer).await.unwrap();
    let first = place(seller, &offer, buyer, "key-1", 2, 1);
    let PlaceOutcome::Placed { order, remaining, .. } = sales.order_place(&first).await.unwrap() else { panic!() };
    assert_eq!(remaining, Some(3));
    // The same request again (a lost reply): the same order, nothing taken.
    let mut again = first.clone();
    again.order_id = Uuid::now_v7();
    assert_eq!(sales.order_place(&again).await.unwrap(), PlaceOutcome::Replayed { order: order.clone() });
    assert_eq!(sales.offer_get(seller, offer.id).await.unwrap().unwrap().remaining, 3);
    // The same key with other parameters conflicts.
    let other = place(seller, &offer, buyer, "key-1", 1, 1);
    assert_eq!(sales.order_place(&other).await.unwrap(), PlaceOutcome::Refused(Refusal::IdempotencyConflict));
    // The limit counts what this buyer holds; a refusal is remembered under its key too.
    let over = place(seller, &offer, buyer, "key-2", 2, 1);
    assert_eq!(sales.order_place(&over).await.unwrap(), PlaceOutcome::Refused(Refusal::LimitReached));
    assert_eq!(sales.order_place(&over).await.unwrap(), PlaceOutcome::Refused(Refusal::LimitReached));
    // Stale prices are refused without being remembered.
    let mut stale = place(seller, &offer, buyer, "key-3", 1, 1);
    stale.unit_price = 1;
    assert_eq!(sales.order_place(&stale).await.unwrap(), PlaceOutcome::Refused(Refusal::StalePrice));
    // Too late.
    let late = place(seller, &offer, Uuid::now_v7(), "key-4", 1, 10_000);
    assert_eq!(sales.order_place(&late).await.unwrap(), PlaceOutcome::Refused(Refusal::OfferEnded));
    // Cancel returns the units to stock and frees the buyer's limit while the offer is live.
    let ActionOutcome::Changed(c) =
        sales.order_act(seller, order.id, OrderAction::Cancel { by_seller: false }, "t").await.unwrap()
    else {
        panic!()
    };
    assert_eq!(c.status, "cancelled");
    assert_eq!(stock(&b, &stock_key(seller, product)).await, 7);
    assert!(matches!(
        sales.order_act(seller, order.id, OrderAction::Confirm, "t").await.unwrap(),
        ActionOutcome::Invalid { .. }
    ));
    let retry = place(seller, &offer, buyer, "key-5", 3, 1);
    assert!(matches!(sales.order_place(&retry).await.unwrap(), PlaceOutcome::Placed { .. }));
    // Expiry: not before the end, then once, returning the unsold units.
    assert!(sales.offer_close(seller, offer.id, CloseReason::Expired { now_ms: 9_999 }).await.unwrap().is_none());
    assert_eq!(sales.offers_due(10_000, 10).await.unwrap(), vec![(seller, offer.id)]);
    let closed = sales.offer_close(seller, offer.id, CloseReason::Expired { now_ms: 10_000 }).await.unwrap().unwrap();
    assert_eq!(closed.remaining, 0);
    assert!(sales.offer_close(seller, offer.id, CloseReason::Expired { now_ms: 10_001 }).await.unwrap().is_none());
    assert!(sales.offers_due(20_000, 10).await.unwrap().is_empty());
    assert_eq!(stock(&b, &stock_key(seller, product)).await, 7);
}

async fn combos_open_all_or_nothing(b: Backend) {
    let sales = b.engine.sales.clone();
    let seller = Uuid::now_v7();
    let (honey, tea, combo) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    b.engine.state.set(&stock_key(seller, honey), b"10", None).await.unwrap();
    b.engine.state.set(&stock_key(seller, tea), b"5", None).await.unwrap();
    let mut offer = open(seller, combo, 3, 1, u64::MAX / 2);
    offer.moves = vec![(stock_key(seller, honey), 2), (stock_key(seller, tea), 2)];
    assert_eq!(sales.offer_open(&offer).await.unwrap(), OpenOutcome::Short { index: 1, available: 5 });
    assert_eq!((stock(&b, &stock_key(seller, honey)).await, stock(&b, &stock_key(seller, tea)).await), (10, 5));
    assert!(sales.offers_due(u64::MAX, 10).await.unwrap().is_empty());
    offer.quantity = 2;
    assert_eq!(sales.offer_open(&offer).await.unwrap(), OpenOutcome::Opened);
    assert_eq!((stock(&b, &stock_key(seller, honey)).await, stock(&b, &stock_key(seller, tea)).await), (6, 1));
    let closed = sales.offer_close(seller, offer.id, CloseReason::Stopped).await.unwrap().unwrap();
    assert_eq!(closed.remaining, 2);
    assert_eq!((stock(&b, &stock_key(seller, honey)).await, stock(&b, &stock_key(seller, tea)).await), (10, 5));
}

/// A deterministic generator, so a failing sequence can be replayed from its seed.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The reference: the rules written plainly.
#[derive(Default)]
struct Model {
    stock: i64,
    offers: HashMap<Uuid, (i64, i64, OfferStatus, u64)>,
    bought: HashMap<(Uuid, Uuid), i64>,
    idem: HashMap<(Uuid, String), (String, Result<Uuid, Refusal>)>,
    orders: HashMap<Uuid, (Uuid, Uuid, i64, String)>,
}

impl Model {
    fn place(&mut self, offer: Uuid, buyer: Uuid, key: &str, qty: i64, now: u64, id: Uuid) -> Result<Uuid, Refusal> {
        let fp = format!("{offer}:{qty}");
        if let Some((f, out)) = self.idem.get(&(buyer, key.to_owned())) {
            return if *f != fp { Err(Refusal::IdempotencyConflict) } else { *out };
        }
        let (remaining, limit, status, ends) = self.offers[&offer];
        let out = if status == OfferStatus::SoldOut {
            Err(Refusal::SoldOut)
        } else if status == OfferStatus::Ended || now >= ends {
            Err(Refusal::OfferEnded)
        } else if self.bought.get(&(offer, buyer)).unwrap_or(&0) + qty > limit {
            Err(Refusal::LimitReached)
        } else if remaining < qty {
            Err(if remaining == 0 { Refusal::SoldOut } else { Refusal::InsufficientStock })
        } else {
            let o = self.offers.get_mut(&offer).unwrap();
            o.0 -= qty;
            if o.0 == 0 {
                o.2 = OfferStatus::SoldOut;
            }
            *self.bought.entry((offer, buyer)).or_default() += qty;
            self.orders.insert(id, (offer, buyer, qty, "placed".into()));
            Ok(id)
        };
        self.idem.insert((buyer, key.to_owned()), (fp, out));
        out
    }
}

async fn random_sequences_agree_with_the_model(b: Backend) {
    let sales = b.engine.sales.clone();
    for seed in 1..=6u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let (seller, product) = (Uuid::now_v7(), Uuid::now_v7());
        let key = stock_key(seller, product);
        b.engine.state.set(&key, b"40", None).await.unwrap();
        let mut model = Model { stock: 40, ..Default::default() };
        let buyers: Vec<Uuid> = (0..4).map(|_| Uuid::now_v7()).collect();
        let mut offers: Vec<OfferState> = Vec::new();
        let mut now = 1_000u64;
        for step in 0..150 {
            now += rng.below(50);
            match rng.below(10) {
                0 => {
                    let q = 1 + rng.below(12) as i64;
                    let o = open(seller, product, q, 1 + rng.below(4) as i64, now + 200 + rng.below(2_000));
                    let got = sales.offer_open(&o).await.unwrap();
                    let want = if model.stock >= q {
                        OpenOutcome::Opened
                    } else {
                        OpenOutcome::Short { index: 0, available: model.stock }
                    };
                    assert_eq!(got, want, "seed {seed} step {step}: open");
                    if want == OpenOutcome::Opened {
                        model.stock -= q;
                        model.offers.insert(o.id, (q, o.per_buyer_limit, OfferStatus::Live, o.ends_at_ms));
                        offers.push(o);
                    }
                }
                1..=5 if !offers.is_empty() => {
                    let o = &offers[rng.below(offers.len() as u64) as usize];
                    let buyer = buyers[rng.below(buyers.len() as u64) as usize];
                    let k = format!("k{}", rng.below(30));
                    let qty = 1 + rng.below(3) as i64;
                    let request = place(seller, o, buyer, &k, qty, now);
                    let want = model.place(o.id, buyer, &k, qty, now, request.order_id);
                    let got = match sales.order_place(&request).await.unwrap() {
                        PlaceOutcome::Placed { order, .. } | PlaceOutcome::Replayed { order } => Ok(order.id),
                        PlaceOutcome::Refused(r) => Err(r),
                    };
                    assert_eq!(got, want, "seed {seed} step {step}: place");
                }
                6 if !model.orders.is_empty() => {
                    let ids: Vec<Uuid> = {
                        let mut v: Vec<Uuid> = model.orders.keys().copied().collect();
                        v.sort();
                        v
                    };
                    let id = ids[rng.below(ids.len() as u64) as usize];
                    let by_seller = rng.below(2) == 0;
                    let got = sales.order_act(seller, id, OrderAction::Cancel { by_seller }, "t").await.unwrap();
                    let (offer, buyer, qty, status) = model.orders[&id].clone();
                    if status == "placed" {
                        assert!(
                            matches!(got, ActionOutcome::Changed(ref o) if o.status == "cancelled"),
                            "seed {seed} step {step}: {got:?}"
                        );
                        model.stock += qty;
                        if model.offers[&offer].2 == OfferStatus::Live {
                            *model.bought.get_mut(&(offer, buyer)).unwrap() -= qty;
                        }
                        model.orders.get_mut(&id).unwrap().3 = "cancelled".into();
                    } else {
                        assert!(matches!(got, ActionOutcome::Invalid { .. }), "seed {seed} step {step}: {got:?}");
                    }
                }
                7 | 8 if !offers.is_empty() => {
                    let o = offers[rng.below(offers.len() as u64) as usize].clone();
                    let reason =
                        if rng.below(2) == 0 { CloseReason::Stopped } else { CloseReason::Expired { now_ms: now } };
                    let got = sales.offer_close(seller, o.id, reason).await.unwrap().map(|s| s.remaining);
                    let (remaining, _, status, ends) = model.offers[&o.id];
                    let due = match reason {
                        CloseReason::Stopped => true,
                        CloseReason::Expired { now_ms } => ends <= now_ms,
                    };
                    let want = (status != OfferStatus::Ended && due).then_some(remaining);
                    assert_eq!(got, want, "seed {seed} step {step}: close");
                    if want.is_some() {
                        model.stock += remaining;
                        let m = model.offers.get_mut(&o.id).unwrap();
                        m.0 = 0;
                        m.2 = OfferStatus::Ended;
                    }
                }
                _ => {}
            }
            assert_eq!(stock(&b, &key).await, model.stock, "seed {seed} step {step}: stock");
        }
        for o in &offers {
            let s = sales.offer_get(seller, o.id).await.unwrap().unwrap();
            let (remaining, _, status, _) = model.offers[&o.id];
            assert_eq!((s.remaining, s.status), (remaining, status), "seed {seed}: offer");
        }
        let stored = sales.seller_orders(seller, None, 10_000).await.unwrap();
        assert_eq!(stored.len(), model.orders.len(), "seed {seed}: acknowledged orders equal stored orders");
        for order in stored {
            assert_eq!(order.status, model.orders[&order.id].3, "seed {seed}: order status");
        }
    }
}
