//! Orders a client can trust: a buyer without a saved address still orders, a replay gets its
//! stored outcome whatever became of the offer, and a storage failure is `unavailable`. Each
//! runs on the memory engine and on two nodes sharing one Redis.

use std::time::Duration;

use ocop_live::config::Config;
use serde_json::{Value, json};

use crate::helpers::*;

/// One node in memory, or two nodes on one private Redis (the Redis lives as long as this).
struct Cluster {
    nodes: Vec<TestApp>,
    redis: Option<RedisServer>,
}

impl Cluster {
    async fn memory(config: impl Fn(&mut Config)) -> Self {
        let mut cfg = Config::for_tests();
        config(&mut cfg);
        Self { nodes: vec![spawn_with(cfg).await], redis: None }
    }

    async fn redis(config: impl Fn(&mut Config)) -> Self {
        let redis = RedisServer::start().await;
        let mut nodes = Vec::new();
        for _ in 0..2 {
            let mut cfg = redis_config(&redis);
            config(&mut cfg);
            nodes.push(spawn_with(cfg).await);
        }
        Self { nodes, redis: Some(redis) }
    }

    /// The second node when there are two, else the only one.
    fn other(&self) -> &TestApp {
        self.nodes.last().unwrap()
    }
}

/// A seller with a live show of one product (stock 50, list price 390,000 đ) pinned on screen.
struct Shop {
    seller: String,
    seller_id: String,
    show: String,
    product: String,
    s: Client,
}

async fn shop(app: &TestApp) -> Shop {
    let api = app.api();
    let (seller, user) = api.register("seller").await;
    let product =
        api.create_product(&seller, Api::product_body("Mật ong bạc hà")).await["id"].as_str().unwrap().to_owned();
    let show = api
        .post("/api/shows", Some(&seller), json!({"title": "Phiên mật ong", "products": [product]}))
        .await
        .ok(201)["show"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    api.post(&format!("/api/shows/{show}/start"), Some(&seller), json!({})).await.ok(200);
    let mut s = Client::connect(app, Some(&seller)).await;
    assert_eq!(s.call("show.pin", json!({"show": show, "product_id": product})).await["ok"], true);
    let seller_id = user["seller_id"].as_str().unwrap().to_owned();
    Shop { seller, seller_id, show, product, s }
}

async fn offer(shop: &mut Shop, quantity: i64, limit: i64) -> String {
    let r = shop
        .s
        .call(
            "offer.start",
            json!({"show": shop.show, "product_id": shop.product, "price": 99000, "quantity": quantity,
                   "per_buyer_limit": limit, "duration_s": 120}),
        )
        .await;
    assert_eq!(r["ok"], true, "{r}");
    r["data"]["offer"]["id"].as_str().unwrap().to_owned()
}

fn contact() -> Value {
    json!({"name": "Nguyễn Thu Hà", "phone": "0912 345 678", "address": "12 Hàng Bạc, Hoàn Kiếm, Hà Nội"})
}

/// Reads a subscribed client's events until `pick` accepts one.
async fn event_where(c: &mut Client, what: &str, pick: impl Fn(&Value) -> bool) -> Value {
    let found = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let f = c.recv().await;
            if f.get("ch").is_some() && pick(&f) {
                return f;
            }
        }
    })
    .await;
    found.unwrap_or_else(|_| panic!("no {what} within 20 s"))
}

async fn stock(app: &TestApp, product: &str) -> i64 {
    app.api().get(&format!("/api/products/{product}"), None).await.body["product"]["stock"].as_i64().unwrap()
}

macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $( #[tokio::test] async fn $name() { super::$name(super::Cluster::memory(|_| {}).await).await } )*
        }
        mod redis_two_nodes {
            $( #[tokio::test] async fn $name() { super::$name(super::Cluster::redis(|_| {}).await).await } )*
        }
    };
}

on_both!(
    a_buyer_without_an_address_orders_at_once_and_gives_it_after,
    a_replay_gets_its_order_after_the_offer_sold_out_on_any_node,
);

