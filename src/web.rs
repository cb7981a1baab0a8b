//! The browser client (`web/`), served by the node itself: the pages at the addresses of
//! PROTOCOL.md §4 and their static files. A release build carries the files inside the binary;
//! a debug build reads them from `web/` on each request, so editing a page needs no rebuild.
//!
//! Every answer has a strong `ETag` (the file's SHA-256) and is compressed when the browser
//! accepts it; pages are revalidated on every visit (`no-cache`), other files are cached for an
//! hour and then revalidated. Every page is sent with a strict Content-Security-Policy: scripts
//! only from this server and no inline script, so text people typed can never run as code.

use axum::Router;
use axum::body::Body;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rust_embed::Embed;
use tower_http::compression::CompressionLayer;

use crate::app::AppState;

#[derive(Embed)]
#[folder = "web/"]
#[include = "*.html"]
#[include = "js/*.js"]
#[include = "css/*.css"]
#[include = "img/*"]
#[include = "vendor/**/*"]
struct Files;

/// What a page may load: everything from this server; video and pictures from wherever a
/// seller's stream and product photos live; the two embeddable players; no inline script, no
/// plug-ins, no framing by other sites.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: https:; \
     media-src 'self' https: blob:; connect-src 'self'; frame-src https://www.youtube.com \
     https://www.youtube-nocookie.com https://www.facebook.com; object-src 'none'; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'";

/// The page addresses of PROTOCOL.md §4 (and `/organiser`), each answered with its page so a
/// reload or a shared link opens directly. `/t/<code>` is rendered by the API.
pub fn router() -> Router<AppState> {
    let mut router = Router::new();
    for path in ["/", "/login", "/me", "/seller", "/organiser", "/shows/{id}", "/fairs/{id}", "/booths/{id}"] {
        router = router.route(path, get(shell));
    }
    router
        .route("/js/{*file}", get(|Path(f): Path<String>, h: HeaderMap| async move { asset("js", &f, &h) }))
        .route("/css/{*file}", get(|Path(f): Path<String>, h: HeaderMap| async move { asset("css", &f, &h) }))
        .route("/img/{*file}", get(|Path(f): Path<String>, h: HeaderMap| async move { asset("img", &f, &h) }))
        .route("/vendor/{*file}", get(|Path(f): Path<String>, h: HeaderMap| async move { asset("vendor", &f, &h) }))
        .layer(CompressionLayer::new())
}

/// The one page every address opens; its script draws the screen the address names.
async fn shell(request: HeaderMap) -> Response {
    page("index.html", &request)
}

fn page(name: &str, request: &HeaderMap) -> Response {
    let mut response = serve(name, request, "no-cache");
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

fn asset(folder: &str, file: &str, request: &HeaderMap) -> Response {
    serve(&format!("{folder}/{file}"), request, "public, max-age=3600")
}

fn serve(name: &str, request: &HeaderMap, cache: &'static str) -> Response {
    let Some(file) = Files::get(name) else {
        return (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "không tìm thấy · not found",
        )
            .into_response();
    };
    let etag = format!("\"{}\"", hex(&file.metadata.sha256_hash()));
    let fresh = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut r = Response::new(Body::from(file.data.into_owned()));
        let mime = file.metadata.mimetype();
        let mime = if mime.starts_with("text/") || mime == "application/javascript" {
            format!("{mime}; charset=utf-8")
        } else {
            mime.to_owned()
        };
        if let Ok(v) = HeaderValue::from_str(&mime) {
            r.headers_mut().insert(header::CONTENT_TYPE, v);
        }
        r
    };
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, v);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
