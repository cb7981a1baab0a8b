//! A minimal protocol client shared by all scenarios.
//!
//! It knows how to open a WebSocket connection (optionally from a chosen local
//! source address), read the server's `hello`, send a command and wait for the
//! reply carrying the same id. Events that arrive while a reply is awaited are
//! buffered and can be taken with [`Client::next_event`].

use std::collections::VecDeque;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use anyhow::{Context as _, bail};
use futures_util::{SinkExt as _, StreamExt as _};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::http::Uri;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Message, Utf8Bytes};
use tokio_tungstenite::{WebSocketStream, client_async_with_config};

/// The raw WebSocket stream type used by every client connection.
pub type WsStream = WebSocketStream<TcpStream>;

/// Read buffer per client connection. tungstenite allocates its read buffer
/// eagerly (128 KiB by default); server frames in these scenarios are small,
/// so a small buffer keeps the load generator's own footprint low.
const CLIENT_READ_BUFFER: usize = 4 * 1024;

/// How protocol frames travel over the WebSocket.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Transport {
    /// One JSON object per text frame (ocop-live, the Node `ws` peer).
    #[default]
    Plain,
    /// Socket.IO v4 over Engine.IO 4: after the open packet `0{…}` and the namespace
    /// connect `40`, each JSON object travels as the event `42["frame",<json>]`; the
    /// server's ping `2` is answered with pong `3`.
    SocketIo,
}

/// Prefix of a Socket.IO event packet carrying one of our frames.
const SIO_FRAME_PREFIX: &str = "42[\"frame\",";

impl Transport {
    /// Wraps one JSON frame for the wire.
    pub fn wrap(self, json: String) -> String {
        match self {
            Self::Plain => json,
            Self::SocketIo => format!("{SIO_FRAME_PREFIX}{json}]"),
        }
    }
}

/// A text frame seen through the transport.
#[derive(Debug)]
pub enum Unwrapped<'a> {
    /// One of our JSON frames.
    Frame(&'a str),
    /// An Engine.IO ping: answer with [`SIO_PONG`].
    Ping,
    /// Anything else (Engine.IO/Socket.IO control packets).
    Other,
    /// The server disconnected the Socket.IO namespace.
    Disconnect,
}

/// Engine.IO pong packet.
pub const SIO_PONG: &str = "3";

/// Looks at a text frame received over `transport`.
pub fn unwrap_text(transport: Transport, text: &str) -> Unwrapped<'_> {
    match transport {
        Transport::Plain => Unwrapped::Frame(text),
        Transport::SocketIo => {
            if let Some(inner) = text.strip_prefix(SIO_FRAME_PREFIX).and_then(|t| t.strip_suffix(']')) {
                Unwrapped::Frame(inner)
            } else if text == "2" {
                Unwrapped::Ping
            } else if text.starts_with("41") || text == "1" {
                Unwrapped::Disconnect
            } else {
                Unwrapped::Other
            }
        }
    }
}

/// Where to connect: the WebSocket URL and its resolved socket address.
#[derive(Debug, Clone)]
pub struct Target {
    pub url: String,
    pub addr: SocketAddr,
    pub transport: Transport,
}

impl Target {
    /// Parses a `ws://host[:port]/path?query` URL and resolves the host once,
    /// so that thousands of connections do not each run a DNS lookup.
    pub async fn resolve(url: &str) -> anyhow::Result<Self> {
        let uri: Uri = url.parse().with_context(|| format!("invalid URL {url:?}"))?;
        match uri.scheme_str() {
            Some("ws") => {}
            Some("wss") => bail!("wss:// is not supported by the load generator; use ws://"),
            other => bail!("URL {url:?} must start with ws:// (scheme: {other:?})"),
        }
        let host = uri
            .host()
            .with_context(|| format!("URL {url:?} has no host"))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = uri.port_u16().unwrap_or(80);
        let addr = tokio::net::lookup_host((host.as_str(), port))
            .await
            .with_context(|| format!("cannot resolve {host}:{port}"))?
            .next()
            .with_context(|| format!("{host}:{port} resolved to no address"))?;
        Ok(Self { url: url.to_owned(), addr, transport: Transport::Plain })
    }

