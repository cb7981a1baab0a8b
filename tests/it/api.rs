//! The REST API: accounts, catalog, traceability, errors.

use ocop_live::Config;
use serde_json::{Value, json};

use crate::helpers::*;

#[tokio::test]
async fn register_login_and_me() {
    let app = spawn_app().await;
    let api = app.api();
    let r = api
        .post(
            "/api/auth/register",
            None,
            json!({"name": " Nguyễn  Thu Hà ", "email": "ThuHa@Example.VN", "password": "mật-khẩu-dài", "role": "buyer",
                   "phone": "091 234 5678"}),
        )
        .await;
    let body = r.ok(201);
    assert_eq!(body["user"]["name"], "Nguyễn Thu Hà");
    assert_eq!(body["user"]["email"], "thuha@example.vn");
    assert_eq!(body["user"]["phone"], "0912345678");
    assert_eq!(body["user"]["role"], "buyer");

    let dup = api
        .post(
            "/api/auth/register",
            None,
            json!({"name": "X", "email": "thuha@example.vn", "password": "12345678", "role": "buyer"}),
        )
        .await;
    dup.problem(409);

    api.post("/api/auth/login", None, json!({"email": "thuha@example.vn", "password": "sai-mat-khau"}))
        .await
        .problem(401);
    api.post("/api/auth/login", None, json!({"email": "nobody@example.vn", "password": "mật-khẩu-dài"}))
        .await
        .problem(401);
    let login =
        api.post("/api/auth/login", None, json!({"email": "THUHA@example.vn", "password": "mật-khẩu-dài"})).await;
    let token = login.ok(200)["token"].as_str().unwrap().to_owned();

    let me = api.get("/api/me", Some(&token)).await;
    assert_eq!(me.ok(200)["user"]["email"], "thuha@example.vn");
    assert!(me.body.get("delivery").is_none());

    // The token opens the WebSocket as this user.
    let c = Client::connect(&app, Some(&token)).await;
    assert_eq!(c.hello["data"]["user"]["id"], me.body["user"]["id"]);

    let bad = api.put("/api/me/delivery", Some(&token), json!({"name": "", "phone": "12345", "address": ""})).await;
    let errors = bad.problem(400);
    assert_eq!(errors.as_object().unwrap().keys().collect::<Vec<_>>(), vec!["address", "name", "phone"]);
    let ok = api
        .put(
            "/api/me/delivery",
            Some(&token),
            json!({"name": "Nguyễn Thu Hà", "phone": "+84 912 345 678", "address": "12 Hàng Bạc, Hà Nội"}),
        )
        .await;
    assert_eq!(ok.ok(200)["delivery"]["phone"], "0912345678");
    assert_eq!(api.get("/api/me", Some(&token)).await.ok(200)["delivery"]["address"], "12 Hàng Bạc, Hà Nội");
}

#[tokio::test]
async fn registration_validates_every_field() {
    let app = spawn_app().await;
    let api = app.api();
    let r = api
        .post(
            "/api/auth/register",
            None,
            json!({"name": "", "email": "nope", "password": "short", "role": "admin", "phone": "0212345678"}),
        )
        .await;
    let errors = r.problem(400);
    for field in ["name", "email", "password", "role", "phone"] {
        assert!(errors[field].is_string(), "{field} missing in {errors}");
    }
    let r = api
        .post(
            "/api/auth/register",
            None,
            json!({"name": "A", "email": "a@b.vn", "password": "12345678", "role": "king"}),
        )
        .await;
    assert!(r.problem(400)["role"].is_string());
    let r = api.post("/api/auth/register", None, json!({"name": "A", "email": "a@b.vn", "password": "12345678"})).await;
    assert!(r.problem(400)["body"].as_str().unwrap().contains("role"));
    let r = api
        .post(
            "/api/auth/register",
            None,
            json!({"name": 5, "email": "a@b.vn", "password": "12345678", "role": "buyer"}),
        )
        .await;
    assert!(r.problem(400)["name"].is_string());
}

#[tokio::test]
async fn guests_get_a_token_and_no_account() {
    let app = spawn_app().await;
    let api = app.api();
    let r = api.post("/api/auth/guest", None, json!({"name": "Khách\u{200B} Hà Nội"})).await;
    let body = r.ok(200);
    assert_eq!(body["user"]["role"], "guest");
    assert_eq!(body["user"]["name"], "Khách Hà Nội");
    let token = body["token"].as_str().unwrap();
    assert_eq!(api.get("/api/me", Some(token)).await.ok(200)["user"]["role"], "guest");
    api.post("/api/auth/guest", None, json!({"name": "   "})).await.problem(400);
    api.post("/api/auth/guest", None, json!({"name": "x".repeat(41)})).await.problem(400);
}

