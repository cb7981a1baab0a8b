//! Flash offers and orders over WebSocket and REST, on one node and across two.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use ocop_live::auth::Role;
use serde_json::{Value, json};

use crate::helpers::*;

/// A seller, a live show with two products (stock 50 each), and the seller's client.
struct Sale {
    seller: String,
    show: Value,
    products: Vec<String>,
    s: Client,
}

async fn live_sale(app: &TestApp) -> Sale {
    let api = app.api();
    let (seller, _) = api.register("seller").await;
    let honey = api.create_product(&seller, Api::product_body("Mật ong bạc hà")).await;
    let tea = api.create_product(&seller, Api::product_body("Trà Shan tuyết")).await;
    let products = vec![honey["id"].as_str().unwrap().to_owned(), tea["id"].as_str().unwrap().to_owned()];
    let show = api
        .post("/api/shows", Some(&seller), json!({"title": "Phiên chợ mật ong", "products": products}))
        .await
        .ok(201)["show"]
        .clone();
    let id = show["id"].as_str().unwrap();
    api.post(&format!("/api/shows/{id}/start"), Some(&seller), json!({})).await.ok(200);
    let s = Client::connect(app, Some(&seller)).await;
    Sale { seller, show, products, s }
}

fn delivery() -> Value {
    json!({"name": "Nguyễn Thu Hà", "phone": "0912 345 678", "address": "12 Hàng Bạc, Hà Nội"})
}

async fn start_offer(s: &mut Client, show: &Value, product: &str, quantity: i64, limit: i64, duration: u64) -> Value {
    let r = s
        .call(
            "offer.start",
            json!({"show": show["id"], "product_id": product, "price": 99000, "quantity": quantity,
                   "per_buyer_limit": limit, "duration_s": duration}),
        )
        .await;
    assert_eq!(r["ok"], true, "{r}");
    r["data"]["offer"].clone()
}

async fn stock_of(app: &TestApp, product: &str) -> i64 {
    app.api().get(&format!("/api/products/{product}"), None).await.body["product"]["stock"].as_i64().unwrap()
}

async fn next_event(c: &mut Client, ev: &str) -> Value {
    loop {
        let f = c.recv().await;
        if f["ev"] == ev {
            return f;
        }
    }
}

fn buyer_client_token(app: &TestApp) -> (String, String) {
    let u = user(Role::Buyer);
    (app.token(&u), u.id.to_string())
}

