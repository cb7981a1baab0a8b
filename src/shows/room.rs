//! A show's live state as this node sees it, kept up to date from the channel's own events.
//!
//! The hub applies every event of a `show:` channel to its [`ShowRoom`] under the same lock that
//! queues the event for subscribers, so a joining viewer gets a snapshot and an offset that agree
//! exactly: everything up to the offset is in the snapshot, everything after arrives live. The
//! snapshot is encoded once per change and shared by every viewer who joins before the next one.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

use crate::chat::ChatTail;
use crate::engine::StreamPosition;
use crate::realtime::room::Room;

#[derive(Debug)]
pub struct ShowRoom {
    show: Value,
    pinned: Value,
    offers: Vec<Value>,
    viewers: u64,
    hearts: u64,
    announcement: Option<String>,
    chat: ChatTail,
    position: StreamPosition,
    snapshot: Option<Arc<RawValue>>,
}

#[derive(Deserialize)]
struct Frame<'a> {
    #[serde(borrow)]
    ev: &'a str,
    #[serde(default)]
    off: Option<u64>,
    data: Value,
}

impl ShowRoom {
    /// A room from stored state at `position`; `recent` are the channel's last kept frames up to
    /// that position, replayed for the chat.
    pub fn load(
        show: Value,
        pinned: Value,
        offers: Vec<Value>,
        viewers: u64,
        hearts: u64,
        position: StreamPosition,
        recent: &[bytes::Bytes],
    ) -> Self {
        let announcement = show.get("announcement").and_then(Value::as_str).map(str::to_owned);
        let mut room = Self {
            show,
            pinned,
            offers,
            viewers,
            hearts,
            announcement,
            chat: ChatTail::default(),
            position: StreamPosition { offset: 0, epoch: position.epoch.clone() },
            snapshot: None,
        };
        for frame in recent {
            room.apply_chat_only(frame);
        }
        room.position = position;
        room
    }

    fn apply_chat_only(&mut self, frame: &[u8]) {
        let Ok(f) = serde_json::from_slice::<Frame<'_>>(frame) else { return };
        match f.ev {
            "chat" => self.chat.push(&f.data, frame),
            "chat.deleted" => self.chat.delete(&f.data),
            _ => {}
        }
    }
}

impl Room for ShowRoom {
    /// Applies one event of the channel. Kept events at or before the room's position are
    /// already reflected and are skipped. Returns the user to remove from the channel when the
    /// event bans one.
    fn apply(&mut self, position: Option<&StreamPosition>, frame: &[u8]) -> Option<uuid::Uuid> {
        if let Some(p) = position {
            if p.epoch == self.position.epoch && p.offset <= self.position.offset {
                return None;
            }
            self.position = p.clone();
        }
        let Ok(f) = serde_json::from_slice::<Frame<'_>>(frame) else { return None };
        let _ = f.off;
        let data = f.data;
        match f.ev {
            "chat" => self.chat.push(&data, frame),
            "chat.deleted" => self.chat.delete(&data),
            "pinned" => {
                self.pinned = data.get("product").cloned().unwrap_or(Value::Null);
                let id = self.pinned.get("id").cloned().unwrap_or(Value::Null);
                if let Some(show) = self.show.as_object_mut() {
                    show.insert("pinned_product_id".into(), id);
                }
            }
            "status" => {
                if let (Some(status), Some(show)) = (data.get("status"), self.show.as_object_mut()) {
                    show.insert("status".into(), status.clone());
                }
            }
            "show" => {
                if let Some(show) = data.get("show") {
                    self.show = show.clone();
                }
            }
            "announcement" => {
                self.announcement = data.get("text").and_then(Value::as_str).map(str::to_owned);
                if let Some(show) = self.show.as_object_mut() {
                    show.insert("announcement".into(), data.get("text").cloned().unwrap_or(Value::Null));
                }
            }
            "viewers" => self.viewers = data.get("count").and_then(Value::as_u64).unwrap_or(self.viewers),
            "reactions" => self.hearts = data.get("heart").and_then(Value::as_u64).unwrap_or(self.hearts),
            "offer" => {
                if let Some(offer) = data.get("offer") {
                    let id = offer.get("id").cloned();
                    self.offers.retain(|o| o.get("id") != id.as_ref());
                    if offer.get("status").and_then(Value::as_str) == Some("live") {
                        self.offers.push(offer.clone());
                    }
                }
            }
            "stock" => {
                let id = data.get("offer_id");
                if let Some(o) = self.offers.iter_mut().find(|o| o.get("id") == id)
                    && let (Some(obj), Some(remaining)) = (o.as_object_mut(), data.get("remaining"))
                {
                    obj.insert("remaining".into(), remaining.clone());
                }
            }
            "banned" => {
                return data.get("user_id").and_then(Value::as_str).and_then(|u| uuid::Uuid::parse_str(u).ok());
            }
            _ => return None,
        }
        self.snapshot = None;
        None
    }

