//! How the command shows things: listings as aligned tables, sizes in IEC
//! units, times in the local time zone, transfer summaries on one line.

use mioftp_proto::messages::{DirEntry, EntryKind, QuotaInfo};
use std::time::Duration;

/// A byte count for people: `0 B`, `1.5 KiB`, `3.0 GiB` (the protocol
/// crate's formatter, shared with the server's messages).
pub use mioftp_proto::human_size as size;

/// A quota limit: a size, or "unlimited".
pub fn limit(limit: Option<u64>) -> String {
    limit.map_or_else(|| "unlimited".to_owned(), size)
}

/// Seconds since the epoch as local `YYYY-MM-DD HH:MM`.
pub fn mtime(secs: i64) -> String {
    match jiff::Timestamp::from_second(secs) {
        Ok(ts) => ts.to_zoned(jiff::tz::TimeZone::system()).strftime("%Y-%m-%d %H:%M").to_string(),
        Err(_) => "????-??-?? ??:??".to_owned(),
    }
}

/// A name safe to print: control characters (which could drive the
/// terminal) become `?`.
pub fn name(raw: &str) -> String {
    raw.chars().map(|c| if c.is_control() { '?' } else { c }).collect()
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
            entry("bell\x07", EntryKind::File, 0),
        ]);
        assert!(lines[0].starts_with("d       -  ") && lines[0].ends_with("  docs/"), "{lines:?}");
        assert!(lines[1].starts_with("- 3.0 MiB  ") && lines[1].ends_with("  big.bin"), "{lines:?}");
        assert!(lines[2].starts_with("l     7 B  ") && lines[2].ends_with("  link@"), "{lines:?}");
        assert!(lines[3].ends_with("  bell?"), "{lines:?}");
        let time = mtime(0); // in whatever zone the test runs in
        let column = lines[0].find(&time);
        assert!(column.is_some() && lines.iter().all(|l| l.find(&time) == column), "{lines:?}");
    }

    #[test]
    fn summaries_read_naturally() {
        assert_eq!(summary(1, QuotaInfo { used: 0, limit: None }), "1 entry, used 0 B of unlimited");
        assert_eq!(summary(3, QuotaInfo { used: 2048, limit: Some(1 << 30) }), "3 entries, used 2.0 KiB of 1.0 GiB");
        assert_eq!(throughput(2048, Duration::from_secs(2)), "2.0 KiB in 2.00 s (1.0 KiB/s)");
    }
}
