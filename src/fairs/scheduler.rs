//! The fairs' scheduler: fairs open and close, followers are reminded before a show and told
//! when it goes live, on time and once, whatever the number of nodes.
//!
//! The schedule is one index, `fairs:schedule`, of `<time>|<action>|<id>` (times in the
//! protocol's fixed-width UTC form, so the index's order is the time order). Whoever decides
//! something is due writes it there first; one node, the holder of the lease `fairs:scheduler`
//! (held in the engine, renewed every second, given up on shutdown), carries out what is due and
//! removes each entry only once it is done. A node that dies holding the lease stops renewing;
//! another takes it within the lease's time and finds the entries still there. Each action is
//! idempotent (a fair's transition is a compare-and-set of its schedule; each notice is marked
//! sent before it goes), so an action a dying node left half done is finished, never repeated.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::{FairError, Fairs};
use crate::clock::Clock;
use crate::engine::lease::Lease;
use crate::engine::{EngineError, State};

const SCHEDULE: &str = "fairs:schedule";
const LEASE: &str = "fairs:scheduler";
/// The lease's time: a node that stops renewing is replaced within this.
pub const LEASE_TTL: Duration = Duration::from_secs(3);
/// How often the holder looks at the schedule: things happen within this of their time.
pub const TICK: Duration = Duration::from_millis(250);
/// How often the holder samples every open fair's figures for the control room's charts.
pub const SAMPLE_EVERY: Duration = Duration::from_secs(60);
/// Entries one look carries out at most (the rest wait for the next look).
const BATCH: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// A fair's `published → open` at `opens_at`.
    Open,
    /// A fair's `open → closed` at `closes_at`.
    Close,
    /// `show.soon` to the followers of a show, the reminder lead before it.
    Soon,
    /// `show.live` to the followers of a show that went live.
    Live,
}

impl Action {
    fn as_str(self) -> &'static str {
        match self {
            Action::Open => "open",
            Action::Close => "close",
            Action::Soon => "soon",
            Action::Live => "live",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "open" => Action::Open,
            "close" => Action::Close,
            "soon" => Action::Soon,
            "live" => Action::Live,
            _ => return None,
        })
    }
}

/// Puts `action` on `id` on the schedule at `at` (the protocol's UTC form). Idempotent.
pub async fn add(state: &dyn State, at: &str, action: Action, id: Uuid) -> Result<(), EngineError> {
    state.index_add(SCHEDULE, &format!("{at}|{}|{id}", action.as_str())).await
}

/// The scheduler of one node.
pub struct Scheduler {
    fairs: Arc<Fairs>,
    state: Arc<dyn State>,
    clock: Clock,
    lease: Lease,
}

impl Scheduler {
    pub fn new(fairs: Arc<Fairs>, state: Arc<dyn State>, clock: Clock, node: &str) -> Self {
        let lease = Lease::new(state.clone(), LEASE, node, LEASE_TTL);
        Self { fairs, state, clock, lease }
    }

    /// Carries out every entry due by now, in time order; returns how many were done. An
    /// entry that fails stays for the next look.
    pub async fn run_due(&self) -> Result<usize, EngineError> {
        let now = self.clock.rfc3339();
        let entries = self.state.index_range(SCHEDULE, None, BATCH).await?;
        let mut done = 0;
        for entry in entries {
            let mut parts = entry.splitn(3, '|');
            let (at, action, id) = (parts.next(), parts.next().and_then(Action::parse), parts.next());
            if at.is_some_and(|at| at > now.as_str()) {
                break;
            }
            let id = id.and_then(|i| Uuid::parse_str(i).ok());
            let result = match (action, id) {
                (Some(action), Some(id)) => self.act(action, id).await,
                // Not one of ours: dropped, so it cannot block the schedule.
                _ => Ok(()),
            };
            match result {
                Ok(()) => {
                    self.state.index_remove(SCHEDULE, &entry).await?;
                    done += 1;
                }
                Err(e) => tracing::warn!(entry = %entry, error = %e, "scheduled action failed; retrying"),
            }
        }
        Ok(done)
    }

    async fn act(&self, action: Action, id: Uuid) -> Result<(), FairError> {
        match action {
            Action::Open | Action::Close => {
                self.fairs.follow_schedule(id).await?;
            }
            Action::Soon => {
                self.fairs.notify_followers(id, "show.soon").await?;
            }
            Action::Live => {
                self.fairs.notify_followers(id, "show.live").await?;
            }
        }
        Ok(())
    }

