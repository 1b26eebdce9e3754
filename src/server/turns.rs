//! How long the event loop's turns take, measured by the loop itself: a turn
//! runs from `poll` returning to the next call of `poll`, and whatever it
//! does (driving sessions, an fsync, an unlink) delays every other client by
//! that much. This is the figure issue 12's "disk churn" benchmark asks for
//! ("the longest single loop turn"), and the one the worker pool must bring
//! down.
//!
//! The cost is one `Instant::now()` and a few integer operations per turn;
//! nothing is allocated. The figures reach the outside only through the log,
//! at debug level (`RUST_LOG=mioftp::server::turns=debug`), never through the
//! protocol:
//!
//! - once per [`REPORT_EVERY`] of busy time, a line for the window just
//!   ended plus the histogram since start;
//! - a line for every single turn of at least [`LONG_TURN`];
//! - when the loop ends, the line for the whole run.
//!
//! `mioftp-bench` parses these lines (`bench/src/turnlog.rs`); their format
//! is `key=value` words after a fixed first word, so keep it stable.

use std::time::{Duration, Instant};

/// Buckets of the histogram: bucket `i > 0` holds turns of `[2^i, 2^(i+1))`
/// microseconds, bucket 0 those under 2 µs; the last bucket is open-ended
/// (2^31 µs is 36 minutes).
const BUCKETS: usize = 32;
/// How often (at most) the window line is logged.
pub const REPORT_EVERY: Duration = Duration::from_secs(1);
/// A single turn at least this long is logged on its own.
pub const LONG_TURN: Duration = Duration::from_millis(50);

/// Turn durations: the longest and a log2 histogram since start, and the
/// longest of the current report window.
#[derive(Debug)]
pub struct Turns {
    hist: [u64; BUCKETS],
    count: u64,
    max: Duration,
    window_start: Instant,
    window_count: u64,
    window_max: Duration,
}

impl Turns {
    pub fn new(now: Instant) -> Turns {
        Turns {
            hist: [0; BUCKETS],
            count: 0,
            max: Duration::ZERO,
            window_start: now,
            window_count: 0,
            window_max: Duration::ZERO,
        }
    }

    /// Ends the turn that began at `began` (when `poll` returned): times it
    /// and, now and then, logs the figures.
    pub fn end(&mut self, began: Instant) {
        let now = Instant::now();
        self.record(now.saturating_duration_since(began));
        if now.saturating_duration_since(self.window_start) >= REPORT_EVERY {
            if log::log_enabled!(log::Level::Debug) {
                log::debug!("{}", self.window_line(now));
            }
            self.window_start = now;
            self.window_count = 0;
            self.window_max = Duration::ZERO;
        }
    }

    /// Adds one turn's duration.
    pub fn record(&mut self, took: Duration) {
        self.hist[bucket(took)] += 1;
        self.count += 1;
        self.max = self.max.max(took);
        self.window_count += 1;
        self.window_max = self.window_max.max(took);
        if took >= LONG_TURN {
            log::debug!("turn long us={}", took.as_micros());
        }
    }

    /// An upper bound of the `p`th percentile (0 to 100) of turns since
    /// start: the upper edge of the bucket that holds it.
    pub fn percentile_le(&self, p: f64) -> Duration {
        if self.count == 0 {
            return Duration::ZERO;
        }
        let rank = ((p / 100.0) * self.count as f64).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, n) in self.hist.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return upper_edge(i).min(self.max);
            }
        }
        self.max
    }

    /// `turns window ms=.. n=.. max_us=.. total n=.. p50_le_us=.. p99_le_us=.. p999_le_us=.. max_us=..`
    fn window_line(&self, now: Instant) -> String {
        format!(
            "turns window ms={} n={} max_us={} {}",
            now.saturating_duration_since(self.window_start).as_millis(),
            self.window_count,
            self.window_max.as_micros(),
            self.total_words()
        )
    }

    fn total_words(&self) -> String {
        format!(
            "total n={} p50_le_us={} p99_le_us={} p999_le_us={} max_us={} hist={}",
            self.count,
            self.percentile_le(50.0).as_micros(),
            self.percentile_le(99.0).as_micros(),
            self.percentile_le(99.9).as_micros(),
            self.max.as_micros(),
            self.hist_words()
        )
    }

    /// The non-empty buckets as `upper_edge_us:count` pairs, comma-separated.
    fn hist_words(&self) -> String {
        let pairs: Vec<String> = self
            .hist
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(i, n)| format!("{}:{n}", upper_edge(i).as_micros()))
            .collect();
        pairs.join(",")
    }
}

