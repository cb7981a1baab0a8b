//! Runtime configuration: every flag also reads an environment variable (PROTOCOL.md §0).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use clap::{Parser, ValueEnum};
use ipnet::IpNet;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines, for a terminal.
    Human,
    /// One JSON object per line, for a log collector.
    Json,
}

/// The server's configuration, parsed from flags and environment variables.
#[derive(Debug, Clone, Parser)]
#[command(name = "ocop-live", version, about = "Realtime backend for live OCOP sales and online fairs")]
pub struct Config {
    /// Address to listen on for HTTP and WebSocket.
    #[arg(long, env = "OCOP_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Redis URL (`redis://host:port/db`). Absent: the in-memory engine (one node, nothing kept
    /// across restarts).
    #[arg(long, env = "REDIS_URL")]
    pub redis_url: Option<String>,

    /// Secret for HS256 access tokens. Required with Redis (every node must share it); in memory
    /// mode a random secret is made at start when absent.
    #[arg(long, env = "OCOP_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,

    /// Prefix of every Redis key and pub/sub channel, so several deployments can share one Redis.
    #[arg(long, env = "OCOP_KEY_PREFIX", default_value = "ocop:")]
    pub key_prefix: String,

    /// Browser origins allowed to open the WebSocket, comma-separated (for example
    /// `https://cho.ocop.vn`). A page served by this server itself is always allowed.
    #[arg(long, env = "OCOP_ALLOWED_ORIGINS", value_delimiter = ',')]
    pub allowed_origins: Vec<String>,

    /// E-mail of the administrator account that must exist at start.
    #[arg(long, env = "OCOP_ADMIN_EMAIL")]
    pub admin_email: Option<String>,

    /// Password of that administrator account.
    #[arg(long, env = "OCOP_ADMIN_PASSWORD", hide_env_values = true)]
    pub admin_password: Option<String>,

    /// Lifetime of access tokens, in seconds.
    #[arg(long, env = "OCOP_TOKEN_TTL_S", default_value_t = 24 * 3600)]
    pub token_ttl_s: u64,

    /// The address buyers reach this server at (for QR codes), like `https://cho.ocop.vn`.
    /// Default: `http://` and the listen address.
    #[arg(long, env = "OCOP_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// Words and phrases refused in chat, comma-separated; matched whole-word, ignoring case and
    /// diacritics ("lua dao" also blocks "LỪA ĐẢO").
    #[arg(long, env = "OCOP_BANNED_WORDS", value_delimiter = ',')]
    pub banned_words: Vec<String>,

    /// Minutes an order placed without a delivery address waits for it; then it cancels itself
    /// and its units go back to stock. Long enough to fill in a form on a phone, short enough
    /// that a flash offer's units are not held for nothing. Fractions are allowed.
    #[arg(long, env = "OCOP_ADDRESS_DEADLINE_MIN", default_value_t = 30.0)]
    pub address_deadline_min: f64,

    /// Seconds before a followed show starts that its followers get `notify {kind: "show.soon"}`.
    #[arg(long, env = "OCOP_REMINDER_LEAD_S", default_value_t = 600, value_parser = clap::value_parser!(u64).range(1..))]
    pub reminder_lead_s: u64,

    /// Seed the documented demo accounts and catalog once.
    #[arg(long, env = "OCOP_DEMO")]
    pub demo: bool,

    /// Log format.
    #[arg(long, env = "OCOP_LOG_FORMAT", value_enum, default_value = "human")]
    pub log_format: LogFormat,

    /// Reverse proxies whose forwarded client address is believed (`Forwarded`, else the
    /// last `X-Forwarded-For` hop that is not itself one of them), comma-separated addresses or
    /// CIDR networks. From any other peer those headers are ignored: the throttles count the
    /// TCP peer's own address, so a client cannot pick the address it is counted under.
    #[arg(long, env = "OCOP_TRUSTED_PROXIES", value_delimiter = ',', value_parser = parse_network)]
    pub trusted_proxies: Vec<IpNet>,

    #[command(flatten)]
    pub limits: Limits,

    #[command(flatten)]
    pub throttle: Throttle,
}

