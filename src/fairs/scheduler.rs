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
            if entry.as_str() > now.as_str() {
                break;
            }
            let mut parts = entry.splitn(3, '|');
            let (_, action, id) = (parts.next(), parts.next().and_then(Action::parse), parts.next());
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
        if held {
            let _ = self.lease.release().await;
        }
    }
}
