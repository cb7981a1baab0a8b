//! Who may do what in a fair: every fairs endpoint and booth command, tried by every kind of
//! caller; each refusal is checked to change nothing.

use ocop_live::auth::{Role, User};
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Anonymous,
    Guest,
    Buyer,
    OtherBuyer,
    Seller,
    SellerWithoutBooth,
    Organiser,
    OtherOrganiser,
    Admin,
}

const EVERYONE: [Who; 9] = [
    Who::Anonymous,
    Who::Guest,
    Who::Buyer,
    Who::OtherBuyer,
    Who::Seller,
    Who::SellerWithoutBooth,
    Who::Organiser,
    Who::OtherOrganiser,
    Who::Admin,
];

const SIGNED_IN_BUT_GUESTS: &[Who] = &[
    Who::Buyer,
    Who::OtherBuyer,
    Who::Seller,
    Who::SellerWithoutBooth,
    Who::Organiser,
    Who::OtherOrganiser,
    Who::Admin,
];

fn at(offset_s: i64) -> String {
    ocop_live::clock::format_rfc3339(time::OffsetDateTime::now_utc() + time::Duration::seconds(offset_s))
}

fn staff(role: Role) -> User {
    User { id: Uuid::now_v7(), name: format!("{role:?}"), role, email: None, phone: None, seller_id: None }
}

enum Op {
    Rest(Method, String, Option<Value>),
    Ws(&'static str, Value),
}

struct World {
    app: TestApp,
    tokens: Vec<(Who, Option<String>)>,
    fair: String,
    draft: String,
    booth: String,
    show: String,
}

impl World {
    fn token(&self, who: Who) -> Option<&str> {
        self.tokens.iter().find(|(w, _)| *w == who).and_then(|(_, t)| t.as_deref())
    }

    /// What a refused request must leave as it was: the fairs, booths, inquiries, the show, and
    /// the lobby's and the booth's histories.
    async fn fingerprint(&self) -> Value {
        let api = self.app.api();
        let admin = self.token(Who::Admin);
        let mut all = Vec::new();
        for path in [
            format!("/api/fairs/{}", self.fair),
            format!("/api/fairs/{}", self.draft),
            format!("/api/fairs/{}/booths", self.fair),
            format!("/api/fairs/{}/inquiries", self.fair),
            format!("/api/shows/{}", self.show),
        ] {
            all.push(api.get(&path, admin).await.body);
        }
        let broker = &self.app.state.engine.broker;
        for ch in [format!("fair:{}", self.fair), format!("booth:{}", self.booth)] {
            all.push(json!(broker.history(&ch, None).await.unwrap().position.offset));
        }
        Value::Array(all)
    }

