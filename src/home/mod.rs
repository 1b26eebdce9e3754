//! A user's home folder: confinement of virtual paths to it, and the bounded
//! filesystem operations sessions need (`cd`, `mkdir`, `rm`, `dir`, `quota`,
//! and the checks in front of `get` and `put`).
//!
//! The layers, each in its own file:
//! - [`vpath`]: [`VPath`], pure lexical validation and normalisation (§5.1).
//! - [`error`]: [`FsError`] with its stable wire code, and the mapping from
//!   `io::Error`.
//! - this file: [`Home`], the open handle, and `stat`/`lstat`/`file_id`.
//! - [`ops`]: `mkdir`, `remove`, `open_read`, `upload_target`.
//! - [`listing`]: [`Listing`], a directory read in batches.
//! - [`walk`]: a depth-first walk relative to directory handles, one name at
//!   a time, with a bounded number of descriptors, for trees of any depth.
//! - [`usage`]: [`UsageScan`], the quota walk, a bounded number of entries per step.
//! - [`tree`]: `remove_tree`, the recursive `rm`, in one call.
//!
//! [`Home`] is the disk implementation of `crate::storage::HomeStore` (the
//! glue is in `crate::storage::disk`); the checks written over `stat` and
//! `lstat` (`check_dir`, `check_upload_target`) live in that trait. Every
//! call does work bounded by one path of at most [`MAX_DEPTH`] names, or one
//! batch, except `remove_tree`, which is one slow call by design.
//!
//! # Why cap-std rather than hand checks
//!
//! A hand-written check ("canonicalise, then see that the result starts
//! with the home's host path") is a time-of-check/time-of-use race: between
//! the check and the `open`, anyone with write access inside the home can
//! swap a checked directory for a symbolic link to `/etc` or to another
//! user's home, and the `open` then follows it. Getting it right by hand
//! means walking every component with `openat(O_NOFOLLOW)` and reading
//! links ourselves, which is exactly what cap-std does. [`Home`] holds one
//! directory handle (`cap_std::fs::Dir`) and every access goes through it with
//! a *relative* path: on Linux cap-std uses `openat2` with `RESOLVE_BENEATH`
//! (the kernel refuses any step outside, atomically with the lookup), and
//! elsewhere it resolves component by component with `O_NOFOLLOW`, following
//! a link only after checking its target stays beneath. A link that would
//! lead out fails with cap-std's sandbox error, which [`error`] maps to
//! `path_escape`. The host path of the home is used once, in [`Home::open`],
//! and never again.

mod error;
mod listing;
mod ops;
mod tree;
mod usage;
mod vpath;
pub(crate) mod walk;

#[cfg(test)]
mod deep_tests;
#[cfg(test)]
mod hostile_tests;
#[cfg(test)]
mod ops_tests;
#[cfg(test)]
mod test_fixture;

pub use error::FsError;
pub(crate) use error::from_io;
pub use listing::Listing;
pub use usage::UsageScan;
pub(crate) use usage::is_checkpoint;
pub use vpath::{PathError, VPath};

use crate::protocol::messages::EntryKind;
use cap_std::ambient_authority;
use cap_std::fs::{Dir, MetadataExt as _};
use std::io;
use std::path::Path;

/// Names starting with this are refused in paths and hidden from listings.
pub const RESERVED_PREFIX: &str = ".mioftp";
/// Longest path accepted on the wire, and longest normalised result, in bytes.
pub const MAX_PATH_BYTES: usize = 4096;
/// Most names in a path below `/`.
pub const MAX_DEPTH: usize = 64;
/// Longest single name, in bytes.
pub const MAX_NAME_BYTES: usize = 255;

/// Kind + size + mtime of an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meta {
    pub kind: EntryKind,
    /// Bytes (for a symlink looked at with `lstat`, the length of its target text).
    pub size: u64,
    /// Whole seconds since the Unix epoch; negative before 1970.
    pub mtime: i64,
}

impl Meta {
    pub(crate) fn from_cap(m: &cap_std::fs::Metadata) -> Meta {
        let ft = m.file_type();
        Meta { kind: kind_of(ft.is_file(), ft.is_dir(), ft.is_symlink()), size: m.len(), mtime: m.mtime() }
    }

    pub(crate) fn from_std(m: &std::fs::Metadata) -> Meta {
        use std::os::unix::fs::MetadataExt as _;
        let ft = m.file_type();
        Meta { kind: kind_of(ft.is_file(), ft.is_dir(), ft.is_symlink()), size: m.len(), mtime: m.mtime() }
    }
}

fn kind_of(file: bool, dir: bool, symlink: bool) -> EntryKind {
    if file {
        EntryKind::File
    } else if dir {
        EntryKind::Dir
    } else if symlink {
        EntryKind::Symlink
    } else {
        EntryKind::Other
    }
}

/// A file's identity (device and inode): the same file whatever path, or
/// link, named it. Quota credits for replaced files are keyed by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FileId {
    pub dev: u64,
    pub ino: u64,
}

/// An open handle on one user's home.
pub struct Home {
    dir: Dir,
}

impl Home {
    /// Opens (creating if missing) `<homes_root>/<user>`; `user` is already
    /// validated. `homes_root` is created too if missing.
    ///
    /// The user's folder is opened beneath a handle on `homes_root`, so even
    /// a `<user>` entry that is a symbolic link cannot lead out of it.
    pub fn open(homes_root: &Path, user: &str) -> io::Result<Home> {
        // Cheap defence in depth: the caller validated `user`, but a name that
        // is not one plain component would make this open the wrong folder.
        if user.is_empty() || user == "." || user == ".." || user.contains(['/', '\0']) {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "a user name must be one plain path component"));
        }
        std::fs::create_dir_all(homes_root)?;
        let homes = Dir::open_ambient_dir(homes_root, ambient_authority())?;
        match homes.create_dir(user) {
            Ok(()) => {}
            // Already there: the usual case after the first login.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
        let dir = homes.open_dir(user)?;
        Ok(Home { dir })
    }

    /// The home's directory handle (for the partial-upload store).
    pub(crate) fn dir(&self) -> &Dir {
        &self.dir
    }

    /// Kind, size and mtime of `p`, following symbolic links that stay inside.
    pub fn stat(&self, p: &VPath) -> Result<Meta, FsError> {
        let m = self.dir.metadata(p.rel()).map_err(|e| error::from_io(e, p))?;
        Ok(Meta::from_cap(&m))
    }

    /// Kind, size and mtime of `p` itself (a final symbolic link is not
    /// followed; links on the way are, while they stay inside).
    pub fn lstat(&self, p: &VPath) -> Result<Meta, FsError> {
        Ok(Meta::from_cap(&self.lstat_raw(p)?))
    }

    fn lstat_raw(&self, p: &VPath) -> Result<cap_std::fs::Metadata, FsError> {
        self.dir.symlink_metadata(p.rel()).map_err(|e| error::from_io(e, p))
    }

    /// The identity of the regular file at `p` itself (a final symbolic link
    /// is not followed), or `None` if `p` is anything else or missing.
    pub fn file_id(&self, p: &VPath) -> Option<FileId> {
        let m = self.lstat_raw(p).ok()?;
        m.is_file().then(|| FileId { dev: m.dev(), ino: m.ino() })
    }
}
