//! `/api/products*`, `/api/sellers/*`, `/api/seller/profile`: the OCOP catalog.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::error::{ApiError, Problem};
use super::extract::{ApiJson, ApiPath, ApiQuery, Auth};
use crate::auth::Role;
use crate::catalog::{MAX_PAGE, ProductQuery};
use crate::domain::product::{Product, ProductGroup, ProductInput, ProductPatch};
use crate::domain::seller::{SellerProfile, SellerProfileInput};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_product, list_products))
        .routes(routes!(get_product, patch_product))
        .routes(routes!(product_qr))
        .routes(routes!(get_seller))
        .routes(routes!(put_profile))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProductResponse {
    pub product: Product,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProductPage {
    pub items: Vec<Product>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SellerResponse {
    pub seller: SellerProfile,
}

/// Filters of the catalog; all optional, combined with AND.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Only this seller's products.
    pub seller: Option<Uuid>,
    /// Province, with or without diacritics ("Tuyên Quang" or "tuyen quang"), at most 60
    /// characters.
    #[param(max_length = 60)]
    pub province: Option<String>,
    pub group: Option<ProductGroup>,
    /// Exactly this many stars (3, 4 or 5).
    #[param(minimum = 3, maximum = 5)]
    pub stars: Option<u8>,
    /// Words to find in name, description and province, with or without diacritics: "mat ong"
    /// finds "Mật ong". At most 100 characters.
    #[param(max_length = 100)]
    pub q: Option<String>,
    /// From `next_cursor` of the previous page.
    #[param(format = Uuid)]
    pub cursor: Option<String>,
    /// 1 to 100, default 20.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<usize>,
}

fn seller_of(auth: &Auth) -> Result<Uuid, ApiError> {
    auth.require(&[Role::Seller])?;
    auth.0.seller_id.ok_or(ApiError::Forbidden("this account has no seller profile"))
}

/// Adds a product (or a combo of the caller's products) to the caller's catalog.
#[utoipa::path(post, path = "/api/products", tag = "catalog", security(("bearer" = [])), request_body = ProductInput,
    responses(
        (status = 201, description = "Created", body = ProductResponse),
        (status = 403, description = "Not a seller", body = Problem, content_type = "application/problem+json"),
    ))]
async fn create_product(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(input): ApiJson<ProductInput>,
) -> Result<impl IntoResponse, ApiError> {
    let seller = seller_of(&auth)?;
    let product =
        state.catalog.create_product(seller, &input, &state.clock.rfc3339(), state.clock.today_in_vietnam()).await?;
    Ok((StatusCode::CREATED, axum::Json(ProductResponse { product })))
}

/// Lists the catalog, oldest first, with a stable cursor.
#[utoipa::path(get, path = "/api/products", tag = "catalog", params(ListParams),
    responses(
        (status = 200, description = "A page of products", body = ProductPage),
        (status = 400, description = "A bad filter", body = Problem, content_type = "application/problem+json"),
    ))]
async fn list_products(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<axum::Json<ProductPage>, ApiError> {
    if params.stars.is_some_and(|s| !(3..=5).contains(&s)) {
        return Err(crate::domain::FieldErrors::single("stars", "must be 3, 4 or 5").into());
    }
    if params.limit.is_some_and(|l| !(1..=MAX_PAGE).contains(&l)) {
        return Err(crate::domain::FieldErrors::single("limit", format!("must be from 1 to {MAX_PAGE}")).into());
    }
    if params.cursor.as_deref().is_some_and(|c| Uuid::parse_str(c).is_err()) {
        return Err(crate::domain::FieldErrors::single("cursor", "must come from next_cursor").into());
    }
    if params.q.as_deref().is_some_and(|q| q.chars().count() > 100) {
        return Err(crate::domain::FieldErrors::single("q", "search text is at most 100 characters").into());
    }
    if params.province.as_deref().is_some_and(|p| p.chars().count() > 60) {
        return Err(crate::domain::FieldErrors::single("province", "a province is at most 60 characters").into());
    }
    let query = ProductQuery {
        seller: params.seller,
        province: params.province,
        group: params.group,
        stars: params.stars,
        q: params.q,
        cursor: params.cursor,
        limit: params.limit,
    };
    let page = state.catalog.list(&query, state.clock.today_in_vietnam()).await?;
    Ok(axum::Json(ProductPage { items: page.items, next_cursor: page.next_cursor }))
}

/// One product with its current stock.
#[utoipa::path(get, path = "/api/products/{id}", tag = "catalog", params(("id" = Uuid, Path)),
    responses(
        (status = 200, description = "The product", body = ProductResponse),
        (status = 404, description = "No such product", body = Problem, content_type = "application/problem+json"),
    ))]