    /// Whether this node holds the lease (taking or renewing it).
    pub async fn hold(&self) -> bool {
        matches!(self.lease.hold().await, Ok(true))
    }

    /// Until `stop`: renews the lease every second and, while holding it, looks at the
    /// schedule every [`TICK`]; lets the lease go when stopped.
    pub async fn run(self, stop: CancellationToken) {
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let renew = self.lease.renew_every();
        let mut held = false;
        let mut renewed = tokio::time::Instant::now() - renew;
        let mut sampled = tokio::time::Instant::now();
        loop {
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = tick.tick() => {}
            }
            if renewed.elapsed() >= renew {
                let now_held = self.hold().await;
                if now_held != held {
                    tracing::info!(held = now_held, "fair scheduler lease");
                }
                held = now_held;
                renewed = tokio::time::Instant::now();
            }
            if held && let Err(e) = self.run_due().await {
                tracing::warn!(error = %e, "fair scheduler could not read the schedule");
            }
            if held && sampled.elapsed() >= SAMPLE_EVERY {
                sampled = tokio::time::Instant::now();
                if let Err(e) = self.fairs.sample().await {
                    tracing::warn!(error = %e, "fair figures could not be sampled");
                }
            }
        }
        // Only the holder's release lets go of anything.
        let _ = self.lease.release().await;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use time::macros::datetime;

    use super::*;
    use crate::auth::{Role, User};
    use crate::catalog::Catalog;
    use crate::chat::{Chat, ChatConfig};
    use crate::domain::fair::{BoothInput, FairInput, FairStatus};
    use crate::domain::seller::{SellerKind, SellerProfile};
    use crate::domain::show::ShowInput;
    use crate::engine::memory::MemoryEngine;
    use crate::engine::{Broker, Engine, EngineConfig, EngineKind, EventSink};
    use crate::fairs::{Fairs, FairsConfig};
    use crate::metrics::Metrics;
    use crate::realtime::hub::Hub;
    use crate::shows::{Shows, ShowsConfig};

    fn person(role: Role) -> User {
        User { id: Uuid::now_v7(), name: format!("{role:?}"), role, email: None, phone: None, seller_id: None }
    }

    /// The fairs service on the memory engine, reading `clock`.
    fn services(clock: Clock) -> (Arc<Fairs>, Engine) {
        let hub = Arc::new(Hub::new(Arc::new(Metrics::new())));
        let sink: Arc<dyn EventSink> = hub.clone();
        let config =
            EngineConfig { history_size: 100, history_ttl: Duration::from_secs(3600), key_prefix: String::new() };
        let memory = Arc::new(MemoryEngine::new(config, sink));
        let engine = Engine {
            kind: EngineKind::Memory,
            broker: memory.clone(),
            presence: memory.clone(),
            state: memory.clone(),
            sales: memory,
        };
        let catalog = Catalog::new(engine.state.clone());
        let chat = Arc::new(Chat::new(
            engine.state.clone(),
            clock,
            ChatConfig { rate: 1, burst: 5, banned_words: Vec::new() },
        ));
        let node: Arc<str> = "node-a".into();
        let shows = Arc::new(Shows::new(
            engine.clone(),
            catalog.clone(),
            hub.clone(),
            node.clone(),
            clock,
            chat.clone(),
            ShowsConfig { public_url: "http://127.0.0.1".into() },
        ));
        let config = FairsConfig { reminder_lead: Duration::from_secs(600), node_id: node };
        let accounts = crate::accounts::Accounts::new(engine.state.clone(), catalog);
        (Arc::new(Fairs::new(engine.clone(), accounts, shows, hub, chat, clock, config)), engine)
    }

    async fn events(broker: &dyn Broker, channel: &str) -> Vec<serde_json::Value> {
        let recent = broker.recent(channel, 100).await.unwrap();
        recent.events.iter().map(|f| serde_json::from_slice(f).unwrap()).collect()
    }

