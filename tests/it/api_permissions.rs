//! Every REST endpoint against every role.
//!
//! [`MATRIX`] states the status each kind of caller gets from each endpoint; the test sends every
//! cell and then checks that no refused request left a trace: the owner's product, the accounts'
//! delivery contacts, the account list and the catalog are exactly what the permitted requests made
//! them.

use std::panic::{AssertUnwindSafe, catch_unwind};

use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{Api, Resp, TestApp, spawn_app, spawn_with_admin};

/// The kinds of caller, in the column order of [`MATRIX`].
const CALLERS: [&str; 7] = ["anonymous", "guest", "buyer", "seller", "other seller", "organiser", "admin"];
const GUEST: usize = 1;
const BUYER: usize = 2;
/// The seller who owns the product the table reads and patches.
const SELLER: usize = 3;
const OTHER_SELLER: usize = 4;
const ORGANISER: usize = 5;
const ADMIN: usize = 6;

/// The role `user.role` shows for each caller; the anonymous caller has none.
const ROLES: [Option<&str>; 7] =
    [None, Some("guest"), Some("buyer"), Some("seller"), Some("seller"), Some("organiser"), Some("admin")];

/// Expected status per endpoint, per caller:
/// anonymous, guest, buyer, seller (owner), other seller, organiser, admin.
#[rustfmt::skip]
const MATRIX: &[(&str, [u16; 7])] = &[
    ("POST /api/auth/register",                [201, 201, 201, 201, 201, 201, 201]),
    // Self-service sign-up never makes an admin, whoever asks.
    ("POST /api/auth/register (role: admin)",  [400, 400, 400, 400, 400, 400, 400]),
    ("POST /api/auth/login",                   [200, 200, 200, 200, 200, 200, 200]),
    ("POST /api/auth/guest",                   [200, 200, 200, 200, 200, 200, 200]),
    ("GET /api/me",                            [401, 200, 200, 200, 200, 200, 200]),
    ("PUT /api/me/delivery",                   [401, 403, 200, 403, 403, 403, 403]),
    ("POST /api/admin/users",                  [401, 403, 403, 403, 403, 403, 201]),
    ("POST /api/products",                     [401, 403, 403, 201, 201, 403, 403]),
    ("GET /api/products",                      [200, 200, 200, 200, 200, 200, 200]),
    ("GET /api/products/{id}",                 [200, 200, 200, 200, 200, 200, 200]),
    ("PATCH /api/products/{id}",               [401, 403, 403, 200, 403, 403, 403]),
    ("GET /api/products/{id}/qr.svg",          [200, 200, 200, 200, 200, 200, 200]),
    ("GET /api/sellers/{id}",                  [200, 200, 200, 200, 200, 200, 200]),
    ("PUT /api/seller/profile",                [401, 403, 403, 200, 200, 403, 403]),
    ("GET /t/{trace_code}",                    [200, 200, 200, 200, 200, 200, 200]),
    ("GET /api/openapi.json",                  [200, 200, 200, 200, 200, 200, 200]),
];

const PASSWORD: &str = "mat-khau-kiem-thu-1";
const OWNER_DESCRIPTION: &str = "Mô tả mới do chính chủ sản phẩm sửa";
const DELIVERY_PHONE: &str = "0912345678";

fn fresh_email(tag: &str) -> String {
    format!("{tag}-{}@test.ocop.vn", Uuid::now_v7().simple())
}

fn profile_name(caller: usize) -> String {
    format!("Hợp tác xã của {}", CALLERS[caller])
}

/// The method and path of a [`MATRIX`] row (its first two words).
fn method_and_path(endpoint: &str) -> (&str, &str) {
    let mut words = endpoint.split_whitespace();
    (words.next().unwrap(), words.next().unwrap())
}

/// The accounts and the product the table works on.
struct World {
    /// Kept so the server runs until the test ends.
    _app: TestApp,
    api: Api,
    tokens: [Option<String>; 7],
    seller_ids: [Option<String>; 7],
    /// The owner's product as created.
    product: Value,
    /// An account every caller signs in to.
    login_email: String,
}