/// An address (one host) or a CIDR network.
fn parse_network(s: &str) -> Result<IpNet, String> {
    let s = s.trim();
    s.parse::<IpNet>()
        .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| format!("{s:?} is neither an IP address nor a CIDR network"))
}

/// The throttles on the unauthenticated REST endpoints (HTTP 429 with `Retry-After`). The
/// counters live in the engine, so on Redis they hold across every node.
#[derive(Debug, Clone, clap::Args)]
pub struct Throttle {
    /// Failed sign-ins to one e-mail address (an account or not) allowed before each further
    /// attempt must wait. Small: a guesser gets this many tries at full speed.
    #[arg(long, env = "OCOP_LOGIN_ACCOUNT_BURST", default_value_t = 5)]
    pub login_account_burst: u32,

    /// The wait after that burst, in milliseconds; every further failure doubles it.
    #[arg(long, env = "OCOP_LOGIN_ACCOUNT_DELAY_MS", default_value_t = 1000)]
    pub login_account_delay_ms: u64,

    /// The longest wait between sign-in attempts to one address, in seconds: a stranger
    /// guessing at someone's account keeps its owner out at most this long after a failure.
    #[arg(long, env = "OCOP_LOGIN_ACCOUNT_MAX_DELAY_S", default_value_t = 300)]
    pub login_account_max_delay_s: u64,

    /// Seconds after an address's first failure at which its failures are forgotten (a
    /// successful sign-in forgets them at once).
    #[arg(long, env = "OCOP_LOGIN_ACCOUNT_WINDOW_S", default_value_t = 900)]
    pub login_account_window_s: u64,

    /// Failed or refused sign-ins allowed from one client address per window, over all
    /// accounts: what stops one guesser. Generous, since an office or a school shares one address.
    #[arg(long, env = "OCOP_LOGIN_IP_LIMIT", default_value_t = 100)]
    pub login_ip_limit: u32,

    /// The window of --login-ip-limit, in seconds.
    #[arg(long, env = "OCOP_LOGIN_IP_WINDOW_S", default_value_t = 300)]
    pub login_ip_window_s: u64,

    /// Registrations (created or refused) allowed from one client address per window: makes
    /// probing which e-mails have accounts slow, while a class signing up together still fits.
    #[arg(long, env = "OCOP_REGISTER_IP_LIMIT", default_value_t = 100)]
    pub register_ip_limit: u32,

    /// The window of --register-ip-limit, in seconds.
    #[arg(long, env = "OCOP_REGISTER_IP_WINDOW_S", default_value_t = 60)]
    pub register_ip_window_s: u64,

    /// Guest tokens minted for one client address per window. Guests cost no storage, so the
    /// limit is loose; it bounds how fast one client can mint identities to chat under.
    #[arg(long, env = "OCOP_GUEST_IP_LIMIT", default_value_t = 600)]
    pub guest_ip_limit: u32,

    /// The window of --guest-ip-limit, in seconds.
    #[arg(long, env = "OCOP_GUEST_IP_WINDOW_S", default_value_t = 60)]
    pub guest_ip_window_s: u64,
}

/// The limits of PROTOCOL.md §2, all configurable.
#[derive(Debug, Clone, clap::Args)]
pub struct Limits {
    /// Largest WebSocket message accepted, in bytes; a larger one closes with 1009.
    #[arg(long, env = "OCOP_MAX_MESSAGE_BYTES", default_value_t = 16 * 1024)]
    pub max_message_bytes: usize,

    /// Subscriptions one connection may hold at once.
    #[arg(long, env = "OCOP_MAX_SUBSCRIPTIONS", default_value_t = 64)]
    pub max_subscriptions: usize,

    /// Commands a second per connection (sustained rate).
    #[arg(long, env = "OCOP_COMMAND_RATE", default_value_t = 20)]
    pub command_rate: u32,

    /// Commands a connection may send in a burst above the sustained rate.
    #[arg(long, env = "OCOP_COMMAND_BURST", default_value_t = 40)]
    pub command_burst: u32,

    /// Refused commands in a row after which the connection is closed with 4029.
    #[arg(long, env = "OCOP_ABUSE_THRESHOLD", default_value_t = 100)]
    pub abuse_threshold: u32,

