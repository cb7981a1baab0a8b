//! Two server instances on one Redis.

use ocop_live::auth::Role;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn a_client_on_node_a_receives_events_published_through_node_b_in_order() {
    let redis = RedisServer::start().await;
    let a = spawn_core(redis_config(&redis)).await;
    let b = spawn_core(redis_config(&redis)).await;
    let ch = public_channel();
    let mut on_a = Client::connect(&a, None).await;
    let mut on_b = Client::connect(&b, None).await;
    on_a.subscribe(&ch).await;
    on_b.subscribe(&ch).await;
    for i in 1..=50 {
        let node = if i % 2 == 0 { &a } else { &b };
        node.publish(&ch, "chat", json!({"text": format!("tin {i}")})).await;
    }
    for client in [&mut on_a, &mut on_b] {
        for i in 1..=50u64 {
            let ev = client.event().await;
            assert_eq!(ev["off"], i, "{ev}");
            assert_eq!(ev["data"]["text"], format!("tin {i}"));
        }
    }
}

#[tokio::test]
async fn a_client_recovers_on_another_node() {
    let redis = RedisServer::start().await;
    let a = spawn_core(redis_config(&redis)).await;
    let b = spawn_core(redis_config(&redis)).await;
    let ch = public_channel();
    let mut c = Client::connect(&a, None).await;
    let sub = c.subscribe(&ch).await;
    assert_eq!(sub["epoch"], "");
    a.publish(&ch, "chat", json!({"n": 1})).await;
    let first = c.event().await;
    assert_eq!(first["off"], 1);
    drop(c);
    // While it is away, node B publishes; the epoch is read from history.
    b.publish(&ch, "chat", json!({"n": 2})).await;
    b.publish(&ch, "chat", json!({"n": 3})).await;
    let epoch = b.state.engine.broker.history(&ch, None).await.unwrap().position.epoch;

    let mut c = Client::connect(&b, None).await;
    let reply = c.call("subscribe", json!({"ch": ch, "since": {"off": 1, "epoch": epoch}})).await;
    assert_eq!(reply["data"]["recovered"], true, "{reply}");
    let ns: Vec<u64> =
        reply["data"]["missed"].as_array().unwrap().iter().map(|e| e["data"]["n"].as_u64().unwrap()).collect();
    assert_eq!(ns, vec![2, 3]);
}

#[tokio::test]
async fn tokens_from_one_node_are_trusted_by_the_other_and_private_channels_cross_nodes() {
    let redis = RedisServer::start().await;
    let a = spawn_with(redis_config(&redis)).await;
    let b = spawn_with(redis_config(&redis)).await;
    let buyer = user(Role::Buyer);
    let mut c = Client::connect(&b, Some(&a.token(&buyer))).await;
    let ch = format!("user:{}", buyer.id);
    c.subscribe(&ch).await;
    a.publish(&ch, "order", json!({"order": {"id": "x"}})).await;
    let ev = c.event().await;
    assert_eq!(ev["ch"], ch);
    assert_eq!(ev["off"], 1);
}

#[tokio::test]
async fn viewer_counts_add_up_across_nodes() {
    let redis = RedisServer::start().await;
    let a = spawn_core(redis_config(&redis)).await;
    let b = spawn_core(redis_config(&redis)).await;
    let ch = public_channel();
    let mut clients = Vec::new();
    for node in [&a, &a, &b] {
        let mut c = Client::connect(node, None).await;
        c.subscribe(&ch).await;
        clients.push(c);
    }
    eventually("3 viewers over two nodes", || async { a.state.engine.presence.count(&ch).await.unwrap() == 3 }).await;
    clients.pop();
    eventually("a viewer left node B", || async { b.state.engine.presence.count(&ch).await.unwrap() == 2 }).await;
}
