//! Who is acting: users, roles and the HS256 access tokens that carry them.
//!
//! Accounts and logins live in their own module; this one only mints and verifies tokens, so the
//! WebSocket endpoint can trust a token without asking storage.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::clock::Clock;

/// What a user may do is decided by role, and checked on every command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// May watch and chat, never order.
    Guest,
    Buyer,
    Seller,
    Organiser,
    Admin,
}

/// A signed-in user as clients see it (`user` in PROTOCOL.md §1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct User {
    pub id: Uuid,
    pub name: String,
    pub role: Role,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// The seller profile this account acts for, for sellers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seller_id: Option<Uuid>,
}

/// The claims inside an access token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: Uuid,
    pub name: String,
    pub role: Role,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seller_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Expiry, seconds since the Unix epoch.
    pub exp: u64,
    pub iat: u64,
}

impl Claims {
    /// The one expiry rule, used at the handshake, on REST and during a connection: a token is
    /// valid while `now < exp`, with no leeway, so a session never outlives what the handshake
    /// or a REST call would accept.
    pub fn is_expired_at(&self, now_s: u64) -> bool {
        now_s >= self.exp
    }

    pub fn user(&self) -> User {
        User {
            id: self.sub,
            name: self.name.clone(),
            role: self.role,
            email: self.email.clone(),
            phone: None,
            seller_id: self.seller_id,
        }
    }
}

/// Why a token was refused. The token itself never appears in the message.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("token expired")]
    Expired,
    #[error("token invalid")]
    Invalid,
}

/// Mints and verifies HS256 access tokens with one shared secret.
#[derive(Clone)]
pub struct Tokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    clock: Clock,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tokens { .. }")
    }
}

impl Tokens {
    /// Keys from `secret` on the system's clock; an empty secret is refused.
    pub fn new(secret: &[u8]) -> Result<Self, TokenError> {
        Self::with_clock(secret, Clock::system())
    }

    /// Keys from `secret`, minting and checking expiry by `clock`.
    pub fn with_clock(secret: &[u8], clock: Clock) -> Result<Self, TokenError> {
        let encoding = EncodingKey::from_secret(secret).map_err(|_| TokenError::Invalid)?;
        let decoding = DecodingKey::from_secret(secret).map_err(|_| TokenError::Invalid)?;
        let mut validation = Validation::new(Algorithm::HS256);
        // No leeway: every node signs and checks with its own clock, and `Claims::is_expired_at`
        // is the rule; the library's own check (`exp < now`) only ever refuses earlier than it.
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub"]);
        Ok(Self { encoding, decoding, validation, clock })
    }

    /// A secret for a single in-memory node, where no other process must verify its tokens.
    pub fn random_secret() -> String {
        use rand::RngExt as _;
        let bytes: [u8; 32] = rand::rng().random();
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Mints a token for `user`, valid for `ttl`.
    pub fn mint(&self, user: &User, ttl: std::time::Duration) -> String {
        let now = self.clock.now_ms() / 1000;
        let claims = Claims {
            sub: user.id,
            name: user.name.clone(),
            role: user.role,
            seller_id: user.seller_id,
            email: user.email.clone(),
            iat: now,
            exp: now + ttl.as_secs(),
        };
        // HMAC signing of a serialisable struct cannot fail.
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding).unwrap_or_default()
    }

    /// Checks the signature and the expiry (`Claims::is_expired_at`).
    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        let claims = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|d| d.claims)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => TokenError::Expired,
                _ => TokenError::Invalid,
            })?;
        if claims.is_expired_at(self.clock.now_ms() / 1000) {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }
}

/// Seconds since the Unix epoch on the system's clock, for code without a [`Clock`] (tests, tools).
pub fn unix_now() -> u64 {
    Clock::system().now_ms() / 1000
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user() -> User {
        User { id: Uuid::now_v7(), name: "Lan".into(), role: Role::Buyer, email: None, phone: None, seller_id: None }
    }

    #[test]
    fn round_trips_a_token() {
        let t = Tokens::new(b"0123456789abcdef0123456789abcdef").unwrap();
        let u = user();
        let claims = t.verify(&t.mint(&u, std::time::Duration::from_secs(60))).unwrap();
        assert_eq!(claims.user(), u);
    }

    #[test]
    fn refuses_foreign_and_garbage_tokens() {
        let a = Tokens::new(b"0123456789abcdef0123456789abcdef").unwrap();
        let b = Tokens::new(b"fedcba9876543210fedcba9876543210").unwrap();
        let token = a.mint(&user(), std::time::Duration::from_secs(60));
        assert!(matches!(b.verify(&token), Err(TokenError::Invalid)));
        assert!(matches!(a.verify("nope"), Err(TokenError::Invalid)));
    }

    #[test]
    fn refuses_an_expired_token() {
        let t = Tokens::new(b"0123456789abcdef0123456789abcdef").unwrap();
        let now = unix_now();
        let claims = Claims {
            sub: Uuid::now_v7(),
            name: "x".into(),
            role: Role::Guest,
            seller_id: None,
            email: None,
            iat: now - 120,
            exp: now - 60,
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &t.encoding).unwrap();
        assert!(matches!(t.verify(&token), Err(TokenError::Expired)));
    }

    #[tokio::test(start_paused = true)]
    async fn tokens_are_minted_and_expire_by_their_clock_so_a_test_need_not_wait() {
        // A day ahead of the system's time, so the library's own expiry check (system time)
        // never decides; the clock's does.
        let wall = time::OffsetDateTime::now_utc() + time::Duration::days(1);
        let t = Tokens::with_clock(b"0123456789abcdef0123456789abcdef", Clock::following_tokio(wall)).unwrap();
        let user = User {
            id: Uuid::now_v7(),
            name: "Lan".into(),
            role: Role::Buyer,
            email: None,
            phone: None,
            seller_id: None,
        };
        let token = t.mint(&user, std::time::Duration::from_secs(60));
        assert_eq!(t.verify(&token).unwrap().exp, wall.unix_timestamp() as u64 + 60);
        tokio::time::advance(std::time::Duration::from_secs(59)).await;
        assert!(t.verify(&token).is_ok(), "a second left");
        tokio::time::advance(std::time::Duration::from_secs(1)).await;
        assert!(matches!(t.verify(&token), Err(TokenError::Expired)), "expired at exp, without waiting");
    }

    #[test]
    fn a_token_expires_when_now_reaches_exp_with_no_leeway() {
        let t = Tokens::new(b"0123456789abcdef0123456789abcdef").unwrap();
        let now = unix_now();
        let token = |exp: u64| {
            let claims = Claims {
                sub: Uuid::now_v7(),
                name: "x".into(),
                role: Role::Guest,
                seller_id: None,
                email: None,
                iat: now - 60,
                exp,
            };
            jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &t.encoding).unwrap()
        };
        for exp in [now - 3, now - 1, now] {
            assert!(matches!(t.verify(&token(exp)), Err(TokenError::Expired)), "exp = now - {}", now - exp);
        }
        assert!(t.verify(&token(now + 60)).is_ok());
        let claims = t.verify(&token(now + 60)).unwrap();
        assert!(!claims.is_expired_at(now + 59));
        assert!(claims.is_expired_at(now + 60));
    }
}
