//! `/api/me/orders*`, `/api/seller/orders*`: orders over REST, with CSV export for sellers.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::error::{ApiError, Problem};
use super::extract::{ApiJson, ApiPath, ApiQuery, Auth};
use crate::auth::Role;
use crate::domain::account::DeliveryContact;
use crate::engine::sales::OrderAction;
use crate::sales::Order;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(my_orders))
        .routes(routes!(cancel_my_order))
        .routes(routes!(set_order_delivery))
        .routes(routes!(seller_orders))
        .routes(routes!(confirm_order))
        .routes(routes!(cancel_order))
        .routes(routes!(ship_order))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrderList {
    #[schema(value_type = Vec<Object>)]
    pub items: Vec<Order>,
    /// Pass as `after` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrderResponse {
    #[schema(value_type = Object)]
    pub order: Order,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SellerOrderParams {
    /// `csv` for a spreadsheet; `json` (the default) otherwise.
    #[param(schema_with = order_format)]
    pub format: Option<String>,
    /// From `next_cursor`.
    pub after: Option<Uuid>,
    /// 1 to 1000, default 200.
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<usize>,
}

fn order_format() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::Type::String)
        .enum_values(Some(["json", "csv"]))
        .build()
}

/// The caller's orders, oldest first.
#[utoipa::path(get, path = "/api/me/orders", tag = "orders", security(("bearer" = [])),
    responses(
        (status = 200, description = "Orders", body = OrderList),
        (status = 403, description = "Not a buyer", body = Problem, content_type = "application/problem+json"),
    ))]
async fn my_orders(State(state): State<AppState>, auth: Auth) -> Result<axum::Json<OrderList>, ApiError> {
    auth.require(&[Role::Buyer])?;
    let items = state.sales.buyer_orders(auth.0.sub, 1000).await?;
    Ok(axum::Json(OrderList { items, next_cursor: None }))
}

/// Cancels one of the caller's orders while it is still placed; the units return to stock.
#[utoipa::path(post, path = "/api/me/orders/{id}/cancel", tag = "orders", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses(
        (status = 200, description = "Cancelled", body = OrderResponse),
        (status = 403, description = "Not a buyer", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such order of yours", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "No longer cancellable", body = Problem, content_type = "application/problem+json"),
    ))]
async fn cancel_my_order(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<axum::Json<OrderResponse>, ApiError> {
    auth.require(&[Role::Buyer])?;
    let order = state.sales.order_act(&auth.user(), id, OrderAction::Cancel { by_seller: false }).await?;
    Ok(axum::Json(OrderResponse { order }))
}

/// Gives one of the caller's placed orders its delivery contact (an order placed without an
/// address waits for this; a placed order's contact may also be corrected). The seller sees the
/// change at once on `seller:<id>`.
#[utoipa::path(put, path = "/api/me/orders/{id}/delivery", tag = "orders", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = DeliveryContact,
    responses(
        (status = 200, description = "The order with its contact", body = OrderResponse),
        (status = 400, description = "A field is invalid", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a buyer", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such order of yours", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The order is no longer placed", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Storage unavailable; safe to retry", body = Problem, content_type = "application/problem+json"),
    ))]
async fn set_order_delivery(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(req): ApiJson<DeliveryContact>,
) -> Result<axum::Json<OrderResponse>, ApiError> {
    auth.require(&[Role::Buyer])?;
    let contact = DeliveryContact::parse(&req)?;
    let order = state.sales.order_delivery(&auth.user(), id, &contact).await?;
    Ok(axum::Json(OrderResponse { order }))
}

/// The caller's (seller's) orders, oldest first; `?format=csv` for a spreadsheet.
#[utoipa::path(get, path = "/api/seller/orders", tag = "orders", security(("bearer" = [])), params(SellerOrderParams),
    responses(
        (status = 200, description = "Orders: JSON, or CSV (one row per order item) with `format=csv`", content(
            (OrderList = "application/json"),
            (String = "text/csv"),
        )),
        (status = 403, description = "Not a seller", body = Problem, content_type = "application/problem+json"),
    ))]
