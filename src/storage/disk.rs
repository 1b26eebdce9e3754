//! The production storage: homes are real folders under `<root>/home/`,
//! reached only through cap-std handles (see `crate::home` for why and how:
//! `openat2` with `RESOLVE_BENEATH` on Linux), and accounts are the JSON
//! records of `crate::accounts`.
//!
//! This file is glue: [`crate::home::Home`] already is a confined home, and
//! here it becomes a [`HomeStore`]; the walks (usage, recursive `rm`, the
//! partial sweep) go one name at a time relative to directory handles (see
//! `crate::home::walk`). Open files are plain `std::fs::File`s, so a
//! download can hand the kernel its descriptor for sendfile(2), and the
//! digest cache lives in an extended attribute (`crate::digest_cache`).

use super::{DirListing, FileId, Freed, HomeStore, Opened, ReadFile, Stamp, Storage, UsageWalk, WriteFile};
use crate::accounts::{Account, AccountStore, CreateError, NewCredentials};
use crate::config::Config;
use crate::digest_cache;
use crate::home::walk::open_dir_nofollow;
use crate::home::{FsError, Home, Meta, VPath};
use crate::partial::PARTIAL_DIR;
use crate::protocol::messages::EntryKind;
use cap_std::fs::OpenOptions;
use rustix::fs::{AtFlags, FileType};
use rustix::io::Errno;
use std::ffi::CString;
use std::fs::File;
use std::io::{self, Seek, SeekFrom, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Homes and accounts on the local filesystem.
pub struct DiskStorage {
    homes: PathBuf,
    accounts: AccountStore,
}

impl DiskStorage {
    /// Opens (creating what is missing) the homes and accounts folders of
    /// `config.root`, and removes account records left half-written by a crash.
    pub fn open(config: &Config) -> io::Result<DiskStorage> {
        std::fs::create_dir_all(config.home_dir())?;
        let accounts = AccountStore::open(&config.accounts_dir())?;
        Ok(DiskStorage { homes: config.home_dir(), accounts })
    }
}

impl Storage for DiskStorage {
    fn open_home(&self, user: &str) -> io::Result<Arc<dyn HomeStore>> {
        Ok(Arc::new(Home::open(&self.homes, user)?))
    }

    fn load_account(&self, user: &str) -> io::Result<Option<Account>> {
        self.accounts.load(user)
    }

    fn create_account(&self, account: &Account) -> Result<(), CreateError> {
        self.accounts.create(account)
    }

    fn record_login(&self, user: &str, at: &str) -> io::Result<bool> {
        self.accounts.record_login(user, at)
    }

    fn replace_credentials(&self, user: &str, new: NewCredentials<'_>) -> io::Result<bool> {
        self.accounts.replace_credentials(user, new)
    }
}

fn data_name(id: &str) -> String {
    format!("{PARTIAL_DIR}/{id}.part")
}

fn meta_name(id: &str) -> String {
    format!("{PARTIAL_DIR}/{id}.json")
}

fn is_full(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded)
}