async fn a_buyer_without_an_address_orders_at_once_and_gives_it_after(c: Cluster) {
    let app = &c.nodes[0];
    let mut shop = shop(app).await;
    let offer_id = offer(&mut shop, 10, 5).await;
    let mut seller_feed = Client::connect(c.other(), Some(&shop.seller)).await;
    seller_feed.subscribe(&format!("seller:{}", shop.seller_id)).await;
    let (buyer, user) = app.api().register("buyer").await;
    let buyer_id = user["id"].as_str().unwrap().to_owned();
    let mut feed = Client::connect(c.other(), Some(&buyer)).await;
    feed.subscribe(&format!("user:{buyer_id}")).await;
    let mut b = Client::connect(app, Some(&buyer)).await;

    // The button, with no delivery and nothing saved: placed, units held, address missing.
    let r =
        b.call("order.place", json!({"show": shop.show, "offer_id": offer_id, "qty": 2, "key": "no-address-01"})).await;
    assert_eq!(r["ok"], true, "{r}");
    assert_eq!(r["data"]["needs_address"], true, "{r}");
    let order = &r["data"]["order"];
    let id = order["id"].as_str().unwrap().to_owned();
    assert_eq!(order["status"], "placed");
    assert_eq!(order["needs_address"], true);
    assert_eq!(order["delivery"]["name"], "Người buyer", "what the account knows: {order}");
    assert!(order["delivery"].get("address").is_none(), "{order}");
    assert!(order["address_due_at"].is_string(), "{order}");
    let told = event_where(&mut feed, "notify", |f| f["ev"] == "notify").await;
    assert_eq!(told["data"]["kind"], "order.needs_address");
    assert_eq!(told["data"]["order"]["id"], id.as_str());
    let seen = event_where(&mut seller_feed, "the order on seller:", |f| f["data"]["order"]["id"] == id.as_str()).await;
    assert_eq!(seen["data"]["order"]["needs_address"], true, "the seller sees it waits: {seen}");

    // The seller cannot confirm it yet, over WebSocket or REST.
    assert_error(&shop.s.call("order.confirm", json!({"order_id": id})).await, "invalid_state");
    app.api().post(&format!("/api/seller/orders/{id}/confirm"), Some(&shop.seller), json!({})).await.problem(409);

    // The buyer gives the address for this order; both sides see it; now it can be confirmed.
    let done = app.api().put(&format!("/api/me/orders/{id}/delivery"), Some(&buyer), contact()).await;
    let done = done.ok(200)["order"].clone();
    assert_eq!(done["needs_address"], false, "{done}");
    assert_eq!(done["delivery"]["address"], "12 Hàng Bạc, Hoàn Kiếm, Hà Nội");
    assert_eq!(done["delivery"]["phone"], "0912345678");
    assert!(done.get("address_due_at").is_none(), "{done}");
    let seen = event_where(&mut seller_feed, "the completed order", |f| {
        f["data"]["order"]["id"] == id.as_str() && f["data"]["order"]["needs_address"] == false
    })
    .await;
    assert_eq!(seen["data"]["order"]["delivery"]["address"], "12 Hàng Bạc, Hoàn Kiếm, Hà Nội");
    let other = app.api().register("buyer").await.0;
    app.api().put(&format!("/api/me/orders/{id}/delivery"), Some(&other), contact()).await.problem(404);
    let bad = app
        .api()
        .put(&format!("/api/me/orders/{id}/delivery"), Some(&buyer), json!({"name": "", "phone": "1", "address": "x"}))
        .await;
    assert!(bad.problem(400)["name"].is_string(), "{:?}", bad.body);
    let confirmed = shop.s.call("order.confirm", json!({"order_id": id})).await;
    assert_eq!(confirmed["data"]["order"]["status"], "confirmed", "{confirmed}");
    app.api().put(&format!("/api/me/orders/{id}/delivery"), Some(&buyer), contact()).await.problem(409);

    // "chốt 2" from the chat, still no address saved: placed, and waiting.
    let sent = b.call("chat.send", json!({"show": shop.show, "text": "chốt 2 nha shop"})).await;
    assert_eq!(sent["ok"], true, "{sent}");
    let chat =
        event_where(&mut feed, "the chat order", |f| f["ev"] == "order" && f["data"]["order"]["source"] == "chat")
            .await;
    assert_eq!(chat["data"]["order"]["needs_address"], true, "{chat}");
    let chat_id = chat["data"]["order"]["id"].as_str().unwrap().to_owned();

    // Saving the account's contact fills every order still waiting.
    let saved = app.api().put("/api/me/delivery", Some(&buyer), contact()).await;
    assert_eq!(saved.ok(200)["orders_completed"], 1, "{:?}", saved.body);
    let mine = app.api().get("/api/me/orders", Some(&buyer)).await.ok(200)["items"].clone();
    let chat_order = mine.as_array().unwrap().iter().find(|o| o["id"] == chat_id.as_str()).unwrap().clone();
    assert_eq!(chat_order["needs_address"], false, "{chat_order}");
    assert_eq!(chat_order["delivery"]["address"], "12 Hàng Bạc, Hoàn Kiếm, Hà Nội");
    assert_eq!(mine.as_array().unwrap().len(), 2, "{mine}");

    // With a saved contact, the next order carries it at once.
    let r =
        b.call("order.place", json!({"show": shop.show, "offer_id": offer_id, "qty": 1, "key": "with-saved-01"})).await;
    assert_eq!(r["data"]["needs_address"], false, "{r}");
    assert_eq!(r["data"]["order"]["delivery"]["address"], "12 Hàng Bạc, Hoàn Kiếm, Hà Nội");

    // Guests still cannot order.
    let guest = app.api().post("/api/auth/guest", None, json!({"name": "Khách"})).await.ok(200)["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut g = Client::connect(app, Some(&guest)).await;
    assert_error(
        &g.call("order.place", json!({"show": shop.show, "offer_id": offer_id, "qty": 1, "key": "guest-key-01"})).await,
        "forbidden",
    );
}

async fn a_replay_gets_its_order_after_the_offer_sold_out_on_any_node(c: Cluster) {
    let (first, second) = (&c.nodes[0], c.other());
    let mut shop = shop(first).await;
    let offer_id = offer(&mut shop, 2, 2).await;
    let (buyer, _) = first.api().register("buyer").await;
    let (late, _) = first.api().register("buyer").await;
    let place = |key: &str, qty: i64, delivery: Value| json!({"show": shop.show, "offer_id": offer_id, "qty": qty, "key": key, "delivery": delivery});
    let mut a1 = Client::connect(first, Some(&buyer)).await;
    let mut a2 = Client::connect(second, Some(&buyer)).await;
    let mut l1 = Client::connect(first, Some(&late)).await;
    let mut l2 = Client::connect(second, Some(&late)).await;

    let placed = a1.call("order.place", place("the-last-two", 2, contact())).await;
    let order = placed["data"]["order"].clone();
    assert_eq!(order["status"], "placed", "{placed}");
    // Both nodes learn the offer is sold out from a late buyer's refusal.
    assert_error(&l1.call("order.place", place("late-try-001", 1, contact())).await, "sold_out");
    assert_error(&l2.call("order.place", place("late-try-002", 1, contact())).await, "sold_out");

    // The buyer whose reply was lost retries with the same key, on each node: the same order.
    for (node, client) in [("first", &mut a1), ("second", &mut a2)] {
        let again = client.call("order.place", place("the-last-two", 2, contact())).await;
        assert_eq!(again["ok"], true, "{node} node: a replay after the sell-out gets the order: {again}");
        assert_eq!(again["data"]["order"]["id"], order["id"], "{node} node");
        // The same key for anything else is a conflict, not "sold out".
        assert_error(&client.call("order.place", place("the-last-two", 1, contact())).await, "idempotency_conflict");
        let elsewhere = json!({"name": "Trần Minh", "phone": "0987654321", "address": "5 Lê Lợi, Huế"});
        assert_error(&client.call("order.place", place("the-last-two", 2, elsewhere)).await, "idempotency_conflict");
        let without = json!({"show": shop.show, "offer_id": offer_id, "qty": 2, "key": "the-last-two"});
        assert_error(&client.call("order.place", without).await, "idempotency_conflict");
    }
    // A late buyer's replay gets their stored refusal; a new try is refused by the node alone.
    for (node, client) in [("first", &mut l1), ("second", &mut l2)] {
        assert_error(&client.call("order.place", place("late-try-001", 1, contact())).await, "sold_out");
        let app = if node == "first" { first } else { second };
        let before = app.state.sales.refused_without_engine();
        assert_error(&client.call("order.place", place(&format!("late-{node}-new"), 1, contact())).await, "sold_out");
        assert_eq!(app.state.sales.refused_without_engine(), before + 1, "{node} node answered without the engine");
    }
    // The buyer with an order is always answered by the engine: a new key is refused for real.
    assert_error(&a2.call("order.place", place("after-it-all", 1, contact())).await, "sold_out");
    let mine = first.api().get("/api/me/orders", Some(&buyer)).await.ok(200)["items"].clone();
    assert_eq!(mine.as_array().unwrap().len(), 1, "one order, never two: {mine}");
}

#[tokio::test]
async fn an_order_left_without_an_address_cancels_itself_once_across_two_nodes() {
    // 1.2 s to give an address; the deadline pass runs about once a second on every node.
    let c = Cluster::redis(|cfg| cfg.address_deadline_min = 0.02).await;
    let app = &c.nodes[0];
    let mut shop = shop(app).await;
    let offer_id = offer(&mut shop, 10, 5).await;
    let before = stock(app, &shop.product).await;
    let mut seller_feed = Client::connect(c.other(), Some(&shop.seller)).await;
    seller_feed.subscribe(&format!("seller:{}", shop.seller_id)).await;
    let (buyer, user) = app.api().register("buyer").await;
    let mut feed = Client::connect(c.other(), Some(&buyer)).await;
    feed.subscribe(&format!("user:{}", user["id"].as_str().unwrap())).await;
    let mut b = Client::connect(app, Some(&buyer)).await;
    let product_order = b
        .call("order.place", json!({"show": shop.show, "product_id": shop.product, "qty": 3, "key": "lineup-no-addr"}))
        .await;
    assert_eq!(product_order["data"]["needs_address"], true, "{product_order}");
    let r =
        b.call("order.place", json!({"show": shop.show, "offer_id": offer_id, "qty": 2, "key": "offer-no-addr"})).await;
    let id = r["data"]["order"]["id"].as_str().unwrap().to_owned();
    assert_eq!(stock(app, &shop.product).await, before - 3, "the lineup order holds its units");

    let cancelled = event_where(&mut seller_feed, "the cancellation on seller:", |f| {
        f["data"]["order"]["id"] == id.as_str() && f["data"]["order"]["status"] == "cancelled"
    })
    .await;
    assert_eq!(cancelled["data"]["order"]["cancel_reason"], "address_missing", "{cancelled}");
    let expired = event_where(&mut feed, "order.address_expired", |f| {
        f["ev"] == "notify" && f["data"]["kind"] == "order.address_expired" && f["data"]["order"]["id"] == id.as_str()
    })
    .await;
    assert_eq!(expired["data"]["order"]["status"], "cancelled");
    // Both orders end cancelled, their units back: the lineup one to stock, the offer's to it.
    let lineup_id = product_order["data"]["order"]["id"].as_str().unwrap().to_owned();
    eventually("the lineup order's cancellation", || async {
        let mine = app.api().get("/api/me/orders", Some(&buyer)).await.body["items"].clone();
        mine.as_array().unwrap().iter().all(|o| o["status"] == "cancelled")
    })
    .await;
    // Cancelled orders return their units to the product's stock (an offer does not grow back).
    assert_eq!(stock(app, &shop.product).await, before + 2, "every unit of both orders is back in stock");
    // Exactly once: one cancellation per order in the seller's stream, whichever node did it.
    let redis = c.redis.as_ref().unwrap();
    let log = redis
        .cmd(&["XRANGE", &format!("{}{{s:{}}}:orders", app.state.config.key_prefix, shop.seller_id), "-", "+"])
        .await;
    let text = format!("{log:?}");
    assert!(text.contains(id.as_str()) && text.contains(lineup_id.as_str()), "{text}");
    assert_eq!(text.matches("cancelled").count(), 2, "one cancellation each for two orders: {text}");
    // Too late to give the address now.
    app.api().put(&format!("/api/me/orders/{id}/delivery"), Some(&buyer), contact()).await.problem(409);
}

#[tokio::test]
async fn a_storage_outage_is_unavailable_whether_or_not_the_order_carries_an_address() {
    // Before the fix, the account read's failure was taken for "no saved contact": bad_request.
    let mut c = Cluster::redis(|_| {}).await;
    let app = &c.nodes[0];
    let mut shop = shop(app).await;
    let offer_id = offer(&mut shop, 10, 5).await;
    let (buyer, _) = app.api().register("buyer").await;
    let mut b = Client::connect(app, Some(&buyer)).await;
    // The offer is read once per node before the outage.
    let warm = b
        .call(
            "order.place",
            json!({"show": shop.show, "offer_id": offer_id, "qty": 1, "key": "warm-up-0001", "delivery": contact()}),
        )
        .await;
    assert_eq!(warm["ok"], true, "{warm}");
    c.redis.as_mut().unwrap().kill();
    let without = b
        .call("order.place", json!({"show": shop.show, "offer_id": offer_id, "qty": 1, "key": "during-outage-1"}))
        .await;
    assert_error(&without, "unavailable");
    let with = b
        .call(
            "order.place",
            json!({"show": shop.show, "offer_id": offer_id, "qty": 1, "key": "during-outage-2", "delivery": contact()}),
        )
        .await;
    assert_error(&with, "unavailable");
}
