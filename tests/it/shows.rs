//! Live shows over REST and WebSocket, on one node and across two.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::*;

/// A seller with a two-product lineup show; returns (seller token, show, product ids).
async fn seller_with_show(app: &TestApp) -> (String, Value, Vec<String>) {
    let api = app.api();
    let (seller, _) = api.register("seller").await;
    let honey = api.create_product(&seller, Api::product_body("Mật ong bạc hà")).await;
    let tea = api.create_product(&seller, Api::product_body("Trà Shan tuyết")).await;
    let ids = vec![honey["id"].as_str().unwrap().to_owned(), tea["id"].as_str().unwrap().to_owned()];
    let show = api
        .post(
            "/api/shows",
            Some(&seller),
            json!({"title": "Mật ong mùa hoa bạc hà", "description": "Giới thiệu mật ong Mèo Vạc",
                   "scheduled_at": "2026-12-01T19:00:00+07:00",
                   "stream": {"kind": "youtube", "url": "https://www.youtube.com/watch?v=ocop"},
                   "products": ids}),
        )
        .await
        .ok(201)["show"]
        .clone();
    (seller, show, ids)
}

async fn start(app: &TestApp, token: &str, show: &Value) -> Value {
    let id = show["id"].as_str().unwrap();
    app.api().post(&format!("/api/shows/{id}/start"), Some(token), json!({})).await.ok(200)["show"].clone()
}

fn ch(show: &Value) -> String {
    format!("show:{}", show["id"].as_str().unwrap())
}

/// Reads events until one named `ev` arrives, returning it (others are skipped).
async fn next_event(c: &mut Client, ev: &str) -> Value {
    loop {
        let f = c.recv().await;
        if f["ev"] == ev {
            return f;
        }
    }
}

