//! The WebSocket endpoint against a real server and real clients (memory engine).

use std::time::Duration;

use futures_util::SinkExt;
use ocop_live::Config;
use ocop_live::auth::{Claims, Role};
use serde_json::json;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use crate::helpers::*;

#[tokio::test]
async fn hello_comes_first_for_anonymous_and_signed_in_clients() {
    let app = spawn_app().await;
    let anon = Client::connect(&app, None).await;
    let data = &anon.hello["data"];
    assert!(data["user"].is_null());
    assert_eq!(data["protocol"], 1);
    assert_eq!(data["ping_interval_s"], 25);
    assert!(uuid::Uuid::parse_str(data["conn"].as_str().unwrap()).is_ok());
    let time = data["server_time"].as_str().unwrap();
    assert!(time.ends_with('Z') && time.len() == "2026-11-29T04:05:06.789Z".len(), "{time}");

    let buyer = user(Role::Buyer);
    let signed = Client::connect(&app, Some(&app.token(&buyer))).await;
    assert_eq!(signed.hello["data"]["user"]["id"], buyer.id.to_string());
    assert_eq!(signed.hello["data"]["user"]["role"], "buyer");
    assert_ne!(signed.hello["data"]["conn"], anon.hello["data"]["conn"]);
}

#[tokio::test]
async fn offered_subprotocol_is_accepted() {
    let app = spawn_app().await;
    let mut req = app.ws_url().into_client_request().unwrap();
    req.headers_mut().insert("Sec-WebSocket-Protocol", HeaderValue::from_static("ocop-live.v1"));
    let (_, resp) = tokio_tungstenite::connect_async(req).await.unwrap();
    assert_eq!(resp.headers()["sec-websocket-protocol"], "ocop-live.v1");
}

