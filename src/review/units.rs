//! Human-readable sizes, durations and times for the table and the summary.
//! Machine output (`--json`) never goes through here: it keeps exact numbers.

use jiff::Timestamp;

/// Bytes in binary units: `512 B`, `1.5 KiB`, `1.0 MiB`, `2.3 GiB`.
pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    // Switch up before rounding would print "1024.0 KiB".
    while value >= 1023.95 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

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
    fn sizes_use_binary_units_with_one_decimal() {
        assert_eq!(size(0), "0 B");
        assert_eq!(size(1023), "1023 B");
        assert_eq!(size(1024), "1.0 KiB");
        assert_eq!(size(1536), "1.5 KiB");
        assert_eq!(size(1_048_575), "1.0 MiB");
        assert_eq!(size(1_048_576), "1.0 MiB");
        assert_eq!(size(5 * 1024 * 1024 * 1024), "5.0 GiB");
        assert_eq!(size(u64::MAX), "16.0 EiB");
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