async fn guest(app: &TestApp, name: &str) -> String {
    app.api().post("/api/auth/guest", None, json!({ "name": name })).await.ok(200)["token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn shows_move_from_scheduled_to_live_to_ended_and_nothing_else() {
    let app = spawn_app().await;
    let api = app.api();
    let (seller, show, ids) = seller_with_show(&app).await;
    assert_eq!(show["status"], "scheduled");
    assert_eq!(show["lineup"], json!([{"product_id": ids[0], "code": "A1"}, {"product_id": ids[1], "code": "A2"}]));
    let id = show["id"].as_str().unwrap();
    let (other, _) = api.register("seller").await;
    let (buyer, _) = api.register("buyer").await;

    api.post(&format!("/api/shows/{id}/end"), Some(&seller), json!({})).await.problem(409);
    api.post(&format!("/api/shows/{id}/start"), Some(&other), json!({})).await.problem(403);
    api.post(&format!("/api/shows/{id}/start"), Some(&buyer), json!({})).await.problem(403);
    api.post(&format!("/api/shows/{id}/start"), None, json!({})).await.problem(401);
    let live = start(&app, &seller, &show).await;
    assert_eq!(live["status"], "live");
    assert!(live["started_at"].is_string());
    api.post(&format!("/api/shows/{id}/start"), Some(&seller), json!({})).await.problem(409);

    let listed = api.get("/api/shows?status=live", None).await.ok(200)["items"].clone();
    assert!(listed.as_array().unwrap().iter().any(|s| s["id"] == show["id"]));
    let upcoming = api.get("/api/shows?status=scheduled", None).await.ok(200)["items"].clone();
    assert!(!upcoming.as_array().unwrap().iter().any(|s| s["id"] == show["id"]));

    let ended = api.post(&format!("/api/shows/{id}/end"), Some(&seller), json!({})).await.ok(200)["show"].clone();
    assert_eq!(ended["status"], "ended");
    assert_eq!(ended["replay_url"], "https://www.youtube.com/watch?v=ocop");
    assert!(ended["summary"].is_object());
    api.post(&format!("/api/shows/{id}/end"), Some(&seller), json!({})).await.problem(409);
    api.post(&format!("/api/shows/{id}/start"), Some(&seller), json!({})).await.problem(409);
    assert_eq!(api.get(&format!("/api/shows/{id}"), None).await.ok(200)["show"]["status"], "ended");
    api.get(&format!("/api/shows/{}", uuid::Uuid::now_v7()), None).await.problem(404);
}

#[tokio::test]
async fn a_seller_lists_every_show_of_its_own_in_pages_and_nobody_else_does() {
    let app = spawn_app().await;
    let api = app.api();
    let (seller, first, _) = seller_with_show(&app).await;
    let (other, _) = api.register("seller").await;
    let (buyer, _) = api.register("buyer").await;
    api.post("/api/shows", Some(&other), json!({"title": "Phiên của người khác"})).await.ok(201);
    let second = api.post("/api/shows", Some(&seller), json!({"title": "Phiên thứ hai"})).await.ok(201)["show"].clone();
    let third = api.post("/api/shows", Some(&seller), json!({"title": "Phiên thứ ba"})).await.ok(201)["show"].clone();
    start(&app, &seller, &first).await;
    let id = first["id"].as_str().unwrap();
    api.post(&format!("/api/shows/{id}/end"), Some(&seller), json!({})).await.ok(200);
    start(&app, &seller, &second).await;

    // Every status, oldest first, only the caller's own.
    let all = api.get("/api/seller/shows", Some(&seller)).await.ok(200).clone();
    let listed: Vec<(&str, &str)> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["id"].as_str().unwrap(), s["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        listed,
        [(id, "ended"), (second["id"].as_str().unwrap(), "live"), (third["id"].as_str().unwrap(), "scheduled")],
        "{all}"
    );
    assert!(all.get("next_cursor").is_none(), "{all}");

    // Pages of two, then the rest.
    let page = api.get("/api/seller/shows?limit=2", Some(&seller)).await.ok(200).clone();
    assert_eq!(page["items"].as_array().unwrap().len(), 2, "{page}");
    let cursor = page["next_cursor"].as_str().expect("a next page").to_owned();
    let rest = api.get(&format!("/api/seller/shows?limit=2&cursor={cursor}"), Some(&seller)).await.ok(200).clone();
    assert_eq!(
        rest["items"].as_array().unwrap().iter().map(|s| s["id"].clone()).collect::<Vec<_>>(),
        [third["id"].clone()]
    );
    assert!(rest.get("next_cursor").is_none(), "{rest}");

    let theirs = api.get("/api/seller/shows", Some(&other)).await.ok(200)["items"].clone();
    assert_eq!(theirs.as_array().unwrap().len(), 1, "{theirs}");
    api.get("/api/seller/shows", Some(&buyer)).await.problem(403);
    api.get("/api/seller/shows", None).await.problem(401);
    api.get("/api/seller/shows?limit=0", Some(&seller)).await.problem(400);
    api.get("/api/seller/shows?cursor=nope", Some(&seller)).await.problem(400);
}

#[tokio::test]
async fn show_input_is_validated() {
    let app = spawn_app().await;
    let api = app.api();
    let (seller, _) = api.register("seller").await;
    let (other, _) = api.register("seller").await;
    let foreign = api.create_product(&other, Api::product_body("Nước mắm")).await;
    let r = api
        .post(
            "/api/shows",
            Some(&seller),
            json!({"title": " ", "scheduled_at": "tomorrow", "stream": {"kind": "hls", "url": "https://x.vn/a.mp4"},
                   "products": [foreign["id"]]}),
        )
        .await;
    let errors = r.problem(400);
    for field in ["title", "scheduled_at", "stream.url", "products[0]"] {
        assert!(errors[field].is_string(), "{field}: {errors}");
    }
    let (buyer, _) = api.register("buyer").await;
    api.post("/api/shows", Some(&buyer), json!({"title": "x"})).await.problem(403);
}

#[tokio::test]
async fn subscribing_gives_the_show_snapshot_and_unknown_shows_are_not_found() {
    let app = spawn_app().await;
    let (seller, show, _) = seller_with_show(&app).await;
    let mut viewer = Client::connect(&app, None).await;
    let snap = viewer.subscribe(&ch(&show)).await["snapshot"].clone();
    assert_eq!(snap["show"]["id"], show["id"]);
    assert_eq!(snap["show"]["status"], "scheduled");
    assert!(snap["pinned"].is_null());
    assert_eq!(snap["offers"], json!([]));
    assert_eq!(snap["chat"], json!([]));
    assert!(snap["viewers"].is_u64());
    assert_eq!(snap["reactions"]["heart"], 0);

    start(&app, &seller, &show).await;
    let status = next_event(&mut viewer, "status").await;
    assert_eq!(status["data"]["status"], "live");
    assert!(status["off"].is_u64());

    let reply = viewer.call("subscribe", json!({"ch": format!("show:{}", uuid::Uuid::now_v7())})).await;
    assert_error(&reply, "not_found");
}

#[tokio::test]
async fn chat_reaches_everyone_cleaned_and_masked_and_late_joiners_get_the_last_50() {
    let app = spawn_app().await;
    let (seller, show, _) = seller_with_show(&app).await;
    start(&app, &seller, &show).await;
    let show_id = show["id"].clone();
    let mut watcher = Client::connect(&app, None).await;
    watcher.subscribe(&ch(&show)).await;

    let mut anon = Client::connect(&app, None).await;
    assert_error(&anon.call("chat.send", json!({"show": show_id, "text": "xin chào"})).await, "unauthenticated");

    let token = guest(&app, "Khách Hà Nội").await;
    let mut g = Client::connect(&app, Some(&token)).await;
    let reply = g
        .call("chat.send", json!({"show": show_id, "text": "  Cho em hỏi\u{200B} giá, sđt em 0912 345 678 nhé  "}))
        .await;
    assert_eq!(reply["ok"], true, "{reply}");
    let msg_id = reply["data"]["msg_id"].clone();
    let ev = next_event(&mut watcher, "chat").await;
    assert_eq!(ev["data"]["msg_id"], msg_id);
    assert_eq!(ev["data"]["text"], "Cho em hỏi giá, sđt em 091******* nhé");
    assert_eq!(ev["data"]["user"]["name"], "Khách Hà Nội");
    assert_eq!(ev["data"]["user"]["role"], "guest");
    assert!(ev["off"].is_u64());

    for (text, code) in
        [("", "bad_request"), ("\u{200B}\u{200D}", "bad_request"), (&"á".repeat(501)[..], "bad_request")]
    {
        assert_error(&g.call("chat.send", json!({"show": show_id, "text": text})).await, code);
    }
    assert_error(&g.call("chat.send", json!({"show": uuid::Uuid::now_v7(), "text": "hi"})).await, "not_found");
    assert_error(&g.call("chat.send", json!({"show": "nope", "text": "hi"})).await, "bad_request");

    // 55 messages from 11 people; a late joiner sees the last 50, in order.
    let mut senders = Vec::new();
    for i in 0..11 {
        let t = guest(&app, &format!("Người {i}")).await;
        senders.push(Client::connect(&app, Some(&t)).await);
    }
    let mut n = 0;
    for round in 0..5 {
        for (i, s) in senders.iter_mut().enumerate() {
            n += 1;
            let r = s
                .call("chat.send", json!({"show": show_id, "text": format!("tin {n} (người {i}, lượt {round})")}))
                .await;
            assert_eq!(r["ok"], true, "{r}");
        }
    }
    let mut late = Client::connect(&app, None).await;
    let snap = late.subscribe(&ch(&show)).await["snapshot"].clone();
    let texts: Vec<String> =
        snap["chat"].as_array().unwrap().iter().map(|c| c["data"]["text"].as_str().unwrap().to_owned()).collect();
    assert_eq!(texts.len(), 50);
    assert!(texts[0].starts_with("tin 6 "), "{}", texts[0]);
    assert!(texts[49].starts_with("tin 55 "), "{}", texts[49]);
}

#[tokio::test]
async fn chat_floods_are_rate_limited_per_user_and_banned_words_refused() {
    let mut cfg = ocop_live::Config::for_tests();
    cfg.banned_words = vec!["lừa đảo".into()];
    let app = spawn_with(cfg).await;
    let (seller, show, _) = seller_with_show(&app).await;
    start(&app, &seller, &show).await;
    let token = guest(&app, "Khách").await;
    let mut g = Client::connect(&app, Some(&token)).await;
    assert_error(&g.call("chat.send", json!({"show": show["id"], "text": "shop LUA DAO à"})).await, "bad_request");
    for i in 0..4 {
        assert_eq!(g.call("chat.send", json!({"show": show["id"], "text": format!("tin {i}")})).await["ok"], true);
    }
    let r = g.call("chat.send", json!({"show": show["id"], "text": "tin nữa"})).await;
    assert_error(&r, "rate_limited");
    assert!(r["error"]["retry_after_ms"].as_u64().unwrap() > 0);
    // Another viewer is not slowed.
    let other = guest(&app, "Khách 2").await;
    let mut o = Client::connect(&app, Some(&other)).await;
    assert_eq!(o.call("chat.send", json!({"show": show["id"], "text": "chào shop"})).await["ok"], true);
}

#[tokio::test]
async fn moderators_delete_mute_slow_ban_and_announce_and_every_action_is_logged() {
    let app = spawn_app().await;
    let api = app.api();
    let (seller, show, _) = seller_with_show(&app).await;
    start(&app, &seller, &show).await;
    let id = show["id"].clone();
    let (buyer_token, buyer) = api.register("buyer").await;
    let (helper_token, helper_user) = api.register("buyer").await;
    let mut b = Client::connect(&app, Some(&buyer_token)).await;
    b.subscribe(&ch(&show)).await;
    let mut s = Client::connect(&app, Some(&seller)).await;
    s.subscribe(&ch(&show)).await;
    let mut h = Client::connect(&app, Some(&helper_token)).await;

    let msg = b.call("chat.send", json!({"show": id, "text": "hàng giả"})).await["data"]["msg_id"].clone();
    // Not a moderator yet.
    assert_error(&h.call("chat.delete", json!({"show": id, "msg_id": msg})).await, "forbidden");
    assert_error(&h.call("chat.mute", json!({"show": id, "user_id": buyer["id"], "minutes": 5})).await, "forbidden");
    assert_error(&b.call("show.moderators", json!({"show": id, "add": [helper_user["id"]]})).await, "forbidden");
    let r = s.call("show.moderators", json!({"show": id, "add": [helper_user["id"]]})).await;
    assert_eq!(r["data"]["moderators"], json!([helper_user["id"]]));
    assert_eq!(h.call("chat.delete", json!({"show": id, "msg_id": msg})).await["ok"], true);
    let deleted = next_event(&mut b, "chat.deleted").await;
    assert_eq!(deleted["data"]["msg_id"], msg);

    // Mute.
    assert_error(&s.call("chat.mute", json!({"show": id, "user_id": buyer["id"], "minutes": 0})).await, "bad_request");
    assert_eq!(s.call("chat.mute", json!({"show": id, "user_id": buyer["id"], "minutes": 5})).await["ok"], true);
    let r = b.call("chat.send", json!({"show": id, "text": "sao em bị chặn"})).await;
    assert_error(&r, "muted");
    let retry = r["error"]["retry_after_ms"].as_u64().unwrap();
    assert!(retry > 240_000 && retry <= 300_000, "{retry}");

    // Slow mode applies to viewers, not moderators.
    assert_eq!(s.call("chat.slow", json!({"show": id, "seconds": 30})).await["ok"], true);
    let token = guest(&app, "Khách").await;
    let mut g = Client::connect(&app, Some(&token)).await;
    assert_eq!(g.call("chat.send", json!({"show": id, "text": "một"})).await["ok"], true);
    assert_error(&g.call("chat.send", json!({"show": id, "text": "hai"})).await, "rate_limited");
    assert_eq!(s.call("chat.send", json!({"show": id, "text": "shop trả lời"})).await["ok"], true);
    assert_eq!(s.call("chat.send", json!({"show": id, "text": "shop trả lời tiếp"})).await["ok"], true);
    assert_error(&s.call("chat.slow", json!({"show": id, "seconds": 100000})).await, "bad_request");

    // Announcement, in the snapshot too.
    assert_eq!(s.call("show.announce", json!({"show": id, "text": "Miễn phí giao hàng hôm nay!"})).await["ok"], true);
    let a = next_event(&mut b, "announcement").await;
    assert_eq!(a["data"]["text"], "Miễn phí giao hàng hôm nay!");

    // Ban: the banned buyer gets the ban, then nothing more, and cannot come back.
    assert_eq!(s.call("chat.ban", json!({"show": id, "user_id": buyer["id"]})).await["ok"], true);
    let banned = next_event(&mut b, "banned").await;
    assert_eq!(banned["data"]["user_id"], buyer["id"]);
    let mut w = Client::connect(&app, None).await;
    w.subscribe(&ch(&show)).await;
    assert_eq!(s.call("show.announce", json!({"show": id, "text": "Sau khi cấm"})).await["ok"], true);
    next_event(&mut w, "announcement").await;
    let (r, before) = b.call_collect("subscribe", json!({"ch": ch(&show)})).await;
    assert_error(&r, "forbidden");
    assert!(before.is_empty(), "the banned buyer still received {before:?}");
    let mut again = Client::connect(&app, Some(&buyer_token)).await;
    assert_error(&again.call("subscribe", json!({"ch": ch(&show)})).await, "forbidden");
    assert_error(&again.call("chat.send", json!({"show": id, "text": "?"})).await, "forbidden");

    let mut late = Client::connect(&app, None).await;
    let snap = late.subscribe(&ch(&show)).await["snapshot"].clone();
    assert_eq!(snap["announcement"], "Sau khi cấm");
    assert_eq!(snap["show"]["slow_mode_s"], 30);
    assert!(snap["chat"].as_array().unwrap().iter().all(|c| c["data"]["msg_id"] != msg));

    let sid = id.as_str().unwrap();
    let log = app.api().get(&format!("/api/shows/{sid}/moderation"), Some(&seller)).await.ok(200)["items"].clone();
    let actions: Vec<(&str, &str)> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["action"].as_str().unwrap(), e["by"]["name"].as_str().unwrap()))
        .collect();
    assert_eq!(
        actions.iter().map(|a| a.0).collect::<Vec<_>>(),
        vec!["moderators", "delete", "mute", "slow", "announce", "ban", "announce"]
    );
    assert_eq!(actions[1].1, helper_user["name"].as_str().unwrap());
    app.api().get(&format!("/api/shows/{sid}/moderation"), Some(&buyer_token)).await.problem(403);
}

