//! `quota`'s "used": the sum of the sizes of all regular files in a home,
//! computed by a walk that the event loop drives a bounded step at a time.
//!
//! The walk holds at most one open directory stream, plus a stack of the
//! directories still to read, kept as relative paths with the device and
//! inode they had when seen (never one open handle per level, so a deep tree
//! cannot exhaust descriptors). Symbolic links are never followed. When a
//! pending directory is opened, its identity is compared with what was seen:
//! one that was removed, or swapped for a link (even a link inside the home,
//! which would count a tree twice), is skipped. Everything is counted,
//! including the reserved `.mioftp` folder where partial uploads live.

use super::Home;
use super::error::is_escape;
use cap_std::fs::{Dir, MetadataExt as _, ReadDir};
use std::io;
use std::path::PathBuf;

/// An incremental walk over a whole home; see the module doc.
pub struct UsageScan {
    /// Our own handle on the home (a duplicate of [`Home`]'s), so the scan
    /// can outlive the borrow that started it.
    home: Dir,
    /// Directories still to read.
    pending: Vec<Pending>,
    /// The directory being read, and its path relative to the home.
    current: Option<(PathBuf, ReadDir)>,
    total: u64,
    finished: bool,
}

/// A directory seen but not yet read.
struct Pending {
    rel: PathBuf,
    dev: u64,
    ino: u64,
}

impl Home {
    /// Starts an incremental usage scan of the whole home (regular files
    /// only, links not followed, the reserved folder included).
    pub fn usage_scan(&self) -> io::Result<UsageScan> {
        let home = self.dir.try_clone()?;
        let root = home.dir_metadata()?;
        Ok(UsageScan {
            pending: vec![Pending { rel: PathBuf::from("."), dev: root.dev(), ino: root.ino() }],
            home,
            current: None,
            total: 0,
            finished: false,
        })
    }
}

impl UsageScan {
    /// Processes up to `budget` units of work (one directory entry, or one
    /// directory opened, each counts one); returns `Some(total_bytes)` once
    /// the walk is complete, and the same total on every later call.
    /// A budget of 0 makes no progress.
    pub fn step(&mut self, budget: usize) -> io::Result<Option<u64>> {
        let mut work = 0usize;
        while !self.finished && work < budget {
            work += 1;
            let Some((rel, rd)) = self.current.as_mut() else {
                match self.pending.pop() {
                    Some(p) => self.current = self.open(p)?,
                    None => self.finished = true,
                }
                continue;
            };
            let ent = match rd.next() {
                None => {
                    self.current = None;
                    continue;
                }
                Some(Ok(ent)) => ent,
                Some(Err(e)) => return Err(e),
            };
            // lstat relative to the open directory: links are not followed.
            let md = match ent.metadata() {
                Ok(md) => md,
                // Removed since the directory was read: nothing to count.
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            let ft = md.file_type();
            if ft.is_file() {
                self.total = self.total.saturating_add(md.len());
            } else if ft.is_dir() {
                self.pending.push(Pending { rel: rel.join(ent.file_name()), dev: md.dev(), ino: md.ino() });
            }
        }
        Ok(self.finished.then_some(self.total))
    }

    /// Opens a pending directory for reading; `None` if it is gone or is no
    /// longer the directory that was seen.
    fn open(&self, p: Pending) -> io::Result<Option<(PathBuf, ReadDir)>> {
        let dir = match self.home.open_dir(&p.rel) {
            Ok(dir) => dir,
            Err(e) if gone(&e) => return Ok(None),
            Err(e) => return Err(e),
        };
        let md = dir.dir_metadata()?;
        if md.dev() != p.dev || md.ino() != p.ino {
            // Swapped since we saw it (e.g. for a link to another directory
            // of this home); the tree it leads to is counted where it lives.
            return Ok(None);
        }
        // `entries` opens its own stream on the same directory; `dir` is
        // closed when this returns, so one handle stays open.
        let rd = dir.entries()?;
        Ok(Some((p.rel, rd)))
    }
}

/// Errors meaning the pending directory is no longer there as a directory
/// beneath the home: removed, replaced by a file, or by a link (leading
/// outside, or in a loop). Its bytes are not ours to count.
fn gone(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::NotFound | io::ErrorKind::NotADirectory) || is_escape(e)
}