impl Drop for Turns {
    /// The loop has ended: the figures for the whole run.
    fn drop(&mut self) {
        log::debug!("turns final {}", self.total_words());
    }
}

/// The bucket of a duration: floor(log2(µs)), with everything under 2 µs in
/// bucket 0 and everything past the last edge in the last bucket.
fn bucket(took: Duration) -> usize {
    let us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
    let log2 = if us < 2 { 0 } else { 63 - us.leading_zeros() as usize };
    log2.min(BUCKETS - 1)
}

/// The exclusive upper edge of bucket `i`.
fn upper_edge(i: usize) -> Duration {
    if i + 1 >= BUCKETS { Duration::MAX } else { Duration::from_micros(1 << (i + 1)) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn us(n: u64) -> Duration {
        Duration::from_micros(n)
    }

    #[test]
    fn buckets_are_powers_of_two_in_microseconds() {
        assert_eq!(bucket(Duration::ZERO), 0);
        assert_eq!(bucket(us(1)), 0);
        assert_eq!(bucket(us(2)), 1);
        assert_eq!(bucket(us(3)), 1);
        assert_eq!(bucket(us(4)), 2);
        assert_eq!(bucket(us(1023)), 9);
        assert_eq!(bucket(us(1024)), 10);
        assert_eq!(bucket(Duration::from_secs(1 << 40)), BUCKETS - 1);
        assert_eq!(upper_edge(9), us(1024));
    }

    #[test]
    fn percentiles_are_bucket_edges_capped_by_the_maximum() {
        let mut t = Turns::new(Instant::now());
        assert_eq!(t.percentile_le(99.0), Duration::ZERO);
        for _ in 0..98 {
            t.record(us(100)); // bucket [64, 128)
        }
        t.record(us(3000)); // [2048, 4096)
        t.record(us(300_000)); // [262144, 524288)
        assert_eq!(t.percentile_le(50.0), us(128));
        assert_eq!(t.percentile_le(98.0), us(128));
        assert_eq!(t.percentile_le(99.0), us(4096));
        assert_eq!(t.percentile_le(100.0), us(300_000), "the top bucket's edge is capped by the true maximum");
        assert_eq!(t.max, us(300_000));
        assert_eq!(t.hist_words(), "128:98,4096:1,524288:1");
    }

    #[test]
    fn the_window_line_carries_the_window_and_the_totals() {
        let start = Instant::now();
        let mut t = Turns::new(start);
        t.record(us(5));
        t.record(us(700));
        let line = t.window_line(start + Duration::from_millis(1500));
        assert!(line.starts_with("turns window ms=1500 n=2 max_us=700 total n=2 "), "{line}");
        assert!(line.contains(" max_us=700 hist=8:1,1024:1"), "{line}");
    }

    #[test]
    fn a_window_report_resets_the_window_but_not_the_totals() {
        let start = Instant::now() - REPORT_EVERY - us(1);
        let mut t = Turns::new(start);
        t.record(us(900));
        t.end(Instant::now()); // past REPORT_EVERY: the window is reported and reset
        assert_eq!(t.window_count, 0);
        assert_eq!(t.window_max, Duration::ZERO);
        assert_eq!(t.count, 2);
        assert!(t.max >= us(900));
    }
}
