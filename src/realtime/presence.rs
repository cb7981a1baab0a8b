//! When a node tells the engine its viewer counts (`Presence::report`): when a count changed,
//! and again before the last report expires, never on every tick regardless.
//!
//! So an idle subscription costs the engine nothing between refreshes: per node, the reports
//! sent are at most one per channel whose local count changed in a tick, plus one per channel
//! with local subscribers every [`REFRESH`]. Channels exist before anyone may subscribe to them
//! (`Rooms::admit`), so both terms are bounded by real channels with real viewers.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::{Duration, Instant};

/// How long a report counts. A node that dies stops counting this long after its last report;
/// a node that stops cleanly sends zero reports as its last background step (best effort: the
/// process may exit first, and then its reports run out like a dead node's).
pub const REPORT_TTL: Duration = Duration::from_secs(45);

/// An unchanged count is reported again this often, well within [`REPORT_TTL`], so a report
/// delayed by a slow tick or a failed call still does not expire.
pub const REFRESH: Duration = Duration::from_secs(15);

/// What this node last reported per channel. Entries are the channels with local subscribers
/// (a count reported as zero is dropped), so the map is bounded by the hub's channels.
#[derive(Debug)]
pub struct Reports<K> {
    last: HashMap<K, (u64, Instant)>,
}

impl<K> Default for Reports<K> {
    fn default() -> Self {
        Self { last: HashMap::new() }
    }
}

impl<K: Hash + Eq + Clone> Reports<K> {
    /// Whether `count` must be reported now: it changed, or the last report is due a refresh.
    /// A channel never reported counts as reported at zero.
    pub fn due(&self, key: &K, count: u64, now: Instant) -> bool {
        match self.last.get(key) {
            Some((last, at)) => *last != count || now.duration_since(*at) >= REFRESH,
            None => count != 0,
        }
    }

    /// Records a report that the engine accepted.
    pub fn reported(&mut self, key: &K, count: u64, now: Instant) {
        if count == 0 {
            self.last.remove(key);
        } else {
            self.last.insert(key.clone(), (count, now));
        }
    }

    /// The channels last reported with a nonzero count.
    pub fn keys(&self) -> impl Iterator<Item = &K> {
        self.last.keys()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_on_change_and_on_refresh_only() {
        let mut r = Reports::default();
        let t0 = Instant::now();
        assert!(!r.due(&"a", 0, t0), "nothing to say about a channel never reported");
        assert!(r.due(&"a", 2, t0));
        r.reported(&"a", 2, t0);
        assert!(!r.due(&"a", 2, t0 + Duration::from_secs(1)));
        assert!(r.due(&"a", 3, t0 + Duration::from_secs(1)));
        assert!(r.due(&"a", 2, t0 + REFRESH));
        assert!(r.due(&"a", 0, t0 + Duration::from_secs(1)));
        r.reported(&"a", 0, t0);
        assert_eq!(r.keys().count(), 0, "a zero report is forgotten");
    }
}