#[tokio::test]
async fn offers_are_validated_and_carve_their_quantity_from_stock() {
    let app = spawn_app().await;
    let api = app.api();
    let mut sale = live_sale(&app).await;
    let (honey, tea) = (sale.products[0].clone(), sale.products[1].clone());
    let show = sale.show.clone();
    let base = |over: Value| {
        let mut p = json!({"show": show["id"], "product_id": honey, "price": 99000, "quantity": 10, "per_buyer_limit": 2, "duration_s": 60});
        for (k, v) in over.as_object().unwrap() {
            p[k] = v.clone();
        }
        p
    };
    for (over, code) in [
        (json!({"price": 400000}), "bad_request"),
        (json!({"price": 0}), "bad_request"),
        (json!({"quantity": 0}), "bad_request"),
        (json!({"per_buyer_limit": 0}), "bad_request"),
        (json!({"per_buyer_limit": 11}), "bad_request"),
        (json!({"duration_s": 9}), "bad_request"),
        (json!({"duration_s": 7201}), "bad_request"),
        (json!({"quantity": 51}), "insufficient_stock"),
        (json!({"product_id": uuid::Uuid::now_v7()}), "bad_request"),
        (json!({"show": uuid::Uuid::now_v7()}), "not_found"),
    ] {
        assert_error(&sale.s.call("offer.start", base(over.clone())).await, code);
    }
    let (buyer, _) = api.register("buyer").await;
    let mut b = Client::connect(&app, Some(&buyer)).await;
    assert_error(&b.call("offer.start", base(json!({}))).await, "forbidden");

    let mut viewer = Client::connect(&app, None).await;
    viewer.subscribe(&format!("show:{}", show["id"].as_str().unwrap())).await;
    let offer = start_offer(&mut sale.s, &show, &tea, 10, 2, 60).await;
    assert_eq!(
        (offer["status"].as_str(), offer["remaining"].as_i64(), offer["list_price"].as_i64()),
        (Some("live"), Some(10), Some(390000))
    );
    assert_eq!(next_event(&mut viewer, "offer").await["data"]["offer"]["id"], offer["id"]);
    assert_eq!(stock_of(&app, &tea).await, 40);

    let mut late = Client::connect(&app, None).await;
    let snap = late.subscribe(&format!("show:{}", show["id"].as_str().unwrap())).await["snapshot"].clone();
    assert_eq!(snap["offers"][0]["id"], offer["id"]);

    let stopped = sale.s.call("offer.stop", json!({"show": show["id"], "offer_id": offer["id"]})).await;
    assert_eq!(stopped["data"]["offer"]["status"], "ended");
    let ended = next_event(&mut viewer, "offer").await;
    assert_eq!(ended["data"]["offer"]["status"], "ended");
    assert_eq!(stock_of(&app, &tea).await, 50);
    assert_error(
        &sale.s.call("offer.stop", json!({"show": show["id"], "offer_id": offer["id"]})).await,
        "invalid_state",
    );

    // A product whose OCOP certificate expired cannot go on offer.
    let mut body = Api::product_body("Cà phê hết hạn");
    body["certificate"]["issued_at"] = json!("2021-01-01");
    body["certificate"]["expires_at"] = json!("2024-01-01");
    let expired = api.create_product(&sale.seller, body).await;
    let id = show["id"].as_str().unwrap();
    let show2 = api
        .post("/api/shows", Some(&sale.seller), json!({"title": "Phiên 2", "products": [expired["id"]]}))
        .await
        .ok(201)["show"]
        .clone();
    let id2 = show2["id"].as_str().unwrap();
    let early = sale.s.call("offer.start", json!({"show": id2, "product_id": expired["id"], "price": 1000, "quantity": 1, "per_buyer_limit": 1, "duration_s": 60})).await;
    assert_error(&early, "invalid_state");
    api.post(&format!("/api/shows/{id2}/start"), Some(&sale.seller), json!({})).await.ok(200);
    let r = sale.s.call("offer.start", json!({"show": id2, "product_id": expired["id"], "price": 1000, "quantity": 1, "per_buyer_limit": 1, "duration_s": 60})).await;
    assert_error(&r, "invalid_state");
    assert!(r["error"]["message"].as_str().unwrap().contains("certificate"));
    let _ = id;
}

