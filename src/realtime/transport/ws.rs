//! `/ws`: checks before the upgrade (the handshake itself, Origin, token, capacity), then one
//! task per connection that reads commands, writes queued frames, pings and ends the connection
//! when its token expires.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderName, Method, StatusCode, Version, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use serde::Deserialize;
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::Instant;

use crate::auth::{Claims, TokenError};
use crate::clock::Clock;
use crate::metrics::CloseLabels;
use crate::realtime::protocol::{CloseCode, Disconnect, Hello, HelloFrame, PROTOCOL_VERSION, SUBPROTOCOL};
use crate::realtime::session::Session;
use crate::realtime::transport::outbound::Outbound;
use crate::state::AppState;

/// Tungstenite's read buffer per connection, and the most it reads in one call. Small, because
/// most connections are idle viewers whose commands (subscribe, react, chat) are mostly shorter:
/// the buffer is allocated and zero-filled whole on the first read, so its size is resident
/// memory for every connection. A longer frame grows it to the frame's length (bounded by the
/// message limit) and is read in a few calls.
const READ_BUFFER: usize = 256;
/// Frames are collected up to this size before a write to the socket; a batch is flushed whole.
const WRITE_BUFFER: usize = 8 * 1024;
/// Time given to write a ping: a socket that cannot take a few bytes in this long belongs to a
/// peer that stopped reading, which is closed as too slow.
const SEND_TIMEOUT: Duration = Duration::from_secs(2);
/// Time given, when a connection ends, to write the close frame (after the frames still queued,
/// unless they are dropped). A slow phone may first have to take what its TCP buffers already
/// hold, which a few seconds allow on any network a live show can be watched on; bounded, so a
/// peer that reads nothing cannot keep its socket, its task and its connection slot.
const CLOSE_WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// Time given, once the close frame is written, for the peer's answer, which completes the
/// close handshake; a live peer answers within a round trip.
const CLOSE_ANSWER_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, Deserialize)]
pub struct WsParams {
    token: Option<String>,
}

/// The upgrade handler.
pub async fn handler(
    State(state): State<AppState>,
    method: Method,
    version: Version,
    Query(params): Query<WsParams>,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    if let Some(refusal) = handshake_refusal(&method, version, &headers) {
        return refusal;
    }
    let ws = match ws {
        Ok(ws) => ws,
        Err(rejection) => return rejection.into_response(),
    };
    if let Some(origin) = headers.get(header::ORIGIN) {
        let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
        if !origin_allowed(origin.to_str().unwrap_or(""), host, &state.config.allowed_origins) {
            return (StatusCode::FORBIDDEN, "origin not allowed").into_response();
        }
    }
    let claims = match params.token.as_deref().filter(|t| !t.is_empty()) {
        None => None,
        Some(token) => match state.tokens.verify(token) {
            Ok(claims) => Some(claims),
            Err(TokenError::Expired) => {
                return (StatusCode::UNAUTHORIZED, "token expired").into_response();
            }
            Err(TokenError::Invalid) => {
                return (StatusCode::UNAUTHORIZED, "token invalid").into_response();
            }
        },
    };
    if state.shutdown.is_cancelled() {
        return (StatusCode::SERVICE_UNAVAILABLE, "server restarting").into_response();
    }
    let Ok(permit) = state.connection_slots.clone().try_acquire_owned() else {
        state.metrics.connections_refused.inc();
        return (StatusCode::SERVICE_UNAVAILABLE, "connection limit reached").into_response();
    };
    let limit = state.config.limits.max_message_bytes;
    let tracker = state.connections.clone();
    ws.protocols([SUBPROTOCOL])
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER)
        .max_write_buffer_size(WRITE_BUFFER + 2 * limit.max(state.config.limits.outbound_queue_bytes))
        .max_message_size(limit)
        .max_frame_size(limit)
        .on_upgrade(move |socket| tracker.track_future(run(socket, state, claims, permit)))
}