impl World {
    fn product_path(&self) -> String {
        format!("/api/products/{}", self.product["id"].as_str().unwrap())
    }

    async fn product_now(&self) -> Value {
        self.api.get(&self.product_path(), None).await.ok(200)["product"].clone()
    }

    async fn login_status(&self, email: &str) -> u16 {
        self.api.post("/api/auth/login", None, json!({"email": email, "password": PASSWORD})).await.status
    }
}

/// What the table tried, to check afterwards that only the permitted attempts had effects.
#[derive(Default)]
struct Attempts {
    /// (caller, e-mail, status) of every account creation.
    accounts: Vec<(usize, String, u16)>,
    /// (caller, name, status) of every product creation.
    products: Vec<(usize, String, u16)>,
}

async fn setup() -> World {
    let (app, admin) = spawn_with_admin().await;
    let api = app.api();

    let guest = api.post("/api/auth/guest", None, json!({"name": "Khách xem thử"})).await.ok(200)["token"].clone();
    let (buyer, _) = api.register("buyer").await;
    let (seller, seller_user) = api.register("seller").await;
    let (other, other_user) = api.register("seller").await;

    let organiser_email = fresh_email("organiser");
    let created = api
        .post(
            "/api/admin/users",
            Some(&admin),
            json!({"name": "Ban tổ chức hội chợ", "email": organiser_email, "password": PASSWORD, "role": "organiser"}),
        )
        .await;
    assert_eq!(created.ok(201)["user"]["role"], "organiser");
    let signed_in = api.post("/api/auth/login", None, json!({"email": organiser_email, "password": PASSWORD})).await;
    let organiser = signed_in.ok(200)["token"].as_str().unwrap().to_owned();

    let login_email = fresh_email("login");
    api.post(
        "/api/auth/register",
        None,
        json!({"name": "Tài khoản đăng nhập", "email": login_email, "password": PASSWORD, "role": "buyer"}),
    )
    .await
    .ok(201);

    let product = api.create_product(&seller, Api::product_body("Mật ong bạc hà Mèo Vạc")).await;

    let mut tokens: [Option<String>; 7] = Default::default();
    tokens[GUEST] = guest.as_str().map(str::to_owned);
    tokens[BUYER] = Some(buyer);
    tokens[SELLER] = Some(seller);
    tokens[OTHER_SELLER] = Some(other);
    tokens[ORGANISER] = Some(organiser);
    tokens[ADMIN] = Some(admin);
    let mut seller_ids: [Option<String>; 7] = Default::default();
    seller_ids[SELLER] = seller_user["seller_id"].as_str().map(str::to_owned);
    seller_ids[OTHER_SELLER] = other_user["seller_id"].as_str().map(str::to_owned);
    assert!(seller_ids[SELLER].is_some() && seller_ids[OTHER_SELLER].is_some(), "sellers have profiles");
    World { _app: app, api, tokens, seller_ids, product, login_email }
}

