//! `/api/fairs*`, `/api/booths*`, follows: virtual fairs over REST (PROTOCOL.md §3).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::csv_out;
use super::error::{ApiError, Problem};
use super::extract::{ApiJson, ApiPath, ApiQuery, Auth, MaybeAuth};
use crate::auth::Role;
use crate::domain::fair::{Booth, BoothInput, BoothPatch, BoothStatus, Fair, FairInput, FairPatch, FairStatus};
use crate::domain::inquiry::{Inquiry, InquiryInput, QuoteInput};
use crate::domain::show::Show;
use crate::fairs::FairView;
use crate::fairs::stats::FairStats;
use crate::state::AppState;
use axum::response::Response;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_fair, list_fairs))
        .routes(routes!(get_fair, patch_fair))
        .routes(routes!(publish_fair))
        .routes(routes!(close_fair))
        .routes(routes!(apply_booth, list_booths))
        .routes(routes!(get_booth, patch_booth))
        .routes(routes!(approve_booth))
        .routes(routes!(reject_booth))
        .routes(routes!(my_booths))
        .routes(routes!(announce))
        .routes(routes!(follow, unfollow))
        .routes(routes!(my_follows))
        .routes(routes!(inquire))
        .routes(routes!(quote))
        .routes(routes!(accept))
        .routes(routes!(decline))
        .routes(routes!(my_inquiries))
        .routes(routes!(fair_inquiries))
        .routes(routes!(stats))
        .routes(routes!(report))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InquiryResponse {
    pub inquiry: Inquiry,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InquiryList {
    pub items: Vec<Inquiry>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FormatParams {
    /// `csv` for a spreadsheet; `json` (the default) otherwise.
    #[param(schema_with = csv_or_json)]
    pub format: Option<String>,
}

fn csv_or_json() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::Type::String)
        .enum_values(Some(["json", "csv"]))
        .build()
}

/// Whether `format` asks for CSV (`json` or nothing: no; anything else: a 400).
fn wants_csv(format: Option<&str>) -> Result<bool, ApiError> {
    match format {
        None | Some("json") => Ok(false),
        Some("csv") => Ok(true),
        Some(_) => Err(crate::domain::FieldErrors::single("format", "must be json or csv").into()),
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FairResponse {
    pub fair: Fair,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FairList {
    pub items: Vec<Fair>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BoothResponse {
    pub booth: Booth,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BoothList {
    pub items: Vec<Booth>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FollowResponse {
    pub following: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FollowedShows {
    pub items: Vec<Show>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnnouncementInput {
    /// At most 500 characters (as a show's); an empty text clears the announcement.
    #[schema(max_length = 500)]
    pub text: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Announcement {
    /// The announcement now on the lobby, or null when cleared.
    pub text: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AnnouncementResponse {
    pub announcement: Announcement,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FairListParams {
    /// `published`, `open`, `closed`, or `draft` (the caller's own; an admin's: all); default:
    /// open and published.
    pub status: Option<FairStatus>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BoothListParams {
    /// `approved` for anyone; `pending` and `rejected` for the fair's organiser. Default:
    /// approved (the organiser: all).
    pub status: Option<BoothStatus>,
}

/// Creates a fair (a draft); organisers and admins.
#[utoipa::path(post, path = "/api/fairs", tag = "fairs", security(("bearer" = [])), request_body = FairInput,
    responses(
        (status = 201, description = "Created as a draft", body = FairResponse),
        (status = 403, description = "Not an organiser", body = Problem, content_type = "application/problem+json"),
    ))]
async fn create_fair(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(input): ApiJson<FairInput>,
) -> Result<impl IntoResponse, ApiError> {
    let fair = state.fairs.create(&auth.user(), &input).await?;
    Ok((StatusCode::CREATED, axum::Json(FairResponse { fair })))
}

/// Fairs open now and upcoming (or those of one status); drafts only to their organiser.
#[utoipa::path(get, path = "/api/fairs", tag = "fairs", params(FairListParams), security((), ("bearer" = [])),
    responses((status = 200, description = "Fairs", body = FairList)))]
async fn list_fairs(
    State(state): State<AppState>,
    MaybeAuth(user): MaybeAuth,
    ApiQuery(params): ApiQuery<FairListParams>,
) -> Result<axum::Json<FairList>, ApiError> {
    Ok(axum::Json(FairList { items: state.fairs.list(params.status, user.as_ref()).await? }))
}

/// The fair with its approved booths and its agenda (shows by `scheduled_at`).
#[utoipa::path(get, path = "/api/fairs/{id}", tag = "fairs", params(("id" = Uuid, Path)), security((), ("bearer" = [])),
    responses(
        (status = 200, description = "The fair", body = FairView),
        (status = 404, description = "No such fair (or a draft of someone else)", body = Problem, content_type = "application/problem+json"),
    ))]
async fn get_fair(
    State(state): State<AppState>,
    MaybeAuth(user): MaybeAuth,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<axum::Json<FairView>, ApiError> {
    Ok(axum::Json(state.fairs.view(id, user.as_ref()).await?))
}

/// Changes a fair's details; its times only before it opens.
#[utoipa::path(patch, path = "/api/fairs/{id}", tag = "fairs", security(("bearer" = [])), params(("id" = Uuid, Path)),
    request_body = FairPatch,
    responses(
        (status = 200, description = "Changed", body = FairResponse),
        (status = 403, description = "Not its organiser", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such fair", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The fair has closed", body = Problem, content_type = "application/problem+json"),
    ))]
async fn patch_fair(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(patch): ApiJson<FairPatch>,
) -> Result<axum::Json<FairResponse>, ApiError> {
    Ok(axum::Json(FairResponse { fair: state.fairs.patch(&auth.user(), id, &patch).await? }))
}

/// `draft → published`; it opens by itself at `opens_at` (at once when that has passed).
#[utoipa::path(post, path = "/api/fairs/{id}/publish", tag = "fairs", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses(
        (status = 200, description = "Published (or open)", body = FairResponse),
        (status = 403, description = "Not its organiser", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such fair", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not a draft, or its closing time has passed", body = Problem, content_type = "application/problem+json"),
    ))]
async fn publish_fair(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<axum::Json<FairResponse>, ApiError> {
    Ok(axum::Json(FairResponse { fair: state.fairs.publish(&auth.user(), id).await? }))
}

/// Closes a published or open fair early.
#[utoipa::path(post, path = "/api/fairs/{id}/close", tag = "fairs", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses(
        (status = 200, description = "Closed", body = FairResponse),
        (status = 403, description = "Not its organiser", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such fair", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A draft, or closed already", body = Problem, content_type = "application/problem+json"),
    ))]
