//! A storage held entirely in memory, for the session tests and the fuzz
//! targets: no temporary folders, no fsync, and faults on demand.
//!
//! It behaves like the disk storage where the protocol can tell: the same
//! error codes and messages (failures are raised as the errno a filesystem
//! would give and mapped by the same code), files that stay readable through
//! a handle after being replaced or removed, partial uploads and their
//! checkpoints under the same reserved names (so they count toward usage),
//! and a usage walk that advances a bounded step at a time. It has no
//! symbolic links (the protocol cannot create one) and no descriptors (a
//! download's body goes through the output buffer, never sendfile).
//!
//! Fault injection, the test seam that used to live in `Config`:
//! - [`MemoryStorage::set_capacity`]: the bytes all files may hold together;
//!   a write that does not fit fails with `StorageFull` and writes nothing,
//!   as on a full disk. Removing files gives the space back.
//! - [`MemoryStorage::fail`] / [`MemoryStorage::heal`]: chosen operations
//!   ([`Fault`]) fail with `EIO` until healed.
//!
//! Time: files get their mtime from this storage's clock, the real clock
//! plus an offset that [`MemoryStorage::advance_clock`] moves, so the sweep
//! of stale partials can be tested without waiting.

use super::memory_tree::{DirNode, EEXIST, EIO, EISDIR, ENOENT, ENOSPC, ENOTDIR, FileNode, Node, Space};
use super::{DirListing, Freed, HomeStore, Meta, Opened, ReadFile, Stamp, Storage, UsageWalk, WriteFile};
use crate::accounts::{Account, CreateError};
use crate::home::{FsError, RESERVED_PREFIX, VPath, from_io, is_checkpoint};
use crate::protocol::messages::{DirEntry, EntryKind};
use std::collections::{BTreeMap, VecDeque};
use std::io;
use std::os::fd::BorrowedFd;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Operations that [`MemoryStorage::fail`] can make fail with `EIO`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Appending to a partial upload's data.
    Write,
    /// Reading a file for a download.
    Read,
    /// Opening a file for a download.
    Open,
    /// Opening (creating) a partial upload's data file.
    Partial,
    /// Writing a checkpoint.
    Checkpoint,
    /// Syncing and renaming an upload into place.
    Commit,
    Mkdir,
    /// `rm`, recursive or not.
    Remove,
    /// Reading a listing.
    List,
    /// A step of the usage walk.
    Scan,
    /// Reading or writing an account record.
    Account,
}

/// The in-memory storage; clones share the same tree.
#[derive(Clone)]
pub struct MemoryStorage {
    shared: Arc<Shared>,
}

struct Shared {
    state: Mutex<State>,
    space: Arc<Space>,
    faults: AtomicU32,
    clock: Mutex<Duration>,
}

struct State {
    homes: BTreeMap<String, DirNode>,
    accounts: BTreeMap<String, Account>,
    next_ino: u64,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn now(&self) -> SystemTime {
        SystemTime::now() + *self.clock.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn check(&self, f: Fault) -> io::Result<()> {
        if self.faults.load(Ordering::SeqCst) & (1 << f as u32) != 0 {
            Err(io::Error::from_raw_os_error(EIO))
        } else {
            Ok(())
        }
    }

    /// Runs `f` on `user`'s home folder (created if missing), with an
    /// inode allocator and the time.
    fn home<T>(&self, user: &str, f: impl FnOnce(&mut DirNode, &mut dyn FnMut() -> u64, SystemTime) -> T) -> T {
        let now = self.now();
        let mut guard = self.lock();
        let State { homes, next_ino, .. } = &mut *guard;
        let mut ino = move || {
            *next_ino += 1;
            *next_ino
        };
        let home = homes.entry(user.to_owned()).or_insert_with(|| DirNode::new(now));
        f(home, &mut ino, now)
    }
}

impl Default for MemoryStorage {
    fn default() -> Self {
        MemoryStorage::new()
    }
}

/// Names of a test path such as `"a/b.txt"`.
fn split(path: &str) -> Vec<&str> {
    path.split('/').filter(|n| !n.is_empty()).collect()
}

impl MemoryStorage {
    pub fn new() -> MemoryStorage {
        let state = State { homes: BTreeMap::new(), accounts: BTreeMap::new(), next_ino: 1 };
        let shared = Shared {
            state: Mutex::new(state),
            space: Arc::new(Space::new()),
            faults: AtomicU32::new(0),
            clock: Mutex::default(),
        };
        MemoryStorage { shared: Arc::new(shared) }
    }