    /// The same target reached through `transport`.
    pub fn with_transport(mut self, transport: Transport) -> Self {
        self.transport = transport;
        self
    }

    /// The same target with `?token=<token>` as its query (any other query is dropped),
    /// or without a query when `token` is `None`.
    /// A Socket.IO target keeps its query (`EIO=4&transport=websocket`) and gets `&token=<token>`.
    pub fn with_token(&self, token: Option<&str>) -> Self {
        if self.transport == Transport::SocketIo {
            let url = match token {
                Some(t) => format!("{}&token={t}", self.url),
                None => self.url.clone(),
            };
            return Self { url, addr: self.addr, transport: self.transport };
        }
        let base = self.url.split_once('?').map_or(self.url.as_str(), |(b, _)| b);
        let url = match token {
            Some(t) => format!("{base}?token={t}"),
            None => base.to_owned(),
        };
        Self { url, addr: self.addr, transport: self.transport }
    }

    /// The same target with host and port replaced by `addr` (path and query kept).
    pub fn with_addr(&self, addr: SocketAddr) -> anyhow::Result<Self> {
        let uri: Uri = self.url.parse()?;
        let path_and_query = uri.path_and_query().map_or("/", |pq| pq.as_str());
        Ok(Self { url: format!("ws://{addr}{path_and_query}"), addr, transport: self.transport })
    }
}

/// The step of a connection's life at which something went wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stage {
    /// TCP socket creation, bind or connect.
    Tcp,
    /// The HTTP upgrade to WebSocket.
    Handshake,
    /// Waiting for and checking the server's `hello` frame.
    Hello,
    /// A command (subscribe, ...) and its reply.
    Command,
    /// Reading after the connection was established.
    Read,
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Tcp => "tcp",
            Self::Handshake => "handshake",
            Self::Hello => "hello",
            Self::Command => "command",
            Self::Read => "read",
        })
    }
}

/// A failure of one client connection, with a short, aggregatable description.
#[derive(Debug, Clone)]
pub struct ClientError {
    pub stage: Stage,
    /// Short description, meant to be counted: no per-connection details.
    pub kind: String,
}

impl ClientError {
    fn new(stage: Stage, kind: impl Into<String>) -> Self {
        Self { stage, kind: kind.into() }
    }
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.stage, self.kind)
    }
}

impl std::error::Error for ClientError {}

/// Describes a tungstenite error without connection-specific details so that
/// identical failures aggregate under one key.
fn describe_ws_error(err: &tungstenite::Error) -> String {
    match err {
        tungstenite::Error::Http(resp) => format!("HTTP {}", resp.status()),
        tungstenite::Error::Io(io) => format!("I/O: {}", io.kind()),
        tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed => "connection closed".to_owned(),
        tungstenite::Error::Protocol(p) => format!("protocol: {p}"),
        other => other.to_string(),
    }
}

/// The server's first frame (the fields the load generator looks at).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Hello {
    pub conn: String,
    #[serde(default)]
    pub ping_interval_s: Option<u64>,
    #[serde(default)]
    pub protocol: Option<u64>,
}

/// The error object of a failed command reply.
#[derive(Debug, Clone, Deserialize)]
pub struct ErrorBody {
    pub code: String,
    #[serde(default)]
    pub message: String,
}

/// A server event, e.g. `{"ch":"show:…","ev":"chat","off":5,"data":{…}}`.
#[derive(Debug, Clone, Deserialize)]
pub struct Event {
    #[serde(default)]
    pub ch: Option<String>,
    pub ev: String,
    #[serde(default)]
    #[allow(dead_code, reason = "part of every event; scenarios that follow offsets read it")]
    pub off: Option<u64>,
    #[serde(default)]
    pub data: Value,
}

/// Any text frame from the server: a command reply (has `re`) or an event.
#[derive(Debug, Deserialize)]
struct Frame {
    #[serde(default)]
    re: Option<u64>,
    #[serde(default)]
    ok: Option<bool>,
    #[serde(default)]
    error: Option<ErrorBody>,
    #[serde(default)]
    ev: Option<String>,
    #[serde(default)]
    ch: Option<String>,
    #[serde(default)]
    off: Option<u64>,
    #[serde(default)]
    data: Value,
}