async fn close_fair(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<axum::Json<FairResponse>, ApiError> {
    Ok(axum::Json(FairResponse { fair: state.fairs.close(&auth.user(), id).await? }))
}

/// A seller applies for a booth (`pending`); the fair's organiser adds one with `seller_id`
/// (`approved` at once). One booth per seller per fair.
#[utoipa::path(post, path = "/api/fairs/{id}/booths", tag = "fairs", security(("bearer" = [])), params(("id" = Uuid, Path)),
    request_body = BoothInput,
    responses(
        (status = 201, description = "Applied (or added)", body = BoothResponse),
        (status = 403, description = "Neither a seller nor the fair's organiser", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such fair", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The seller has a booth in this fair already, or the fair has closed", body = Problem, content_type = "application/problem+json"),
    ))]
async fn apply_booth(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(input): ApiJson<BoothInput>,
) -> Result<impl IntoResponse, ApiError> {
    let booth = state.fairs.apply(&auth.user(), id, &input).await?;
    Ok((StatusCode::CREATED, axum::Json(BoothResponse { booth })))
}

/// A fair's booths: approved ones for anyone, every one for its organiser.
#[utoipa::path(get, path = "/api/fairs/{id}/booths", tag = "fairs", params(("id" = Uuid, Path), BoothListParams),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "Booths", body = BoothList),
        (status = 403, description = "Asked for booths that are not approved without being the organiser", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such fair", body = Problem, content_type = "application/problem+json"),
    ))]
async fn list_booths(
    State(state): State<AppState>,
    MaybeAuth(user): MaybeAuth,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(params): ApiQuery<BoothListParams>,
) -> Result<axum::Json<BoothList>, ApiError> {
    Ok(axum::Json(BoothList { items: state.fairs.list_booths(id, params.status, user.as_ref()).await? }))
}

/// A booth (one not approved: to its seller and the fair's organiser only).
#[utoipa::path(get, path = "/api/booths/{id}", tag = "fairs", params(("id" = Uuid, Path)), security((), ("bearer" = [])),
    responses(
        (status = 200, description = "The booth", body = BoothResponse),
        (status = 404, description = "No such booth", body = Problem, content_type = "application/problem+json"),
    ))]
