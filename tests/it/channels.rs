//! Only channels that exist can be subscribed, and an idle subscription costs the engine
//! nothing while nothing changes.

use std::collections::BTreeMap;
use std::time::Duration;

use ocop_live::auth::Role;
use serde_json::json;
use uuid::Uuid;

use crate::helpers::*;

async fn unknown_fairs_booths_and_shows_are_not_found(app: &TestApp) {
    let buyer = app.token(&user(Role::Buyer));
    for token in [None, Some(buyer.as_str())] {
        let mut c = Client::connect(app, token).await;
        for kind in ["fair", "booth", "show"] {
            let reply = c.call("subscribe", json!({"ch": format!("{kind}:{}", Uuid::now_v7())})).await;
            assert_error(&reply, "not_found");
        }
    }
}

#[tokio::test]
async fn unknown_fairs_booths_and_shows_are_not_found_on_memory() {
    unknown_fairs_booths_and_shows_are_not_found(&spawn_app().await).await;
}

#[tokio::test]
async fn unknown_fairs_booths_and_shows_are_not_found_on_redis() {
    let redis = RedisServer::start().await;
    let app = spawn_with(redis_config(&redis)).await;
    unknown_fairs_booths_and_shows_are_not_found(&app).await;
    // Refused before the node subscribes: made-up fairs and booths never reach Redis.
    let before = command_calls(&redis).await;
    let mut c = Client::connect(&app, None).await;
    for i in 0..32 {
        let kind = if i % 2 == 0 { "fair" } else { "booth" };
        assert_error(&c.call("subscribe", json!({"ch": format!("{kind}:{}", Uuid::now_v7())})).await, "not_found");
    }
    let after = command_calls(&redis).await;
    assert_eq!(after.get("subscribe"), before.get("subscribe"), "no SUBSCRIBE for a channel that does not exist");
}

/// Calls per command so far, from `INFO commandstats`.
pub(crate) async fn command_calls(redis: &RedisServer) -> BTreeMap<String, u64> {
    let info = redis.cmd(&["INFO", "commandstats"]).await;
    let text: String = redis::from_redis_value(info).unwrap();
    text.lines()
        .filter_map(|line| {
            let (name, stats) = line.strip_prefix("cmdstat_")?.split_once(':')?;
            let calls = stats.split(',').find_map(|kv| kv.strip_prefix("calls="))?.parse().ok()?;
            Some((name.to_owned(), calls))
        })
        .collect()
}

/// The commands Redis ran over a few seconds, with their calls (the test's own INFO aside).
async fn commands_over_a_while(redis: &RedisServer) -> BTreeMap<String, u64> {
    let before = command_calls(redis).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = command_calls(redis).await;
    after
        .into_iter()
        .filter(|(name, _)| name != "info")
        .filter_map(|(name, calls)| {
            let delta = calls - before.get(&name).copied().unwrap_or(0);
            (delta > 0).then_some((name, delta))
        })
        .collect()
}

#[tokio::test]
async fn idle_subscriptions_cost_redis_nothing_while_nothing_changes() {
    let redis = RedisServer::start().await;
    let app = spawn_with(redis_config(&redis)).await;
    let api = app.api();
    let (seller, _) = api.register("seller").await;
    let mut shows = Vec::new();
    for i in 0..6 {
        let show = api.post("/api/shows", Some(&seller), json!({"title": format!("Phiên chợ {i}")})).await;
        shows.push(show.ok(201)["show"]["id"].as_str().unwrap().to_owned());
    }
    // What the node runs with nobody subscribed: its own timers (readiness, offer expiry, the
    // fair scheduler's lease).
    let unsubscribed = commands_over_a_while(&redis).await;

    // Idle viewers on every show, anonymous and signed in.
    let buyer = app.token(&user(Role::Buyer));
    let mut viewers = Vec::new();
    for i in 0..24 {
        let mut c = Client::connect(&app, (i % 2 == 0).then_some(buyer.as_str())).await;
        c.subscribe(&format!("show:{}", shows[i % shows.len()])).await;
        viewers.push(c);
    }
    for id in &shows {
        let ch = format!("show:{id}");
        let presence = &app.state.engine.presence;
        eventually("the viewers are reported", || async { presence.count(&ch).await.unwrap() == 4 }).await;
    }
    // The tick that reported them may still be broadcasting the totals.
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let idle = commands_over_a_while(&redis).await;
    // The node's own scripts (the fair scheduler renewing its lease once a second) run in both
    // windows; a subscription adds none (no presence report, count or publish).
    let scripts = |m: &BTreeMap<String, u64>| m.get("evalsha").copied().unwrap_or(0);
    assert!(
        scripts(&idle) <= scripts(&unsubscribed) + 1,
        "no script (presence report, count, publish) while nothing changed: {idle:?} (unsubscribed: {unsubscribed:?})"
    );
    for (name, calls) in &idle {
        assert!(
            unsubscribed.contains_key(name),
            "{name} ran {calls} times only because of idle subscriptions: {idle:?} (unsubscribed: {unsubscribed:?})"
        );
    }
    drop(viewers);
}

#[tokio::test]
async fn a_chat_message_in_a_show_watched_here_does_not_read_the_show_from_redis() {
    let redis = RedisServer::start().await;
    let mut cfg = redis_config(&redis);
    cfg.limits.chat_burst = 20;
    let app = spawn_with(cfg).await;
    let api = app.api();
    let (seller, _) = api.register("seller").await;
    let show = api.post("/api/shows", Some(&seller), json!({"title": "Phiên chợ"})).await.ok(201)["show"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    api.post(&format!("/api/shows/{show}/start"), Some(&seller), json!({})).await.ok(200);
    let guest =
        api.post("/api/auth/guest", None, json!({"name": "Khách"})).await.ok(200)["token"].as_str().unwrap().to_owned();
    let mut c = Client::connect(&app, Some(&guest)).await;
    c.subscribe(&format!("show:{show}")).await;
    let before = command_calls(&redis).await;
    for i in 0..5 {
        let r = c.call("chat.send", json!({"show": show, "text": format!("Xin chào {i}")})).await;
        assert_eq!(r["ok"], true, "{r}");
    }
    let after = command_calls(&redis).await;
    let gets = after.get("get").copied().unwrap_or(0) - before.get("get").copied().unwrap_or(0);
    // Each message reads the sender's two chat marks (ban, mute: one pipelined round trip).
    // Read from storage, the show would cost two more reads a message (its owner, then the
    // show), in two more round trips: 20 in all.
    assert!(gets <= 5 * 2 + 3, "5 messages read {gets} keys");
}
