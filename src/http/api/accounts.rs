//! `/api/auth/*`, `/api/me*`, `/api/admin/users`: accounts and sign-in.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::error::{ApiError, Problem};
use super::extract::{ApiJson, Auth, ClientIp};
use crate::accounts::AccountError;
use crate::auth::{Role, User};
use crate::domain::account::{Account, DeliveryContact, NewAccount};
use crate::domain::seller::{SellerProfile, SellerProfileInput};
use crate::domain::{FieldErrors, openapi, required_text};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(login))
        .routes(routes!(guest))
        .routes(routes!(me))
        .routes(routes!(set_delivery))
        .routes(routes!(create_user))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    #[schema(schema_with = openapi::text::<80>)]
    pub name: String,
    #[schema(schema_with = openapi::email)]
    pub email: String,
    #[schema(schema_with = openapi::password)]
    pub password: String,
    #[schema(schema_with = self_service_role)]
    pub role: Role,
    #[serde(default)]
    #[schema(schema_with = openapi::optional_phone)]
    pub phone: Option<String>,
    /// The seller profile, for sellers; a minimal one is made from `name` when absent.
    #[serde(default)]
    pub seller: Option<SellerProfileInput>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GuestRequest {
    /// The name shown in chat.
    #[schema(schema_with = openapi::text::<40>)]
    pub name: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUserRequest {
    #[schema(schema_with = openapi::text::<80>)]
    pub name: String,
    #[schema(schema_with = openapi::email)]
    pub email: String,
    #[schema(schema_with = openapi::password)]
    pub password: String,
    #[schema(schema_with = created_role)]
    pub role: Role,
    #[serde(default)]
    #[schema(schema_with = openapi::optional_phone)]
    pub phone: Option<String>,
    #[serde(default)]
    pub seller: Option<SellerProfileInput>,
}

fn roles(names: &[&str], description: &str) -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::Type::String)
        .enum_values(Some(names.iter().copied()))
        .description(Some(description))
        .build()
}

fn self_service_role() -> utoipa::openapi::Object {
    roles(&["buyer", "seller"], "`buyer` or `seller`; organisers and admins are created by an admin")
}

fn created_role() -> utoipa::openapi::Object {
    roles(&["buyer", "seller", "organiser", "admin"], "Any role but `guest`")
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuthResponse {
    /// Send as `Authorization: Bearer <token>`, or `?token=` on `/ws`.
    pub token: String,
    pub user: User,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserResponse {
    pub user: User,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MeResponse {
    pub user: User,
    /// The buyer's delivery contact, when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivery: Option<DeliveryContact>,
    /// The seller profile, for sellers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seller: Option<SellerProfile>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryResponse {
    pub delivery: DeliveryContact,
    /// Orders that waited for an address and now have this one.
    pub orders_completed: usize,
}

fn issue(state: &AppState, user: User) -> AuthResponse {
    AuthResponse { token: state.tokens.mint(&user, state.config.token_ttl()), user }
}

/// Creates a buyer or seller account and signs it in.
#[utoipa::path(post, path = "/api/auth/register", tag = "accounts", request_body = RegisterRequest,
    responses(
        (status = 201, description = "Created and signed in", body = AuthResponse),
        (status = 409, description = "The e-mail has an account", body = Problem, content_type = "application/problem+json"),

        (status = 429, description = "Too many registrations from this client address (`--register-ip-limit` per `--register-ip-window-s`, 100 a minute by default)",
            body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds until registrations from this address are accepted again"))),
    ))]
async fn register(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(req): ApiJson<RegisterRequest>,
) -> Result<impl IntoResponse, ApiError> {
    // Counted before anything else, so probing which addresses have accounts is as slow as
    // the limit, whatever the answers.
    state
        .throttles
        .register(ip)
        .await
        .map_err(|e| ApiError::throttled(e, "too many registrations from this address; try again later"))?;
    let new = NewAccount::parse(
        &req.name,
        &req.email,
        &req.password,
        req.role,
        req.phone.as_deref(),
        &[Role::Buyer, Role::Seller],
    )?;
    let account = state.accounts.create(new, req.seller.as_ref(), &state.clock.rfc3339()).await?;
    Ok((StatusCode::CREATED, axum::Json(issue(&state, account.user()))))
}

/// Signs in with e-mail and password.
///
/// Failed sign-ins are throttled per e-mail address, whether it has an account or not, and per
/// client address: past the limits the answer is 429 with `Retry-After`, before the password is
/// checked (so a correct password is refused too until then).
#[utoipa::path(post, path = "/api/auth/login", tag = "accounts", request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in", body = AuthResponse),
        (status = 401, description = "Wrong e-mail or password", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many failed sign-ins to this e-mail address (after a burst of `--login-account-burst`, \
            one attempt per wait, the wait doubling up to `--login-account-max-delay-s`) or from this client address \
            (`--login-ip-limit` per `--login-ip-window-s`)",
            body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds until the next attempt is checked"))),
    ))]