/// The handshake as RFC 6455 §4.2.1 and §4.2.2 require it, checked before axum's extractor
/// (which accepts any `Sec-WebSocket-Key` and answers a wrong version with a bare 400): a GET
/// over HTTP/1.1 or later with `Upgrade: websocket`, `Connection: upgrade`, one
/// `Sec-WebSocket-Key` that is 16 bytes in base64, and one `Sec-WebSocket-Version`, which must
/// be 13. A wrong version gets 426 naming the one this server speaks; anything else, 400.
/// Returns the refusal, or `None` for a valid handshake.
fn handshake_refusal(method: &Method, version: Version, headers: &HeaderMap) -> Option<Response> {
    let bad = |why: &'static str| Some((StatusCode::BAD_REQUEST, why).into_response());
    if method != Method::GET {
        return bad("a WebSocket handshake is a GET request");
    }
    if version < Version::HTTP_11 {
        return bad("a WebSocket handshake needs HTTP/1.1 or later");
    }
    if !has_token(headers, &header::UPGRADE, "websocket") {
        return bad("the handshake needs Upgrade: websocket");
    }
    if !has_token(headers, &header::CONNECTION, "upgrade") {
        return bad("the handshake needs Connection: upgrade");
    }
    let mut keys = headers.get_all(header::SEC_WEBSOCKET_KEY).iter();
    let key_is_valid = match (keys.next(), keys.next()) {
        (Some(key), None) => {
            base64::engine::general_purpose::STANDARD.decode(key.as_bytes()).is_ok_and(|nonce| nonce.len() == 16)
        }
        _ => false,
    };
    if !key_is_valid {
        return bad("Sec-WebSocket-Key must be one base64-encoded 16-byte value");
    }
    let mut versions = headers.get_all(header::SEC_WEBSOCKET_VERSION).iter();
    match (versions.next(), versions.next()) {
        (Some(v), None) if v.as_bytes().trim_ascii() == b"13" => None,
        (None, _) => bad("the handshake needs Sec-WebSocket-Version: 13"),
        _ => Some(
            (
                StatusCode::UPGRADE_REQUIRED,
                [(header::SEC_WEBSOCKET_VERSION, "13"), (header::UPGRADE, "websocket")],
                "this server speaks WebSocket version 13 only",
            )
                .into_response(),
        ),
    }
}

