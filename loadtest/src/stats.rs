//! Aggregation helpers shared by scenarios: error tallies, latency summaries and
//! latency-over-time series.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// Counts failures by a short description.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Tally(BTreeMap<String, u64>);

impl Tally {
    pub fn add(&mut self, key: impl Into<String>) {
        self.add_n(key, 1);
    }

    pub fn add_n(&mut self, key: impl Into<String>, n: u64) {
        if n > 0 {
            *self.0.entry(key.into()).or_default() += n;
        }
    }

    pub fn total(&self) -> u64 {
        self.0.values().sum()
    }

    /// Entries, most frequent first.
    pub fn by_count(&self) -> Vec<(&str, u64)> {
        let mut v: Vec<_> = self.0.iter().map(|(k, n)| (k.as_str(), *n)).collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        v
    }

    /// `a x 3, b x 1` (at most `max` entries), or `none`.
    pub fn describe(&self, max: usize) -> String {
        if self.0.is_empty() {
            return "none".to_owned();
        }
        let parts: Vec<String> = self.by_count().into_iter().take(max).map(|(k, n)| format!("{n} x {k}")).collect();
        parts.join(", ")
    }
}

/// Highest latency a histogram holds: one hour, in microseconds.
const MAX_MICROS: u64 = 3_600_000_000;

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX).clamp(1, MAX_MICROS)
}

/// A latency histogram in microseconds.
#[derive(Debug, Clone)]
pub struct Latencies(Histogram<u64>);

impl Default for Latencies {
    fn default() -> Self {
        // 1 µs .. 1 h, 3 significant digits.
        Self(Histogram::new_with_bounds(1, MAX_MICROS, 3).expect("valid histogram bounds"))
    }
}

impl Latencies {
    pub fn record(&mut self, d: Duration) {
        self.0.saturating_record(micros(d));
    }

    pub fn merge(&mut self, other: &Latencies) {
        // Both have the same bounds, so adding cannot fail.
        let _ = self.0.add(&other.0);
    }

    pub fn len(&self) -> u64 {
        self.0.len()
    }

    pub fn summary(&self) -> Option<LatencySummary> {
        if self.0.is_empty() {
            return None;
        }
        let ms = |us: u64| us as f64 / 1000.0;
        Some(LatencySummary {
            count: self.0.len(),
            p50_ms: ms(self.0.value_at_quantile(0.50)),
            p90_ms: ms(self.0.value_at_quantile(0.90)),
            p99_ms: ms(self.0.value_at_quantile(0.99)),
            p99_9_ms: ms(self.0.value_at_quantile(0.999)),
            max_ms: ms(self.0.max()),
        })
    }
}

/// Percentiles of a [`Latencies`] histogram, in milliseconds.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct LatencySummary {
    pub count: u64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p99_9_ms: f64,
    pub max_ms: f64,
}

impl LatencySummary {
    /// `p50 1.2 ms, p90 …, p99 …, p99.9 …, max …`.
    pub fn line(&self) -> String {
        format!(
            "p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, max {:.2} ms (n = {})",
            self.p50_ms, self.p90_ms, self.p99_ms, self.p99_9_ms, self.max_ms, self.count
        )
    }
}

/// Latencies grouped by when they were observed, in fixed-width buckets, for
/// latency-over-time reports and charts.
#[derive(Debug, Clone)]
pub struct Timeline {
    bucket: Duration,
    buckets: Vec<Histogram<u64>>,
}

/// One bucket of a [`Timeline`].
#[derive(Debug, Clone, Copy, Serialize)]
pub struct TimelinePoint {
    /// Start of the bucket, seconds since the phase began.
    pub t_s: f64,
    pub count: u64,
    /// Observations per second in this bucket.
    pub per_sec: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Timeline {
    pub fn new(bucket: Duration) -> Self {
        Self { bucket: bucket.max(Duration::from_millis(1)), buckets: Vec::new() }
    }

    /// Records `latency` observed `at` after the start of the phase.
    pub fn record(&mut self, at: Duration, latency: Duration) {
        let i = (at.as_nanos() / self.bucket.as_nanos()) as usize;
        if i > 100_000 {
            return;
        }
        while self.buckets.len() <= i {
            // Two significant digits are plenty for a chart and keep buckets small.
            self.buckets.push(Histogram::new_with_bounds(1, MAX_MICROS, 2).expect("valid histogram bounds"));
        }
        self.buckets[i].saturating_record(micros(latency));
    }

    pub fn merge(&mut self, other: &Timeline) {
        while self.buckets.len() < other.buckets.len() {
            self.buckets.push(Histogram::new_with_bounds(1, MAX_MICROS, 2).expect("valid histogram bounds"));
        }
        for (mine, theirs) in self.buckets.iter_mut().zip(&other.buckets) {
            let _ = mine.add(theirs);
        }
    }

    /// A timeline of `(observed at, latency)` samples with a bucket width that gives about
    /// `points` buckets over their span (at least 5 ms wide).
    pub fn from_samples(samples: &[(Duration, Duration)], points: u32) -> Self {
        let span = samples.iter().map(|s| s.0).max().unwrap_or_default();
        let mut t = Self::new((span / points.max(1)).max(Duration::from_millis(5)));
        for (at, latency) in samples {
            t.record(*at, *latency);
        }
        t
    }

    /// Non-empty buckets in time order.
    pub fn points(&self) -> Vec<TimelinePoint> {
        let width = self.bucket.as_secs_f64();
        let ms = |us: u64| us as f64 / 1000.0;
        self.buckets
            .iter()
            .enumerate()
            .filter(|(_, h)| !h.is_empty())
            .map(|(i, h)| TimelinePoint {
                t_s: i as f64 * width,
                count: h.len(),
                per_sec: h.len() as f64 / width,
                p50_ms: ms(h.value_at_quantile(0.5)),
                p99_ms: ms(h.value_at_quantile(0.99)),
                max_ms: ms(h.max()),
            })
            .collect()
    }
}

/// Formats a KiB figure as MiB with one decimal.
pub fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

/// A small deterministic pseudo-random generator (SplitMix64), for jitter.
#[derive(Debug, Clone)]
pub struct SplitMix(u64);

impl SplitMix {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..bound` (0 when `bound` is 0).
    pub fn below(&mut self, bound: u64) -> u64 {
        if bound == 0 { 0 } else { self.next_u64() % bound }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{Latencies, SplitMix, Timeline};

    #[test]
    fn summaries_are_in_milliseconds() {
        let mut l = Latencies::default();
        for ms in 1..=100 {
            l.record(Duration::from_millis(ms));
        }
        let s = l.summary().unwrap();
        assert_eq!(s.count, 100);
        assert!((s.p50_ms - 50.0).abs() < 0.1, "{s:?}");
        assert!((s.max_ms - 100.0).abs() < 0.1, "{s:?}");
    }

    #[test]
    fn timelines_bucket_by_observation_time() {
        let ms = Duration::from_millis;
        let t = Timeline::from_samples(&[(ms(0), ms(1)), (ms(10), ms(2)), (ms(400), ms(3))], 4);
        let points = t.points();
        assert_eq!(points.len(), 2);
        assert_eq!(points[0].count, 2);
        assert!((points[1].t_s - 0.4).abs() < 1e-9);
    }

    #[test]
    fn jitter_stays_below_its_bound() {
        let mut r = SplitMix::new(7);
        assert!((0..1000).all(|_| r.below(10) < 10));
        assert_eq!(r.below(0), 0);
    }
}