#[tokio::test]
async fn orders_from_an_offer_follow_every_rule_and_reach_buyer_and_seller() {
    let app = spawn_app().await;
    let mut sale = live_sale(&app).await;
    let show = sale.show.clone();
    let honey = sale.products[0].clone();
    let offer = start_offer(&mut sale.s, &show, &honey, 3, 2, 60).await;
    let seller_id = {
        let me = app.api().get("/api/me", Some(&sale.seller)).await;
        me.body["user"]["seller_id"].as_str().unwrap().to_owned()
    };
    let mut seller_feed = Client::connect(&app, Some(&sale.seller)).await;
    seller_feed.subscribe(&format!("seller:{seller_id}")).await;
    let mut viewer = Client::connect(&app, None).await;
    viewer.subscribe(&format!("show:{}", show["id"].as_str().unwrap())).await;

    let guest = app.api().post("/api/auth/guest", None, json!({"name": "Khách"})).await.ok(200)["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut g = Client::connect(&app, Some(&guest)).await;
    let order = |key: &str, qty: i64| json!({"show": show["id"], "offer_id": offer["id"], "qty": qty, "key": key, "delivery": delivery()});
    assert_error(&g.call("order.place", order("guest-key-1", 1)).await, "forbidden");

    let (token_a, id_a) = buyer_client_token(&app);
    let mut a = Client::connect(&app, Some(&token_a)).await;
    let mut a_feed = Client::connect(&app, Some(&token_a)).await;
    a_feed.subscribe(&format!("user:{id_a}")).await;
    assert_error(&a.call("order.place", order("short", 1)).await, "bad_request");
    assert_error(&a.call("order.place", order("qty-zero-1", 0)).await, "bad_request");
    assert_error(&a.call("order.place", json!({"show": show["id"], "offer_id": offer["id"], "product_id": honey, "qty": 1, "key": "both-ids-1", "delivery": delivery()})).await, "bad_request");

    let placed = a.call("order.place", order("buyer-a-0001", 2)).await;
    let o = placed["data"]["order"].clone();
    assert_eq!(o["status"], "placed", "{placed}");
    assert_eq!(
        (o["total"].as_i64(), o["items"][0]["unit_price"].as_i64(), o["items"][0]["qty"].as_i64()),
        (Some(198000), Some(99000), Some(2))
    );
    assert_eq!((o["source"].as_str(), o["offer_id"].clone()), (Some("offer"), offer["id"].clone()));
    assert_eq!(o["delivery"]["phone"], "0912345678");
    assert_eq!(next_event(&mut a_feed, "order").await["data"]["order"]["id"], o["id"]);
    assert_eq!(next_event(&mut seller_feed, "order").await["data"]["order"]["id"], o["id"]);

    // The same key again returns the same order; another quantity under it conflicts.
    let again = a.call("order.place", order("buyer-a-0001", 2)).await;
    assert_eq!(again["data"]["order"]["id"], o["id"]);
    assert_error(&a.call("order.place", order("buyer-a-0001", 1)).await, "idempotency_conflict");
    assert_error(&a.call("order.place", order("buyer-a-0002", 1)).await, "limit_reached");

    let (token_b, _) = buyer_client_token(&app);
    let mut b = Client::connect(&app, Some(&token_b)).await;
    assert_error(&b.call("order.place", order("buyer-b-0001", 2)).await, "insufficient_stock");
    assert_eq!(b.call("order.place", order("buyer-b-0002", 1)).await["data"]["order"]["status"], "placed");
    assert_error(&b.call("order.place", order("buyer-b-0003", 1)).await, "sold_out");
    let sold = next_event(&mut viewer, "offer").await;
    assert_eq!(sold["data"]["offer"]["status"], "sold_out");
    // Cancelling returns units to the product's stock; the offer stays sold out.
    let before = stock_of(&app, &honey).await;
    let cancelled = a.call("order.cancel", json!({"order_id": o["id"]})).await;
    assert_eq!(cancelled["data"]["order"]["status"], "cancelled");
    assert_eq!(stock_of(&app, &honey).await, before + 2);
    assert_error(&a.call("order.cancel", json!({"order_id": o["id"]})).await, "invalid_state");
    assert_error(&b.call("order.cancel", json!({"order_id": o["id"]})).await, "not_found");
    assert_error(&b.call("order.place", order("buyer-b-0004", 1)).await, "sold_out");
}

#[tokio::test]
async fn an_offer_expires_on_time_without_orders_and_returns_its_stock() {
    let app = spawn_app().await;
    let mut sale = live_sale(&app).await;
    let show = sale.show.clone();
    let tea = sale.products[1].clone();
    let mut viewer = Client::connect(&app, None).await;
    viewer.subscribe(&format!("show:{}", show["id"].as_str().unwrap())).await;
    let offer = start_offer(&mut sale.s, &show, &tea, 20, 5, 10).await;
    assert_eq!(stock_of(&app, &tea).await, 30);
    next_event(&mut viewer, "offer").await;
    let ended = tokio::time::timeout(Duration::from_secs(15), next_event(&mut viewer, "offer")).await.expect("expiry");
    assert_eq!(ended["data"]["offer"]["id"], offer["id"]);
    assert_eq!(ended["data"]["offer"]["status"], "ended");
    assert_eq!(stock_of(&app, &tea).await, 50);
    let (t, _) = buyer_client_token(&app);
    let mut b = Client::connect(&app, Some(&t)).await;
    let r = b.call("order.place", json!({"show": show["id"], "offer_id": offer["id"], "qty": 1, "key": "late-buyer-1", "delivery": delivery()})).await;
    assert_error(&r, "offer_ended");
}

#[tokio::test]
async fn lineup_products_sell_at_list_price_from_stock_and_orders_move_through_their_states() {
    let app = spawn_app().await;
    let api = app.api();
    let mut sale = live_sale(&app).await;
    let show = sale.show.clone();
    let honey = sale.products[0].clone();
    let (buyer, _) = api.register("buyer").await;
    api.put("/api/me/delivery", Some(&buyer), delivery()).await.ok(200);
    let mut b = Client::connect(&app, Some(&buyer)).await;
    let place = |key: &str, qty: i64| json!({"show": show["id"], "product_id": honey, "qty": qty, "key": key});
    let r = b.call("order.place", place("list-price-1", 3)).await;
    let o = r["data"]["order"].clone();
    assert_eq!(
        (o["items"][0]["unit_price"].as_i64(), o["total"].as_i64(), o["source"].as_str()),
        (Some(390000), Some(1170000), Some("pinned"))
    );
    assert_eq!(o["delivery"]["address"], "12 Hàng Bạc, Hà Nội");
    assert_eq!(stock_of(&app, &honey).await, 47);
    assert_error(&b.call("order.place", place("too-many-1", 48)).await, "insufficient_stock");

    let id = o["id"].as_str().unwrap();
    assert_error(&b.call("order.confirm", json!({"order_id": id})).await, "forbidden");
    assert_eq!(sale.s.call("order.confirm", json!({"order_id": id})).await["data"]["order"]["status"], "confirmed");
    assert_error(&b.call("order.cancel", json!({"order_id": id})).await, "invalid_state");
    api.post(&format!("/api/seller/orders/{id}/confirm"), Some(&sale.seller), json!({})).await.problem(409);
    let shipped = api.post(&format!("/api/seller/orders/{id}/ship"), Some(&sale.seller), json!({})).await;
    assert_eq!(shipped.ok(200)["order"]["status"], "shipped");
    api.post(&format!("/api/seller/orders/{id}/cancel"), Some(&sale.seller), json!({})).await.problem(409);

    let second = b.call("order.place", place("list-price-2", 1)).await["data"]["order"].clone();
    let sid = second["id"].as_str().unwrap();
    api.post(&format!("/api/me/orders/{sid}/cancel"), Some(&buyer), json!({})).await.ok(200);
    assert_eq!(stock_of(&app, &honey).await, 47);

    let mine = api.get("/api/me/orders", Some(&buyer)).await.ok(200)["items"].clone();
    let statuses: Vec<&str> = mine.as_array().unwrap().iter().map(|o| o["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, vec!["shipped", "cancelled"]);
    let theirs = api.get("/api/seller/orders", Some(&sale.seller)).await.ok(200)["items"].clone();
    assert_eq!(theirs.as_array().unwrap().len(), 2);
    let (other_seller, _) = api.register("seller").await;
    assert!(api.get("/api/seller/orders", Some(&other_seller)).await.ok(200)["items"].as_array().unwrap().is_empty());
    api.get("/api/seller/orders", Some(&buyer)).await.problem(403);
    api.get("/api/me/orders", Some(&sale.seller)).await.problem(403);

    let csv = reqwest::Client::new()
        .get(app.http("/api/seller/orders?format=csv"))
        .bearer_auth(&sale.seller)
        .send()
        .await
        .unwrap();
    assert!(csv.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    let text = csv.text().await.unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].trim_start_matches('\u{feff}').starts_with("order_id,created_at,status"));
    assert_eq!(lines.len(), 3);
    assert!(lines[1].contains("Mật ong bạc hà") && lines[1].contains("\"12 Hàng Bạc, Hà Nội\""), "{}", lines[1]);
}

#[tokio::test]
async fn chot_don_in_the_chat_orders_privately_once_per_comment() {
    let mut cfg = ocop_live::Config::for_tests();
    cfg.limits.chat_burst = 20;
    let app = spawn_with(cfg).await;
    let api = app.api();
    let mut sale = live_sale(&app).await;
    let show = sale.show.clone();
    let (honey, tea) = (sale.products[0].clone(), sale.products[1].clone());
    assert_eq!(sale.s.call("show.pin", json!({"show": show["id"], "product_id": honey})).await["ok"], true);
    let offer = start_offer(&mut sale.s, &show, &tea, 10, 3, 600).await;
    let (buyer, user) = api.register("buyer").await;
    api.put("/api/me/delivery", Some(&buyer), delivery()).await.ok(200);
    let mut b = Client::connect(&app, Some(&buyer)).await;
    let mut feed = Client::connect(&app, Some(&buyer)).await;
    feed.subscribe(&format!("user:{}", user["id"].as_str().unwrap())).await;
    let chat = |text: &str| json!({"show": show["id"], "text": text});

    // "chốt 2": the product on screen at list price.
    let msg = b.call("chat.send", chat("chốt 2 nha shop")).await["data"]["msg_id"].clone();
    let ev = next_event(&mut feed, "order").await;
    let o = &ev["data"]["order"];
    assert_eq!(
        (o["source"].as_str(), o["items"][0]["product_id"].as_str(), o["items"][0]["qty"].as_i64()),
        (Some("chat"), Some(honey.as_str()), Some(2))
    );
    assert_eq!(o["key"], format!("chat:{}", msg.as_str().unwrap()));
    // "A2 x1": by code, and the live offer's price wins.
    b.call("chat.send", chat("A2 x1")).await;
    let ev = next_event(&mut feed, "order").await;
    assert_eq!(
        (ev["data"]["order"]["offer_id"].clone(), ev["data"]["order"]["items"][0]["unit_price"].as_i64()),
        (offer["id"].clone(), Some(99000))
    );
    // Chatter is not an order.
    for text in ["chốt chưa shop?", "giá bao nhiêu", "0912345678"] {
        assert_eq!(b.call("chat.send", chat(text)).await["ok"], true);
    }
    // "hủy" cancels the latest placed order from this show.
    assert_eq!(b.call("chat.send", chat("hủy")).await["ok"], true);
    let cancelled = next_event(&mut feed, "order").await;
    assert_eq!(cancelled["data"]["order"]["status"], "cancelled");
    assert_eq!(cancelled["data"]["order"]["offer_id"], offer["id"]);
    // An unknown code gets a private failure.
    b.call("chat.send", chat("chốt A9")).await;
    let failed = next_event(&mut feed, "order.failed").await;
    assert_eq!(failed["data"]["error"]["code"], "not_found");
    let mine = api.get("/api/me/orders", Some(&buyer)).await.ok(200)["items"].clone();
    assert_eq!(mine.as_array().unwrap().len(), 2, "only the two order commands ordered: {mine}");
    // Guests chat "chốt" without ordering.
    let guest =
        api.post("/api/auth/guest", None, json!({"name": "Khách"})).await.ok(200)["token"].as_str().unwrap().to_owned();
    let mut g = Client::connect(&app, Some(&guest)).await;
    assert_eq!(g.call("chat.send", chat("chốt 1")).await["ok"], true);
    let theirs = api.get("/api/seller/orders", Some(&sale.seller)).await.ok(200)["items"].as_array().unwrap().len();
    assert_eq!(theirs, 2);
}

#[tokio::test]
async fn the_summary_adds_orders_units_and_revenue_per_product_and_offer() {
    let app = spawn_app().await;
    let api = app.api();
    let mut sale = live_sale(&app).await;
    let show = sale.show.clone();
    let honey = sale.products[0].clone();
    let offer = start_offer(&mut sale.s, &show, &honey, 10, 5, 600).await;
    for i in 0..3 {
        let (t, _) = buyer_client_token(&app);
        let mut b = Client::connect(&app, Some(&t)).await;
        let r = b.call("order.place", json!({"show": show["id"], "offer_id": offer["id"], "qty": i + 1, "key": format!("summary-{i}-key"), "delivery": delivery()})).await;
        assert_eq!(r["ok"], true, "{r}");
    }
    let id = show["id"].as_str().unwrap();
    let ended = api.post(&format!("/api/shows/{id}/end"), Some(&sale.seller), json!({})).await.ok(200)["show"].clone();
    let s = &ended["summary"];
    assert_eq!((s["orders"].as_i64(), s["units"].as_i64(), s["revenue"].as_i64()), (Some(3), Some(6), Some(6 * 99000)));
    assert_eq!(s["products"][0]["id"], honey.as_str());
    assert_eq!(s["offers"][0]["id"], offer["id"]);
    assert_eq!(s["offers"][0]["units"], 6);
}

#[tokio::test]
async fn five_hundred_buyers_over_two_nodes_race_for_one_hundred_units() {
    let redis = RedisServer::start().await;
    let a = spawn_with(redis_config(&redis)).await;
    let b = spawn_with(redis_config(&redis)).await;
    let mut sale = live_sale(&a).await;
    let show = sale.show.clone();
    let honey = sale.products[0].clone();
    a.api().patch(&format!("/api/products/{honey}"), Some(&sale.seller), json!({"stock": 300})).await.ok(200);
    let offer = start_offer(&mut sale.s, &show, &honey, 100, 1, 600).await;
    let mut tasks = Vec::new();
    for i in 0..500 {
        let node = if i % 2 == 0 { &a } else { &b };
        let (token, buyer) = buyer_client_token(node);
        let url = format!("{}?token={token}", node.ws_url());
        let (show_id, offer_id) = (show["id"].clone(), offer["id"].clone());
        tasks.push(tokio::spawn(async move {
            use tokio_tungstenite::tungstenite::client::IntoClientRequest;
            let mut c = Client::connect_request(url.into_client_request().unwrap()).await.unwrap();
            let r = c.call("order.place", json!({"show": show_id, "offer_id": offer_id, "qty": 1, "key": format!("race-{i:04}"), "delivery": delivery()})).await;
            (buyer, r)
        }));
    }
    let mut acknowledged = HashSet::new();
    let mut refusals: HashMap<String, usize> = HashMap::new();
    for t in tasks {
        let (_, r) = t.await.unwrap();
        if r["ok"] == true {
            acknowledged.insert(r["data"]["order"]["id"].as_str().unwrap().to_owned());
        } else {
            *refusals.entry(r["error"]["code"].as_str().unwrap().to_owned()).or_default() += 1;
        }
    }
    assert_eq!(acknowledged.len(), 100, "refusals: {refusals:?}");
    assert_eq!(refusals.get("sold_out"), Some(&400), "{refusals:?}");
    let stored = a.api().get("/api/seller/orders?limit=1000", Some(&sale.seller)).await.ok(200)["items"].clone();
    let stored: HashSet<String> =
        stored.as_array().unwrap().iter().map(|o| o["id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(stored, acknowledged, "acknowledged orders equal stored orders");
    let buyers: HashSet<String> = a.api().get("/api/seller/orders?limit=1000", Some(&sale.seller)).await.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["buyer_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(buyers.len(), 100, "no buyer beyond the limit of one");
    assert_eq!(stock_of(&a, &honey).await, 200);
}

#[tokio::test]
async fn a_redis_restart_mid_sale_loses_no_acknowledged_order_and_never_oversells() {
    let mut redis = RedisServer::start_with(true).await;
    let app = spawn_with(redis_config(&redis)).await;
    let mut sale = live_sale(&app).await;
    let show = sale.show.clone();
    let honey = sale.products[0].clone();
    let offer = start_offer(&mut sale.s, &show, &honey, 40, 1, 600).await;
    let url = app.ws_url();
    let mut tasks = Vec::new();
    for i in 0..120 {
        let (token, _) = buyer_client_token(&app);
        let url = format!("{url}?token={token}");
        let (show_id, offer_id) = (show["id"].clone(), offer["id"].clone());
        tasks.push(tokio::spawn(async move {
            use tokio_tungstenite::tungstenite::client::IntoClientRequest;
            tokio::time::sleep(Duration::from_millis(i * 5)).await;
            let mut c = Client::connect_request(url.into_client_request().unwrap()).await.unwrap();
            // Retry with the same key while the engine is unreachable: the outcome is settled once.
            for _ in 0..200 {
                let r = c.call("order.place", json!({"show": show_id, "offer_id": offer_id, "qty": 1, "key": format!("crash-{i:04}"), "delivery": delivery()})).await;
                if r["ok"] == false && r["error"]["code"] == "unavailable" {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
                return r;
            }
            panic!("the engine never came back");
        }));
    }
    tokio::time::sleep(Duration::from_millis(250)).await;
    redis.restart().await;
    let mut acknowledged = HashSet::new();
    for t in tasks {
        let r = t.await.unwrap();
        if r["ok"] == true {
            acknowledged.insert(r["data"]["order"]["id"].as_str().unwrap().to_owned());
        } else {
            assert_eq!(r["error"]["code"], "sold_out", "{r}");
        }
    }
    eventually("the node serves again", || async { reqwest::get(app.http("/readyz")).await.unwrap().status() == 200 })
        .await;
    let stored = app.api().get("/api/seller/orders?limit=1000", Some(&sale.seller)).await.ok(200)["items"].clone();
    let stored: HashSet<String> =
        stored.as_array().unwrap().iter().map(|o| o["id"].as_str().unwrap().to_owned()).collect();
    assert!(acknowledged.is_subset(&stored), "every acknowledged order is stored");
    assert!(stored.len() <= 40, "never oversold: {}", stored.len());
    assert_eq!(stored.len(), 40, "the offer sold out: {} stored, {} acknowledged", stored.len(), acknowledged.len());
}

#[tokio::test]
async fn an_erp_reads_the_sellers_orders_from_a_redis_stream_with_a_consumer_group() {
    let redis = RedisServer::start().await;
    let app = spawn_with(redis_config(&redis)).await;
    let mut sale = live_sale(&app).await;
    let show = sale.show.clone();
    let offer = start_offer(&mut sale.s, &show, &sale.products[0].clone(), 5, 5, 600).await;
    let (t, _) = buyer_client_token(&app);
    let mut b = Client::connect(&app, Some(&t)).await;
    let o = b.call("order.place", json!({"show": show["id"], "offer_id": offer["id"], "qty": 2, "key": "erp-order-1", "delivery": delivery()})).await;
    let order_id = o["data"]["order"]["id"].as_str().unwrap().to_owned();
    assert_eq!(sale.s.call("order.confirm", json!({"order_id": order_id})).await["ok"], true);

    let seller_id =
        app.api().get("/api/me", Some(&sale.seller)).await.body["user"]["seller_id"].as_str().unwrap().to_owned();
    let stream = format!("test:{{s:{seller_id}}}:orders");
    let client = redis::Client::open(redis.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let _: () =
        redis::cmd("XGROUP").arg("CREATE").arg(&stream).arg("erp").arg("0").query_async(&mut conn).await.unwrap();
    let reply: redis::streams::StreamReadReply = redis::cmd("XREADGROUP")
        .arg("GROUP")
        .arg("erp")
        .arg("worker-1")
        .arg("COUNT")
        .arg(10)
        .arg("STREAMS")
        .arg(&stream)
        .arg(">")
        .query_async(&mut conn)
        .await
        .unwrap();
    let entries = &reply.keys[0].ids;
    assert_eq!(entries.len(), 2);
    let field = |i: usize, f: &str| -> String { redis::from_redis_value(entries[i].map[f].clone()).unwrap() };
    assert_eq!((field(0, "type"), field(0, "order_id")), ("placed".to_owned(), order_id.clone()));
    let placed: Value = serde_json::from_str(&field(0, "order")).unwrap();
    assert_eq!(placed["total"], 198000);
    assert_eq!((field(1, "type"), field(1, "status")), ("status".to_owned(), "confirmed".to_owned()));
    let acked: i64 = redis::cmd("XACK")
        .arg(&stream)
        .arg("erp")
        .arg(&entries[0].id)
        .arg(&entries[1].id)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(acked, 2);
}

#[tokio::test]
async fn ending_a_show_ends_its_offers_and_returns_unsold_stock() {
    let app = spawn_app().await;
    let mut sale = live_sale(&app).await;
    let show = sale.show.clone();
    let honey = sale.products[0].clone();
    let offer = start_offer(&mut sale.s, &show, &honey, 20, 5, 600).await;
    let (t, _) = buyer_client_token(&app);
    let mut b = Client::connect(&app, Some(&t)).await;
    let r = b.call("order.place", json!({"show": show["id"], "offer_id": offer["id"], "qty": 3, "key": "before-end-1", "delivery": delivery()})).await;
    assert_eq!(r["ok"], true, "{r}");
    assert_eq!(stock_of(&app, &honey).await, 30);
    let id = show["id"].as_str().unwrap();
    let ended =
        app.api().post(&format!("/api/shows/{id}/end"), Some(&sale.seller), json!({})).await.ok(200)["show"].clone();
    assert_eq!(ended["summary"]["offers"][0]["units"], 3);
    assert_eq!(stock_of(&app, &honey).await, 47);
    let late = b.call("order.place", json!({"show": show["id"], "offer_id": offer["id"], "qty": 1, "key": "after-end-1", "delivery": delivery()})).await;
    assert_error(&late, "offer_ended");
    let lineup = b
        .call(
            "order.place",
            json!({"show": show["id"], "product_id": honey, "qty": 1, "key": "after-end-2", "delivery": delivery()}),
        )
        .await;
    assert_error(&lineup, "invalid_state");
}

#[tokio::test]
async fn a_viewer_joining_another_node_sees_the_live_offers_in_the_snapshot() {
    let redis = RedisServer::start().await;
    let a = spawn_with(redis_config(&redis)).await;
    let b = spawn_with(redis_config(&redis)).await;
    let mut sale = live_sale(&a).await;
    let show = sale.show.clone();
    let offer = start_offer(&mut sale.s, &show, &sale.products[0].clone(), 7, 2, 600).await;
    assert_eq!(sale.s.call("show.announce", json!({"show": show["id"], "text": "Giảm 20%"})).await["ok"], true);
    let mut viewer = Client::connect(&b, None).await;
    let snap = viewer.subscribe(&format!("show:{}", show["id"].as_str().unwrap())).await["snapshot"].clone();
    assert_eq!(snap["offers"].as_array().unwrap().len(), 1, "{snap}");
    assert_eq!(snap["offers"][0]["id"], offer["id"]);
    assert_eq!(snap["offers"][0]["remaining"], 7);
    assert_eq!(snap["announcement"], "Giảm 20%");
    assert_eq!(snap["show"]["announcement"], "Giảm 20%");
}

#[tokio::test]
async fn an_offer_expires_exactly_once_across_two_nodes() {
    let redis = RedisServer::start().await;
    let a = spawn_with(redis_config(&redis)).await;
    let b = spawn_with(redis_config(&redis)).await;
    let mut sale = live_sale(&a).await;
    let show = sale.show.clone();
    let honey = sale.products[0].clone();
    let ch = format!("show:{}", show["id"].as_str().unwrap());
    let mut on_a = Client::connect(&a, None).await;
    on_a.subscribe(&ch).await;
    let mut on_b = Client::connect(&b, None).await;
    on_b.subscribe(&ch).await;
    let offer = start_offer(&mut sale.s, &show, &honey, 12, 2, 10).await;
    assert_eq!(stock_of(&a, &honey).await, 38);
    let mut ended = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(14);
    while tokio::time::Instant::now() < deadline {
        match tokio::time::timeout(Duration::from_millis(500), on_b.recv()).await {
            Ok(f) if f["ev"] == "offer" && f["data"]["offer"]["status"] == "ended" => {
                assert_eq!(f["data"]["offer"]["id"], offer["id"]);
                ended += 1;
            }
            _ => {}
        }
    }
    assert_eq!(ended, 1, "one end, announced once, whichever node closed it");
    assert_eq!(stock_of(&b, &honey).await, 50);
    let closed = next_event(&mut on_a, "offer").await;
    assert_eq!(closed["data"]["offer"]["status"], "live");
    assert_eq!(next_event(&mut on_a, "offer").await["data"]["offer"]["status"], "ended");
}
