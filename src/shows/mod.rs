//! The live shows service: lifecycle, chat, moderation, reactions, viewers, pinning, summaries.
//!
//! Keys, all under the seller's hash tag: `{s:<seller>}:show:<id>` (the show, changed by
//! compare-and-set) and `{s:<seller>}:show:<id>:<what>` for its counters (`hearts`, `chats`,
//! `peak`), its unique viewers (`viewers`), mutes and bans (`mute:<user>`, `ban:<user>`), slow-mode
//! marks (`slow:<user>`), the once-a-second broadcast lock (`tick`) and the moderation log
//! (`modlog`). Indexes `shows:<status>` and `{s:<seller>}:shows` list shows.

pub mod room;

use std::collections::{HashMap, HashSet};
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use governor::clock::Clock as _;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use serde::Serialize;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::auth::{Role, User};
use crate::catalog::{Catalog, CatalogError};
use crate::chat::{Chat, ChatError, ModerationEntry, Room};
use crate::clock::Clock;
use crate::domain::FieldErrors;
use crate::domain::show::{SalesLine, Show, ShowInput, ShowStatus, ShowSummary, Stopped, StoppedBy};
use crate::engine::lease::once_per;
use crate::engine::{Engine, EngineError};
use crate::realtime::channel::Channel;
use crate::realtime::events::{self, ShowEvent};
use crate::realtime::hub::Hub;
use crate::realtime::presence::{REPORT_TTL, Reports};
use crate::realtime::protocol::ReplyError;
use crate::realtime::room::Rooms;
use room::ShowRoom;