    /// The bytes all files may hold together; `None` is no limit.
    pub fn set_capacity(&self, capacity: Option<u64>) {
        self.shared.space.set_capacity(capacity);
    }

    /// Bytes all files (including removed ones still open) hold now.
    pub fn used_space(&self) -> u64 {
        self.shared.space.used()
    }

    /// Makes `op` fail with `EIO` until [`MemoryStorage::heal`].
    pub fn fail(&self, op: Fault) {
        self.shared.faults.fetch_or(1 << op as u32, Ordering::SeqCst);
    }

    pub fn heal(&self, op: Fault) {
        self.shared.faults.fetch_and(!(1 << op as u32), Ordering::SeqCst);
    }

    /// Moves this storage's clock forward.
    pub fn advance_clock(&self, by: Duration) {
        *self.shared.clock.lock().unwrap_or_else(PoisonError::into_inner) += by;
    }

    /// Users with a home.
    pub fn users(&self) -> Vec<String> {
        self.shared.lock().homes.keys().cloned().collect()
    }

    /// The bytes of a file in a home (`path` like `"a/b.txt"`), if it is one.
    pub fn read_file(&self, user: &str, path: &str) -> Option<Vec<u8>> {
        self.shared.home(user, |home, _, _| match home.get(&split(path)) {
            Ok(Node::File(f)) => Some(f.data().bytes.clone()),
            _ => None,
        })
    }

    /// Whether anything is at `path` in a home.
    pub fn exists(&self, user: &str, path: &str) -> bool {
        let names = split(path);
        self.shared.home(user, |home, _, _| names.is_empty() || home.get(&names).is_ok())
    }

    /// Creates a file (and missing folders) behind the server's back.
    pub fn write_file(&self, user: &str, path: &str, bytes: &[u8]) -> io::Result<()> {
        let names = split(path);
        let space = self.shared.space.clone();
        self.shared.home(user, |home, ino, now| {
            let (last, init) = names.split_last().ok_or_else(|| io::Error::from_raw_os_error(EEXIST))?;
            let dir = home.dir_all(init, now).map_err(io::Error::from_raw_os_error)?;
            let node = Arc::new(FileNode::new(ino(), now, space));
            node.write_at(0, bytes, now).map_err(io::Error::from_raw_os_error)?;
            dir.entries.insert((*last).to_owned(), Node::File(node));
            Ok(())
        })
    }

    /// The sum of the sizes of all files in a home, partials included.
    pub fn usage(&self, user: &str) -> u64 {
        self.shared.home(user, |home, _, _| home.entries.values().map(|n| n.tally().1).sum())
    }

    /// Removes everything in a home (a test or fuzz run's clean-up).
    pub fn clear_home(&self, user: &str) {
        self.shared.home(user, |home, _, _| home.entries.clear());
    }
}

impl Storage for MemoryStorage {
    fn open_home(&self, user: &str) -> io::Result<Arc<dyn HomeStore>> {
        if user.is_empty() || user == "." || user == ".." || user.contains(['/', '\0']) {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "a user name must be one plain path component"));
        }
        self.shared.home(user, |_, _, _| ());
        Ok(Arc::new(MemHome { shared: self.shared.clone(), user: user.to_owned() }))
    }

    fn load_account(&self, user: &str) -> io::Result<Option<Account>> {
        self.shared.check(Fault::Account)?;
        Ok(self.shared.lock().accounts.get(user).cloned())
    }

    fn create_account(&self, account: &Account) -> Result<(), CreateError> {
        self.shared.check(Fault::Account)?;
        let mut state = self.shared.lock();
        if state.accounts.contains_key(&account.user) {
            return Err(CreateError::Exists);
        }
        state.accounts.insert(account.user.clone(), account.clone());
        Ok(())
    }
}

