//! Chat in a room of any kind (a show's now, a booth's Q&A next): the rules a message passes
//! (cleaning, length, each sender's rate, bans, mutes, banned words, slow mode), phone numbers
//! masked, and moderation (mute, ban, the announcement's text) with its log.
//!
//! A room is a [`Room`]: its id and the key its marks live under (in the room owner's hash tag,
//! so one room's chat state stays on one Redis slot). Who moderates, loading the room and
//! publishing the message stay with the room's own service; this module knows no show.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::Clock as _;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::User;
use crate::clock::Clock;
use crate::engine::{EngineError, State};
use crate::vn::WordFilter;

/// Longest chat message, in characters after cleaning.
pub const MAX_CHAT_CHARS: usize = 500;
/// Longest mute a moderator can give, in minutes (a day).
pub const MAX_MUTE_MINUTES: u32 = 24 * 60;
/// Longest slow mode, in seconds.
pub const MAX_SLOW_SECONDS: u32 = 600;
/// How long bans and the moderation log outlive the room.
const CHAT_DATA_TTL: Duration = Duration::from_secs(90 * 24 * 3600);
/// Entries of the moderation log one read returns, oldest first.
const LOG_READ: usize = 1000;

#[derive(Debug, thiserror::Error)]
pub enum ChatError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("muted")]
    Muted { retry_after_ms: u64 },
    #[error("rate limited")]
    RateLimited { retry_after_ms: u64 },
    #[error(transparent)]
    Engine(#[from] EngineError),
}

/// One room's chat: its id and the key its marks (bans, mutes, slow mode, the log) live under.
#[derive(Debug, Clone, Copy)]
pub struct Room<'a> {
    pub id: Uuid,
    pub base: &'a str,
    /// Seconds each sender who is not a moderator waits between messages; 0 is off.
    pub slow_mode_s: u32,
}

impl Room<'_> {
    fn key(&self, what: &str) -> String {
        format!("{}:{what}", self.base)
    }
}

/// One recorded moderation action.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ModerationEntry {
    pub id: Uuid,
    pub at: String,
    /// Who acted.
    pub by: ModerationActor,
    /// `delete`, `mute`, `ban`, `slow`, `announce`, `moderators`.
    pub action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ModerationActor {
    pub id: Uuid,
    pub name: String,
}

/// Settings of chat.
#[derive(Debug, Clone)]
pub struct ChatConfig {
    /// Messages a second each sender may send in one room, and the burst above it.
    pub rate: u32,
    pub burst: u32,
    pub banned_words: Vec<String>,
}

/// The chat rules and moderation, shared by every room of this node.
pub struct Chat {
    state: Arc<dyn State>,
    clock: Clock,
    limiter: DefaultKeyedRateLimiter<(Uuid, Uuid)>,
    banned_words: WordFilter,
}

impl Chat {
    pub fn new(state: Arc<dyn State>, clock: Clock, config: ChatConfig) -> Self {
        let quota = Quota::per_second(NonZeroU32::new(config.rate).unwrap_or(NonZeroU32::MIN))
            .allow_burst(NonZeroU32::new(config.burst).unwrap_or(NonZeroU32::MIN));
        Self { state, clock, limiter: RateLimiter::keyed(quota), banned_words: WordFilter::new(config.banned_words) }
    }

    /// What can be checked before the room is read: the text cleaned, not empty and not too
    /// long, and the sender within its rate in room `room`. Returns the cleaned text.
    pub fn precheck(&self, room: Uuid, sender: &User, text: &str) -> Result<String, ChatError> {
        let text = crate::vn::clean_text(text);
        if text.is_empty() {
            return Err(ChatError::BadRequest("the message is empty".into()));
        }
        if text.chars().count() > MAX_CHAT_CHARS {
            return Err(ChatError::BadRequest(format!("a message is at most {MAX_CHAT_CHARS} characters")));
        }
        if let Err(wait) = self.limiter.check_key(&(room, sender.id)) {
            let retry = wait.wait_time_from(self.limiter.clock().now());
            return Err(ChatError::RateLimited { retry_after_ms: (retry.as_millis() as u64).max(1) });
        }
        Ok(text)
    }

