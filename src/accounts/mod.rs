//! The accounts service: registration, sign-in, profiles, stored through the engine's [`State`].
//!
//! Keys: `{u:<id>}:account` (JSON, with the Argon2id password hash) and `email:<address>` (the
//! account id, claimed with set-if-absent so one address has one account).

pub mod throttle;

use std::sync::Arc;

use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use bytes::Bytes;
use uuid::Uuid;

use crate::auth::Role;
use crate::catalog::{Catalog, CatalogError};
use crate::domain::FieldErrors;
use crate::domain::account::{Account, DeliveryContact, NewAccount};
use crate::domain::seller::{SellerProfile, SellerProfileInput};
use crate::engine::{EngineError, State};

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("an account with this e-mail exists")]
    EmailTaken,
    #[error("wrong e-mail or password")]
    BadCredentials,
    #[error("not found")]
    NotFound,
    #[error("invalid input")]
    Invalid(FieldErrors),
    #[error(transparent)]
    Engine(#[from] EngineError),
}

impl From<CatalogError> for AccountError {
    fn from(e: CatalogError) -> Self {
        match e {
            CatalogError::NotFound => AccountError::NotFound,
            CatalogError::Invalid(f) => AccountError::Invalid(f),
            CatalogError::Engine(e) => AccountError::Engine(e),
        }
    }
}

#[derive(Clone)]
pub struct Accounts {
    state: Arc<dyn State>,
    catalog: Catalog,
}

fn account_key(id: Uuid) -> String {
    format!("{{u:{id}}}:account")
}
fn email_key(email: &str) -> String {
    format!("email:{email}")
}

/// Hashes at once at most: each Argon2id run holds 19 MiB, so a burst of sign-ups queues
/// rather than taking the node's memory.
const HASHING_AT_ONCE: usize = 4;

fn hashing_slots() -> &'static tokio::sync::Semaphore {
    static SLOTS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    SLOTS.get_or_init(|| tokio::sync::Semaphore::new(HASHING_AT_ONCE))
}

/// Hashes off the async threads: Argon2id is deliberately slow.
async fn hash_password(password: String) -> Result<String, EngineError> {
    let _slot = hashing_slots().acquire().await.map_err(|e| EngineError::Internal(e.to_string()))?;
    tokio::task::spawn_blocking(move || Argon2::default().hash_password(password.as_bytes()).map(|h| h.to_string()))
        .await
        .map_err(|e| EngineError::Internal(e.to_string()))?
        .map_err(|e| EngineError::Internal(format!("password hashing failed: {e}")))
}

async fn verify_password(password: String, hash: String) -> bool {
    let Ok(_slot) = hashing_slots().acquire().await else { return false };
    tokio::task::spawn_blocking(move || Argon2::default().verify_password(password.as_bytes(), hash.as_str()).is_ok())
        .await
        .unwrap_or(false)
}

/// A hash of a password nobody has, verified when the e-mail is unknown so that a wrong
/// address takes as long as a wrong password.
async fn decoy_hash() -> String {
    static DECOY: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    DECOY
        .get_or_init(|| async { hash_password(crate::auth::Tokens::random_secret()).await.unwrap_or_default() })
        .await
        .clone()
}

impl Accounts {
    pub fn new(state: Arc<dyn State>, catalog: Catalog) -> Self {
        Self { state, catalog }
    }

    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    async fn store(&self, account: &Account) -> Result<(), EngineError> {
        let bytes = serde_json::to_vec(account).map_err(|e| EngineError::Internal(e.to_string()))?;
        self.state.set(&account_key(account.id), &bytes, None).await
    }

    pub async fn get(&self, id: Uuid) -> Result<Account, AccountError> {
        let bytes = self.state.get(&account_key(id)).await?.ok_or(AccountError::NotFound)?;
        serde_json::from_slice(&bytes).map_err(|e| AccountError::Engine(EngineError::Internal(e.to_string())))
    }