/// One user's home in memory.
struct MemHome {
    shared: Arc<Shared>,
    user: String,
}

fn fs_err(code: i32, p: &VPath) -> FsError {
    from_io(io::Error::from_raw_os_error(code), p)
}

fn secs(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs_f64().ceil() as i64),
    }
}

fn meta(node: &Node) -> Meta {
    match node {
        Node::File(f) => {
            let d = f.data();
            Meta { kind: EntryKind::File, size: d.bytes.len() as u64, mtime: secs(d.mtime) }
        }
        Node::Dir(d) => Meta { kind: EntryKind::Dir, size: 0, mtime: secs(d.mtime) },
    }
}

fn partial_names(file: String) -> [String; 3] {
    [".mioftp".to_owned(), "partial".to_owned(), file]
}

impl MemHome {
    fn home<T>(&self, f: impl FnOnce(&mut DirNode, &mut dyn FnMut() -> u64, SystemTime) -> T) -> T {
        self.shared.home(&self.user, f)
    }

    fn node_meta(&self, p: &VPath) -> Result<Meta, FsError> {
        self.home(|home, _, _| {
            if p.is_root() {
                return Ok(Meta { kind: EntryKind::Dir, size: 0, mtime: secs(home.mtime) });
            }
            home.get(p.names()).map(meta).map_err(|c| fs_err(c, p))
        })
    }

    fn partial_file(&self, file: String) -> Option<Arc<FileNode>> {
        self.home(|home, _, _| match home.get(&partial_names(file)) {
            Ok(Node::File(f)) => Some(f.clone()),
            _ => None,
        })
    }

    fn remove_partial_file(&self, file: String) -> Option<Node> {
        let names = partial_names(file);
        self.home(|home, _, _| home.dir_mut(&names[..2]).ok()?.entries.remove(&names[2]))
    }
}

impl HomeStore for MemHome {
    fn stat(&self, p: &VPath) -> Result<Meta, FsError> {
        self.node_meta(p)
    }

    fn lstat(&self, p: &VPath) -> Result<Meta, FsError> {
        self.node_meta(p)
    }

    fn mkdir(&self, p: &VPath, parents: bool) -> Result<bool, FsError> {
        self.shared.check(Fault::Mkdir).map_err(FsError::Io)?;
        let Some((last, init)) = p.names().split_last() else {
            return if parents {
                Ok(false)
            } else {
                Err(FsError::Exists("/ (your home folder) already exists".to_owned()))
            };
        };
        self.home(|home, _, now| {
            if parents {
                let (mut cur, mut created) = (home, false);
                for (i, name) in p.names().iter().enumerate() {
                    created = !cur.entries.contains_key(name);
                    let node = cur.entries.entry(name.clone()).or_insert_with(|| Node::Dir(DirNode::new(now)));
                    cur = match node {
                        Node::Dir(d) => d,
                        Node::File(_) if i + 1 == p.depth() => {
                            return Err(FsError::Exists(format!("{p} already exists and is not a directory")));
                        }
                        Node::File(_) => {
                            return Err(FsError::NotADirectory(format!("{} is not a directory", p.prefix(i + 1))));
                        }
                    };
                }
                return Ok(created);
            }
            let parent = p.parent().unwrap_or_else(VPath::root);
            let parent_is_file = !init.is_empty() && matches!(home.get(init), Ok(Node::File(_)));
            let dir = home.dir_mut(init).map_err(|c| match c {
                ENOENT => FsError::NotFound(format!("{parent} does not exist (use parents to create it)")),
                ENOTDIR if parent_is_file => FsError::NotADirectory(format!("{parent} is not a directory")),
                c => fs_err(c, p),
            })?;
            if dir.entries.contains_key(last) {
                return Err(fs_err(EEXIST, p));
            }
            dir.entries.insert(last.clone(), Node::Dir(DirNode::new(now)));
            Ok(true)
        })
    }