fn http_status(err: WsError) -> u16 {
    match err {
        WsError::Http(resp) => resp.status().as_u16(),
        other => panic!("expected an HTTP refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn bad_and_expired_tokens_are_refused_before_upgrade() {
    let app = spawn_app().await;
    let url = format!("{}?token=not-a-token", app.ws_url());
    let err = Client::connect_request(url.into_client_request().unwrap()).await.err().unwrap();
    assert_eq!(http_status(err), 401);

    let other = ocop_live::auth::Tokens::new(b"another-secret-another-secret-xx").unwrap();
    let foreign = other.mint(&user(Role::Buyer), Duration::from_secs(60));
    let url = format!("{}?token={foreign}", app.ws_url());
    let err = Client::connect_request(url.into_client_request().unwrap()).await.err().unwrap();
    assert_eq!(http_status(err), 401);
}

#[tokio::test]
async fn origin_must_be_allowed_or_same_origin() {
    let mut cfg = Config::for_tests();
    cfg.allowed_origins = vec!["https://cho.ocop.vn".into()];
    let app = spawn_with(cfg).await;
    let with_origin = |origin: &str| {
        let mut req = app.ws_url().into_client_request().unwrap();
        req.headers_mut().insert("Origin", HeaderValue::from_str(origin).unwrap());
        req
    };
    let err = Client::connect_request(with_origin("https://evil.example")).await.err().unwrap();
    assert_eq!(http_status(err), 403);
    assert!(Client::connect_request(with_origin("https://cho.ocop.vn")).await.is_ok());
    let same = format!("http://{}", app.addr);
    assert!(Client::connect_request(with_origin(&same)).await.is_ok());
    // No Origin header at all: not a browser, allowed.
    Client::connect(&app, None).await;
}

#[tokio::test]
async fn subscribe_receives_events_in_order_and_recovers_after_reconnect() {
    let app = spawn_core(Config::for_tests()).await;
    let ch = public_channel();
    let mut c = Client::connect(&app, None).await;
    let sub = c.subscribe(&ch).await;
    assert_eq!(sub["off"], 0);
    assert_eq!(sub["recovered"], false);
    assert_eq!(sub["missed"], json!([]));
    assert!(sub["snapshot"].is_object());

    for i in 1..=3 {
        app.publish(&ch, "announcement", json!({"text": format!("tin {i}")})).await;
    }
    let mut epoch = String::new();
    for i in 1..=3u64 {
        let ev = c.event().await;
        assert_eq!(ev["ch"], ch);
        assert_eq!(ev["ev"], "announcement");
        assert_eq!(ev["off"], i);
        assert_eq!(ev["data"]["text"], format!("tin {i}"));
    }
    let reply = c.call("unsubscribe", json!({"ch": ch})).await;
    assert_eq!(reply["ok"], true);
    let sub = c.subscribe(&ch).await;
    epoch.push_str(sub["epoch"].as_str().unwrap());
    assert_eq!(sub["off"], 3);
    drop(c);

    app.publish(&ch, "announcement", json!({"text": "tin 4"})).await;
    app.publish(&ch, "announcement", json!({"text": "tin 5"})).await;

    let mut c = Client::connect(&app, None).await;
    let reply = c.call("subscribe", json!({"ch": ch, "since": {"off": 3, "epoch": epoch}})).await;
    let data = &reply["data"];
    assert_eq!(data["recovered"], true, "{reply}");
    assert_eq!(data["off"], 5);
    let offs: Vec<u64> = data["missed"].as_array().unwrap().iter().map(|e| e["off"].as_u64().unwrap()).collect();
    assert_eq!(offs, vec![4, 5]);
    assert_eq!(data["missed"][1]["data"]["text"], "tin 5");
    app.publish(&ch, "announcement", json!({"text": "tin 6"})).await;
    assert_eq!(c.event().await["off"], 6);

    // A position from another history lifetime cannot be recovered: rebuild from the snapshot.
    let mut d = Client::connect(&app, None).await;
    let reply = d.call("subscribe", json!({"ch": ch, "since": {"off": 3, "epoch": "other"}})).await;
    assert_eq!(reply["data"]["recovered"], false);
    assert_eq!(reply["data"]["missed"], json!([]));
    assert_eq!(reply["data"]["off"], 6);
}

#[tokio::test]
async fn recovery_fails_when_history_was_trimmed() {
    let mut cfg = Config::for_tests();
    cfg.limits.history_size = 5;
    let app = spawn_core(cfg).await;
    let ch = public_channel();
    for i in 0..10 {
        app.publish(&ch, "announcement", json!({"i": i})).await;
    }
    let mut c = Client::connect(&app, None).await;
    let epoch = c.subscribe(&ch).await["epoch"].as_str().unwrap().to_owned();
    let mut d = Client::connect(&app, None).await;
    let old = d.call("subscribe", json!({"ch": ch, "since": {"off": 2, "epoch": epoch}})).await;
    assert_eq!(old["data"]["recovered"], false);
    let mut e = Client::connect(&app, None).await;
    let recent = e.call("subscribe", json!({"ch": ch, "since": {"off": 6, "epoch": epoch}})).await;
    assert_eq!(recent["data"]["recovered"], true);
    assert_eq!(recent["data"]["missed"].as_array().unwrap().len(), 4);
}

#[tokio::test]
async fn unsubscribe_stops_events() {
    let app = spawn_core(Config::for_tests()).await;
    let (a, b) = (public_channel(), public_channel());
    let mut c = Client::connect(&app, None).await;
    c.subscribe(&a).await;
    c.subscribe(&b).await;
    assert_eq!(c.call("unsubscribe", json!({"ch": a})).await["ok"], true);
    app.publish(&a, "announcement", json!({"text": "không thấy"})).await;
    app.publish(&b, "announcement", json!({"text": "thấy"})).await;
    let ev = c.event().await;
    assert_eq!(ev["ch"], b);
}

#[tokio::test]
async fn malformed_frames_get_bad_request_and_the_connection_stays() {
    let app = spawn_core(Config::for_tests()).await;
    let mut c = Client::connect(&app, None).await;
    for text in ["not json", "[]", "42", r#"{"op":"subscribe","ch":"x"}"#, r#"{"id":"7","op":"subscribe"}"#] {
        c.send_text(text).await;
        let reply = c.recv().await;
        assert_error(&reply, "bad_request");
        assert!(reply["re"].is_null(), "{text}: {reply}");
    }
    for (text, id) in [
        (r#"{"id":11}"#, 11),
        (r#"{"id":12,"op":7}"#, 12),
        (r#"{"id":13,"op":"subscribe"}"#, 13),
        (r#"{"id":14,"op":"subscribe","ch":["a"]}"#, 14),
        (r#"{"id":15,"op":"subscribe","ch":"show:x","since":{"off":-1,"epoch":"e"}}"#, 15),
    ] {
        c.send_text(text).await;
        let reply = c.recv().await;
        assert_error(&reply, "bad_request");
        assert_eq!(reply["re"], id, "{text}");
    }
    c.send_text(r#"{"id":16,"op":"teleport"}"#).await;
    let reply = c.recv().await;
    assert_error(&reply, "unknown_op");
    assert_eq!(reply["re"], 16);
    // Still serving.
    c.subscribe(&public_channel()).await;
}

#[tokio::test]
async fn channel_errors_have_their_codes() {
    let app = spawn_core(Config::for_tests()).await;
    let buyer = user(Role::Buyer);
    let seller = user(Role::Seller);
    let mut anon = Client::connect(&app, None).await;
    for ch in ["lobby", "show:123", "room:0190f3c4-0000-7000-8000-000000000000", ""] {
        assert_error(&anon.call("subscribe", json!({ "ch": ch })).await, "bad_request");
    }
    assert_error(&anon.call("subscribe", json!({"ch": format!("user:{}", buyer.id)})).await, "unauthenticated");

    let mut b = Client::connect(&app, Some(&app.token(&buyer))).await;
    b.subscribe(&format!("user:{}", buyer.id)).await;
    assert_error(&b.call("subscribe", json!({"ch": format!("user:{}", seller.id)})).await, "forbidden");
    assert_error(
        &b.call("subscribe", json!({"ch": format!("seller:{}", seller.seller_id.unwrap())})).await,
        "forbidden",
    );

    let mut s = Client::connect(&app, Some(&app.token(&seller))).await;
    s.subscribe(&format!("seller:{}", seller.seller_id.unwrap())).await;

    let ch = public_channel();
    b.subscribe(&ch).await;
    assert_error(&b.call("subscribe", json!({ "ch": ch })).await, "invalid_state");
    assert_error(&b.call("unsubscribe", json!({"ch": public_channel()})).await, "invalid_state");
}

#[tokio::test]
async fn subscriptions_are_limited_per_connection() {
    let mut cfg = Config::for_tests();
    cfg.limits.max_subscriptions = 3;
    let app = spawn_core(cfg).await;
    let mut c = Client::connect(&app, None).await;
    for _ in 0..3 {
        c.subscribe(&public_channel()).await;
    }
    let reply = c.call("subscribe", json!({"ch": public_channel()})).await;
    assert_error(&reply, "bad_request");
    assert!(reply["error"]["message"].as_str().unwrap().contains("at most 3"));
}

#[tokio::test]
async fn command_flood_is_rate_limited_then_closed_with_4029() {
    let mut cfg = Config::for_tests();
    cfg.limits.command_rate = 1;
    cfg.limits.command_burst = 5;
    cfg.limits.abuse_threshold = 20;
    let app = spawn_core(cfg).await;
    let mut c = Client::connect(&app, None).await;
    let ch = public_channel();
    for i in 0..5 {
        let reply = c.call("unsubscribe", json!({ "ch": ch })).await;
        assert_error(&reply, "invalid_state");
        assert_eq!(reply["re"], i + 1);
    }
    let reply = c.call("unsubscribe", json!({ "ch": ch })).await;
    assert_error(&reply, "rate_limited");
    let retry = reply["error"]["retry_after_ms"].as_u64().unwrap();
    assert!(retry > 0 && retry <= 1000, "{retry}");

    // Others are not slowed: a second connection has its own budget.
    let mut other = Client::connect(&app, None).await;
    other.subscribe(&public_channel()).await;

    for _ in 0..30 {
        let _ = c.ws.send(Message::text(r#"{"id":99,"op":"unsubscribe","ch":"x"}"#)).await;
    }
    assert_eq!(c.closed().await, Ended::Closed(4029));
    let m = app.metrics().await;
    assert!(m.contains("ocop_ws_rate_limited_total"), "{m}");
}

#[tokio::test]
async fn oversize_message_closes_with_1009() {
    let app = spawn_app().await;
    let mut c = Client::connect(&app, None).await;
    let big = format!(r#"{{"id":1,"op":"subscribe","ch":"{}"}}"#, "x".repeat(17 * 1024));
    c.send_text(&big).await;
    assert_eq!(c.closed().await, Ended::Closed(1009));
}

#[tokio::test]
async fn binary_frame_closes_with_1003() {
    let app = spawn_app().await;
    let mut c = Client::connect(&app, None).await;
    c.send_binary(vec![1, 2, 3]).await;
    assert_eq!(c.closed().await, Ended::Closed(1003));
}

#[tokio::test]
async fn slow_consumer_is_closed_with_4008_and_others_keep_receiving() {
    let mut cfg = Config::for_tests();
    cfg.limits.outbound_queue_bytes = 64 * 1024;
    let app = spawn_core(cfg).await;
    let ch = public_channel();
    let mut slow = Client::connect(&app, None).await;
    slow.subscribe(&ch).await;
    let mut fast = Client::connect(&app, None).await;
    fast.subscribe(&ch).await;

    // The slow client reads nothing while far more than socket buffers plus its queue is sent.
    let text = "mật ong bạc hà ".repeat(200);
    let reader = tokio::spawn(async move {
        let mut seen = 0u64;
        while seen < 2000 {
            let ev = fast.event().await;
            seen += 1;
            assert_eq!(ev["off"], seen);
        }
        fast
    });
    for _ in 0..2000 {
        app.publish(&ch, "announcement", json!({ "text": text })).await;
        tokio::task::yield_now().await;
    }
    let _fast = reader.await.unwrap();
    assert_eq!(slow.closed().await, Ended::Closed(4008));
    eventually("slow disconnect counted", || async {
        app.metrics().await.contains("ocop_ws_slow_disconnects_total 1")
    })
    .await;
}

#[tokio::test]
async fn shutdown_closes_every_socket_with_1012() {
    let mut app = spawn_core(Config::for_tests()).await;
    let mut a = Client::connect(&app, None).await;
    let mut b = Client::connect(&app, None).await;
    b.subscribe(&public_channel()).await;
    app.trigger_stop();
    assert_eq!(a.closed().await, Ended::Closed(1012));
    assert_eq!(b.closed().await, Ended::Closed(1012));
    app.wait_stopped().await;
}

#[tokio::test]
async fn expired_token_closes_with_1008_on_the_next_command() {
    let app = spawn_core(Config::for_tests()).await;
    let u = user(Role::Buyer);
    let now = ocop_live::auth::unix_now();
    let claims =
        Claims { sub: u.id, name: u.name.clone(), role: u.role, seller_id: None, email: None, iat: now, exp: now + 1 };
    let secret = app.state.config.jwt_secret.clone().unwrap();
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()).unwrap(),
    )
    .unwrap();
    let mut c = Client::connect(&app, Some(&token)).await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    c.send("subscribe", json!({"ch": public_channel()})).await;
    assert_eq!(c.closed().await, Ended::Closed(1008));
}

#[tokio::test]
async fn a_peer_that_never_answers_pings_is_dropped() {
    let mut cfg = Config::for_tests();
    cfg.limits.ping_interval_s = 1;
    cfg.limits.pong_timeout_s = 1;
    let app = spawn_core(cfg).await;
    // A client that completes the handshake and then never reads, so never answers a ping.
    let _silent = Client::connect(&app, None).await;
    // A client that keeps reading (tungstenite answers pings while reading) for four seconds.
    let mut live = Client::connect(&app, None).await;
    let lively = tokio::spawn(async move {
        let ch = public_channel();
        for _ in 0..20 {
            let reply = live.call("unsubscribe", json!({ "ch": ch })).await;
            assert_error(&reply, "invalid_state");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        live
    });
    eventually("the silent peer is dropped", || async { app.metrics().await.contains("ocop_ws_dead_peers_total 1") })
        .await;
    let _live = lively.await.unwrap();
    let m = app.metrics().await;
    assert!(m.contains("ocop_ws_dead_peers_total 1") && m.contains("ocop_ws_connections 1"), "{m}");
}

#[tokio::test]
async fn connections_beyond_the_limit_get_503() {
    let mut cfg = Config::for_tests();
    cfg.limits.max_connections = 2;
    let app = spawn_with(cfg).await;
    let _a = Client::connect(&app, None).await;
    let b = Client::connect(&app, None).await;
    let err = Client::connect_request(app.ws_url().into_client_request().unwrap()).await.err().unwrap();
    assert_eq!(http_status(err), 503);
    drop(b);
    eventually("a slot frees up", || async {
        Client::connect_request(app.ws_url().into_client_request().unwrap()).await.is_ok()
    })
    .await;
}

#[tokio::test]
async fn ops_endpoints_answer() {
    let app = spawn_core(Config::for_tests()).await;
    let health = reqwest::get(app.http("/healthz")).await.unwrap();
    assert_eq!(health.status(), 200);
    let ready = reqwest::get(app.http("/readyz")).await.unwrap();
    assert_eq!(ready.status(), 200);
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(body, json!({"ready": true, "engine": "memory"}));

    let mut c = Client::connect(&app, None).await;
    c.subscribe(&public_channel()).await;
    c.send_text("nope").await;
    c.recv().await;
    let m = app.metrics().await;
    for name in [
        "ocop_ws_connections 1",
        "ocop_ws_frames_in_total 2",
        "ocop_ws_frames_out_total",
        "ocop_ws_bytes_out_total",
        "ocop_ws_slow_disconnects_total 0",
        "ocop_ws_rate_limited_total 0",
        r#"ocop_ws_commands_total{op="subscribe",result="ok"} 1"#,
        r#"ocop_ws_commands_total{op="decode",result="bad_request"} 1"#,
        r#"ocop_engine_call_seconds_count{call="history"} 1"#,
    ] {
        assert!(m.contains(name), "metrics lack {name}:\n{m}");
    }
}
