//! The rooms of fairs and booths, and [`FairRooms`], which says which `fair:` and `booth:`
//! channels exist and loads their rooms.
//!
//! Like a show's, each room is kept by the hub from its channel's own events under the lock
//! that queues them, so a visitor joining gets a snapshot and the offset it reflects in one step.

use std::sync::Arc;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{FairError, Fairs, MAX_AGENDA, MAX_BOOTHS, seller_presence};
use crate::auth::User;
use crate::chat::ChatTail;
use crate::domain::fair::BoothStatus;
use crate::domain::show::ShowStatus;
use crate::engine::StreamPosition;
use crate::realtime::channel::{Channel, ChannelKind};
use crate::realtime::protocol::ReplyError;
use crate::realtime::room::{NoFairs, Room, Rooms, not_found};

#[derive(Deserialize)]
struct Frame<'a> {
    #[serde(borrow)]
    ev: &'a str,
    data: Value,
}

/// Skips kept events the room already reflects and moves its position; false to skip.
fn advance(position: &mut StreamPosition, at: Option<&StreamPosition>) -> bool {
    if let Some(p) = at {
        if p.epoch == position.epoch && p.offset <= position.offset {
            return false;
        }
        *position = p.clone();
    }
    true
}

fn encode(value: &Value) -> Arc<RawValue> {
    serde_json::value::to_raw_value(value)
        .map(Arc::from)
        .unwrap_or_else(|_| Arc::from(RawValue::from_string("{}".into()).unwrap_or_default()))
}

fn id_of(v: &Value) -> Option<&Value> {
    v.get("id")
}

/// A fair's lobby: `{fair, live, upcoming, booths, announcement, visitors}`.
#[derive(Debug)]
pub struct LobbyRoom {
    fair: Value,
    live: Vec<Value>,
    upcoming: Vec<Value>,
    booths: Vec<Value>,
    visitors: u64,
    position: StreamPosition,
    snapshot: Option<Arc<RawValue>>,
}

impl LobbyRoom {
    /// The lobby from stored state at `position`: the fair, its agenda's shows, its approved
    /// booths.
    pub fn load(fair: Value, agenda: Vec<Value>, booths: Vec<Value>, visitors: u64, position: StreamPosition) -> Self {
        let status = |s: &Value| s.get("status").and_then(Value::as_str).map(str::to_owned);
        let live = agenda.iter().filter(|s| status(s).as_deref() == Some("live")).cloned().collect();
        let upcoming = agenda.into_iter().filter(|s| status(s).as_deref() == Some("scheduled")).collect();
        Self { fair, live, upcoming, booths, visitors, position, snapshot: None }
    }

    fn remove_show(&mut self, id: Option<&Value>) {
        self.live.retain(|s| id_of(s) != id);
        self.upcoming.retain(|s| id_of(s) != id);
    }
}

impl Room for LobbyRoom {
    fn apply(&mut self, position: Option<&StreamPosition>, frame: &[u8]) -> Option<Uuid> {
        if !advance(&mut self.position, position) {
            return None;
        }
        let Ok(f) = serde_json::from_slice::<Frame<'_>>(frame) else { return None };
        let data = f.data;
        match f.ev {
            "fair" => {
                if let Some(fair) = data.get("fair") {
                    self.fair = fair.clone();
                }
            }
            "show.live" => {
                if let Some(show) = data.get("show") {
                    self.remove_show(id_of(show));
                    self.live.push(show.clone());
                }
            }
            "show.ended" => self.remove_show(data.get("show_id")),
            "agenda" => {
                if let Some(show) = data.get("show") {
                    self.remove_show(id_of(show));
                    if self.upcoming.len() < MAX_AGENDA {
                        let at = |s: &Value| s.get("scheduled_at").and_then(Value::as_str).unwrap_or("").to_owned();
                        let i = self.upcoming.partition_point(|s| at(s) <= at(show));
                        self.upcoming.insert(i, show.clone());
                    }
                }
            }
            "announcement" => {
                if let Some(fair) = self.fair.as_object_mut() {
                    fair.insert("announcement".into(), data.get("text").cloned().unwrap_or(Value::Null));
                }
            }
            "booth" => {
                if let Some(booth) = data.get("booth") {
                    self.booths.retain(|b| id_of(b) != id_of(booth));
                    if booth.get("status").and_then(Value::as_str) == Some("approved") && self.booths.len() < MAX_BOOTHS
                    {
                        self.booths.push(booth.clone());
                    }
                }
            }
            "visitors" => self.visitors = data.get("count").and_then(Value::as_u64).unwrap_or(self.visitors),
            _ => return None,
        }
        self.snapshot = None;
        None
    }

