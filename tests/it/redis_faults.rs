//! Redis failures: dropped pub/sub connections, restarts with and without persistence.

use serde_json::json;

use crate::engine::Backend;
use crate::helpers::*;

fn raw(v: serde_json::Value) -> Box<serde_json::value::RawValue> {
    serde_json::value::to_raw_value(&v).unwrap()
}

#[tokio::test]
async fn a_killed_pubsub_connection_is_replaced_and_the_gap_filled_from_history() {
    let b = Backend::redis(1000).await;
    let redis = b.redis.as_ref().unwrap();
    let broker = &b.engine.broker;
    broker.subscribe("show:g").await.unwrap();
    for i in 0..10 {
        broker.publish("show:g", "chat", &raw(json!({ "i": i })), true).await.unwrap();
    }
    eventually("first ten", || async { b.recorder.offsets("show:g").len() == 10 }).await;
    redis.cmd(&["CLIENT", "KILL", "TYPE", "pubsub"]).await;
    for i in 10..40 {
        broker.publish("show:g", "chat", &raw(json!({ "i": i })), true).await.unwrap();
    }
    eventually("all forty", || async { b.recorder.offsets("show:g").len() >= 40 }).await;
    assert_eq!(b.recorder.offsets("show:g"), (1..=40).collect::<Vec<_>>());
    assert!(b.recorder.lost.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_restart_that_lost_history_is_reported_as_lost() {
    let mut b = Backend::redis(1000).await;
    b.engine.broker.subscribe("show:l").await.unwrap();
    for _ in 0..3 {
        b.engine.broker.publish("show:l", "chat", &raw(json!({})), true).await.unwrap();
    }
    eventually("three", || async { b.recorder.offsets("show:l").len() == 3 }).await;
    b.redis.as_mut().unwrap().restart().await;
    eventually("the loss is noticed", || async { b.recorder.lost.lock().unwrap().contains(&"show:l".to_owned()) })
        .await;
    // Publishing works again, in a new epoch.
    eventually("publish succeeds again", || async {
        b.engine.broker.publish("show:l", "chat", &raw(json!({})), true).await.is_ok()
    })
    .await;
}

#[tokio::test]
async fn clients_keep_every_event_across_a_redis_restart_with_aof() {
    let mut redis = RedisServer::start_with(true).await;
    let app = spawn_core(redis_config(&redis)).await;
    let ch = public_channel();
    let mut c = Client::connect(&app, None).await;
    c.subscribe(&ch).await;
    for i in 1..=5 {
        app.publish(&ch, "chat", json!({ "n": i })).await;
    }
    for i in 1..=5u64 {
        assert_eq!(c.event().await["off"], i);
    }

    redis.kill();
    eventually("not ready while Redis is down", || async {
        reqwest::get(app.http("/readyz")).await.unwrap().status() == 503
    })
    .await;
    let mut other = Client::connect(&app, None).await;
    let reply = other.call("subscribe", json!({"ch": public_channel()})).await;
    assert_error(&reply, "unavailable");

    redis.restart().await;
    eventually("ready again", || async { reqwest::get(app.http("/readyz")).await.unwrap().status() == 200 }).await;
    let mut published = 5;
    // The node's pub/sub reconnects on its own; events published meanwhile are filled in.
    while published < 10 {
        let raw = raw(json!({ "n": published + 1 }));
        if app.state.engine.broker.publish(&ch, "chat", &raw, true).await.is_ok() {
            published += 1;
        }
    }
    for i in 6..=10u64 {
        let ev = c.event().await;
        assert_eq!(ev["off"], i, "{ev}");
        assert_eq!(ev["data"]["n"], i);
    }
}

#[tokio::test]
async fn clients_are_told_to_recover_when_redis_lost_history() {
    let mut redis = RedisServer::start().await;
    let app = spawn_core(redis_config(&redis)).await;
    let ch = public_channel();
    let mut c = Client::connect(&app, None).await;
    let epoch = {
        c.subscribe(&ch).await;
        app.publish(&ch, "chat", json!({})).await;
        c.event().await;
        app.state.engine.broker.history(&ch, None).await.unwrap().position.epoch
    };
    redis.restart().await;
    assert_eq!(c.closed().await, Ended::Closed(4008));
    eventually("ready again", || async { reqwest::get(app.http("/readyz")).await.unwrap().status() == 200 }).await;
    let mut c = Client::connect(&app, None).await;
    let reply = c.call("subscribe", json!({"ch": ch, "since": {"off": 1, "epoch": epoch}})).await;
    assert_eq!(reply["ok"], true, "{reply}");
    assert_eq!(reply["data"]["recovered"], false);
}
