//! Virtual fairs ("Chợ OCOP online", PROTOCOL.md §3): fairs and their schedule, booths with
//! their Q&A chat and the seller's presence, the stage agenda, follows and reminders, the
//! lobby's visitors, announcements.
//!
//! Keys: a fair and what belongs to it live under its tag: `{f:<fair>}:fair` (changed by
//! compare-and-set), `{f:<fair>}:booths` (index), `{f:<fair>}:booth:<id>` (changed by
//! compare-and-set, its chat marks under it), `{f:<fair>}:booth-of:<seller>` (one booth per seller,
//! claimed with set-if-absent), `{f:<fair>}:agenda` (index of `<time>|<show>`), `{f:<fair>}:peak`.
//! Indexes `fairs:<status>`, `{u:<organiser>}:fairs`, `{s:<seller>}:booths`; lookups
//! `booth:<id>:fair`. Follows: `show:<id>:followers` and `{u:<user>}:follows`; sent notices are
//! marked `{u:<user>}:notified:<kind>:<show>`. The schedule is `fairs:schedule`
//! ([`scheduler`]).

pub mod inquiries;
pub mod room;
pub mod scheduler;
pub mod stats;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use serde::Serialize;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::accounts::Accounts;
use crate::auth::{Role, User};
use crate::catalog::{Catalog, CatalogError};
use crate::chat::{Chat, ChatError, Room as ChatRoom};
use crate::clock::{Clock, format_rfc3339};
use crate::domain::FieldErrors;
use crate::domain::fair::{
    AgendaRule, Booth, BoothInput, BoothPatch, BoothStatus, Fair, FairInput, FairPatch, FairStatus, Slot, booth_texts,
    check_featured, check_slot, stored_time,
};
use crate::domain::show::{Show, ShowInput, ShowStatus};
use crate::engine::lease::{Lease, once_per};
use crate::engine::{Engine, EngineError};
use crate::realtime::channel::{Channel, ChannelKind};
use crate::realtime::events::{self, BoothEvent, FairEvent, UserEvent};
use crate::realtime::hub::Hub;
use crate::realtime::presence::{REPORT_TTL, Reports};
use crate::shows::{ShowError, Shows};

/// Booths a fair holds at most, and shows its agenda.
pub const MAX_BOOTHS: usize = 1000;
pub const MAX_AGENDA: usize = 1000;
/// Shows one account may follow at once.
pub const MAX_FOLLOWS: usize = 500;
/// Fairs one list returns per status.
const LIST_LIMIT: usize = 100;
/// Compare-and-set attempts before an update gives up as contended.
const CAS_TRIES: usize = 16;
/// How long "sent" marks of notifications are kept.
const NOTIFIED_TTL: Duration = Duration::from_secs(30 * 24 * 3600);