/// Hearts one viewer may send a second (and in a burst): enough for a thumb on the screen,
/// not for a script.
const REACT_RATE: u32 = 10;
const REACT_BURST: u32 = 30;
/// How long counters and unique-viewer sets outlive a show.
const SHOW_DATA_TTL: Duration = Duration::from_secs(90 * 24 * 3600);
/// Compare-and-set attempts before a show update gives up as contended.
const CAS_TRIES: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum ShowError {
    #[error("no such show")]
    NotFound,
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("{0}")]
    InvalidState(&'static str),
    #[error("invalid input")]
    Invalid(FieldErrors),
    #[error("{0}")]
    BadRequest(String),
    #[error("muted")]
    Muted { retry_after_ms: u64 },
    #[error("rate limited")]
    RateLimited { retry_after_ms: u64 },
    #[error("sign in first")]
    Unauthenticated,
    #[error(transparent)]
    Engine(#[from] EngineError),
}

impl From<ChatError> for ShowError {
    fn from(e: ChatError) -> Self {
        match e {
            ChatError::BadRequest(m) => ShowError::BadRequest(m),
            ChatError::Forbidden(m) => ShowError::Forbidden(m),
            ChatError::Muted { retry_after_ms } => ShowError::Muted { retry_after_ms },
            ChatError::RateLimited { retry_after_ms } => ShowError::RateLimited { retry_after_ms },
            ChatError::Engine(e) => ShowError::Engine(e),
        }
    }
}

impl From<CatalogError> for ShowError {
    fn from(e: CatalogError) -> Self {
        match e {
            CatalogError::NotFound => ShowError::BadRequest("no such product".into()),
            CatalogError::Invalid(f) => ShowError::Invalid(f),
            CatalogError::Engine(e) => ShowError::Engine(e),
        }
    }
}

/// What this node has gathered since its last tick, per show.
#[derive(Default)]
struct Pending {
    hearts: HashMap<Uuid, u64>,
    viewers: HashMap<Uuid, HashSet<String>>,
}

pub struct Shows {
    engine: Engine,
    catalog: Catalog,
    hub: Arc<Hub>,
    node_id: Arc<str>,
    clock: Clock,
    public_url: String,
    chat: Arc<Chat>,
    react_limiter: DefaultKeyedRateLimiter<(Uuid, Uuid)>,
    /// Gathered between ticks; bounded by the shows that have viewers on this node, cleared
    /// every tick.
    pending: Mutex<Pending>,
    /// The owner of each show this node ticks for; entries go when the show has no local viewer.
    owners: Mutex<HashMap<Uuid, Uuid>>,
    /// What this node last broadcast per show (viewers, hearts), to skip unchanged counts.
    last_broadcast: Mutex<HashMap<Uuid, (u64, u64)>>,
    /// This node's last viewer report per show: reports go out on change (and a refresh),
    /// not every tick. Bounded by the shows with local viewers.
    reports: Mutex<Reports<Uuid>>,
    /// Shows whose counts changed here but whose totals another node's tick lock kept this
    /// node from broadcasting; retried every tick until broadcast. A subset of `reports`.
    unsent: Mutex<HashSet<Uuid>>,
}

fn show_key(seller: Uuid, id: Uuid) -> String {
    format!("{{s:{seller}}}:show:{id}")
}
fn show_sub(seller: Uuid, id: Uuid, what: &str) -> String {
    format!("{{s:{seller}}}:show:{id}:{what}")
}
fn owner_key(id: Uuid) -> String {
    format!("show:{id}:seller")
}
fn status_index(status: ShowStatus) -> String {
    format!("shows:{}", status.as_str())
}

fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, EngineError> {
    serde_json::from_slice(bytes).map_err(|e| EngineError::Internal(format!("corrupt record: {e}")))
}
fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, EngineError> {
    serde_json::to_vec(value).map_err(|e| EngineError::Internal(e.to_string()))
}

/// Settings of the shows service.
#[derive(Debug, Clone)]
pub struct ShowsConfig {
    pub public_url: String,
}

impl Shows {
    pub fn new(
        engine: Engine,
        catalog: Catalog,
        hub: Arc<Hub>,
        node_id: Arc<str>,
        clock: Clock,
        chat: Arc<Chat>,
        config: ShowsConfig,
    ) -> Self {
        let quota = |rate: u32, burst: u32| {
            Quota::per_second(NonZeroU32::new(rate).unwrap_or(NonZeroU32::MIN))
                .allow_burst(NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN))
        };
        Self {
            engine,
            catalog,
            hub,
            node_id,
            clock,
            public_url: config.public_url,
            chat,
            react_limiter: RateLimiter::keyed(quota(REACT_RATE, REACT_BURST)),
            pending: Mutex::new(Pending::default()),
            owners: Mutex::new(HashMap::new()),
            reports: Mutex::new(Reports::default()),
            unsent: Mutex::new(HashSet::new()),
            last_broadcast: Mutex::new(HashMap::new()),
        }
    }

    async fn owner(&self, id: Uuid) -> Result<Uuid, ShowError> {
        let bytes = self.engine.state.get(&owner_key(id)).await?.ok_or(ShowError::NotFound)?;
        std::str::from_utf8(&bytes).ok().and_then(|s| Uuid::parse_str(s).ok()).ok_or(ShowError::NotFound)
    }

    async fn load(&self, id: Uuid) -> Result<(Bytes, Show), ShowError> {
        let seller = self.owner(id).await?;
        let bytes = self.engine.state.get(&show_key(seller, id)).await?.ok_or(ShowError::NotFound)?;
        let show = decode(&bytes)?;
        Ok((bytes, show))
    }

    pub async fn get(&self, id: Uuid) -> Result<Show, ShowError> {
        Ok(self.load(id).await?.1)
    }

    /// Applies `change` with compare-and-set, retrying when another node changed the show.
    async fn update(&self, id: Uuid, change: impl Fn(&mut Show) -> Result<(), ShowError>) -> Result<Show, ShowError> {
        for _ in 0..CAS_TRIES {
            let (bytes, show) = self.load(id).await?;
            let mut next = show.clone();
            change(&mut next)?;
            if next == show {
                return Ok(next);
            }
            let key = show_key(show.seller_id, id);
            if self.engine.state.compare_and_set(&key, Some(&bytes), &encode(&next)?).await? {
                return Ok(next);
            }
        }
        Err(ShowError::Engine(EngineError::Unavailable("show is being changed too often; retry".into())))
    }

    async fn publish(&self, id: Uuid, event: ShowEvent<'_>) -> Result<(), ShowError> {
        events::publish(self.engine.broker.as_ref(), id, &event).await?;
        Ok(())
    }

    async fn publish_show(&self, show: &Show) -> Result<(), ShowError> {
        self.publish(show.id, ShowEvent::Show { show }).await
    }

    /// Creates a scheduled show; `organiser` is its fair's (the caller checked the agenda's
    /// rules).
    pub async fn create(&self, seller_id: Uuid, input: &ShowInput, organiser: Option<Uuid>) -> Result<Show, ShowError> {
        let mut owned = HashSet::new();
        for pid in input.products.iter().flatten() {
            if let Ok(r) = self.catalog.record(*pid).await
                && r.seller_id == seller_id
            {
                owned.insert(*pid);
            }
        }
        let id = Uuid::now_v7();
        let show = input
            .validate(id, seller_id, &self.clock.rfc3339(), &|p| owned.contains(&p))
            .map_err(ShowError::Invalid)?;
        let show = Show { organiser_id: organiser, ..show };
        self.engine.state.set(&owner_key(id), seller_id.to_string().as_bytes(), None).await?;
        self.engine.state.set(&show_key(seller_id, id), &encode(&show)?, None).await?;
        self.engine.state.index_add(&status_index(ShowStatus::Scheduled), &id.to_string()).await?;
        self.engine.state.index_add(&format!("{{s:{seller_id}}}:shows"), &id.to_string()).await?;
        Ok(show)
    }

    /// Shows in `status`, oldest first, at most `limit`.
    pub async fn list(&self, status: ShowStatus, limit: usize) -> Result<Vec<Show>, ShowError> {
        let ids = self.engine.state.index_range(&status_index(status), None, limit).await?;
        let mut shows = Vec::with_capacity(ids.len());
        for id in ids {
            let Ok(id) = Uuid::parse_str(&id) else { continue };
            match self.get(id).await {
                Ok(show) if show.status == status => shows.push(show),
                Ok(_) | Err(ShowError::NotFound) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(shows)
    }

    /// A seller's own shows in every status, oldest first: up to `limit` after the show `after`,
    /// and the cursor of the next page when there may be one.
    pub async fn list_of_seller(
        &self,
        seller_id: Uuid,
        after: Option<Uuid>,
        limit: usize,
    ) -> Result<(Vec<Show>, Option<Uuid>), ShowError> {
        let after = after.map(|a| a.to_string());
        let ids = self.engine.state.index_range(&format!("{{s:{seller_id}}}:shows"), after.as_deref(), limit).await?;
        let full = ids.len() == limit;
        let mut shows = Vec::with_capacity(ids.len());
        let mut last = None;
        for id in ids {
            let Ok(id) = Uuid::parse_str(&id) else { continue };
            last = Some(id);
            match self.get(id).await {
                Ok(show) => shows.push(show),
                Err(ShowError::NotFound) => {}
                Err(e) => return Err(e),
            }
        }
        Ok((shows, if full { last } else { None }))
    }

    /// Starts or ends a show: its seller, or the organiser of its fair; an admin may end any
    /// show (the kill switch, with `reason`, which its viewers are told with who ended it).
    pub async fn transition(
        &self,
        caller: &User,
        id: Uuid,
        to: ShowStatus,
        reason: Option<&str>,
    ) -> Result<Show, ShowError> {
        let show = self.get(id).await?;
        let seller = caller.seller_id == Some(show.seller_id);
        let organiser = caller.role == Role::Organiser && show.organiser_id == Some(caller.id);
        let admin = caller.role == Role::Admin && to == ShowStatus::Ended;
        if !(seller || organiser || admin) {
            return Err(ShowError::Forbidden(
                "only the show's seller or its fair's organiser may start or end it (and an admin end it)",
            ));
        }
        let reason = match reason.map(crate::vn::clean_text) {
            Some(r) if r.chars().count() > 300 => {
                return Err(ShowError::Invalid(FieldErrors::single("reason", "must be at most 300 characters")));
            }
            Some(r) if !r.is_empty() => Some(r),
            _ => None,
        };
        let now = self.clock.rfc3339();
        let stopped = (to == ShowStatus::Ended && (!seller || reason.is_some())).then(|| Stopped {
            reason: reason.clone(),
            by: StoppedBy { id: caller.id, name: caller.name.clone(), role: caller.role },
        });
        let show = self
            .update(id, |s| {
                s.transition(to, &now).map_err(ShowError::InvalidState)?;
                s.stopped.clone_from(&stopped);
                Ok(())
            })
            .await?;
        let from = if to == ShowStatus::Live { ShowStatus::Scheduled } else { ShowStatus::Live };
        self.engine.state.index_remove(&status_index(from), &id.to_string()).await?;
        self.engine.state.index_add(&status_index(to), &id.to_string()).await?;
        let by = stopped.as_ref().and_then(|s| serde_json::to_value(&s.by).ok());
        let event = ShowEvent::Status { status: to, reason: reason.as_deref(), by: by.as_ref() };
        self.publish(id, event).await?;
        if to == ShowStatus::Ended {
            self.publish(id, ShowEvent::Pinned { product: &Value::Null }).await?;
            self.flush(id, show.seller_id).await?;
            let summary = self.summary_of(&show).await?;
            let show = self
                .update(id, |s| {
                    s.summary = Some(summary.clone());
                    Ok(())
                })
                .await?;
            self.publish_show(&show).await?;
            return Ok(show);
        }
        self.publish_show(&show).await?;
        Ok(show)
    }

    /// Recomputes and stores an ended show's summary.
    pub async fn refresh_summary(&self, id: Uuid) -> Result<Show, ShowError> {
        let show = self.get(id).await?;
        let summary = self.summary_of(&show).await?;
        self.update(id, |s| {
            s.summary = Some(summary.clone());
            Ok(())
        })
        .await
    }

    /// Figures for the show so far (final once it ended).
    pub async fn summary_of(&self, show: &Show) -> Result<ShowSummary, ShowError> {
        let (seller, id) = (show.seller_id, show.id);
        let keys = [show_sub(seller, id, "peak"), show_sub(seller, id, "chats"), show_sub(seller, id, "hearts")];
        let values = self.engine.state.get_many(&keys).await?;
        let num = |i: usize| -> u64 {
            values[i].as_ref().and_then(|b| std::str::from_utf8(b).ok()).and_then(|s| s.parse().ok()).unwrap_or(0)
        };
        let unique = self.engine.state.set_len(&show_sub(seller, id, "viewers")).await?;
        let parse = |t: &Option<String>| {
            t.as_deref()
                .and_then(|t| time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok())
        };
        let end = parse(&show.ended_at).unwrap_or_else(time::OffsetDateTime::now_utc);
        let duration_s = parse(&show.started_at).map_or(0, |start| (end - start).whole_seconds().max(0) as u64);
        let mut summary = ShowSummary {
            duration_s,
            peak_viewers: num(0),
            unique_viewers: unique,
            chat_messages: num(1),
            hearts: num(2),
            ..Default::default()
        };
        let mut lines: HashMap<(String, Uuid), SalesLine> = HashMap::new();
        for (field, value) in self.engine.sales.show_sales(seller, id).await? {
            let mut parts = field.splitn(3, ':');
            let (Some(kind), Some(line_id), Some(what)) = (parts.next(), parts.next(), parts.next()) else { continue };
            let Ok(line_id) = Uuid::parse_str(line_id) else { continue };
            let line = lines
                .entry((kind.to_owned(), line_id))
                .or_insert_with(|| SalesLine { id: line_id, ..Default::default() });
            match what {
                "orders" => line.orders = value,
                "units" => line.units = value,
                "revenue" => line.revenue = value,
                _ => {}
            }
        }
        let mut lines: Vec<((String, Uuid), SalesLine)> = lines.into_iter().collect();
        lines.sort_by_key(|((kind, id), _)| (kind.clone(), *id));
        for ((kind, _), line) in lines {
            if kind == "p" {
                summary.orders += line.orders;
                summary.units += line.units;
                summary.revenue += line.revenue;
                summary.products.push(line);
            } else {
                summary.offers.push(line);
            }
        }
        Ok(summary)
    }

    /// Chat, moderation and reactions refuse shows that have ended.
    async fn open_show(&self, id: Uuid) -> Result<Show, ShowError> {
        let show = self.get(id).await?;
        if show.status == ShowStatus::Ended {
            return Err(ShowError::InvalidState("the show has ended"));
        }
        Ok(show)
    }

    fn is_moderator(show: &Show, user: &User) -> bool {
        user.role == Role::Admin || (user.role != Role::Guest && show.is_moderator(user.id, user.seller_id))
    }

    async fn moderator_show(&self, id: Uuid, user: &User) -> Result<Show, ShowError> {
        let show = self.open_show(id).await?;
        if !Self::is_moderator(&show, user) {
            return Err(ShowError::Forbidden("only the show's moderators may do this"));
        }
        Ok(show)
    }

    /// The chat of a show: its marks live under the show's key.
    fn room<'a>(show: &Show, base: &'a str) -> Room<'a> {
        Room { id: show.id, base, slow_mode_s: show.slow_mode_s }
    }

    async fn log(
        &self,
        show: &Show,
        by: &User,
        action: &str,
        target: Option<String>,
        detail: Option<String>,
    ) -> Result<(), ShowError> {
        let base = show_key(show.seller_id, show.id);
        Ok(self.chat.log(&Self::room(show, &base), by, action, target, detail).await?)
    }

    /// The moderation log, oldest first; moderators only.
    pub async fn moderation_log(&self, id: Uuid, user: &User) -> Result<Vec<ModerationEntry>, ShowError> {
        let show = self.get(id).await?;
        if !Self::is_moderator(&show, user) {
            return Err(ShowError::Forbidden("only the show's moderators may read its log"));
        }
        let base = show_key(show.seller_id, id);
        Ok(self.chat.log_of(&Self::room(&show, &base)).await?)
    }

    /// The show as this node's room keeps it (kept from the channel's own events), or as
    /// stored when no viewer here made the node load it; refused once ended.
    async fn open_show_here(&self, id: Uuid) -> Result<Show, ShowError> {
        let kept =
            self.hub.room_record(&Channel::show(id).to_string()).and_then(|v| serde_json::from_value::<Show>(v).ok());
        match kept {
            Some(show) if show.status == ShowStatus::Ended => Err(ShowError::InvalidState("the show has ended")),
            Some(show) => Ok(show),
            None => self.open_show(id).await,
        }
    }

    /// `chat.send`: cleans, checks every rule, masks phone numbers, publishes. The show comes
    /// from this node's room when it has one (the sender is usually watching): the engine is
    /// asked only for the chat's marks, the publication and the count.
    pub async fn chat_send(&self, user: &User, id: Uuid, text: &str) -> Result<Uuid, ShowError> {
        let text = self.chat.precheck(id, user, text)?;
        let show = self.open_show_here(id).await?;
        let moderator = Self::is_moderator(&show, user);
        let base = show_key(show.seller_id, id);
        let (msg_id, message) = self.chat.admit(&Self::room(&show, &base), user, moderator, &text).await?;
        self.publish(id, ShowEvent::Chat(&message)).await?;
        self.engine.state.incr_by(&show_sub(show.seller_id, id, "chats"), 1).await?;
        Ok(msg_id)
    }

    pub async fn chat_delete(&self, user: &User, id: Uuid, msg_id: Uuid) -> Result<(), ShowError> {
        let show = self.moderator_show(id, user).await?;
        self.publish(id, ShowEvent::ChatDeleted { msg_id }).await?;
        self.log(&show, user, "delete", Some(msg_id.to_string()), None).await
    }

    pub async fn mute(&self, user: &User, id: Uuid, target: Uuid, minutes: u32) -> Result<(), ShowError> {
        Chat::check_mute(minutes)?;
        let show = self.moderator_show(id, user).await?;
        let base = show_key(show.seller_id, id);
        self.chat.mute(&Self::room(&show, &base), target, minutes).await?;
        self.log(&show, user, "mute", Some(target.to_string()), Some(format!("{minutes} min"))).await
    }

    pub async fn ban(&self, user: &User, id: Uuid, target: Uuid) -> Result<(), ShowError> {
        let show = self.moderator_show(id, user).await?;
        if target == user.id || show.is_moderator(target, None) {
            return Err(ShowError::BadRequest("moderators cannot be banned".into()));
        }
        let base = show_key(show.seller_id, id);
        self.chat.ban(&Self::room(&show, &base), target).await?;
        self.publish(id, ShowEvent::Banned { user_id: target }).await?;
        self.log(&show, user, "ban", Some(target.to_string()), None).await
    }

    /// Whether `user` is banned from the show (subscribing is refused then).
    pub async fn is_banned(&self, id: Uuid, user: Uuid) -> Result<bool, ShowError> {
        let seller = self.owner(id).await?;
        Ok(self.chat.is_banned(&show_key(seller, id), user).await?)
    }

    pub async fn slow(&self, user: &User, id: Uuid, seconds: u32) -> Result<(), ShowError> {
        Chat::check_slow(seconds)?;
        let show = self.moderator_show(id, user).await?;
        let show_after = self
            .update(id, |s| {
                s.slow_mode_s = seconds;
                Ok(())
            })
            .await?;
        self.publish_show(&show_after).await?;
        self.log(&show, user, "slow", None, Some(format!("{seconds} s"))).await
    }

    pub async fn announce(&self, user: &User, id: Uuid, text: &str) -> Result<(), ShowError> {
        let text = Chat::announcement(text)?;
        let show = self.moderator_show(id, user).await?;
        let announcement = (!text.is_empty()).then(|| text.clone());
        self.update(id, |s| {
            s.announcement = announcement.clone();
            Ok(())
        })
        .await?;
        self.publish(id, ShowEvent::Announcement { text: announcement.as_deref() }).await?;
        self.log(&show, user, "announce", None, Some(text)).await
    }

    /// Appoints or removes moderators; the seller only.
    pub async fn set_moderators(
        &self,
        user: &User,
        id: Uuid,
        add: &[Uuid],
        remove: &[Uuid],
    ) -> Result<Vec<Uuid>, ShowError> {
        let show = self.open_show(id).await?;
        if user.seller_id != Some(show.seller_id) {
            return Err(ShowError::Forbidden("only the show's seller appoints moderators"));
        }
        if add.len() + remove.len() > 50 {
            return Err(ShowError::BadRequest("at most 50 changes at once".into()));
        }
        let after = self
            .update(id, |s| {
                s.moderators.retain(|m| !remove.contains(m));
                for a in add {
                    if !s.moderators.contains(a) {
                        s.moderators.push(*a);
                    }
                }
                if s.moderators.len() > 50 {
                    return Err(ShowError::BadRequest("a show has at most 50 moderators".into()));
                }
                Ok(())
            })
            .await?;
        self.publish_show(&after).await?;
        let detail = format!("+{} -{}", add.len(), remove.len());
        self.log(&show, user, "moderators", None, Some(detail)).await?;
        Ok(after.moderators)
    }

    /// `react`: counted here, added up once a second.
    pub async fn react(&self, user: &User, id: Uuid) -> Result<(), ShowError> {
        if let Err(wait) = self.react_limiter.check_key(&(id, user.id)) {
            let retry = wait.wait_time_from(self.react_limiter.clock().now());
            return Err(ShowError::RateLimited { retry_after_ms: (retry.as_millis() as u64).max(1) });
        }
        match self.hub.room_status(&Channel::show(id).to_string()).as_deref() {
            Some("ended") => return Err(ShowError::InvalidState("the show has ended")),
            Some(_) => {}
            None => {
                self.open_show(id).await?;
            }
        }
        *self.pending.lock().unwrap().hearts.entry(id).or_default() += 1;
        Ok(())
    }

    /// Records a viewer for the unique count (user id, or the connection for anonymous viewers).
    pub fn viewer_joined(&self, id: Uuid, viewer: String) {
        let mut pending = self.pending.lock().unwrap();
        pending.viewers.entry(id).or_default().insert(viewer);
    }

    /// The product as the `pinned` event shows it: current price, stock, stars, code, trace link.
    async fn pinned_view(&self, show: &Show, product_id: Uuid) -> Result<Value, ShowError> {
        let product = self.catalog.product(product_id, self.clock.today_in_vietnam()).await?;
        let mut value = serde_json::to_value(&product).map_err(|e| EngineError::Internal(e.to_string()))?;
        if let Some(obj) = value.as_object_mut() {
            obj.insert("code".into(), json!(show.lineup_code(product_id)));
            obj.insert("trace_url".into(), json!(format!("{}/t/{}", self.public_url, product.trace_code)));
        }
        Ok(value)
    }

    /// `show.pin`: puts a lineup product on screen (or none); the seller only.
    pub async fn pin(&self, user: &User, id: Uuid, product_id: Option<Uuid>) -> Result<(), ShowError> {
        let show = self.open_show(id).await?;
        if user.seller_id != Some(show.seller_id) {
            return Err(ShowError::Forbidden("only the show's seller pins products"));
        }
        let product = match product_id {
            Some(pid) => {
                if show.lineup_code(pid).is_none() {
                    return Err(ShowError::BadRequest("the product is not in this show's lineup".into()));
                }
                self.pinned_view(&show, pid).await?
            }
            None => Value::Null,
        };
        self.update(id, |s| {
            s.pinned_product_id = product_id;
            Ok(())
        })
        .await?;
        self.publish(id, ShowEvent::Pinned { product: &product }).await
    }

    /// A product changed (price, stock): shows that pin it say so again.
    pub async fn product_changed(&self, seller_id: Uuid, product_id: Uuid) -> Result<(), ShowError> {
        let ids = self.engine.state.index_range(&format!("{{s:{seller_id}}}:shows"), None, 1000).await?;
        for id in ids.iter().filter_map(|i| Uuid::parse_str(i).ok()) {
            let Ok(show) = self.get(id).await else { continue };
            if show.status != ShowStatus::Ended && show.pinned_product_id == Some(product_id) {
                let product = self.pinned_view(&show, product_id).await?;
                self.publish(id, ShowEvent::Pinned { product: &product }).await?;
            }
        }
        Ok(())
    }

    /// Builds a node's room for a show from stored state.
    pub async fn load_room(&self, id: Uuid) -> Result<ShowRoom, ShowError> {
        let channel = Channel::show(id).to_string();
        // History first: the stored state read after it is at least as new.
        let recent = self.engine.broker.recent(&channel, 1000).await?;
        let show = self.get(id).await?;
        let pinned = match show.pinned_product_id {
            Some(pid) => self.pinned_view(&show, pid).await.unwrap_or(Value::Null),
            None => Value::Null,
        };
        let hearts = self.engine.state.get(&show_sub(show.seller_id, id, "hearts")).await?;
        let hearts =
            hearts.as_ref().and_then(|b| std::str::from_utf8(b).ok()).and_then(|s| s.parse().ok()).unwrap_or(0);
        let viewers = self.engine.presence.count(&channel).await?;
        let show_value = serde_json::to_value(&show).map_err(|e| EngineError::Internal(e.to_string()))?;
        let offers = self.live_offers(&show).await?;
        Ok(ShowRoom::load(show_value, pinned, offers, viewers, hearts, recent.position, &recent.events))
    }

    /// The show's live offers, as the `offer` events show them.
    async fn live_offers(&self, show: &Show) -> Result<Vec<Value>, EngineError> {
        let index = format!("{{s:{}}}:show:{}:offers", show.seller_id, show.id);
        let mut offers = Vec::new();
        for id in
            self.engine.state.index_range(&index, None, 1000).await?.iter().filter_map(|i| Uuid::parse_str(i).ok())
        {
            if let Some(state) = self.engine.sales.offer_get(show.seller_id, id).await?
                && state.status == crate::engine::sales::OfferStatus::Live
            {
                offers.push(serde_json::to_value(&state).map_err(|e| EngineError::Internal(e.to_string()))?);
            }
        }
        Ok(offers)
    }

    /// Stores what this node gathered for the show; true when hearts were added.
    async fn flush(&self, id: Uuid, seller: Uuid) -> Result<bool, EngineError> {
        let (hearts, viewers) = {
            let mut pending = self.pending.lock().unwrap();
            (pending.hearts.remove(&id).unwrap_or(0), pending.viewers.remove(&id).unwrap_or_default())
        };
        if hearts > 0 {
            self.engine.state.incr_by(&show_sub(seller, id, "hearts"), hearts as i64).await?;
        }
        if !viewers.is_empty() {
            let members: Vec<String> = viewers.into_iter().collect();
            self.engine.state.set_add(&show_sub(seller, id, "viewers"), &members, Some(SHOW_DATA_TTL)).await?;
        }
        Ok(hearts > 0)
    }

    /// Once a second on every node: add up this node's hearts and viewers, report its viewer
    /// count when it changed, and (on the one node that takes the second's lock) broadcast the
    /// totals. A show where nothing happened costs the engine nothing but the refresh of its
    /// report (`presence::REFRESH`).
    pub async fn tick(&self) {
        let counts: Vec<(Uuid, usize)> = self
            .hub
            .channel_counts()
            .into_iter()
            .filter_map(|(ch, n)| ch.strip_prefix("show:").and_then(|id| Uuid::parse_str(id).ok()).map(|id| (id, n)))
            .collect();
        let active: HashSet<Uuid> = counts.iter().map(|(id, _)| *id).collect();
        self.last_broadcast.lock().unwrap().retain(|id, _| active.contains(id));
        let gone: Vec<Uuid> = {
            let pending = self.pending.lock().unwrap();
            let reports = self.reports.lock().unwrap();
            let gone: HashSet<Uuid> =
                pending.hearts.keys().chain(pending.viewers.keys()).chain(reports.keys()).copied().collect();
            gone.into_iter().filter(|id| !active.contains(id)).collect()
        };
        self.owners.lock().unwrap().retain(|id, _| active.contains(id) || gone.contains(id));
        for id in gone.into_iter().chain(active.iter().copied()) {
            if let Err(e) = self.tick_show(id, counts.iter().find(|(i, _)| *i == id).map_or(0, |(_, n)| *n)).await {
                tracing::debug!(show = %id, error = %e, "show tick failed");
            }
        }
        self.chat.retain_recent();
        self.react_limiter.retain_recent();
    }

    async fn tick_show(&self, id: Uuid, local: usize) -> Result<(), ShowError> {
        let cached = self.owners.lock().unwrap().get(&id).copied();
        let seller = match cached {
            Some(s) => s,
            None => {
                let s = self.owner(id).await?;
                self.owners.lock().unwrap().insert(id, s);
                s
            }
        };
        let hearts_added = self.flush(id, seller).await?;
        let channel = Channel::show(id).to_string();
        let now = std::time::Instant::now();
        let due = self.reports.lock().unwrap().due(&id, local as u64, now);
        if due {
            self.engine.presence.report(&channel, &self.node_id, local as u64, REPORT_TTL).await?;
            self.reports.lock().unwrap().reported(&id, local as u64, now);
        }
        if local == 0 {
            self.unsent.lock().unwrap().remove(&id);
            return Ok(());
        }
        // The totals change only when some node's count or hearts did, and that node
        // broadcasts them; a refresh also does, in case a dead node's report expired.
        let unsent = self.unsent.lock().unwrap().contains(&id);
        if !(due || hearts_added || unsent) {
            return Ok(());
        }
        let lock = show_sub(seller, id, "tick");
        if !once_per(self.engine.state.as_ref(), &lock, &self.node_id, Duration::from_secs(1)).await? {
            self.unsent.lock().unwrap().insert(id);
            return Ok(());
        }
        self.unsent.lock().unwrap().remove(&id);
        let viewers = self.engine.presence.count(&channel).await?;
        self.engine.state.set_max(&show_sub(seller, id, "peak"), viewers as i64).await?;
        let hearts = self.engine.state.get(&show_sub(seller, id, "hearts")).await?;
        let hearts: u64 =
            hearts.as_ref().and_then(|b| std::str::from_utf8(b).ok()).and_then(|s| s.parse().ok()).unwrap_or(0);
        let last = self.last_broadcast.lock().unwrap().get(&id).copied();
        if last.map(|(v, _)| v) != Some(viewers) {
            self.publish(id, ShowEvent::Viewers { count: viewers }).await?;
        }
        if last.map(|(_, h)| h) != Some(hearts) {
            self.publish(id, ShowEvent::Reactions { heart: hearts }).await?;
        }
        self.last_broadcast.lock().unwrap().insert(id, (viewers, hearts));
        Ok(())
    }
}

/// Shows keep a room on every node that has viewers; a viewer banned from a show cannot join it.
#[async_trait::async_trait]
impl Rooms for Shows {
    async fn admit(&self, channel: &Channel, user: Option<&User>) -> Result<(), ReplyError> {
        if let Some(user) = user
            && self.is_banned(channel.id, user.id).await?
        {
            return Err(ReplyError::forbidden("you are banned from this show"));
        }
        Ok(())
    }

    fn keeps_room(&self, _channel: &Channel) -> bool {
        true
    }

    async fn load(&self, channel: &Channel) -> Result<Box<dyn crate::realtime::room::Room>, ReplyError> {
        Ok(Box::new(self.load_room(channel.id).await?))
    }

    fn joined(&self, channel: &Channel, viewer: String) {
        self.viewer_joined(channel.id, viewer);
    }
}
