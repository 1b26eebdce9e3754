//! `quota`'s "used": the sum of the sizes of all regular files in a home,
//! computed by a walk that the event loop drives a bounded step at a time.
//!
//! The walk is [`super::walk::Walk`]: one name at a time relative to open
//! directory handles, so no depth found on disk can make it build a path
//! longer than `PATH_MAX` (a tree of 10,000 levels is counted like any
//! other), and at most [`super::walk::MAX_OPEN`] descriptors are held.
//! Symbolic links are never followed. A directory that was removed, or
//! swapped for a link or for another directory between being seen and being
//! opened, is skipped: its content is counted where it lives. Everything is
//! counted, including the partial uploads in the reserved `.mioftp` folder,
//! except their checkpoints (`.mioftp/partial/*.json`, `*.json.tmp`): those
//! are the server's bookkeeping, which the running count of usage never
//! includes either, so a scan agrees with it.

use super::Home;
use super::walk::{Visit, Walk, identity, open_dir_nofollow};
use rustix::fs::{FileType, Stat};
use std::ffi::CStr;
use std::io;
use std::os::fd::{AsFd as _, BorrowedFd};

/// An incremental walk over a whole home; see the module doc.
pub struct UsageScan {
    walk: Walk,
    total: Total,
}

/// Adds up regular files.
struct Total {
    bytes: u64,
    /// (device, inode) of the partials folder, if there was one at the start.
    partials: Option<(u64, u64)>,
}

/// Whether a name in the partials folder is a checkpoint.
pub(crate) fn is_checkpoint(name: &[u8]) -> bool {
    name.ends_with(b".json") || name.ends_with(b".json.tmp")
}

impl Visit for Total {
    fn entry(&mut self, _dir: BorrowedFd<'_>, dir_id: (u64, u64), name: &CStr, st: &Stat) -> io::Result<()> {
        if Some(dir_id) == self.partials && is_checkpoint(name.to_bytes()) {
            return Ok(());
        }
        if FileType::from_raw_mode(st.st_mode) == FileType::RegularFile {
            self.bytes = self.bytes.saturating_add(st.st_size as u64);
        }
        Ok(())
    }

    fn leave(&mut self, _parent: BorrowedFd<'_>, _name: &CStr) -> io::Result<()> {
        Ok(())
    }
}

impl Home {
    /// Starts an incremental usage scan of the whole home (regular files
    /// only, links not followed, the reserved folder included).
    pub fn usage_scan(&self) -> io::Result<UsageScan> {
        let start = open_dir_nofollow(self.dir.as_fd(), c".")?;
        let partials = open_dir_nofollow(start.as_fd(), c".mioftp")
            .and_then(|top| open_dir_nofollow(top.as_fd(), c"partial"))
            .and_then(|p| identity(p.as_fd()))
            .ok();
        let total = Total { bytes: 0, partials };
        Ok(UsageScan { walk: Walk::new(start, c".".to_owned(), None, true)?, total })
    }
}

impl UsageScan {
    /// Processes up to `budget` units of work (one directory entry, or one
    /// directory opened or left, each counts one); returns `Some(total_bytes)`
    /// once the walk is complete, and the same total on every later call.
    /// A budget of 0 makes no progress.
    pub fn step(&mut self, budget: usize) -> io::Result<Option<u64>> {
        let done = self.walk.step(&mut self.total, budget)?;
        Ok(done.then_some(self.total.bytes))
    }

    /// Most directory descriptors the walk has held at once.
    pub fn peak_open(&self) -> usize {
        self.walk.peak_open()
    }
}