    async fn by_email(&self, email: &str) -> Result<Option<Account>, AccountError> {
        let Some(id) = self.state.get(&email_key(email)).await? else { return Ok(None) };
        let Some(id) = std::str::from_utf8(&id).ok().and_then(|s| Uuid::parse_str(s).ok()) else { return Ok(None) };
        match self.get(id).await {
            Ok(a) => Ok(Some(a)),
            Err(AccountError::NotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Creates an account; a seller gets a seller profile (from `profile`, or a minimal one
    /// named after the account, to complete later).
    pub async fn create(
        &self,
        new: NewAccount,
        profile: Option<&SellerProfileInput>,
        now: &str,
    ) -> Result<Account, AccountError> {
        let id = Uuid::now_v7();
        let seller = match (new.role, profile) {
            (Role::Seller, Some(input)) => Some(SellerProfile::parse(Uuid::now_v7(), id, input).map_err(|e| {
                let mut prefixed = FieldErrors::new();
                for (k, v) in e.0 {
                    prefixed.add(format!("seller.{k}"), v);
                }
                AccountError::Invalid(prefixed)
            })?),
            (Role::Seller, None) => {
                let input = SellerProfileInput {
                    display_name: new.name.clone(),
                    phone: new.phone.clone(),
                    ..Default::default()
                };
                Some(SellerProfile::parse(Uuid::now_v7(), id, &input).map_err(AccountError::Invalid)?)
            }
            (_, Some(_)) => return Err(AccountError::Invalid(FieldErrors::single("seller", "only sellers have one"))),
            _ => None,
        };
        if !self.state.set_nx(&email_key(&new.email), id.to_string().as_bytes(), None).await? {
            // An address whose account was never written (a crash between the two steps) is
            // free again; any other is taken.
            if self.by_email(&new.email).await?.is_some() {
                return Err(AccountError::EmailTaken);
            }
            self.state.set(&email_key(&new.email), id.to_string().as_bytes(), None).await?;
        }
        let account = Account {
            id,
            name: new.name,
            email: new.email,
            password_hash: hash_password(new.password).await?,
            role: new.role,
            phone: new.phone,
            seller_id: seller.as_ref().map(|s| s.id),
            delivery: None,
            created_at: now.to_owned(),
        };
        if let Some(seller) = &seller {
            self.catalog.put_seller(seller).await?;
        }
        self.store(&account).await?;
        Ok(account)
    }

    /// The account for these credentials.
    pub async fn login(&self, email: &str, password: &str) -> Result<Account, AccountError> {
        let email = crate::domain::account::normalize_email(email).unwrap_or_default();
        let account = self.by_email(&email).await?;
        let hash = match &account {
            Some(a) => a.password_hash.clone(),
            None => decoy_hash().await,
        };
        let ok = verify_password(password.to_owned(), hash).await;
        match account {
            Some(a) if ok => Ok(a),
            _ => Err(AccountError::BadCredentials),
        }
    }

    pub async fn set_delivery(&self, id: Uuid, contact: DeliveryContact) -> Result<Account, AccountError> {
        let mut account = self.get(id).await?;
        account.delivery = Some(contact);
        self.store(&account).await?;
        Ok(account)
    }

    /// Makes sure an administrator with exactly these credentials exists.
    pub async fn ensure_admin(&self, email: &str, password: &str, now: &str) -> Result<Account, AccountError> {
        let new = NewAccount::parse("Administrator", email, password, Role::Admin, None, &[Role::Admin])
            .map_err(AccountError::Invalid)?;
        match self.by_email(&new.email).await? {
            Some(mut account) => {
                let same = verify_password(new.password.clone(), account.password_hash.clone()).await;
                if !same || account.role != Role::Admin {
                    account.password_hash = hash_password(new.password).await?;
                    account.role = Role::Admin;
                    self.store(&account).await?;
                }
                Ok(account)
            }
            None => self.create(new, None, now).await,
        }
    }

    /// Marks a one-time action (like seeding demo data) as done; true the first time.
    pub async fn once(&self, what: &str) -> Result<bool, EngineError> {
        self.state.set_nx(&format!("once:{what}"), Bytes::from_static(b"1").as_ref(), None).await
    }
}
