//! One error type for the REST layer, rendered as `application/problem+json` (RFC 9457).

use std::collections::BTreeMap;

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::accounts::AccountError;
use crate::accounts::throttle::ThrottleError;
use crate::catalog::CatalogError;
use crate::domain::FieldErrors;
use crate::domain::fair::AgendaRule;
use crate::engine::EngineError;
use crate::fairs::FairError;
use crate::sales::SalesError;
use crate::shows::ShowError;

/// A problem details document.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// `urn:ocop-live:problem:<code>`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Field → message, for validation failures. Nested fields are dotted (`certificate.number`),
    /// list items indexed (`components[0].qty`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<BTreeMap<String, String>>,
}

/// Everything a REST handler can fail with. 4xx messages are shown; 5xx details are logged,
/// never sent.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("validation failed")]
    Validation(FieldErrors),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(&'static str),
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("{0}")]
    NotFound(&'static str),
    #[error("{0}")]
    Conflict(&'static str),
    #[error("{0}")]
    ConflictMessage(String),
    #[error("request body too large")]
    PayloadTooLarge,
    #[error("{0}")]
    UnsupportedMediaType(&'static str),
    /// A throttle refused the request; the client may retry after `retry_after_s` seconds.
    #[error("{detail}")]
    TooManyRequests { retry_after_s: u64, detail: &'static str },
    #[error("storage unavailable")]
    Unavailable,
    #[error("internal: {0}")]
    Internal(String),
}

impl ApiError {
    fn parts(&self) -> (StatusCode, &'static str, &'static str) {
        match self {
            ApiError::Validation(_) => (StatusCode::BAD_REQUEST, "validation", "Invalid request"),
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request", "Bad request"),
            ApiError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthenticated", "Not signed in"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden", "Not allowed"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found", "Not found"),
            ApiError::Conflict(_) | ApiError::ConflictMessage(_) => (StatusCode::CONFLICT, "conflict", "Conflict"),
            ApiError::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "too_large", "Request body too large"),
            ApiError::UnsupportedMediaType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", "Unsupported media type")
            }
            ApiError::TooManyRequests { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate_limited", "Too many requests"),
            ApiError::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "unavailable", "Service unavailable"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal", "Internal error"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, title) = self.parts();
        let (detail, errors) = match &self {
            ApiError::Validation(f) => ("one or more fields are invalid".to_owned(), Some(f.0.clone())),
            ApiError::Internal(why) => {
                tracing::error!(error = %why, "internal error");
                ("the server could not complete the request".to_owned(), None)
            }
            ApiError::Unavailable => ("storage is unreachable; try again shortly".to_owned(), None),
            other => (other.to_string(), None),
        };
        let body = Problem {
            kind: format!("urn:ocop-live:problem:{code}"),
            title: title.into(),
            status: status.as_u16(),
            detail,
            errors,
        };
        let json = serde_json::to_vec(&body).unwrap_or_default();
        let mut response = (status, [(header::CONTENT_TYPE, "application/problem+json")], json).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
        }
        if let ApiError::TooManyRequests { retry_after_s, .. } = self {
            response.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from(retry_after_s));
        }
        response
    }
}

impl From<FieldErrors> for ApiError {
    fn from(e: FieldErrors) -> Self {
        ApiError::Validation(e)
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::Unavailable(why) => {
                tracing::warn!(error = %why, "engine unavailable");
                ApiError::Unavailable
            }
            EngineError::Internal(why) => ApiError::Internal(why),
        }
    }
}

impl From<CatalogError> for ApiError {
    fn from(e: CatalogError) -> Self {
        match e {
            CatalogError::NotFound => ApiError::NotFound("no such product"),
            CatalogError::Invalid(f) => ApiError::Validation(f),
            CatalogError::Engine(e) => e.into(),
        }
    }
}

impl ApiError {
    /// A throttle's refusal as a 429 with `detail`; whole seconds, rounded up, at least one.
    pub fn throttled(e: ThrottleError, detail: &'static str) -> Self {
        match e {
            ThrottleError::Throttled { retry_after } => {
                let retry_after_s = retry_after.as_millis().div_ceil(1000).max(1) as u64;
                ApiError::TooManyRequests { retry_after_s, detail }
            }
            ThrottleError::Engine(e) => e.into(),
        }
    }
}

impl From<AccountError> for ApiError {
    fn from(e: AccountError) -> Self {
        match e {
            AccountError::EmailTaken => ApiError::Conflict("an account with this e-mail already exists"),
            AccountError::BadCredentials => ApiError::Unauthorized("wrong e-mail or password"),
            AccountError::NotFound => ApiError::NotFound("no such account"),
            AccountError::Invalid(f) => ApiError::Validation(f),
            AccountError::Engine(e) => e.into(),
        }
    }
}

impl From<ShowError> for ApiError {
    fn from(e: ShowError) -> Self {
        match e {
            ShowError::NotFound => ApiError::NotFound("no such show"),
            ShowError::Forbidden(m) => ApiError::Forbidden(m),
            ShowError::InvalidState(m) => ApiError::Conflict(m),
            ShowError::Invalid(f) => ApiError::Validation(f),
            ShowError::BadRequest(m) => ApiError::BadRequest(m),
            ShowError::Muted { .. } | ShowError::RateLimited { .. } => ApiError::BadRequest("slow down".into()),
            ShowError::Unauthenticated => ApiError::Unauthorized("sign in first"),
            ShowError::Engine(e) => e.into(),
        }
    }
}

/// A sales refusal over REST, where only orders are reached: every `not_found` is an order the
/// caller cannot see, every `forbidden` one that is not theirs.
impl From<SalesError> for ApiError {
    fn from(e: SalesError) -> Self {
        match e {
            SalesError::NotFound(_) => ApiError::NotFound("no such order"),
            SalesError::Forbidden(_) => ApiError::Forbidden("not your order"),
            SalesError::InvalidState(m) => ApiError::ConflictMessage(m.into_owned()),
            SalesError::Show(e) => e.into(),
            SalesError::Engine(e) => e.into(),
            other => ApiError::BadRequest(other.to_string()),
        }
    }
}

/// A fairs refusal: the agenda's rules say which rule was broken (400 for the time, 409 for the
/// state of the booth, the fair or the seller's other shows).
impl From<FairError> for ApiError {
    fn from(e: FairError) -> Self {
        let message = e.to_string();
        match e {
            FairError::NotFound(m) => ApiError::NotFound(m),
            FairError::Forbidden(m) => ApiError::Forbidden(m),
            FairError::InvalidState(m) | FairError::Conflict(m) => ApiError::ConflictMessage(m),
            FairError::Invalid(f) => ApiError::Validation(f),
            FairError::BadRequest(m) => ApiError::BadRequest(m),
            FairError::Agenda(rule) => match rule {
                AgendaRule::NeedsTime | AgendaRule::OutsideHours { .. } => {
                    ApiError::Validation(crate::domain::FieldErrors::single("scheduled_at", message))
                }
                AgendaRule::NoApprovedBooth | AgendaRule::FairNotOpenForShows(_) | AgendaRule::Overlaps { .. } => {
                    ApiError::ConflictMessage(message)
                }
            },
            FairError::RateLimited { retry_after_ms } => ApiError::TooManyRequests {
                retry_after_s: retry_after_ms.div_ceil(1000).max(1),
                detail: "too many requests; try again later",
            },
            FairError::Muted { .. } => ApiError::BadRequest("slow down".into()),
            FairError::Show(e) => e.into(),
            FairError::Engine(e) => e.into(),
        }
    }
}
