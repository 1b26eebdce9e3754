//! The jobs the worker pool runs, and their outputs: owned, `Send` values
//! on both sides, so a job carries everything it needs to the worker thread
//! and its output carries everything the session needs to finish the
//! request back on the loop.
//!
//! Each job is one call of the storage (or of the KDF); the policy around it
//! (quota, audit records, replies) stays in the session, on the loop.

use super::Work;
use crate::accounts::{Account, CreateError};
use crate::home::{FsError, VPath};
use crate::protocol::messages::EntryKind;
use crate::protocol::scram::{self, ClientKeys, Key};
use crate::storage::{Freed, HomeStore, ReadFile, Storage, WriteFile};
use sha2::{Digest, Sha256};
use std::fmt;
use std::io;
use std::sync::Arc;
use std::time::Duration;
use zeroize::Zeroize;

/// Bytes read per step when hashing a file.
const HASH_CHUNK: usize = 256 * 1024;
/// Entries visited per step of a usage walk (the walk runs to its end).
const SCAN_STEP: usize = 4096;

/// Slow work, handed from a session to the pool.
pub enum Job {
    /// `put_done`: makes a verified upload durable under its final name:
    /// remembers the digest on the data file (an xattr on disk), fsyncs it,
    /// renames it over `target`, drops the checkpoint and fsyncs the folder.
    Commit { home: Arc<dyn HomeStore>, id: String, file: Box<dyn WriteFile>, target: VPath, sha256: String },
    /// `rm` of one entry: a file (unlinking a big one is slow), a link, or
    /// an empty folder.
    Remove { home: Arc<dyn HomeStore>, path: VPath },
    /// `rm` with `recursive`: the whole tree, in one job.
    RemoveTree { home: Arc<dyn HomeStore>, path: VPath },
    /// Deletes partial upload `id` (its data and checkpoint).
    Discard { home: Arc<dyn HomeStore>, id: String },
    /// The usage walk of a whole home, to its end.
    Scan { home: Arc<dyn HomeStore> },
    /// Deletes the partial uploads not modified for `max_age`, except the
    /// ones named in `active` (at a user's first login).
    Sweep { home: Arc<dyn HomeStore>, max_age: Duration, active: Vec<String> },
    /// `register`: the account record, written durably and exclusively
    /// (fsync), then the user's home.
    CreateAccount { storage: Arc<dyn Storage>, account: Account },
    /// SHA-256 of the file's first `len` bytes (a resumed `get`'s prefix;
    /// FTP's HASH with the whole length). The file comes back with the state.
    Hash { file: Box<dyn ReadFile>, len: u64 },
    /// PBKDF2-HMAC-SHA-256 of `password` (FTP's PASS), and the SCRAM keys
    /// from it. The password is zeroised once used (or refused).
    /// `iterations` must be 1 to `scram::MAX_ITERATIONS`.
    DeriveKeys { password: String, salt: Vec<u8>, iterations: u32 },
}

/// Which job, without its data: for logs and for the driver's rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobKind {
    Commit,
    Remove,
    RemoveTree,
    Discard,
    Scan,
    Sweep,
    CreateAccount,
    Hash,
    DeriveKeys,
}

/// What a job gave back.
pub enum JobOutput {
    /// Not run: the queue was full, the peer has too many jobs in flight,
    /// the connection already has one, or the server is stopping. Nothing
    /// was done; the session answers `server_busy` (or tries later).
    Busy,
    /// The job could not run properly (it panicked, or its input was out of
    /// range): what it did is unknown. The session answers `internal`.
    Failed,
    Committed(io::Result<()>),
    /// The entry's kind and the bytes freed (a file's size).
    Removed(Result<(EntryKind, u64), FsError>),
    /// What was removed (even when it stopped at an error), and how it ended.
    RemovedTree {
        freed: Freed,
        result: Result<EntryKind, FsError>,
    },
    /// The partial's data bytes freed.
    Discarded(io::Result<u64>),
    /// The bytes of regular files in the home.
    Scanned(io::Result<u64>),
    /// The bytes of stale partials freed.
    Swept(io::Result<u64>),
    AccountCreated(Result<(), CreateError>),
    /// The hash state after the bytes read (all `len` of them when `result`
    /// is `Ok`), and the file, for the rest of the transfer.
    Hashed {
        file: Box<dyn ReadFile>,
        hasher: Sha256,
        result: io::Result<()>,
    },
    Keys {
        stored_key: Key,
        server_key: Key,
    },
}

impl Job {
    pub fn kind(&self) -> JobKind {
        match self {
            Job::Commit { .. } => JobKind::Commit,
            Job::Remove { .. } => JobKind::Remove,
            Job::RemoveTree { .. } => JobKind::RemoveTree,
            Job::Discard { .. } => JobKind::Discard,
            Job::Scan { .. } => JobKind::Scan,
            Job::Sweep { .. } => JobKind::Sweep,
            Job::CreateAccount { .. } => JobKind::CreateAccount,
            Job::Hash { .. } => JobKind::Hash,
            Job::DeriveKeys { .. } => JobKind::DeriveKeys,
        }
    }

