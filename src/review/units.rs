//! Human-readable sizes, durations and times for the table and the summary.
//! Machine output (`--json`) never goes through here: it keeps exact numbers.

use jiff::Timestamp;

/// Bytes in binary units: `512 B`, `1.5 KiB`, `2.3 GiB` (the protocol
/// crate's formatter, shared with the server's messages and the client).
pub use crate::protocol::human_size as size;

/// Milliseconds as `120 ms`, `1.5 s`, `2m05s`, `1h02m`.
pub fn duration(ms: u64) -> String {
    if ms < 1000 {
        return format!("{ms} ms");
    }
    if ms < 59_950 {
        return format!("{:.1} s", ms as f64 / 1000.0);
    }
    let secs = ms.saturating_add(500) / 1000;
    if secs < 3600 {
        return format!("{}m{:02}s", secs / 60, secs % 60);
    }
    let mins = (secs + 30) / 60;
    format!("{}h{:02}m", mins / 60, mins % 60)
}

/// A record time for the table: UTC to the second, marked with `Z` like
/// every time mioftp shows (`mioftp dir` shows its zone the same way),
/// e.g. `2026-11-23 07:12:16Z`.
pub fn time(ts: Timestamp) -> String {
    ts.strftime("%Y-%m-%d %H:%M:%SZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_times_are_utc_marked_with_z() {
        let ts: Timestamp = "2026-11-23T07:12:16.938Z".parse().unwrap();
        assert_eq!(time(ts), "2026-11-23 07:12:16Z");
    }

    #[test]
    fn durations_pick_a_unit_a_person_reads_at_a_glance() {
        assert_eq!(duration(0), "0 ms");
        assert_eq!(duration(999), "999 ms");
        assert_eq!(duration(1500), "1.5 s");
        assert_eq!(duration(59_949), "59.9 s");
        assert_eq!(duration(59_950), "1m00s");
        assert_eq!(duration(125_000), "2m05s");
        assert_eq!(duration(3_720_000), "1h02m");
        assert!(duration(u64::MAX).ends_with('m'));
    }
}