    /// The rules that need the room (a ban, a mute, banned words, slow mode, which moderators
    /// skip), then the message as published: `{msg_id, user: {id, name, role}, text, at}` with
    /// phone numbers masked. `text` is what [`Chat::precheck`] returned.
    pub async fn admit(
        &self,
        room: &Room<'_>,
        sender: &User,
        moderator: bool,
        text: &str,
    ) -> Result<(Uuid, Value), ChatError> {
        let keys = [room.key(&format!("ban:{}", sender.id)), room.key(&format!("mute:{}", sender.id))];
        let marks = self.state.get_many(&keys).await?;
        if marks[0].is_some() {
            return Err(ChatError::Forbidden("you are banned from this show"));
        }
        if let Some(until) =
            marks[1].as_ref().and_then(|b| std::str::from_utf8(b).ok()).and_then(|s| s.parse::<u64>().ok())
        {
            let now = self.clock.now_ms();
            if until > now {
                return Err(ChatError::Muted { retry_after_ms: until - now });
            }
        }
        if self.banned_words.is_blocked(text) {
            return Err(ChatError::BadRequest("the message contains a word that is not allowed here".into()));
        }
        if room.slow_mode_s > 0 && !moderator {
            let ttl = Duration::from_secs(u64::from(room.slow_mode_s));
            if !self.state.set_nx(&room.key(&format!("slow:{}", sender.id)), b"1", Some(ttl)).await? {
                return Err(ChatError::RateLimited { retry_after_ms: u64::from(room.slow_mode_s) * 1000 });
            }
        }
        let msg_id = Uuid::now_v7();
        let message = json!({
            "msg_id": msg_id,
            "user": {"id": sender.id, "name": sender.name, "role": sender.role},
            "text": crate::vn::mask_phones(text),
            "at": self.clock.rfc3339(),
        });
        Ok((msg_id, message))
    }

    /// Refuses a mute of a length no moderator can give.
    pub fn check_mute(minutes: u32) -> Result<(), ChatError> {
        if (1..=MAX_MUTE_MINUTES).contains(&minutes) {
            Ok(())
        } else {
            Err(ChatError::BadRequest(format!("minutes must be from 1 to {MAX_MUTE_MINUTES}")))
        }
    }

    /// Silences `target` in the room for `minutes` (checked with [`Chat::check_mute`]).
    pub async fn mute(&self, room: &Room<'_>, target: Uuid, minutes: u32) -> Result<(), ChatError> {
        Self::check_mute(minutes)?;
        let ttl = Duration::from_secs(u64::from(minutes) * 60);
        let until = self.clock.now_ms() + ttl.as_millis() as u64;
        self.state.set(&room.key(&format!("mute:{target}")), until.to_string().as_bytes(), Some(ttl)).await?;
        Ok(())
    }

    /// Removes `target` from the room for good (the room's service refuses moderators first).
    pub async fn ban(&self, room: &Room<'_>, target: Uuid) -> Result<(), ChatError> {
        self.state.set(&room.key(&format!("ban:{target}")), b"1", Some(CHAT_DATA_TTL)).await?;
        Ok(())
    }

    /// Whether `user` is banned from the room whose marks live under `base`.
    pub async fn is_banned(&self, base: &str, user: Uuid) -> Result<bool, ChatError> {
        Ok(self.state.get(&format!("{base}:ban:{user}")).await?.is_some())
    }

    /// Refuses a slow mode longer than allowed.
    pub fn check_slow(seconds: u32) -> Result<(), ChatError> {
        if seconds > MAX_SLOW_SECONDS {
            Err(ChatError::BadRequest(format!("seconds must be from 0 to {MAX_SLOW_SECONDS}")))
        } else {
            Ok(())
        }
    }

    /// An announcement's text, cleaned; empty clears it.
    pub fn announcement(text: &str) -> Result<String, ChatError> {
        let text = crate::vn::clean_text(text);
        if text.chars().count() > MAX_CHAT_CHARS {
            return Err(ChatError::BadRequest(format!("an announcement is at most {MAX_CHAT_CHARS} characters")));
        }
        Ok(text)
    }