    fn remove(&self, p: &VPath) -> Result<(EntryKind, u64), FsError> {
        self.shared.check(Fault::Remove).map_err(FsError::Io)?;
        let Some((last, init)) = p.names().split_last() else {
            return Err(FsError::Invalid("cannot remove your home folder".to_owned()));
        };
        self.home(|home, _, _| {
            let dir = home.dir_mut(init).map_err(|c| fs_err(c, p))?;
            match dir.entries.get(last) {
                None => Err(fs_err(ENOENT, p)),
                Some(Node::Dir(d)) if !d.entries.is_empty() => {
                    Err(FsError::NotEmpty(format!("{p} is not empty; remove what is in it first")))
                }
                Some(_) => match dir.entries.remove(last) {
                    Some(Node::File(f)) => Ok((EntryKind::File, f.len())),
                    _ => Ok((EntryKind::Dir, 0)),
                },
            }
        })
    }

    fn remove_tree(&self, p: &VPath) -> (Freed, Result<EntryKind, FsError>) {
        if let Err(e) = self.shared.check(Fault::Remove) {
            return (Freed::default(), Err(FsError::Io(e)));
        }
        let Some((last, init)) = p.names().split_last() else {
            return (Freed::default(), Err(FsError::Invalid("cannot remove your home folder".to_owned())));
        };
        self.home(|home, _, _| {
            let removed = home
                .dir_mut(init)
                .map_err(|c| fs_err(c, p))
                .and_then(|dir| dir.entries.remove(last).ok_or_else(|| fs_err(ENOENT, p)));
            match removed {
                Ok(node) => {
                    let (count, bytes) = node.tally();
                    let kind = if matches!(node, Node::Dir(_)) { EntryKind::Dir } else { EntryKind::File };
                    (Freed { count, bytes }, Ok(kind))
                }
                Err(e) => (Freed::default(), Err(e)),
            }
        })
    }

    fn open_read(&self, p: &VPath) -> Result<Opened, FsError> {
        self.shared.check(Fault::Open).map_err(FsError::Io)?;
        let node = self.home(|home, _, _| {
            if p.is_root() {
                return Err(FsError::IsADirectory(format!("{p} is a directory")));
            }
            match home.get(p.names()).map_err(|c| fs_err(c, p))? {
                Node::Dir(_) => Err(FsError::IsADirectory(format!("{p} is a directory"))),
                Node::File(f) => Ok(f.clone()),
            }
        })?;
        let m = meta(&Node::File(node.clone()));
        let etag = {
            let d = node.data();
            format!("m{:x}-{:x}-{:x}", node.ino, d.bytes.len(), d.version)
        };
        Ok(Opened { file: Box::new(MemFile { node, pos: 0, shared: self.shared.clone() }), meta: m, etag })
    }

    fn list(&self, p: &VPath) -> Result<Box<dyn DirListing>, FsError> {
        self.shared.check(Fault::List).map_err(FsError::Io)?;
        let entries = self.home(|home, _, _| -> Result<VecDeque<DirEntry>, FsError> {
            let entry = |name: &str, node: &Node| {
                let m = meta(node);
                DirEntry { name: name.to_owned(), kind: m.kind, size: m.size, mtime: m.mtime }
            };
            let dir = if p.is_root() {
                home
            } else {
                match home.get(p.names()).map_err(|c| fs_err(c, p))? {
                    Node::Dir(d) => d,
                    file => return Ok(VecDeque::from([entry(p.name().unwrap_or("/"), file)])),
                }
            };
            let visible = dir.entries.iter().filter(|(n, _)| !n.starts_with(RESERVED_PREFIX));
            Ok(visible.map(|(n, node)| entry(n, node)).collect())
        })?;
        Ok(Box::new(MemListing { entries, count: 0 }))
    }

    fn usage_walk(&self) -> io::Result<Box<dyn UsageWalk>> {
        let shared = self.shared.clone();
        let (user, pending) = (self.user.clone(), vec![Vec::new()]);
        Ok(Box::new(MemUsage { shared, user, pending, current: VecDeque::new(), total: 0 }))
    }

    fn partial_len(&self, id: &str) -> io::Result<Option<u64>> {
        Ok(self.partial_file(format!("{id}.part")).map(|f| f.len()))
    }