    fn snapshot(&mut self) -> Arc<RawValue> {
        if let Some(s) = &self.snapshot {
            return s.clone();
        }
        let raw = encode(&json!({
            "fair": self.fair,
            "live": self.live,
            "upcoming": self.upcoming,
            "booths": self.booths,
            "announcement": self.fair.get("announcement").cloned().unwrap_or(Value::Null),
            "visitors": self.visitors,
        }));
        self.snapshot = Some(raw.clone());
        raw
    }

    fn position(&self) -> &StreamPosition {
        &self.position
    }

    fn status(&self) -> Option<&str> {
        self.fair.get("status").and_then(Value::as_str)
    }
}

/// A booth: `{booth, chat, seller_online}`.
#[derive(Debug)]
pub struct BoothRoom {
    booth: Value,
    chat: ChatTail,
    seller_online: bool,
    position: StreamPosition,
    snapshot: Option<Arc<RawValue>>,
}

impl BoothRoom {
    /// The booth from stored state at `position`; `recent` are the channel's last kept frames,
    /// replayed for the chat.
    pub fn load(booth: Value, seller_online: bool, position: StreamPosition, recent: &[bytes::Bytes]) -> Self {
        let mut chat = ChatTail::default();
        for frame in recent {
            let Ok(f) = serde_json::from_slice::<Frame<'_>>(frame) else { continue };
            match f.ev {
                "chat" => chat.push(&f.data, frame),
                "chat.deleted" => chat.delete(&f.data),
                _ => {}
            }
        }
        Self { booth, chat, seller_online, position, snapshot: None }
    }
}

impl Room for BoothRoom {
    fn apply(&mut self, position: Option<&StreamPosition>, frame: &[u8]) -> Option<Uuid> {
        if !advance(&mut self.position, position) {
            return None;
        }
        let Ok(f) = serde_json::from_slice::<Frame<'_>>(frame) else { return None };
        match f.ev {
            "chat" => self.chat.push(&f.data, frame),
            "chat.deleted" => self.chat.delete(&f.data),
            "booth" => {
                if let Some(booth) = f.data.get("booth") {
                    self.booth = booth.clone();
                }
            }
            "presence" => {
                self.seller_online = f.data.get("seller_online").and_then(Value::as_bool).unwrap_or(self.seller_online);
            }
            "banned" => return f.data.get("user_id").and_then(Value::as_str).and_then(|u| Uuid::parse_str(u).ok()),
            _ => return None,
        }
        self.snapshot = None;
        None
    }

    fn snapshot(&mut self) -> Arc<RawValue> {
        if let Some(s) = &self.snapshot {
            return s.clone();
        }
        let mut booth = self.booth.clone();
        if let Some(b) = booth.as_object_mut() {
            b.insert("seller_online".into(), json!(self.seller_online));
        }
        let raw = encode(&json!({"booth": booth, "chat": self.chat.frames(), "seller_online": self.seller_online}));
        self.snapshot = Some(raw.clone());
        raw
    }

    fn position(&self) -> &StreamPosition {
        &self.position
    }

    fn status(&self) -> Option<&str> {
        self.booth.get("status").and_then(Value::as_str)
    }
}