    /// Chat messages a second per user per show (sustained rate).
    #[arg(long, env = "OCOP_CHAT_RATE", default_value_t = 1)]
    pub chat_rate: u32,

    /// Chat messages a user may send in a burst per show.
    #[arg(long, env = "OCOP_CHAT_BURST", default_value_t = 5)]
    pub chat_burst: u32,

    /// Seconds between server pings.
    #[arg(long, env = "OCOP_PING_INTERVAL_S", default_value_t = 25)]
    pub ping_interval_s: u64,

    /// Seconds to wait for a pong before the peer is declared dead.
    #[arg(long, env = "OCOP_PONG_TIMEOUT_S", default_value_t = 10)]
    pub pong_timeout_s: u64,

    /// Bytes of frames that may wait for one slow client before it is closed with 4008.
    #[arg(long, env = "OCOP_OUTBOUND_QUEUE_BYTES", default_value_t = 256 * 1024)]
    pub outbound_queue_bytes: usize,

    /// WebSocket connections this process serves at once; more are refused with 503.
    #[arg(long, env = "OCOP_MAX_CONNECTIONS", default_value_t = 19_000)]
    pub max_connections: usize,

    /// Seconds a client has to send a request's headers, from the moment its connection is
    /// accepted (and again after each response on a kept-alive connection); then the connection
    /// is closed. Ten seconds, because a request head is a few hundred bytes in one or two TCP
    /// segments, which a phone on a slow mobile network (hundreds of milliseconds of round trip,
    /// a retransmission or two) delivers in well under that, while a socket that sends nothing or
    /// one byte at a time gives its descriptor back quickly.
    #[arg(long, env = "OCOP_HEADER_READ_TIMEOUT_S", default_value_t = 10)]
    pub header_read_timeout_s: u64,

    /// HTTP connections held at once that are not (yet) WebSockets: requests being read or
    /// answered, handshakes, kept-alive REST connections. While that many are open the server
    /// accepts nothing more: new connections wait in the kernel's accept queue (4096 deep),
    /// costing no descriptor, until one of these ends. 512, because with the 19,000 WebSockets
    /// of --max-connections it stays inside the 20,000 descriptors a process gets here, and it
    /// is well above what a join storm has in flight (a handshake takes one round trip), so
    /// sockets that never finish a request cannot take every descriptor and starve `/healthz`
    /// and real handshakes.
    #[arg(long, env = "OCOP_MAX_PENDING_CONNECTIONS", default_value_t = 512)]
    pub max_pending_connections: usize,

    /// Events kept in each channel's history for recovery.
    #[arg(long, env = "OCOP_HISTORY_SIZE", default_value_t = 1000)]
    pub history_size: usize,

    /// Seconds a channel's history is kept after its last event.
    #[arg(long, env = "OCOP_HISTORY_TTL_S", default_value_t = 24 * 3600)]
    pub history_ttl_s: u64,

    /// Seconds given to open connections and in-flight work on shutdown.
    #[arg(long, env = "OCOP_SHUTDOWN_TIMEOUT_S", default_value_t = 10)]
    pub shutdown_timeout_s: u64,
}

/// A configuration value that cannot work, reported before anything starts.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{0}")]
    Invalid(String),
}