#[tokio::test]
async fn reactions_and_viewers_are_coalesced_once_a_second() {
    let app = spawn_app().await;
    let (seller, show, _) = seller_with_show(&app).await;
    start(&app, &seller, &show).await;
    let mut watcher = Client::connect(&app, None).await;
    watcher.subscribe(&ch(&show)).await;
    let mut viewers = Vec::new();
    for i in 0..3 {
        let t = guest(&app, &format!("Khách {i}")).await;
        let mut c = Client::connect(&app, Some(&t)).await;
        c.subscribe(&ch(&show)).await;
        viewers.push(c);
    }
    let mut hearts = 0;
    for c in viewers.iter_mut() {
        for _ in 0..25 {
            let r = c.call("react", json!({"show": show["id"], "kind": "heart"})).await;
            assert_eq!(r["ok"], true, "{r}");
            hearts += 1;
        }
    }
    // A flood from one viewer hits its limit; what passed before still counts.
    let mut limited = false;
    for _ in 0..100 {
        let r = viewers[0].call("react", json!({"show": show["id"], "kind": "heart"})).await;
        if r["ok"] == true {
            hearts += 1;
        } else {
            assert_error(&r, "rate_limited");
            limited = true;
            break;
        }
    }
    assert!(limited, "a flood of hearts is limited");
    assert_error(&viewers[0].call("react", json!({"show": show["id"], "kind": "fire"})).await, "bad_request");

    // Within a few ticks the totals arrive; far fewer events than hearts.
    let mut reaction_events = 0;
    let mut last_viewers = 0;
    let mut last_hearts = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(8);
    while (last_hearts < hearts || last_viewers < 4) && tokio::time::Instant::now() < deadline {
        let f = watcher.recv().await;
        match f["ev"].as_str() {
            Some("reactions") => {
                reaction_events += 1;
                assert!(f.get("off").is_none());
                last_hearts = f["data"]["heart"].as_u64().unwrap();
            }
            Some("viewers") => {
                assert!(f.get("off").is_none());
                last_viewers = f["data"]["count"].as_u64().unwrap();
            }
            _ => {}
        }
    }
    assert_eq!(last_hearts, hearts);
    assert_eq!(last_viewers, 4);
    assert!(reaction_events <= 9, "{reaction_events} reaction events for {hearts} hearts");
}

