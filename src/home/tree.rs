//! `rm` with `recursive`: a whole tree removed in one call, relative to
//! directory handles (see [`super::walk`]), so a tree of any depth can be
//! removed without building a path and with a bounded number of descriptors.
//!
//! The target itself is found like every other request's path (through the
//! home's cap-std handle, links on the way followed while they stay inside);
//! a final symbolic link is removed, never followed. Below the target no
//! link is ever followed: links are unlinked like files. Each directory is
//! read to its end, its non-directories unlinked as they are met, then its
//! subdirectories are removed the same way, then the directory itself.
//! Regular files' sizes are summed as they go: that is what the quota gets
//! back, and it is reported even when the walk stops at an error part-way.

use super::error::{FsError, from_io};
use super::walk::{Visit, Walk, open_dir_nofollow};
use super::{Home, VPath};
use crate::protocol::messages::EntryKind;
use crate::storage::Freed;
use rustix::fs::{self, AtFlags, FileType, Stat};
use rustix::io::Errno;
use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{AsFd as _, BorrowedFd, OwnedFd};

/// Unlinks what the walk finds and counts it.
struct Remover {
    freed: Freed,
    /// The last directory could not be removed because something was added.
    not_empty: bool,
}

impl Visit for Remover {
    fn entry(&mut self, dir: BorrowedFd<'_>, _: (u64, u64), name: &CStr, st: &Stat) -> io::Result<()> {
        match fs::unlinkat(dir, name, AtFlags::empty()) {
            Ok(()) => {
                self.freed.count += 1;
                if FileType::from_raw_mode(st.st_mode) == FileType::RegularFile {
                    self.freed.bytes = self.freed.bytes.saturating_add(st.st_size as u64);
                }
                Ok(())
            }
            // Removed by someone else meanwhile: gone either way.
            Err(Errno::NOENT) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    fn leave(&mut self, parent: BorrowedFd<'_>, name: &CStr) -> io::Result<()> {
        match fs::unlinkat(parent, name, AtFlags::REMOVEDIR) {
            Ok(()) => {
                self.freed.count += 1;
                Ok(())
            }
            Err(Errno::NOENT) => Ok(()),
            Err(e) => {
                self.not_empty = e == Errno::NOTEMPTY;
                Err(e.into())
            }
        }
    }
}

impl Home {
    /// See [`crate::storage::HomeStore::remove_tree`].
    pub fn remove_tree(&self, p: &VPath) -> (Freed, Result<EntryKind, FsError>) {
        let (freed, result, _) = self.remove_tree_counted(p);
        (freed, result)
    }

    /// [`Home::remove_tree`], also telling the most descriptors its walk
    /// held at once (0 when there was no walk).
    pub(crate) fn remove_tree_counted(&self, p: &VPath) -> (Freed, Result<EntryKind, FsError>, usize) {
        let nothing = |e| (Freed::default(), Err(e), 0);
        let one = |r: Result<(EntryKind, u64), FsError>| match r {
            Ok((kind, bytes)) => (Freed { count: 1, bytes }, Ok(kind), 0),
            Err(e) => nothing(e),
        };
        let (Some(parent), Some(name)) = (p.parent(), p.name()) else {
            return nothing(FsError::Invalid("cannot remove your home folder".to_owned()));
        };
        match self.lstat(p) {
            Ok(m) if m.kind == EntryKind::Dir => {}
            // A file, a link (removed, not followed), or an error to report.
            Ok(_) => return one(self.remove(p)),
            Err(e) => return nothing(e),
        }
        let Ok(name) = CString::new(name) else {
            return nothing(FsError::Invalid(format!("{p}: the name contains a NUL byte")));
        };
        let parent_fd: OwnedFd = match self.dir.open_dir(parent.rel()) {
            Ok(d) => d.into(),
            Err(e) => return nothing(from_io(e, &parent)),
        };
        let start = match open_dir_nofollow(parent_fd.as_fd(), &name) {
            Ok(fd) => fd,
            // Swapped for a file or a link since the lstat: remove that.
            Err(e) if matches!(e.raw_os_error(), Some(c) if c == Errno::NOTDIR.raw_os_error() || c == Errno::LOOP.raw_os_error()) =>
            {
                return one(self.remove(p));
            }
            Err(e) => return nothing(from_io(e, p)),
        };
        let mut rm = Remover { freed: Freed::default(), not_empty: false };
        let mut peak = 0;
        let result = Walk::new(start, name, Some(parent_fd), false).and_then(|mut walk| {
            let done = walk.step(&mut rm, usize::MAX);
            peak = walk.peak_open();
            done
        });
        match result {
            Ok(_) => {
                log::debug!(
                    "rm -r {p}: {} entries, {} bytes, {peak} descriptors at most",
                    rm.freed.count,
                    rm.freed.bytes
                );
                (rm.freed, Ok(EntryKind::Dir), peak)
            }
            Err(_) if rm.not_empty => {
                let e = FsError::NotEmpty(format!(
                    "{p}: something was added inside while it was being removed; {} entries were removed",
                    rm.freed.count
                ));
                (rm.freed, Err(e), peak)
            }
            Err(e) => (rm.freed, Err(from_io(e, p)), peak),
        }
    }
}