/// Sends the request of `endpoint` as `caller`. Requests that would change something carry values
/// that name the caller, so a leak shows whose request it was.
async fn send(w: &World, endpoint: &str, caller: usize, attempts: &mut Attempts) -> Resp {
    let api = &w.api;
    let token = w.tokens[caller].as_deref();
    let who = CALLERS[caller];
    let product = w.product_path();
    match endpoint {
        "POST /api/auth/register" => {
            let body = json!({"name": format!("Người mua ({who})"), "email": fresh_email("register"),
                              "password": PASSWORD, "role": "buyer"});
            api.post("/api/auth/register", token, body).await
        }
        "POST /api/auth/register (role: admin)" => {
            let email = fresh_email("register-admin");
            let body = json!({"name": format!("Quản trị tự phong ({who})"), "email": email,
                              "password": PASSWORD, "role": "admin"});
            let resp = api.post("/api/auth/register", token, body).await;
            attempts.accounts.push((caller, email, resp.status));
            resp
        }
        "POST /api/auth/login" => {
            api.post("/api/auth/login", token, json!({"email": w.login_email, "password": PASSWORD})).await
        }
        "POST /api/auth/guest" => api.post("/api/auth/guest", token, json!({"name": format!("Khách ({who})")})).await,
        "GET /api/me" => api.get("/api/me", token).await,
        "PUT /api/me/delivery" => {
            let body = json!({"name": format!("Người nhận ({who})"), "phone": DELIVERY_PHONE,
                              "address": "12 Hàng Bạc, phường Hoàn Kiếm, Hà Nội"});
            api.put("/api/me/delivery", token, body).await
        }
        "POST /api/admin/users" => {
            // The most dangerous thing to create: another admin.
            let email = fresh_email("admin-users");
            let body = json!({"name": format!("Quản trị mới ({who})"), "email": email,
                              "password": PASSWORD, "role": "admin"});
            let resp = api.post("/api/admin/users", token, body).await;
            attempts.accounts.push((caller, email, resp.status));
            resp
        }
        "POST /api/products" => {
            let name = format!("Sản phẩm của {who}");
            let resp = api.post("/api/products", token, Api::product_body(&name)).await;
            attempts.products.push((caller, name, resp.status));
            resp
        }
        "GET /api/products" => api.get("/api/products", token).await,
        "GET /api/products/{id}" => api.get(&product, token).await,
        "PATCH /api/products/{id}" => {
            let body = if caller == SELLER {
                json!({"description": OWNER_DESCRIPTION})
            } else {
                json!({"name": format!("Đã bị sửa bởi {who}"), "price": 1000 + caller, "stock": 900 + caller})
            };
            api.patch(&product, token, body).await
        }
        "GET /api/products/{id}/qr.svg" => api.get(&format!("{product}/qr.svg"), token).await,
        "GET /api/sellers/{id}" => {
            api.get(&format!("/api/sellers/{}", w.seller_ids[SELLER].as_deref().unwrap()), token).await
        }
        "PUT /api/seller/profile" => {
            let body = json!({"display_name": profile_name(caller), "kind": "cooperative", "province": "Hà Giang"});
            api.put("/api/seller/profile", token, body).await
        }
        "GET /t/{trace_code}" => api.get(&format!("/t/{}", w.product["trace_code"].as_str().unwrap()), token).await,
        "GET /api/openapi.json" => api.get("/api/openapi.json", token).await,
        other => panic!("no request is written for {other}"),
    }
}

