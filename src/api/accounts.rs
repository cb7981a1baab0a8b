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
use super::extract::{ApiJson, Auth};
use super::responses::TooManyAttempts;
use crate::app::AppState;
use crate::auth::{Role, User};
use crate::domain::account::{Account, DeliveryContact, NewAccount};
use crate::domain::seller::{SellerProfile, SellerProfileInput};
use crate::domain::{FieldErrors, openapi, required_text};
use crate::protocol::now_rfc3339;

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
}

fn issue(state: &AppState, user: User) -> AuthResponse {
    AuthResponse { token: state.tokens.mint(&user, state.config.token_ttl()), user }
}

/// Creates a buyer or seller account and signs it in.
#[utoipa::path(post, path = "/api/auth/register", tag = "accounts", request_body = RegisterRequest,
    responses(
        (status = 201, description = "Created and signed in", body = AuthResponse),
        (status = 409, description = "The e-mail has an account", body = Problem, content_type = "application/problem+json"),
        (status = 429, response = TooManyAttempts),
    ))]
async fn register(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<RegisterRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let new = NewAccount::parse(
        &req.name,
        &req.email,
        &req.password,
        req.role,
        req.phone.as_deref(),
        &[Role::Buyer, Role::Seller],
    )?;
    let account = state.accounts.create(new, req.seller.as_ref(), &now_rfc3339()).await?;
    Ok((StatusCode::CREATED, axum::Json(issue(&state, account.user()))))
}

/// Signs in with e-mail and password.
#[utoipa::path(post, path = "/api/auth/login", tag = "accounts", request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in", body = AuthResponse),
        (status = 401, description = "Wrong e-mail or password", body = Problem, content_type = "application/problem+json"),
        (status = 429, response = TooManyAttempts),
    ))]
async fn login(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<LoginRequest>,
) -> Result<axum::Json<AuthResponse>, ApiError> {
    if req.password.len() > 1024 {
        return Err(ApiError::Unauthorized("wrong e-mail or password"));
    }
    let account = state.accounts.login(&req.email, &req.password).await?;
    Ok(axum::Json(issue(&state, account.user())))
}

/// A guest token: may watch and chat, never order. Nothing is stored.
#[utoipa::path(post, path = "/api/auth/guest", tag = "accounts", request_body = GuestRequest,
    responses(
        (status = 200, description = "A guest token", body = AuthResponse),
        (status = 400, description = "Bad name", body = Problem, content_type = "application/problem+json"),
        (status = 429, response = TooManyAttempts),
    ))]
async fn guest(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<GuestRequest>,
) -> Result<axum::Json<AuthResponse>, ApiError> {
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

/// Sets the buyer's delivery contact, used by orders.
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
    Ok(axum::Json(DeliveryResponse { delivery }))
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
    let account = state.accounts.create(new, req.seller.as_ref(), &now_rfc3339()).await?;
    Ok((StatusCode::CREATED, axum::Json(UserResponse { user: account.user() })))
}