async fn get_booth(
    State(state): State<AppState>,
    MaybeAuth(user): MaybeAuth,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<axum::Json<BoothResponse>, ApiError> {
    Ok(axum::Json(BoothResponse { booth: state.fairs.booth_for(id, user.as_ref()).await? }))
}

/// The booth's seller changes its title, description and featured products (their own).
#[utoipa::path(patch, path = "/api/booths/{id}", tag = "fairs", security(("bearer" = [])), params(("id" = Uuid, Path)),
    request_body = BoothPatch,
    responses(
        (status = 200, description = "Changed", body = BoothResponse),
        (status = 403, description = "Not the booth's seller", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such booth", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The fair has closed", body = Problem, content_type = "application/problem+json"),
    ))]
async fn patch_booth(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(patch): ApiJson<BoothPatch>,
) -> Result<axum::Json<BoothResponse>, ApiError> {
    Ok(axum::Json(BoothResponse { booth: state.fairs.patch_booth(&auth.user(), id, &patch).await? }))
}

/// The fair's organiser approves a booth; the seller gets `notify {kind: "booth.approved"}`.
#[utoipa::path(post, path = "/api/booths/{id}/approve", tag = "fairs", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses(
        (status = 200, description = "Approved", body = BoothResponse),
        (status = 403, description = "Not the fair's organiser", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such booth", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Approved already, or the fair has closed", body = Problem, content_type = "application/problem+json"),
    ))]
async fn approve_booth(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<axum::Json<BoothResponse>, ApiError> {
    Ok(axum::Json(BoothResponse { booth: state.fairs.decide(&auth.user(), id, BoothStatus::Approved).await? }))
}

/// The fair's organiser rejects a booth (also one approved before); the seller is told.
#[utoipa::path(post, path = "/api/booths/{id}/reject", tag = "fairs", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses(
        (status = 200, description = "Rejected", body = BoothResponse),
        (status = 403, description = "Not the fair's organiser", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such booth", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Rejected already, or the fair has closed", body = Problem, content_type = "application/problem+json"),
    ))]
async fn reject_booth(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<axum::Json<BoothResponse>, ApiError> {
    Ok(axum::Json(BoothResponse { booth: state.fairs.decide(&auth.user(), id, BoothStatus::Rejected).await? }))
}

/// The caller's booths in every fair (sellers).
#[utoipa::path(get, path = "/api/seller/booths", tag = "fairs", security(("bearer" = [])),
    responses(
        (status = 200, description = "The seller's booths", body = BoothList),
        (status = 403, description = "Not a seller", body = Problem, content_type = "application/problem+json"),
    ))]
async fn my_booths(State(state): State<AppState>, auth: Auth) -> Result<axum::Json<BoothList>, ApiError> {
    auth.require(&[Role::Seller])?;
    let seller = auth.0.seller_id.ok_or(ApiError::Forbidden("this account has no seller profile"))?;
    Ok(axum::Json(BoothList { items: state.fairs.booths_of_seller(seller).await? }))
}

/// Posts the lobby's announcement (sent on `fair:<id>`); an empty text clears it.
#[utoipa::path(post, path = "/api/fairs/{id}/announcements", tag = "fairs", security(("bearer" = [])), params(("id" = Uuid, Path)),
    request_body = AnnouncementInput,
    responses(
        (status = 201, description = "Posted", body = AnnouncementResponse),
        (status = 403, description = "Not its organiser", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such fair", body = Problem, content_type = "application/problem+json"),
    ))]
async fn announce(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(input): ApiJson<AnnouncementInput>,
) -> Result<impl IntoResponse, ApiError> {
    let text = state.fairs.announce(&auth.user(), id, &input.text).await?;
    Ok((StatusCode::CREATED, axum::Json(AnnouncementResponse { announcement: Announcement { text } })))
}

/// Follows a show: `notify {kind: "show.soon"}` before it starts and `show.live` when it does.
/// Any signed-in account but guests.
#[utoipa::path(post, path = "/api/shows/{id}/follow", tag = "shows", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses(
        (status = 200, description = "Following", body = FollowResponse),
        (status = 403, description = "A guest", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such show", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Following too many shows", body = Problem, content_type = "application/problem+json"),
    ))]