/// Checks the body of a permitted request: it did what the caller asked, as the caller.
fn check_success(w: &World, endpoint: &str, caller: usize, resp: &Resp, what: &str) {
    let body = &resp.body;
    match endpoint {
        "POST /api/auth/register" => {
            assert_eq!(body["user"]["role"], "buyer", "{what}: {resp:?}");
            assert!(body["token"].as_str().is_some_and(|t| !t.is_empty()), "{what}: {resp:?}");
        }
        "POST /api/auth/login" => assert_eq!(body["user"]["email"], w.login_email.as_str(), "{what}: {resp:?}"),
        // A guest token never carries the caller's own role.
        "POST /api/auth/guest" => assert_eq!(body["user"]["role"], "guest", "{what}: {resp:?}"),
        "GET /api/me" => {
            assert_eq!(body["user"]["role"].as_str(), ROLES[caller], "{what}: {resp:?}");
            assert_eq!(body["user"]["seller_id"].as_str(), w.seller_ids[caller].as_deref(), "{what}: {resp:?}");
        }
        "PUT /api/me/delivery" => assert_eq!(body["delivery"]["phone"], DELIVERY_PHONE, "{what}: {resp:?}"),
        "POST /api/admin/users" => assert_eq!(body["user"]["role"], "admin", "{what}: {resp:?}"),
        "POST /api/products" => {
            assert_eq!(body["product"]["seller_id"].as_str(), w.seller_ids[caller].as_deref(), "{what}: {resp:?}")
        }
        "GET /api/products" => assert!(body["items"].is_array(), "{what}: {resp:?}"),
        "GET /api/products/{id}" => assert_eq!(body["product"]["id"], w.product["id"], "{what}: {resp:?}"),
        "PATCH /api/products/{id}" => {
            assert_eq!(body["product"]["description"], OWNER_DESCRIPTION, "{what}: {resp:?}")
        }
        "GET /api/products/{id}/qr.svg" => assert_eq!(resp.content_type, "image/svg+xml", "{what}"),
        "GET /api/sellers/{id}" => {
            assert_eq!(body["seller"]["id"].as_str(), w.seller_ids[SELLER].as_deref(), "{what}: {resp:?}")
        }
        "PUT /api/seller/profile" => {
            // Each seller's own profile, never another's.
            assert_eq!(body["seller"]["id"].as_str(), w.seller_ids[caller].as_deref(), "{what}: {resp:?}");
            assert_eq!(body["seller"]["display_name"], profile_name(caller).as_str(), "{what}: {resp:?}");
        }
        "GET /t/{trace_code}" => assert!(resp.content_type.starts_with("text/html"), "{what}: {}", resp.content_type),
        "GET /api/openapi.json" => assert!(body["paths"].is_object(), "{what}: not an OpenAPI document"),
        other => panic!("no check is written for {other}"),
    }
}

/// `resp.problem(status)`, failing with `what` named.
fn check_problem(resp: &Resp, status: u16, what: &str) {
    if catch_unwind(AssertUnwindSafe(|| {
        resp.problem(status);
    }))
    .is_err()
    {
        panic!("{what}: refused with {status}, but not as application/problem+json: {resp:?}");
    }
}