    fn read_checkpoint(&self, id: &str) -> io::Result<Option<Vec<u8>>> {
        Ok(self.partial_file(format!("{id}.json")).map(|f| f.data().bytes.clone()))
    }

    fn write_checkpoint(&self, id: &str, bytes: &[u8]) -> io::Result<()> {
        self.shared.check(Fault::Checkpoint)?;
        let space = self.shared.space.clone();
        self.home(|home, ino, now| {
            let dir = home.dir_all(&partial_names(String::new())[..2], now).map_err(io::Error::from_raw_os_error)?;
            // Like a disk storage that overwrites in place when full: the
            // old checkpoint's bytes count toward the new one's.
            let name = format!("{id}.json");
            let node = match dir.entries.get(&name) {
                Some(Node::File(old)) => old.clone(),
                _ => Arc::new(FileNode::new(ino(), now, space)),
            };
            node.truncate(bytes.len() as u64, now);
            node.write_at(0, bytes, now).map_err(io::Error::from_raw_os_error)?;
            dir.entries.insert(name, Node::File(node));
            Ok(())
        })
    }

    fn remove_checkpoint(&self, id: &str) -> io::Result<()> {
        self.remove_partial_file(format!("{id}.json"));
        Ok(())
    }

    fn open_partial(&self, id: &str, keep: u64) -> io::Result<Box<dyn WriteFile>> {
        self.shared.check(Fault::Partial)?;
        let space = self.shared.space.clone();
        let node = self.home(|home, ino, now| {
            let dir = home.dir_all(&partial_names(String::new())[..2], now).map_err(io::Error::from_raw_os_error)?;
            let node = dir
                .entries
                .entry(format!("{id}.part"))
                .or_insert_with(|| Node::File(Arc::new(FileNode::new(ino(), now, space))));
            match node {
                Node::File(f) => Ok(f.clone()),
                Node::Dir(_) => Err(io::Error::from_raw_os_error(EISDIR)),
            }
        })?;
        node.truncate(keep, self.shared.now());
        Ok(Box::new(MemFile { node, pos: keep, shared: self.shared.clone() }))
    }

    fn commit_partial(&self, id: &str, target: &VPath) -> io::Result<()> {
        self.shared.check(Fault::Commit)?;
        let Some((last, init)) = target.names().split_last() else {
            return Err(io::Error::from_raw_os_error(EISDIR));
        };
        self.home(|home, _, _| {
            // Check the target first, so a failed rename changes nothing.
            let existing = home.dir(init).map_err(io::Error::from_raw_os_error)?.entries.get(last);
            if let Some(Node::Dir(_)) = existing {
                return Err(io::Error::from_raw_os_error(EISDIR));
            }
            let names = partial_names(format!("{id}.part"));
            let partials = home.dir_mut(&names[..2]).map_err(io::Error::from_raw_os_error)?;
            let data = partials.entries.remove(&names[2]).ok_or_else(|| io::Error::from_raw_os_error(ENOENT))?;
            partials.entries.remove(&format!("{id}.json"));
            let dir = home.dir_mut(init).map_err(io::Error::from_raw_os_error)?;
            dir.entries.insert(last.clone(), data);
            Ok(())
        })
    }

    fn discard_partial(&self, id: &str) -> io::Result<u64> {
        let size = match self.remove_partial_file(format!("{id}.part")) {
            Some(Node::File(f)) => f.len(),
            _ => 0,
        };
        self.remove_partial_file(format!("{id}.json"));
        Ok(size)
    }

    fn sweep_partials(&self, max_age: Duration, active: &[String]) -> io::Result<u64> {
        let now = self.shared.now();
        let stale: Vec<String> = self.home(|home, _, _| {
            let Ok(dir) = home.dir(&partial_names(String::new())[..2]) else { return Vec::new() };
            let old = |n: &Node| match n {
                Node::File(f) => now.duration_since(f.data().mtime).unwrap_or_default() >= max_age,
                Node::Dir(_) => false,
            };
            dir.entries
                .iter()
                .filter_map(|(name, n)| Some(name.strip_suffix(".part")?.to_owned()).filter(|_| old(n)))
                .filter(|id| !active.contains(id))
                .collect()
        });
        Ok(stale.iter().map(|id| self.discard_partial(id).unwrap_or(0)).sum())
    }
}

