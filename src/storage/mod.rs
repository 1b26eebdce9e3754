//! The storage seam: every filesystem effect a session (and the per-user
//! state behind it) has goes through the traits here, so that the protocol
//! logic does not care whether a home is a real folder or a tree in memory.
//!
//! - [`Storage`]: server-wide: opens users' homes and reads and writes the
//!   account records (creation, the last login, a password reset).
//! - [`HomeStore`]: one user's home, confined to it: metadata, `mkdir`, `rm`
//!   (one entry, or a whole tree), listings, the usage walk, reading a file
//!   for `get`, and the partial-upload store behind `put`.
//! - [`ReadFile`] / [`WriteFile`]: an open file for a download, and the data
//!   file of a partial upload.
//!
//! Two implementations: [`disk`] (production, on cap-std, see
//! `crate::home` for the confinement) and [`memory`] (a tree in memory for
//! the session tests and the fuzz targets, with disk-full and I/O-error
//! injection, which replaces the old test seam in `Config`).
//!
//! Shape, after libunftp's `StorageBackend` but synchronous and smaller:
//! every handle is `Send + Sync`, results are plain values, and each slow
//! operation (fsync + rename of a commit, unlinking a tree, the usage walk,
//! the partial sweep, an account write) is one method call, so a worker
//! thread can run it as one job and hand the value back to the event loop.
//!
//! Outside the trait, on purpose: the audit logs (`crate::audit`, append-only
//! files that are the server's own records, not user data, opened once at
//! start) and the key files (`crate::keys`, read once at start).

pub mod disk;
pub mod memory;
mod memory_files;
mod memory_home;
mod memory_tree;

#[cfg(test)]
mod contract_tests;

use crate::accounts::{Account, CreateError, NewCredentials};
pub use crate::home::{FileId, Meta};
use crate::home::{FsError, VPath};
use crate::protocol::messages::{DirEntry, EntryKind};
use std::io;
use std::os::fd::BorrowedFd;
use std::sync::Arc;
use std::time::Duration;

/// Server-wide storage: homes and account records.
pub trait Storage: Send + Sync {
    /// Opens a user's home, creating it if missing. `user` is a validated
    /// user name (one plain path component).
    fn open_home(&self, user: &str) -> io::Result<Arc<dyn HomeStore>>;

    /// Creates a user's (empty) home if it is missing, at registration.
    fn create_home(&self, user: &str) -> io::Result<()> {
        self.open_home(user).map(drop)
    }

    /// A user's account record; `Ok(None)` if there is none. Slow on disk
    /// only in the sense of one small read.
    fn load_account(&self, user: &str) -> io::Result<Option<Account>>;

    /// Stores a new account record durably and exclusively (slow: fsync).
    fn create_account(&self, account: &Account) -> Result<(), CreateError>;

    /// Sets `last_login` to `at` (RFC 3339 UTC) in `user`'s record, keeping
    /// every other field (slow: a durable rewrite, so callers do it at most
    /// about once a minute per user). `Ok(false)`: no such account.
    fn record_login(&self, user: &str, at: &str) -> io::Result<bool>;

    /// Replaces `user`'s SCRAM material (a password reset), keeping the rest
    /// of the record; atomic and durable (slow: fsync). `Ok(false)`: no such
    /// account.
    fn replace_credentials(&self, user: &str, new: NewCredentials<'_>) -> io::Result<bool>;
}

/// What a removal took away.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Freed {
    /// Entries removed: files, links, other entries and directories.
    pub count: u64,
    /// Bytes of the regular files among them (what the quota gets back).
    pub bytes: u64,
}

/// A file opened for reading by [`HomeStore::open_read`].
pub struct Opened {
    pub file: Box<dyn ReadFile>,
    pub meta: Meta,
    /// An opaque version tag: it changes whenever the file is replaced or modified.
    pub etag: String,
}

/// Size and modification time of a file: what must be unchanged for a
/// remembered digest to hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub size: u64,
    pub mtime: i64,
    pub mtime_nsec: i64,
}

/// One user's home. Every path is a validated [`VPath`] and every operation
/// stays inside the home; errors carry a stable wire code ([`FsError`]).
pub trait HomeStore: Send + Sync {
    /// Kind, size and mtime of `p`, following symbolic links that stay inside.
    fn stat(&self, p: &VPath) -> Result<Meta, FsError>;

    /// Kind, size and mtime of `p` itself (a final symbolic link is not followed).
    fn lstat(&self, p: &VPath) -> Result<Meta, FsError>;

    /// The identity of the regular file at `p` itself (a final symbolic link
    /// is not followed), or `None` if `p` is anything else or missing. Quota
    /// credits for replaced files are keyed by it.
    fn file_id(&self, p: &VPath) -> Option<FileId>;

    /// `mkdir`; returns whether the directory was created. Without
    /// `parents`, the parent must exist (`NotFound`), be a directory
    /// (`NotADirectory`) and the target must not exist (`Exists`). With it,
    /// missing parents are created and an existing directory is `Ok(false)`.
    fn mkdir(&self, p: &VPath, parents: bool) -> Result<bool, FsError>;

    /// `rm` of one entry: a file, a symbolic link (never its target) or an
    /// empty directory. Returns its kind and the bytes given back (a file's size).
    fn remove(&self, p: &VPath) -> Result<(EntryKind, u64), FsError>;

    /// `rm` with `recursive`: removes `p` and, if it is a directory (not a
    /// link to one), everything beneath it, never following a link. One
    /// call, however big the tree (slow: a worker job in waiting). Returns
    /// what was removed even when it stops at an error part-way, so usage
    /// can be corrected by what is really gone.
    fn remove_tree(&self, p: &VPath) -> (Freed, Result<EntryKind, FsError>);

