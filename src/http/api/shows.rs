//! `/api/shows*`: live shows over REST.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::error::{ApiError, Problem};
use super::extract::{ApiJson, ApiPath, ApiQuery, Auth, OptionalJson};
use crate::auth::Role;
use crate::chat::ModerationEntry;
use crate::domain::show::{Show, ShowInput, ShowStatus, ShowSummary};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_show, list_shows))
        .routes(routes!(get_show))
        .routes(routes!(my_shows))
        .routes(routes!(start_show))
        .routes(routes!(end_show))
        .routes(routes!(show_summary))
        .routes(routes!(moderation_log))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ShowResponse {
    pub show: Show,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ShowList {
    pub items: Vec<Show>,
}

/// `POST /api/shows/{id}/end`'s optional body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndInput {
    /// Shown to the viewers (at most 300 characters).
    #[serde(default)]
    #[schema(max_length = 300)]
    pub reason: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SummaryResponse {
    pub summary: ShowSummary,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ModerationLog {
    pub items: Vec<ModerationEntry>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// `live`, `scheduled` or `ended`; default: live and upcoming.
    pub status: Option<ShowStatus>,
    /// 1 to 100, default 50.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<usize>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MyShowList {
    pub items: Vec<Show>,
    /// Pass as `cursor` for the next page; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<Uuid>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MyShowsParams {
    /// The `next_cursor` of the page before.
    pub cursor: Option<Uuid>,
    /// 1 to 100, default 50.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<usize>,
}

/// Announces a show of the caller's products. With `fair_id` and `scheduled_at` it joins the
/// fair's agenda: only with an approved booth in the fair (409), within its opening hours (400 on
/// `scheduled_at`), never overlapping another of the seller's shows (409 naming it).
#[utoipa::path(post, path = "/api/shows", tag = "shows", security(("bearer" = [])), request_body = ShowInput,
    responses(
        (status = 201, description = "Created, scheduled", body = ShowResponse),
        (status = 403, description = "Not a seller", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "No approved booth in the fair, the fair takes no shows, or the slot overlaps another show", body = Problem, content_type = "application/problem+json"),
    ))]
async fn create_show(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(input): ApiJson<ShowInput>,
) -> Result<impl IntoResponse, ApiError> {
    auth.require(&[Role::Seller])?;
    let seller = auth.0.seller_id.ok_or(ApiError::Forbidden("this account has no seller profile"))?;
    let show = state.fairs.create_show(seller, &input).await?;
    Ok((StatusCode::CREATED, axum::Json(ShowResponse { show })))
}

/// Live and upcoming shows (or those of one status).
#[utoipa::path(get, path = "/api/shows", tag = "shows", params(ListParams),
    responses((status = 200, description = "Shows", body = ShowList)))]
async fn list_shows(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<axum::Json<ShowList>, ApiError> {
    let limit = params.limit.unwrap_or(50);
    if !(1..=100).contains(&limit) {
        return Err(crate::domain::FieldErrors::single("limit", "must be from 1 to 100").into());
    }
    let items = match params.status {
        Some(status) => state.shows.list(status, limit).await?,
        None => {
            let mut items = state.shows.list(ShowStatus::Live, limit).await?;
            items.extend(state.shows.list(ShowStatus::Scheduled, limit.saturating_sub(items.len())).await?);
            items
        }
    };
    Ok(axum::Json(ShowList { items }))
}

#[utoipa::path(get, path = "/api/shows/{id}", tag = "shows", params(("id" = Uuid, Path)),
    responses(
        (status = 200, description = "The show", body = ShowResponse),
        (status = 404, description = "No such show", body = Problem, content_type = "application/problem+json"),
    ))]
async fn get_show(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<axum::Json<ShowResponse>, ApiError> {
    Ok(axum::Json(ShowResponse { show: state.shows.get(id).await? }))
}

/// Goes live: `scheduled → live`.
#[utoipa::path(post, path = "/api/shows/{id}/start", tag = "shows", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses(
        (status = 200, description = "Live", body = ShowResponse),
        (status = 403, description = "Not the show's seller", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such show", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not scheduled", body = Problem, content_type = "application/problem+json"),
    ))]
