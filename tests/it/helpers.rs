//! Test harness: servers, clients and a private `redis-server`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use ocop_live::auth::{Role, User};
use ocop_live::realtime::channel::{Channel, ChannelKind};
use ocop_live::realtime::protocol::ReplyError;
use ocop_live::realtime::room::{NoFairs, Room, Rooms};
use ocop_live::{App, AppState, Config};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Bytes, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use uuid::Uuid;

/// How long a test waits for something that should happen promptly before failing. Generous:
/// the machines are shared and slow; this bounds a hang, it measures nothing.
pub const WAIT: Duration = Duration::from_secs(10);

pub fn init_tracing() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        if std::env::var_os("TEST_LOG").is_some() {
            ocop_live::telemetry::init(ocop_live::config::LogFormat::Human);
        }
    });
}

/// A running server instance.
pub struct TestApp {
    pub addr: SocketAddr,
    pub state: AppState,
    stop: Option<oneshot::Sender<()>>,
    handle: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl TestApp {
    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    pub fn http(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn token(&self, user: &User) -> String {
        self.state.tokens.mint(user, Duration::from_secs(3600))
    }

    /// Publishes a history-kept event through this node's engine.
    pub async fn publish(&self, channel: &str, event: &str, data: Value) -> u64 {
        let raw = serde_json::value::to_raw_value(&data).unwrap();
        self.state.engine.broker.publish(channel, event, &raw, true).await.unwrap().unwrap().offset
    }

    pub fn trigger_stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    pub async fn wait_stopped(mut self) {
        if let Some(handle) = self.handle.take() {
            tokio::time::timeout(Duration::from_secs(15), handle).await.unwrap().unwrap().unwrap();
        }
    }

    pub async fn metrics(&self) -> String {
        reqwest::get(self.http("/metrics")).await.unwrap().text().await.unwrap()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_with(Config::for_tests()).await
}

pub async fn spawn_with(config: Config) -> TestApp {
    init_tracing();
    start(App::build(config).await.expect("server builds"))
}

/// A server whose every `booth:` channel exists, for tests of the realtime core (history,
/// recovery, limits, presence) on a channel no domain owns; see [`public_channel`].
pub async fn spawn_core(config: Config) -> TestApp {
    spawn_with_rooms(config, Arc::new(CoreChannels)).await
}

/// [`NoFairs`], except that every booth exists (and keeps no room).
struct CoreChannels;

#[async_trait::async_trait]
impl Rooms for CoreChannels {
    async fn admit(&self, channel: &Channel, user: Option<&User>) -> Result<(), ReplyError> {
        match channel.kind {
            ChannelKind::Booth => Ok(()),
            _ => NoFairs.admit(channel, user).await,
        }
    }

    fn keeps_room(&self, _channel: &Channel) -> bool {
        false
    }

    async fn load(&self, channel: &Channel) -> Result<Box<dyn Room>, ReplyError> {
        NoFairs.load(channel).await
    }
}

pub async fn spawn_with_rooms(config: Config, rooms: Arc<dyn Rooms>) -> TestApp {
    init_tracing();
    let listener = tokio::net::TcpListener::bind(config.listen).await.expect("binds");
    start(App::build_with_rooms(config, listener, rooms).await.expect("server builds"))
}

fn start(app: App) -> TestApp {
    let addr = app.local_addr();
    let state = app.state().clone();
    let (tx, rx) = oneshot::channel::<()>();
    let handle = tokio::spawn(app.run_until_stopped(async move {
        let _ = rx.await;
    }));
    TestApp { addr, state, stop: Some(tx), handle: Some(handle) }
}

pub fn user(role: Role) -> User {
    let seller_id = (role == Role::Seller).then(Uuid::now_v7);
    User { id: Uuid::now_v7(), name: format!("Test {role:?}"), role, email: None, phone: None, seller_id }
}

/// A public channel with no domain state behind it (a booth), for tests of the realtime core on
/// a server from [`spawn_core`] (elsewhere no booth exists).
pub fn public_channel() -> String {
    format!("booth:{}", Uuid::now_v7())
}

/// The schema of every server frame, to check each frame a test client receives.
fn server_frame_validator() -> &'static jsonschema::Validator {
    static V: OnceLock<jsonschema::Validator> = OnceLock::new();
    V.get_or_init(|| {
        let schema = ocop_live::realtime::schema::all().into_iter().find(|(n, _)| *n == "server-frame.json").unwrap().1;
        jsonschema::validator_for(&schema).unwrap()
    })
}

/// A WebSocket client that checks every frame it receives against the published schema.
pub struct Client {
    pub ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    pub hello: Value,
    next_id: u64,
}

/// What ended a connection, as the client saw it.
#[derive(Debug, PartialEq)]
pub enum Ended {
    Closed(u16),
    Dropped,
}

impl Client {
    pub async fn connect(app: &TestApp, token: Option<&str>) -> Self {
        let url = match token {
            Some(t) => format!("{}?token={t}", app.ws_url()),
            None => app.ws_url(),
        };
        Self::connect_request(url.into_client_request().unwrap()).await.expect("connects")
    }

    pub async fn connect_request(
        request: tokio_tungstenite::tungstenite::handshake::client::Request,
    ) -> Result<Self, tokio_tungstenite::tungstenite::Error> {
        let (ws, _) = tokio_tungstenite::connect_async(request).await?;
        let mut client = Self { ws, hello: Value::Null, next_id: 1 };
        client.hello = client.recv().await;
        assert_eq!(client.hello["ev"], "hello", "first frame is hello: {}", client.hello);
        Ok(client)
    }

    /// The next text frame, as JSON, validated against the server-frame schema.
    pub async fn recv(&mut self) -> Value {
        loop {
            let msg = tokio::time::timeout(WAIT, self.ws.next()).await.expect("a frame in time");
            match msg {
                Some(Ok(Message::Text(t))) => {
                    let v: Value = serde_json::from_str(&t).expect("frames are JSON");
                    if let Err(e) = server_frame_validator().validate(&v) {
                        panic!("frame violates the schema: {e}\n{v}");
                    }
                    return v;
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                other => panic!("expected a text frame, got {other:?}"),
            }
        }
    }

    /// Sends a raw text frame.
    pub async fn send_text(&mut self, text: &str) {
        self.ws.send(Message::text(text)).await.unwrap();
    }

    /// Sends a command with the next id and returns that id.
    pub async fn send(&mut self, op: &str, params: Value) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        let mut cmd = params;
        cmd["id"] = json!(id);
        cmd["op"] = json!(op);
        self.send_text(&cmd.to_string()).await;
        id
    }

    /// Sends a command and returns its reply, skipping events that arrive first.
    pub async fn call(&mut self, op: &str, params: Value) -> Value {
        let id = self.send(op, params).await;
        self.reply_to(id).await
    }

    /// Sends a command and returns its reply with the events that arrived before it.
    pub async fn call_collect(&mut self, op: &str, params: Value) -> (Value, Vec<Value>) {
        let id = self.send(op, params).await;
        let mut events = Vec::new();
        loop {
            let frame = self.recv().await;
            if frame.get("re").is_some() {
                assert_eq!(frame["re"], json!(id), "replies come in order: {frame}");
                return (frame, events);
            }
            events.push(frame);
        }
    }

    pub async fn reply_to(&mut self, id: u64) -> Value {
        loop {
            let frame = self.recv().await;
            if frame.get("re").is_some() {
                assert_eq!(frame["re"], json!(id), "replies come in order: {frame}");
                return frame;
            }
        }
    }

    pub async fn subscribe(&mut self, ch: &str) -> Value {
        let reply = self.call("subscribe", json!({"ch": ch})).await;
        assert_eq!(reply["ok"], true, "subscribe ok: {reply}");
        reply["data"].clone()
    }

    /// The next event frame (skipping nothing: a reply here is a test failure).
    pub async fn event(&mut self) -> Value {
        let frame = self.recv().await;
        assert!(frame.get("ev").is_some() && frame.get("ch").is_some(), "expected an event, got {frame}");
        frame
    }

    /// Reads until the server closes; returns the close code (or Dropped).
    pub async fn closed(&mut self) -> Ended {
        loop {
            match tokio::time::timeout(WAIT, self.ws.next()).await.expect("closed in time") {
                Some(Ok(Message::Close(Some(CloseFrame { code, .. })))) => return Ended::Closed(code.into()),
                Some(Ok(Message::Close(None))) => return Ended::Closed(1005),
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return Ended::Dropped,
            }
        }
    }

    pub async fn send_binary(&mut self, data: Vec<u8>) {
        let _ = self.ws.send(Message::Binary(Bytes::from(data))).await;
    }
}

/// Asserts a failed reply with `code`.
#[track_caller]
pub fn assert_error(reply: &Value, code: &str) {
    assert_eq!(reply["ok"], false, "expected an error reply: {reply}");
    assert_eq!(reply["error"]["code"], code, "error code: {reply}");
    assert!(reply["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "error has a message: {reply}");
}

/// Polls `check` until it holds, failing after [`WAIT`].
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + WAIT;
    while tokio::time::Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for: {what}");
}

/// A private `redis-server` on a free loopback port, stopped on drop.
pub struct RedisServer {
    child: Option<Child>,
    pub port: u16,
    dir: tempfile::TempDir,
    aof: bool,
}

impl RedisServer {
    /// Starts without persistence.
    pub async fn start() -> Self {
        Self::start_with(false).await
    }

    /// Starts with `appendonly yes` (fsync always) when `aof`, so a restart keeps the data.
    pub async fn start_with(aof: bool) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let mut server = Self { child: None, port, dir, aof };
        server.launch().await;
        server
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    async fn launch(&mut self) {
        let mut cmd = Command::new("redis-server");
        cmd.arg("--port")
            .arg(self.port.to_string())
            .arg("--bind")
            .arg("127.0.0.1")
            .arg("--save")
            .arg("")
            .arg("--dir")
            .arg(self.data_dir())
            .arg("--protected-mode")
            .arg("no")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if self.aof {
            cmd.arg("--appendonly").arg("yes").arg("--appendfsync").arg("always");
        } else {
            cmd.arg("--appendonly").arg("no");
        }
        let child = cmd.spawn().expect("redis-server must be installed (the test command installs it)");
        self.child = Some(child);
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if let Ok(client) = redis::Client::open(self.url())
                && let Ok(mut conn) = client.get_multiplexed_async_connection().await
                && redis::cmd("PING").query_async::<String>(&mut conn).await.is_ok()
            {
                return;
            }
            assert!(tokio::time::Instant::now() < deadline, "redis-server did not start on port {}", self.port);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Kills the server at once (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port with the same data directory.
    pub async fn restart(&mut self) {
        self.kill();
        self.launch().await;
    }

    /// Runs one command against the server.
    pub async fn cmd(&self, args: &[&str]) -> redis::Value {
        let client = redis::Client::open(self.url()).unwrap();
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();
        let mut cmd = redis::cmd(args[0]);
        for a in &args[1..] {
            cmd.arg(*a);
        }
        cmd.query_async(&mut conn).await.unwrap()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A test configuration on Redis, sharing one secret and prefix so nodes trust each other.
pub fn redis_config(redis: &RedisServer) -> Config {
    let mut cfg = Config::for_tests();
    cfg.redis_url = Some(redis.url());
    cfg.key_prefix = "test:".into();
    cfg
}

/// A REST client for one test server.
#[derive(Clone)]
pub struct Api {
    base: String,
    client: reqwest::Client,
}

/// A response: status, content type and JSON body (`Null` when the body is not JSON).
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub content_type: String,
    pub body: Value,
}

impl Resp {
    /// Asserts a problem+json error with `status`, returning its `errors` map (or Null).
    #[track_caller]
    pub fn problem(&self, status: u16) -> &Value {
        assert_eq!(self.status, status, "status: {self:?}");
        assert_eq!(self.content_type, "application/problem+json", "{self:?}");
        assert_eq!(self.body["status"], status, "{self:?}");
        assert!(self.body["type"].as_str().is_some_and(|t| t.starts_with("urn:ocop-live:problem:")), "{self:?}");
        assert!(self.body["title"].is_string() && self.body["detail"].is_string(), "{self:?}");
        &self.body["errors"]
    }

    #[track_caller]
    pub fn ok(&self, status: u16) -> &Value {
        assert_eq!(self.status, status, "{self:?}");
        &self.body
    }
}

impl TestApp {
    pub fn api(&self) -> Api {
        Api { base: format!("http://{}", self.addr), client: reqwest::Client::new() }
    }
}

impl Api {
    pub async fn send(&self, method: reqwest::Method, path: &str, token: Option<&str>, body: Option<Value>) -> Resp {
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        Self::read(req.send().await.unwrap()).await
    }

    pub async fn read(resp: reqwest::Response) -> Resp {
        let status = resp.status().as_u16();
        let content_type =
            resp.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        let text = resp.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Resp { status, content_type, body }
    }

    pub async fn raw(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client.request(method, format!("{}{path}", self.base))
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Resp {
        self.send(reqwest::Method::GET, path, token, None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Resp {
        self.send(reqwest::Method::POST, path, token, Some(body)).await
    }

    pub async fn patch(&self, path: &str, token: Option<&str>, body: Value) -> Resp {
        self.send(reqwest::Method::PATCH, path, token, Some(body)).await
    }

    pub async fn put(&self, path: &str, token: Option<&str>, body: Value) -> Resp {
        self.send(reqwest::Method::PUT, path, token, Some(body)).await
    }

    /// Registers a fresh buyer or seller and returns (token, user).
    pub async fn register(&self, role: &str) -> (String, Value) {
        let email = format!("{}-{}@test.ocop.vn", role, Uuid::now_v7().simple());
        let r = self
            .post(
                "/api/auth/register",
                None,
                json!({"name": format!("Người {role}"), "email": email, "password": "mat-khau-123", "role": role}),
            )
            .await;
        let body = r.ok(201);
        (body["token"].as_str().unwrap().to_owned(), body["user"].clone())
    }

    /// A product body that passes validation.
    pub fn product_body(name: &str) -> Value {
        json!({
            "name": name,
            "description": "Sản phẩm OCOP dùng để thử",
            "story": "Làm tại xã.\nĐóng gói thủ công.",
            "unit": "hũ 500ml",
            "price": 390000,
            "stock": 50,
            "province": "Tuyên Quang",
            "group": "food",
            "stars": 4,
            "certificate": {"number": "125/QĐ-UBND", "issued_by": "UBND tỉnh Tuyên Quang",
                            "issued_at": "2025-03-15", "expires_at": "2028-03-15"}
        })
    }

    /// Creates a product as `token`'s seller and returns it.
    pub async fn create_product(&self, token: &str, body: Value) -> Value {
        self.post("/api/products", Some(token), body).await.ok(201)["product"].clone()
    }
}

/// A server with an admin account (`admin@test.ocop.vn` / `admin-password-1`).
pub async fn spawn_with_admin() -> (TestApp, String) {
    let mut cfg = Config::for_tests();
    cfg.admin_email = Some("admin@test.ocop.vn".into());
    cfg.admin_password = Some("admin-password-1".into());
    let app = spawn_with(cfg).await;
    let r = app
        .api()
        .post("/api/auth/login", None, json!({"email": "admin@test.ocop.vn", "password": "admin-password-1"}))
        .await;
    let token = r.ok(200)["token"].as_str().unwrap().to_owned();
    (app, token)
}
