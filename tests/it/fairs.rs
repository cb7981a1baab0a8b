//! Virtual fairs (PROTOCOL.md §3): a whole small fair on each engine and on two nodes, the
//! agenda's rules, booths' Q&A, and who may do what.

use ocop_live::auth::{Role, User};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::*;

fn at(offset_s: i64) -> String {
    let t = time::OffsetDateTime::now_utc() + time::Duration::seconds(offset_s);
    ocop_live::clock::format_rfc3339(t)
}

fn staff(role: Role, name: &str) -> User {
    User { id: Uuid::now_v7(), name: name.into(), role, email: None, phone: None, seller_id: None }
}

/// Reads events until one named `ev` arrives on `ch`, returning it (others are skipped).
async fn next_on(c: &mut Client, ch: &str, ev: &str) -> Value {
    loop {
        let f = c.recv().await;
        if f["ch"] == ch && f["ev"] == ev {
            return f;
        }
    }
}

/// A seller's token, user and one product id.
async fn seller(api: &Api, product: &str) -> (String, Value, String) {
    let (token, user) = api.register("seller").await;
    let p = api.create_product(&token, Api::product_body(product)).await;
    (token, user, p["id"].as_str().unwrap().to_owned())
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

/// A fair from creation to its report: `a` serves the organiser and the sellers, `b` the
/// visitors (the same node, or another on the same Redis).
async fn a_whole_fair(a: &TestApp, b: &TestApp) {
    let (api, api_b) = (a.api(), b.api());
    let organiser = staff(Role::Organiser, "Sở Công Thương Tuyên Quang");
    let org = a.token(&organiser);

    // A draft, seen by its organiser only.
    let fair = api
        .post(
            "/api/fairs",
            Some(&org),
            json!({"name": "Hội chợ OCOP trực tuyến Tuyên Quang", "description": "Một tuần, trăm gian hàng",
                   "province": "Tuyên Quang", "opens_at": at(2), "closes_at": at(3 * 3600)}),
        )
        .await
        .ok(201)["fair"]
        .clone();
    assert_eq!(fair["status"], "draft");
    let fair_id = id(&fair);
    api_b.get(&format!("/api/fairs/{fair_id}"), None).await.problem(404);
    assert_eq!(api.get(&format!("/api/fairs/{fair_id}"), Some(&org)).await.ok(200)["fair"]["status"], "draft");

    // Two booths: one applied for and approved, one added by the organiser.
    let (s1, s1_user, honey) = seller(&api, "Mật ong bạc hà").await;
    let (s2, s2_user, _tea) = seller(&api, "Trà Shan tuyết").await;
    let mut s1_ws = Client::connect(a, Some(&s1)).await;
    s1_ws.subscribe(&format!("user:{}", id(&s1_user))).await;
    let mut org_ws = Client::connect(a, Some(&org)).await;
    let org_me = format!("user:{}", organiser.id);
    org_ws.subscribe(&org_me).await;
    let published = api.post(&format!("/api/fairs/{fair_id}/publish"), Some(&org), json!({})).await;
    assert_eq!(published.ok(200)["fair"]["status"], "published");
    let booth1 = api
        .post(
            &format!("/api/fairs/{fair_id}/booths"),
            Some(&s1),
            json!({"title": "Gian mật ong Mèo Vạc", "featured_products": [honey]}),
        )
        .await
        .ok(201)["booth"]
        .clone();
    assert_eq!(booth1["status"], "pending");
    let applied = next_on(&mut org_ws, &org_me, "notify").await;
    assert_eq!(
        (applied["data"]["kind"].clone(), applied["data"]["booth"]["id"].clone()),
        (json!("booth.applied"), booth1["id"].clone())
    );
    api.post(&format!("/api/fairs/{fair_id}/booths"), Some(&s1), json!({})).await.problem(409);
    let approved = api.post(&format!("/api/booths/{}/approve", id(&booth1)), Some(&org), json!({})).await;
    assert_eq!(approved.ok(200)["booth"]["status"], "approved");
    let notice = next_on(&mut s1_ws, &format!("user:{}", id(&s1_user)), "notify").await;
    assert_eq!(notice["data"]["kind"], "booth.approved");
    assert_eq!(notice["data"]["booth"]["id"], booth1["id"]);
    let s2_seller = s2_user["seller_id"].clone();
    let booth2 = api
        .post(&format!("/api/fairs/{fair_id}/booths"), Some(&org), json!({"seller_id": s2_seller}))
        .await
        .ok(201)["booth"]
        .clone();
    assert_eq!(booth2["status"], "approved");

    // A visitor in the lobby on the other node sees the fair open by its schedule.
    let (buyer, buyer_user) = api_b.register("buyer").await;
    let mut visitor = Client::connect(b, Some(&buyer)).await;
    let lobby = format!("fair:{fair_id}");
    let snap = visitor.subscribe(&lobby).await;
    assert_eq!(snap["snapshot"]["booths"].as_array().unwrap().len(), 2, "{snap}");
    let opened = if snap["snapshot"]["fair"]["status"] == "open" {
        snap["snapshot"]["fair"].clone()
    } else {
        next_on(&mut visitor, &lobby, "fair").await["data"]["fair"].clone()
    };
    assert_eq!(opened["status"], "open");

    // The agenda: a show in the fair's hours, refused when it overlaps or lies outside.
    let starts = at(3600);
    let show = api
        .post(
            "/api/shows",
            Some(&s1),
            json!({"title": "Mật ong mùa hoa", "scheduled_at": starts, "fair_id": fair_id, "products": [honey]}),
        )
        .await
        .ok(201)["show"]
        .clone();
    let show_id = id(&show);
    assert_eq!(show["fair_id"], fair_id);
    let agenda = next_on(&mut visitor, &lobby, "agenda").await;
    assert_eq!(agenda["data"]["show"]["id"], show["id"]);
    let overlap = api
        .post(
            "/api/shows",
            Some(&s1),
            json!({"title": "Trùng giờ", "scheduled_at": at(3600 + 1800), "fair_id": fair_id}),
        )
        .await;
    overlap.problem(409);
    assert!(overlap.body["detail"].as_str().unwrap().contains(&show_id), "{:?}", overlap.body);
    let outside = api
        .post("/api/shows", Some(&s1), json!({"title": "Quá giờ", "scheduled_at": at(4 * 3600), "fair_id": fair_id}))
        .await;
    assert!(outside.problem(400)["scheduled_at"].as_str().unwrap().contains("opening hours"), "{:?}", outside.body);
    let (s3, _, _) = seller(&api, "Cam sành").await;
    let no_booth = api
        .post("/api/shows", Some(&s3), json!({"title": "Không gian hàng", "scheduled_at": starts, "fair_id": fair_id}))
        .await;
    no_booth.problem(409);
    assert!(no_booth.body["detail"].as_str().unwrap().contains("approved booth"), "{:?}", no_booth.body);
    let view = api_b.get(&format!("/api/fairs/{fair_id}"), None).await;
    assert_eq!(view.ok(200)["agenda"][0]["id"], show["id"]);
    assert_eq!(view.ok(200)["booths"].as_array().unwrap().len(), 2);

    // The buyer follows the show and is told once when it goes live; the lobby too.
    let me = format!("user:{}", id(&buyer_user));
    visitor.subscribe(&me).await;
    let followed = api_b.post(&format!("/api/shows/{show_id}/follow"), Some(&buyer), json!({})).await;
    assert_eq!(followed.ok(200)["following"], true);
    assert_eq!(api_b.get("/api/me/follows", Some(&buyer)).await.ok(200)["items"][0]["id"], show["id"]);
    api.post(&format!("/api/shows/{show_id}/start"), Some(&s1), json!({})).await.ok(200);
    let live = next_on(&mut visitor, &lobby, "show.live").await;
    assert_eq!(live["data"]["show"]["status"], "live");
    let notice = next_on(&mut visitor, &me, "notify").await;
    assert_eq!(
        (notice["data"]["kind"].clone(), notice["data"]["show"]["id"].clone()),
        (json!("show.live"), show["id"].clone())
    );

    // Booth Q&A: the buyer asks, the seller is there and answers.
    let booth_ch = format!("booth:{}", id(&booth1));
    let booth_snap = visitor.subscribe(&booth_ch).await;
    assert_eq!(booth_snap["snapshot"]["booth"]["title"], "Gian mật ong Mèo Vạc");
    let (asked, before) = visitor
        .call_collect("chat.send", json!({"booth": id(&booth1), "text": "Mật có giao ra Hà Nội không ạ?"}))
        .await;
    assert_eq!(asked["ok"], true, "{asked}");
    // The event may come before the reply (one node) or after it (through Redis).
    let question = match before.into_iter().find(|f| f["ch"] == booth_ch && f["ev"] == "chat") {
        Some(f) => f,
        None => next_on(&mut visitor, &booth_ch, "chat").await,
    };
    assert_eq!(question["data"]["text"], "Mật có giao ra Hà Nội không ạ?");
    s1_ws.subscribe(&booth_ch).await;
    let presence = next_on(&mut visitor, &booth_ch, "presence").await;
    assert_eq!(presence["data"]["seller_online"], true);
    // The lobby's list of booths says so too.
    loop {
        let b = next_on(&mut visitor, &lobby, "booth").await;
        if b["data"]["booth"]["id"] == booth1["id"] {
            assert_eq!(b["data"]["booth"]["seller_online"], true);
            break;
        }
    }
    let answer = s1_ws.call("chat.send", json!({"booth": id(&booth1), "text": "Dạ có, 2 ngày ạ"})).await;
    assert_eq!(answer["ok"], true, "{answer}");
    let reply = next_on(&mut visitor, &booth_ch, "chat").await;
    assert_eq!(reply["data"]["user"]["id"], s1_user["id"]);

    // Wholesale: the buyer asks the booth for a quote, the seller quotes, the buyer accepts;
    // each side is told once.
    let s1_me = format!("user:{}", id(&s1_user));
    let inquiry = api_b
        .post(
            &format!("/api/booths/{}/inquiries", id(&booth1)),
            Some(&buyer),
            json!({"product_id": honey, "quantity": 200, "unit": "thùng", "target_price": 300000, "deliver_by": "2027-01-15",
                   "message": "=HYPERLINK(\"x\") Cần mật cho chuỗi cửa hàng"}),
        )
        .await
        .ok(201)["inquiry"]
        .clone();
    assert_eq!((inquiry["status"].clone(), inquiry["deliver_by"].clone()), (json!("open"), json!("2027-01-15")));
    let asked = next_on(&mut s1_ws, &s1_me, "notify").await;
    assert_eq!(
        (asked["data"]["kind"].clone(), asked["data"]["inquiry"]["id"].clone()),
        (json!("inquiry"), inquiry["id"].clone())
    );
    let quoted = api
        .post(
            &format!("/api/inquiries/{}/quote", id(&inquiry)),
            Some(&s1),
            json!({"price": 320000, "quantity": 200, "valid_until": at(7 * 24 * 3600), "message": "Giao trong 5 ngày"}),
        )
        .await;
    assert_eq!(quoted.ok(200)["inquiry"]["status"], "quoted");
    let told = next_on(&mut visitor, &me, "notify").await;
    assert_eq!(told["data"]["kind"], "quote");
    assert_eq!(told["data"]["inquiry"]["quote"]["price"], 320000);
    api.post(&format!("/api/inquiries/{}/accept", id(&inquiry)), Some(&s1), json!({})).await.problem(403);
    let accepted = api_b.post(&format!("/api/inquiries/{}/accept", id(&inquiry)), Some(&buyer), json!({})).await;
    assert_eq!(accepted.ok(200)["inquiry"]["status"], "accepted");
    let done = next_on(&mut s1_ws, &s1_me, "notify").await;
    assert_eq!(done["data"]["kind"], "inquiry.accepted");
    let contact = &done["data"]["inquiry"]["buyer_contact"];
    assert_eq!(contact["email"], buyer_user["email"], "the seller can reach the buyer once accepted: {contact}");
    assert!(quoted.ok(200)["inquiry"].get("buyer_contact").is_none(), "not before");
    api_b.post(&format!("/api/inquiries/{}/decline", id(&inquiry)), Some(&buyer), json!({})).await.problem(409);
    assert_eq!(api.get("/api/me/inquiries", Some(&s1)).await.ok(200)["items"][0]["id"], inquiry["id"]);
    assert_eq!(api_b.get("/api/me/inquiries", Some(&buyer)).await.ok(200)["items"][0]["status"], "accepted");

    // A buyer orders in the live show: the fair's figures count it.
    let placed = visitor
        .call("order.place", json!({"show": show_id, "product_id": honey, "qty": 2, "key": "fair-order-0001"}))
        .await;
    assert_eq!(placed["ok"], true, "{placed}");

    // The organiser's announcement reaches the lobby.
    api.post(&format!("/api/fairs/{fair_id}/announcements"), Some(&org), json!({"text": "Giảm 20% tối nay!"}))
        .await
        .ok(201);
    let ann = next_on(&mut visitor, &lobby, "announcement").await;
    assert_eq!(ann["data"]["text"], "Giảm 20% tối nay!");

    // The kill switch: the organiser stops the show, its viewers are told why and by whom.
    let mut viewer = Client::connect(b, None).await;
    let show_ch = format!("show:{show_id}");
    viewer.subscribe(&show_ch).await;
    let ended = api
        .post(&format!("/api/shows/{show_id}/end"), Some(&org), json!({"reason": "Vi phạm quy định quảng cáo"}))
        .await;
    assert_eq!(ended.ok(200)["show"]["status"], "ended");
    let status = next_on(&mut viewer, &show_ch, "status").await;
    assert_eq!(status["data"]["status"], "ended");
    assert_eq!(status["data"]["reason"], "Vi phạm quy định quảng cáo");
    assert_eq!(status["data"]["by"]["role"], "organiser");
    let stopped = api_b.get(&format!("/api/shows/{show_id}"), None).await.ok(200)["show"]["stopped"].clone();
    assert_eq!(stopped["reason"], "Vi phạm quy định quảng cáo", "a viewer who comes later reads why: {stopped}");
    assert_eq!(stopped["by"]["role"], "organiser");
    let gone = next_on(&mut visitor, &lobby, "show.ended").await;
    assert_eq!(gone["data"]["show_id"], show["id"]);

    // The control room and the report: by booth, province, group and stars; CSV opens as text.
    let stats = api.get(&format!("/api/fairs/{fair_id}/stats"), Some(&org)).await;
    let stats = stats.ok(200);
    assert_eq!((stats["orders"].clone(), stats["revenue"].clone()), (json!(1), json!(780000)), "{stats}");
    assert_eq!(stats["inquiries"], 1);
    assert!(stats["unique_visitors"].as_u64().unwrap() >= 1, "{stats}");
    let mine = stats["by_booth"].as_array().unwrap().iter().find(|b| b["booth_id"] == booth1["id"]).unwrap().clone();
    assert_eq!(
        (mine["shows"].clone(), mine["revenue"].clone(), mine["inquiries"].clone()),
        (json!(1), json!(780000), json!(1))
    );
    assert_eq!(stats["by_group"][0]["key"], "food");
    assert_eq!(stats["by_stars"][0]["key"], "4");
    assert_eq!(stats["by_province"][0]["revenue"], 780000);
    api.get(&format!("/api/fairs/{fair_id}/stats"), Some(&s1)).await.problem(403);
    let csv = api.raw(reqwest::Method::GET, &format!("/api/fairs/{fair_id}/report?format=csv")).await;
    let csv = csv.bearer_auth(&org).send().await.unwrap();
    assert_eq!(csv.status(), 200);
    let text = csv.text().await.unwrap();
    assert!(text.starts_with("\u{feff}booth_id,booth,seller,province,shows,orders,units,revenue"), "{text}");
    assert!(text.contains(&format!("{},Gian mật ong Mèo Vạc", id(&booth1))), "{text}");
    let csv = api.raw(reqwest::Method::GET, &format!("/api/fairs/{fair_id}/inquiries?format=csv")).await;
    let text = csv.bearer_auth(&org).send().await.unwrap().text().await.unwrap();
    assert!(text.contains("'=HYPERLINK"), "a formula typed by a buyer opens as text: {text}");

    // The organiser closes the fair early; the lobby is told, and nothing more joins it.
    let closed = api.post(&format!("/api/fairs/{fair_id}/close"), Some(&org), json!({})).await;
    assert_eq!(closed.ok(200)["fair"]["status"], "closed");
    let ev = next_on(&mut visitor, &lobby, "fair").await;
    assert_eq!(ev["data"]["fair"]["status"], "closed");
    api.post(&format!("/api/fairs/{fair_id}/booths"), Some(&s3), json!({})).await.problem(409);
    let late = visitor.call("chat.send", json!({"booth": id(&booth1), "text": "Còn bán không?"})).await;
    assert_error(&late, "invalid_state");

    // The follower was told once, whatever the number of nodes.
    let history = b.state.engine.broker.history(&me, None).await.unwrap();
    let _ = s2;
    assert!(history.position.offset >= 1);
    let all = b.state.engine.broker.recent(&me, 100).await.unwrap();
    let live_notices = all
        .events
        .iter()
        .filter_map(|f| serde_json::from_slice::<Value>(f).ok())
        .filter(|f| f["ev"] == "notify" && f["data"]["kind"] == "show.live")
        .count();
    assert_eq!(live_notices, 1);
}

#[tokio::test]
async fn a_whole_fair_on_memory() {
    let app = spawn_app().await;
    a_whole_fair(&app, &app).await;
}

#[tokio::test]
async fn a_whole_fair_on_redis() {
    let redis = RedisServer::start().await;
    let app = spawn_with(redis_config(&redis)).await;
    a_whole_fair(&app, &app).await;
}

#[tokio::test]
async fn a_whole_fair_on_two_nodes() {
    let redis = RedisServer::start().await;
    let a = spawn_with(redis_config(&redis)).await;
    let b = spawn_with(redis_config(&redis)).await;
    a_whole_fair(&a, &b).await;
}

#[tokio::test]
async fn unknown_fairs_and_booths_and_drafts_are_not_found_on_the_wire() {
    let app = spawn_app().await;
    let org = app.token(&staff(Role::Organiser, "BTC"));
    let fair = app
        .api()
        .post("/api/fairs", Some(&org), json!({"name": "Nháp", "opens_at": at(3600), "closes_at": at(7200)}))
        .await
        .ok(201)["fair"]
        .clone();
    let mut c = Client::connect(&app, None).await;
    for ch in [format!("fair:{}", Uuid::now_v7()), format!("booth:{}", Uuid::now_v7()), format!("fair:{}", id(&fair))] {
        let r = c.call("subscribe", json!({"ch": ch})).await;
        assert_error(&r, "not_found");
    }
    let mut o = Client::connect(&app, Some(&org)).await;
    let own = o.subscribe(&format!("fair:{}", id(&fair))).await;
    assert_eq!(own["snapshot"]["fair"]["status"], "draft");
}

#[tokio::test]
async fn when_the_scheduler_dies_another_node_takes_over_within_seconds_and_acts_once() {
    let redis = RedisServer::start().await;
    let a = spawn_with(redis_config(&redis)).await;
    let b = spawn_with(redis_config(&redis)).await;
    // A node that held the schedule died without letting go: its lease runs out in 3 s.
    let died = time::OffsetDateTime::now_utc();
    redis.cmd(&["SET", "test:fairs:scheduler", "a-node-that-died", "PX", "3000"]).await;
    let org = a.token(&staff(Role::Organiser, "BTC"));
    let fair = a
        .api()
        .post("/api/fairs", Some(&org), json!({"name": "Chợ đêm", "opens_at": at(2), "closes_at": at(3600)}))
        .await
        .ok(201)["fair"]
        .clone();
    let fair_id = id(&fair);
    a.api().post(&format!("/api/fairs/{fair_id}/publish"), Some(&org), json!({})).await.ok(200);
    let lobby = format!("fair:{fair_id}");
    let mut visitor = Client::connect(&b, None).await;
    let snap = visitor.subscribe(&lobby).await;
    let opened = match snap["snapshot"]["fair"].clone() {
        f if f["status"] == "open" => f,
        _ => next_on(&mut visitor, &lobby, "fair").await["data"]["fair"].clone(),
    };
    assert_eq!(opened["status"], "open");
    let opened_at = time::OffsetDateTime::parse(
        opened["opened_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert!(opened_at >= died + time::Duration::seconds(3), "nobody acted while the dead node's lease held");
    let holder = redis.cmd(&["GET", "test:fairs:scheduler"]).await;
    let holder = match holder {
        redis::Value::BulkString(b) => String::from_utf8(b).unwrap(),
        other => panic!("the lease is held: {other:?}"),
    };
    let nodes = [a.state.node_id.to_string(), b.state.node_id.to_string()];
    assert!(nodes.contains(&holder), "a live node holds it now: {holder}");
    // Both nodes run the scheduler; the fair opened once.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let events = b.state.engine.broker.recent(&lobby, 100).await.unwrap().events;
    let opens = events
        .iter()
        .filter_map(|f| serde_json::from_slice::<Value>(f).ok())
        .filter(|f| f["ev"] == "fair" && f["data"]["fair"]["status"] == "open")
        .count();
    assert_eq!(opens, 1);
}

#[tokio::test]
async fn a_flood_of_anonymous_fair_views_costs_the_engine_about_one_read_each() {
    let redis = RedisServer::start().await;
    let app = spawn_with(redis_config(&redis)).await;
    let api = app.api();
    let org = app.token(&staff(Role::Organiser, "BTC"));
    let fair = api
        .post("/api/fairs", Some(&org), json!({"name": "Chợ", "opens_at": at(-60), "closes_at": at(6 * 3600)}))
        .await
        .ok(201)["fair"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    api.post(&format!("/api/fairs/{fair}/publish"), Some(&org), json!({})).await.ok(200);
    let (seller, _, product) = seller(&api, "Mật ong").await;
    let booth = api.post(&format!("/api/fairs/{fair}/booths"), Some(&seller), json!({})).await.ok(201)["booth"].clone();
    api.post(&format!("/api/booths/{}/approve", id(&booth)), Some(&org), json!({})).await.ok(200);
    for i in 0..3 {
        let body = json!({"title": format!("Phiên {i}"), "scheduled_at": at(600 + i * 3700), "fair_id": fair, "products": [product]});
        api.post("/api/shows", Some(&seller), body).await.ok(201);
    }
    let path = format!("/api/fairs/{fair}");
    assert_eq!(api.get(&path, None).await.ok(200)["agenda"].as_array().unwrap().len(), 3);
    let before = crate::channels::command_calls(&redis).await;
    for _ in 0..20 {
        assert_eq!(api.get(&path, None).await.ok(200)["booths"].as_array().unwrap().len(), 1);
    }
    let after = crate::channels::command_calls(&redis).await;
    let gets = after.get("get").copied().unwrap_or(0) - before.get("get").copied().unwrap_or(0);
    // Unkept, each view reads the fair, its booths and each show (twice): 7 reads, 140 in all.
    assert!(gets <= 60, "20 views read {gets} keys");
    // The organiser reads what is stored.
    let mine = api.get(&path, Some(&org)).await.ok(200)["agenda"].as_array().unwrap().len();
    assert_eq!(mine, 3);
    // So does the home page's list of fairs.
    assert_eq!(api.get("/api/fairs", None).await.ok(200)["items"][0]["id"], fair.as_str());
    let before = crate::channels::command_calls(&redis).await;
    for _ in 0..20 {
        api.get("/api/fairs", None).await.ok(200);
    }
    let after = crate::channels::command_calls(&redis).await;
    let ranges = |m: &std::collections::BTreeMap<String, u64>| m.get("zrange").copied().unwrap_or(0);
    assert!(
        ranges(&after) - ranges(&before) <= 10,
        "20 lists read the indexes {} times",
        ranges(&after) - ranges(&before)
    );
}

#[tokio::test]
async fn bodies_are_objects_and_an_optional_one_may_be_null() {
    let app = spawn_app().await;
    let api = app.api();
    let org = app.token(&staff(Role::Organiser, "BTC"));
    let fair = api
        .post("/api/fairs", Some(&org), json!({"name": "Chợ", "opens_at": at(-60), "closes_at": at(3600)}))
        .await
        .ok(201)["fair"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // A struct's fields as an array are not a body here.
    let r = api.patch(&format!("/api/fairs/{fair}"), Some(&org), json!([null, null])).await;
    assert_eq!(r.problem(400)["body"], "must be a JSON object");
    let (seller, _) = api.register("seller").await;
    let show = api.post("/api/shows", Some(&seller), json!({"title": "Phiên"})).await.ok(201)["show"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    api.post(&format!("/api/shows/{show}/start"), Some(&seller), json!({})).await.ok(200);
    let ended =
        api.send(reqwest::Method::POST, &format!("/api/shows/{show}/end"), Some(&seller), Some(Value::Null)).await;
    assert_eq!(ended.ok(200)["show"]["status"], "ended", "no reason: null is no body");
}
