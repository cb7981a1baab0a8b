//! The engine conformance suite: the same tests against the memory and the Redis engine.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use ocop_live::engine::memory::MemoryEngine;
use ocop_live::engine::redis::RedisEngine;
use ocop_live::engine::{Engine, EngineConfig, EngineKind, EventSink, Publication, StreamPosition};
use serde_json::value::RawValue;

use crate::helpers::{RedisServer, eventually};

/// Records what the broker delivers to this node.
#[derive(Default)]
pub struct Recorder {
    pub delivered: Mutex<Vec<(String, Option<u64>, String)>>,
    pub lost: Mutex<Vec<String>>,
}

impl EventSink for Recorder {
    fn deliver(&self, p: Publication) {
        let frame = String::from_utf8(p.frame.to_vec()).unwrap();
        self.delivered.lock().unwrap().push((p.channel.to_string(), p.position.map(|p| p.offset), frame));
    }
    fn lost(&self, channel: &str) {
        self.lost.lock().unwrap().push(channel.to_owned());
    }
}

impl Recorder {
    pub fn offsets(&self, channel: &str) -> Vec<u64> {
        self.delivered.lock().unwrap().iter().filter(|(c, ..)| c == channel).filter_map(|(_, o, _)| *o).collect()
    }
}

pub struct Backend {
    pub engine: Engine,
    pub recorder: Arc<Recorder>,
    pub redis: Option<RedisServer>,
}

fn config(history_size: usize) -> EngineConfig {
    EngineConfig { history_size, history_ttl: Duration::from_secs(600), key_prefix: "conf:".into() }
}

impl Backend {
    pub async fn memory(history_size: usize) -> Self {
        let recorder = Arc::new(Recorder::default());
        let m = Arc::new(MemoryEngine::new(config(history_size), recorder.clone()));
        let engine =
            Engine { kind: EngineKind::Memory, broker: m.clone(), presence: m.clone(), state: m.clone(), sales: m };
        Self { engine, recorder, redis: None }
    }

    pub async fn redis(history_size: usize) -> Self {
        let server = RedisServer::start().await;
        let recorder = Arc::new(Recorder::default());
        let r = Arc::new(RedisEngine::connect(&server.url(), config(history_size), recorder.clone()).await.unwrap());
        let engine =
            Engine { kind: EngineKind::Redis, broker: r.clone(), presence: r.clone(), state: r.clone(), sales: r };
        Self { engine, recorder, redis: Some(server) }
    }
}

fn raw(v: serde_json::Value) -> Box<RawValue> {
    serde_json::value::to_raw_value(&v).unwrap()
}

macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $( #[tokio::test] async fn $name() { super::$name(super::Backend::memory(100).await).await } )*
        }
        mod redis {
            $( #[tokio::test] async fn $name() { super::$name(super::Backend::redis(100).await).await } )*
        }
    };
}

conformance!(
    offsets_are_consecutive_within_one_epoch,
    subscribed_node_receives_every_event_in_order,
    frames_are_identical_on_both_engines,
    history_recovers_what_was_missed,
    history_is_capped,
    a_fresh_channel_starts_at_zero_in_the_empty_epoch,
    ephemeral_events_carry_no_offset_and_are_not_kept,
    presence_sums_unexpired_node_reports,
    state_operations_are_atomic_per_key,
    concurrent_publishers_never_share_an_offset,
    indexes_are_ordered_and_paged,
    batch_reads_and_writes,
    take_all_is_all_or_nothing_under_contention,
    recent_returns_the_last_events_in_order,
    compare_and_set_max_and_sets,
    window_counters_count_atomically_and_expire_from_their_creation,
    a_lease_has_one_holder_renews_for_it_and_passes_on_when_released_or_expired,
);