async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(req): ApiJson<LoginRequest>,
) -> Result<axum::Json<AuthResponse>, ApiError> {
    let throttles = &state.throttles;
    let attempt = throttles
        .login_begin(ip, &req.email)
        .await
        .map_err(|e| ApiError::throttled(e, "too many sign-in attempts; try again later"))?;
    let result = if req.password.len() > 1024 {
        Err(AccountError::BadCredentials)
    } else {
        state.accounts.login(&req.email, &req.password).await
    };
    match result {
        Ok(account) => {
            throttles.login_succeeded(attempt).await?;
            Ok(axum::Json(issue(&state, account.user())))
        }
        Err(AccountError::BadCredentials) => {
            throttles.login_failed(attempt).await?;
            Err(AccountError::BadCredentials.into())
        }
        Err(other) => Err(other.into()),
    }
}

/// A guest token: may watch and chat, never order. Nothing is stored.
#[utoipa::path(post, path = "/api/auth/guest", tag = "accounts", request_body = GuestRequest,
    responses(
        (status = 200, description = "A guest token", body = AuthResponse),
        (status = 400, description = "Bad name", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many guest tokens for this client address (`--guest-ip-limit` per `--guest-ip-window-s`, 600 a minute by default)",
            body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds until guest tokens are minted for this address again"))),
    ))]
async fn guest(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(req): ApiJson<GuestRequest>,
) -> Result<axum::Json<AuthResponse>, ApiError> {
    state
        .throttles
        .guest(ip)
        .await
        .map_err(|e| ApiError::throttled(e, "too many guest tokens for this address; try again later"))?;
    let mut errors = FieldErrors::new();
    let name = required_text(&mut errors, "name", &req.name, 40);
    errors.into_result()?;
    let user = User { id: Uuid::now_v7(), name, role: Role::Guest, email: None, phone: None, seller_id: None };
    Ok(axum::Json(issue(&state, user)))
}

async fn me_of(state: &AppState, auth: &Auth) -> Result<MeResponse, ApiError> {
    if auth.0.role == Role::Guest {
        return Ok(MeResponse { user: auth.user(), delivery: None, seller: None });
    }
    let account: Account =
        state.accounts.get(auth.0.sub).await.map_err(|_| ApiError::Unauthorized("this account no longer exists"))?;
    let seller = match account.seller_id {
        Some(id) => Some(state.catalog.seller(id).await.map_err(ApiError::from)?),
        None => None,
    };
    Ok(MeResponse { user: account.user(), delivery: account.delivery, seller })
}

/// The caller's account.
#[utoipa::path(get, path = "/api/me", tag = "accounts", security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller", body = MeResponse),
    ))]
async fn me(State(state): State<AppState>, auth: Auth) -> Result<axum::Json<MeResponse>, ApiError> {
    Ok(axum::Json(me_of(&state, &auth).await?))
}

/// Sets the buyer's delivery contact, used by orders; every order of theirs still waiting for an
/// address gets it too.
#[utoipa::path(put, path = "/api/me/delivery", tag = "accounts", security(("bearer" = [])), request_body = DeliveryContact,
    responses(
        (status = 200, description = "Saved", body = DeliveryResponse),
        (status = 403, description = "Not a buyer", body = Problem, content_type = "application/problem+json"),
    ))]
async fn set_delivery(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(req): ApiJson<DeliveryContact>,
) -> Result<axum::Json<DeliveryResponse>, ApiError> {
    auth.require(&[Role::Buyer])?;
    let contact = DeliveryContact::parse(&req)?;
    let account = state.accounts.set_delivery(auth.0.sub, contact).await?;
    let delivery = account.delivery.ok_or_else(|| ApiError::Internal("delivery not saved".into()))?;
    // Orders placed before the contact existed wait for it: they get it now.
    let filled = state.sales.fill_waiting_orders(&auth.user(), &delivery).await?;
    Ok(axum::Json(DeliveryResponse { delivery, orders_completed: filled }))
}

/// Creates an account of any role (organisers, other admins). Admins only.
#[utoipa::path(post, path = "/api/admin/users", tag = "accounts", security(("bearer" = [])), request_body = CreateUserRequest,
    responses(
        (status = 201, description = "Created", body = UserResponse),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The e-mail has an account", body = Problem, content_type = "application/problem+json"),
    ))]
async fn create_user(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(req): ApiJson<CreateUserRequest>,
) -> Result<impl IntoResponse, ApiError> {
    auth.require(&[Role::Admin])?;
    let roles = [Role::Buyer, Role::Seller, Role::Organiser, Role::Admin];
    let new = NewAccount::parse(&req.name, &req.email, &req.password, req.role, req.phone.as_deref(), &roles)?;
    let account = state.accounts.create(new, req.seller.as_ref(), &state.clock.rfc3339()).await?;
    Ok((StatusCode::CREATED, axum::Json(UserResponse { user: account.user() })))
}