fn ignore_missing(r: io::Result<()>) -> io::Result<()> {
    match r {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

impl HomeStore for Home {
    fn stat(&self, p: &VPath) -> Result<Meta, FsError> {
        Home::stat(self, p)
    }

    fn lstat(&self, p: &VPath) -> Result<Meta, FsError> {
        Home::lstat(self, p)
    }

    fn file_id(&self, p: &VPath) -> Option<FileId> {
        Home::file_id(self, p)
    }

    /// One `lstat` for the kind, size and identity (the default's two could
    /// see two different files).
    fn upload_target(&self, p: &VPath) -> Result<Option<(FileId, u64)>, FsError> {
        Home::upload_target(self, p)
    }

    fn mkdir(&self, p: &VPath, parents: bool) -> Result<bool, FsError> {
        Home::mkdir(self, p, parents)
    }

    fn remove(&self, p: &VPath) -> Result<(EntryKind, u64), FsError> {
        Home::remove(self, p)
    }

    fn remove_tree(&self, p: &VPath) -> (Freed, Result<EntryKind, FsError>) {
        Home::remove_tree(self, p)
    }

    fn open_read(&self, p: &VPath) -> Result<Opened, FsError> {
        let (file, meta, etag) = Home::open_read(self, p)?;
        Ok(Opened { file: Box::new(DiskFile(file)), meta, etag })
    }

    fn list(&self, p: &VPath) -> Result<Box<dyn DirListing>, FsError> {
        Ok(Box::new(Home::list(self, p)?))
    }

    fn usage_walk(&self) -> io::Result<Box<dyn UsageWalk>> {
        Ok(Box::new(self.usage_scan()?))
    }

    fn partial_len(&self, id: &str) -> io::Result<Option<u64>> {
        match self.dir().symlink_metadata(data_name(id)) {
            Ok(m) => Ok(Some(m.len())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn read_checkpoint(&self, id: &str) -> io::Result<Option<Vec<u8>>> {
        match self.dir().read(meta_name(id)) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn write_checkpoint(&self, id: &str, bytes: &[u8]) -> io::Result<()> {
        let tmp = format!("{PARTIAL_DIR}/{id}.json.tmp");
        self.dir().create_dir_all(PARTIAL_DIR)?;
        let written = self.dir().write(&tmp, bytes).and_then(|()| self.dir().rename(&tmp, self.dir(), meta_name(id)));
        match written {
            Err(e) if is_full(&e) => {
                let _ = self.dir().remove_file(&tmp);
                // The disk is full: overwrite the checkpoint in place. Its
                // blocks are already there, and every checkpoint of an upload
                // has the same length (`crate::partial` pads them), so this
                // needs no new space. Not atomic: a torn one is refused at
                // resume, which then starts over.
                let mut opts = OpenOptions::new();
                opts.write(true);
                let file = self.dir().open_with(meta_name(id), &opts).map_err(|_| e)?.into_std();
                if file.metadata()?.len() != bytes.len() as u64 {
                    return Err(io::Error::from(io::ErrorKind::StorageFull));
                }
                file.write_all_at(bytes, 0)
            }
            other => other,
        }
    }

    fn remove_checkpoint(&self, id: &str) -> io::Result<()> {
        ignore_missing(self.dir().remove_file(meta_name(id)))
    }

    fn open_partial(&self, id: &str, keep: u64) -> io::Result<Box<dyn WriteFile>> {
        self.dir().create_dir_all(PARTIAL_DIR)?;
        let mut opts = OpenOptions::new();
        opts.read(true).write(true).create(true);
        let mut file = self.dir().open_with(data_name(id), &opts)?.into_std();
        // Bytes after `keep` are dropped: their hash state was never recorded.
        file.set_len(keep)?;
        file.seek(SeekFrom::Start(keep))?;
        Ok(Box::new(DiskWrite { file, pos: keep }))
    }

    fn commit_partial(&self, id: &str, target: &VPath) -> io::Result<()> {
        self.dir().rename(data_name(id), self.dir(), target.rel())?;
        let _ = self.dir().remove_file(meta_name(id));
        // fsync the target's folder so the rename survives a crash. (cap-std's
        // `open_dir` handles may be O_PATH, which cannot be fsynced, so the
        // folder is opened for reading.)
        let parent = target.parent().unwrap_or_else(VPath::root);
        let mut opts = OpenOptions::new();
        opts.read(true);
        self.dir().open_with(parent.rel(), &opts)?.sync_all()
    }

    fn discard_partial(&self, id: &str) -> io::Result<u64> {
        let size = self.partial_len(id).ok().flatten().unwrap_or(0);
        ignore_missing(self.dir().remove_file(data_name(id)))?;
        let _ = self.dir().remove_file(meta_name(id));
        Ok(size)
    }

    fn sweep_partials(&self, max_age: Duration, active: &[String]) -> io::Result<u64> {
        sweep(self, max_age, active, SystemTime::now())
    }
}

/// The partial sweep, relative to a handle on the partials folder (opened
/// one name at a time, links not followed).
fn sweep(home: &Home, max_age: Duration, active: &[String], now: SystemTime) -> io::Result<u64> {
    let mut fd = None;
    for name in PARTIAL_DIR.split('/') {
        let base = fd.as_ref().map_or_else(|| home.dir().as_fd(), |f: &std::os::fd::OwnedFd| f.as_fd());
        let name = CString::new(name).map_err(io::Error::other)?;
        match open_dir_nofollow(base, &name) {
            Ok(f) => fd = Some(f),
            // No partials yet (or a planted link, which is not ours to read).
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(e),
        }
    }
    let Some(fd) = fd else { return Ok(0) };
    let mut dir = rustix::fs::Dir::read_from(fd.as_fd())?;
    let mut freed = 0u64;
    while let Some(ent) = dir.read() {
        let ent = ent?;
        let name = ent.file_name().to_string_lossy().into_owned();
        let Some(id) = name.strip_suffix(".part") else { continue };
        if active.iter().any(|a| a == id) {
            continue;
        }
        let st = match rustix::fs::statat(fd.as_fd(), ent.file_name(), AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => st,
            Err(Errno::NOENT) => continue,
            Err(e) => return Err(e.into()),
        };
        let modified = UNIX_EPOCH + Duration::new(st.st_mtime.max(0) as u64, st.st_mtime_nsec as u32);
        if now.duration_since(modified).unwrap_or_default() < max_age {
            continue;
        }
        log::info!("removing stale partial upload {name} ({} bytes)", st.st_size);
        match rustix::fs::unlinkat(fd.as_fd(), ent.file_name(), AtFlags::empty()) {
            Ok(()) | Err(Errno::NOENT) => {}
            Err(e) => return Err(e.into()),
        }
        if FileType::from_raw_mode(st.st_mode) == FileType::RegularFile {
            freed += st.st_size as u64;
        }
        let checkpoint = CString::new(format!("{id}.json")).map_err(io::Error::other)?;
        let _ = rustix::fs::unlinkat(fd.as_fd(), &checkpoint, AtFlags::empty());
    }
    Ok(freed)
}

/// A file open for a download.
struct DiskFile(File);

impl ReadFile for DiskFile {
    fn read_exact_at(&self, buf: &mut [u8], pos: u64) -> io::Result<()> {
        self.0.read_exact_at(buf, pos)
    }

    fn stamp(&self) -> Option<Stamp> {
        digest_cache::stamp(&self.0)
    }

    fn cached_digest(&self) -> Option<String> {
        digest_cache::load(&self.0)
    }

    fn remember_digest(&self, sha256: &str) {
        digest_cache::store(&self.0, sha256)
    }

    fn fd(&self) -> Option<BorrowedFd<'_>> {
        Some(self.0.as_fd())
    }
}

/// A partial's data, open for appending at `pos`.
struct DiskWrite {
    file: File,
    pos: u64,
}

impl WriteFile for DiskWrite {
    /// All or nothing: a write that fails part-way (a full disk) is cut
    /// back, so the file holds exactly what was accounted for and the blocks
    /// of the torn tail are free again (for the checkpoint, say).
    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        match self.file.write_all(bytes) {
            Ok(()) => {
                self.pos += bytes.len() as u64;
                Ok(())
            }
            Err(e) => {
                let _ = self.file.set_len(self.pos);
                let _ = self.file.seek(SeekFrom::Start(self.pos));
                Err(e)
            }
        }
    }

    fn sync(&self) -> io::Result<()> {
        self.file.sync_all()
    }

    fn remember_digest(&self, sha256: &str) {
        digest_cache::store(&self.file, sha256)
    }
}

impl DirListing for crate::home::Listing {
    fn next_batch(&mut self, max: usize) -> io::Result<Vec<crate::protocol::messages::DirEntry>> {
        crate::home::Listing::next_batch(self, max)
    }

    fn done(&self) -> bool {
        crate::home::Listing::done(self)
    }

    fn count(&self) -> u64 {
        crate::home::Listing::count(self)
    }
}

impl UsageWalk for crate::home::UsageScan {
    fn step(&mut self, budget: usize) -> io::Result<Option<u64>> {
        crate::home::UsageScan::step(self, budget)
    }
}
