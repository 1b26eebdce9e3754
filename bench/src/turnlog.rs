//! Reads the server's own loop-turn figures from its log. `mioftpd` times
//! every loop turn (`src/server/turns.rs`) and, at debug level, logs a
//! `turns window ...` line about once a second of busy time (the window's
//! turn count and longest turn, plus a log2 histogram since start), a
//! `turn long us=...` line for each turn of 50 ms or more, and a
//! `turns final ...` line when it stops. The benchmark starts the server with
//! `RUST_LOG=info,mioftp::server::turns=debug`, notes where the log ended
//! before a phase, and reads what was written after it.

use std::path::{Path, PathBuf};

/// The figures since the server started, as one line carries them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Totals {
    pub n: u64,
    pub max_us: u64,
    /// (exclusive upper edge in µs, turns) for each non-empty log2 bucket.
    pub hist: Vec<(u64, u64)>,
}

/// One line of the turn log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    Window { ms: u64, n: u64, max_us: u64, total: Totals },
    Long { us: u64 },
    Final(Totals),
}

/// Parses a log line (with whatever prefix the logger added); `None` for
/// any other line.
pub fn parse(line: &str) -> Option<Line> {
    if let Some(rest) = after(line, "turns window ") {
        let (window, total) = rest.split_once(" total ")?;
        return Some(Line::Window {
            ms: word(window, "ms")?.parse().ok()?,
            n: word(window, "n")?.parse().ok()?,
            max_us: word(window, "max_us")?.parse().ok()?,
            total: totals(total)?,
        });
    }
    if let Some(rest) = after(line, "turn long ") {
        return Some(Line::Long { us: word(rest, "us")?.parse().ok()? });
    }
    after(line, "turns final total ").and_then(totals).map(Line::Final)
}

fn after<'a>(line: &'a str, marker: &str) -> Option<&'a str> {
    line.find(marker).map(|i| &line[i + marker.len()..])
}

/// The value of `key=value` among space-separated words.
fn word<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.split_whitespace().find_map(|w| w.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
}

fn totals(text: &str) -> Option<Totals> {
    let mut hist = Vec::new();
    for pair in word(text, "hist").unwrap_or("").split(',').filter(|p| !p.is_empty()) {
        let (edge, n) = pair.split_once(':')?;
        hist.push((edge.parse().ok()?, n.parse().ok()?));
    }
    Some(Totals { n: word(text, "n")?.parse().ok()?, max_us: word(text, "max_us")?.parse().ok()?, hist })
}

/// `later - earlier`, bucket by bucket: the turns between two lines.
pub fn hist_between(earlier: &[(u64, u64)], later: &[(u64, u64)]) -> Vec<(u64, u64)> {
    later
        .iter()
        .map(|&(edge, n)| {
            let before = earlier.iter().find(|(e, _)| *e == edge).map_or(0, |(_, m)| *m);
            (edge, n.saturating_sub(before))
        })
        .filter(|(_, n)| *n > 0)
        .collect()
}

/// The upper edge (µs) of the bucket holding the `p`th percentile.
pub fn percentile_le(hist: &[(u64, u64)], p: f64) -> u64 {
    let total: u64 = hist.iter().map(|(_, n)| n).sum();
    if total == 0 {
        return 0;
    }
    let rank = ((p / 100.0) * total as f64).ceil().max(1.0) as u64;
    let mut seen = 0;
    for &(edge, n) in hist {
        seen += n;
        if seen >= rank {
            return edge;
        }
    }
    hist.last().map_or(0, |(e, _)| *e)
}

/// A position in the server's log, to read what came after it.
pub struct Tail {
    path: PathBuf,
    offset: u64,
}

impl Tail {
    /// Starts at the log's current end.
    pub fn at_end(path: &Path) -> Tail {
        let offset = std::fs::metadata(path).map_or(0, |m| m.len());
        Tail { path: path.to_owned(), offset }
    }

    /// The turn lines written since the last call (or since [`Tail::at_end`]).
    pub fn read(&mut self) -> Vec<Line> {
        let Ok(bytes) = std::fs::read(&self.path) else { return Vec::new() };
        let start = usize::try_from(self.offset).unwrap_or(usize::MAX).min(bytes.len());
        // Only whole lines: a line being written is read next time.
        let end = bytes[start..].iter().rposition(|b| *b == b'\n').map_or(start, |i| start + i + 1);
        self.offset = end as u64;
        String::from_utf8_lossy(&bytes[start..end]).lines().filter_map(parse).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_long_and_final_lines_parse_behind_a_logger_prefix() {
        let w = "[2026-01-01T00:00:00Z DEBUG mioftp::server::turns] turns window ms=1003 n=812 max_us=4711 total n=9000 p50_le_us=64 p99_le_us=2048 p999_le_us=8192 max_us=52000 hist=2:10,64:8000,2048:980,65536:10";
        let total = Totals { n: 9000, max_us: 52000, hist: vec![(2, 10), (64, 8000), (2048, 980), (65536, 10)] };
        assert_eq!(parse(w), Some(Line::Window { ms: 1003, n: 812, max_us: 4711, total: total.clone() }));
        assert_eq!(parse("[x DEBUG mioftp::server::turns] turn long us=320512"), Some(Line::Long { us: 320_512 }));
        let f = "[x DEBUG mioftp::server::turns] turns final total n=9000 p50_le_us=64 p99_le_us=2048 p999_le_us=8192 max_us=52000 hist=2:10,64:8000,2048:980,65536:10";
        assert_eq!(parse(f), Some(Line::Final(total)));
        assert_eq!(parse("[x INFO mioftp::server] listening on 127.0.0.1:1"), None);
        assert_eq!(parse("turns window ms=x"), None);
    }

    #[test]
    fn histograms_subtract_and_give_bucket_percentiles() {
        let before = [(64, 100), (2048, 1)];
        let after = [(64, 1100), (2048, 11), (65536, 2)];
        let between = hist_between(&before, &after);
        assert_eq!(between, vec![(64, 1000), (2048, 10), (65536, 2)]);
        assert_eq!(percentile_le(&between, 50.0), 64);
        assert_eq!(percentile_le(&between, 99.0), 2048);
        assert_eq!(percentile_le(&between, 100.0), 65536);
        assert_eq!(percentile_le(&[], 99.0), 0);
    }

    #[test]
    fn a_tail_reads_only_new_whole_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        std::fs::write(&path, "turn long us=1\n").unwrap();
        let mut tail = Tail::at_end(&path);
        assert!(tail.read().is_empty());
        let mut f = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
        use std::io::Write;
        f.write_all(b"other\nturn long us=2\nturn long us=3").unwrap();
        assert_eq!(tail.read(), vec![Line::Long { us: 2 }]);
        f.write_all(b"\n").unwrap();
        assert_eq!(tail.read(), vec![Line::Long { us: 3 }]);
    }
}
