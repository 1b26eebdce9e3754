//! The changing and opening operations on a [`Home`]: `mkdir`, `rm` of one
//! entry, and opening a file for `get`.
//!
//! Each one works on a single [`VPath`] through the home's cap-std handle,
//! so a symbolic link (or a directory swapped for one mid-request) can never
//! make it touch anything outside; see the module doc of [`super`]. Work is
//! bounded by the path's depth (at most [`super::MAX_DEPTH`] calls).

use super::error::{FsError, from_io};
use super::{FileId, Home, Meta, VPath};
use crate::protocol::messages::EntryKind;
use cap_std::fs::{MetadataExt as _, OpenOptions, OpenOptionsExt as _};
use std::io;

/// `O_NONBLOCK`, so that opening a FIFO or a device someone placed in a home
/// returns at once instead of blocking the event loop; it changes nothing for
/// regular files. std cannot name the flag; rustix knows its value on every
/// platform.
fn nonblocking() -> i32 {
    // The flag is a small positive bit on every platform (0o4000 on Linux).
    rustix::fs::OFlags::NONBLOCK.bits() as i32
}

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
        opts.read(true).custom_flags(nonblocking());
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

    /// Upload target check, see [`Home::upload_target`]: returns only the
    /// size of the regular file that the upload will replace, if any.
    pub fn check_upload_target(&self, p: &VPath) -> Result<Option<u64>, FsError> {
        Ok(self.upload_target(p)?.map(|(_, size)| size))
    }

    /// Upload target check: the parent must be an existing directory
    /// (`NotFound` / `NotADirectory`); the target must not be a directory
    /// (`IsADirectory`). Returns the identity and size of the regular file
    /// that the upload will replace, if there is one.
    ///
    /// A symbolic link at the target is itself replaced by the upload's
    /// rename (its target is left alone), so it returns `None`, except that a
    /// link to a directory gives `IsADirectory` and one leading outside gives
    /// `Escape`, which is what the user would be told for any other request.
    pub fn upload_target(&self, p: &VPath) -> Result<Option<(FileId, u64)>, FsError> {
        let Some(parent) = p.parent() else {
            return Err(FsError::IsADirectory("/ is your home folder".to_owned()));
        };
        let pm = self.stat(&parent)?;
        if pm.kind != EntryKind::Dir {
            return Err(FsError::NotADirectory(format!("{parent} is not a directory")));
        }
        let raw = match self.lstat_raw(p) {
            Ok(m) => m,
            Err(FsError::NotFound(_)) => return Ok(None),
            Err(e) => return Err(e),
        };
        let meta = Meta::from_cap(&raw);
        match meta.kind {
            EntryKind::File => Ok(Some((FileId { dev: raw.dev(), ino: raw.ino() }, meta.size))),
            EntryKind::Dir => Err(FsError::IsADirectory(format!("{p} is a directory"))),
            EntryKind::Other => Ok(None),
            EntryKind::Symlink => match self.stat(p) {
                Ok(t) if t.kind == EntryKind::Dir => {
                    Err(FsError::IsADirectory(format!("{p} is a symbolic link to a directory")))
                }
                Ok(_) | Err(FsError::NotFound(_)) => Ok(None),
                Err(e) => Err(e),
            },
        }
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
