//! The edge of a node: sockets before their upgrade (the header timeout, the cap on
//! connections not yet upgraded), shutdown, the handshake, what a command frame may hold, and
//! how a connection ends (token expiry, slow consumers).

use std::time::Duration;

use futures_util::StreamExt;
use ocop_live::Config;
use ocop_live::auth::Role;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;

use crate::helpers::*;

/// Reads until the server closes the socket (end of stream or reset) and returns what came
/// first; fails when the socket is still open after [`WAIT`].
async fn read_until_closed(tcp: &mut TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(WAIT, tcp.read(&mut buf)).await.expect("the server closes the socket") {
            Ok(0) | Err(_) => return got,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
}

/// Sends `request` and returns the response head (status line and headers).
async fn exchange(app: &TestApp, request: &str) -> String {
    let mut tcp = TcpStream::connect(app.addr).await.unwrap();
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = tokio::time::timeout(WAIT, tcp.read(&mut buf)).await.expect("an answer in time").unwrap();
        assert!(n > 0, "closed without an answer: {:?}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
    }
    // After a 101 the first frame may come in the same read: only the head is text.
    let end = got.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    String::from_utf8(got[..end].to_vec()).unwrap().to_ascii_lowercase()
}

#[tokio::test]
async fn silent_and_slowloris_sockets_are_closed_after_the_header_timeout() {
    let mut cfg = Config::for_tests();
    cfg.limits.header_read_timeout_s = 1;
    let app = spawn_with(cfg).await;
    let mut silent = TcpStream::connect(app.addr).await.unwrap();
    // One header byte every 200 ms: the head never ends, yet the socket is never idle.
    let slowloris = TcpStream::connect(app.addr).await.unwrap();
    let (mut read_half, mut write_half) = slowloris.into_split();
    let dripping = tokio::spawn(async move {
        let request = b"GET /healthz HTTP/1.1\r\nHost: x\r\n".iter().chain(b"X-Padding: aaaaaaaaaaaaaaaaaaaa".iter());
        for byte in request.cycle() {
            if write_half.write_all(&[*byte]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    read_until_closed(&mut silent).await;
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout(WAIT, read_half.read(&mut buf)).await.expect("the slowloris socket is closed") {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
    }
    dripping.abort();
    // Complete requests are still served.
    assert_eq!(reqwest::get(app.http("/healthz")).await.unwrap().status(), 200);
}

/// Whether the server has closed `tcp` (a non-blocking socket that should receive nothing).
fn is_closed(tcp: &std::net::TcpStream) -> bool {
    use std::io::Read;
    let mut byte = [0u8; 1];
    match (&*tcp).read(&mut byte) {
        Ok(0) => true,
        Ok(_) => panic!("a silent socket got an answer"),
        Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
    }
}

#[tokio::test]
async fn connections_beyond_the_pending_cap_wait_until_a_slot_frees_up() {
    let mut cfg = Config::for_tests();
    cfg.limits.max_pending_connections = 5;
    cfg.limits.header_read_timeout_s = 2;
    let app = spawn_with(cfg).await;
    let silent: Vec<std::net::TcpStream> = (0..5)
        .map(|_| {
            let tcp = std::net::TcpStream::connect(app.addr).unwrap();
            tcp.set_nonblocking(true).unwrap();
            tcp
        })
        .collect();
    // The sixth is queued behind the five (the accept queue is in order) and finds no slot: it
    // waits, unaccepted, until the header timeout closes a silent one.
    let mut extra = TcpStream::connect(app.addr).await.unwrap();
    extra.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await.unwrap();
    let answer = read_until_closed(&mut extra).await;
    assert!(answer.starts_with(b"HTTP/1.1 200"), "{:?}", String::from_utf8_lossy(&answer));
    let closed = silent.iter().filter(|tcp| is_closed(tcp)).count();
    assert!(closed >= 1, "served only once a silent socket had been closed to make room");
    eventually("the header timeout closes every silent socket", || {
        let all = silent.iter().all(is_closed);
        async move { all }
    })
    .await;
    let metrics = app.metrics().await;
    let waits = metrics.lines().find_map(|l| l.strip_prefix("ocop_http_pending_full_total ")).unwrap();
    assert!(waits.parse::<u64>().unwrap() >= 1, "{metrics}");
}

/// The server binary in a child process, killed on drop.
struct ChildServer(std::process::Child);

impl Drop for ChildServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn a_process_out_of_descriptors_serves_again_once_the_header_timeout_frees_them() {
    // A process allowed 64 descriptors, far fewer than the pending-connection cap, so silent
    // sockets exhaust them and accepting fails with "too many open files".
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let addr = format!("127.0.0.1:{port}");
    let command =
        format!("ulimit -n 64 && exec {} --listen {addr} --header-read-timeout-s 1", env!("CARGO_BIN_EXE_ocop-live"));
    let child = std::process::Command::new("bash")
        .args(["-c", &command])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let _server = ChildServer(child);
    let healthz = format!("http://{addr}/healthz");
    eventually("the server starts", || async { reqwest::get(&healthz).await.is_ok_and(|r| r.status() == 200) }).await;
    let mut silent = Vec::new();
    for _ in 0..100 {
        silent.push(TcpStream::connect(&addr).await.unwrap());
    }
    // Queued behind them; answered once the header timeout has closed enough of them.
    let client = reqwest::Client::builder().timeout(WAIT).build().unwrap();
    let status = client.get(&healthz).send().await.expect("answered despite the flood").status();
    assert_eq!(status, 200);
}

#[tokio::test]
async fn websockets_do_not_count_against_the_pending_cap() {
    let mut cfg = Config::for_tests();
    cfg.limits.max_pending_connections = 2;
    let app = spawn_core(cfg).await;
    let mut clients = Vec::new();
    for _ in 0..4 {
        // Bounded: a WebSocket that kept its slot would leave the next one waiting unaccepted.
        clients.push(tokio::time::timeout(WAIT, Client::connect(&app, None)).await.expect("connects in time"));
    }
    for c in &mut clients {
        c.subscribe(&public_channel()).await;
    }
    assert_eq!(reqwest::get(app.http("/healthz")).await.unwrap().status(), 200);
}

#[tokio::test]
async fn a_body_larger_than_the_connection_buffer_is_read_whole() {
    let app = spawn_app().await;
    // 40 KiB: past hyper's buffer for one connection, within the REST body limit.
    let body = serde_json::json!({ "name": "x".repeat(40 * 1024) });
    let errors = app.api().post("/api/auth/guest", None, body).await.problem(400).clone();
    assert!(errors["name"].is_string(), "the whole body was parsed: {errors}");
}

#[tokio::test]
async fn shutdown_ends_within_its_timeout_whatever_requests_are_half_sent() {
    let mut cfg = Config::for_tests();
    cfg.limits.shutdown_timeout_s = 2;
    // Far longer than the shutdown timeout: shutdown must not wait for it.
    cfg.limits.header_read_timeout_s = 120;
    let mut app = spawn_core(cfg).await;
    let mut half_sent = Vec::new();
    for _ in 0..3 {
        let mut tcp = TcpStream::connect(app.addr).await.unwrap();
        tcp.write_all(b"GET /ws HTTP/1.1\r\nHost: x\r\n").await.unwrap();
        half_sent.push(tcp);
    }
    let mut ws = Client::connect(&app, None).await;
    ws.subscribe(&public_channel()).await;
    app.trigger_stop();
    assert_eq!(ws.closed().await, Ended::Closed(1012));
    tokio::time::timeout(Duration::from_secs(10), app.wait_stopped())
        .await
        .expect("the server stops within its shutdown timeout (2 s) and a margin");
    for tcp in &mut half_sent {
        read_until_closed(tcp).await;
    }
}

/// A signed-in client that only reads (answering pings) is closed with 1008 when its token
/// expires, and an event on its private channel published after that does not reach it.
async fn expiry_closes_a_reading_client(node: &TestApp, publisher: &TestApp) {
    let buyer = user(Role::Buyer);
    let token = node.state.tokens.mint(&buyer, node.state.config.token_ttl());
    let exp = node.state.tokens.verify(&token).unwrap().exp;
    let ch = format!("user:{}", buyer.id);
    let mut c = Client::connect(node, Some(&token)).await;
    c.subscribe(&ch).await;
    publisher.publish(&ch, "order", json!({"n": 1})).await;
    assert_eq!(c.event().await["data"]["n"], 1, "the private channel works before expiry");

    // Past `exp` by the wall clock, which is what the token's expiry is in.
    let exp_at = std::time::UNIX_EPOCH + Duration::from_secs(exp);
    while std::time::SystemTime::now() < exp_at + Duration::from_millis(100) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    publisher.publish(&ch, "order", json!({"n": 2})).await;
    loop {
        match tokio::time::timeout(WAIT, c.ws.next()).await.expect("closed in time") {
            Some(Ok(Message::Text(t))) => panic!("a frame arrived after the token expired: {t}"),
            Some(Ok(Message::Close(Some(CloseFrame { code, reason })))) => {
                assert_eq!(u16::from(code), 1008);
                assert_eq!(reason.as_str(), "token expired");
                return;
            }
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
            other => panic!("expected a close frame with 1008, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn an_expired_token_closes_the_connection_with_1008_without_a_command() {
    let mut cfg = Config::for_tests();
    cfg.token_ttl_s = 3;
    let app = spawn_with(cfg).await;
    expiry_closes_a_reading_client(&app, &app).await;
}

#[tokio::test]
async fn an_expired_token_closes_the_connection_with_1008_on_redis_too() {
    let redis = RedisServer::start().await;
    let mut cfg = redis_config(&redis);
    cfg.token_ttl_s = 3;
    let a = spawn_with(cfg.clone()).await;
    let b = spawn_with(cfg).await;
    // The private event is published on the other node.
    expiry_closes_a_reading_client(&a, &b).await;
}

#[tokio::test]
async fn a_token_is_refused_from_its_exp_on_at_the_handshake_and_on_rest() {
    let app = spawn_app().await;
    let buyer = user(Role::Buyer);
    let secret = app.state.config.jwt_secret.clone().unwrap();
    let now = ocop_live::auth::unix_now();
    for exp in [now - 3, now] {
        let claims = ocop_live::auth::Claims {
            sub: buyer.id,
            name: buyer.name.clone(),
            role: buyer.role,
            seller_id: None,
            email: None,
            iat: now - 60,
            exp,
        };
        let token = jsonwebtoken::encode(
            &jsonwebtoken::Header::default(),
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()).unwrap(),
        )
        .unwrap();
        app.api().get("/api/me", Some(&token)).await.problem(401);
        let url = format!("{}?token={token}", app.ws_url());
        match tokio_tungstenite::connect_async(url).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => assert_eq!(resp.status(), 401),
            other => panic!("expected 401 for exp = now - {}, got {other:?}", now - exp),
        }
    }
}

#[tokio::test]
async fn a_command_that_repeats_a_key_is_refused() {
    let app = spawn_core(Config::for_tests()).await;
    let ch = public_channel();
    let mut c = Client::connect(&app, None).await;
    c.send_text(&format!(r#"{{"id":1,"op":"subscribe","ch":"{ch}","op":"unsubscribe"}}"#)).await;
    let reply = c.recv().await;
    assert_error(&reply, "bad_request");
    assert_eq!(reply["re"], 1);
    c.send_text(&format!(r#"{{"id":2,"op":"subscribe","ch":"{ch}","since":{{"off":0,"epoch":"","off":5}}}}"#)).await;
    let reply = c.recv().await;
    assert_error(&reply, "bad_request");
    assert_eq!(reply["re"], 2);
    c.send_text(&format!(r#"{{"id":3,"id":4,"op":"subscribe","ch":"{ch}"}}"#)).await;
    let reply = c.recv().await;
    assert_error(&reply, "bad_request");
    assert!(reply["re"].is_null(), "{reply}");
    // None of them was applied: the channel is not subscribed yet.
    c.subscribe(&ch).await;
}

#[tokio::test]
async fn handshakes_are_checked_as_rfc_6455_says() {
    let app = spawn_app().await;
    let request = |version: &str, key: &str, extra: &str| {
        format!(
            "GET /ws {version}\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: {key}\r\n{extra}\r\n"
        )
    };
    let nonce = "dGhlIHNhbXBsZSBub25jZQ==";
    let v13 = "Sec-WebSocket-Version: 13\r\n";
    let ok = exchange(&app, &request("HTTP/1.1", nonce, v13)).await;
    assert!(ok.starts_with("http/1.1 101"), "{ok}");
    // The accept value of RFC 6455 §1.3 for its sample nonce.
    assert!(ok.contains("sec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo="), "{ok}");

    for (what, req) in [
        ("a key that is not base64", request("HTTP/1.1", "not a nonce!", v13)),
        ("a key of 15 bytes", request("HTTP/1.1", "AAAAAAAAAAAAAAAAAAAA", v13)),
        ("a key of 17 bytes", request("HTTP/1.1", "AAAAAAAAAAAAAAAAAAAAAAA=", v13)),
        ("no version", request("HTTP/1.1", nonce, "")),
        ("HTTP/1.0", request("HTTP/1.0", nonce, v13)),
    ] {
        let head = exchange(&app, &req).await;
        assert!(head.starts_with("http/1.1 400") || head.starts_with("http/1.0 400"), "{what}: {head}");
    }
    let head = exchange(&app, &request("HTTP/1.1", nonce, "Sec-WebSocket-Version: 8\r\n")).await;
    assert!(head.starts_with("http/1.1 426"), "{head}");
    assert!(head.contains("sec-websocket-version: 13"), "{head}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_consumer_gets_its_4008_close_frame_behind_full_buffers() {
    let mut cfg = Config::for_tests();
    cfg.limits.outbound_queue_bytes = 64 * 1024;
    let app = spawn_core(cfg).await;
    let ch = public_channel();
    let mut slow = Client::connect(&app, None).await;
    slow.subscribe(&ch).await;
    // The client reads nothing while frames arrive a little at a time, so the server's writer
    // fills every TCP buffer between them before the queue overflows.
    let text = "mật ong ".repeat(1000);
    let mut published = 0;
    while app.state.metrics.slow_disconnects.get() == 0 {
        assert!(published < 20_000, "the slow client was never closed");
        app.publish(&ch, "announcement", json!({ "text": text })).await;
        published += 1;
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    // Away a little longer than a write is given, then reading again: the close frame comes
    // after what the buffers held.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(slow.closed().await, Ended::Closed(4008));
}
