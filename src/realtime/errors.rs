//! The wire's answer to each service's errors: every conversion into [`ReplyError`] (the error
//! reply of one command, PROTOCOL.md §2) is here, so what a client reads for a refusal is decided
//! in one place. HTTP's answers are in `http::api::error`.

use crate::engine::EngineError;
use crate::fairs::FairError;
use crate::realtime::protocol::{ErrorCode, ReplyError};
use crate::sales::SalesError;
use crate::shows::ShowError;

impl From<EngineError> for ReplyError {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::Unavailable(_) => ReplyError::unavailable(),
            EngineError::Internal(msg) => {
                tracing::error!(error = %msg, "engine internal error");
                ReplyError::internal()
            }
        }
    }
}

impl From<ShowError> for ReplyError {
    fn from(e: ShowError) -> Self {
        match e {
            ShowError::NotFound => ReplyError::new(ErrorCode::NotFound, "no such show"),
            ShowError::Forbidden(m) => ReplyError::forbidden(m),
            ShowError::InvalidState(m) => ReplyError::new(ErrorCode::InvalidState, m),
            ShowError::Invalid(f) => {
                let fields: Vec<String> = f.0.iter().map(|(k, v)| format!("{k}: {v}")).collect();
                ReplyError::bad_request(fields.join("; "))
            }
            ShowError::BadRequest(m) => ReplyError::bad_request(m),
            ShowError::Muted { retry_after_ms } => ReplyError {
                code: ErrorCode::Muted,
                message: "a moderator muted you in this show".into(),
                retry_after_ms: Some(retry_after_ms),
            },
            ShowError::RateLimited { retry_after_ms } => ReplyError {
                code: ErrorCode::RateLimited,
                message: "slow down".into(),
                retry_after_ms: Some(retry_after_ms),
            },
            ShowError::Unauthenticated => ReplyError::new(ErrorCode::Unauthenticated, "sign in first"),
            ShowError::Engine(e) => e.into(),
        }
    }
}

impl From<SalesError> for ReplyError {
    fn from(e: SalesError) -> Self {
        let message = e.to_string();
        let code = match e {
            SalesError::SoldOut => ErrorCode::SoldOut,
            SalesError::LimitReached => ErrorCode::LimitReached,
            SalesError::OfferEnded => ErrorCode::OfferEnded,
            SalesError::InsufficientStock(_) => ErrorCode::InsufficientStock,
            SalesError::IdempotencyConflict => ErrorCode::IdempotencyConflict,
            SalesError::NotFound(_) => ErrorCode::NotFound,
            SalesError::Forbidden(_) => ErrorCode::Forbidden,
            SalesError::InvalidState(_) => ErrorCode::InvalidState,
            SalesError::BadRequest(_) => ErrorCode::BadRequest,
            SalesError::Show(e) => return e.into(),
            SalesError::Engine(e) => return e.into(),
        };
        ReplyError::new(code, message)
    }
}

impl From<FairError> for ReplyError {
    fn from(e: FairError) -> Self {
        let message = e.to_string();
        match e {
            FairError::NotFound(m) => ReplyError::new(ErrorCode::NotFound, m),
            FairError::Forbidden(m) => ReplyError::forbidden(m),
            FairError::InvalidState(_) | FairError::Conflict(_) | FairError::Agenda(_) => {
                ReplyError::new(ErrorCode::InvalidState, message)
            }
            FairError::Invalid(f) => {
                let fields: Vec<String> = f.0.iter().map(|(k, v)| format!("{k}: {v}")).collect();
                ReplyError::bad_request(fields.join("; "))
            }
            FairError::BadRequest(m) => ReplyError::bad_request(m),
            FairError::Muted { retry_after_ms } => ReplyError {
                code: ErrorCode::Muted,
                message: "a moderator muted you in this booth".into(),
                retry_after_ms: Some(retry_after_ms),
            },
            FairError::RateLimited { retry_after_ms } => ReplyError {
                code: ErrorCode::RateLimited,
                message: "slow down".into(),
                retry_after_ms: Some(retry_after_ms),
            },
            FairError::Show(e) => e.into(),
            FairError::Engine(e) => e.into(),
        }
    }
}
