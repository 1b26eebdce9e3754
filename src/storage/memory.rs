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
//! - [`MemoryStorage::stall`] / [`MemoryStorage::release`]: a slow disk. The
//!   operations the worker pool runs (a commit, `rm`, the usage walk, an
//!   account write) block until released, so tests can hold a job in flight
//!   and watch the loop carry on; [`MemoryStorage::stalled`] says how many
//!   wait.
//!
//! Time: files get their mtime from this storage's clock, the real clock
//! plus an offset that [`MemoryStorage::advance_clock`] moves, so the sweep
//! of stale partials can be tested without waiting.

use super::memory_home::MemHome;
use super::memory_tree::{DirNode, EEXIST, EIO, FileNode, Node, Space};
use super::{HomeStore, Storage};
use crate::accounts::{Account, CreateError, NewCredentials};
use crate::home::is_checkpoint;
use std::collections::BTreeMap;
use std::io;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

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

/// What every handle of a memory storage shares.
pub(super) struct Shared {
    state: Mutex<State>,
    pub(super) space: Arc<Space>,
    faults: AtomicU32,
    clock: Mutex<Duration>,
    stalls: Mutex<Stalls>,
    released: Condvar,
}

/// Which operations block, and how many wait now and at most.
#[derive(Default)]
struct Stalls {
    mask: u32,
    waiting: usize,
    most: usize,
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

