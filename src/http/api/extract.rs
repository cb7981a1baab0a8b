//! Extractors whose rejections are problem documents: JSON bodies with field-level errors,
//! paths, queries, the bearer token, and the client's address.

use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use bytes::Bytes;
use ipnet::IpNet;
use serde::de::DeserializeOwned;

use super::error::ApiError;
use crate::auth::{Claims, Role, TokenError, User};
use crate::domain::FieldErrors;
use crate::state::AppState;

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
        // Every body of this API is an object (or, where one is optional, null): serde would
        // also read a struct from an array of its fields.
        if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
            return Err(ApiError::Validation(FieldErrors::single("body", "must be a JSON object")));
        }
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

/// An optional JSON body: none when the request has an empty body, otherwise as [`ApiJson`].
#[derive(Debug)]
pub struct OptionalJson<T>(pub Option<T>);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for OptionalJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let headers = req.headers();
        let empty = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).is_none_or(|v| v.trim() == "0")
            && !headers.contains_key(header::TRANSFER_ENCODING);
        if empty {
            return Ok(OptionalJson(None));
        }
        // `null` is no body too.
        ApiJson::<Option<T>>::from_request(req, state).await.map(|ApiJson(v)| OptionalJson(v))
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

/// The caller when a token is sent (a bad or expired one is still a 401), or nobody.
#[derive(Debug, Clone)]
pub struct MaybeAuth(pub Option<User>);

impl FromRequestParts<AppState> for MaybeAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if !parts.headers.contains_key(header::AUTHORIZATION) {
            return Ok(MaybeAuth(None));
        }
        Ok(MaybeAuth(Some(Auth::from_request_parts(parts, state).await?.user())))
    }
}

/// The client's address as the throttles count it: the TCP peer, or, when the peer is one of
/// `--trusted-proxies`, the address it forwarded ([`client_ip`]).
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub IpAddr);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Some(ConnectInfo(peer)) = parts.extensions.get::<ConnectInfo<SocketAddr>>() else {
            return Err(ApiError::Internal("the router is served without the peer address".into()));
        };
        Ok(ClientIp(client_ip(peer.ip(), &parts.headers, &state.config.trusted_proxies)))
    }
}

/// The client address of a request from `peer`. Forwarding headers are read only when `peer`
/// is a trusted proxy: then the hops (`Forwarded` when present, else `X-Forwarded-For`) are
/// walked from the last one back past every trusted proxy, so a client cannot choose its
/// address by sending a header of its own ahead of what the proxies appended. A hop that does
/// not parse stops the walk at the last address known.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(&ip.to_canonical()));
    if !is_trusted(&peer) {
        return peer;
    }
    let forwarded: Vec<&str> = headers.get_all(header::FORWARDED).iter().filter_map(|v| v.to_str().ok()).collect();
    let hops: Vec<Option<IpAddr>> = if forwarded.is_empty() {
        headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(parse_hop)
            .collect()
    } else {
        forwarded
            .iter()
            .flat_map(|v| v.split(','))
            .map(|element| {
                let value = element.split(';').find_map(|pair| {
                    let (name, value) = pair.trim().split_once('=')?;
                    name.trim().eq_ignore_ascii_case("for").then_some(value)
                });
                value.and_then(parse_hop)
            })
            .collect()
    };
    let mut client = peer;
    for hop in hops.into_iter().rev() {
        let Some(ip) = hop else { break };
        client = ip;
        if !is_trusted(&ip) {
            break;
        }
    }
    client
}

/// One hop: `192.0.2.1`, `192.0.2.1:4711`, `2001:db8::1`, `[2001:db8::1]:4711`, quoted or not.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim().trim_matches('"');
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(addr) = hop.parse::<SocketAddr>() {
        return Some(addr.ip());
    }
    hop.strip_prefix('[').and_then(|h| h.strip_suffix(']')).and_then(|h| h.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn forwarded_addresses_count_only_from_trusted_proxies() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap(), "192.0.2.9/32".parse().unwrap()];
        let xff = headers(&[("x-forwarded-for", "198.51.100.1, 203.0.113.5")]);
        // An untrusted peer's header is ignored.
        assert_eq!(client_ip(ip("198.51.100.77"), &xff, &trusted), ip("198.51.100.77"));
        // A trusted peer: the last hop it appended.
        assert_eq!(client_ip(ip("10.1.2.3"), &xff, &trusted), ip("203.0.113.5"));
        // Hops that are trusted proxies themselves are walked past.
        let chain = headers(&[("x-forwarded-for", "203.0.113.5, 10.9.9.9"), ("x-forwarded-for", "192.0.2.9")]);
        assert_eq!(client_ip(ip("10.1.2.3"), &chain, &trusted), ip("203.0.113.5"));
        // No header: the proxy itself.
        assert_eq!(client_ip(ip("10.1.2.3"), &HeaderMap::new(), &trusted), ip("10.1.2.3"));
        // Garbage stops the walk at the last address known.
        let bad = headers(&[("x-forwarded-for", "203.0.113.5, nonsense")]);
        assert_eq!(client_ip(ip("10.1.2.3"), &bad, &trusted), ip("10.1.2.3"));
    }

    #[test]
    fn forwarded_header_is_preferred_and_parsed() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let both = headers(&[
            ("forwarded", "for=198.51.100.1;proto=https, for=\"[2001:db8:cafe::17]:4711\";by=10.0.0.1"),
            ("x-forwarded-for", "203.0.113.5"),
        ]);
        assert_eq!(client_ip(ip("10.1.2.3"), &both, &trusted), ip("2001:db8:cafe::17"));
        let port = headers(&[("forwarded", "For=192.0.2.60:8080")]);
        assert_eq!(client_ip(ip("10.1.2.3"), &port, &trusted), ip("192.0.2.60"));
        let hidden = headers(&[("forwarded", "for=_hidden")]);
        assert_eq!(client_ip(ip("10.1.2.3"), &hidden, &trusted), ip("10.1.2.3"));
    }
}
