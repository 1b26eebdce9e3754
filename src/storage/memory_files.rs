//! The handles of the memory storage: an open file (a download's source or
//! a partial's data), a listing, and the usage walk.

use super::memory::{Fault, Shared};
use super::memory_home::secs;
use super::memory_tree::{ENOSPC, FileNode, Node};
use super::{DirListing, ReadFile, Stamp, UsageWalk, WriteFile};
use crate::home::is_checkpoint;
use crate::protocol::messages::DirEntry;
use std::collections::VecDeque;
use std::io;
use std::os::fd::BorrowedFd;
use std::sync::Arc;

/// An open file: a download's source, or a partial's data (appending at `pos`).
pub(super) struct MemFile {
    node: Arc<FileNode>,
    pos: u64,
    shared: Arc<Shared>,
}

impl MemFile {
    pub(super) fn new(node: Arc<FileNode>, pos: u64, shared: Arc<Shared>) -> MemFile {
        MemFile { node, pos, shared }
    }
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
pub(super) struct MemListing {
    entries: VecDeque<DirEntry>,
    count: u64,
}

impl MemListing {
    pub(super) fn new(entries: VecDeque<DirEntry>) -> MemListing {
        MemListing { entries, count: 0 }
    }
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
pub(super) struct MemUsage {
    shared: Arc<Shared>,
    user: String,
    /// Folders still to open.
    pending: Vec<Vec<String>>,
    /// Entries of the folder being read: a file's size, or a subfolder's path.
    current: VecDeque<Result<u64, Vec<String>>>,
    total: u64,
}

impl MemUsage {
    pub(super) fn new(shared: Arc<Shared>, user: &str) -> MemUsage {
        let (user, pending) = (user.to_owned(), vec![Vec::new()]);
        MemUsage { shared, user, pending, current: VecDeque::new(), total: 0 }
    }
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
            self.shared.stall_point(Fault::Scan);
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