#[derive(Debug, thiserror::Error)]
pub enum FairError {
    #[error("{0}")]
    NotFound(&'static str),
    #[error("{0}")]
    Forbidden(&'static str),
    /// An illegal transition or a state that refuses the operation (409).
    #[error("{0}")]
    InvalidState(String),
    /// Something that exists already (409).
    #[error("{0}")]
    Conflict(String),
    #[error("invalid input")]
    Invalid(FieldErrors),
    #[error("{0}")]
    BadRequest(String),
    /// A rule of the agenda that a show breaks.
    #[error("{}", .0.message())]
    Agenda(AgendaRule),
    #[error("muted")]
    Muted { retry_after_ms: u64 },
    #[error("rate limited")]
    RateLimited { retry_after_ms: u64 },
    #[error(transparent)]
    Show(#[from] ShowError),
    #[error(transparent)]
    Engine(#[from] EngineError),
}

impl From<ChatError> for FairError {
    fn from(e: ChatError) -> Self {
        match e {
            ChatError::BadRequest(m) => FairError::BadRequest(m),
            ChatError::Forbidden(m) => FairError::Forbidden(m),
            ChatError::Muted { retry_after_ms } => FairError::Muted { retry_after_ms },
            ChatError::RateLimited { retry_after_ms } => FairError::RateLimited { retry_after_ms },
            ChatError::Engine(e) => FairError::Engine(e),
        }
    }
}

impl From<CatalogError> for FairError {
    fn from(e: CatalogError) -> Self {
        match e {
            CatalogError::NotFound => FairError::BadRequest("no such seller or product".into()),
            CatalogError::Invalid(f) => FairError::Invalid(f),
            CatalogError::Engine(e) => FairError::Engine(e),
        }
    }
}

fn fair_key(id: Uuid) -> String {
    format!("{{f:{id}}}:fair")
}
fn status_index(status: FairStatus) -> String {
    format!("fairs:{}", status.as_str())
}
fn organiser_index(user: Uuid) -> String {
    format!("{{u:{user}}}:fairs")
}
fn booths_index(fair: Uuid) -> String {
    format!("{{f:{fair}}}:booths")
}
pub(crate) fn booth_key(fair: Uuid, booth: Uuid) -> String {
    format!("{{f:{fair}}}:booth:{booth}")
}
fn booth_fair_key(booth: Uuid) -> String {
    format!("booth:{booth}:fair")
}
fn booth_of_key(fair: Uuid, seller: Uuid) -> String {
    format!("{{f:{fair}}}:booth-of:{seller}")
}
fn seller_booths(seller: Uuid) -> String {
    format!("{{s:{seller}}}:booths")
}
fn agenda_index(fair: Uuid) -> String {
    format!("{{f:{fair}}}:agenda")
}
fn followers_index(show: Uuid) -> String {
    format!("show:{show}:followers")
}
fn follows_index(user: Uuid) -> String {
    format!("{{u:{user}}}:follows")
}
fn notified_key(user: Uuid, kind: &str, id: Uuid) -> String {
    format!("{{u:{user}}}:notified:{kind}:{id}")
}
/// The presence key of a booth's seller: their connections in the booth, per node.
pub(crate) fn seller_presence(booth: Uuid) -> String {
    format!("booth:{booth}:seller")
}

fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, EngineError> {
    serde_json::from_slice(bytes).map_err(|e| EngineError::Internal(format!("corrupt record: {e}")))
}
fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, EngineError> {
    serde_json::to_vec(value).map_err(|e| EngineError::Internal(e.to_string()))
}

/// Settings of the fairs service.
#[derive(Debug, Clone)]
pub struct FairsConfig {
    /// How long before a followed show starts its followers get `show.soon`.
    pub reminder_lead: Duration,
    /// This node's id in presence reports and the ticks' locks.
    pub node_id: Arc<str>,
}

/// `GET /api/fairs/{id}`: the fair with its approved booths and its agenda.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FairView {
    pub fair: Fair,
    pub booths: Vec<Booth>,
    /// The fair's shows by `scheduled_at`.
    pub agenda: Vec<Show>,
}

/// What this node last did for the lobby's visitors and the booths' sellers.
#[derive(Default)]
struct Ticks {
    visitors: Reports<Uuid>,
    /// Counts this node broadcast last, per fair.
    visitors_sent: HashMap<Uuid, u64>,
    /// Fairs whose count changed here while another node held the second's lock.
    visitors_unsent: HashSet<Uuid>,
    sellers: Reports<Uuid>,
    /// The seller's account per booth with local subscribers.
    booth_sellers: HashMap<Uuid, (Uuid, Uuid)>,
    online_sent: HashMap<Uuid, bool>,
    online_unsent: HashSet<Uuid>,
    /// Visitors who joined a lobby or a booth since the last tick (for the unique counts).
    visits: HashMap<Channel, HashSet<String>>,
    /// Connection-seconds spent in each booth since the last flush.
    booth_seconds: HashMap<Uuid, i64>,
    /// Ticks since the seconds were last stored.
    since_flush: u32,
}

/// Ticks between two stores of the seconds spent in booths.
const SECONDS_FLUSH_EVERY: u32 = 15;

pub struct Fairs {
    engine: Engine,
    accounts: Accounts,
    catalog: Catalog,
    shows: Arc<Shows>,
    hub: Arc<Hub>,
    chat: Arc<Chat>,
    clock: Clock,
    node_id: Arc<str>,
    config: FairsConfig,
    ticks: Mutex<Ticks>,
    /// Recent fair views (booths and agenda) per fair, at most [`MAX_VIEWS`].
    views: Mutex<HashMap<Uuid, CachedView>>,
    /// Recent lists of fairs per status (not drafts).
    lists: Mutex<HashMap<FairStatus, (std::time::Instant, Vec<Fair>)>>,
}

type CachedView = (std::time::Instant, Vec<Booth>, Vec<Show>);

/// How long a fair's booths and agenda are served from this node's memory.
const VIEW_FRESH: Duration = Duration::from_secs(2);
/// Fairs whose view one node keeps at once.
const MAX_VIEWS: usize = 1000;

impl Fairs {
    pub fn new(
        engine: Engine,
        accounts: Accounts,
        shows: Arc<Shows>,
        hub: Arc<Hub>,
        chat: Arc<Chat>,
        clock: Clock,
        config: FairsConfig,
    ) -> Self {
        let node_id = config.node_id.clone();
        Self {
            engine,
            catalog: accounts.catalog().clone(),
            accounts,
            shows,
            hub,
            chat,
            clock,
            node_id,
            config,
            ticks: Mutex::new(Ticks::default()),
            views: Mutex::new(HashMap::new()),
            lists: Mutex::new(HashMap::new()),
        }
    }

    // ---- fairs ----

    async fn load(&self, id: Uuid) -> Result<(Bytes, Fair), FairError> {
        let bytes = self.engine.state.get(&fair_key(id)).await?.ok_or(FairError::NotFound("no such fair"))?;
        let fair = decode(&bytes)?;
        Ok((bytes, fair))
    }

    pub async fn get(&self, id: Uuid) -> Result<Fair, FairError> {
        Ok(self.load(id).await?.1)
    }

    /// The fair, when `user` may see it (a draft: its organiser and admins).
    pub async fn get_visible(&self, id: Uuid, user: Option<&User>) -> Result<Fair, FairError> {
        let fair = self.get(id).await?;
        if !fair.visible_to(user) {
            return Err(FairError::NotFound("no such fair"));
        }
        Ok(fair)
    }

    fn is_organiser(fair: &Fair, user: &User) -> bool {
        user.role == Role::Admin || (user.role == Role::Organiser && user.id == fair.organiser_id)
    }

    async fn organised(&self, id: Uuid, user: &User) -> Result<Fair, FairError> {
        let fair = self.get_visible(id, Some(user)).await?;
        if !Self::is_organiser(&fair, user) {
            return Err(FairError::Forbidden("only the fair's organiser may do this"));
        }
        Ok(fair)
    }

    /// Applies `change` with compare-and-set, keeps the status indexes and tells the lobby.
    async fn update(
        &self,
        id: Uuid,
        change: impl Fn(&mut Fair) -> Result<(), FairError>,
    ) -> Result<(Fair, bool), FairError> {
        for _ in 0..CAS_TRIES {
            let (bytes, fair) = self.load(id).await?;
            let mut next = fair.clone();
            change(&mut next)?;
            if next == fair {
                return Ok((next, false));
            }
            if self.engine.state.compare_and_set(&fair_key(id), Some(&bytes), &encode(&next)?).await? {
                if next.status != fair.status {
                    self.engine.state.index_add(&status_index(next.status), &id.to_string()).await?;
                    self.engine.state.index_remove(&status_index(fair.status), &id.to_string()).await?;
                }
                events::publish(self.engine.broker.as_ref(), id, &FairEvent::Fair { fair: &next }).await?;
                return Ok((next, true));
            }
        }
        Err(FairError::Engine(EngineError::Unavailable("fair is being changed too often; retry".into())))
    }

    pub async fn create(&self, user: &User, input: &FairInput) -> Result<Fair, FairError> {
        if !matches!(user.role, Role::Organiser | Role::Admin) {
            return Err(FairError::Forbidden("only organisers create fairs"));
        }
        let fair = input.validate(Uuid::now_v7(), user.id, self.clock.now()).map_err(FairError::Invalid)?;
        self.engine.state.set(&fair_key(fair.id), &encode(&fair)?, None).await?;
        self.engine.state.index_add(&status_index(FairStatus::Draft), &fair.id.to_string()).await?;
        self.engine.state.index_add(&organiser_index(user.id), &fair.id.to_string()).await?;
        Ok(fair)
    }

    pub async fn patch(&self, user: &User, id: Uuid, patch: &FairPatch) -> Result<Fair, FairError> {
        let fair = self.organised(id, user).await?;
        let now = self.clock.now();
        let (fair, _) = self
            .update(fair.id, |f| {
                if f.status == FairStatus::Closed {
                    return Err(FairError::InvalidState("the fair has closed".into()));
                }
                patch.apply(f, now).map_err(FairError::Invalid)
            })
            .await?;
        if fair.status != FairStatus::Draft {
            self.schedule_fair(&fair).await?;
        }
        Ok(fair)
    }

    /// `draft → published`, and on to `open` at once when its time has come.
    pub async fn publish(&self, user: &User, id: Uuid) -> Result<Fair, FairError> {
        self.organised(id, user).await?;
        let now = self.clock.now();
        // The schedule first: a fair published is always one the scheduler will open and close.
        let (fair, _) = self.update(id, |f| f.publish(now).map_err(|m| FairError::InvalidState(m.into()))).await?;
        self.schedule_fair(&fair).await?;
        Ok(fair)
    }

    /// Closes a published or open fair early.
    pub async fn close(&self, user: &User, id: Uuid) -> Result<Fair, FairError> {
        self.organised(id, user).await?;
        let now = self.clock.now();
        Ok(self.update(id, |f| f.close(now).map_err(|m| FairError::InvalidState(m.into()))).await?.0)
    }

    async fn schedule_fair(&self, fair: &Fair) -> Result<(), FairError> {
        let state = self.engine.state.as_ref();
        scheduler::add(state, &fair.opens_at, scheduler::Action::Open, fair.id).await?;
        scheduler::add(state, &fair.closes_at, scheduler::Action::Close, fair.id).await?;
        Ok(())
    }

    /// What the schedule says for the fair now; true when its status changed.
    pub async fn follow_schedule(&self, id: Uuid) -> Result<bool, FairError> {
        let now = self.clock.now();
        match self
            .update(id, |f| {
                f.follow_schedule(now);
                Ok(())
            })
            .await
        {
            Ok((_, changed)) => Ok(changed),
            Err(FairError::NotFound(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Fairs in `status` (default: open, then published), those `user` may see, at most 100
    /// of each; for visitors, as read within the last [`VIEW_FRESH`] on this node.
    pub async fn list(&self, status: Option<FairStatus>, user: Option<&User>) -> Result<Vec<Fair>, FairError> {
        let statuses = match status {
            Some(s) => vec![s],
            None => vec![FairStatus::Open, FairStatus::Published],
        };
        let mut fairs = Vec::new();
        // Visitors (not organisers, who act on what they read) get lists kept for a moment.
        let keep = !user.is_some_and(|u| matches!(u.role, Role::Organiser | Role::Admin));
        let now = std::time::Instant::now();
        for status in statuses {
            if keep
                && status != FairStatus::Draft
                && let Some((at, found)) = self.lists.lock().unwrap().get(&status)
                && now.duration_since(*at) < VIEW_FRESH
            {
                fairs.extend(found.iter().cloned());
                continue;
            }
            let index = match (status, user) {
                // Drafts come from the organiser's own list; an admin sees every draft.
                (FairStatus::Draft, Some(u)) if u.role != Role::Admin => organiser_index(u.id),
                (FairStatus::Draft, None) => continue,
                _ => status_index(status),
            };
            let mut found = Vec::new();
            for id in self.engine.state.index_range(&index, None, LIST_LIMIT).await? {
                let Ok(id) = Uuid::parse_str(&id) else { continue };
                match self.get(id).await {
                    Ok(f) if f.status == status && f.visible_to(user) => found.push(f),
                    Ok(_) | Err(FairError::NotFound(_)) => {}
                    Err(e) => return Err(e),
                }
            }
            found.sort_by(|a, b| a.opens_at.cmp(&b.opens_at));
            if status != FairStatus::Draft {
                self.lists.lock().unwrap().insert(status, (now, found.clone()));
            }
            fairs.extend(found);
        }
        Ok(fairs)
    }

    /// The fair with its approved booths and its agenda. For everyone but its organiser the
    /// booths and the agenda (up to two thousand reads for a full fair) are kept on this node
    /// for [`VIEW_FRESH`], so a flood of anonymous requests costs the engine one read each (live
    /// changes reach visitors on `fair:<id>`).
    pub async fn view(&self, id: Uuid, user: Option<&User>) -> Result<FairView, FairError> {
        let fair = self.get_visible(id, user).await?;
        let now = std::time::Instant::now();
        // The organiser always reads what is stored: the console acts on it.
        let organiser = user.is_some_and(|u| Self::is_organiser(&fair, u));
        if !organiser
            && let Some((at, booths, agenda)) = self.views.lock().unwrap().get(&id)
            && now.duration_since(*at) < VIEW_FRESH
        {
            return Ok(FairView { fair, booths: booths.clone(), agenda: agenda.clone() });
        }
        let booths = self.booths_of(id, Some(BoothStatus::Approved)).await?;
        let agenda = self.agenda(id).await?;
        let mut views = self.views.lock().unwrap();
        views.retain(|_, (at, _, _)| now.duration_since(*at) < VIEW_FRESH);
        if views.len() < MAX_VIEWS {
            views.insert(id, (now, booths.clone(), agenda.clone()));
        }
        Ok(FairView { fair, booths, agenda })
    }

    /// The fair's shows by `scheduled_at`.
    pub async fn agenda(&self, fair: Uuid) -> Result<Vec<Show>, FairError> {
        let mut shows = Vec::new();
        for member in self.engine.state.index_range(&agenda_index(fair), None, MAX_AGENDA).await? {
            let Some(id) = member.rsplit('|').next().and_then(|i| Uuid::parse_str(i).ok()) else { continue };
            match self.shows.get(id).await {
                Ok(show) => shows.push(show),
                Err(ShowError::NotFound) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(shows)
    }

    /// Posts (or, with an empty text, clears) the fair's announcement, sent on `fair:<id>`.
    pub async fn announce(&self, user: &User, id: Uuid, text: &str) -> Result<Option<String>, FairError> {
        let text = Chat::announcement(text)?;
        let fair = self.organised(id, user).await?;
        let announcement = (!text.is_empty()).then_some(text);
        let (fair, _) = self
            .update(fair.id, |f| {
                f.announcement.clone_from(&announcement);
                Ok(())
            })
            .await?;
        let event = FairEvent::Announcement { text: fair.announcement.as_deref() };
        events::publish(self.engine.broker.as_ref(), id, &event).await?;
        Ok(fair.announcement)
    }

    // ---- booths ----

    async fn load_booth(&self, id: Uuid) -> Result<(Bytes, Booth), FairError> {
        let fair = self.engine.state.get(&booth_fair_key(id)).await?.ok_or(FairError::NotFound("no such booth"))?;
        let fair = std::str::from_utf8(&fair)
            .ok()
            .and_then(|f| Uuid::parse_str(f).ok())
            .ok_or(FairError::NotFound("no such booth"))?;
        let bytes = self.engine.state.get(&booth_key(fair, id)).await?.ok_or(FairError::NotFound("no such booth"))?;
        let booth = decode(&bytes)?;
        Ok((bytes, booth))
    }

    /// The booth as stored, its seller's presence filled in.
    pub async fn booth(&self, id: Uuid) -> Result<Booth, FairError> {
        let mut booth = self.load_booth(id).await?.1;
        booth.seller_online = self.engine.presence.count(&seller_presence(id)).await? > 0;
        Ok(booth)
    }

    /// The booth, when `user` may see it: an approved booth of a fair they may see, or one not
    /// approved to its seller, the fair's organiser and admins. Its presence is as stored.
    pub async fn visible_booth(&self, id: Uuid, user: Option<&User>) -> Result<Booth, FairError> {
        let (_, booth) = self.load_booth(id).await?;
        let fair = match self.get_visible(booth.fair_id, user).await {
            Ok(fair) => fair,
            Err(FairError::NotFound(_)) => return Err(FairError::NotFound("no such booth")),
            Err(e) => return Err(e),
        };
        let visible = booth.status == BoothStatus::Approved
            || user.is_some_and(|u| u.seller_id == Some(booth.seller_id) || Self::is_organiser(&fair, u));
        if !visible {
            return Err(FairError::NotFound("no such booth"));
        }
        Ok(booth)
    }

    /// [`Fairs::visible_booth`] with its seller's presence as it is.
    pub async fn booth_for(&self, id: Uuid, user: Option<&User>) -> Result<Booth, FairError> {
        let mut booth = self.visible_booth(id, user).await?;
        booth.seller_online = self.engine.presence.count(&seller_presence(id)).await? > 0;
        Ok(booth)
    }

    async fn booths_of(&self, fair: Uuid, status: Option<BoothStatus>) -> Result<Vec<Booth>, FairError> {
        let ids = self.engine.state.index_range(&booths_index(fair), None, MAX_BOOTHS).await?;
        let keys: Vec<String> =
            ids.iter().filter_map(|i| Uuid::parse_str(i).ok()).map(|id| booth_key(fair, id)).collect();
        let mut booths = Vec::with_capacity(keys.len());
        for bytes in self.engine.state.get_many(&keys).await?.into_iter().flatten() {
            let booth: Booth = decode(&bytes)?;
            if status.is_none_or(|s| s == booth.status) {
                booths.push(booth);
            }
        }
        Ok(booths)
    }

    /// A fair's booths: anyone sees the approved ones, its organiser every one (`status`
    /// filters).
    pub async fn list_booths(
        &self,
        fair: Uuid,
        status: Option<BoothStatus>,
        user: Option<&User>,
    ) -> Result<Vec<Booth>, FairError> {
        let f = self.get_visible(fair, user).await?;
        let organiser = user.is_some_and(|u| Self::is_organiser(&f, u));
        let status = match status {
            Some(s) if organiser => Some(s),
            None if organiser => None,
            Some(BoothStatus::Approved) | None => Some(BoothStatus::Approved),
            Some(_) => return Err(FairError::Forbidden("only the fair's organiser sees booths that are not approved")),
        };
        self.booths_of(fair, status).await
    }

    /// A seller applies for a booth (`pending`), or the fair's organiser adds one for a seller
    /// (`approved` at once). One booth per seller per fair.
    pub async fn apply(&self, user: &User, fair_id: Uuid, input: &BoothInput) -> Result<Booth, FairError> {
        let fair = self.get_visible(fair_id, Some(user)).await?;
        let organiser = Self::is_organiser(&fair, user);
        let (seller_id, status) = match (organiser, input.seller_id, user.seller_id) {
            (true, Some(seller), _) => (seller, BoothStatus::Approved),
            (true, None, _) => {
                return Err(FairError::Invalid(FieldErrors::single(
                    "seller_id",
                    "name the seller whose booth this is",
                )));
            }
            (false, None, Some(own)) if user.role == Role::Seller => (own, BoothStatus::Pending),
            (false, Some(s), Some(own)) if user.role == Role::Seller && s == own => (own, BoothStatus::Pending),
            (false, Some(_), _) if user.role == Role::Seller => {
                return Err(FairError::Forbidden("a seller applies for their own booth only"));
            }
            _ => return Err(FairError::Forbidden("only sellers apply for booths, and the fair's organiser adds them")),
        };
        match fair.status {
            FairStatus::Closed => return Err(FairError::InvalidState("the fair has closed".into())),
            FairStatus::Draft if !organiser => return Err(FairError::NotFound("no such fair")),
            _ => {}
        }
        let seller = match self.catalog.seller(seller_id).await {
            Ok(s) => s,
            Err(CatalogError::NotFound) => {
                return Err(FairError::Invalid(FieldErrors::single("seller_id", "no such seller")));
            }
            Err(e) => return Err(e.into()),
        };
        let featured = input.featured_products.clone().unwrap_or_default();
        let owned = self.owned_products(seller_id, &featured).await?;
        let mut errors = FieldErrors::new();
        let (title, description) = booth_texts(
            &mut errors,
            input.title.as_deref(),
            input.description.as_deref(),
            &seller.display_name,
            &seller.intro,
        );
        check_featured(&mut errors, &featured, &|p| owned.contains(&p));
        errors.into_result().map_err(FairError::Invalid)?;
        let count = self.engine.state.index_range(&booths_index(fair_id), None, MAX_BOOTHS).await?.len();
        if count >= MAX_BOOTHS {
            return Err(FairError::Conflict(format!("a fair holds at most {MAX_BOOTHS} booths")));
        }
        let booth = Booth {
            id: Uuid::now_v7(),
            fair_id,
            seller_id,
            seller_user_id: seller.account_id,
            seller_name: seller.display_name.clone(),
            province: seller.province.clone(),
            title,
            description,
            featured_products: featured,
            status,
            seller_online: false,
            slow_mode_s: 0,
            created_at: self.clock.rfc3339(),
        };
        let claim = booth_of_key(fair_id, seller_id);
        if !self.engine.state.set_nx(&claim, booth.id.to_string().as_bytes(), None).await? {
            return Err(FairError::Conflict("this seller already has a booth in this fair".into()));
        }
        self.engine.state.set(&booth_key(fair_id, booth.id), &encode(&booth)?, None).await?;
        self.engine.state.set(&booth_fair_key(booth.id), fair_id.to_string().as_bytes(), None).await?;
        self.engine.state.index_add(&booths_index(fair_id), &booth.id.to_string()).await?;
        self.engine.state.index_add(&seller_booths(seller_id), &booth.id.to_string()).await?;
        if status == BoothStatus::Approved {
            events::publish(self.engine.broker.as_ref(), fair_id, &FairEvent::Booth { booth: &booth }).await?;
            self.notify(booth.seller_user_id, "booth.approved", "booth", &booth, booth.id).await?;
        } else {
            // The organiser's console hears of the application at once.
            self.notify(fair.organiser_id, "booth.applied", "booth", &booth, booth.id).await?;
        }
        Ok(booth)
    }

    async fn owned_products(&self, seller: Uuid, products: &[Uuid]) -> Result<HashSet<Uuid>, FairError> {
        let mut owned = HashSet::new();
        for p in products.iter().take(crate::domain::fair::MAX_FEATURED + 1) {
            match self.catalog.record(*p).await {
                Ok(r) if r.seller_id == seller => {
                    owned.insert(*p);
                }
                Ok(_) | Err(CatalogError::NotFound) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(owned)
    }

    /// Applies `change` to a booth with compare-and-set and tells its channel (and the lobby,
    /// when it is or was approved).
    async fn update_booth(
        &self,
        id: Uuid,
        change: impl Fn(&mut Booth) -> Result<(), FairError>,
    ) -> Result<Booth, FairError> {
        for _ in 0..CAS_TRIES {
            let (bytes, booth) = self.load_booth(id).await?;
            let mut next = booth.clone();
            change(&mut next)?;
            if next == booth {
                return Ok(next);
            }
            if self.engine.state.compare_and_set(&booth_key(booth.fair_id, id), Some(&bytes), &encode(&next)?).await? {
                // Events carry the seller's presence as it is, not as stored.
                let mut next = next;
                next.seller_online = self.engine.presence.count(&seller_presence(id)).await? > 0;
                let broker = self.engine.broker.as_ref();
                events::publish(broker, id, &BoothEvent::Booth { booth: &next }).await?;
                if next.status == BoothStatus::Approved || booth.status == BoothStatus::Approved {
                    events::publish(broker, next.fair_id, &FairEvent::Booth { booth: &next }).await?;
                }
                return Ok(next);
            }
        }
        Err(FairError::Engine(EngineError::Unavailable("booth is being changed too often; retry".into())))
    }

    /// The booth's seller changes its texts and featured products.
    pub async fn patch_booth(&self, user: &User, id: Uuid, patch: &BoothPatch) -> Result<Booth, FairError> {
        let (_, booth) = self.load_booth(id).await?;
        if user.seller_id != Some(booth.seller_id) {
            return Err(FairError::Forbidden("only the booth's seller changes it"));
        }
        if self.get(booth.fair_id).await?.status == FairStatus::Closed {
            return Err(FairError::InvalidState("the fair has closed".into()));
        }
        let owned = match &patch.featured_products {
            Some(list) => self.owned_products(booth.seller_id, list).await?,
            None => HashSet::new(),
        };
        let mut booth = self
            .update_booth(id, |b| {
                let mut errors = FieldErrors::new();
                let (title, description) = booth_texts(
                    &mut errors,
                    patch.title.as_deref(),
                    patch.description.as_deref(),
                    &b.title,
                    &b.description,
                );
                if let Some(list) = &patch.featured_products {
                    check_featured(&mut errors, list, &|p| owned.contains(&p));
                    b.featured_products.clone_from(list);
                }
                errors.into_result().map_err(FairError::Invalid)?;
                (b.title, b.description) = (title, description);
                Ok(())
            })
            .await?;
        booth.seller_online = self.engine.presence.count(&seller_presence(id)).await? > 0;
        Ok(booth)
    }

    /// The fair's organiser approves or rejects a booth; the seller is told.
    pub async fn decide(&self, user: &User, id: Uuid, to: BoothStatus) -> Result<Booth, FairError> {
        let (_, booth) = self.load_booth(id).await?;
        let fair = self.get(booth.fair_id).await?;
        if !Self::is_organiser(&fair, user) {
            return Err(FairError::Forbidden("only the fair's organiser approves or rejects booths"));
        }
        if fair.status == FairStatus::Closed {
            return Err(FairError::InvalidState("the fair has closed".into()));
        }
        let booth = self
            .update_booth(id, |b| match (b.status, to) {
                (from, to) if from == to => {
                    Err(FairError::InvalidState(format!("the booth is already {}", to.as_str())))
                }
                (_, BoothStatus::Pending) => Err(FairError::InvalidState("a booth cannot go back to pending".into())),
                _ => {
                    b.status = to;
                    Ok(())
                }
            })
            .await?;
        let kind = if to == BoothStatus::Approved { "booth.approved" } else { "booth.rejected" };
        self.notify(booth.seller_user_id, kind, "booth", &booth, booth.id).await?;
        Ok(booth)
    }

    /// The booths of a seller in every fair, newest last.
    pub async fn booths_of_seller(&self, seller: Uuid) -> Result<Vec<Booth>, FairError> {
        let mut booths = Vec::new();
        for id in self.engine.state.index_range(&seller_booths(seller), None, MAX_BOOTHS).await? {
            let Ok(id) = Uuid::parse_str(&id) else { continue };
            match self.booth(id).await {
                Ok(b) => booths.push(b),
                Err(FairError::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(booths)
    }

    // ---- the agenda ----

    /// Creates a show; with `fair_id` it joins that fair's agenda, under the rules of
    /// PROTOCOL.md §3 (an approved booth, within opening hours, no overlap with the seller's
    /// other shows), checked under a per-seller lease so two requests cannot both take a slot.
    pub async fn create_show(&self, seller: Uuid, input: &ShowInput) -> Result<Show, FairError> {
        let Some(fair_id) = input.fair_id else {
            return Ok(self.shows.create(seller, input, None).await?);
        };
        let Some(at) = input.scheduled_at.as_deref() else { return Err(FairError::Agenda(AgendaRule::NeedsTime)) };
        let Some(start) = stored_time(at.trim()) else {
            return Err(FairError::Invalid(FieldErrors::single(
                "scheduled_at",
                "must be an RFC 3339 time like 2026-12-01T19:00:00+07:00",
            )));
        };
        let fair = match self.get(fair_id).await {
            Ok(f) if f.status != FairStatus::Draft => f,
            Ok(_) | Err(FairError::NotFound(_)) => {
                return Err(FairError::Invalid(FieldErrors::single("fair_id", "no such fair")));
            }
            Err(e) => return Err(e),
        };
        let booth = match self.engine.state.get(&booth_of_key(fair_id, seller)).await? {
            Some(id) => {
                let id = std::str::from_utf8(&id).ok().and_then(|i| Uuid::parse_str(i).ok());
                match id {
                    Some(id) => Some(self.load_booth(id).await?.1),
                    None => None,
                }
            }
            None => None,
        };
        if booth.is_none_or(|b| b.status != BoothStatus::Approved) {
            return Err(FairError::Agenda(AgendaRule::NoApprovedBooth));
        }
        let duration = input.duration_min.unwrap_or(crate::domain::fair::DEFAULT_SLOT_MIN).clamp(15, 600);
        let slot = Slot::new(start, duration);
        check_slot(&fair, &slot).map_err(FairError::Agenda)?;
        let lease = Lease::new(
            self.engine.state.clone(),
            format!("{{s:{seller}}}:agenda-lock"),
            Uuid::now_v7().to_string(),
            Duration::from_secs(10),
        );
        if !lease.hold().await? {
            return Err(FairError::Conflict("another show of yours is being scheduled; try again".into()));
        }
        let created = self.create_in_slot(seller, input, &fair, &slot).await;
        let _ = lease.release().await;
        let show = created?;
        let member = format!("{}|{}", format_rfc3339(slot.start), show.id);
        self.engine.state.index_add(&agenda_index(fair_id), &member).await?;
        let remind = slot.start - time::Duration::milliseconds(self.config.reminder_lead.as_millis() as i64);
        scheduler::add(self.engine.state.as_ref(), &format_rfc3339(remind), scheduler::Action::Soon, show.id).await?;
        events::publish(self.engine.broker.as_ref(), fair_id, &FairEvent::Agenda { show: &show }).await?;
        Ok(show)
    }

    async fn create_in_slot(
        &self,
        seller: Uuid,
        input: &ShowInput,
        fair: &Fair,
        slot: &Slot,
    ) -> Result<Show, FairError> {
        let mut after = None;
        loop {
            let (shows, next) = self.shows.list_of_seller(seller, after, 100).await?;
            for other in shows.iter().filter(|s| s.status != ShowStatus::Ended) {
                let Some(start) = other.scheduled_at.as_deref().and_then(stored_time) else { continue };
                if Slot::new(start, other.duration_min).overlaps(slot) {
                    return Err(FairError::Agenda(AgendaRule::Overlaps {
                        show_id: other.id,
                        scheduled_at: format_rfc3339(start),
                    }));
                }
            }
            match next {
                Some(n) => after = Some(n),
                None => break,
            }
        }
        let count = self.engine.state.index_range(&agenda_index(fair.id), None, MAX_AGENDA).await?.len();
        if count >= MAX_AGENDA {
            return Err(FairError::Conflict(format!("a fair's agenda holds at most {MAX_AGENDA} shows")));
        }
        Ok(self.shows.create(seller, input, Some(fair.organiser_id)).await?)
    }

    /// A show started or ended (through REST, by its seller, the organiser or an admin): the
    /// lobby of its fair is told, and its followers are notified (by the scheduler, once).
    pub async fn show_changed(&self, show: &Show) -> Result<(), FairError> {
        let broker = self.engine.broker.as_ref();
        match show.status {
            ShowStatus::Live => {
                scheduler::add(self.engine.state.as_ref(), &self.clock.rfc3339(), scheduler::Action::Live, show.id)
                    .await?;
                if let Some(fair) = show.fair_id {
                    events::publish(broker, fair, &FairEvent::ShowLive { show }).await?;
                }
            }
            ShowStatus::Ended => {
                if let Some(fair) = show.fair_id {
                    events::publish(broker, fair, &FairEvent::ShowEnded { show_id: show.id }).await?;
                }
            }
            ShowStatus::Scheduled => {}
        }
        Ok(())
    }

    // ---- follows and notifications ----

    /// Follows a show (or stops); any signed-in account but guests.
    pub async fn follow(&self, user: &User, show: Uuid, on: bool) -> Result<bool, FairError> {
        if user.role == Role::Guest {
            return Err(FairError::Forbidden("guests cannot follow shows; register to be reminded"));
        }
        self.shows.get(show).await?;
        let (followers, follows) = (followers_index(show), follows_index(user.id));
        if on {
            let mine = self.engine.state.index_range(&follows, None, MAX_FOLLOWS).await?;
            if !mine.contains(&show.to_string()) && mine.len() >= MAX_FOLLOWS {
                return Err(FairError::Conflict(format!("you follow {MAX_FOLLOWS} shows already; unfollow one first")));
            }
            self.engine.state.index_add(&followers, &user.id.to_string()).await?;
            self.engine.state.index_add(&follows, &show.to_string()).await?;
        } else {
            self.engine.state.index_remove(&follows, &show.to_string()).await?;
            self.engine.state.index_remove(&followers, &user.id.to_string()).await?;
        }
        Ok(on)
    }

    /// The shows `user` follows.
    pub async fn followed(&self, user: &User) -> Result<Vec<Show>, FairError> {
        let mut shows = Vec::new();
        for id in self.engine.state.index_range(&follows_index(user.id), None, MAX_FOLLOWS).await? {
            let Ok(id) = Uuid::parse_str(&id) else { continue };
            match self.shows.get(id).await {
                Ok(s) => shows.push(s),
                Err(ShowError::NotFound) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(shows)
    }

    /// Sends `notify {kind, <field>: value}` on `user:<to>`, once per kind and object: the
    /// mark is written first, so a retry (or another node taking over) never repeats it.
    async fn notify<T: Serialize>(
        &self,
        to: Uuid,
        kind: &str,
        field: &str,
        value: &T,
        object: Uuid,
    ) -> Result<bool, FairError> {
        let mark = notified_key(to, kind, object);
        if !self.engine.state.set_nx(&mark, b"1", Some(NOTIFIED_TTL)).await? {
            return Ok(false);
        }
        let mut data = serde_json::Map::new();
        data.insert("kind".into(), json!(kind));
        data.insert(field.into(), serde_json::to_value(value).map_err(|e| EngineError::Internal(e.to_string()))?);
        let data = Value::Object(data);
        events::publish(self.engine.broker.as_ref(), to, &UserEvent::Notify(&data)).await?;
        Ok(true)
    }

    /// Tells every follower of `show` (`show.soon` or `show.live`), once each.
    pub async fn notify_followers(&self, show: Uuid, kind: &str) -> Result<usize, FairError> {
        let show = match self.shows.get(show).await {
            Ok(s) => s,
            Err(ShowError::NotFound) => return Ok(0),
            Err(e) => return Err(e.into()),
        };
        if kind == "show.soon" && show.status != ShowStatus::Scheduled {
            return Ok(0);
        }
        let mut sent = 0;
        let mut after: Option<String> = None;
        loop {
            let page = self.engine.state.index_range(&followers_index(show.id), after.as_deref(), 1000).await?;
            for follower in page.iter().filter_map(|f| Uuid::parse_str(f).ok()) {
                if self.notify(follower, kind, "show", &show, show.id).await? {
                    sent += 1;
                }
            }
            if page.len() < 1000 {
                return Ok(sent);
            }
            after = page.last().cloned();
        }
    }

    // ---- booth Q&A ----

    fn booth_moderator(booth: &Booth, fair: &Fair, user: &User) -> bool {
        user.id == booth.seller_user_id || Self::is_organiser(fair, user)
    }

    /// The booth and its fair, for chat: the booth approved and the fair not closed.
    async fn chat_booth(&self, id: Uuid) -> Result<(Booth, Fair), FairError> {
        let (_, booth) = self.load_booth(id).await?;
        if booth.status != BoothStatus::Approved {
            return Err(FairError::NotFound("no such booth"));
        }
        let fair = self.get(booth.fair_id).await?;
        if fair.status == FairStatus::Closed {
            return Err(FairError::InvalidState("the fair has closed".into()));
        }
        Ok((booth, fair))
    }

    async fn moderated_booth(&self, id: Uuid, user: &User) -> Result<(Booth, Fair), FairError> {
        let (booth, fair) = self.chat_booth(id).await?;
        if !Self::booth_moderator(&booth, &fair, user) {
            return Err(FairError::Forbidden("only the booth's seller and the fair's organiser moderate its chat"));
        }
        Ok((booth, fair))
    }

    fn chat_room<'a>(booth: &Booth, base: &'a str) -> ChatRoom<'a> {
        ChatRoom { id: booth.id, base, slow_mode_s: booth.slow_mode_s }
    }

    /// `chat.send` with `booth`: the show chat's rules, in the booth's Q&A.
    pub async fn chat_send(&self, user: &User, id: Uuid, text: &str) -> Result<Uuid, FairError> {
        let text = self.chat.precheck(id, user, text)?;
        let (booth, fair) = self.chat_booth(id).await?;
        let moderator = Self::booth_moderator(&booth, &fair, user);
        let base = booth_key(booth.fair_id, id);
        let (msg_id, message) = self.chat.admit(&Self::chat_room(&booth, &base), user, moderator, &text).await?;
        events::publish(self.engine.broker.as_ref(), id, &BoothEvent::Chat(&message)).await?;
        Ok(msg_id)
    }

    async fn log(
        &self,
        booth: &Booth,
        by: &User,
        action: &str,
        target: Option<String>,
        detail: Option<String>,
    ) -> Result<(), FairError> {
        let base = booth_key(booth.fair_id, booth.id);
        Ok(self.chat.log(&Self::chat_room(booth, &base), by, action, target, detail).await?)
    }

    pub async fn chat_delete(&self, user: &User, id: Uuid, msg_id: Uuid) -> Result<(), FairError> {
        let (booth, _) = self.moderated_booth(id, user).await?;
        events::publish(self.engine.broker.as_ref(), id, &BoothEvent::ChatDeleted { msg_id }).await?;
        self.log(&booth, user, "delete", Some(msg_id.to_string()), None).await
    }

    pub async fn mute(&self, user: &User, id: Uuid, target: Uuid, minutes: u32) -> Result<(), FairError> {
        Chat::check_mute(minutes)?;
        let (booth, _) = self.moderated_booth(id, user).await?;
        let base = booth_key(booth.fair_id, id);
        self.chat.mute(&Self::chat_room(&booth, &base), target, minutes).await?;
        self.log(&booth, user, "mute", Some(target.to_string()), Some(format!("{minutes} min"))).await
    }

    pub async fn ban(&self, user: &User, id: Uuid, target: Uuid) -> Result<(), FairError> {
        let (booth, fair) = self.moderated_booth(id, user).await?;
        if target == user.id || target == booth.seller_user_id || target == fair.organiser_id {
            return Err(FairError::BadRequest("moderators cannot be banned".into()));
        }
        let base = booth_key(booth.fair_id, id);
        self.chat.ban(&Self::chat_room(&booth, &base), target).await?;
        events::publish(self.engine.broker.as_ref(), id, &BoothEvent::Banned { user_id: target }).await?;
        self.log(&booth, user, "ban", Some(target.to_string()), None).await
    }

    pub async fn slow(&self, user: &User, id: Uuid, seconds: u32) -> Result<(), FairError> {
        Chat::check_slow(seconds)?;
        let (booth, _) = self.moderated_booth(id, user).await?;
        self.update_booth(id, |b| {
            b.slow_mode_s = seconds;
            Ok(())
        })
        .await?;
        self.log(&booth, user, "slow", None, Some(format!("{seconds} s"))).await
    }

    /// Whether `user` is banned from the booth's chat (subscribing is refused then).
    pub async fn is_banned_from_booth(&self, booth: &Booth, user: Uuid) -> Result<bool, FairError> {
        Ok(self.chat.is_banned(&booth_key(booth.fair_id, booth.id), user).await?)
    }

    // ---- the lobby's visitors and the sellers' presence, once a second ----

    /// Reports this node's lobby visitors and booth sellers when they changed (or are due a
    /// refresh), and, on the one node that takes each second's lock, broadcasts the totals that
    /// changed: `visitors` on `fair:<id>`, `presence` on `booth:<id>`.
    pub async fn tick(&self) {
        let counts = self.hub.channel_counts();
        let now = std::time::Instant::now();
        let mut fairs: HashMap<Uuid, u64> = HashMap::new();
        // Booths with local subscribers, and how many.
        let mut booths: Vec<(Uuid, u64)> = Vec::new();
        for (channel, n) in &counts {
            let Ok(c) = Channel::parse(channel) else { continue };
            match c.kind {
                ChannelKind::Fair => {
                    fairs.insert(c.id, *n as u64);
                }
                ChannelKind::Booth => booths.push((c.id, *n as u64)),
                _ => {}
            }
        }
        let gone: Vec<Uuid> = {
            let t = self.ticks.lock().unwrap();
            t.visitors.keys().filter(|f| !fairs.contains_key(f)).copied().collect()
        };
        for id in gone {
            fairs.insert(id, 0);
        }
        for (fair, local) in fairs {
            if let Err(e) = self.tick_fair(fair, local, now).await {
                tracing::debug!(fair = %fair, error = %e, "fair tick failed");
            }
        }
        let flush_seconds = {
            let mut t = self.ticks.lock().unwrap();
            t.since_flush += 1;
            let due = t.since_flush >= SECONDS_FLUSH_EVERY;
            if due {
                t.since_flush = 0;
            }
            due
        };
        if let Err(e) = self.flush_visits(&booths, flush_seconds).await {
            tracing::debug!(error = %e, "storing fair visits failed");
        }
        let mut sellers: HashMap<Uuid, u64> = HashMap::new();
        for &(booth, _) in &booths {
            match self.booth_seller(booth).await {
                Ok(Some(account)) => {
                    let n = self.hub.user_count(&Channel::new(ChannelKind::Booth, booth).to_string(), account);
                    sellers.insert(booth, n as u64);
                }
                Ok(None) => {}
                Err(e) => tracing::debug!(booth = %booth, error = %e, "booth tick failed"),
            }
        }
        let gone: Vec<Uuid> = {
            let t = self.ticks.lock().unwrap();
            t.sellers.keys().filter(|b| !sellers.contains_key(b)).copied().collect()
        };
        for id in gone {
            sellers.insert(id, 0);
        }
        for (booth, local) in sellers {
            if let Err(e) = self.tick_booth(booth, local, now).await {
                tracing::debug!(booth = %booth, error = %e, "booth presence failed");
            }
        }
        // The cached sellers of booths nobody here follows any more go.
        self.ticks.lock().unwrap().booth_sellers.retain(|b, _| booths.iter().any(|(id, _)| id == b));
    }

    /// The booth's (fair, seller account), cached while it has local subscribers.
    async fn booth_seller(&self, booth: Uuid) -> Result<Option<Uuid>, FairError> {
        if let Some((_, account)) = self.ticks.lock().unwrap().booth_sellers.get(&booth) {
            return Ok(Some(*account));
        }
        match self.load_booth(booth).await {
            Ok((_, b)) => {
                self.ticks.lock().unwrap().booth_sellers.insert(booth, (b.fair_id, b.seller_user_id));
                Ok(Some(b.seller_user_id))
            }
            Err(FairError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn tick_fair(&self, fair: Uuid, local: u64, now: std::time::Instant) -> Result<(), FairError> {
        let channel = Channel::new(ChannelKind::Fair, fair).to_string();
        let due = self.ticks.lock().unwrap().visitors.due(&fair, local, now);
        if due {
            self.engine.presence.report(&channel, &self.node_id, local, REPORT_TTL).await?;
            self.ticks.lock().unwrap().visitors.reported(&fair, local, now);
        }
        let unsent = self.ticks.lock().unwrap().visitors_unsent.contains(&fair);
        if local == 0 {
            let mut t = self.ticks.lock().unwrap();
            t.visitors_unsent.remove(&fair);
            t.visitors_sent.remove(&fair);
            return Ok(());
        }
        if !(due || unsent) {
            return Ok(());
        }
        let lock = format!("{{f:{fair}}}:visitors-tick");
        if !once_per(self.engine.state.as_ref(), &lock, &self.node_id, Duration::from_secs(1)).await? {
            self.ticks.lock().unwrap().visitors_unsent.insert(fair);
            return Ok(());
        }
        let count = self.engine.presence.count(&channel).await?;
        self.engine.state.set_max(&format!("{{f:{fair}}}:peak"), count as i64).await?;
        let last = {
            let mut t = self.ticks.lock().unwrap();
            t.visitors_unsent.remove(&fair);
            t.visitors_sent.insert(fair, count)
        };
        if last != Some(count) {
            events::publish(self.engine.broker.as_ref(), fair, &FairEvent::Visitors { count }).await?;
        }
        Ok(())
    }

    async fn tick_booth(&self, booth: Uuid, local: u64, now: std::time::Instant) -> Result<(), FairError> {
        let key = seller_presence(booth);
        let due = self.ticks.lock().unwrap().sellers.due(&booth, local, now);
        if due {
            self.engine.presence.report(&key, &self.node_id, local, REPORT_TTL).await?;
            self.ticks.lock().unwrap().sellers.reported(&booth, local, now);
        }
        let unsent = self.ticks.lock().unwrap().online_unsent.contains(&booth);
        if !(due || unsent) {
            return Ok(());
        }
        let lock = format!("booth:{booth}:presence-tick");
        if !once_per(self.engine.state.as_ref(), &lock, &self.node_id, Duration::from_secs(1)).await? {
            self.ticks.lock().unwrap().online_unsent.insert(booth);
            return Ok(());
        }
        let online = self.engine.presence.count(&key).await? > 0;
        let last = {
            let mut t = self.ticks.lock().unwrap();
            t.online_unsent.remove(&booth);
            if local == 0 { t.online_sent.remove(&booth) } else { t.online_sent.insert(booth, online) }
        };
        if last != Some(online) {
            let broker = self.engine.broker.as_ref();
            events::publish(broker, booth, &BoothEvent::Presence { seller_online: online }).await?;
            // The lobby lists booths with their seller's presence too.
            let (_, mut b) = self.load_booth(booth).await?;
            if b.status == BoothStatus::Approved {
                b.seller_online = online;
                events::publish(broker, b.fair_id, &FairEvent::Booth { booth: &b }).await?;
            }
        }
        Ok(())
    }

    /// The number of connections in the fair's lobby across nodes, and its peak.
    pub async fn visitors(&self, fair: Uuid) -> Result<(u64, u64), FairError> {
        let now = self.engine.presence.count(&Channel::new(ChannelKind::Fair, fair).to_string()).await?;
        let peak = self.engine.state.get(&format!("{{f:{fair}}}:peak")).await?;
        let peak = peak.as_ref().and_then(|b| std::str::from_utf8(b).ok()).and_then(|s| s.parse().ok()).unwrap_or(0);
        Ok((now, peak.max(now)))
    }
}
