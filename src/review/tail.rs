//! Following one live log file across rotation, like `tail -F`.
//!
//! Each [`Tail::poll`] first looks at what the path names now, then reads
//! every complete line appended to the open file, then acts on what it saw:
//! - the path names another file (inode changed: logrotate renamed ours and a
//!   new one was created): the old file is *retired* and the new one read
//!   from its start. The writer may keep appending to the renamed file until
//!   it reopens its logs, so a retired file is still drained on every poll
//!   until it has been quiet for [`RETIRE_AFTER_QUIET_POLLS`] polls; only
//!   then is its unterminated tail, if any, reported as a torn line;
//! - the path is gone (renamed, nothing created yet): keep reading the open
//!   file, which is where the writer still appends;
//! - the file is shorter than what was read (copytruncate): read it again
//!   from the start;
//! - no file was open and one appeared: read it from its start.
//!
//! Looking before reading matters: anything written to the old file before
//! the look is read in the same poll, so no record falls between the files.

use super::record::{Entry, Kind};
use super::source::{FileId, OpenLog, warn};
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

/// Polls a rotated-away file stays drained after its last new byte.
pub const RETIRE_AFTER_QUIET_POLLS: u32 = 20;

/// One look at the path, taken before reading (see [`Tail::poll`]).
struct Look {
    /// The identity and length of the file at the path, if there is one.
    at_path: Option<(Option<FileId>, u64)>,
    /// Bytes of the open file read when the look was taken.
    consumed: u64,
}

struct Retired {
    log: OpenLog,
    quiet_polls: u32,
}

/// Follows `path`, continuing from an already open file if given.
pub struct Tail {
    kind: Kind,
    path: PathBuf,
    current: Option<OpenLog>,
    retired: Vec<Retired>,
    /// A file whose reading failed, not to be reopened from its start.
    unreadable: Option<FileId>,
}

impl Tail {
    /// `open` is the live file as the history left it (at its end), if it existed.
    pub fn new(kind: Kind, path: &Path, open: Option<OpenLog>) -> Tail {
        Tail { kind, path: path.to_owned(), current: open, retired: Vec::new(), unreadable: None }
    }

    /// Appends every record that became readable since the last poll to `out`.
    pub fn poll(&mut self, out: &mut Vec<Entry>) {
        let look = self.look();
        self.advance(look, out);
    }

    /// What the path names now, and how much of the open file had been read
    /// at that moment (the truncation check must compare these two, not the
    /// length before a read with the position after it).
    fn look(&self) -> Look {
        let at_path = match std::fs::metadata(&self.path) {
            Ok(meta) => Some((FileId::of(&meta), meta.len())),
            Err(e) if e.kind() == ErrorKind::NotFound => None,
            Err(e) => {
                warn(format_args!("{}: cannot stat, will retry: {e}", self.path.display()));
                None
            }
        };
        Look { at_path, consumed: self.current.as_ref().map_or(0, OpenLog::consumed) }
    }

    fn advance(&mut self, look: Look, out: &mut Vec<Entry>) {
        if let Some(log) = self.current.as_mut() {
            if !drain(log, out) {
                // Reported; do not reopen this same file and read it all again.
                self.unreadable = log.id;
                self.current = None;
            }
        }
        self.retired.retain_mut(|retired| {
            let before = retired.log.consumed();
            let readable = drain(&mut retired.log, out);
            retired.quiet_polls = if retired.log.consumed() == before { retired.quiet_polls + 1 } else { 0 };
            let keep = readable && retired.quiet_polls < RETIRE_AFTER_QUIET_POLLS;
            if !keep {
                out.extend(retired.log.finish());
            }
            keep
        });
        let Some((id_at_path, len_at_path)) = look.at_path else { return };
        let replace = match &self.current {
            None => id_at_path.is_none() || id_at_path != self.unreadable,
            Some(log) if id_at_path.is_some() && log.id != id_at_path => {
                self.retire_current();
                true
            }
            // Same file, but shorter than what had been read: truncated in place.
            Some(_) if len_at_path < look.consumed => {
                if let Some(mut log) = self.current.take() {
                    out.extend(log.finish());
                }
                true
            }
            Some(_) => false,
        };
        if replace {
            match OpenLog::open(self.kind, &self.path) {
                Ok(mut log) => {
                    if drain(&mut log, out) {
                        self.current = Some(log);
                    }
                }
                // Rotated away again between the look and the open: next poll.
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => warn(format_args!("{}: cannot open, will retry: {e}", self.path.display())),
            }
        }
    }

