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

use crate::state::AppState;

#[derive(Embed)]
#[folder = "web/"]
#[include = "*.html"]
#[include = "js/*.js"]
#[include = "css/*.css"]
#[include = "img/*"]
#[include = "vendor/*.mjs"]
#[include = "vendor/*.txt"]
struct Files;

/// What a page may load: everything from this server; video and pictures from wherever a
/// seller's stream and product photos live (and the playlists and segments hls.js fetches); the two embeddable players; no inline script, no
/// plug-ins, no framing by other sites.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: https:; \
     media-src 'self' https: blob:; connect-src 'self' https:; frame-src https://www.youtube.com \
     https://www.youtube-nocookie.com https://www.facebook.com; object-src 'none'; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'";

/// The page addresses of PROTOCOL.md §4 (and `/organiser`), each answered with its page so a
/// reload or a shared link opens directly. `/t/<code>` is rendered by the API.
pub fn router() -> Router<AppState> {
    let mut router = Router::new();
    for path in ["/", "/login", "/me", "/seller", "/organiser"] {
        router = router.route(path, get(shell));
    }
    router
        .route("/shows/{id}", get(show_shell))
        .route("/fairs/{id}", get(fair_shell))
        .route("/booths/{id}", get(booth_shell))
        .route("/js/{*file}", get(|Path(f): Path<String>, h: HeaderMap| async move { asset("js", &f, &h) }))
        .route("/css/{*file}", get(|Path(f): Path<String>, h: HeaderMap| async move { asset("css", &f, &h) }))
        .route("/img/{*file}", get(|Path(f): Path<String>, h: HeaderMap| async move { asset("img", &f, &h) }))
        .route("/vendor/{*file}", get(|Path(f): Path<String>, h: HeaderMap| async move { asset("vendor", &f, &h) }))
        .layer(CompressionLayer::new())
}

/// The one page every address opens; its script draws the screen the address names.
async fn shell(request: HeaderMap) -> Response {
    page("index.html", &request, &[])
}

/// A show is the screen buyers open from a shared link on a weak network: its page names the
/// scripts it will need, so they load with the first ones instead of a round trip later.
async fn show_shell(request: HeaderMap) -> Response {
    page("index.html", &request, &["/js/show.js", "/js/ocop-live.js"])
}

/// A fair's lobby and a booth are opened from shared links too (a fair's poster, a QR code at
/// a stand).
async fn fair_shell(request: HeaderMap) -> Response {
    page("index.html", &request, &["/js/fair.js", "/js/ocop-live.js"])
}

async fn booth_shell(request: HeaderMap) -> Response {
    page("index.html", &request, &["/js/booth.js", "/js/ocop-live.js"])
}

fn page(name: &str, request: &HeaderMap, preload: &[&str]) -> Response {
    let mut response =
        if preload.is_empty() { serve(name, request, "no-cache") } else { with_preloads(name, request, preload) };
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

/// The page with `<link rel="modulepreload">` for `preload` before `</head>`; its ETag is its own.
fn with_preloads(name: &str, request: &HeaderMap, preload: &[&str]) -> Response {
    let Some(file) = Files::get(name) else { return serve(name, request, "no-cache") };
    let links: String = preload.iter().map(|p| format!("<link rel=\"modulepreload\" href=\"{p}\">\n")).collect();
    let html = String::from_utf8_lossy(&file.data).replacen("</head>", &format!("{links}</head>"), 1);
    let hash: [u8; 32] = {
        use sha2::Digest as _;
        sha2::Sha256::digest(html.as_bytes()).into()
    };
    respond(html.into_bytes(), file.metadata.mimetype(), &hash, request, "no-cache")
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
    respond(file.data.into_owned(), file.metadata.mimetype(), &file.metadata.sha256_hash(), request, cache)
}

/// A file's answer: 304 when the browser holds this version, else the bytes with their type;
/// a strong ETag and the cache policy either way.
fn respond(body: Vec<u8>, mime: &str, hash: &[u8; 32], request: &HeaderMap, cache: &'static str) -> Response {
    let etag = format!("\"{}\"", hex(hash));
    let fresh = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut r = Response::new(Body::from(body));
        // `.mjs` is guessed as application/javascript; RFC 9239 names text/javascript for both.
        let mime = if mime == "application/javascript" { "text/javascript" } else { mime };
        let mime = if mime.starts_with("text/") { format!("{mime}; charset=utf-8") } else { mime.to_owned() };
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