/// What [`Client::read_frame`] produced.
#[derive(Debug)]
pub enum Incoming {
    Reply { re: u64, result: Result<Value, ErrorBody> },
    Event(Event),
}

/// What [`Client::recv`] produced.
#[derive(Debug)]
pub enum Recv {
    /// One of our JSON frames.
    Text(Utf8Bytes),
    /// A WebSocket or Engine.IO ping (answered).
    Ping,
    /// A frame that is neither.
    Other,
    /// The connection ended; the reason.
    Closed(String),
}

/// One protocol connection.
pub struct Client {
    ws: WsStream,
    transport: Transport,
    next_id: u64,
    pending_events: VecDeque<Event>,
    pub hello: Hello,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client").field("conn", &self.hello.conn).field("next_id", &self.next_id).finish_non_exhaustive()
    }
}

impl Client {
    /// Opens a TCP connection (bound to `source` first, when given), upgrades it
    /// to WebSocket and reads the `hello` frame. `step_timeout` bounds the
    /// TCP + upgrade step and the wait for `hello` separately.
    pub async fn connect(target: &Target, source: Option<IpAddr>, step_timeout: Duration) -> Result<Self, ClientError> {
        let stream = timeout(step_timeout, tcp_connect(target.addr, source))
            .await
            .map_err(|_| ClientError::new(Stage::Tcp, "timeout"))??;

        let config = WebSocketConfig::default().read_buffer_size(CLIENT_READ_BUFFER);
        let (ws, _response) =
            timeout(step_timeout, client_async_with_config(target.url.as_str(), stream, Some(config)))
                .await
                .map_err(|_| ClientError::new(Stage::Handshake, "timeout"))?
                .map_err(|e| ClientError::new(Stage::Handshake, describe_ws_error(&e)))?;

        let mut client = Self {
            ws,
            transport: target.transport,
            next_id: 1,
            pending_events: VecDeque::new(),
            hello: Hello::default(),
        };
        if client.transport == Transport::SocketIo {
            timeout(step_timeout, client.socketio_connect())
                .await
                .map_err(|_| ClientError::new(Stage::Handshake, "socket.io connect timeout"))??;
        }
        client.hello = timeout(step_timeout, client.read_hello())
            .await
            .map_err(|_| ClientError::new(Stage::Hello, "timeout"))??;
        Ok(client)
    }

    /// Engine.IO open packet `0{…}`, then `40` to connect the default namespace and wait
    /// for the server's `40{…}`.
    async fn socketio_connect(&mut self) -> Result<(), ClientError> {
        let err = |kind: String| ClientError::new(Stage::Handshake, kind);
        let open = self.next_raw_text().await.map_err(|e| err(format!("socket.io open: {}", e.kind)))?;
        if !open.starts_with('0') {
            return Err(err("socket.io: first packet is not an Engine.IO open packet".to_owned()));
        }
        self.ws.send(Message::text("40")).await.map_err(|e| err(format!("socket.io: {}", describe_ws_error(&e))))?;
        loop {
            let text = self.next_raw_text().await.map_err(|e| err(format!("socket.io connect: {}", e.kind)))?;
            if text.starts_with("40") {
                return Ok(());
            }
            if text.starts_with("44") {
                return Err(err("socket.io: namespace connect refused".to_owned()));
            }
            if text == "2" {
                self.send_raw(SIO_PONG).await.map_err(|e| err(e.kind))?;
            }
        }
    }

    async fn send_raw(&mut self, text: &str) -> Result<(), ClientError> {
        self.ws.send(Message::text(text)).await.map_err(|e| ClientError::new(Stage::Read, describe_ws_error(&e)))
    }

    async fn read_hello(&mut self) -> Result<Hello, ClientError> {
        let text = self.next_text().await.map_err(|e| ClientError::new(Stage::Hello, e.kind))?;
        let frame: Frame =
            serde_json::from_str(&text).map_err(|_| ClientError::new(Stage::Hello, "first frame is not JSON"))?;
        if frame.ev.as_deref() != Some("hello") {
            return Err(ClientError::new(Stage::Hello, format!("first frame is {:?}, not hello", frame.ev)));
        }
        let hello: Hello = serde_json::from_value(frame.data)
            .map_err(|e| ClientError::new(Stage::Hello, format!("bad hello data: {e}")))?;
        if hello.conn.is_empty() {
            return Err(ClientError::new(Stage::Hello, "hello has an empty conn id"));
        }
        Ok(hello)
    }