#[tokio::test]
async fn pinning_shows_the_current_product_and_follows_its_stock() {
    let app = spawn_app().await;
    let api = app.api();
    let (seller, show, ids) = seller_with_show(&app).await;
    start(&app, &seller, &show).await;
    let (other_seller, _) = api.register("seller").await;
    let outside = api.create_product(&seller, Api::product_body("Không trong danh sách")).await;
    let mut viewer = Client::connect(&app, None).await;
    viewer.subscribe(&ch(&show)).await;
    let mut s = Client::connect(&app, Some(&seller)).await;
    let mut o = Client::connect(&app, Some(&other_seller)).await;
    assert_error(&o.call("show.pin", json!({"show": show["id"], "product_id": ids[0]})).await, "forbidden");
    assert_error(&s.call("show.pin", json!({"show": show["id"], "product_id": outside["id"]})).await, "bad_request");
    assert_eq!(s.call("show.pin", json!({"show": show["id"], "product_id": ids[1]})).await["ok"], true);
    let pinned = next_event(&mut viewer, "pinned").await;
    let p = &pinned["data"]["product"];
    assert_eq!(p["id"], ids[1]);
    assert_eq!((p["price"].as_i64(), p["stock"].as_i64(), p["stars"].as_u64()), (Some(390000), Some(50), Some(4)));
    assert_eq!(p["code"], "A2");
    assert!(p["trace_url"].as_str().unwrap().ends_with(&format!("/t/{}", p["trace_code"].as_str().unwrap())));

    api.patch(&format!("/api/products/{}", ids[1]), Some(&seller), json!({"stock": 12, "price": 350000})).await.ok(200);
    let again = next_event(&mut viewer, "pinned").await;
    assert_eq!(
        (again["data"]["product"]["stock"].as_i64(), again["data"]["product"]["price"].as_i64()),
        (Some(12), Some(350000))
    );

    let mut late = Client::connect(&app, None).await;
    let snap = late.subscribe(&ch(&show)).await["snapshot"].clone();
    assert_eq!(snap["pinned"]["stock"], 12);
    assert_eq!(s.call("show.pin", json!({"show": show["id"], "product_id": null})).await["ok"], true);
    assert!(next_event(&mut viewer, "pinned").await["data"]["product"].is_null());
}

