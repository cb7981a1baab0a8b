//! Who acts, when several nodes could: the two ways this codebase decides it, over [`State`].
//!
//! - [`once_per`]: at most one node acts on something per period (broadcasting a show's viewer
//!   count, an offer's stock): the first to ask in a period gets it, nobody holds anything.
//! - [`Lease`]: one node holds some work (the scheduler) for as long as it keeps renewing, and
//!   another takes over when it stops: the holder renews well within the lease's time and lets
//!   go on shutdown.

use std::sync::Arc;
use std::time::Duration;

use super::{EngineError, State};

/// True for the one caller (across nodes) that asks first within `period` of `key`.
pub async fn once_per(state: &dyn State, key: &str, node: &str, period: Duration) -> Result<bool, EngineError> {
    state.set_nx(key, node.as_bytes(), Some(period)).await
}

/// A lease on `key` for one holder at a time; see [`State::lease_hold`].
#[derive(Clone)]
pub struct Lease {
    state: Arc<dyn State>,
    key: String,
    holder: String,
    ttl: Duration,
}

impl Lease {
    pub fn new(state: Arc<dyn State>, key: impl Into<String>, holder: impl Into<String>, ttl: Duration) -> Self {
        Self { state, key: key.into(), holder: holder.into(), ttl }
    }

    /// Takes or renews the lease: true while this holder has it.
    pub async fn hold(&self) -> Result<bool, EngineError> {
        self.state.lease_hold(&self.key, &self.holder, self.ttl).await
    }

    /// Lets go, so another holder can take it at once.
    pub async fn release(&self) -> Result<bool, EngineError> {
        self.state.lease_release(&self.key, &self.holder).await
    }

    /// How often a holder should renew: a third of the lease's time, so two renewals can fail
    /// before it lapses.
    pub fn renew_every(&self) -> Duration {
        self.ttl / 3
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::memory::MemoryEngine;

    #[tokio::test]
    async fn a_lease_is_held_renewed_and_handed_over_and_once_per_lets_one_through() {
        let state: Arc<dyn State> = Arc::new(MemoryEngine::unconnected());
        let ttl = Duration::from_secs(30);
        let a = Lease::new(state.clone(), "scheduler", "node-a", ttl);
        let b = Lease::new(state.clone(), "scheduler", "node-b", ttl);
        assert_eq!(a.renew_every(), Duration::from_secs(10));
        assert!(a.hold().await.unwrap());
        assert!(!b.hold().await.unwrap(), "one holder");
        assert!(a.hold().await.unwrap(), "renewed");
        assert!(!b.release().await.unwrap(), "only the holder lets go");
        assert!(a.release().await.unwrap());
        assert!(b.hold().await.unwrap(), "taken over at once");

        let period = Duration::from_secs(30);
        assert!(once_per(state.as_ref(), "tick", "node-a", period).await.unwrap());
        assert!(!once_per(state.as_ref(), "tick", "node-b", period).await.unwrap(), "one per period");
        assert!(!once_per(state.as_ref(), "tick", "node-a", period).await.unwrap(), "the first too");
    }
}