async fn window_counters_count_atomically_and_expire_from_their_creation(b: Backend) {
    let s = &b.engine.state;
    let window = Duration::from_millis(600);
    let absent = s.count_in_window("throttle:t", 0, window).await.unwrap();
    assert_eq!((absent.count, absent.resets_in), (0, Duration::ZERO), "reading creates nothing");
    assert_eq!(s.get("throttle:t").await.unwrap(), None);
    let first = s.count_in_window("throttle:t", 1, window).await.unwrap();
    assert_eq!(first.count, 1);
    assert!(first.resets_in > Duration::ZERO && first.resets_in <= window, "{first:?}");
    // Concurrent additions lose nothing, and none of them moves the window's end.
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let s = s.clone();
            tokio::spawn(async move {
                for _ in 0..10 {
                    s.count_in_window("throttle:t", 1, Duration::from_secs(3600)).await.unwrap();
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let read = s.count_in_window("throttle:t", 0, window).await.unwrap();
    assert_eq!(read.count, 81);
    assert!(read.resets_in <= first.resets_in, "later additions do not extend the window: {read:?}");
    assert_eq!(s.count_in_window("throttle:t", -1, window).await.unwrap().count, 80);
    eventually("the window ends", || async { s.count_in_window("throttle:t", 0, window).await.unwrap().count == 0 })
        .await;
    assert_eq!(s.count_in_window("throttle:t", 1, window).await.unwrap().count, 1, "a new window starts at 1");
}

async fn recent_returns_the_last_events_in_order(b: Backend) {
    let broker = &b.engine.broker;
    let empty = broker.recent("show:z", 10).await.unwrap();
    assert_eq!((empty.position.offset, empty.events.len()), (0, 0));
    for i in 0..30 {
        broker.publish("show:z", "chat", &raw(serde_json::json!({ "i": i })), true).await.unwrap();
    }
    let r = broker.recent("show:z", 5).await.unwrap();
    assert_eq!(r.position.offset, 30);
    let offs: Vec<u64> = r
        .events
        .iter()
        .map(|f| serde_json::from_slice::<serde_json::Value>(f).unwrap()["off"].as_u64().unwrap())
        .collect();
    assert_eq!(offs, vec![26, 27, 28, 29, 30]);
}

async fn compare_and_set_max_and_sets(b: Backend) {
    let s = &b.engine.state;
    assert!(s.compare_and_set("{s:3}:doc", None, b"v1").await.unwrap());
    assert!(!s.compare_and_set("{s:3}:doc", None, b"v2").await.unwrap());
    assert!(!s.compare_and_set("{s:3}:doc", Some(b"v0"), b"v2").await.unwrap());
    assert!(s.compare_and_set("{s:3}:doc", Some(b"v1"), b"v2").await.unwrap());
    assert_eq!(s.get("{s:3}:doc").await.unwrap().as_deref(), Some(&b"v2"[..]));

    assert_eq!(s.set_max("{s:3}:peak", 5).await.unwrap(), 5);
    assert_eq!(s.set_max("{s:3}:peak", 3).await.unwrap(), 5);
    assert_eq!(s.set_max("{s:3}:peak", 9).await.unwrap(), 9);

    s.set_add("{s:3}:uniq", &["a".into(), "b".into()], None).await.unwrap();
    s.set_add("{s:3}:uniq", &["b".into(), "c".into()], None).await.unwrap();
    s.set_add("{s:3}:uniq", &[], None).await.unwrap();
    assert_eq!(s.set_len("{s:3}:uniq").await.unwrap(), 3);
    assert_eq!(s.set_len("{s:3}:none").await.unwrap(), 0);
}

async fn indexes_are_ordered_and_paged(b: Backend) {
    let s = &b.engine.state;
    for m in ["c", "a", "e", "b", "d", "a"] {
        s.index_add("idx", m).await.unwrap();
    }
    assert_eq!(s.index_range("idx", None, 10).await.unwrap(), vec!["a", "b", "c", "d", "e"]);
    assert_eq!(s.index_range("idx", Some("b"), 2).await.unwrap(), vec!["c", "d"]);
    assert_eq!(s.index_range("idx", Some("e"), 2).await.unwrap(), Vec::<String>::new());
    s.index_remove("idx", "c").await.unwrap();
    assert_eq!(s.index_range("idx", Some("a"), 10).await.unwrap(), vec!["b", "d", "e"]);
    assert!(s.index_range("none", None, 10).await.unwrap().is_empty());
}

async fn batch_reads_and_writes(b: Backend) {
    let s = &b.engine.state;
    let entries = vec![
        ("{s:9}:a".to_owned(), bytes::Bytes::from_static(b"1")),
        ("{s:9}:b".to_owned(), bytes::Bytes::from_static(b"2")),
    ];
    s.set_many(&entries).await.unwrap();
    let got = s.get_many(&["{s:9}:b".into(), "{s:9}:zz".into(), "{s:9}:a".into()]).await.unwrap();
    assert_eq!(got, vec![Some(bytes::Bytes::from_static(b"2")), None, Some(bytes::Bytes::from_static(b"1"))]);
    assert!(s.get_many(&[]).await.unwrap().is_empty());
}

async fn take_all_is_all_or_nothing_under_contention(b: Backend) {
    use ocop_live::engine::Take;
    let s = b.engine.state.clone();
    s.set("{s:7}:honey", b"100", None).await.unwrap();
    s.set("{s:7}:tea", b"30", None).await.unwrap();
    let short = s.take_all(&[("{s:7}:honey".into(), 1), ("{s:7}:tea".into(), 31)]).await.unwrap();
    assert_eq!(short, Take::Short { index: 1, available: 30 });
    assert_eq!(s.get("{s:7}:honey").await.unwrap().as_deref(), Some(&b"100"[..]));
    // 16 buyers race for baskets of 1 honey + 2 tea: exactly 15 baskets exist.
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let s = s.clone();
            tokio::spawn(async move {
                let items = [("{s:7}:honey".to_owned(), 1), ("{s:7}:tea".to_owned(), 2)];
                let mut won = 0;
                for _ in 0..4 {
                    if s.take_all(&items).await.unwrap() == Take::Taken {
                        won += 1;
                    }
                }
                won
            })
        })
        .collect();
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap();
    }
    assert_eq!(total, 15);
    assert_eq!(s.get("{s:7}:tea").await.unwrap().as_deref(), Some(&b"0"[..]));
    assert_eq!(s.get("{s:7}:honey").await.unwrap().as_deref(), Some(&b"85"[..]));
}