    fn retire_current(&mut self) {
        if let Some(log) = self.current.take() {
            self.retired.push(Retired { log, quiet_polls: 0 });
        }
    }
}

/// Reads all complete lines now available. `false` after a read error (reported).
fn drain(log: &mut OpenLog, out: &mut Vec<Entry>) -> bool {
    loop {
        match log.next_entry() {
            Ok(Some(entry)) => out.push(entry),
            Ok(None) => return true,
            Err(e) => {
                log.warn_read_error(&e);
                return false;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn record(session: u64) -> String {
        format!(
            "{{\"ts\":\"2026-11-23T07:00:00Z\",\"peer\":\"1.2.3.4:5\",\"session\":{session},\"event\":\"login\",\"outcome\":\"ok\"}}\n"
        )
    }

    fn append(path: &Path, text: &str) {
        std::fs::OpenOptions::new().create(true).append(true).open(path).unwrap().write_all(text.as_bytes()).unwrap();
    }

    fn poll(tail: &mut Tail) -> Vec<u64> {
        let mut out = Vec::new();
        tail.poll(&mut out);
        out.iter().map(|e| e.record.session.unwrap()).collect()
    }

    #[test]
    fn a_file_that_appears_later_is_read_from_its_start() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(Kind::Logins.file_name());
        let mut tail = Tail::new(Kind::Logins, &path, None);
        assert_eq!(poll(&mut tail), Vec::<u64>::new());
        append(&path, &(record(1) + &record(2)));
        assert_eq!(poll(&mut tail), [1, 2]);
        append(&path, &record(3));
        assert_eq!(poll(&mut tail), [3]);
        assert_eq!(poll(&mut tail), Vec::<u64>::new());
    }

    #[test]
    fn rotation_by_rename_loses_nothing_written_to_either_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(Kind::Logins.file_name());
        let rotated = dir.path().join(format!("{}.1", Kind::Logins.file_name()));
        append(&path, &record(1));
        let mut tail = Tail::new(Kind::Logins, &path, Some(OpenLog::open(Kind::Logins, &path).unwrap()));
        assert_eq!(poll(&mut tail), [1]);
        append(&path, &record(2));
        std::fs::rename(&path, &rotated).unwrap();
        // Renamed, not yet recreated: the writer still appends to the old file.
        append(&rotated, &record(3));
        assert_eq!(poll(&mut tail), [2, 3]);
        append(&path, &record(4));
        // A late write to the renamed file before the writer reopened.
        append(&rotated, &record(5));
        let mut got = poll(&mut tail);
        got.sort();
        assert_eq!(got, [4, 5]);
        append(&path, &record(6));
        assert_eq!(poll(&mut tail), [6]);
    }

    #[test]
    fn a_retired_file_is_let_go_after_it_stays_quiet_and_its_torn_tail_reported() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(Kind::Logins.file_name());
        append(&path, &record(1));
        let mut tail = Tail::new(Kind::Logins, &path, Some(OpenLog::open(Kind::Logins, &path).unwrap()));
        assert_eq!(poll(&mut tail), [1]);
        append(&path, "{\"torn");
        std::fs::rename(&path, dir.path().join("old")).unwrap();
        append(&path, &record(2));
        assert_eq!(poll(&mut tail), [2]);
        assert_eq!(tail.retired.len(), 1);
        for _ in 0..RETIRE_AFTER_QUIET_POLLS {
            assert_eq!(poll(&mut tail), Vec::<u64>::new());
        }
        assert!(tail.retired.is_empty());
    }

    #[test]
    fn growth_between_the_look_and_the_read_is_not_mistaken_for_truncation() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(Kind::Logins.file_name());
        append(&path, &record(1));
        let mut tail = Tail::new(Kind::Logins, &path, None);
        assert_eq!(poll(&mut tail), [1]);
        let look = tail.look();
        append(&path, &(record(2) + &record(3)));
        let mut out = Vec::new();
        tail.advance(look, &mut out);
        let got: Vec<u64> = out.iter().map(|e| e.record.session.unwrap()).collect();
        assert_eq!(got, [2, 3], "nothing read twice");
        assert_eq!(poll(&mut tail), Vec::<u64>::new());
    }

    #[test]
    fn a_truncated_file_is_read_again_from_the_start() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(Kind::Logins.file_name());
        append(&path, &(record(1) + &record(2)));
        let mut tail = Tail::new(Kind::Logins, &path, Some(OpenLog::open(Kind::Logins, &path).unwrap()));
        assert_eq!(poll(&mut tail), [1, 2]);
        std::fs::File::create(&path).unwrap();
        append(&path, &record(3));
        assert_eq!(poll(&mut tail), [3]);
    }
}
