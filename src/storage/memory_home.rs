//! One user's home in the memory storage: the [`HomeStore`] operations on
//! its tree (see [`super::memory`] for what it promises and
//! [`super::memory_tree`] for the tree).

use super::memory::{Fault, Shared};
use super::memory_files::{MemFile, MemListing, MemUsage};
use super::memory_tree::{DirNode, EEXIST, EISDIR, ENOENT, ENOTDIR, FileNode, Node};
use super::{DirListing, FileId, Freed, HomeStore, Meta, Opened, UsageWalk, WriteFile};
use crate::home::{FsError, RESERVED_PREFIX, VPath, from_io};
use crate::protocol::messages::{DirEntry, EntryKind};
use std::collections::VecDeque;
use std::io;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// One user's home in memory.
pub(super) struct MemHome {
    shared: Arc<Shared>,
    user: String,
}

fn fs_err(code: i32, p: &VPath) -> FsError {
    from_io(io::Error::from_raw_os_error(code), p)
}

pub(super) fn secs(t: SystemTime) -> i64 {
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
    pub(super) fn new(shared: Arc<Shared>, user: &str) -> MemHome {
        MemHome { shared, user: user.to_owned() }
    }

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

    fn file_id(&self, p: &VPath) -> Option<FileId> {
        self.home(|home, _, _| match home.get(p.names()) {
            Ok(Node::File(f)) if !p.is_root() => Some(FileId { dev: 0, ino: f.ino }),
            _ => None,
        })
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
        self.shared.stall_point(Fault::Remove);
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
        self.shared.stall_point(Fault::Remove);
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

    fn rename(&self, from: &VPath, to: &VPath) -> Result<u64, FsError> {
        self.shared.check(Fault::Remove).map_err(FsError::Io)?;
        let (Some((flast, finit)), Some((tlast, tinit))) = (from.names().split_last(), to.names().split_last()) else {
            return Err(FsError::Invalid("your home folder cannot be renamed, or replaced".to_owned()));
        };
        if to.is_within(from) {
            return Err(FsError::Invalid(format!("{from} cannot be moved inside itself ({to})")));
        }
        self.home(|home, _, _| {
            let moving_dir = matches!(home.get(from.names()).map_err(|c| fs_err(c, from))?, Node::Dir(_));
            let replaced = match home.get(to.names()) {
                Ok(Node::Dir(_)) => return Err(FsError::Exists(format!("{to} is a directory; it is never replaced"))),
                Ok(Node::File(_)) if moving_dir => {
                    return Err(FsError::Exists(format!("{to} exists; a directory cannot replace it")));
                }
                Ok(Node::File(f)) => f.len(),
                Err(ENOENT) => 0,
                Err(c) => return Err(fs_err(c, to)),
            };
            home.dir_mut(tinit).map_err(|c| fs_err(c, to))?;
            if from == to {
                return Ok(0);
            }
            let node = home.dir_mut(finit).map_err(|c| fs_err(c, from))?.entries.remove(flast);
            let node = node.ok_or_else(|| fs_err(ENOENT, from))?;
            home.dir_mut(tinit).map_err(|c| fs_err(c, to))?.entries.insert(tlast.clone(), node);
            Ok(replaced)
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
        Ok(Opened { file: Box::new(MemFile::new(node, 0, self.shared.clone())), meta: m, etag })
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
        Ok(Box::new(MemListing::new(entries)))
    }

    fn usage_walk(&self) -> io::Result<Box<dyn UsageWalk>> {
        Ok(Box::new(MemUsage::new(self.shared.clone(), &self.user)))
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
        Ok(Box::new(MemFile::new(node, keep, self.shared.clone())))
    }

    fn commit_partial(&self, id: &str, target: &VPath) -> io::Result<()> {
        self.shared.stall_point(Fault::Commit);
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
