//! The changing and opening operations on a [`Home`]: `mkdir`, `rm` of one
//! entry, and opening a file for `get`.
//!
//! Each one works on a single [`VPath`] through the home's cap-std handle,
//! so a symbolic link (or a directory swapped for one mid-request) can never
//! make it touch anything outside; see the module doc of [`super`]. Work is
//! bounded by the path's depth (at most [`super::MAX_DEPTH`] calls).

use super::error::{FsError, from_io};
use super::{Home, Meta, VPath};
use crate::protocol::messages::EntryKind;
use cap_std::fs::{OpenOptions, OpenOptionsExt as _};
use std::io;

/// `O_NONBLOCK`, so that opening a FIFO or a device someone placed in a home
/// returns at once instead of blocking the event loop; it changes nothing for
/// regular files. (std cannot name it and we add no dependency for one flag.)
#[cfg(all(
    any(target_os = "linux", target_os = "android"),
    not(any(target_arch = "mips", target_arch = "mips64", target_arch = "sparc", target_arch = "sparc64"))
))]
const O_NONBLOCK: i32 = 0o4000;
#[cfg(any(target_os = "macos", target_os = "ios", target_os = "freebsd"))]
const O_NONBLOCK: i32 = 0x0004;
// Elsewhere: no flag; the type check after the open still refuses non-files,
// but a FIFO could block the open itself.
#[cfg(not(any(
    all(
        any(target_os = "linux", target_os = "android"),
        not(any(target_arch = "mips", target_arch = "mips64", target_arch = "sparc", target_arch = "sparc64"))
    ),
    target_os = "macos",
    target_os = "ios",
    target_os = "freebsd"
)))]
const O_NONBLOCK: i32 = 0;

impl Home {
    /// `mkdir`; returns whether the directory was created.
    ///
    /// `parents == false`: the parent must exist (`NotFound`), be a directory
    /// (`NotADirectory`), and the target must not exist (`Exists`).
    /// `parents == true`: missing parents are created; `Ok(false)` if the
    /// target already is a directory; `Exists` if it is something else.
    pub fn mkdir(&self, p: &VPath, parents: bool) -> Result<bool, FsError> {
        if p.is_root() {
            return if parents {
                Ok(false)
            } else {
                Err(FsError::Exists("/ (your home folder) already exists".to_owned()))
            };
        }
        if !parents {
            return match self.dir.create_dir(p.rel()) {
                Ok(()) => Ok(true),
                Err(e) => Err(self.explain_create_failure(e, p)),
            };
        }
        let mut created = false;
        for depth in 1..=p.depth() {
            let step = p.prefix(depth);
            let last = depth == p.depth();
            match self.dir.create_dir(step.rel()) {
                Ok(()) => created = true,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    created = false;
                    // Something is there: fine if it is (or links to) a directory.
                    match self.stat(&step) {
                        Ok(m) if m.kind == EntryKind::Dir => {}
                        Ok(_) if last => return Err(not_a_dir_exists(p)),
                        Ok(_) => {
                            return Err(FsError::NotADirectory(format!("{step} is not a directory")));
                        }
                        // A dangling symbolic link is "something else".
                        Err(FsError::NotFound(_)) if last => return Err(not_a_dir_exists(p)),
                        Err(e) => return Err(e),
                    }
                }
                Err(e) => return Err(from_io(e, &step)),
            }
        }
        Ok(created)
    }

    /// Turns a failed single `create_dir` into the error `mkdir` promises.
    fn explain_create_failure(&self, e: io::Error, p: &VPath) -> FsError {
        let err = from_io(e, p);
        let Some(parent) = p.parent() else {
            return err;
        };
        match err {
            // ENOENT: name the missing parent rather than the new directory.
            FsError::NotFound(_) => FsError::NotFound(format!("{parent} does not exist (use parents to create it)")),
            // ENOTDIR: say which part is not a directory when we can tell.
            FsError::NotADirectory(_) => match self.stat(&parent) {
                Ok(m) if m.kind != EntryKind::Dir => FsError::NotADirectory(format!("{parent} is not a directory")),
                _ => err,
            },
            other => other,
        }
    }

    /// `rm`: removes a file, a symbolic link (never its target) or an empty
    /// directory. Returns its kind and the bytes it gave back to the quota
    /// (the file's size; 0 for directories, links and other entries).
    pub fn remove(&self, p: &VPath) -> Result<(EntryKind, u64), FsError> {
        if p.is_root() {
            return Err(FsError::Invalid("cannot remove your home folder".to_owned()));
        }
        // lstat: a final symbolic link is the thing removed, never followed.
        let meta = self.lstat(p)?;
        let result = match meta.kind {
            EntryKind::Dir => self.dir.remove_dir(p.rel()),
            // unlinkat never follows the final component.
            EntryKind::File | EntryKind::Symlink | EntryKind::Other => self.dir.remove_file(p.rel()),
        };
        result.map_err(|e| match from_io(e, p) {
            FsError::NotEmpty(_) => FsError::NotEmpty(format!("{p} is not empty; remove what is in it first")),
            other => other,
        })?;
        let freed = if meta.kind == EntryKind::File { meta.size } else { 0 };
        Ok((meta.kind, freed))
    }

    /// Opens a regular file for reading (following links that stay inside).
    ///
    /// The file is opened once and checked through its descriptor, so what
    /// is returned is what was checked. The etag changes whenever the file is
    /// replaced (new inode) or modified (size, mtime or ctime).
    pub fn open_read(&self, p: &VPath) -> Result<(std::fs::File, Meta, String), FsError> {
        let mut opts = OpenOptions::new();
        opts.read(true).custom_flags(O_NONBLOCK);
        let file = self.dir.open_with(p.rel(), &opts).map_err(|e| from_io(e, p))?.into_std();
        let md = file.metadata().map_err(FsError::Io)?;
        if md.is_dir() {
            return Err(FsError::IsADirectory(format!("{p} is a directory")));
        }
        if !md.is_file() {
            return Err(FsError::Invalid(format!("{p} is not a regular file (a device, FIFO or socket)")));
        }
        Ok((file, Meta::from_std(&md), etag(&md)))
    }
}

fn not_a_dir_exists(p: &VPath) -> FsError {
    FsError::Exists(format!("{p} already exists and is not a directory"))
}

/// An opaque version tag for a file: inode, size, mtime and ctime (with
/// nanoseconds). A rename-over gives a new inode; a write changes mtime and
/// ctime; even a write that resets mtime afterwards still moves ctime.
fn etag(md: &std::fs::Metadata) -> String {
    use std::os::unix::fs::MetadataExt as _;
    format!(
        "{:x}-{:x}-{:x}.{:x}-{:x}.{:x}",
        md.ino(),
        md.size(),
        md.mtime(),
        md.mtime_nsec(),
        md.ctime(),
        md.ctime_nsec()
    )
}