async fn follow(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<axum::Json<FollowResponse>, ApiError> {
    Ok(axum::Json(FollowResponse { following: state.fairs.follow(&auth.user(), id, true).await? }))
}

/// Stops following a show.
#[utoipa::path(delete, path = "/api/shows/{id}/follow", tag = "shows", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses(
        (status = 200, description = "Not following", body = FollowResponse),
        (status = 403, description = "A guest", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such show", body = Problem, content_type = "application/problem+json"),
    ))]
async fn unfollow(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<axum::Json<FollowResponse>, ApiError> {
    Ok(axum::Json(FollowResponse { following: state.fairs.follow(&auth.user(), id, false).await? }))
}

/// The shows the caller follows.
#[utoipa::path(get, path = "/api/me/follows", tag = "shows", security(("bearer" = [])),
    responses((status = 200, description = "Followed shows", body = FollowedShows)))]
async fn my_follows(State(state): State<AppState>, auth: Auth) -> Result<axum::Json<FollowedShows>, ApiError> {
    Ok(axum::Json(FollowedShows { items: state.fairs.followed(&auth.user()).await? }))
}

/// A buyer asks a booth for a quote ("kết nối cung cầu"); the seller gets `notify {kind: "inquiry"}`.
#[utoipa::path(post, path = "/api/booths/{id}/inquiries", tag = "fairs", security(("bearer" = [])), params(("id" = Uuid, Path)),
    request_body = InquiryInput,
    responses(
        (status = 201, description = "Sent", body = InquiryResponse),
        (status = 403, description = "Not a buyer", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such booth", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The fair takes no inquiries (a draft, or closed)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many inquiries in the last hour", body = Problem, content_type = "application/problem+json"),
    ))]
async fn inquire(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(input): ApiJson<InquiryInput>,
) -> Result<impl IntoResponse, ApiError> {
    let inquiry = state.fairs.inquire(&auth.user(), id, &input).await?;
    Ok((StatusCode::CREATED, axum::Json(InquiryResponse { inquiry })))
}

/// The booth's seller quotes (once); the buyer gets `notify {kind: "quote"}`.
#[utoipa::path(post, path = "/api/inquiries/{id}/quote", tag = "fairs", security(("bearer" = [])), params(("id" = Uuid, Path)),
    request_body = QuoteInput,
    responses(
        (status = 200, description = "Quoted", body = InquiryResponse),
        (status = 403, description = "Not the booth's seller", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such inquiry", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Quoted already, or closed", body = Problem, content_type = "application/problem+json"),
    ))]
async fn quote(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(input): ApiJson<QuoteInput>,
) -> Result<axum::Json<InquiryResponse>, ApiError> {
    Ok(axum::Json(InquiryResponse { inquiry: state.fairs.quote(&auth.user(), id, &input).await? }))
}

/// The buyer accepts the quote while it is valid; the seller gets `notify {kind: "inquiry.accepted"}`.
#[utoipa::path(post, path = "/api/inquiries/{id}/accept", tag = "fairs", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses(
        (status = 200, description = "Accepted", body = InquiryResponse),
        (status = 403, description = "Not the buyer who asked", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such inquiry", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "No quote yet, the quote expired, or closed", body = Problem, content_type = "application/problem+json"),
    ))]
async fn accept(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<axum::Json<InquiryResponse>, ApiError> {
    Ok(axum::Json(InquiryResponse { inquiry: state.fairs.accept(&auth.user(), id).await? }))
}

/// The buyer or the seller declines; the other side gets `notify {kind: "inquiry.declined"}`.
#[utoipa::path(post, path = "/api/inquiries/{id}/decline", tag = "fairs", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses(
        (status = 200, description = "Declined", body = InquiryResponse),
        (status = 403, description = "Neither the buyer nor the booth's seller", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such inquiry", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Closed already", body = Problem, content_type = "application/problem+json"),
    ))]
async fn decline(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<axum::Json<InquiryResponse>, ApiError> {
    Ok(axum::Json(InquiryResponse { inquiry: state.fairs.decline(&auth.user(), id).await? }))
}

/// The caller's inquiries, newest first: a buyer's sent, a seller's received.
#[utoipa::path(get, path = "/api/me/inquiries", tag = "fairs", security(("bearer" = [])),
    responses(
        (status = 200, description = "Inquiries", body = InquiryList),
        (status = 403, description = "Neither a buyer nor a seller", body = Problem, content_type = "application/problem+json"),
    ))]
async fn my_inquiries(State(state): State<AppState>, auth: Auth) -> Result<axum::Json<InquiryList>, ApiError> {
    Ok(axum::Json(InquiryList { items: state.fairs.my_inquiries(&auth.user()).await? }))
}

