//! K-way merge of time-ordered streams into one time-ordered stream.
//!
//! Holds exactly one pending entry per stream, so memory is independent of
//! how long the streams are. With at most four streams (one per log kind) a
//! linear scan for the earliest head is cheaper and simpler than a heap.
//! Records of one server run with the same time come out in write order
//! (their `boot`/`seq` key, see [`Record::order_key`]); remaining ties go to
//! the stream listed first, then each stream keeps its own order, so the
//! output is deterministic.
//!
//! [`Record::order_key`]: super::record::Record::order_key

use super::record::Entry;

/// Merges `streams` by `record.order_key()`.
pub struct Merge<S> {
    streams: Vec<S>,
    heads: Vec<Option<Entry>>,
    primed: bool,
}

impl<S: Iterator<Item = Entry>> Merge<S> {
    pub fn new(streams: Vec<S>) -> Self {
        let heads = streams.iter().map(|_| None).collect();
        Merge { streams, heads, primed: false }
    }

    /// Gives the streams back (for `--follow`, once they have all ended).
    pub fn into_streams(self) -> Vec<S> {
        self.streams
    }
}

impl<S: Iterator<Item = Entry>> Iterator for Merge<S> {
    type Item = Entry;

    fn next(&mut self) -> Option<Entry> {
        if !self.primed {
            self.primed = true;
            for (head, stream) in self.heads.iter_mut().zip(&mut self.streams) {
                *head = stream.next();
            }
        }
        let mut earliest: Option<usize> = None;
        for (i, head) in self.heads.iter().enumerate() {
            let Some(entry) = head else { continue };
            let better = match earliest.and_then(|e| self.heads[e].as_ref()) {
                Some(best) => entry.record.order_key() < best.record.order_key(),
                None => true,
            };
            if better {
                earliest = Some(i);
            }
        }
        let i = earliest?;
        let next = self.streams[i].next();
        std::mem::replace(&mut self.heads[i], next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::review::record::{Kind, Record};

    fn entry(kind: Kind, ts: &str, session: u64) -> Entry {
        let raw = format!(r#"{{"ts":"{ts}","session":{session},"event":"e","outcome":"ok"}}"#);
        Entry { kind, record: Record::parse(raw.as_bytes()).unwrap(), raw }
    }

    fn merged(streams: Vec<Vec<Entry>>) -> Vec<u64> {
        Merge::new(streams.into_iter().map(|s| s.into_iter()).collect()).map(|e| e.record.session.unwrap()).collect()
    }

    #[test]
    fn streams_interleave_by_time() {
        let a = vec![entry(Kind::Logins, "2026-11-23T00:00:01Z", 1), entry(Kind::Logins, "2026-11-23T00:00:04Z", 4)];
        let b = vec![entry(Kind::Uploads, "2026-11-23T00:00:02Z", 2), entry(Kind::Uploads, "2026-11-23T00:00:03Z", 3)];
        let c =
            vec![entry(Kind::Commands, "2026-11-23T00:00:00Z", 0), entry(Kind::Commands, "2026-11-23T00:00:05Z", 5)];
        assert_eq!(merged(vec![a, b, c]), [0, 1, 2, 3, 4, 5]);
    }

    #[test]
    fn ties_go_to_the_first_stream_and_empty_streams_are_fine() {
        let t = "2026-11-23T00:00:00Z";
        let a = vec![entry(Kind::Logins, t, 1), entry(Kind::Logins, t, 2)];
        let b = vec![entry(Kind::Uploads, t, 3)];
        assert_eq!(merged(vec![vec![], b.clone(), a.clone()]), [3, 1, 2]);
        assert_eq!(merged(vec![a, b]), [1, 2, 3]);
        assert_eq!(merged(vec![vec![], vec![]]), Vec::<u64>::new());
    }

    fn keyed(kind: Kind, ts: &str, session: u64, seq: u64) -> Entry {
        let raw = format!(r#"{{"ts":"{ts}","session":{session},"event":"e","outcome":"ok","boot":"b1","seq":{seq}}}"#);
        Entry { kind, record: Record::parse(raw.as_bytes()).unwrap(), raw }
    }

    #[test]
    fn records_of_the_same_millisecond_come_out_in_write_order_across_logs() {
        // A `pwd` (seq 7) and the `logout` after it (seq 8), stamped in the
        // same millisecond: the logins stream is listed first, yet the pwd
        // must not show after its own logout.
        let t = "2026-11-23T00:00:00.123Z";
        let logins = vec![keyed(Kind::Logins, t, 8, 8), keyed(Kind::Logins, "2026-11-23T00:00:01Z", 9, 9)];
        let commands = vec![keyed(Kind::Commands, t, 6, 6), keyed(Kind::Commands, t, 7, 7)];
        assert_eq!(merged(vec![logins, commands]), [6, 7, 8, 9]);
    }

    #[test]
    fn a_stream_whose_clock_stepped_back_is_still_drained_in_its_own_order() {
        let a = vec![entry(Kind::Logins, "2026-11-23T00:00:05Z", 1), entry(Kind::Logins, "2026-11-23T00:00:01Z", 2)];
        let b = vec![entry(Kind::Uploads, "2026-11-23T00:00:03Z", 3)];
        assert_eq!(merged(vec![a, b]), [3, 1, 2]);
    }

    #[test]
    fn only_one_entry_per_stream_is_pulled_ahead() {
        let mut pulled = 0;
        let stream = (0..1000u64).map(|i| entry(Kind::Logins, "2026-11-23T00:00:00Z", i)).inspect(|_| pulled += 1);
        let mut merge = Merge::new(vec![stream]);
        assert_eq!(merge.next().unwrap().record.session, Some(0));
        drop(merge);
        assert_eq!(pulled, 2);
    }
}