    /// `{show, pinned, offers, viewers, reactions, chat, announcement}`, encoded once per change.
    fn snapshot(&mut self) -> Arc<RawValue> {
        if let Some(s) = &self.snapshot {
            return s.clone();
        }
        let chat = self.chat.frames();
        let value = serde_json::json!({
            "show": self.show,
            "pinned": self.pinned,
            "offers": self.offers,
            "viewers": self.viewers,
            "reactions": {"heart": self.hearts},
            "chat": chat,
            "announcement": self.announcement,
        });
        let raw: Arc<RawValue> = serde_json::value::to_raw_value(&value)
            .map(Arc::from)
            .unwrap_or_else(|_| Arc::from(RawValue::from_string("{}".into()).unwrap_or_default()));
        self.snapshot = Some(raw.clone());
        raw
    }

    /// The position the room reflects.
    fn position(&self) -> &StreamPosition {
        &self.position
    }

    fn status(&self) -> Option<&str> {
        self.show.get("status").and_then(Value::as_str)
    }

    fn record(&self) -> Option<&Value> {
        Some(&self.show)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pos(off: u64) -> StreamPosition {
        StreamPosition { offset: off, epoch: "e".into() }
    }

    fn frame(off: u64, ev: &str, data: Value) -> Vec<u8> {
        json!({"ch": "show:x", "ev": ev, "off": off, "data": data}).to_string().into_bytes()
    }

    #[test]
    fn chat_is_capped_and_deletions_apply() {
        let mut room = ShowRoom::load(json!({"status": "live"}), Value::Null, Vec::new(), 0, 0, pos(0), &[]);
        for i in 1..=60u64 {
            room.apply(Some(&pos(i)), &frame(i, "chat", json!({"msg_id": format!("m{i}"), "text": "x"})));
        }
        room.apply(Some(&pos(61)), &frame(61, "chat.deleted", json!({"msg_id": "m60"})));
        let snap: Value = serde_json::from_str(room.snapshot().get()).unwrap();
        let ids: Vec<&str> =
            snap["chat"].as_array().unwrap().iter().map(|c| c["data"]["msg_id"].as_str().unwrap()).collect();
        assert_eq!(ids.len(), 49);
        assert_eq!(ids.first(), Some(&"m11"));
        assert_eq!(ids.last(), Some(&"m59"));
        assert_eq!(room.position().offset, 61);
    }

    #[test]
    fn old_events_are_skipped_and_state_events_apply() {
        let mut room = ShowRoom::load(json!({"status": "scheduled"}), Value::Null, Vec::new(), 0, 0, pos(5), &[]);
        room.apply(Some(&pos(5)), &frame(5, "status", json!({"status": "ended"})));
        assert_eq!(room.status(), Some("scheduled"));
        room.apply(Some(&pos(6)), &frame(6, "status", json!({"status": "live"})));
        room.apply(Some(&pos(7)), &frame(7, "pinned", json!({"product": {"id": "p"}})));
        room.apply(None, br#"{"ch":"show:x","ev":"viewers","data":{"count":12}}"#);
        room.apply(None, br#"{"ch":"show:x","ev":"reactions","data":{"heart":99}}"#);
        let snap: Value = serde_json::from_str(room.snapshot().get()).unwrap();
        assert_eq!(snap["show"]["status"], "live");
        assert_eq!(snap["pinned"]["id"], "p");
        assert_eq!(snap["viewers"], 12);
        assert_eq!(snap["reactions"]["heart"], 99);
    }

    #[test]
    fn the_snapshot_is_shared_until_something_changes() {
        let mut room = ShowRoom::load(json!({}), Value::Null, Vec::new(), 0, 0, pos(0), &[]);
        let a = room.snapshot();
        assert!(Arc::ptr_eq(&a, &room.snapshot()));
        room.apply(Some(&pos(1)), &frame(1, "announcement", json!({"text": "Giảm giá!"})));
        assert!(!Arc::ptr_eq(&a, &room.snapshot()));
    }
}