async fn get_product(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<axum::Json<ProductResponse>, ApiError> {
    Ok(axum::Json(ProductResponse { product: state.catalog.product(id, state.clock.today_in_vietnam()).await? }))
}

/// Changes the given fields of one of the caller's products.
#[utoipa::path(patch, path = "/api/products/{id}", tag = "catalog", security(("bearer" = [])), params(("id" = Uuid, Path)),
    request_body = ProductPatch,
    responses(
        (status = 200, description = "Updated", body = ProductResponse),
        (status = 403, description = "Not the owner", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such product", body = Problem, content_type = "application/problem+json"),
    ))]
async fn patch_product(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(patch): ApiJson<ProductPatch>,
) -> Result<axum::Json<ProductResponse>, ApiError> {
    let seller = seller_of(&auth)?;
    let record = state.catalog.record(id).await?;
    if record.seller_id != seller {
        return Err(ApiError::Forbidden("this product belongs to another seller"));
    }
    let product =
        state.catalog.update_product(&record, &patch, &state.clock.rfc3339(), state.clock.today_in_vietnam()).await?;
    // Live shows that pin it show the new price and stock.
    if let Err(e) = state.shows.product_changed(seller, id).await {
        tracing::warn!(product = %id, error = %e, "pinned product not refreshed");
    }
    Ok(axum::Json(ProductResponse { product }))
}

/// A QR code (SVG) leading to the product's public traceability page.
#[utoipa::path(get, path = "/api/products/{id}/qr.svg", tag = "catalog", params(("id" = Uuid, Path)),
    responses(
        (status = 200, description = "The QR code", content_type = "image/svg+xml", body = String),
        (status = 404, description = "No such product", body = Problem, content_type = "application/problem+json"),
    ))]
async fn product_qr(State(state): State<AppState>, ApiPath(id): ApiPath<Uuid>) -> Result<impl IntoResponse, ApiError> {
    let product = state.catalog.product(id, state.clock.today_in_vietnam()).await?;
    let url = format!("{}/t/{}", state.config.public_base_url(), product.trace_code);
    let code = qrcode::QrCode::with_error_correction_level(url.as_bytes(), qrcode::EcLevel::M)
        .map_err(|e| ApiError::Internal(format!("qr: {e}")))?;
    let svg = code.render::<qrcode::render::svg::Color<'_>>().min_dimensions(240, 240).quiet_zone(true).build();
    Ok(([(header::CONTENT_TYPE, "image/svg+xml"), (header::CACHE_CONTROL, "public, max-age=86400")], svg))
}

/// A seller's public profile.
#[utoipa::path(get, path = "/api/sellers/{id}", tag = "catalog", params(("id" = Uuid, Path)),
    responses(
        (status = 200, description = "The seller", body = SellerResponse),
        (status = 404, description = "No such seller", body = Problem, content_type = "application/problem+json"),
    ))]
async fn get_seller(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<axum::Json<SellerResponse>, ApiError> {
    let seller = state.catalog.seller(id).await.map_err(|e| match e {
        crate::catalog::CatalogError::NotFound => ApiError::NotFound("no such seller"),
        other => other.into(),
    })?;
    Ok(axum::Json(SellerResponse { seller }))
}

/// Replaces the caller's seller profile.
#[utoipa::path(put, path = "/api/seller/profile", tag = "catalog", security(("bearer" = [])), request_body = SellerProfileInput,
    responses(
        (status = 200, description = "Saved", body = SellerResponse),
        (status = 403, description = "Not a seller", body = Problem, content_type = "application/problem+json"),
    ))]
async fn put_profile(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(input): ApiJson<SellerProfileInput>,
) -> Result<axum::Json<SellerResponse>, ApiError> {
    let seller = seller_of(&auth)?;
    let profile = SellerProfile::parse(seller, auth.0.sub, &input)?;
    state.catalog.put_seller(&profile).await?;
    Ok(axum::Json(SellerResponse { seller: profile }))
}