/// Which `fair:` and `booth:` channels exist (a fair `user` may see; an approved booth, or
/// one they may see, that has not banned them), and their rooms. Other kinds are [`NoFairs`]'.
pub struct FairRooms(pub Arc<Fairs>);

fn reply(e: FairError, kind: ChannelKind) -> ReplyError {
    match e {
        FairError::NotFound(_) => not_found(kind),
        other => other.into(),
    }
}

#[async_trait]
impl Rooms for FairRooms {
    async fn admit(&self, channel: &Channel, user: Option<&User>) -> Result<(), ReplyError> {
        // A room this node keeps already says the channel exists: a published lobby, an approved
        // booth, joined without a storage read (but for a signed-in visitor's ban).
        let status = self.0.hub.room_status(&channel.to_string());
        match channel.kind {
            ChannelKind::Fair if status.as_deref().is_some_and(|s| s != "draft") => Ok(()),
            ChannelKind::Booth if user.is_none() && status.as_deref() == Some("approved") => Ok(()),
            ChannelKind::Fair => {
                self.0.get_visible(channel.id, user).await.map_err(|e| reply(e, channel.kind))?;
                Ok(())
            }
            ChannelKind::Booth => {
                let booth = self.0.visible_booth(channel.id, user).await.map_err(|e| reply(e, channel.kind))?;
                if let Some(u) = user
                    && self.0.is_banned_from_booth(&booth, u.id).await.map_err(|e| reply(e, channel.kind))?
                {
                    return Err(ReplyError::forbidden("you are banned from this booth"));
                }
                Ok(())
            }
            _ => NoFairs.admit(channel, user).await,
        }
    }

    fn keeps_room(&self, channel: &Channel) -> bool {
        matches!(channel.kind, ChannelKind::Fair | ChannelKind::Booth)
    }

    async fn load(&self, channel: &Channel) -> Result<Box<dyn Room>, ReplyError> {
        let fairs = &self.0;
        let name = channel.to_string();
        // History first: the stored state read after it is at least as new.
        let recent =
            fairs.engine.broker.recent(&name, if channel.kind == ChannelKind::Booth { 1000 } else { 0 }).await?;
        match channel.kind {
            ChannelKind::Fair => {
                let fair = fairs.get(channel.id).await.map_err(|e| reply(e, channel.kind))?;
                let agenda: Vec<Value> = fairs
                    .agenda(channel.id)
                    .await
                    .map_err(|e| reply(e, channel.kind))?
                    .into_iter()
                    .filter(|s| s.status != ShowStatus::Ended)
                    .filter_map(|s| serde_json::to_value(s).ok())
                    .collect();
                let booths: Vec<Value> = fairs
                    .booths_of(channel.id, Some(BoothStatus::Approved))
                    .await
                    .map_err(|e| reply(e, channel.kind))?
                    .into_iter()
                    .filter_map(|b| serde_json::to_value(b).ok())
                    .collect();
                let visitors = fairs.engine.presence.count(&name).await?;
                let fair = serde_json::to_value(fair).map_err(|_| ReplyError::internal())?;
                Ok(Box::new(LobbyRoom::load(fair, agenda, booths, visitors, recent.position)))
            }
            ChannelKind::Booth => {
                let booth = fairs.load_booth(channel.id).await.map_err(|e| reply(e, channel.kind))?.1;
                let online = fairs.engine.presence.count(&seller_presence(channel.id)).await? > 0;
                let booth = serde_json::to_value(booth).map_err(|_| ReplyError::internal())?;
                Ok(Box::new(BoothRoom::load(booth, online, recent.position, &recent.events)))
            }
            _ => NoFairs.load(channel).await,
        }
    }

