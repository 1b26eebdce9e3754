//! How the command shows things: listings as aligned tables, sizes in IEC
//! units, times in the local time zone with its offset, transfer summaries
//! on one line.

use mioftp_proto::messages::{DirEntry, EntryKind, QuotaInfo};
use std::time::Duration;

/// A byte count for people: `0 B`, `1.5 KiB`, `3.0 GiB` (the protocol
/// crate's formatter, shared with the server's messages).
pub use mioftp_proto::human_size as size;

/// A quota limit: a size, or "unlimited".
pub fn limit(limit: Option<u64>) -> String {
    limit.map_or_else(|| "unlimited".to_owned(), size)
}

/// Seconds since the epoch in the local time zone (`TZ`, or the system's),
/// with its zone: see [`mtime_in`].
pub fn mtime(secs: i64) -> String {
    mtime_in(secs, &jiff::tz::TimeZone::system())
}

/// Seconds since the epoch as `YYYY-MM-DD HH:MM` in `zone`, followed by the
/// zone's UTC offset (`+01:00`), or by `Z` for UTC, as `mioftpd audit`
/// marks its UTC times. An abbreviation such as `CET` would be ambiguous.
pub fn mtime_in(secs: i64, zone: &jiff::tz::TimeZone) -> String {
    let Ok(ts) = jiff::Timestamp::from_second(secs) else {
        return "????-??-?? ??:??".to_owned();
    };
    let local = ts.to_zoned(zone.clone());
    let when = local.strftime("%Y-%m-%d %H:%M");
    if local.offset().seconds() == 0 { format!("{when}Z") } else { format!("{when}{}", local.strftime("%:z")) }
}

/// Text from the server (a remote name, its name, an error message) safe to
/// print: every character a terminal could act on (C0, DEL, C1 and the
/// bidirectional controls) is written visibly, e.g. `\x1b` or `\u{202e}`.
pub fn name(raw: &str) -> String {
    mioftp_proto::display::escape(raw).into_owned()
}

/// The wire name of a kind: `file`, `dir`, `symlink`, `other`.
pub fn kind(kind: EntryKind) -> &'static str {
    match kind {
        EntryKind::File => "file",
        EntryKind::Dir => "dir",
        EntryKind::Symlink => "symlink",
        EntryKind::Other => "other",
    }
}

/// One table line per entry (already sorted): kind, size, time, name, with
/// `/` after directories and `@` after symbolic links.
pub fn table(entries: &[DirEntry]) -> Vec<String> {
    let sizes: Vec<String> =
        entries.iter().map(|e| if e.kind == EntryKind::Dir { "-".to_owned() } else { size(e.size) }).collect();
    let width = sizes.iter().map(String::len).max().unwrap_or(0);
    entries
        .iter()
        .zip(&sizes)
        .map(|(e, sz)| {
            let (kind, mark) = match e.kind {
                EntryKind::Dir => ('d', "/"),
                EntryKind::File => ('-', ""),
                EntryKind::Symlink => ('l', "@"),
                EntryKind::Other => ('?', ""),
            };
            format!("{kind} {sz:>width$}  {}  {}{mark}", mtime(e.mtime), name(&e.name))
        })
        .collect()
}

/// "3 entries, used 1.0 MiB of 10.0 GiB".
pub fn summary(count: u64, quota: QuotaInfo) -> String {
    let noun = if count == 1 { "entry" } else { "entries" };
    format!("{count} {noun}, used {} of {}", size(quota.used), limit(quota.limit))
}

/// "1.0 MiB in 0.52 s (1.9 MiB/s)".
pub fn throughput(bytes: u64, took: Duration) -> String {
    let secs = took.as_secs_f64();
    let rate = if secs > 0.0 { (bytes as f64 / secs) as u64 } else { bytes };
    format!("{} in {secs:.2} s ({}/s)", size(bytes), size(rate))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, kind: EntryKind, size: u64) -> DirEntry {
        DirEntry { name: name.into(), kind, size, mtime: 0 }
    }

    #[test]
    fn tables_align_sizes_and_mark_kinds() {
        let lines = table(&[
            entry("docs", EntryKind::Dir, 4096),
            entry("big.bin", EntryKind::File, 3 * 1024 * 1024),
            entry("link", EntryKind::Symlink, 7),
            entry("bell\x07\u{202e}", EntryKind::File, 0),
        ]);
        assert!(lines[0].starts_with("d       -  ") && lines[0].ends_with("  docs/"), "{lines:?}");
        assert!(lines[1].starts_with("- 3.0 MiB  ") && lines[1].ends_with("  big.bin"), "{lines:?}");
        assert!(lines[2].starts_with("l     7 B  ") && lines[2].ends_with("  link@"), "{lines:?}");
        assert!(lines[3].ends_with(r"  bell\x07\u{202e}"), "{lines:?}");
        let time = mtime(0); // in whatever zone the test runs in
        let column = lines[0].find(&time);
        assert!(column.is_some() && lines.iter().all(|l| l.find(&time) == column), "{lines:?}");
    }

    #[test]
    fn times_show_their_zone_utc_as_z() {
        use jiff::tz::{Offset, TimeZone};
        assert_eq!(mtime_in(0, &TimeZone::UTC), "1970-01-01 00:00Z");
        let paris_winter = TimeZone::fixed(Offset::from_hours(1).unwrap());
        assert_eq!(mtime_in(1_795_418_000, &paris_winter), "2026-11-23 08:13+01:00");
        let west = TimeZone::fixed(Offset::from_seconds(-(3 * 3600 + 1800)).unwrap());
        assert_eq!(mtime_in(0, &west), "1969-12-31 20:30-03:30");
    }

    #[test]
    fn summaries_read_naturally() {
        assert_eq!(summary(1, QuotaInfo { used: 0, limit: None }), "1 entry, used 0 B of unlimited");
        assert_eq!(summary(3, QuotaInfo { used: 2048, limit: Some(1 << 30) }), "3 entries, used 2.0 KiB of 1.0 GiB");
        assert_eq!(throughput(2048, Duration::from_secs(2)), "2.0 KiB in 2.00 s (1.0 KiB/s)");
    }
}