#[tokio::test]
async fn malformed_bodies_get_problem_documents_never_5xx() {
    let app = spawn_app().await;
    let api = app.api();
    let post = |body: &'static str, ct: &'static str| {
        let api = api.clone();
        async move {
            let req = api.raw(reqwest::Method::POST, "/api/auth/register").await.header("content-type", ct).body(body);
            Api::read(req.send().await.unwrap()).await
        }
    };
    post("{not json", "application/json").await.problem(400);
    post("", "application/json").await.problem(400);
    post("[1,2]", "application/json").await.problem(400);
    post(r#"{"name":"a"}"#, "text/plain").await.problem(415);
    let big =
        format!(r#"{{"name":"{}","email":"a@b.vn","password":"12345678","role":"buyer"}}"#, "x".repeat(70 * 1024));
    let req =
        api.raw(reqwest::Method::POST, "/api/auth/register").await.header("content-type", "application/json").body(big);
    Api::read(req.send().await.unwrap()).await.problem(413);
    api.get("/api/products/not-a-uuid", None).await.problem(404);
    api.get(&format!("/api/products/{}", uuid::Uuid::now_v7()), None).await.problem(404);
    api.get("/api/products?stars=9", None).await.problem(400);
    api.get("/api/products?limit=0", None).await.problem(400);
    api.get("/api/products?group=weapons", None).await.problem(400);
    api.get("/api/products?cursor=abc", None).await.problem(400);
    let province = "a".repeat(61);
    assert!(api.get(&format!("/api/products?province={province}"), None).await.problem(400)["province"].is_string());
    api.get("/api/nowhere", None).await.problem(404);
    api.get("/api/me", Some("garbage")).await.problem(401);
}

#[tokio::test]
async fn whole_numbers_written_as_floats_are_integers() {
    let app = spawn_app().await;
    let api = app.api();
    let (seller, _) = api.register("seller").await;
    let mut body = Api::product_body("Mật ong bạc hà Mèo Vạc");
    body["price"] = json!(390000.0);
    body["stock"] = json!(5e1);
    let product = api.create_product(&seller, body).await;
    assert_eq!((product["price"].as_i64(), product["stock"].as_i64()), (Some(390000), Some(50)));
    let mut fraction = Api::product_body("x");
    fraction["price"] = json!(1.5);
    assert!(api.post("/api/products", Some(&seller), fraction).await.problem(400)["price"].is_string());
}

#[tokio::test]
async fn products_are_created_validated_and_patched_by_their_seller() {
    let app = spawn_app().await;
    let api = app.api();
    let (seller, user) = api.register("seller").await;
    let product = api.create_product(&seller, Api::product_body("Mật ong bạc hà Mèo Vạc")).await;
    assert_eq!(product["seller_id"], user["seller_id"]);
    assert_eq!(product["stock"], 50);
    assert_eq!(product["kind"], "single");
    assert_eq!(product["certificate_expired"], false);
    assert_eq!(product["certificate"]["issued_at"], "2025-03-15");
    assert_eq!(product["story"], "Làm tại xã.\nĐóng gói thủ công.");
    let code = product["trace_code"].as_str().unwrap();
    assert_eq!(code.len(), 10);
    let id = product["id"].as_str().unwrap();

    let mut bad = Api::product_body("x");
    bad["price"] = json!(-1);
    bad["stock"] = json!(-3);
    bad["stars"] = json!(2);
    bad["group"] = json!("food");
    bad["images"] = json!(["ftp://x"]);
    bad["certificate"]["expires_at"] = json!("2020-01-01");
    let errors = api.post("/api/products", Some(&seller), bad).await.problem(400).clone();
    for field in ["price", "stock", "stars", "images[0]", "certificate.expires_at"] {
        assert!(errors[field].is_string(), "{field}: {errors}");
    }
    let mut wrong_date = Api::product_body("x");
    wrong_date["certificate"]["issued_at"] = json!("15/03/2025");
    assert!(
        api.post("/api/products", Some(&seller), wrong_date).await.problem(400)["certificate.issued_at"].is_string()
    );

    let patched = api.patch(&format!("/api/products/{id}"), Some(&seller), json!({"price": 350000, "stock": 7})).await;
    let p = patched.ok(200)["product"].clone();
    assert_eq!(
        (p["price"].as_i64(), p["stock"].as_i64(), p["name"].as_str()),
        (Some(350000), Some(7), Some("Mật ong bạc hà Mèo Vạc"))
    );
    api.patch(&format!("/api/products/{id}"), Some(&seller), json!({"stock": -1})).await.problem(400);
    let got = api.get(&format!("/api/products/{id}"), None).await;
    assert_eq!(got.ok(200)["product"]["stock"], 7);
}

#[tokio::test]
async fn an_expired_certificate_is_shown_as_such() {
    let app = spawn_app().await;
    let api = app.api();
    let (seller, _) = api.register("seller").await;
    let mut body = Api::product_body("Cà phê phin giấy");
    body["certificate"] = json!({"number": "88/QĐ-UBND", "issued_by": "UBND tỉnh Đắk Lắk",
                                 "issued_at": "2022-06-14", "expires_at": "2025-06-14"});
    let p = api.create_product(&seller, body).await;
    assert_eq!(p["certificate_expired"], true);
    let page = reqwest::get(app.http(&format!("/t/{}", p["trace_code"].as_str().unwrap()))).await.unwrap();
    assert!(page.text().await.unwrap().contains("đã hết hiệu lực"));
}

#[tokio::test]
async fn combos_take_stock_from_every_component_or_none() {
    let app = spawn_app().await;
    let api = app.api();
    let (seller, _) = api.register("seller").await;
    let (other, _) = api.register("seller").await;
    let honey = api.create_product(&seller, Api::product_body("Mật ong")).await;
    let mut tea_body = Api::product_body("Trà Shan tuyết");
    tea_body["stock"] = json!(9);
    let tea = api.create_product(&seller, tea_body).await;
    let foreign = api.create_product(&other, Api::product_body("Nước mắm")).await;

    let combo_body = |components: Value| {
        let mut b = Api::product_body("Giỏ quà Tết");
        b["kind"] = json!("combo");
        b.as_object_mut().unwrap().remove("stock");
        b["components"] = components;
        b
    };
    let combo = api
        .create_product(
            &seller,
            combo_body(json!([{"product_id": honey["id"], "qty": 1}, {"product_id": tea["id"], "qty": 2}])),
        )
        .await;
    assert_eq!(combo["kind"], "combo");
    // Honey 50/1 = 50, tea 9/2 = 4: four whole baskets.
    assert_eq!(combo["stock"], 4);

    let refused =
        api.post("/api/products", Some(&seller), combo_body(json!([{"product_id": foreign["id"], "qty": 1}]))).await;
    assert!(refused.problem(400)["components[0].product_id"].is_string());
    let nested =
        api.post("/api/products", Some(&seller), combo_body(json!([{"product_id": combo["id"], "qty": 1}]))).await;
    assert!(nested.problem(400)["components[0].product_id"].is_string());
    let own = api
        .patch(
            &format!("/api/products/{}", combo["id"].as_str().unwrap()),
            Some(&seller),
            json!({"components": [{"product_id": combo["id"], "qty": 1}]}),
        )
        .await;
    assert!(own.problem(400)["components[0]"].is_string());
    let stock_on_combo = api
        .patch(&format!("/api/products/{}", combo["id"].as_str().unwrap()), Some(&seller), json!({"stock": 10}))
        .await;
    assert!(stock_on_combo.problem(400)["stock"].is_string());

    // Taking through the catalog service: all components at once, or nothing.
    let record = app.state.catalog.record(uuid::Uuid::parse_str(combo["id"].as_str().unwrap()).unwrap()).await.unwrap();
    use ocop_live::engine::Take;
    assert_eq!(app.state.catalog.take_stock(&record, 4).await.unwrap(), Take::Taken);
    assert_eq!(app.state.catalog.take_stock(&record, 1).await.unwrap(), Take::Short { index: 1, available: 1 });
    let stock = |p: &Value| {
        let api = api.clone();
        let id = p["id"].as_str().unwrap().to_owned();
        async move { api.get(&format!("/api/products/{id}"), None).await.body["product"]["stock"].as_i64().unwrap() }
    };
    assert_eq!((stock(&honey).await, stock(&tea).await, stock(&combo).await), (46, 1, 0));
    app.state.catalog.return_stock(&record, 2).await.unwrap();
    assert_eq!((stock(&honey).await, stock(&tea).await, stock(&combo).await), (48, 5, 2));
}

#[tokio::test]
async fn catalog_search_filters_and_pages() {
    let app = spawn_app().await;
    let api = app.api();
    let (a, ua) = api.register("seller").await;
    let (b, _) = api.register("seller").await;
    let mk = |name: &str, province: &str, group: &str, stars: u8| {
        let mut body = Api::product_body(name);
        body["province"] = json!(province);
        body["group"] = json!(group);
        body["stars"] = json!(stars);
        body
    };
    api.create_product(&a, mk("Mật ong bạc hà", "Tuyên Quang", "food", 4)).await;
    api.create_product(&a, mk("Trà Shan tuyết cổ thụ", "Tuyên Quang", "drinks", 5)).await;
    api.create_product(&b, mk("Cà phê Robusta", "Đắk Lắk", "drinks", 4)).await;
    api.create_product(&b, mk("Nước mắm Phú Quốc", "An Giang", "food", 3)).await;
    for i in 0..21 {
        api.create_product(&b, mk(&format!("Gạo ST25 lô {i}"), "Cần Thơ", "food", 5)).await;
    }
    let names = |v: &Value| -> Vec<String> {
        v["items"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap().to_owned()).collect()
    };
    let q = |path: &str| {
        let api = api.clone();
        let path = path.to_owned();
        async move { api.get(&path, None).await.ok(200).clone() }
    };
    assert_eq!(names(&q("/api/products?q=mat%20ong").await), vec!["Mật ong bạc hà"]);
    assert_eq!(names(&q("/api/products?q=M%E1%BA%ADt%20ong").await), vec!["Mật ong bạc hà"]);
    assert_eq!(names(&q("/api/products?q=tra%20shan").await), vec!["Trà Shan tuyết cổ thụ"]);
    assert_eq!(names(&q("/api/products?q=ong%20mat").await), vec!["Mật ong bạc hà"]);
    assert!(names(&q("/api/products?q=sau%20rieng").await).is_empty());
    assert_eq!(names(&q("/api/products?province=dak%20lak").await), vec!["Cà phê Robusta"]);
    assert_eq!(names(&q("/api/products?group=drinks&stars=5").await), vec!["Trà Shan tuyết cổ thụ"]);
    let seller_id = ua["seller_id"].as_str().unwrap();
    assert_eq!(names(&q(&format!("/api/products?seller={seller_id}")).await).len(), 2);

    // Cursor pagination: stable, complete, no duplicates.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/products?stars=5&limit=7&cursor={c}"),
            None => "/api/products?stars=5&limit=7".to_owned(),
        };
        let page = q(&path).await;
        seen.extend(names(&page));
        pages += 1;
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
        assert!(pages < 10);
    }
    assert_eq!(seen.len(), 22);
    let mut unique = seen.clone();
    unique.dedup();
    assert_eq!(unique.len(), 22);
    assert_eq!(seen[0], "Trà Shan tuyết cổ thụ");
    assert_eq!(seen[1], "Gạo ST25 lô 0");
}

