//! Extractors whose rejections are problem documents: JSON bodies with field-level errors,
//! paths, queries, and the bearer token.

use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::header;
use axum::http::request::Parts;
use bytes::Bytes;
use serde::de::DeserializeOwned;

use super::error::ApiError;
use crate::app::AppState;
use crate::auth::{Claims, Role, TokenError, User};
use crate::domain::FieldErrors;

/// A JSON body. Wrong content type → 415, too large → 413, malformed → 400, a field of the
/// wrong shape → 400 naming the field.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|mime| {
                let mime = mime.trim().to_ascii_lowercase();
                mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
            });
        if !is_json {
            return Err(ApiError::UnsupportedMediaType("send the body as application/json"));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| match e {
            BytesRejection::FailedToBufferBody(_) if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => {
                ApiError::PayloadTooLarge
            }
            other => ApiError::BadRequest(other.body_text()),
        })?;
        let de = &mut serde_json::Deserializer::from_slice(&bytes);
        let error = match serde_path_to_error::deserialize::<_, T>(de) {
            Ok(v) => return Ok(ApiJson(v)),
            Err(e) => e,
        };
        if error.inner().is_syntax() || error.inner().is_eof() {
            return Err(ApiError::BadRequest(format!("malformed JSON: {}", error.into_inner())));
        }
        // JSON has one kind of number: `2.0` is the integer 2 (as JSON Schema says), and a
        // client's JSON library may well write it so. Read whole numbers written with a fraction
        // or an exponent as integers, and keep the first error when that was not the problem.
        if let Ok(mut value) = serde_json::from_slice::<serde_json::Value>(&bytes)
            && integers_for_whole_numbers(&mut value)
        {
            return serde_path_to_error::deserialize::<_, T>(value).map(ApiJson).map_err(field_error);
        }
        Err(field_error(error))
    }
}

/// A body of the wrong shape: 400 naming the field.
fn field_error(e: serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    let path = e.path().to_string();
    let field = if path == "." || path.is_empty() { "body".to_owned() } else { path };
    // serde's message without its "at line 1 column 7" suffix.
    let message = e.into_inner().to_string();
    let message = message.split(" at line ").next().unwrap_or(&message).to_owned();
    ApiError::Validation(FieldErrors::single(field, message))
}

/// Rewrites every whole number written as a float (`5.0`, `1e3`) as an integer; tells whether
/// anything changed.
fn integers_for_whole_numbers(value: &mut serde_json::Value) -> bool {
    use serde_json::Value;
    match value {
        Value::Number(n) if n.is_f64() => {
            // Beyond 2^53 a float no longer spells one integer; such numbers are left as they are.
            const EXACT: f64 = 9_007_199_254_740_992.0;
            let Some(f) = n.as_f64().filter(|f| f.fract() == 0.0 && f.abs() <= EXACT) else { return false };
            // Exact: `f` is whole and within ±2^53, where every integer is a float.
            *value = Value::from(f as i64);
            true
        }
        Value::Array(items) => items.iter_mut().fold(false, |changed, v| integers_for_whole_numbers(v) | changed),
        Value::Object(fields) => fields.values_mut().fold(false, |changed, v| integers_for_whole_numbers(v) | changed),
        _ => false,
    }
}

/// Path parameters; a malformed id is a 404 (no such thing), not a 500.
#[derive(Debug)]
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Path::<T>::from_request_parts(parts, state).await.map(|Path(v)| ApiPath(v)).map_err(
            |e: PathRejection| match e {
                PathRejection::FailedToDeserializePathParams(_) => ApiError::NotFound("no such resource"),
                other => ApiError::BadRequest(other.body_text()),
            },
        )
    }
}

/// Query parameters; a bad one is a 400 naming it.
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(v)| ApiQuery(v))
            .map_err(|e: QueryRejection| ApiError::BadRequest(e.body_text()))
    }
}

/// The signed-in caller (any role). Missing or bad token → 401.
#[derive(Debug, Clone)]
pub struct Auth(pub Claims);

impl Auth {
    pub fn user(&self) -> User {
        self.0.user()
    }

    /// Refuses callers without one of `roles` (403).
    pub fn require(&self, roles: &[Role]) -> Result<(), ApiError> {
        if roles.contains(&self.0.role) { Ok(()) } else { Err(ApiError::Forbidden("your role may not do this")) }
    }
}

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = parts
            .headers
            .get(header::AUTHORIZATION)
            .ok_or(ApiError::Unauthorized("send Authorization: Bearer <token>"))?;
        let token = header
            .to_str()
            .ok()
            .and_then(|h| h.strip_prefix("Bearer ").or_else(|| h.strip_prefix("bearer ")))
            .map(str::trim)
            .ok_or(ApiError::Unauthorized("send Authorization: Bearer <token>"))?;
        match state.tokens.verify(token) {
            Ok(claims) => Ok(Auth(claims)),
            Err(TokenError::Expired) => Err(ApiError::Unauthorized("token expired; sign in again")),
            Err(TokenError::Invalid) => Err(ApiError::Unauthorized("token invalid")),
        }
    }
}