/// Every inquiry of the fair, newest first; `?format=csv` for a spreadsheet. Its organiser.
#[utoipa::path(get, path = "/api/fairs/{id}/inquiries", tag = "fairs", security(("bearer" = [])), params(("id" = Uuid, Path), FormatParams),
    responses(
        (status = 200, description = "Inquiries: JSON, or CSV with `format=csv`", content(
            (InquiryList = "application/json"),
            (String = "text/csv"),
        )),
        (status = 403, description = "Not its organiser", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such fair", body = Problem, content_type = "application/problem+json"),
    ))]
async fn fair_inquiries(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(params): ApiQuery<FormatParams>,
) -> Result<Response, ApiError> {
    let csv = wants_csv(params.format.as_deref())?;
    let items = state.fairs.fair_inquiries(&auth.user(), id).await?;
    if !csv {
        return Ok(axum::Json(InquiryList { items }).into_response());
    }
    let header = [
        "inquiry_id",
        "created_at",
        "status",
        "booth_id",
        "seller",
        "buyer",
        "product_id",
        "quantity",
        "unit",
        "target_price",
        "deliver_by",
        "message",
        "quote_price",
        "quote_quantity",
        "quote_valid_until",
    ];
    let rows = items
        .iter()
        .map(|i| {
            vec![
                i.id.to_string(),
                i.created_at.clone(),
                i.status.as_str().to_owned(),
                i.booth_id.to_string(),
                csv_out::text(&i.seller_name),
                csv_out::text(&i.buyer_name),
                i.product_id.map(|p| p.to_string()).unwrap_or_default(),
                i.quantity.to_string(),
                csv_out::text(&i.unit),
                i.target_price.map(|p| p.to_string()).unwrap_or_default(),
                i.deliver_by.map(|d| d.to_string()).unwrap_or_default(),
                csv_out::text(&i.message),
                i.quote.as_ref().map(|q| q.price.to_string()).unwrap_or_default(),
                i.quote.as_ref().map(|q| q.quantity.to_string()).unwrap_or_default(),
                i.quote.as_ref().map(|q| q.valid_until.clone()).unwrap_or_default(),
            ]
        })
        .collect();
    csv_out::attachment("inquiries.csv", &header, rows)
}

/// The control room's live figures: visitors, shows live and their viewers, orders and revenue
/// by booth, province, OCOP group and stars, inquiries, and the series sampled once a minute.
#[utoipa::path(get, path = "/api/fairs/{id}/stats", tag = "fairs", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses(
        (status = 200, description = "The figures now", body = FairStats),
        (status = 403, description = "Not its organiser", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such fair", body = Problem, content_type = "application/problem+json"),
    ))]
async fn stats(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<axum::Json<FairStats>, ApiError> {
    Ok(axum::Json(state.fairs.stats(&auth.user(), id).await?))
}

/// The same figures for the whole fair; `?format=csv` gives one row per booth.
#[utoipa::path(get, path = "/api/fairs/{id}/report", tag = "fairs", security(("bearer" = [])), params(("id" = Uuid, Path), FormatParams),
    responses(
        (status = 200, description = "The report: JSON, or CSV (one row per booth) with `format=csv`", content(
            (FairStats = "application/json"),
            (String = "text/csv"),
        )),
        (status = 403, description = "Not its organiser", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such fair", body = Problem, content_type = "application/problem+json"),
    ))]
async fn report(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(params): ApiQuery<FormatParams>,
) -> Result<Response, ApiError> {
    let csv = wants_csv(params.format.as_deref())?;
    let report = state.fairs.stats(&auth.user(), id).await?;
    if !csv {
        return Ok(axum::Json(report).into_response());
    }
    let header = [
        "booth_id",
        "booth",
        "seller",
        "province",
        "shows",
        "orders",
        "units",
        "revenue",
        "unique_visitors",
        "time_spent_s",
        "inquiries",
    ];
    let rows = report
        .by_booth
        .iter()
        .map(|b| {
            vec![
                b.booth_id.to_string(),
                csv_out::text(&b.title),
                csv_out::text(&b.seller_name),
                csv_out::text(&b.province),
                b.shows.to_string(),
                b.orders.to_string(),
                b.units.to_string(),
                b.revenue.to_string(),
                b.unique_visitors.to_string(),
                b.time_spent_s.to_string(),
                b.inquiries.to_string(),
            ]
        })
        .collect();
    csv_out::attachment("report.csv", &header, rows)
}