    fn joined(&self, channel: &Channel, viewer: String) {
        if self.keeps_room(channel) {
            self.0.visited(channel, viewer);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pos(off: u64) -> StreamPosition {
        StreamPosition { offset: off, epoch: "e".into() }
    }

    fn frame(ev: &str, data: Value) -> Vec<u8> {
        json!({"ch": "fair:x", "ev": ev, "data": data}).to_string().into_bytes()
    }

    fn snap(room: &mut dyn Room) -> Value {
        serde_json::from_str(room.snapshot().get()).unwrap()
    }

    #[test]
    fn the_lobby_follows_its_shows_booths_and_announcements() {
        let agenda = vec![
            json!({"id": "a", "status": "scheduled", "scheduled_at": "2026-12-01T13:00:00Z"}),
            json!({"id": "b", "status": "live", "scheduled_at": "2026-12-01T12:00:00Z"}),
        ];
        let mut room = LobbyRoom::load(json!({"status": "open"}), agenda, Vec::new(), 3, pos(2));
        let s = snap(&mut room);
        assert_eq!((s["live"][0]["id"].clone(), s["upcoming"][0]["id"].clone()), (json!("b"), json!("a")));
        room.apply(Some(&pos(2)), &frame("show.ended", json!({"show_id": "b"})));
        assert_eq!(snap(&mut room)["live"].as_array().unwrap().len(), 1, "an event the room reflects is skipped");
        room.apply(Some(&pos(3)), &frame("show.live", json!({"show": {"id": "a", "status": "live"}})));
        room.apply(Some(&pos(4)), &frame("show.ended", json!({"show_id": "b"})));
        room.apply(
            Some(&pos(5)),
            &frame(
                "agenda",
                json!({"show": {"id": "c", "status": "scheduled", "scheduled_at": "2026-12-01T14:00:00Z"}}),
            ),
        );
        room.apply(
            Some(&pos(6)),
            &frame(
                "agenda",
                json!({"show": {"id": "d", "status": "scheduled", "scheduled_at": "2026-12-01T13:30:00Z"}}),
            ),
        );
        room.apply(Some(&pos(7)), &frame("booth", json!({"booth": {"id": "x", "status": "approved"}})));
        room.apply(Some(&pos(8)), &frame("booth", json!({"booth": {"id": "y", "status": "approved"}})));
        room.apply(Some(&pos(9)), &frame("booth", json!({"booth": {"id": "x", "status": "rejected"}})));
        room.apply(Some(&pos(10)), &frame("announcement", json!({"text": "Mở cửa!"})));
        room.apply(None, &frame("visitors", json!({"count": 42})));
        let s = snap(&mut room);
        let ids =
            |v: &Value| v.as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap().to_owned()).collect::<Vec<_>>();
        assert_eq!(ids(&s["live"]), vec!["a"]);
        assert_eq!(ids(&s["upcoming"]), vec!["d", "c"], "by time");
        assert_eq!(ids(&s["booths"]), vec!["y"]);
        assert_eq!(s["announcement"], "Mở cửa!");
        assert_eq!(s["visitors"], 42);
        assert_eq!(room.position().offset, 10);
    }

    #[test]
    fn the_booth_keeps_its_chat_presence_and_changes() {
        let recent = [bytes::Bytes::from(frame("chat", json!({"msg_id": "m1", "text": "Có giao Hà Nội không?"})))];
        let mut room = BoothRoom::load(json!({"id": "b", "status": "approved"}), false, pos(1), &recent);
        assert_eq!(snap(&mut room)["chat"][0]["data"]["msg_id"], "m1");
        room.apply(None, &frame("presence", json!({"seller_online": true})));
        room.apply(
            Some(&pos(2)),
            &frame("booth", json!({"booth": {"id": "b", "title": "Gian mới", "status": "approved"}})),
        );
        room.apply(Some(&pos(3)), &frame("chat.deleted", json!({"msg_id": "m1"})));
        let s = snap(&mut room);
        assert_eq!(s["seller_online"], true);
        assert_eq!(s["booth"]["seller_online"], true);
        assert_eq!(s["booth"]["title"], "Gian mới");
        assert!(s["chat"].as_array().unwrap().is_empty());
        let banned = room.apply(Some(&pos(4)), &frame("banned", json!({"user_id": Uuid::nil()})));
        assert_eq!(banned, Some(Uuid::nil()));
    }
}