#[tokio::test]
async fn every_endpoint_answers_every_caller_as_the_matrix_says_and_refusals_change_nothing() {
    let w = setup().await;
    let mut attempts = Attempts::default();
    let mut mismatches = Vec::new();

    for (endpoint, expected) in MATRIX {
        for (caller, &status) in expected.iter().enumerate() {
            let what = format!("{endpoint} as {}", CALLERS[caller]);
            let refused_patch = *endpoint == "PATCH /api/products/{id}" && status >= 400;
            let before = if refused_patch { Some(w.product_now().await) } else { None };

            let resp = send(&w, endpoint, caller, &mut attempts).await;
            if resp.status != status {
                mismatches.push(format!("{what}: expected {status}, got {} {}", resp.status, resp.body));
                continue;
            }
            if status >= 400 {
                check_problem(&resp, status, &what);
            } else {
                check_success(&w, endpoint, caller, &resp, &what);
            }
            if let Some(before) = before {
                assert_eq!(w.product_now().await, before, "{what} changed the product");
            }
        }
    }
    assert!(mismatches.is_empty(), "{} cells disagree with the matrix:\n{}", mismatches.len(), mismatches.join("\n"));

    // Every API row is a documented operation (the trace page and the document itself are not
    // operations of the document).
    let doc = w.api.get("/api/openapi.json", None).await.ok(200).clone();
    for (endpoint, _) in MATRIX {
        let (method, path) = method_and_path(endpoint);
        if path.starts_with("/api/") && path != "/api/openapi.json" {
            assert!(
                doc["paths"][path][method.to_ascii_lowercase()].is_object(),
                "{endpoint} is not in the OpenAPI document"
            );
        }
    }

    // Refused PATCHes left the owner's product as it was; only the owner's description changed.
    let product = w.product_now().await;
    for field in ["name", "price", "stock", "seller_id", "trace_code"] {
        assert_eq!(product[field], w.product[field], "{field} after the refused PATCHes: {product}");
    }
    assert_eq!(product["description"], OWNER_DESCRIPTION, "the owner's PATCH applied: {product}");
    assert_ne!(product["name"], "Đã bị sửa bởi other seller", "the other seller renamed the owner's product");

    // Refused delivery PUTs set no delivery contact; the buyer's was saved.
    for caller in [GUEST, SELLER, OTHER_SELLER, ORGANISER, ADMIN] {
        let me = w.api.get("/api/me", w.tokens[caller].as_deref()).await.ok(200).clone();
        assert!(
            me.get("delivery").is_none(),
            "the refused PUT /api/me/delivery of the {} saved: {me}",
            CALLERS[caller]
        );
    }
    let me = w.api.get("/api/me", w.tokens[BUYER].as_deref()).await.ok(200).clone();
    assert_eq!(me["delivery"]["phone"], DELIVERY_PHONE, "the buyer's delivery: {me}");

    // Refused account creations made no account; the admin's did.
    assert_eq!(attempts.accounts.len(), 2 * CALLERS.len());
    for (caller, email, status) in &attempts.accounts {
        let expected = if *status == 201 { 200 } else { 401 };
        assert_eq!(
            w.login_status(email).await,
            expected,
            "signing in to {email}, whose creation by the {} got {status}",
            CALLERS[*caller]
        );
    }
    assert!(attempts.accounts.iter().any(|(c, _, s)| *c == ADMIN && *s == 201), "the admin created an account");

    // Refused product creations added nothing: the catalog is the setup product and the sellers'.
    let created: Vec<&str> = attempts.products.iter().filter(|p| p.2 == 201).map(|p| p.1.as_str()).collect();
    assert_eq!(created.len(), 2, "both sellers created a product");
    let list = w.api.get("/api/products?limit=100", None).await.ok(200).clone();
    let names: Vec<&str> = list["items"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names.len(), 1 + created.len(), "catalog after the table: {names:?}");
    for (caller, name, status) in &attempts.products {
        assert_eq!(names.contains(&name.as_str()), *status == 201, "{name} by the {}: {names:?}", CALLERS[*caller]);
    }

    // Each seller's PUT changed only that seller's profile.
    for caller in [SELLER, OTHER_SELLER] {
        let path = format!("/api/sellers/{}", w.seller_ids[caller].as_deref().unwrap());
        let seller = w.api.get(&path, None).await.ok(200)["seller"].clone();
        assert_eq!(seller["display_name"], profile_name(caller).as_str(), "profile of the {}", CALLERS[caller]);
    }
}

/// A combo body made of `components` (pairs of product id and quantity).
fn combo_body(name: &str, components: &[(&Value, u32)]) -> Value {
    let mut body = Api::product_body(name);
    let obj = body.as_object_mut().unwrap();
    obj.remove("stock");
    obj.insert("kind".into(), json!("combo"));
    let list: Vec<Value> = components.iter().map(|(id, qty)| json!({"product_id": id, "qty": qty})).collect();
    obj.insert("components".into(), json!(list));
    body
}

/// The header of an unsigned (`alg: none`) JWT: `{"alg":"none","typ":"JWT"}`, base64url.
const ALG_NONE_HEADER: &str = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0";