    /// Records a moderation action in the room's log.
    pub async fn log(
        &self,
        room: &Room<'_>,
        by: &User,
        action: &str,
        target: Option<String>,
        detail: Option<String>,
    ) -> Result<(), ChatError> {
        let entry = ModerationEntry {
            id: Uuid::now_v7(),
            at: self.clock.rfc3339(),
            by: ModerationActor { id: by.id, name: by.name.clone() },
            action: action.to_owned(),
            target,
            detail,
        };
        let encoded = serde_json::to_vec(&entry).map_err(|e| EngineError::Internal(e.to_string()))?;
        self.state.set(&room.key(&format!("modlog:{}", entry.id)), &encoded, Some(CHAT_DATA_TTL)).await?;
        self.state.index_add(&room.key("modlog"), &entry.id.to_string()).await?;
        Ok(())
    }

    /// The room's moderation log, oldest first (at most a thousand entries).
    pub async fn log_of(&self, room: &Room<'_>) -> Result<Vec<ModerationEntry>, ChatError> {
        let ids = self.state.index_range(&room.key("modlog"), None, LOG_READ).await?;
        let keys: Vec<String> = ids.iter().map(|e| room.key(&format!("modlog:{e}"))).collect();
        let docs = self.state.get_many(&keys).await?;
        Ok(docs.into_iter().flatten().filter_map(|b| serde_json::from_slice(&b).ok()).collect())
    }

