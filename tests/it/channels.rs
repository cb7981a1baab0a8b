//! Only channels that exist can be subscribed.

use std::collections::BTreeMap;

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
async fn command_calls(redis: &RedisServer) -> BTreeMap<String, u64> {
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