#[tokio::test]
async fn qr_code_leads_to_the_traceability_page() {
    let app = spawn_app().await;
    let api = app.api();
    let (seller, _) = api.register("seller").await;
    api.put(
        "/api/seller/profile",
        Some(&seller),
        json!({"display_name": "HTX Mật ong Mèo Vạc", "kind": "cooperative",
        "province": "Tuyên Quang", "commune": "xã Mèo Vạc", "intro": "Nuôi ong <b>bạc hà</b>"}),
    )
    .await
    .ok(200);
    let mut body = Api::product_body("Mật ong <script>alert(1)</script>");
    body["story"] = json!("Hoa bạc hà nở tím.");
    let p = api.create_product(&seller, body).await;
    let id = p["id"].as_str().unwrap();
    let svg = reqwest::get(app.http(&format!("/api/products/{id}/qr.svg"))).await.unwrap();
    assert_eq!(svg.status(), 200);
    assert_eq!(svg.headers()["content-type"], "image/svg+xml");
    let svg = svg.text().await.unwrap();
    assert!(
        svg.starts_with("<?xml") && svg.contains("<svg") && svg.contains("<path"),
        "{}",
        &svg[..100.min(svg.len())]
    );

    let code = p["trace_code"].as_str().unwrap();
    let page = reqwest::get(app.http(&format!("/t/{code}"))).await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let html = page.text().await.unwrap();
    for needle in [
        "HTX Mật ong Mèo Vạc",
        "Hợp tác xã",
        "xã Mèo Vạc, Tuyên Quang",
        "125/QĐ-UBND",
        "Hoa bạc hà nở tím.",
        "390.000 đ",
    ] {
        assert!(html.contains(needle), "{needle} missing");
    }
    assert!(!html.contains("<script>alert") && html.contains("&lt;script&gt;"), "text is escaped");
    assert!(!html.contains("<b>bạc hà</b>"));
    assert_eq!(reqwest::get(app.http("/t/NOSUCHCODE")).await.unwrap().status(), 404);
    assert_eq!(reqwest::get(app.http(&format!("/t/{}", code.to_lowercase()))).await.unwrap().status(), 200);
}

