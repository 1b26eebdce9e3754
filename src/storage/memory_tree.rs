//! The tree behind [`super::memory`]: folders of named nodes, and files that
//! are shared with the handles that have them open (as an inode is: a file
//! renamed over or removed stays readable through a handle opened before),
//! with the bytes they hold counted against an optional capacity.
//!
//! Lookups report failures as the errno a real filesystem would give
//! (`ENOENT`, `ENOTDIR`, ...), so the memory storage can turn them into the
//! same [`crate::home::FsError`]s, with the same messages, as the disk one.
//! There are no symbolic links in memory: the protocol cannot make one.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

pub(super) const ENOENT: i32 = 2;
pub(super) const EIO: i32 = 5;
pub(super) const EEXIST: i32 = 17;
pub(super) const ENOTDIR: i32 = 20;
pub(super) const EISDIR: i32 = 21;
pub(super) const ENOSPC: i32 = 28;

/// Bytes held by all files, against a capacity (`u64::MAX`: none).
#[derive(Debug)]
pub(super) struct Space {
    used: AtomicU64,
    capacity: AtomicU64,
}

impl Space {
    pub(super) fn new() -> Space {
        Space { used: AtomicU64::new(0), capacity: AtomicU64::new(u64::MAX) }
    }

    pub(super) fn set_capacity(&self, capacity: Option<u64>) {
        self.capacity.store(capacity.unwrap_or(u64::MAX), Ordering::SeqCst);
    }

    pub(super) fn used(&self) -> u64 {
        self.used.load(Ordering::SeqCst)
    }

    /// Takes `n` more bytes, all or nothing; false if they do not fit.
    pub(super) fn take(&self, n: u64) -> bool {
        let cap = self.capacity.load(Ordering::SeqCst);
        self.used
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |used| used.checked_add(n).filter(|total| *total <= cap))
            .is_ok()
    }

    pub(super) fn give(&self, n: u64) {
        let _ = self.used.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |u| Some(u.saturating_sub(n)));
    }
}

/// What a file holds.
pub(super) struct FileData {
    pub bytes: Vec<u8>,
    pub mtime: SystemTime,
    /// Bumped by every change, like ctime: a remembered digest is for one version.
    pub version: u64,
    /// A remembered SHA-256 and the version it was computed for.
    pub digest: Option<(u64, String)>,
}

/// A file, shared by the tree and its open handles.
pub(super) struct FileNode {
    pub ino: u64,
    data: Mutex<FileData>,
    space: Arc<Space>,
}

impl FileNode {
    pub(super) fn new(ino: u64, mtime: SystemTime, space: Arc<Space>) -> FileNode {
        let data = FileData { bytes: Vec::new(), mtime, version: 0, digest: None };
        FileNode { ino, data: Mutex::new(data), space }
    }

    pub(super) fn data(&self) -> MutexGuard<'_, FileData> {
        self.data.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn len(&self) -> u64 {
        self.data().bytes.len() as u64
    }

    /// Appends at `pos` (the handle's position), or fails with `ENOSPC`.
    pub(super) fn write_at(&self, pos: u64, bytes: &[u8], now: SystemTime) -> Result<(), i32> {
        let mut d = self.data();
        let end = pos as usize + bytes.len();
        let grow = end.saturating_sub(d.bytes.len()) as u64;
        if !self.space.take(grow) {
            return Err(ENOSPC);
        }
        if d.bytes.len() < end {
            d.bytes.resize(end, 0);
        }
        d.bytes[pos as usize..end].copy_from_slice(bytes);
        d.mtime = now;
        d.version += 1;
        Ok(())
    }

    /// Cuts the file to `len` bytes (never grows it).
    pub(super) fn truncate(&self, len: u64, now: SystemTime) {
        let mut d = self.data();
        if (len as usize) < d.bytes.len() {
            self.space.give(d.bytes.len() as u64 - len);
            d.bytes.truncate(len as usize);
            d.mtime = now;
            d.version += 1;
        }
    }
}

impl Drop for FileNode {
    fn drop(&mut self) {
        // The last link and the last handle are gone: the bytes are free.
        let len = self.data().bytes.len() as u64;
        self.space.give(len);
    }
}

/// A tree node.
pub(super) enum Node {
    Dir(DirNode),
    File(Arc<FileNode>),
}

/// A folder.
pub(super) struct DirNode {
    pub mtime: SystemTime,
    pub entries: BTreeMap<String, Node>,
}

impl DirNode {
    pub(super) fn new(mtime: SystemTime) -> DirNode {
        DirNode { mtime, entries: BTreeMap::new() }
    }

    /// The node at `names` (none: this folder itself is not a `Node`, so
    /// callers handle the root first).
    pub(super) fn get<S: AsRef<str>>(&self, names: &[S]) -> Result<&Node, i32> {
        let (last, init) = names.split_last().ok_or(EISDIR)?;
        self.dir(init)?.entries.get(last.as_ref()).ok_or(ENOENT)
    }

    /// The folder at `names` (this one for none).
    pub(super) fn dir<S: AsRef<str>>(&self, names: &[S]) -> Result<&DirNode, i32> {
        let mut cur = self;
        for name in names {
            cur = match cur.entries.get(name.as_ref()) {
                Some(Node::Dir(d)) => d,
                Some(Node::File(_)) => return Err(ENOTDIR),
                None => return Err(ENOENT),
            };
        }
        Ok(cur)
    }

    pub(super) fn dir_mut<S: AsRef<str>>(&mut self, names: &[S]) -> Result<&mut DirNode, i32> {
        let mut cur = self;
        for name in names {
            cur = match cur.entries.get_mut(name.as_ref()) {
                Some(Node::Dir(d)) => d,
                Some(Node::File(_)) => return Err(ENOTDIR),
                None => return Err(ENOENT),
            };
        }
        Ok(cur)
    }

    /// The folder at `names`, creating what is missing (like `mkdir -p`).
    pub(super) fn dir_all<S: AsRef<str>>(&mut self, names: &[S], now: SystemTime) -> Result<&mut DirNode, i32> {
        let mut cur = self;
        for name in names {
            let node = cur.entries.entry(name.as_ref().to_owned()).or_insert_with(|| Node::Dir(DirNode::new(now)));
            cur = match node {
                Node::Dir(d) => d,
                Node::File(_) => return Err(ENOTDIR),
            };
        }
        Ok(cur)
    }
}

impl Node {
    /// Entries in this subtree, itself included, and the bytes of its files.
    pub(super) fn tally(&self) -> (u64, u64) {
        match self {
            Node::File(f) => (1, f.len()),
            Node::Dir(d) => d.entries.values().fold((1, 0), |(c, b), n| {
                let (nc, nb) = n.tally();
                (c + nc, b + nb)
            }),
        }
    }
}