    /// Reads the next protocol frame's text: with Socket.IO the `frame` event's JSON,
    /// answering pings and skipping other packets on the way.
    pub async fn next_text(&mut self) -> Result<String, ClientError> {
        if self.transport == Transport::Plain {
            return self.next_raw_text().await;
        }
        loop {
            match self.recv().await {
                Recv::Text(text) => return Ok(text.as_str().to_owned()),
                Recv::Ping | Recv::Other => {}
                Recv::Closed(kind) => return Err(ClientError::new(Stage::Read, kind)),
            }
        }
    }

    /// Reads the next WebSocket message and sorts it: one of our frames (unwrapped from the
    /// transport), a ping (already answered), something else, or the end of the
    /// connection with its reason (`closed by server (code)`, `read error: …`,
    /// `connection ended`).
    pub async fn recv(&mut self) -> Recv {
        match self.ws.next().await {
            Some(Ok(Message::Text(text))) => match unwrap_text(self.transport, text.as_str()) {
                Unwrapped::Frame(inner) if inner.len() == text.len() => Recv::Text(text),
                Unwrapped::Frame(inner) => Recv::Text(Utf8Bytes::from(inner.to_owned())),
                Unwrapped::Ping => match self.send_raw(SIO_PONG).await {
                    Ok(()) => Recv::Ping,
                    Err(e) => Recv::Closed(format!("read error: {}", e.kind)),
                },
                Unwrapped::Other => Recv::Other,
                Unwrapped::Disconnect => Recv::Closed("closed by server (socket.io disconnect)".to_owned()),
            },
            Some(Ok(Message::Ping(_))) => Recv::Ping,
            Some(Ok(Message::Close(frame))) => Recv::Closed(match frame {
                Some(f) => format!("closed by server ({})", u16::from(f.code)),
                None => "closed by server".to_owned(),
            }),
            Some(Ok(_)) => Recv::Other,
            Some(Err(e)) => Recv::Closed(format!("read error: {e}")),
            None => Recv::Closed("connection ended".to_owned()),
        }
    }

    /// Closes the connection politely (see [`close_stream`]).
    pub async fn close(&mut self, wait: Duration) {
        close_stream(&mut self.ws, wait).await;
    }