    /// Runs the job on the calling thread (a worker's; tests and the fuzz
    /// targets call it directly, as an instant pool).
    pub fn run(self) -> JobOutput {
        match self {
            Job::Commit { home, id, file, target, sha256 } => {
                JobOutput::Committed(crate::partial::commit(&*home, &id, &*file, &target, &sha256))
            }
            Job::Remove { home, path } => JobOutput::Removed(home.remove(&path)),
            Job::RemoveTree { home, path } => {
                let (freed, result) = home.remove_tree(&path);
                JobOutput::RemovedTree { freed, result }
            }
            Job::Discard { home, id } => JobOutput::Discarded(crate::partial::discard(&*home, &id)),
            Job::Scan { home } => JobOutput::Scanned(scan(&*home)),
            Job::Sweep { home, max_age, active } => {
                JobOutput::Swept(crate::partial::sweep_stale(&*home, max_age, &active))
            }
            Job::CreateAccount { storage, account } => JobOutput::AccountCreated(create_account(&*storage, &account)),
            Job::Hash { file, len } => {
                let mut hasher = Sha256::default();
                let result = hash_prefix(&*file, len, &mut hasher);
                JobOutput::Hashed { file, hasher, result }
            }
            Job::DeriveKeys { mut password, salt, iterations } => {
                if !(1..=scram::MAX_ITERATIONS).contains(&iterations) {
                    password.zeroize();
                    log::error!("a key derivation with {iterations} iterations was refused");
                    return JobOutput::Failed;
                }
                let mut salted = scram::salted_password(password.as_bytes(), &salt, iterations);
                password.zeroize();
                let keys = ClientKeys::from_salted(&salted);
                salted.zeroize();
                let out = JobOutput::Keys { stored_key: keys.stored_key, server_key: keys.server_key };
                let mut client_key = keys.client_key;
                client_key.zeroize();
                out
            }
        }
    }

    /// Scrubs what must not outlive the job (a password), for a job that
    /// will not run.
    pub fn scrub(&mut self) {
        if let Job::DeriveKeys { password, .. } = self {
            password.zeroize();
        }
    }
}

impl Work for Job {
    type Output = JobOutput;

    fn run(self) -> JobOutput {
        Job::run(self)
    }

    fn refuse(mut self) -> JobOutput {
        self.scrub();
        JobOutput::Busy
    }

    fn crashed() -> JobOutput {
        JobOutput::Failed
    }
}

/// Walks the whole home, a bounded step at a time.
fn scan(home: &dyn HomeStore) -> io::Result<u64> {
    let mut walk = home.usage_walk()?;
    loop {
        if let Some(total) = walk.step(SCAN_STEP)? {
            return Ok(total);
        }
    }
}

fn create_account(storage: &dyn Storage, account: &Account) -> Result<(), CreateError> {
    storage.create_account(account)?;
    if let Err(e) = storage.create_home(&account.user) {
        // The account exists; login creates the home if it is still missing.
        log::error!("register {}: creating home: {e}", account.user);
    }
    Ok(())
}

/// Feeds the file's first `len` bytes to `hasher`.
fn hash_prefix(file: &dyn ReadFile, len: u64, hasher: &mut Sha256) -> io::Result<()> {
    let mut buf = vec![0u8; HASH_CHUNK.min(usize::try_from(len).unwrap_or(HASH_CHUNK))];
    let mut pos = 0u64;
    while pos < len {
        let n = (len - pos).min(buf.len() as u64) as usize;
        file.read_exact_at(&mut buf[..n], pos)?;
        hasher.update(&buf[..n]);
        pos += n as u64;
    }
    Ok(())
}

impl fmt::Debug for Job {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // No fields: a job may carry a password.
        write!(f, "Job::{:?}", self.kind())
    }
}

impl fmt::Debug for JobOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JobOutput::Busy => f.write_str("Busy"),
            JobOutput::Failed => f.write_str("Failed"),
            JobOutput::Committed(r) => f.debug_tuple("Committed").field(r).finish(),
            JobOutput::Removed(r) => f.debug_tuple("Removed").field(r).finish(),
            JobOutput::RemovedTree { freed, result } => {
                f.debug_struct("RemovedTree").field("freed", freed).field("result", result).finish()
            }
            JobOutput::Discarded(r) => f.debug_tuple("Discarded").field(r).finish(),
            JobOutput::Scanned(r) => f.debug_tuple("Scanned").field(r).finish(),
            JobOutput::Swept(r) => f.debug_tuple("Swept").field(r).finish(),
            JobOutput::AccountCreated(r) => f.debug_tuple("AccountCreated").field(r).finish(),
            JobOutput::Hashed { result, .. } => f.debug_struct("Hashed").field("result", result).finish(),
            JobOutput::Keys { .. } => f.write_str("Keys(..)"),
        }
    }
}