async fn offsets_are_consecutive_within_one_epoch(b: Backend) {
    let broker = &b.engine.broker;
    let mut epoch = None;
    for i in 1..=5u64 {
        let pos = broker.publish("show:a", "chat", &raw(serde_json::json!({"i": i})), true).await.unwrap().unwrap();
        assert_eq!(pos.offset, i);
        assert!(!pos.epoch.is_empty());
        assert_eq!(epoch.get_or_insert(pos.epoch.clone()), &pos.epoch);
    }
    // Channels are independent.
    let other = broker.publish("show:b", "chat", &raw(serde_json::json!({})), true).await.unwrap().unwrap();
    assert_eq!(other.offset, 1);
}

async fn subscribed_node_receives_every_event_in_order(b: Backend) {
    let broker = &b.engine.broker;
    broker.subscribe("show:a").await.unwrap();
    for i in 0..200 {
        broker.publish("show:a", "chat", &raw(serde_json::json!({"i": i})), true).await.unwrap();
    }
    eventually("200 deliveries", || async { b.recorder.offsets("show:a").len() >= 200 }).await;
    assert_eq!(b.recorder.offsets("show:a"), (1..=200).collect::<Vec<_>>());
    broker.unsubscribe("show:a").await;
}

async fn frames_are_identical_on_both_engines(b: Backend) {
    let broker = &b.engine.broker;
    broker.subscribe("show:f").await.unwrap();
    broker.publish("show:f", "chat", &raw(serde_json::json!({"text": "chốt 2 \"A1\""})), true).await.unwrap();
    eventually("one delivery", || async { !b.recorder.offsets("show:f").is_empty() }).await;
    let frame = b.recorder.delivered.lock().unwrap()[0].2.clone();
    assert_eq!(frame, r#"{"ch":"show:f","ev":"chat","off":1,"data":{"text":"chốt 2 \"A1\""}}"#);
    let history = broker.history("show:f", Some(&StreamPosition { offset: 0, epoch: String::new() })).await.unwrap();
    assert_eq!(String::from_utf8(history.events[0].to_vec()).unwrap(), frame);
}

async fn history_recovers_what_was_missed(b: Backend) {
    let broker = &b.engine.broker;
    let mut epoch = String::new();
    for i in 0..10 {
        epoch = broker.publish("show:h", "chat", &raw(serde_json::json!({"i": i})), true).await.unwrap().unwrap().epoch;
    }
    let h = broker.history("show:h", Some(&StreamPosition { offset: 4, epoch: epoch.clone() })).await.unwrap();
    assert!(h.recovered);
    assert_eq!(h.position, StreamPosition { offset: 10, epoch: epoch.clone() });
    assert_eq!(h.events.len(), 6);
    assert!(String::from_utf8(h.events[0].to_vec()).unwrap().contains(r#""off":5"#));

    let up_to_date =
        broker.history("show:h", Some(&StreamPosition { offset: 10, epoch: epoch.clone() })).await.unwrap();
    assert!(up_to_date.recovered && up_to_date.events.is_empty());

    let other_epoch =
        broker.history("show:h", Some(&StreamPosition { offset: 4, epoch: "nope".into() })).await.unwrap();
    assert!(!other_epoch.recovered && other_epoch.events.is_empty());

    let future = broker.history("show:h", Some(&StreamPosition { offset: 11, epoch: epoch.clone() })).await.unwrap();
    assert!(!future.recovered);

    let plain = broker.history("show:h", None).await.unwrap();
    assert!(!plain.recovered && plain.events.is_empty());
    assert_eq!(plain.position.offset, 10);
}

async fn history_is_capped(b: Backend) {
    let broker = &b.engine.broker;
    let mut epoch = String::new();
    for i in 0..150 {
        epoch = broker.publish("show:c", "chat", &raw(serde_json::json!({"i": i})), true).await.unwrap().unwrap().epoch;
    }
    // 100 kept: 51..=150.
    let old = broker.history("show:c", Some(&StreamPosition { offset: 40, epoch: epoch.clone() })).await.unwrap();
    assert!(!old.recovered);
    let edge = broker.history("show:c", Some(&StreamPosition { offset: 50, epoch: epoch.clone() })).await.unwrap();
    assert!(edge.recovered);
    assert_eq!(edge.events.len(), 100);
}

async fn a_fresh_channel_starts_at_zero_in_the_empty_epoch(b: Backend) {
    let broker = &b.engine.broker;
    let fresh = broker.history("show:new", None).await.unwrap();
    assert_eq!(fresh.position, StreamPosition { offset: 0, epoch: String::new() });
    let start = StreamPosition { offset: 0, epoch: String::new() };
    let h = broker.history("show:new", Some(&start)).await.unwrap();
    assert!(h.recovered && h.events.is_empty());
    broker.publish("show:new", "chat", &raw(serde_json::json!({})), true).await.unwrap();
    broker.publish("show:new", "chat", &raw(serde_json::json!({})), true).await.unwrap();
    // A client that subscribed before the first event recovers both.
    let h = broker.history("show:new", Some(&start)).await.unwrap();
    assert!(h.recovered);
    assert_eq!(h.events.len(), 2);
}

async fn ephemeral_events_carry_no_offset_and_are_not_kept(b: Backend) {
    let broker = &b.engine.broker;
    broker.subscribe("show:e").await.unwrap();
    let pos = broker.publish("show:e", "viewers", &raw(serde_json::json!({"count": 3})), false).await.unwrap();
    assert!(pos.is_none());
    eventually("ephemeral delivery", || async { !b.recorder.delivered.lock().unwrap().is_empty() }).await;
    let (ch, off, frame) = b.recorder.delivered.lock().unwrap()[0].clone();
    assert_eq!((ch.as_str(), off), ("show:e", None));
    assert_eq!(frame, r#"{"ch":"show:e","ev":"viewers","data":{"count":3}}"#);
    assert_eq!(broker.history("show:e", None).await.unwrap().position.offset, 0);
}

async fn presence_sums_unexpired_node_reports(b: Backend) {
    let p = &b.engine.presence;
    let long = Duration::from_secs(60);
    p.report("show:p", "node-a", 3, long).await.unwrap();
    p.report("show:p", "node-b", 4, long).await.unwrap();
    assert_eq!(p.count("show:p").await.unwrap(), 7);
    p.report("show:p", "node-a", 5, long).await.unwrap();
    assert_eq!(p.count("show:p").await.unwrap(), 9);
    p.report("show:p", "node-b", 0, long).await.unwrap();
    assert_eq!(p.count("show:p").await.unwrap(), 5);
    // A node that stops reporting stops counting.
    p.report("show:p", "node-c", 10, Duration::from_millis(200)).await.unwrap();
    assert_eq!(p.count("show:p").await.unwrap(), 15);
    eventually("the silent node expires", || async { p.count("show:p").await.unwrap() == 5 }).await;
    assert_eq!(p.count("show:none").await.unwrap(), 0);
}

async fn a_lease_has_one_holder_renews_for_it_and_passes_on_when_released_or_expired(b: Backend) {
    let s = &b.engine.state;
    let long = Duration::from_secs(30);
    assert!(s.lease_hold("scheduler", "node-a", long).await.unwrap(), "free: taken");
    assert!(!s.lease_hold("scheduler", "node-b", long).await.unwrap(), "held by another");
    assert!(s.lease_hold("scheduler", "node-a", long).await.unwrap(), "renewed by its holder");
    assert!(!s.lease_release("scheduler", "node-b").await.unwrap(), "only the holder gives it up");
    assert!(!s.lease_hold("scheduler", "node-b", long).await.unwrap(), "still node-a's");
    assert!(s.lease_release("scheduler", "node-a").await.unwrap());
    assert!(!s.lease_release("scheduler", "node-a").await.unwrap(), "given up once");
    assert!(s.lease_hold("scheduler", "node-b", long).await.unwrap(), "released: taken at once");

    // A holder that stops renewing loses it when its time runs out.
    assert!(s.lease_hold("short", "node-a", Duration::from_millis(150)).await.unwrap());
    assert!(!s.lease_hold("short", "node-b", long).await.unwrap());
    eventually("the lapsed lease taken over", || async { s.lease_hold("short", "node-b", long).await.unwrap() }).await;
    assert!(!s.lease_hold("short", "node-a", long).await.unwrap(), "the old holder does not get it back");

    // Many nodes at once: exactly one holds it.
    let tries: Vec<_> = (0..16)
        .map(|i| {
            let s = s.clone();
            tokio::spawn(async move {
                s.lease_hold("contended", &format!("node-{i}"), Duration::from_secs(30)).await.unwrap()
            })
        })
        .collect();
    let mut held = 0;
    for t in tries {
        held += usize::from(t.await.unwrap());
    }
    assert_eq!(held, 1, "one holder among sixteen");
}

async fn state_operations_are_atomic_per_key(b: Backend) {
    let s = &b.engine.state;
    assert_eq!(s.get("{s:1}:k").await.unwrap(), None);
    s.set("{s:1}:k", b"v1", None).await.unwrap();
    assert_eq!(s.get("{s:1}:k").await.unwrap().as_deref(), Some(&b"v1"[..]));
    assert!(!s.set_nx("{s:1}:k", b"v2", None).await.unwrap());
    assert!(s.set_nx("{s:1}:idem", b"x", Some(Duration::from_millis(200))).await.unwrap());
    eventually("ttl expiry", || async { s.get("{s:1}:idem").await.unwrap().is_none() }).await;
    assert!(s.set_nx("{s:1}:idem", b"y", None).await.unwrap());
    assert!(s.delete("{s:1}:k").await.unwrap());
    assert!(!s.delete("{s:1}:k").await.unwrap());

    // Concurrent increments lose nothing.
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let s = s.clone();
            tokio::spawn(async move {
                for _ in 0..50 {
                    s.incr_by("{s:1}:stock", -1).await.unwrap();
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(s.incr_by("{s:1}:stock", 0).await.unwrap(), -400);
}

async fn concurrent_publishers_never_share_an_offset(b: Backend) {
    let broker = b.engine.broker.clone();
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let broker = broker.clone();
            tokio::spawn(async move {
                let mut offs = Vec::new();
                for _ in 0..25 {
                    let p = broker.publish("show:r", "chat", &raw(serde_json::json!({})), true).await.unwrap();
                    offs.push(p.unwrap().offset);
                }
                offs
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all.sort_unstable();
    assert_eq!(all, (1..=200).collect::<Vec<_>>());
}