impl Config {
    /// Checks the combinations that clap cannot express.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |m: &str| Err(ConfigError::Invalid(m.to_owned()));
        if self.redis_url.is_some() && self.jwt_secret.is_none() {
            return bad("OCOP_JWT_SECRET is required with REDIS_URL: every node must verify the same tokens");
        }
        if let Some(secret) = &self.jwt_secret
            && secret.len() < 32
        {
            return bad("OCOP_JWT_SECRET must be at least 32 characters");
        }
        if self.admin_email.is_some() != self.admin_password.is_some() {
            return bad("OCOP_ADMIN_EMAIL and OCOP_ADMIN_PASSWORD must be set together");
        }
        if let Some(url) = &self.redis_url
            && !(url.starts_with("redis://")
                || url.starts_with("rediss://")
                || url.starts_with("redis+unix://")
                || url.starts_with("unix://"))
        {
            return bad("REDIS_URL must start with redis://, rediss:// or unix://");
        }
        for origin in &self.allowed_origins {
            if !(origin.starts_with("http://") || origin.starts_with("https://")) || origin.ends_with('/') {
                return bad(&format!(
                    "allowed origin {origin:?} must look like https://host[:port] without a trailing slash"
                ));
            }
        }
        if let Some(url) = &self.public_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return bad("OCOP_PUBLIC_URL must start with http:// or https://");
        }
        if !(self.address_deadline_min > 0.0 && self.address_deadline_min <= 7.0 * 24.0 * 60.0) {
            return bad("--address-deadline-min must be more than 0 and at most 10080 (a week)");
        }
        if self.token_ttl_s == 0 {
            return bad("--token-ttl-s must be positive");
        }
        let l = &self.limits;
        if l.max_message_bytes < 1024 {
            return bad("--max-message-bytes must be at least 1024");
        }
        if l.command_rate == 0 || l.command_burst == 0 || l.chat_rate == 0 || l.chat_burst == 0 {
            return bad("rates and bursts must be positive");
        }
        if l.ping_interval_s == 0 || l.pong_timeout_s == 0 {
            return bad("ping interval and pong timeout must be positive");
        }
        if l.outbound_queue_bytes < l.max_message_bytes {
            return bad("--outbound-queue-bytes must be at least --max-message-bytes");
        }
        if l.max_subscriptions == 0 || l.max_connections == 0 || l.max_pending_connections == 0 || l.history_size == 0 {
            return bad("subscription, connection and history limits must be positive");
        }
        if l.header_read_timeout_s == 0 {
            return bad("--header-read-timeout-s must be positive");
        }
        let t = &self.throttle;
        if t.login_account_burst == 0 || t.login_ip_limit == 0 || t.register_ip_limit == 0 || t.guest_ip_limit == 0 {
            return bad("throttle limits and the sign-in burst must be positive");
        }
        let windows = [t.login_account_window_s, t.login_ip_window_s, t.register_ip_window_s, t.guest_ip_window_s];
        if windows.contains(&0) || t.login_account_delay_ms == 0 {
            return bad("throttle windows and the sign-in delay must be positive");
        }
        if t.login_account_max_delay_s.saturating_mul(1000) < t.login_account_delay_ms {
            return bad("--login-account-max-delay-s must be at least --login-account-delay-ms");
        }
        Ok(())
    }

    /// A configuration for tests and embedding: memory engine, port 0, defaults elsewhere.
    pub fn for_tests() -> Self {
        let mut cfg = Config::parse_from(["ocop-live", "--listen", "127.0.0.1:0"]);
        cfg.jwt_secret = Some("test-secret-test-secret-test-secret!".into());
        // Every test client is 127.0.0.1 and many tests register and sign in at full speed;
        // tests of the throttles set their own limits.
        cfg.throttle.login_ip_limit = 1_000_000;
        cfg.throttle.register_ip_limit = 1_000_000;
        cfg.throttle.guest_ip_limit = 1_000_000;
        cfg
    }
}

impl Config {
    pub fn token_ttl(&self) -> Duration {
        Duration::from_secs(self.token_ttl_s)
    }

    /// How long an order may wait for its delivery address.
    pub fn address_deadline(&self) -> Duration {
        Duration::from_secs_f64(self.address_deadline_min * 60.0)
    }

    /// The public base URL without a trailing slash.
    pub fn public_base_url(&self) -> String {
        match &self.public_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => format!("http://{}", self.listen),
        }
    }
}

impl Limits {
    pub fn ping_interval(&self) -> Duration {
        Duration::from_secs(self.ping_interval_s)
    }
    pub fn pong_timeout(&self) -> Duration {
        Duration::from_secs(self.pong_timeout_s)
    }
    pub fn header_read_timeout(&self) -> Duration {
        Duration::from_secs(self.header_read_timeout_s)
    }
    pub fn shutdown_timeout(&self) -> Duration {
        Duration::from_secs(self.shutdown_timeout_s)
    }
}