/// Whether a comma-separated header (`Connection`, `Upgrade`) lists `token`, ignoring case.
fn has_token(headers: &HeaderMap, name: &HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

/// Same origin (the page came from this server) or on the allow-list.
fn origin_allowed(origin: &str, host: Option<&str>, allowed: &[String]) -> bool {
    if allowed.iter().any(|a| a.eq_ignore_ascii_case(origin)) {
        return true;
    }
    let origin_host = origin.strip_prefix("http://").or_else(|| origin.strip_prefix("https://"));
    matches!((origin_host, host), (Some(o), Some(h)) if o.eq_ignore_ascii_case(h))
}

/// The connection's task. Not an `async fn`: the set-up runs before the future is built, so the
/// future holds each value once (an `async fn` keeps its arguments twice, as upvars and as
/// locals), and the hello frame is not kept alive in it. The task is an idle connection's
/// largest allocation.
fn run(
    mut socket: WebSocket,
    state: AppState,
    claims: Option<Claims>,
    permit: OwnedSemaphorePermit,
) -> impl Future<Output = ()> + Send {
    state.metrics.connections.inc();
    let out = Arc::new(Outbound::new(state.config.limits.outbound_queue_bytes, state.shutdown.child_token()));
    let key = state.next_conn_key();
    let mut session = Session::new(state.clone(), key, claims, out.clone());
    let hello = HelloFrame {
        ev: "hello".into(),
        data: Hello {
            conn: session.conn_id,
            user: session.user().cloned(),
            server_time: state.clock.rfc3339(),
            ping_interval_s: state.config.limits.ping_interval_s,
            protocol: PROTOCOL_VERSION,
        },
    };
    out.push(Utf8Bytes::from(serde_json::to_string(&hello).unwrap_or_default()));
    drop(hello);
    async move {
        // One task per connection reads commands, writes what is queued and pings, so an idle
        // connection costs one task. Reading pauses while a batch is written and while a command
        // runs; frames queued meanwhile go out in the next batch.
        let limits = &state.config.limits;
        // One timer serves the next ping or, while one is outstanding, the pong deadline, and the
        // token's expiry, whichever comes first: a second timer would cost every connection.
        // The expiry is not kept: it is read from the session's claims, and whether it has come
        // is decided by the session's wall-clock rule, the one the handshake and REST apply.
        let mut next = Instant::now() + limits.ping_interval();
        let mut timer = Box::pin(tokio::time::sleep_until(earliest(next, session.expires_at(), &state.clock)));
        // The outstanding ping: when it was sent, in connection time and as an instant.
        let mut awaiting: Option<(u64, Instant)> = None;
        // The loop's value: frames taken from the queue but not written when the connection
        // started closing.
        let mut unsent = loop {
            tokio::select! {
                // Also cancelled by server shutdown: the token is a child of it.
                _ = out.closing().cancelled() => break VecDeque::new(),
                _ = out.ready() => {
                    let batch = out.take();
                    if batch.close.is_some() {
                        break batch.frames;
                    }
                    if batch.frames.is_empty() {
                        continue;
                    }
                    // Nothing is written once the token has expired, even before the timer
                    // fires: private events must not outlive the right to receive them.
                    if session.token_expired() {
                        out.close(Disconnect::TOKEN_EXPIRED);
                        break VecDeque::new();
                    }
                    let n = batch.frames.len() as u64;
                    let write = Box::pin(async {
                        for frame in batch.frames {
                            socket.feed(Message::Text(frame)).await?;
                        }
                        socket.flush().await
                    });
                    tokio::select! {
                        result = write => {
                            if result.is_err() {
                                break VecDeque::new();
                            }
                            state.metrics.frames_out.inc_by(n);
                            state.metrics.bytes_out.inc_by(batch.bytes as u64);
                        }
                        // A close was asked for while the socket was full: the frames in flight
                        // are given up and the close frame is sent next.
                        _ = out.closing().cancelled() => break VecDeque::new(),
                    }
                }
                _ = &mut timer => {
                    if session.token_expired() {
                        out.close(Disconnect::TOKEN_EXPIRED);
                        break VecDeque::new();
                    }
                    let now = Instant::now();
                    if now >= next {
                        match awaiting.take() {
                            None => {
                                let sent = out.now_ms();
                                let ping = Message::Ping(bytes::Bytes::from_static(b"p"));
                                if !Box::pin(send_with_timeout(&mut socket, ping)).await {
                                    // The peer has not taken what was written before: too slow.
                                    out.close(Disconnect::SLOW);
                                    break VecDeque::new();
                                }
                                let now = Instant::now();
                                awaiting = Some((sent, now));
                                next = now + limits.pong_timeout();
                            }
                            Some((sent, at)) => {
                                if out.last_seen_ms() < sent {
                                    state.metrics.dead_peers.inc();
                                    out.close(Disconnect { code: CloseCode::GoingAway, reason: "no pong" });
                                    break VecDeque::new();
                                }
                                next = (at + limits.ping_interval()).max(now);
                            }
                        }
                    }
                    // When the expiry was reached early (the runtime's clock ran ahead of the
                    // wall clock), the next deadline is placed from the wall clock again.
                    timer.as_mut().reset(earliest(next, session.expires_at(), &state.clock));
                }
                msg = socket.recv() => {
                    let Some(msg) = msg else { break VecDeque::new() };
                    out.seen();
                    match msg {
                        Ok(Message::Text(text)) => {
                            state.metrics.frames_in.inc();
                            // Boxed: the command's state lives only while it runs, keeping every
                            // idle connection's task small.
                            Box::pin(session.handle_text(text.as_str())).await;
                        }
                        Ok(Message::Binary(_)) => out.close(Disconnect::BINARY),
                        Ok(Message::Ping(_) | Message::Pong(_)) => {}
                        Ok(Message::Close(_)) => break VecDeque::new(),
                        Err(e) => {
                            if is_too_big(e) {
                                out.close(Disconnect::TOO_BIG);
                            }
                            break VecDeque::new();
                        }
                    }
                }
            }
        };
        if state.shutdown.is_cancelled() {
            out.close(Disconnect::RESTARTING);
        }
        Box::pin(session.close()).await;
        out.closing().cancel();
        // What is still queued goes out before the close frame, unless the reason drops it.
        let batch = out.take();
        unsent.extend(batch.frames);
        Box::pin(finish(&mut socket, unsent, batch.close, &state)).await;
        state.metrics.connections.dec();
        drop(permit);
    }
}

fn is_too_big(e: axum::Error) -> bool {
    let inner = e.into_inner();
    matches!(inner.downcast_ref::<tungstenite::Error>(), Some(tungstenite::Error::Capacity(_)))
}

async fn send_with_timeout(socket: &mut WebSocket, msg: Message) -> bool {
    matches!(tokio::time::timeout(SEND_TIMEOUT, socket.send(msg)).await, Ok(Ok(())))
}

/// The instant the wall-clock time `exp_s` (seconds since the Unix epoch) falls at, on the
/// runtime's clock (now, when it has passed), as `clock` reads the wall-clock time.
fn instant_of(exp_s: u64, clock: &Clock) -> Instant {
    let left = Duration::from_millis(exp_s.saturating_mul(1000).saturating_sub(clock.now_ms()));
    // A year is far beyond any token's lifetime; it keeps the sum inside the clock's range.
    Instant::now() + left.min(Duration::from_secs(365 * 24 * 3600))
}

/// The timer's next deadline: the ping or pong deadline, or the token's expiry (`exp`, seconds
/// since the Unix epoch) if sooner.
fn earliest(next: Instant, exp_s: Option<u64>, clock: &Clock) -> Instant {
    exp_s.map_or(next, |exp| instant_of(exp, clock).min(next))
}

/// Ends the connection: writes what is still queued (unless the reason drops it) and, when the
/// server ends the connection, the close frame with its reason, within [`CLOSE_WRITE_TIMEOUT`]
/// (the close frame waits behind whatever the peer's TCP buffers hold: a slow client that keeps
/// reading gets it, one that reads nothing is dropped in time); then reads until the peer
/// answers, within [`CLOSE_ANSWER_TIMEOUT`], so the close handshake completes.
async fn finish(socket: &mut WebSocket, frames: VecDeque<Utf8Bytes>, reason: Option<Disconnect>, state: &AppState) {
    if let Some(reason) = &reason {
        state.metrics.closes.get_or_create(&CloseLabels { code: reason.code as u16 }).inc();
        if reason.code == CloseCode::TooSlow {
            state.metrics.slow_disconnects.inc();
        }
    }
    let skip_frames = reason.as_ref().is_some_and(Disconnect::drops_queued_frames);
    let written = tokio::time::timeout(CLOSE_WRITE_TIMEOUT, async {
        if !skip_frames {
            for frame in frames {
                if socket.feed(Message::Text(frame)).await.is_err() {
                    return false;
                }
            }
        }
        if let Some(r) = reason {
            let frame = CloseFrame { code: r.code as u16, reason: Utf8Bytes::from_static(r.reason) };
            if socket.feed(Message::Close(Some(frame))).await.is_err() {
                return false;
            }
        }
        flush_while_reading(socket).await
    })
    .await;
    if written == Ok(true) {
        let _ = tokio::time::timeout(CLOSE_ANSWER_TIMEOUT, async { while socket.next().await.is_some() {} }).await;
    }
}

/// Flushes what is buffered while reading (and discarding) what the peer sends: true once
/// flushed, false when the stream ended first. Reading goes on because a peer busy sending may
/// not take our bytes until we take its, and because the peer's own close frame may come first.
async fn flush_while_reading(socket: &mut WebSocket) -> bool {
    std::future::poll_fn(|cx| {
        if Pin::new(&mut *socket).poll_flush(cx).is_ready() {
            return Poll::Ready(true);
        }
        loop {
            match Pin::new(&mut *socket).poll_next(cx) {
                Poll::Ready(Some(Ok(_))) => continue,
                Poll::Ready(_) => return Poll::Ready(false),
                Poll::Pending => return Poll::Pending,
            }
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::{handshake_refusal, origin_allowed};
    use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Version};

    fn handshake(edit: impl FnOnce(&mut HeaderMap)) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("upgrade", HeaderValue::from_static("websocket"));
        h.insert("connection", HeaderValue::from_static("keep-alive, Upgrade"));
        h.insert("sec-websocket-key", HeaderValue::from_static("dGhlIHNhbXBsZSBub25jZQ=="));
        h.insert("sec-websocket-version", HeaderValue::from_static("13"));
        edit(&mut h);
        h
    }

    fn status(method: Method, version: Version, headers: &HeaderMap) -> Option<StatusCode> {
        handshake_refusal(&method, version, headers).map(|r| r.status())
    }

    #[test]
    fn handshakes() {
        let ok = handshake(|_| {});
        assert_eq!(status(Method::GET, Version::HTTP_11, &ok), None);
        assert_eq!(status(Method::HEAD, Version::HTTP_11, &ok), Some(StatusCode::BAD_REQUEST));
        assert_eq!(status(Method::GET, Version::HTTP_10, &ok), Some(StatusCode::BAD_REQUEST));
        let bad = StatusCode::BAD_REQUEST;
        for (name, value) in [
            ("upgrade", "h2c"),
            ("connection", "keep-alive"),
            ("sec-websocket-key", "abc"),
            // Fifteen bytes, and seventeen.
            ("sec-websocket-key", "AAAAAAAAAAAAAAAAAAAA"),
            ("sec-websocket-key", "AAAAAAAAAAAAAAAAAAAAAAA="),
            ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ"),
        ] {
            let h = handshake(|h| {
                h.insert(name, HeaderValue::from_static(value));
            });
            assert_eq!(status(Method::GET, Version::HTTP_11, &h), Some(bad), "{name}: {value}");
        }
        let h = handshake(|h| {
            h.remove("sec-websocket-version");
        });
        assert_eq!(status(Method::GET, Version::HTTP_11, &h), Some(bad));
        let h = handshake(|h| {
            h.append("sec-websocket-key", HeaderValue::from_static("dGhlIHNhbXBsZSBub25jZQ=="));
        });
        assert_eq!(status(Method::GET, Version::HTTP_11, &h), Some(bad));
        let h = handshake(|h| {
            h.insert("sec-websocket-version", HeaderValue::from_static("8"));
        });
        let refusal = handshake_refusal(&Method::GET, Version::HTTP_11, &h).unwrap();
        assert_eq!(refusal.status(), StatusCode::UPGRADE_REQUIRED);
        assert_eq!(refusal.headers()["sec-websocket-version"], "13");
    }

    #[test]
    fn origins() {
        let allowed = vec!["https://cho.ocop.vn".to_owned()];
        assert!(origin_allowed("https://cho.ocop.vn", Some("api.ocop.vn"), &allowed));
        assert!(origin_allowed("http://127.0.0.1:8080", Some("127.0.0.1:8080"), &allowed));
        assert!(!origin_allowed("https://evil.example", Some("127.0.0.1:8080"), &allowed));
        assert!(!origin_allowed("null", Some("127.0.0.1:8080"), &allowed));
        assert!(!origin_allowed("https://cho.ocop.vn.evil", None, &allowed));
    }
}