#[tokio::test]
async fn admins_create_organisers_and_the_bootstrap_admin_exists() {
    let (app, admin) = spawn_with_admin().await;
    let api = app.api();
    let r = api
        .post(
            "/api/admin/users",
            Some(&admin),
            json!({"name": "Sở Công Thương", "email": "btc@ocop.vn", "password": "organiser-1", "role": "organiser"}),
        )
        .await;
    assert_eq!(r.ok(201)["user"]["role"], "organiser");
    let login = api.post("/api/auth/login", None, json!({"email": "btc@ocop.vn", "password": "organiser-1"})).await;
    assert_eq!(login.ok(200)["user"]["role"], "organiser");
    api.post(
        "/api/admin/users",
        Some(&admin),
        json!({"name": "G", "email": "g@ocop.vn", "password": "guest-pass-1", "role": "guest"}),
    )
    .await
    .problem(400);
}

#[tokio::test]
async fn demo_data_is_seeded_once_with_documented_logins() {
    let mut cfg = Config::for_tests();
    cfg.demo = true;
    let app = spawn_with(cfg).await;
    let api = app.api();
    let page = api.get("/api/products?limit=100", None).await.ok(200).clone();
    let items = page["items"].as_array().unwrap();
    assert!(items.len() >= 12, "{}", items.len());
    assert_eq!(items.iter().filter(|p| p["certificate_expired"] == true).count(), 1);
    assert!(items.iter().any(|p| p["kind"] == "combo" && p["stock"].as_i64().unwrap() > 0));
    let provinces: std::collections::BTreeSet<&str> = items.iter().map(|p| p["province"].as_str().unwrap()).collect();
    assert!(provinces.len() >= 3);
    for (email, role) in [
        ("admin@demo.ocop.vn", "admin"),
        ("btc@demo.ocop.vn", "organiser"),
        ("htx.caonguyenda@demo.ocop.vn", "seller"),
        ("thuha.nguyen@demo.ocop.vn", "buyer"),
    ] {
        let r = api.post("/api/auth/login", None, json!({"email": email, "password": "ocop-demo-2026"})).await;
        assert_eq!(r.ok(200)["user"]["role"], role, "{email}");
    }
    // Seeding again (a restart with --demo on the same storage) adds nothing.
    assert!(
        ocop_live::demo::seed(&app.state.accounts, "now", time::macros::date!(2026 - 11 - 29)).await.unwrap().is_none()
    );
    let again = api.get("/api/products?limit=100", None).await.ok(200)["items"].as_array().unwrap().len();
    assert_eq!(again, items.len());
}