    /// Opens a regular file for reading (following links that stay inside).
    fn open_read(&self, p: &VPath) -> Result<Opened, FsError>;

    /// Starts a listing of directory `p`, or of the one entry `p` when it is
    /// not a directory.
    fn list(&self, p: &VPath) -> Result<Box<dyn DirListing>, FsError>;

    /// Starts a walk summing the sizes of all regular files in the home
    /// (links not followed, the reserved folder included).
    fn usage_walk(&self) -> io::Result<Box<dyn UsageWalk>>;

    // ---- The partial-upload store (policy in `crate::partial`). ----

    /// Length of partial `id`'s data, if there is any.
    fn partial_len(&self, id: &str) -> io::Result<Option<u64>>;

    /// The raw checkpoint of partial `id`, if there is one.
    fn read_checkpoint(&self, id: &str) -> io::Result<Option<Vec<u8>>>;

    /// Replaces partial `id`'s checkpoint atomically (not fsynced: it guards
    /// against a crash of the process; a lost one only costs a re-send).
    fn write_checkpoint(&self, id: &str, bytes: &[u8]) -> io::Result<()>;

    /// Removes partial `id`'s checkpoint, if any.
    fn remove_checkpoint(&self, id: &str) -> io::Result<()>;

    /// Opens partial `id`'s data for appending, creating it if missing, cut
    /// to its first `keep` bytes (the caller checked `keep` against its length).
    fn open_partial(&self, id: &str, keep: u64) -> io::Result<Box<dyn WriteFile>>;

    /// Renames partial `id`'s data over `target` in one step, drops its
    /// checkpoint and makes the rename durable (slow: fsync of the folder).
    /// The data itself is synced first by the caller ([`WriteFile::sync`]).
    fn commit_partial(&self, id: &str, target: &VPath) -> io::Result<()>;

    /// Deletes partial `id` and its checkpoint; returns the data bytes freed.
    fn discard_partial(&self, id: &str) -> io::Result<u64>;

    /// Deletes the partials not modified for `max_age` (by this storage's
    /// clock), except those in `active`; returns the bytes freed (slow).
    fn sweep_partials(&self, max_age: Duration, active: &[String]) -> io::Result<u64>;

    // ---- Checks written once, over the methods above. ----

    /// For `cd`: Ok if `p` is a directory (following links inside).
    fn check_dir(&self, p: &VPath) -> Result<(), FsError> {
        let m = self.stat(p)?;
        if m.kind == EntryKind::Dir { Ok(()) } else { Err(FsError::NotADirectory(format!("{p} is not a directory"))) }
    }

    /// Upload target check, see [`HomeStore::upload_target`]: only the size
    /// of the regular file that the upload will replace, if any.
    fn check_upload_target(&self, p: &VPath) -> Result<Option<u64>, FsError> {
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
    fn upload_target(&self, p: &VPath) -> Result<Option<(FileId, u64)>, FsError> {
        let Some(parent) = p.parent() else {
            return Err(FsError::IsADirectory("/ is your home folder".to_owned()));
        };
        let pm = self.stat(&parent)?;
        if pm.kind != EntryKind::Dir {
            return Err(FsError::NotADirectory(format!("{parent} is not a directory")));
        }
        let meta = match self.lstat(p) {
            Ok(m) => m,
            Err(FsError::NotFound(_)) => return Ok(None),
            Err(e) => return Err(e),
        };
        match meta.kind {
            EntryKind::File => Ok(self.file_id(p).map(|id| (id, meta.size))),
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

/// A file open for a download.
pub trait ReadFile: Send + Sync {
    /// Reads exactly `buf.len()` bytes at `pos`; a file that shrank is an error.
    fn read_exact_at(&self, buf: &mut [u8], pos: u64) -> io::Result<()>;

    /// The file as it is now, to tell later whether it changed.
    fn stamp(&self) -> Option<Stamp>;

    /// The remembered SHA-256 (lowercase hex), if it still holds for the
    /// file as it is now.
    fn cached_digest(&self) -> Option<String>;

    /// Remembers `sha256` for the file as it is now. Best effort: failing
    /// only means there is no cache.
    fn remember_digest(&self, sha256: &str);

    /// A kernel descriptor for sendfile(2), when there is one (`None` in
    /// memory: the body then goes through the output buffer).
    fn fd(&self) -> Option<BorrowedFd<'_>>;
}

/// The data file of a partial upload, open for appending.
pub trait WriteFile: Send + Sync {
    /// Appends all of `bytes`, or fails (a full disk is `StorageFull`).
    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()>;

    /// Makes the data durable (slow: fsync).
    fn sync(&self) -> io::Result<()>;

    /// Remembers the verified `sha256` for the file as it is now (best effort).
    fn remember_digest(&self, sha256: &str);
}

/// A directory listing read a batch at a time.
pub trait DirListing: Send + Sync {
    /// Up to `max` more entries (reserved names skipped). An empty batch with
    /// [`DirListing::done`] false means "ask again"; any error ends it.
    fn next_batch(&mut self, max: usize) -> io::Result<Vec<DirEntry>>;

    /// Whether every entry has been yielded.
    fn done(&self) -> bool;

    /// Entries yielded so far.
    fn count(&self) -> u64;
}

/// An incremental walk summing a home's regular files.
pub trait UsageWalk: Send + Sync {
    /// Does up to `budget` units of work (an entry read or a directory
    /// opened); `Some(total)` once complete, and the same on every later call.
    fn step(&mut self, budget: usize) -> io::Result<Option<u64>>;
}