    /// Forgets the rate-limit state of senders who have been quiet (called every tick).
    pub fn retain_recent(&self) {
        self.limiter.retain_recent();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Role;
    use crate::engine::memory::MemoryEngine;

    fn chat(banned: &[&str]) -> Chat {
        let state: Arc<dyn State> = Arc::new(MemoryEngine::unconnected());
        let banned_words = banned.iter().map(|w| (*w).to_owned()).collect();
        Chat::new(state, Clock::system(), ChatConfig { rate: 1, burst: 3, banned_words })
    }

    fn user(name: &str) -> User {
        User { id: Uuid::now_v7(), name: name.into(), role: Role::Buyer, email: None, phone: None, seller_id: None }
    }

    // A room that is no show: a booth's Q&A, with its marks under the booth's key.
    const BOOTH: &str = "{s:booth-seller}:booth:b1";

    #[tokio::test]
    async fn a_message_is_cleaned_bounded_and_rate_limited_before_its_room_is_read() {
        let chat = chat(&[]);
        let room = Uuid::now_v7();
        let buyer = user("Lan");
        assert!(
            matches!(chat.precheck(room, &buyer, "  \u{200b} "), Err(ChatError::BadRequest(m)) if m.contains("empty"))
        );
        let long = "a".repeat(MAX_CHAT_CHARS + 1);
        assert!(matches!(chat.precheck(room, &buyer, &long), Err(ChatError::BadRequest(m)) if m.contains("at most")));
        for _ in 0..3 {
            assert_eq!(chat.precheck(room, &buyer, "  Còn hàng không shop?  ").unwrap(), "Còn hàng không shop?");
        }
        assert!(
            matches!(chat.precheck(room, &buyer, "nữa"), Err(ChatError::RateLimited { retry_after_ms }) if retry_after_ms > 0)
        );
        // Each room has its own allowance.
        assert!(chat.precheck(Uuid::now_v7(), &buyer, "ở gian khác").is_ok());
    }

    #[tokio::test]
    async fn bans_mutes_banned_words_and_slow_mode_hold_in_any_room_and_are_logged() {
        let chat = chat(&["lừa đảo"]);
        let room = Room { id: Uuid::now_v7(), base: BOOTH, slow_mode_s: 0 };
        let (buyer, other, moderator) = (user("Hùng"), user("Mai"), user("Chủ gian hàng"));

        let (msg_id, message) = chat.admit(&room, &buyer, false, "Gọi 0912 345 678 nhé").await.unwrap();
        assert_eq!(message["msg_id"], msg_id.to_string());
        assert_eq!(message["user"]["name"], "Hùng");
        assert!(!message["text"].as_str().unwrap().contains("345 678"), "phone numbers are masked: {message}");
        assert!(matches!(chat.admit(&room, &buyer, false, "đồ lừa đảo").await, Err(ChatError::BadRequest(_))));

        chat.mute(&room, buyer.id, 5).await.unwrap();
        assert!(matches!(chat.admit(&room, &buyer, false, "sao vậy").await,
            Err(ChatError::Muted { retry_after_ms }) if retry_after_ms > 4 * 60_000));
        assert!(matches!(Chat::check_mute(0), Err(ChatError::BadRequest(_))));
        assert!(matches!(Chat::check_mute(MAX_MUTE_MINUTES + 1), Err(ChatError::BadRequest(_))));

        chat.ban(&room, other.id).await.unwrap();
        assert!(chat.is_banned(BOOTH, other.id).await.unwrap());
        assert!(!chat.is_banned(BOOTH, moderator.id).await.unwrap());
        assert!(matches!(chat.admit(&room, &other, false, "xin chào").await, Err(ChatError::Forbidden(_))));

        // Slow mode: one message per sender per period; moderators skip it.
        let slow = Room { slow_mode_s: 30, ..room };
        chat.admit(&slow, &moderator, false, "Câu hỏi một").await.unwrap();
        assert!(matches!(
            chat.admit(&slow, &moderator, false, "Câu hỏi hai").await,
            Err(ChatError::RateLimited { retry_after_ms: 30_000 })
        ));
        chat.admit(&slow, &moderator, true, "Trả lời: có ạ").await.unwrap();
        assert!(matches!(Chat::check_slow(MAX_SLOW_SECONDS + 1), Err(ChatError::BadRequest(_))));

        chat.log(&room, &moderator, "mute", Some(buyer.id.to_string()), Some("5 min".into())).await.unwrap();
        chat.log(&room, &moderator, "ban", Some(other.id.to_string()), None).await.unwrap();
        let log = chat.log_of(&room).await.unwrap();
        assert_eq!(log.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(), ["mute", "ban"]);
        assert_eq!(log[0].by.name, "Chủ gian hàng");
        assert_eq!(log[0].detail.as_deref(), Some("5 min"));
        let elsewhere = Room { base: "{s:booth-seller}:booth:b2", ..room };
        assert!(chat.log_of(&elsewhere).await.unwrap().is_empty(), "each room has its own log");
        assert!(!chat.is_banned("{s:booth-seller}:booth:b2", other.id).await.unwrap(), "and its own bans");
    }
}

/// Chat messages a late joiner receives in a room's snapshot.
pub const CHAT_IN_SNAPSHOT: usize = 50;

/// The last chat messages of a room as whole frames, oldest first, for its snapshot: at most
/// [`CHAT_IN_SNAPSHOT`], deleted ones removed. Rooms of every kind keep one.
#[derive(Debug, Default)]
pub struct ChatTail {
    frames: std::collections::VecDeque<(String, Box<serde_json::value::RawValue>)>,
}

impl ChatTail {
    /// A `chat` event (`data` its data, `frame` the whole frame).
    pub fn push(&mut self, data: &Value, frame: &[u8]) {
        let Some(id) = data.get("msg_id").and_then(Value::as_str) else { return };
        let Ok(text) = std::str::from_utf8(frame) else { return };
        let Ok(raw) = serde_json::value::RawValue::from_string(text.to_owned()) else { return };
        self.frames.push_back((id.to_owned(), raw));
        while self.frames.len() > CHAT_IN_SNAPSHOT {
            self.frames.pop_front();
        }
    }

    /// A `chat.deleted` event's data.
    pub fn delete(&mut self, data: &Value) {
        if let Some(id) = data.get("msg_id").and_then(Value::as_str) {
            self.frames.retain(|(m, _)| m != id);
        }
    }

    pub fn frames(&self) -> Vec<&serde_json::value::RawValue> {
        self.frames.iter().map(|(_, f)| f.as_ref()).collect()
    }
}