    /// Runs `op` as `who`: Ok(true) when allowed, Ok(false) when refused (with the code that
    /// says so), and the answer otherwise.
    async fn run(&self, who: Who, op: &Op) -> (bool, String) {
        match op {
            Op::Rest(method, path, body) => {
                let api = self.app.api();
                let r = api.send(method.clone(), path, self.token(who), body.clone()).await;
                let refused = matches!(r.status, 401 | 403 | 404)
                    || (r.status == 400 && r.body["errors"]["seller_id"].is_string());
                (!refused, format!("{} {}", r.status, r.body))
            }
            Op::Ws(op, params) => {
                let mut c = Client::connect(&self.app, self.token(who)).await;
                let reply = c.call(op, params.clone()).await;
                let code = reply["error"]["code"].as_str().unwrap_or("");
                let refused = matches!(code, "unauthenticated" | "forbidden" | "not_found");
                (!refused, reply.to_string())
            }
        }
    }
}

async fn world() -> (World, Value) {
    let app = spawn_app().await;
    let api = app.api();
    let organiser = staff(Role::Organiser);
    let org = app.token(&organiser);
    let guest =
        api.post("/api/auth/guest", None, json!({"name": "Khách"})).await.ok(200)["token"].as_str().unwrap().to_owned();
    let (buyer, _) = api.register("buyer").await;
    let (buyer2, buyer2_user) = api.register("buyer").await;
    let (seller, _) = api.register("seller").await;
    let (loner, _) = api.register("seller").await;
    let product = api.create_product(&seller, Api::product_body("Mật ong")).await;
    let fair = api
        .post("/api/fairs", Some(&org), json!({"name": "Chợ phiên", "opens_at": at(-60), "closes_at": at(7200)}))
        .await
        .ok(201)["fair"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    api.post(&format!("/api/fairs/{fair}/publish"), Some(&org), json!({})).await.ok(200);
    let draft = api
        .post("/api/fairs", Some(&org), json!({"name": "Nháp", "opens_at": at(3600), "closes_at": at(7200)}))
        .await
        .ok(201)["fair"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let booth = api.post(&format!("/api/fairs/{fair}/booths"), Some(&seller), json!({})).await.ok(201)["booth"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    api.post(&format!("/api/booths/{booth}/approve"), Some(&org), json!({})).await.ok(200);
    let show = api
        .post(
            "/api/shows",
            Some(&seller),
            json!({"title": "Phiên live", "scheduled_at": at(600), "fair_id": fair, "products": [product["id"]]}),
        )
        .await
        .ok(201)["show"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let world = World {
        tokens: vec![
            (Who::Anonymous, None),
            (Who::Guest, Some(guest)),
            (Who::Buyer, Some(buyer)),
            (Who::OtherBuyer, Some(buyer2)),
            (Who::Seller, Some(seller)),
            (Who::SellerWithoutBooth, Some(loner)),
            (Who::Organiser, Some(org)),
            (Who::OtherOrganiser, Some(app.token(&staff(Role::Organiser)))),
            (Who::Admin, Some(app.token(&staff(Role::Admin)))),
        ],
        app,
        fair,
        draft,
        booth,
        show,
    };
    (world, buyer2_user)
}

/// Pending booths of fresh sellers, and open inquiries of the buyer, for the operations that
/// use one up.
async fn pending_booth(w: &World) -> String {
    let api = w.app.api();
    let (s, _) = api.register("seller").await;
    api.post(&format!("/api/fairs/{}/booths", w.fair), Some(&s), json!({})).await.ok(201)["booth"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn inquiry(w: &World) -> String {
    let body = json!({"quantity": 10, "unit": "thùng", "message": "Báo giá giúp"});
    let r = w.app.api().post(&format!("/api/booths/{}/inquiries", w.booth), w.token(Who::Buyer), body).await;
    r.ok(201)["inquiry"]["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn every_fair_operation_is_refused_to_whoever_may_not_and_a_refusal_changes_nothing() {
    let (w, buyer2) = world().await;
    let (fair, draft, booth, show) = (w.fair.clone(), w.draft.clone(), w.booth.clone(), w.show.clone());
    let msg = Uuid::now_v7();
    let (to_approve, to_reject) = (pending_booth(&w).await, pending_booth(&w).await);
    let (to_quote, to_decline) = (inquiry(&w).await, inquiry(&w).await);
    let quote = json!({"price": 100000, "quantity": 10, "valid_until": at(86400)});
    use Who::*;
    let rest = |m: Method, p: String, b: Option<Value>| Op::Rest(m, p, b);
    let table: Vec<(&str, Op, Vec<Who>)> = vec![
        (
            "create a fair",
            rest(
                Method::POST,
                "/api/fairs".into(),
                Some(json!({"name": "Chợ mới", "opens_at": at(3600), "closes_at": at(7200)})),
            ),
            vec![Organiser, OtherOrganiser, Admin],
        ),
        ("see a draft", rest(Method::GET, format!("/api/fairs/{draft}"), None), vec![Organiser, Admin]),
        (
            "change a fair",
            rest(Method::PATCH, format!("/api/fairs/{fair}"), Some(json!({"description": "Mô tả mới"}))),
            vec![Organiser, Admin],
        ),
        ("publish a draft", rest(Method::POST, format!("/api/fairs/{draft}/publish"), None), vec![Organiser, Admin]),
        (
            "announce",
            rest(Method::POST, format!("/api/fairs/{fair}/announcements"), Some(json!({"text": "Chào mừng"}))),
            vec![Organiser, Admin],
        ),
        (
            "see pending booths",
            rest(Method::GET, format!("/api/fairs/{fair}/booths?status=pending"), None),
            vec![Organiser, Admin],
        ),
        (
            "apply for a booth",
            rest(Method::POST, format!("/api/fairs/{fair}/booths"), Some(json!({}))),
            vec![SellerWithoutBooth, Seller],
        ),
        (
            "approve a booth",
            rest(Method::POST, format!("/api/booths/{to_approve}/approve"), None),
            vec![Organiser, Admin],
        ),
        ("reject a booth", rest(Method::POST, format!("/api/booths/{to_reject}/reject"), None), vec![Organiser, Admin]),
        ("see a pending booth", rest(Method::GET, format!("/api/booths/{to_reject}"), None), vec![Organiser, Admin]),
        (
            "change a booth",
            rest(Method::PATCH, format!("/api/booths/{booth}"), Some(json!({"title": "Gian mới"}))),
            vec![Seller],
        ),
        ("follow a show", rest(Method::POST, format!("/api/shows/{show}/follow"), None), SIGNED_IN_BUT_GUESTS.to_vec()),
        (
            "unfollow a show",
            rest(Method::DELETE, format!("/api/shows/{show}/follow"), None),
            SIGNED_IN_BUT_GUESTS.to_vec(),
        ),
        (
            "ask for a quote",
            rest(
                Method::POST,
                format!("/api/booths/{booth}/inquiries"),
                Some(json!({"quantity": 5, "unit": "hộp", "message": "Giá sỉ?"})),
            ),
            vec![Buyer, OtherBuyer],
        ),
        ("quote", rest(Method::POST, format!("/api/inquiries/{to_quote}/quote"), Some(quote)), vec![Seller]),
        ("accept a quote", rest(Method::POST, format!("/api/inquiries/{to_quote}/accept"), None), vec![Buyer]),
        (
            "decline an inquiry",
            rest(Method::POST, format!("/api/inquiries/{to_decline}/decline"), None),
            vec![Seller, Buyer],
        ),
        (
            "read one's inquiries",
            rest(Method::GET, "/api/me/inquiries".into(), None),
            vec![Buyer, OtherBuyer, Seller, SellerWithoutBooth],
        ),
        (
            "read a fair's inquiries",
            rest(Method::GET, format!("/api/fairs/{fair}/inquiries"), None),
            vec![Organiser, Admin],
        ),
        ("read the figures", rest(Method::GET, format!("/api/fairs/{fair}/stats"), None), vec![Organiser, Admin]),
        (
            "read the report",
            rest(Method::GET, format!("/api/fairs/{fair}/report?format=csv"), None),
            vec![Organiser, Admin],
        ),
        (
            "Q&A in a booth",
            Op::Ws("chat.send", json!({"booth": booth, "text": "Có giao tỉnh không?"})),
            vec![Guest, Buyer, OtherBuyer, Seller, SellerWithoutBooth, Organiser, OtherOrganiser, Admin],
        ),
        (
            "delete a booth message",
            Op::Ws("chat.delete", json!({"booth": booth, "msg_id": msg})),
            vec![Seller, Organiser, Admin],
        ),
        (
            "mute in a booth",
            Op::Ws("chat.mute", json!({"booth": booth, "user_id": buyer2["id"], "minutes": 5})),
            vec![Seller, Organiser, Admin],
        ),
        ("slow a booth", Op::Ws("chat.slow", json!({"booth": booth, "seconds": 0})), vec![Seller, Organiser, Admin]),
        (
            "start the fair's show",
            rest(Method::POST, format!("/api/shows/{show}/start"), None),
            vec![Seller, Organiser],
        ),
        (
            "stop the fair's show",
            rest(Method::POST, format!("/api/shows/{show}/end"), Some(json!({"reason": "Kiểm tra"}))),
            vec![Organiser, Seller, Admin],
        ),
        ("close the fair", rest(Method::POST, format!("/api/fairs/{fair}/close"), None), vec![Organiser, Admin]),
    ];
    for (what, op, allowed) in &table {
        for who in EVERYONE.iter().filter(|w| !allowed.contains(w)) {
            let before = w.fingerprint().await;
            let (ok, answer) = w.run(*who, op).await;
            assert!(!ok, "{what}: {who:?} must be refused, got {answer}");
            if *who == Anonymous {
                assert!(
                    answer.starts_with("401")
                        || answer.contains("unauthenticated")
                        || answer.starts_with("403")
                        || answer.starts_with("404"),
                    "{what}: anonymous: {answer}"
                );
            }
            assert_eq!(w.fingerprint().await, before, "{what}: refusing {who:?} changed something");
        }
        // The first allowed caller succeeds; the others are not refused (a later one may find
        // the work done: 409).
        for (i, who) in allowed.iter().enumerate() {
            let (ok, answer) = w.run(*who, op).await;
            assert!(ok, "{what}: {who:?} must be allowed, got {answer}");
            if i == 0 {
                assert!(answer.starts_with('2') || answer.contains("\"ok\":true"), "{what}: {who:?}: {answer}");
            }
        }
    }
}
