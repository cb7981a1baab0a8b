//! The time services read: one [`Clock`] per server, handed to every service that stamps,
//! schedules or expires something. A server reads the system's time; a test can build one that
//! follows tokio's clock, so `tokio::time::pause()` and `advance()` move it without sleeping.

use std::time::Duration;

use time::{Date, OffsetDateTime, UtcOffset};

/// Vietnam's offset (Asia/Ho_Chi_Minh: UTC+7 all year, no daylight saving).
pub const VIETNAM: UtcOffset = match UtcOffset::from_hms(7, 0, 0) {
    Ok(offset) => offset,
    Err(_) => UtcOffset::UTC,
};

/// Wall-clock time, in UTC.
#[derive(Debug, Clone, Copy)]
pub struct Clock(Source);

#[derive(Debug, Clone, Copy)]
enum Source {
    System,
    /// Starts at `wall` when tokio's clock reads `at`, and moves with tokio's clock.
    Tokio {
        wall: OffsetDateTime,
        at: tokio::time::Instant,
    },
}

impl Clock {
    /// The system's time.
    pub fn system() -> Self {
        Self(Source::System)
    }

    /// A clock that reads `wall` now and then moves with tokio's clock: paused, it stands
    /// still; advanced, it advances by as much.
    pub fn following_tokio(wall: OffsetDateTime) -> Self {
        Self(Source::Tokio { wall, at: tokio::time::Instant::now() })
    }

    pub fn now(&self) -> OffsetDateTime {
        match self.0 {
            Source::System => OffsetDateTime::now_utc(),
            Source::Tokio { wall, at } => wall + tokio::time::Instant::now().saturating_duration_since(at),
        }
    }

    /// Milliseconds since the Unix epoch (0 before it).
    pub fn now_ms(&self) -> u64 {
        u64::try_from(self.now().unix_timestamp_nanos() / 1_000_000).unwrap_or_default()
    }

    /// Now as the protocol writes times: RFC 3339 in UTC with milliseconds.
    pub fn rfc3339(&self) -> String {
        format_rfc3339(self.now())
    }

    /// `after` from now, as milliseconds since the epoch and as the protocol writes it.
    pub fn after(&self, after: Duration) -> (u64, String) {
        let at = self.now() + after;
        (u64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or_default(), format_rfc3339(at))
    }

    /// Today's date in Vietnam: OCOP certificates expire by Vietnam's calendar.
    pub fn today_in_vietnam(&self) -> Date {
        self.now().to_offset(VIETNAM).date()
    }
}

/// Formats a time as RFC 3339 UTC with milliseconds, the protocol's timestamp format.
pub fn format_rfc3339(t: OffsetDateTime) -> String {
    const FORMAT: &[time::format_description::BorrowedFormatItem<'_>] =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    t.to_offset(UtcOffset::UTC).format(FORMAT).unwrap_or_default()
}

/// A time given as milliseconds since the epoch, as the protocol writes times.
pub fn ms_to_rfc3339(ms: u64) -> String {
    let t = OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    format_rfc3339(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[tokio::test(start_paused = true)]
    async fn a_clock_following_tokio_moves_only_when_tokio_time_does() {
        let clock = Clock::following_tokio(datetime!(2026-12-01 16:59:59.500 UTC));
        assert_eq!(clock.rfc3339(), "2026-12-01T16:59:59.500Z");
        assert_eq!(clock.today_in_vietnam(), time::macros::date!(2026 - 12 - 01), "23:59:59 in Vietnam");
        tokio::time::advance(Duration::from_millis(500)).await;
        assert_eq!(clock.rfc3339(), "2026-12-01T17:00:00.000Z");
        assert_eq!(clock.today_in_vietnam(), time::macros::date!(2026 - 12 - 02), "midnight in Vietnam");
        assert_eq!(clock.now_ms(), 1_796_144_400_000);
        let (ms, text) = clock.after(Duration::from_secs(30 * 60));
        assert_eq!((ms, text.as_str()), (1_796_146_200_000, "2026-12-01T17:30:00.000Z"));
        assert_eq!(ms_to_rfc3339(ms), text);
        // A sleep of an hour takes no time when tokio's clock is paused, and the clock follows it.
        tokio::time::sleep(Duration::from_secs(3600)).await;
        assert_eq!(clock.rfc3339(), "2026-12-01T18:00:00.000Z");
    }

    #[test]
    fn rfc3339_has_milliseconds() {
        assert_eq!(format_rfc3339(datetime!(2026-11-29 04:05:06.789 UTC)), "2026-11-29T04:05:06.789Z");
        assert_eq!(format_rfc3339(datetime!(2026-11-29 11:05:06 +7)), "2026-11-29T04:05:06.000Z");
    }

    #[test]
    fn the_system_clock_reads_the_system_time() {
        let before = OffsetDateTime::now_utc();
        let read = Clock::system().now();
        assert!(read >= before && read - before < time::Duration::seconds(5), "{before} {read}");
    }
}