/// An open file: a download's source, or a partial's data (appending at `pos`).
struct MemFile {
    node: Arc<FileNode>,
    pos: u64,
    shared: Arc<Shared>,
}

impl ReadFile for MemFile {
    fn read_exact_at(&self, buf: &mut [u8], pos: u64) -> io::Result<()> {
        self.shared.check(Fault::Read)?;
        let d = self.node.data();
        let end = (pos as usize).checked_add(buf.len()).filter(|e| *e <= d.bytes.len());
        let end = end.ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "the file is shorter"))?;
        buf.copy_from_slice(&d.bytes[pos as usize..end]);
        Ok(())
    }

    /// The version stands in for the nanoseconds, so every change is seen.
    fn stamp(&self) -> Option<Stamp> {
        let d = self.node.data();
        Some(Stamp { size: d.bytes.len() as u64, mtime: secs(d.mtime), mtime_nsec: d.version as i64 })
    }

    fn cached_digest(&self) -> Option<String> {
        let d = self.node.data();
        d.digest.as_ref().filter(|(v, _)| *v == d.version).map(|(_, sha)| sha.clone())
    }

    fn remember_digest(&self, sha256: &str) {
        let mut d = self.node.data();
        d.digest = Some((d.version, sha256.to_owned()));
    }

    fn fd(&self) -> Option<BorrowedFd<'_>> {
        None
    }
}

impl WriteFile for MemFile {
    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.shared.check(Fault::Write)?;
        self.node.write_at(self.pos, bytes, self.shared.now()).map_err(|c| {
            debug_assert_eq!(c, ENOSPC);
            io::Error::from_raw_os_error(c)
        })?;
        self.pos += bytes.len() as u64;
        Ok(())
    }

    fn sync(&self) -> io::Result<()> {
        self.shared.check(Fault::Commit)
    }

    fn remember_digest(&self, sha256: &str) {
        ReadFile::remember_digest(self, sha256)
    }
}

/// A listing: the entries as they were at `list`, handed out in batches.
struct MemListing {
    entries: VecDeque<DirEntry>,
    count: u64,
}

impl DirListing for MemListing {
    fn next_batch(&mut self, max: usize) -> io::Result<Vec<DirEntry>> {
        let n = max.min(self.entries.len());
        self.count += n as u64;
        Ok(self.entries.drain(..n).collect())
    }

    fn done(&self) -> bool {
        self.entries.is_empty()
    }

    fn count(&self) -> u64 {
        self.count
    }
}

/// The usage walk: one unit of work per folder opened and per entry counted.
struct MemUsage {
    shared: Arc<Shared>,
    user: String,
    /// Folders still to open.
    pending: Vec<Vec<String>>,
    /// Entries of the folder being read: a file's size, or a subfolder's path.
    current: VecDeque<Result<u64, Vec<String>>>,
    total: u64,
}

impl UsageWalk for MemUsage {
    fn step(&mut self, budget: usize) -> io::Result<Option<u64>> {
        for _ in 0..budget {
            if let Some(next) = self.current.pop_front() {
                match next {
                    Ok(size) => self.total += size,
                    Err(path) => self.pending.push(path),
                }
                continue;
            }
            let Some(path) = self.pending.pop() else { break };
            self.shared.check(Fault::Scan)?;
            let current = &mut self.current;
            self.shared.home(&self.user, |home, _, _| {
                // A folder removed meanwhile has nothing left to count.
                let Ok(dir) = home.dir(&path) else { return };
                // Checkpoints are not counted (see `crate::home::usage`).
                let partials = path == [".mioftp", "partial"];
                let counted = dir.entries.iter().filter(|(n, _)| !(partials && is_checkpoint(n.as_bytes())));
                current.extend(counted.map(|(name, node)| match node {
                    Node::File(f) => Ok(f.len()),
                    Node::Dir(_) => Err([path.clone(), vec![name.clone()]].concat()),
                }));
            });
        }
        Ok((self.current.is_empty() && self.pending.is_empty()).then_some(self.total))
    }
}