async fn start_show(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<axum::Json<ShowResponse>, ApiError> {
    let show = state.shows.transition(&auth.user(), id, ShowStatus::Live, None).await?;
    state.fairs.show_changed(&show).await?;
    Ok(axum::Json(ShowResponse { show }))
}

/// Ends the show: `live → ended`; the summary is computed and the replay link kept. Its seller,
/// the organiser of its fair, or an admin (the kill switch: with `reason`, the show ends at once,
/// its live offers end, and its viewers get `status {status: "ended", reason, by}`).
#[utoipa::path(post, path = "/api/shows/{id}/end", tag = "shows", security(("bearer" = [])), params(("id" = Uuid, Path)),
    request_body(content = Option<EndInput>, description = "Optional: why the show is stopped"),
    responses(
        (status = 200, description = "Ended", body = ShowResponse),
        (status = 403, description = "Not the show's seller, its fair's organiser or an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such show", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not live", body = Problem, content_type = "application/problem+json"),
    ))]
async fn end_show(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<Uuid>,
    OptionalJson(body): OptionalJson<EndInput>,
) -> Result<axum::Json<ShowResponse>, ApiError> {
    let reason = body.as_ref().and_then(|b| b.reason.as_deref());
    let show = state.shows.transition(&auth.user(), id, ShowStatus::Ended, reason).await?;
    // Offers end with their show; what they did not sell goes back to stock.
    state.sales.close_show_offers(show.seller_id, show.id).await?;
    // With the offers closed, the summary is final.
    let show = state.shows.refresh_summary(id).await?;
    state.fairs.show_changed(&show).await?;
    Ok(axum::Json(ShowResponse { show }))
}

/// The caller's own shows in every status (scheduled, live and ended), oldest first.
#[utoipa::path(get, path = "/api/seller/shows", tag = "shows", security(("bearer" = [])), params(MyShowsParams),
    responses(
        (status = 200, description = "The seller's shows", body = MyShowList),
        (status = 403, description = "Not a seller", body = Problem, content_type = "application/problem+json"),
    ))]
async fn my_shows(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(params): ApiQuery<MyShowsParams>,
) -> Result<axum::Json<MyShowList>, ApiError> {
    auth.require(&[Role::Seller])?;
    let seller = auth.0.seller_id.ok_or(ApiError::Forbidden("this account has no seller profile"))?;
    let limit = params.limit.unwrap_or(50);
    if !(1..=100).contains(&limit) {
        return Err(crate::domain::FieldErrors::single("limit", "must be from 1 to 100").into());
    }
    let (items, next_cursor) = state.shows.list_of_seller(seller, params.cursor, limit).await?;
    Ok(axum::Json(MyShowList { items, next_cursor }))
}

/// Duration, peak and unique viewers, chat messages and hearts; the seller, moderators and
/// admins.
#[utoipa::path(get, path = "/api/shows/{id}/summary", tag = "shows", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses(
        (status = 200, description = "The figures so far", body = SummaryResponse),
        (status = 403, description = "Not the seller, a moderator or an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such show", body = Problem, content_type = "application/problem+json"),
    ))]
async fn show_summary(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<axum::Json<SummaryResponse>, ApiError> {
    let show = state.shows.get(id).await?;
    let user = auth.user();
    let allowed = user.role == Role::Admin || (user.role != Role::Guest && show.is_moderator(user.id, user.seller_id));
    if !allowed {
        return Err(ApiError::Forbidden("only the show's seller, moderators and admins see its figures"));
    }
    let summary = state.shows.summary_of(&show).await?;
    Ok(axum::Json(SummaryResponse { summary }))
}

/// Every moderation action with who took it; moderators only.
#[utoipa::path(get, path = "/api/shows/{id}/moderation", tag = "shows", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses(
        (status = 200, description = "The log, oldest first", body = ModerationLog),
        (status = 403, description = "Not a moderator", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such show", body = Problem, content_type = "application/problem+json"),
    ))]
async fn moderation_log(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<axum::Json<ModerationLog>, ApiError> {
    let items = state.shows.moderation_log(id, &auth.user()).await?;
    Ok(axum::Json(ModerationLog { items }))
}
