//! Throttles on sign-in, registration and guest tokens: 429 with Retry-After, counted in the
//! engine (so across nodes on Redis), before any password is hashed.

use ocop_live::Config;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::*;

/// One answer: status, `Retry-After` in seconds when present, and the body.
#[derive(Debug, PartialEq)]
struct Answer {
    status: u16,
    retry_after: Option<u64>,
    body: Value,
}

async fn post(app: &TestApp, path: &str, body: Value, forwarded_for: Option<&str>) -> Answer {
    let mut req = reqwest::Client::new().post(app.http(path)).json(&body);
    if let Some(ip) = forwarded_for {
        req = req.header("x-forwarded-for", ip);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let retry_after = resp.headers().get("retry-after").map(|v| v.to_str().unwrap().parse().unwrap());
    let body = resp.json().await.unwrap_or(Value::Null);
    Answer { status, retry_after, body }
}

async fn login(app: &TestApp, email: &str, password: &str) -> Answer {
    post(app, "/api/auth/login", json!({"email": email, "password": password}), None).await
}

#[track_caller]
fn assert_throttled(a: &Answer) {
    assert_eq!(a.status, 429, "{a:?}");
    assert!(a.retry_after.is_some_and(|s| s >= 1), "Retry-After in whole seconds: {a:?}");
    assert_eq!(a.body["type"], "urn:ocop-live:problem:rate_limited", "{a:?}");
    assert_eq!(a.body["status"], 429, "{a:?}");
}

/// A burst of 3, then waits of 2 s (never longer), so the test stays short.
fn account_limits(mut cfg: Config) -> Config {
    cfg.throttle.login_account_burst = 3;
    cfg.throttle.login_account_delay_ms = 2000;
    cfg.throttle.login_account_max_delay_s = 2;
    cfg
}

async fn register(app: &TestApp, email: &str, password: &str) -> Answer {
    let body = json!({"name": "Chị Thu", "email": email, "password": password, "role": "buyer"});
    post(app, "/api/auth/register", body, None).await
}

/// Wrong passwords, sent to `a` and `b` by turns, until the first 429; returns every answer.
async fn guess_until_throttled(a: &TestApp, b: &TestApp, email: &str) -> Vec<Answer> {
    let mut answers = Vec::new();
    for i in 0..100 {
        let node = if i % 2 == 0 { a } else { b };
        let answer = login(node, email, &format!("doan-sai-{i}")).await;
        let done = answer.status == 429;
        answers.push(answer);
        if done {
            break;
        }
    }
    answers
}

/// The account throttle, on whichever nodes `a` and `b` are (the same node, or two on Redis).
async fn failed_sign_ins_are_throttled_per_account(a: &TestApp, b: &TestApp) {
    let email = format!("thu-{}@test.ocop.vn", Uuid::now_v7().simple());
    let password = "mat-khau-dung-1";
    assert_eq!(register(a, &email, password).await.status, 201);

    let real = guess_until_throttled(a, b, &email).await;
    let statuses: Vec<u16> = real.iter().map(|a| a.status).collect();
    assert_eq!(statuses, [401, 401, 401, 429], "three failures pass, the fourth attempt waits");
    for failed in &real[..3] {
        assert_eq!((failed.status, failed.retry_after), (401, None), "{failed:?}");
    }
    assert_throttled(real.last().unwrap());

    // An address without an account gets the very same answers.
    let ghost = guess_until_throttled(a, b, &format!("khong-co-{}@test.ocop.vn", Uuid::now_v7().simple())).await;
    // The wait left may read one second less on a slow machine, so it is compared as present.
    let shape = |answers: &[Answer]| -> Vec<(u16, bool, Value)> {
        answers.iter().map(|a| (a.status, a.retry_after.is_some(), a.body.clone())).collect()
    };
    assert_eq!(shape(&ghost), shape(&real), "an unknown address is answered exactly like a real one");

    // While the wait lasts, the right password is refused too: it is not even checked.
    assert_throttled(&login(b, &email, password).await);

    // Once the wait is over the owner gets in (refused attempts did not lengthen it), and that
    // forgets the failures: the next wrong password is a plain 401.
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let answer = login(a, &email, password).await;
        if answer.status != 429 {
            assert_eq!(answer.status, 200, "{answer:?}");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the owner is still refused: {answer:?}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let after = login(b, &email, "doan-sai-lan-nua").await;
    assert_eq!((after.status, after.retry_after), (401, None), "{after:?}");
}

#[tokio::test]
async fn failed_sign_ins_are_throttled_per_account_on_memory() {
    let app = spawn_with(account_limits(Config::for_tests())).await;
    failed_sign_ins_are_throttled_per_account(&app, &app).await;
}

#[tokio::test]
async fn failed_sign_ins_are_throttled_per_account_on_redis() {
    let redis = RedisServer::start().await;
    let app = spawn_with(account_limits(redis_config(&redis))).await;
    failed_sign_ins_are_throttled_per_account(&app, &app).await;
}

#[tokio::test]
async fn failed_sign_ins_are_throttled_per_account_across_two_nodes() {
    let redis = RedisServer::start().await;
    let a = spawn_with(account_limits(redis_config(&redis))).await;
    let b = spawn_with(account_limits(redis_config(&redis))).await;
    failed_sign_ins_are_throttled_per_account(&a, &b).await;
}

#[tokio::test]
async fn failed_sign_ins_are_limited_per_client_address_across_accounts() {
    let mut cfg = Config::for_tests();
    cfg.throttle.login_ip_limit = 5;
    let app = spawn_with(cfg).await;
    let email = format!("hoa-{}@test.ocop.vn", Uuid::now_v7().simple());
    assert_eq!(register(&app, &email, "mat-khau-dung-2").await.status, 201);
    // One wrong password each for many addresses: no account throttle ever starts.
    for i in 0..5 {
        let answer = login(&app, &format!("nguoi-{i}-{}@test.ocop.vn", Uuid::now_v7().simple()), "sai-mat-khau").await;
        assert_eq!(answer.status, 401, "{answer:?}");
    }
    assert_throttled(&login(&app, "mot-nguoi-khac@test.ocop.vn", "sai-mat-khau").await);
    // The address is refused for every account, before any password is checked.
    assert_throttled(&login(&app, &email, "mat-khau-dung-2").await);
}

#[tokio::test]
async fn registrations_are_limited_per_client_address() {
    let mut cfg = Config::for_tests();
    cfg.throttle.register_ip_limit = 3;
    let app = spawn_with(cfg).await;
    let taken = format!("da-co-{}@test.ocop.vn", Uuid::now_v7().simple());
    assert_eq!(register(&app, &taken, "mat-khau-123").await.status, 201);
    // Probing an address that has an account counts like any registration.
    assert_eq!(register(&app, &taken, "mat-khau-123").await.status, 409);
    let fresh = format!("moi-{}@test.ocop.vn", Uuid::now_v7().simple());
    assert_eq!(register(&app, &fresh, "mat-khau-123").await.status, 201);
    let refused = register(&app, &format!("them-{}@test.ocop.vn", Uuid::now_v7().simple()), "mat-khau-123").await;
    assert_throttled(&refused);
    assert_throttled(&register(&app, &taken, "mat-khau-123").await);
}

#[tokio::test]
async fn guest_tokens_are_limited_per_client_address() {
    let mut cfg = Config::for_tests();
    cfg.throttle.guest_ip_limit = 2;
    let app = spawn_with(cfg).await;
    for _ in 0..2 {
        assert_eq!(post(&app, "/api/auth/guest", json!({"name": "Khách"}), None).await.status, 200);
    }
    assert_throttled(&post(&app, "/api/auth/guest", json!({"name": "Khách"}), None).await);
}

async fn guests_from(app: &TestApp, forwarded_for: &str) -> Vec<u16> {
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(post(app, "/api/auth/guest", json!({"name": "Khách"}), Some(forwarded_for)).await.status);
    }
    statuses
}

#[tokio::test]
async fn forwarded_addresses_count_only_behind_a_trusted_proxy() {
    let limited = |trusted: &str| {
        let mut cfg = Config::for_tests();
        cfg.throttle.guest_ip_limit = 2;
        cfg.trusted_proxies = vec![trusted.parse().unwrap()];
        cfg
    };
    // The test client (127.0.0.1) is the proxy: each forwarded address has its own count.
    let behind_proxy = spawn_with(limited("127.0.0.0/8")).await;
    assert_eq!(guests_from(&behind_proxy, "198.51.100.1").await, [200, 200, 429]);
    assert_eq!(guests_from(&behind_proxy, "203.0.113.1, 198.51.100.2").await, [200, 200, 429]);
    // A client cannot escape its count by naming itself ahead of what the proxy appended.
    assert_eq!(guests_from(&behind_proxy, "192.0.2.50, 198.51.100.2").await, [429, 429, 429]);

    // The peer is no trusted proxy: the header is ignored and the peer itself is counted.
    let direct = spawn_with(limited("10.0.0.0/8")).await;
    let statuses = vec![
        post(&direct, "/api/auth/guest", json!({"name": "Khách"}), Some("198.51.100.1")).await.status,
        post(&direct, "/api/auth/guest", json!({"name": "Khách"}), Some("198.51.100.2")).await.status,
        post(&direct, "/api/auth/guest", json!({"name": "Khách"}), Some("198.51.100.3")).await.status,
    ];
    assert_eq!(statuses, [200, 200, 429]);
}