    /// Reads the next raw WebSocket text frame. Control frames are handled by tungstenite
    /// (pings are answered while reading); binary frames are skipped.
    async fn next_raw_text(&mut self) -> Result<String, ClientError> {
        loop {
            match self.ws.next().await {
                Some(Ok(Message::Text(text))) => return Ok(text.as_str().to_owned()),
                Some(Ok(Message::Close(frame))) => {
                    let kind = match frame {
                        Some(f) => format!("closed by server ({})", u16::from(f.code)),
                        None => "closed by server".to_owned(),
                    };
                    return Err(ClientError::new(Stage::Read, kind));
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(ClientError::new(Stage::Read, describe_ws_error(&e))),
                None => return Err(ClientError::new(Stage::Read, "connection closed")),
            }
        }
    }

    /// Reads and parses the next text frame from the server.
    pub async fn read_frame(&mut self) -> Result<Incoming, ClientError> {
        let text = self.next_text().await?;
        let frame: Frame =
            serde_json::from_str(&text).map_err(|_| ClientError::new(Stage::Read, "frame is not JSON"))?;
        if let Some(re) = frame.re {
            let result = if frame.ok == Some(true) {
                Ok(frame.data)
            } else {
                Err(frame.error.unwrap_or(ErrorBody {
                    code: "missing_error".to_owned(),
                    message: "reply has ok != true and no error object".to_owned(),
                }))
            };
            return Ok(Incoming::Reply { re, result });
        }
        match frame.ev {
            Some(ev) => Ok(Incoming::Event(Event { ch: frame.ch, ev, off: frame.off, data: frame.data })),
            None => Err(ClientError::new(Stage::Read, "frame has neither re nor ev")),
        }
    }

    /// Sends `{"id":N,"op":op, ...fields}` and waits up to `wait` for the reply
    /// with `re == N`. Events received meanwhile are buffered.
    pub async fn command(
        &mut self,
        op: &str,
        fields: Map<String, Value>,
        wait: Duration,
    ) -> Result<Value, ClientError> {
        self.command_raw(op, fields, wait).await?.map_err(|e| {
            let message: String = e.message.chars().take(120).collect();
            ClientError::new(Stage::Command, format!("{op} error {}: {message}", e.code))
        })
    }

    /// Like [`Client::command`], but a reply with `ok: false` is returned as its error
    /// object (`Ok(Err(..))`); `Err` means no reply arrived (send or read failure, timeout).
    pub async fn command_raw(
        &mut self,
        op: &str,
        fields: Map<String, Value>,
        wait: Duration,
    ) -> Result<Result<Value, ErrorBody>, ClientError> {
        let id = self.next_id;
        self.next_id += 1;
        let mut body = fields;
        body.insert("id".to_owned(), json!(id));
        body.insert("op".to_owned(), json!(op));
        let text = self.transport.wrap(Value::Object(body).to_string());
        self.ws.send(Message::text(text)).await.map_err(|e| ClientError::new(Stage::Command, describe_ws_error(&e)))?;

        let await_reply = async {
            loop {
                match self.read_frame().await {
                    Ok(Incoming::Reply { re, result }) if re == id => return Ok(result),
                    Ok(Incoming::Reply { .. }) => {}
                    Ok(Incoming::Event(ev)) => self.pending_events.push_back(ev),
                    Err(e) => {
                        return Err(ClientError::new(Stage::Command, format!("{op}: {}", e.kind)));
                    }
                }
            }
        };
        timeout(wait, await_reply)
            .await
            .map_err(|_| ClientError::new(Stage::Command, format!("{op}: reply timeout")))?
    }

    /// Events received while a reply was awaited, not yet taken.
    pub fn take_pending_events(&mut self) -> Vec<Event> {
        self.pending_events.drain(..).collect()
    }

    /// Subscribes to a channel and returns the reply's `data`.
    pub async fn subscribe(&mut self, ch: &str, wait: Duration) -> Result<Value, ClientError> {
        let mut fields = Map::new();
        fields.insert("ch".to_owned(), json!(ch));
        self.command("subscribe", fields, wait).await
    }

    /// The next event: a buffered one first, then from the wire.
    pub async fn next_event(&mut self) -> Result<Event, ClientError> {
        if let Some(ev) = self.pending_events.pop_front() {
            return Ok(ev);
        }
        loop {
            if let Incoming::Event(ev) = self.read_frame().await? {
                return Ok(ev);
            }
        }
    }

    /// Gives up the protocol layer and returns the raw stream, for scenarios
    /// that only need to keep the connection read (e.g. idle).
    pub fn into_stream(self) -> WsStream {
        self.ws
    }
}

async fn tcp_connect(addr: SocketAddr, source: Option<IpAddr>) -> Result<TcpStream, ClientError> {
    let socket = match addr {
        SocketAddr::V4(_) => TcpSocket::new_v4(),
        SocketAddr::V6(_) => TcpSocket::new_v6(),
    }
    .map_err(|e| ClientError::new(Stage::Tcp, format!("socket: {e}")))?;
    if let Some(ip) = source {
        socket.bind(SocketAddr::new(ip, 0)).map_err(|e| ClientError::new(Stage::Tcp, format!("bind {ip}: {e}")))?;
    }
    let stream = socket.connect(addr).await.map_err(|e| ClientError::new(Stage::Tcp, format!("connect: {e}")))?;
    stream.set_nodelay(true).map_err(|e| ClientError::new(Stage::Tcp, format!("nodelay: {e}")))?;
    Ok(stream)
}

/// Closes a raw stream politely: sends a Close frame and reads until the
/// server's Close (or until `wait` elapses).
pub async fn close_stream(ws: &mut WsStream, wait: Duration) {
    let _ = timeout(wait, async {
        if ws.close(None).await.is_err() {
            return;
        }
        while let Some(Ok(_)) = ws.next().await {}
    })
    .await;
}