#[tokio::test]
async fn the_summary_counts_viewers_chat_and_hearts() {
    let app = spawn_app().await;
    let api = app.api();
    let (seller, show, _) = seller_with_show(&app).await;
    start(&app, &seller, &show).await;
    let id = show["id"].as_str().unwrap();
    let mut clients = Vec::new();
    for i in 0..3 {
        let t = guest(&app, &format!("Khách {i}")).await;
        let mut c = Client::connect(&app, Some(&t)).await;
        c.subscribe(&ch(&show)).await;
        assert_eq!(c.call("chat.send", json!({"show": id, "text": "hay quá"})).await["ok"], true);
        for _ in 0..4 {
            assert_eq!(c.call("react", json!({"show": id, "kind": "heart"})).await["ok"], true);
        }
        clients.push(c);
    }
    let mut anon = Client::connect(&app, None).await;
    anon.subscribe(&ch(&show)).await;
    eventually("the peak is recorded", || async {
        let s = api.get(&format!("/api/shows/{id}/summary"), Some(&seller)).await;
        s.body["summary"]["peak_viewers"].as_u64() == Some(4)
    })
    .await;
    let ended = api.post(&format!("/api/shows/{id}/end"), Some(&seller), json!({})).await.ok(200)["show"].clone();
    let summary = &ended["summary"];
    assert_eq!(summary["peak_viewers"], 4);
    assert_eq!(summary["unique_viewers"], 4);
    assert_eq!(summary["chat_messages"], 3);
    assert_eq!(summary["hearts"], 12);
    assert!(summary["duration_s"].is_u64());
    let (buyer, _) = api.register("buyer").await;
    api.get(&format!("/api/shows/{id}/summary"), Some(&buyer)).await.problem(403);
    // Ended shows refuse the room's commands.
    assert_error(&clients[0].call("chat.send", json!({"show": id, "text": "còn không"})).await, "invalid_state");
    assert_error(&clients[0].call("react", json!({"show": id, "kind": "heart"})).await, "invalid_state");
}