#[tokio::test]
async fn the_served_openapi_document_is_the_committed_one() {
    let app = spawn_app().await;
    let served = reqwest::get(app.http("/api/openapi.json")).await.unwrap().text().await.unwrap();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/proto/openapi.json");
    if std::env::var_os("UPDATE_PROTO").is_some() {
        std::fs::write(path, format!("{served}\n")).unwrap();
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed.trim_end() == served.trim_end(),
        "proto/openapi.json differs from the server; run `UPDATE_PROTO=1 cargo test --test it openapi` and commit"
    );
    let doc: Value = serde_json::from_str(&served).unwrap();
    for path in [
        "/api/auth/register",
        "/api/auth/login",
        "/api/auth/guest",
        "/api/me",
        "/api/products",
        "/api/products/{id}",
        "/api/products/{id}/qr.svg",
        "/api/admin/users",
        "/api/sellers/{id}",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} missing");
    }
}

#[tokio::test]
async fn cors_answers_allowed_origins_only() {
    let mut cfg = Config::for_tests();
    cfg.allowed_origins = vec!["https://cho.ocop.vn".into()];
    let app = spawn_with(cfg).await;
    let api = app.api();
    let preflight = |origin: &'static str| {
        let api = api.clone();
        async move {
            api.raw(reqwest::Method::OPTIONS, "/api/products")
                .await
                .header("origin", origin)
                .header("access-control-request-method", "POST")
                .send()
                .await
                .unwrap()
        }
    };
    let ok = preflight("https://cho.ocop.vn").await;
    assert_eq!(ok.headers()["access-control-allow-origin"], "https://cho.ocop.vn");
    let no = preflight("https://evil.example").await;
    assert!(no.headers().get("access-control-allow-origin").is_none());
}
