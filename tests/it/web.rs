//! The browser client as the server serves it: every page address opens, with a strict
//! Content-Security-Policy, validators and compression.

use crate::helpers::*;

const PAGES: &[&str] = &[
    "/",
    "/login",
    "/me",
    "/seller",
    "/organiser",
    "/shows/0190f3c4-5e6a-7b8c-9d0e-1f2a3b4c5d6e",
    "/fairs/0190f3c4-5e6a-7b8c-9d0e-1f2a3b4c5d6e",
    "/booths/0190f3c4-5e6a-7b8c-9d0e-1f2a3b4c5d6e",
];

#[tokio::test]
async fn every_page_address_opens_the_page_with_a_strict_policy() {
    let app = spawn_app().await;
    for path in PAGES {
        let r = reqwest::get(app.http(path)).await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let h = r.headers().clone();
        assert_eq!(h["content-type"], "text/html; charset=utf-8", "{path}");
        let csp = h["content-security-policy"].to_str().unwrap();
        let script = csp.split(';').map(str::trim).find(|d| d.starts_with("script-src")).unwrap();
        assert_eq!(script, "script-src 'self'", "{path}: no inline script, nothing from elsewhere: {csp}");
        assert!(csp.contains("object-src 'none'") && csp.contains("frame-ancestors 'none'"), "{csp}");
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["cache-control"], "no-cache", "{path}: a page is revalidated on every visit");
        let body = r.text().await.unwrap();
        assert!(body.contains(r#"<html lang="vi">"#), "{path}: Vietnamese first");
        assert!(body.contains(r#"<script type="module" src="/js/app.js"></script>"#), "{path}");
        assert!(!body.contains("http://") && !body.contains("https://"), "{path}: nothing from another host");
    }
}

#[tokio::test]
async fn a_show_page_names_the_scripts_it_needs_and_revalidates() {
    let app = spawn_app().await;
    let client = reqwest::Client::new();
    let url = app.http("/shows/0190f3c4-5e6a-7b8c-9d0e-1f2a3b4c5d6e");
    let first = client.get(&url).send().await.unwrap();
    let etag = first.headers()["etag"].to_str().unwrap().to_owned();
    let body = first.text().await.unwrap();
    for script in ["/js/show.js", "/js/ocop-live.js", "/js/ui.js"] {
        assert!(body.contains(&format!(r#"<link rel="modulepreload" href="{script}">"#)), "{script}: {body}");
    }
    let home = client.get(app.http("/")).send().await.unwrap();
    assert_ne!(home.headers()["etag"].to_str().unwrap(), etag, "its own validator");
    assert!(!home.text().await.unwrap().contains("/js/show.js"), "the home page does not fetch the show's scripts");
    let again = client.get(&url).header("if-none-match", &etag).send().await.unwrap();
    assert_eq!(again.status(), 304);
}

#[tokio::test]
async fn a_lobby_and_a_booth_name_their_scripts_too() {
    let app = spawn_app().await;
    let client = reqwest::Client::new();
    let id = "0190f3c4-5e6a-7b8c-9d0e-1f2a3b4c5d6e";
    for (path, script) in [(format!("/fairs/{id}"), "/js/fair.js"), (format!("/booths/{id}"), "/js/booth.js")] {
        let body = client.get(app.http(&path)).send().await.unwrap().text().await.unwrap();
        for script in [script, "/js/ocop-live.js"] {
            assert!(body.contains(&format!(r#"<link rel="modulepreload" href="{script}">"#)), "{path} {script}");
        }
        assert!(!body.contains("/js/show.js"), "{path}: not the show's");
    }
}

#[tokio::test]
async fn files_have_validators_and_are_compressed_when_asked() {
    let app = spawn_app().await;
    let client = reqwest::Client::new();
    let first = client.get(app.http("/js/app.js")).send().await.unwrap();
    assert_eq!(first.status(), 200);
    assert_eq!(first.headers()["content-type"], "text/javascript; charset=utf-8");
    assert_eq!(first.headers()["cache-control"], "public, max-age=3600");
    let etag = first.headers()["etag"].to_str().unwrap().to_owned();
    assert!(etag.starts_with('"') && etag.len() == 66, "a strong SHA-256 validator: {etag}");
    let plain = first.bytes().await.unwrap();
    assert!(!plain.is_empty());

    let again = client.get(app.http("/js/app.js")).header("if-none-match", &etag).send().await.unwrap();
    assert_eq!(again.status(), 304, "unchanged: nothing is sent again");
    assert!(again.bytes().await.unwrap().is_empty());
    let stale = client.get(app.http("/js/app.js")).header("if-none-match", "\"old\"").send().await.unwrap();
    assert_eq!(stale.status(), 200);

    let zipped = client.get(app.http("/js/app.js")).header("accept-encoding", "gzip").send().await.unwrap();
    assert_eq!(zipped.headers()["content-encoding"], "gzip");
    let zipped = zipped.bytes().await.unwrap();
    assert!(zipped.len() < plain.len(), "{} compressed vs {} plain", zipped.len(), plain.len());
    let br = client.get(app.http("/css/app.css")).header("accept-encoding", "br").send().await.unwrap();
    assert_eq!(br.headers()["content-encoding"], "br");

    for missing in ["/js/nothing-here.js", "/css/../Cargo.toml", "/vendor/none"] {
        let r = client.get(app.http(missing)).send().await.unwrap();
        assert_eq!(r.status(), 404, "{missing}");
    }
}

#[tokio::test]
async fn the_vendored_libraries_are_served_as_modules_with_their_licences() {
    let app = spawn_app().await;
    for module in ["/vendor/preact.mjs", "/vendor/preact-hooks.mjs", "/vendor/htm.mjs", "/vendor/hls.light.min.mjs"] {
        let r = reqwest::get(app.http(module)).await.unwrap();
        assert_eq!(r.status(), 200, "{module}");
        assert_eq!(
            r.headers()["content-type"],
            "text/javascript; charset=utf-8",
            "{module}: a module script needs a JS type"
        );
        let text = r.text().await.unwrap();
        // Only relative imports: a browser resolves no bare name ("preact") without an import map.
        assert!(!text.contains("from\"preact\"") && !text.contains("sourceMappingURL"), "{module}");
    }
    let hooks = reqwest::get(app.http("/vendor/preact-hooks.mjs")).await.unwrap().text().await.unwrap();
    assert!(hooks.contains("from\"./preact.mjs\""), "the hooks import the same Preact");
    for licence in ["/vendor/preact.LICENSE.txt", "/vendor/htm.LICENSE.txt", "/vendor/hls.js.LICENSE.txt"] {
        let r = reqwest::get(app.http(licence)).await.unwrap();
        assert_eq!(r.status(), 200, "{licence}");
    }
    let csp =
        reqwest::get(app.http("/")).await.unwrap().headers()["content-security-policy"].to_str().unwrap().to_owned();
    let connect = csp.split(';').map(str::trim).find(|d| d.starts_with("connect-src")).unwrap();
    assert_eq!(connect, "connect-src 'self' https:", "hls.js fetches playlists and segments from the stream's host");
}

#[tokio::test]
async fn the_api_and_the_traceability_pages_are_not_taken_by_the_pages() {
    let app = spawn_app().await;
    let r = reqwest::get(app.http("/api/shows?status=live")).await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
    let r = reqwest::get(app.http("/api/nothing")).await.unwrap();
    assert_eq!(r.status(), 404);
    let r = reqwest::get(app.http("/t/NOTACODE")).await.unwrap();
    assert_eq!(r.status(), 404, "an unknown trace code is the traceability page's own answer");
    assert!(!r.text().await.unwrap().contains("/js/app.js"), "not the client's page");
}

#[tokio::test]
async fn the_demo_has_a_live_show_with_a_product_on_screen() {
    let mut cfg = ocop_live::Config::for_tests();
    cfg.demo = true;
    let app = spawn_with(cfg).await;
    let live = app.api().get("/api/shows?status=live", None).await.ok(200)["items"].clone();
    let shows = live.as_array().unwrap();
    assert_eq!(shows.len(), 1, "{live}");
    let show = &shows[0];
    assert!(show["lineup"].as_array().unwrap().len() >= 2, "{show}");
    assert_eq!(show["pinned_product_id"], show["lineup"][0]["product_id"], "{show}");
    let mut viewer = Client::connect(&app, None).await;
    let joined = viewer.subscribe(&format!("show:{}", show["id"].as_str().unwrap())).await;
    assert_eq!(joined["snapshot"]["pinned"]["id"], show["pinned_product_id"], "{joined}");
    // A demo buyer buys from it at once.
    let login = app
        .api()
        .post(
            "/api/auth/login",
            None,
            serde_json::json!({"email": "thuha.nguyen@demo.ocop.vn", "password": "ocop-demo-2026"}),
        )
        .await;
    let token = login.ok(200)["token"].as_str().unwrap().to_owned();
    let mut buyer = Client::connect(&app, Some(&token)).await;
    let product = show["pinned_product_id"].clone();
    let placed = buyer
        .call(
            "order.place",
            serde_json::json!({"show": show["id"], "product_id": product, "qty": 1, "key": "demo-first-buy"}),
        )
        .await;
    assert_eq!(placed["data"]["needs_address"], false, "demo buyers have an address: {placed}");
}