#[tokio::test]
async fn a_seller_cannot_edit_another_sellers_product_by_any_crafted_request() {
    let app = spawn_app().await;
    let api = app.api();
    let (token_a, user_a) = api.register("seller").await;
    let (token_b, user_b) = api.register("seller").await;
    let honey_a = api.create_product(&token_a, Api::product_body("Mật ong của A")).await;
    let tea_b = api.create_product(&token_b, Api::product_body("Chè Shan tuyết của B")).await;
    let combo_b = api.create_product(&token_b, combo_body("Giỏ quà của B", &[(&tea_b["id"], 2)])).await;
    assert_eq!(combo_b["kind"], "combo");

    let path_of = |p: &Value| format!("/api/products/{}", p["id"].as_str().unwrap());
    let now = |p: &Value| {
        let path = path_of(p);
        let api = api.clone();
        async move { api.get(&path, None).await.ok(200)["product"].clone() }
    };
    let honey_before = now(&honey_a).await;
    let tea_before = now(&tea_b).await;
    let combo_before = now(&combo_b).await;
    let count = || {
        let api = api.clone();
        async move { api.get("/api/products?limit=100", None).await.ok(200)["items"].as_array().unwrap().len() }
    };
    assert_eq!(count().await, 3);

    // B's own combo cannot take in A's product, alone or among B's own.
    let r = api
        .patch(&path_of(&combo_b), Some(&token_b), json!({"components": [{"product_id": honey_a["id"], "qty": 1}]}))
        .await;
    let errors = r.problem(400);
    assert!(errors["components[0].product_id"].is_string(), "{r:?}");
    let mixed = json!({"components": [{"product_id": tea_b["id"], "qty": 1}, {"product_id": honey_a["id"], "qty": 1}]});
    let r = api.patch(&path_of(&combo_b), Some(&token_b), mixed).await;
    let errors = r.problem(400);
    assert!(errors["components[1].product_id"].is_string(), "{r:?}");
    assert!(errors.get("components[0].product_id").is_none(), "B's own product is a fine component: {r:?}");
    assert_eq!(now(&combo_b).await, combo_before, "the refused combo PATCHes changed B's combo");

    // Nor can a new combo of B's.
    let r =
        api.post("/api/products", Some(&token_b), combo_body("Giỏ quà lấy hàng của A", &[(&honey_a["id"], 1)])).await;
    assert!(r.problem(400)["components[0].product_id"].is_string(), "{r:?}");
    assert_eq!(count().await, 3, "the refused combo was not added");

    // A valid PATCH of A's product by B is refused as not the owner.
    let r =
        api.patch(&path_of(&honey_a), Some(&token_b), json!({"name": "Mật ong của B", "price": 1, "stock": 0})).await;
    r.problem(403);
    // Neither can a body naming an owner move a product from one seller to the other.
    let r = api.patch(&path_of(&honey_a), Some(&token_b), json!({"seller_id": user_b["seller_id"]})).await;
    assert!(matches!(r.status, 400 | 403), "{r:?}");
    r.problem(r.status);
    let r = api.patch(&path_of(&tea_b), Some(&token_b), json!({"seller_id": user_a["seller_id"]})).await;
    r.problem(400);

    // Forged tokens claiming to be A are not signed in at all.
    let user_a_claims: ocop_live::auth::User = serde_json::from_value(user_a.clone()).unwrap();
    let foreign = ocop_live::auth::Tokens::new(b"not-the-server-secret-not-the-server").unwrap();
    let wrong_key = foreign.mint(&user_a_claims, std::time::Duration::from_secs(3600));
    let parts_a: Vec<&str> = token_a.split('.').collect();
    let parts_b: Vec<&str> = token_b.split('.').collect();
    let a_claims_b_signature = format!("{}.{}.{}", parts_b[0], parts_a[1], parts_b[2]);
    let unsigned = format!("{ALG_NONE_HEADER}.{}.", parts_a[1]);
    for (what, token) in [
        ("a foreign key", &wrong_key),
        ("A's claims under B's signature", &a_claims_b_signature),
        ("alg none", &unsigned),
    ] {
        let r = api.patch(&path_of(&honey_a), Some(token), json!({"name": "Mật ong giả mạo", "price": 2})).await;
        assert_eq!(r.status, 401, "a token signed with {what}: {r:?}");
        r.problem(401);
    }

    assert_eq!(now(&honey_a).await, honey_before, "B's refused requests changed A's product");
    assert_eq!(now(&tea_b).await, tea_before, "B's product changed owner");

    // The refusals were about ownership: A may edit the same product with the same body.
    let r =
        api.patch(&path_of(&honey_a), Some(&token_a), json!({"name": "Mật ong của B", "price": 1, "stock": 0})).await;
    assert_eq!(r.ok(200)["product"]["name"], "Mật ong của B");
}
