//! The REST layer: one router per area, merged here under one body limit, CORS policy and
//! OpenAPI document (served at `/api/openapi.json`, committed as `proto/openapi.json`).

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, Method, header};
use axum::response::IntoResponse;
use axum::routing::get;
use tower_http::cors::{AllowOrigin, CorsLayer};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

pub mod accounts;
pub mod csv_out;
pub mod error;
pub mod extract;
pub mod fairs;
pub mod orders;
pub mod products;
pub mod responses;
pub mod shows;
pub mod trace;

pub use error::ApiError;

/// JSON bodies are small (a product with its story is a few KiB); anything bigger is a mistake
/// or an attack, refused with 413 before it is read.
const MAX_BODY: usize = 64 * 1024;

#[derive(OpenApi)]
#[openapi(
    info(title = "OCOP Live REST API", version = "1", description = "Accounts, the OCOP catalog and traceability. \
        Errors are application/problem+json (RFC 9457); validation failures list each field under `errors`."),
    modifiers(&BearerAuth),
    tags(
        (name = "accounts", description = "Registration, sign-in, profiles"),
        (name = "catalog", description = "OCOP products, combos, sellers, QR traceability"),
        (name = "orders", description = "Orders: the buyer's, the seller's (with CSV), and their status changes"),
        (name = "shows", description = "Live selling shows: schedule, start, end, follow, figures, moderation log"),
        (name = "fairs", description = "Virtual fairs: schedule, booths, agenda, announcements"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
        );
    }
}

/// The REST routes and their OpenAPI document.
pub fn routes() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let (router, mut api) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(accounts::router())
        .merge(products::router())
        .merge(shows::router())
        .merge(orders::router())
        .merge(fairs::router())
        .split_for_parts();
    // After the merge: the shared answers depend on each operation's parameters and security.
    responses::SharedResponses.modify(&mut api);
    (router, api)
}

/// The OpenAPI document as served and committed.
pub fn openapi_json() -> String {
    let (_, api) = routes();
    api.to_pretty_json().unwrap_or_default()
}

pub fn router(state: &AppState) -> Router<AppState> {
    let (api, _) = routes();
    let document = state.openapi.clone();
    let cors = cors(&state.config.allowed_origins);
    api.route(
        "/api/openapi.json",
        get(move || {
            let document = document.clone();
            async move { ([(header::CONTENT_TYPE, "application/json")], document.to_string()) }
        }),
    )
    .fallback(not_found)
    .layer(DefaultBodyLimit::max(MAX_BODY))
    .layer(cors)
    .route("/t/{trace_code}", get(trace::trace_page))
}

async fn not_found() -> impl IntoResponse {
    ApiError::NotFound("no such endpoint")
}

fn cors(allowed: &[String]) -> CorsLayer {
    let origins: Vec<HeaderValue> = allowed.iter().filter_map(|o| HeaderValue::from_str(o).ok()).collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([Method::GET, Method::POST, Method::PATCH, Method::PUT, Method::DELETE])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
        .max_age(std::time::Duration::from_secs(600))
}