    pub(super) fn now(&self) -> SystemTime {
        SystemTime::now() + *self.clock.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Blocks while `f` is stalled (see [`MemoryStorage::stall`]). Called
    /// only by the operations worker jobs run, never on the loop's path.
    pub(super) fn stall_point(&self, f: Fault) {
        let mut st = self.stalls.lock().unwrap_or_else(PoisonError::into_inner);
        if st.mask & (1 << f as u32) == 0 {
            return;
        }
        st.waiting += 1;
        st.most = st.most.max(st.waiting);
        self.released.notify_all();
        while st.mask & (1 << f as u32) != 0 {
            st = self.released.wait(st).unwrap_or_else(PoisonError::into_inner);
        }
        st.waiting -= 1;
        self.released.notify_all();
    }

    /// `EIO` if `f` is made to fail.
    pub(super) fn check(&self, f: Fault) -> io::Result<()> {
        if self.faults.load(Ordering::SeqCst) & (1 << f as u32) != 0 {
            Err(io::Error::from_raw_os_error(EIO))
        } else {
            Ok(())
        }
    }

    /// Runs `f` on `user`'s home folder (created if missing), with an
    /// inode allocator and the time.
    pub(super) fn home<T>(
        &self,
        user: &str,
        f: impl FnOnce(&mut DirNode, &mut dyn FnMut() -> u64, SystemTime) -> T,
    ) -> T {
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
            stalls: Mutex::default(),
            released: Condvar::new(),
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

    /// Makes `op` block where a worker job does it (a commit's rename, `rm`,
    /// a step of the usage walk, creating an account) until
    /// [`MemoryStorage::release`]: a disk that is slow on demand.
    pub fn stall(&self, op: Fault) {
        self.shared.stalls.lock().unwrap_or_else(PoisonError::into_inner).mask |= 1 << op as u32;
    }

    /// Lets the operations stalled on `op` go on.
    pub fn release(&self, op: Fault) {
        self.shared.stalls.lock().unwrap_or_else(PoisonError::into_inner).mask &= !(1 << op as u32);
        self.shared.released.notify_all();
    }

    /// Waits until `n` operations are blocked by stalls (at most 20 s, so a
    /// test that expects more fails instead of hanging). Returns whether they are.
    pub fn wait_stalled(&self, n: usize) -> bool {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        let mut st = self.shared.stalls.lock().unwrap_or_else(PoisonError::into_inner);
        while st.waiting < n {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return false;
            }
            st = self.shared.released.wait_timeout(st, left).unwrap_or_else(PoisonError::into_inner).0;
        }
        true
    }

    /// Operations blocked by stalls now, and the most there have been at once.
    pub fn stalled(&self) -> (usize, usize) {
        let st = self.shared.stalls.lock().unwrap_or_else(PoisonError::into_inner);
        (st.waiting, st.most)
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

    /// What a usage scan of a home would find: the sizes of all files,
    /// partial uploads' data included, their checkpoints not.
    pub fn usage(&self, user: &str) -> u64 {
        self.shared.home(user, |home, _, _| {
            let checkpoints = match home.dir(&[".mioftp", "partial"]) {
                Ok(partials) => partials.entries.iter().filter(|(n, _)| is_checkpoint(n.as_bytes())),
                Err(_) => return home.entries.values().map(|n| n.tally().1).sum(),
            };
            let skipped: u64 = checkpoints.map(|(_, n)| n.tally().1).sum();
            home.entries.values().map(|n| n.tally().1).sum::<u64>() - skipped
        })
    }

    /// The bytes of partial uploads' data in a home (checkpoints not
    /// counted): what may hold a user above the quota once an upload that
    /// replaced a file stopped part-way (its credit is gone, its partial kept).
    pub fn partial_usage(&self, user: &str) -> u64 {
        self.shared.home(user, |home, _, _| match home.dir(&[".mioftp", "partial"]) {
            Ok(partials) => {
                partials.entries.iter().filter(|(n, _)| !is_checkpoint(n.as_bytes())).map(|(_, n)| n.tally().1).sum()
            }
            Err(_) => 0,
        })
    }

    /// The ids of a home's partial uploads, one per data file
    /// (`.mioftp/partial/<id>.part`), for checks that pair each partial with
    /// its checkpoint and target ([`HomeStore::partial_len`],
    /// [`HomeStore::read_checkpoint`]).
    pub fn partial_ids(&self, user: &str) -> Vec<String> {
        self.shared.home(user, |home, _, _| match home.dir(&[".mioftp", "partial"]) {
            Ok(dir) => dir.entries.keys().filter_map(|n| n.strip_suffix(".part")).map(String::from).collect(),
            Err(_) => Vec::new(),
        })
    }

    /// Removes everything in a home (a test or fuzz run's clean-up).
    pub fn clear_home(&self, user: &str) {
        self.shared.home(user, |home, _, _| home.entries.clear());
    }

    /// Removes a home and all it holds.
    pub fn remove_home(&self, user: &str) {
        self.shared.lock().homes.remove(user);
    }

    /// The users with an account record.
    pub fn accounts(&self) -> Vec<String> {
        self.shared.lock().accounts.keys().cloned().collect()
    }

    /// Sets an account's own quota, as an administrator would edit its
    /// record; false if there is no such account.
    pub fn set_quota(&self, user: &str, quota: Option<u64>) -> bool {
        self.shared.lock().accounts.get_mut(user).map(|a| a.quota = quota).is_some()
    }

    /// Disables or enables an account, as `mioftpd accounts disable` edits
    /// its record; false if there is no such account.
    pub fn set_disabled(&self, user: &str, disabled: bool) -> bool {
        self.shared.lock().accounts.get_mut(user).map(|a| a.disabled = disabled).is_some()
    }

    /// Removes an account record.
    pub fn remove_account(&self, user: &str) {
        self.shared.lock().accounts.remove(user);
    }
}

impl Storage for MemoryStorage {
    fn open_home(&self, user: &str) -> io::Result<Arc<dyn HomeStore>> {
        if user.is_empty() || user == "." || user == ".." || user.contains(['/', '\0']) {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "a user name must be one plain path component"));
        }
        self.shared.home(user, |_, _, _| ());
        Ok(Arc::new(MemHome::new(self.shared.clone(), user)))
    }

    fn load_account(&self, user: &str) -> io::Result<Option<Account>> {
        self.shared.check(Fault::Account)?;
        Ok(self.shared.lock().accounts.get(user).cloned())
    }

    fn create_account(&self, account: &Account) -> Result<(), CreateError> {
        self.shared.stall_point(Fault::Account);
        self.shared.check(Fault::Account)?;
        let mut state = self.shared.lock();
        if state.accounts.contains_key(&account.user) {
            return Err(CreateError::Exists);
        }
        state.accounts.insert(account.user.clone(), account.clone());
        Ok(())
    }

    fn record_login(&self, user: &str, at: &str) -> io::Result<bool> {
        self.shared.check(Fault::Account)?;
        Ok(self.shared.lock().accounts.get_mut(user).map(|a| a.last_login = Some(at.to_owned())).is_some())
    }

    fn replace_credentials(&self, user: &str, new: NewCredentials<'_>) -> io::Result<bool> {
        self.shared.check(Fault::Account)?;
        let mut state = self.shared.lock();
        let Some(a) = state.accounts.get_mut(user) else { return Ok(false) };
        a.salt = new.salt.to_owned();
        a.iterations = new.iterations;
        a.stored_key = new.stored_key.to_owned();
        a.server_key = new.server_key.to_owned();
        Ok(true)
    }
}