#[tokio::test]
async fn a_show_spread_over_two_nodes_behaves_as_one() {
    let redis = RedisServer::start().await;
    let a = spawn_with(redis_config(&redis)).await;
    let b = spawn_with(redis_config(&redis)).await;
    let api = a.api();
    let (seller, show, ids) = seller_with_show(&a).await;
    start(&a, &seller, &show).await;
    let id = show["id"].clone();
    let (buyer_token, buyer) = api.register("buyer").await;
    let mut on_a = Client::connect(&a, Some(&buyer_token)).await;
    on_a.subscribe(&ch(&show)).await;
    let mut on_b = Client::connect(&b, None).await;
    on_b.subscribe(&ch(&show)).await;
    let mut seller_b = Client::connect(&b, Some(&seller)).await;
    seller_b.subscribe(&ch(&show)).await;

    // Chat from both nodes arrives everywhere in one order.
    let g1 = guest(&a, "Khách A").await;
    let g2 = guest(&b, "Khách B").await;
    let mut ca = Client::connect(&a, Some(&g1)).await;
    let mut cb = Client::connect(&b, Some(&g2)).await;
    for i in 0..4 {
        let (c, who) = if i % 2 == 0 { (&mut ca, "A") } else { (&mut cb, "B") };
        assert_eq!(c.call("chat.send", json!({"show": id, "text": format!("{i} từ {who}")})).await["ok"], true);
    }
    let mut seen_a = Vec::new();
    let mut seen_b = Vec::new();
    while seen_a.len() < 4 {
        let e = next_event(&mut on_a, "chat").await;
        seen_a.push((e["off"].as_u64().unwrap(), e["data"]["text"].as_str().unwrap().to_owned()));
    }
    while seen_b.len() < 4 {
        let e = next_event(&mut on_b, "chat").await;
        seen_b.push((e["off"].as_u64().unwrap(), e["data"]["text"].as_str().unwrap().to_owned()));
    }
    assert_eq!(seen_a, seen_b);
    assert!(seen_a.windows(2).all(|w| w[0].0 < w[1].0));

    // Pinning through node B shows on node A.
    assert_eq!(seller_b.call("show.pin", json!({"show": id, "product_id": ids[0]})).await["ok"], true);
    assert_eq!(next_event(&mut on_a, "pinned").await["data"]["product"]["id"], ids[0]);

    // Viewer counts add up over both nodes (3 on A: buyer, ca? no: ca is not subscribed).
    eventually("viewers over both nodes", || async { a.state.engine.presence.count(&ch(&show)).await.unwrap() == 3 })
        .await;
    let viewers = next_event(&mut on_a, "viewers").await;
    assert!(viewers["data"]["count"].as_u64().unwrap() >= 1);

    // A ban through node B removes the buyer on node A.
    assert_eq!(seller_b.call("chat.ban", json!({"show": id, "user_id": buyer["id"]})).await["ok"], true);
    assert_eq!(next_event(&mut on_a, "banned").await["data"]["user_id"], buyer["id"]);
    assert_eq!(seller_b.call("show.announce", json!({"show": id, "text": "sau lệnh cấm"})).await["ok"], true);
    next_event(&mut on_b, "announcement").await;
    // Node A no longer sends the banned buyer anything from this show.
    let r = on_a.call("subscribe", json!({"ch": ch(&show)})).await;
    assert_error(&r, "forbidden");
}