async fn seller_orders(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(params): ApiQuery<SellerOrderParams>,
) -> Result<Response, ApiError> {
    auth.require(&[Role::Seller])?;
    let seller = auth.0.seller_id.ok_or(ApiError::Forbidden("this account has no seller profile"))?;
    let limit = params.limit.unwrap_or(200);
    if !(1..=1000).contains(&limit) {
        return Err(crate::domain::FieldErrors::single("limit", "must be from 1 to 1000").into());
    }
    let items = state.sales.seller_orders(seller, params.after, limit).await?;
    let next_cursor = (items.len() == limit).then(|| items.last().map(|o| o.id.to_string()).unwrap_or_default());
    match params.format.as_deref() {
        None | Some("json") => Ok(axum::Json(OrderList { items, next_cursor }).into_response()),
        Some("csv") => {
            let csv = to_csv(&items).map_err(|e| ApiError::Internal(e.to_string()))?;
            Ok((
                [
                    (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                    (header::CONTENT_DISPOSITION, "attachment; filename=\"orders.csv\""),
                ],
                csv,
            )
                .into_response())
        }
        Some(_) => Err(crate::domain::FieldErrors::single("format", "must be json or csv").into()),
    }
}

/// One row per order item; a spreadsheet opens it as UTF-8 thanks to the byte-order mark, and
/// typed text never as a formula (`csv_out::text`).
fn to_csv(orders: &[Order]) -> Result<String, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "order_id",
        "created_at",
        "status",
        "source",
        "show_id",
        "offer_id",
        "product_id",
        "product",
        "qty",
        "unit_price",
        "total",
        "buyer_id",
        "recipient",
        "phone",
        "address",
        "needs_address",
    ])?;
    for o in orders {
        for item in &o.items {
            w.write_record([
                o.id.to_string(),
                o.created_at.clone(),
                o.status.clone(),
                o.source.clone(),
                o.show_id.to_string(),
                o.offer_id.map(|id| id.to_string()).unwrap_or_default(),
                item.product_id.to_string(),
                super::csv_out::text(&item.name),
                item.qty.to_string(),
                item.unit_price.to_string(),
                o.total.to_string(),
                o.buyer_id.to_string(),
                super::csv_out::text(&o.delivery.name),
                o.delivery.phone.clone().unwrap_or_default(),
                super::csv_out::text(o.delivery.address.as_deref().unwrap_or_default()),
                o.needs_address.to_string(),
            ])?;
        }
    }
    let bytes = w.into_inner().map_err(|e| e.into_error())?;
    Ok(format!("\u{feff}{}", String::from_utf8_lossy(&bytes)))
}

async fn seller_act(
    state: &AppState,
    auth: &Auth,
    id: Uuid,
    action: OrderAction,
) -> Result<axum::Json<OrderResponse>, ApiError> {
    auth.require(&[Role::Seller])?;
    let order = state.sales.order_act(&auth.user(), id, action).await?;
    Ok(axum::Json(OrderResponse { order }))
}

/// Confirms a placed order.
#[utoipa::path(post, path = "/api/seller/orders/{id}/confirm", tag = "orders", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses(
        (status = 200, description = "Confirmed", body = OrderResponse),
        (status = 403, description = "Not the seller", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such order", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not placed", body = Problem, content_type = "application/problem+json"),
    ))]
async fn confirm_order(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<axum::Json<OrderResponse>, ApiError> {
    seller_act(&state, &auth, id, OrderAction::Confirm).await
}

/// Cancels a placed or confirmed order; the units return to stock.
#[utoipa::path(post, path = "/api/seller/orders/{id}/cancel", tag = "orders", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses(
        (status = 200, description = "Cancelled", body = OrderResponse),
        (status = 403, description = "Not the seller", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such order", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already shipped or cancelled", body = Problem, content_type = "application/problem+json"),
    ))]
async fn cancel_order(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<axum::Json<OrderResponse>, ApiError> {
    seller_act(&state, &auth, id, OrderAction::Cancel { by_seller: true }).await
}

/// Marks a confirmed order shipped.
#[utoipa::path(post, path = "/api/seller/orders/{id}/ship", tag = "orders", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses(
        (status = 200, description = "Shipped", body = OrderResponse),
        (status = 403, description = "Not the seller", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such order", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not confirmed", body = Problem, content_type = "application/problem+json"),
    ))]
async fn ship_order(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<axum::Json<OrderResponse>, ApiError> {
    seller_act(&state, &auth, id, OrderAction::Ship).await
}