    #[tokio::test(start_paused = true)]
    async fn fairs_open_and_close_and_followers_are_reminded_on_time_and_once() {
        let clock = Clock::following_tokio(datetime!(2026-12-01 12:00 UTC));
        let (fairs, engine) = services(clock);
        let scheduler = Scheduler::new(fairs.clone(), engine.state.clone(), clock, "node-a");
        let organiser = person(Role::Organiser);
        let input = FairInput {
            name: "Chợ OCOP mùa đông".into(),
            opens_at: "2026-12-01T12:10:00Z".into(),
            closes_at: "2026-12-01T14:00:00Z".into(),
            ..Default::default()
        };
        let fair = fairs.create(&organiser, &input).await.unwrap();
        fairs.publish(&organiser, fair.id).await.unwrap();

        // A booth and a show on the agenda at 12:40, followed by a buyer.
        let seller = SellerProfile {
            id: Uuid::now_v7(),
            account_id: Uuid::now_v7(),
            display_name: "HTX Mèo Vạc".into(),
            kind: SellerKind::Cooperative,
            province: "Tuyên Quang".into(),
            commune: "Mèo Vạc".into(),
            intro: "Mật ong bạc hà".into(),
            phone: None,
        };
        fairs.catalog.put_seller(&seller).await.unwrap();
        let booth = BoothInput { seller_id: Some(seller.id), ..Default::default() };
        fairs.apply(&organiser, fair.id, &booth).await.unwrap();
        let show = ShowInput {
            title: "Mật ong mùa hoa".into(),
            scheduled_at: Some("2026-12-01T12:40:00Z".into()),
            fair_id: Some(fair.id),
            ..Default::default()
        };
        let show = fairs.create_show(seller.id, &show).await.unwrap();
        let buyer = person(Role::Buyer);
        fairs.follow(&buyer, show.id, true).await.unwrap();
        let inbox = format!("user:{}", buyer.id);
        let reminders = |events: &[serde_json::Value]| {
            events.iter().filter(|e| e["ev"] == "notify" && e["data"]["kind"] == "show.soon").count()
        };

        assert_eq!(scheduler.run_due().await.unwrap(), 0, "nothing is due at 12:00");
        tokio::time::advance(Duration::from_secs(9 * 60 + 59)).await;
        scheduler.run_due().await.unwrap();
        assert_eq!(fairs.get(fair.id).await.unwrap().status, FairStatus::Published, "not a second early");
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(scheduler.run_due().await.unwrap(), 1);
        let opened = fairs.get(fair.id).await.unwrap();
        assert_eq!((opened.status, opened.opened_at.as_deref()), (FairStatus::Open, Some("2026-12-01T12:10:00.000Z")));
        assert_eq!(scheduler.run_due().await.unwrap(), 0, "done once");

        // The reminder goes ten minutes before, once.
        tokio::time::advance(Duration::from_secs(19 * 60)).await;
        scheduler.run_due().await.unwrap();
        assert_eq!(reminders(&events(engine.broker.as_ref(), &inbox).await), 0, "12:29: not yet");
        tokio::time::advance(Duration::from_secs(60)).await;
        scheduler.run_due().await.unwrap();
        assert_eq!(reminders(&events(engine.broker.as_ref(), &inbox).await), 1, "12:30");
        // Another node that finds the same entry again (it took over mid-way) sends nothing more.
        add(engine.state.as_ref(), "2026-12-01T12:30:00.000Z", Action::Soon, show.id).await.unwrap();
        assert_eq!(scheduler.run_due().await.unwrap(), 1);
        assert_eq!(reminders(&events(engine.broker.as_ref(), &inbox).await), 1, "once");

        // It closes at 14:00 by itself, and the lobby was told each change once.
        tokio::time::advance(Duration::from_secs(90 * 60)).await;
        scheduler.run_due().await.unwrap();
        assert_eq!(fairs.get(fair.id).await.unwrap().status, FairStatus::Closed);
        let lobby = events(engine.broker.as_ref(), &format!("fair:{}", fair.id)).await;
        let statuses: Vec<&str> =
            lobby.iter().filter(|e| e["ev"] == "fair").filter_map(|e| e["data"]["fair"]["status"].as_str()).collect();
        assert_eq!(statuses, vec!["published", "open", "closed"]);
    }

    #[tokio::test]
    async fn one_node_holds_the_lease_and_another_takes_it_when_it_lets_go() {
        let (fairs, engine) = services(Clock::system());
        let a = Scheduler::new(fairs.clone(), engine.state.clone(), Clock::system(), "node-a");
        let b = Scheduler::new(fairs, engine.state.clone(), Clock::system(), "node-b");
        assert!(a.hold().await);
        assert!(!b.hold().await, "one holder");
        let stop = CancellationToken::new();
        let running = tokio::spawn(a.run(stop.clone()));
        stop.cancel();
        running.await.unwrap();
        assert!(b.hold().await, "a node that stops lets go, and another takes over at once");
    }
}
