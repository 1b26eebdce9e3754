//! A depth-first walk of a directory tree that no depth can break: every
//! step names one entry relative to an open directory handle (`openat`,
//! `fstatat`, `unlinkat` with a single plain name and `O_NOFOLLOW`), so the
//! server never builds a path, and no `PATH_MAX` applies however deep the
//! tree is. The usage scan ([`super::usage`]) and the recursive `rm`
//! ([`super::tree`]) are both this walk with a different [`Visit`].
//!
//! # Bounded descriptors
//! The walk keeps a stack of frames, one per directory on the current path.
//! A directory is read to its end before the walk goes down into any of its
//! subdirectories (their names wait in the frame), so only the deepest frame
//! ever has a read in progress. Handles are kept open only for the deepest
//! [`WINDOW`] frames plus the starting one; the handles of older ancestors
//! are closed. Going back up into an ancestor whose handle was closed
//! re-opens it through `..` of the child we are leaving (one `openat`, so a
//! walk costs O(depth), not O(depth²) as re-walking from the top every time
//! would), and checks that what `..` gives is the very directory seen on the
//! way down (same device and inode). If it is not (the tree was moved
//! meanwhile), the walk re-opens the path from its start by name, checking
//! every level the same way, and fails if the tree no longer matches. At
//! most [`MAX_OPEN`] descriptors are open at any moment, counting the one a
//! caller hands in for the start's parent.
//!
//! Why `..` is as safe as the handles it replaces: a held handle and one
//! re-obtained through `..` and checked by (device, inode) name the same
//! directory; a walk that held every handle would see exactly what this one
//! sees. Links are never followed (`O_NOFOLLOW`, `AT_SYMLINK_NOFOLLOW`), and
//! names from `readdir` never contain `/`, so no step can leave the tree.
//!
//! Memory: one frame per level on the current path, plus the names of the
//! subdirectories not yet visited (bounded by what is on disk, like the
//! walk itself).

use rustix::fs::{self, AtFlags, Dir, FileType, Mode, OFlags, Stat};
use rustix::io::Errno;
use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

/// Most directory descriptors a walk holds at once, everything counted.
pub const MAX_OPEN: usize = 64;
/// Frames whose handles stay open (the starting frame included). The rest of
/// [`MAX_OPEN`] covers the parent handed in by a caller, the child being
/// opened and the `..` being re-opened before the window is trimmed.
const WINDOW: usize = MAX_OPEN - 4;

/// What a walk does with what it finds.
pub(crate) trait Visit {
    /// A non-directory entry of a directory being read, as `lstat` saw it;
    /// `dir_id` is that directory's (device, inode).
    fn entry(&mut self, dir: BorrowedFd<'_>, dir_id: (u64, u64), name: &CStr, st: &Stat) -> io::Result<()>;

    /// A directory whose whole subtree has been walked; `parent` is the
    /// handle of the directory holding it.
    fn leave(&mut self, parent: BorrowedFd<'_>, name: &CStr) -> io::Result<()>;
}

/// A subdirectory seen while reading its parent, not yet visited.
struct Child {
    name: CString,
    dev: u64,
    ino: u64,
}

/// One directory on the current path.
struct Frame {
    name: CString,
    dev: u64,
    ino: u64,
    /// Open only for the starting frame and the deepest [`WINDOW`] - 1.
    dir: Option<Dir>,
    /// Whether every entry has been read.
    read: bool,
    subdirs: Vec<Child>,
}

/// A walk in progress; see the module doc.
pub(crate) struct Walk {
    frames: Vec<Frame>,
    /// The start's parent, for the last [`Visit::leave`] (recursive `rm`).
    parent: Option<OwnedFd>,
    /// A directory swapped for another one between being seen and being
    /// opened is skipped (usage: it is counted where it lives) when strict,
    /// and walked as it is now when not (`rm`: everything under the name goes).
    strict: bool,
    open: usize,
    peak: usize,
    /// No frame below this index (other than the start) holds a handle, so
    /// trimming need not look at them: O(1) per step, not O(depth).
    first_open: usize,
    finished: bool,
}

/// Opens a directory named `name` inside `dir`, never following a link.
pub(crate) fn open_dir_nofollow(dir: BorrowedFd<'_>, name: &CStr) -> io::Result<OwnedFd> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    Ok(fs::openat(dir, name, flags, Mode::empty())?)
}

/// (device, inode) of an open descriptor.
pub(crate) fn identity(fd: BorrowedFd<'_>) -> io::Result<(u64, u64)> {
    let st = fs::fstat(fd)?;
    Ok((st.st_dev, st.st_ino))
}

/// Whether an `openat(O_NOFOLLOW|O_DIRECTORY)` error means "not a directory
/// (any more)": replaced by a file or a link.
fn not_a_dir(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(c) if c == Errno::NOTDIR.raw_os_error() || c == Errno::LOOP.raw_os_error())
}

fn is_gone(e: &io::Error) -> bool {
    e.raw_os_error() == Some(Errno::NOENT.raw_os_error())
}

fn changed() -> io::Error {
    io::Error::other("the folder tree was moved while it was being walked")
}

impl Walk {
    /// A walk of the directory `start` (an open handle), called `name` in
    /// `parent` when there is one.
    pub(crate) fn new(start: OwnedFd, name: CString, parent: Option<OwnedFd>, strict: bool) -> io::Result<Walk> {
        let (dev, ino) = identity(start.as_fd())?;
        let dir = Dir::new(start)?;
        let frame = Frame { name, dev, ino, dir: Some(dir), read: false, subdirs: Vec::new() };
        let held = 1 + usize::from(parent.is_some());
        Ok(Walk { frames: vec![frame], parent, strict, open: held, peak: held, first_open: 1, finished: false })
    }

    /// Most descriptors held at once so far.
    pub(crate) fn peak_open(&self) -> usize {
        self.peak
    }

    fn opened(&mut self) {
        self.open += 1;
        self.peak = self.peak.max(self.open);
    }

    /// Closes the shallowest open handles (never the start's) until at most
    /// [`WINDOW`] frames hold one.
    fn trim(&mut self) {
        let held_by_frames = self.open - usize::from(self.parent.is_some());
        let mut excess = held_by_frames.saturating_sub(WINDOW);
        let mut i = self.first_open.max(1);
        while excess > 0 && i < self.frames.len() {
            if self.frames[i].dir.take().is_some() {
                self.open -= 1;
                excess -= 1;
            }
            i += 1;
        }
        // Every frame in 1..i is closed now.
        self.first_open = i;
    }

    /// Does up to `budget` units of work (an entry read, a directory opened
    /// or left); returns whether the walk is complete.
    pub(crate) fn step(&mut self, v: &mut dyn Visit, budget: usize) -> io::Result<bool> {
        let mut work = 0;
        while !self.finished && work < budget {
            work += 1;
            let Some(top) = self.frames.last_mut() else {
                self.finished = true;
                break;
            };
            if !top.read {
                self.read_one(v)?;
            } else if let Some(child) = top.subdirs.pop() {
                self.descend(v, child)?;
            } else {
                self.ascend(v)?;
            }
        }
        Ok(self.finished)
    }

    /// Reads the next entry of the deepest directory.
    fn read_one(&mut self, v: &mut dyn Visit) -> io::Result<()> {
        let top = self.frames.last_mut().expect("a frame");
        let dir = top.dir.as_mut().expect("the deepest frame is open");
        let ent = match dir.read() {
            None => {
                top.read = true;
                return Ok(());
            }
            Some(r) => r?,
        };
        let name = ent.file_name();
        if name == c"." || name == c".." {
            return Ok(());
        }
        let fd = dir.fd()?;
        let dir_id = (top.dev, top.ino);
        let st = match fs::statat(fd, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => st,
            // Removed since readdir saw it.
            Err(Errno::NOENT) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        if FileType::from_raw_mode(st.st_mode) == FileType::Directory {
            top.subdirs.push(Child { name: name.to_owned(), dev: st.st_dev, ino: st.st_ino });
            Ok(())
        } else {
            v.entry(fd, dir_id, name, &st)
        }
    }

    /// Goes down into `child` of the deepest frame.
    fn descend(&mut self, v: &mut dyn Visit, child: Child) -> io::Result<()> {
        let top = self.frames.last().expect("a frame");
        let parent = top.dir.as_ref().expect("the deepest frame is open").fd()?;
        let fd = match open_dir_nofollow(parent, &child.name) {
            Ok(fd) => fd,
            Err(e) if is_gone(&e) => return Ok(()),
            Err(e) if not_a_dir(&e) => {
                // Replaced by a file or a link since it was seen: it is that now.
                return match fs::statat(parent, child.name.as_c_str(), AtFlags::SYMLINK_NOFOLLOW) {
                    Ok(st) if FileType::from_raw_mode(st.st_mode) != FileType::Directory => {
                        v.entry(parent, (top.dev, top.ino), &child.name, &st)
                    }
                    Ok(_) | Err(Errno::NOENT) => Ok(()),
                    Err(e) => Err(e.into()),
                };
            }
            Err(e) => return Err(e),
        };
        self.opened();
        let (dev, ino) = identity(fd.as_fd())?;
        if self.strict && (dev, ino) != (child.dev, child.ino) {
            // Swapped for another directory since it was seen (say, for one
            // moved here from elsewhere): that one is walked where it was.
            drop(fd);
            self.open -= 1;
            return Ok(());
        }
        let dir = Dir::new(fd)?;
        self.frames.push(Frame { name: child.name, dev, ino, dir: Some(dir), read: false, subdirs: Vec::new() });
        self.trim();
        Ok(())
    }

    /// Leaves the deepest directory, its subtree done.
    fn ascend(&mut self, v: &mut dyn Visit) -> io::Result<()> {
        let done = self.frames.pop().expect("a frame");
        if self.frames.is_empty() {
            self.finished = true;
            if let Some(parent) = &self.parent {
                v.leave(parent.as_fd(), &done.name)?;
            }
            return Ok(());
        }
        let depth = self.frames.len() - 1;
        self.first_open = self.first_open.min(depth);
        if self.frames[depth].dir.is_none() {
            let child = done.dir.as_ref().expect("the deepest frame is open").fd()?;
            self.reopen_through_dotdot(depth, child)?;
        }
        let parent = self.frames[depth].dir.as_ref().expect("re-opened").fd()?;
        let result = v.leave(parent, &done.name);
        if done.dir.is_some() {
            self.open -= 1;
        }
        drop(done);
        result
    }

    /// Re-opens frame `depth` as `..` of its child `child`, checked by
    /// identity; falls back to the path from the start, by name.
    fn reopen_through_dotdot(&mut self, depth: usize, child: BorrowedFd<'_>) -> io::Result<()> {
        let fd = open_dir_nofollow(child, c"..")?;
        self.opened();
        let want = (self.frames[depth].dev, self.frames[depth].ino);
        if identity(fd.as_fd())? == want {
            self.frames[depth].dir = Some(Dir::new(fd)?);
            return Ok(());
        }
        drop(fd);
        self.open -= 1;
        self.reopen_from_start(depth)
    }

    /// Re-opens frames 1..=`depth` from the start by name, each checked by
    /// identity, keeping within the window as it goes.
    fn reopen_from_start(&mut self, depth: usize) -> io::Result<()> {
        self.first_open = 1;
        for i in 1..=depth {
            if self.frames[i].dir.is_some() {
                continue;
            }
            let above = self.frames[i - 1].dir.as_ref().ok_or_else(changed)?.fd()?;
            let fd = match open_dir_nofollow(above, &self.frames[i].name) {
                Ok(fd) => fd,
                Err(e) if is_gone(&e) || not_a_dir(&e) => return Err(changed()),
                Err(e) => return Err(e),
            };
            self.opened();
            if identity(fd.as_fd())? != (self.frames[i].dev, self.frames[i].ino) {
                return Err(changed());
            }
            self.frames[i].dir = Some(Dir::new(fd)?);
            // Close the shallowest handles above `i` (not `i` itself, the
            // next step's base) while too many are open.
            let held = self.open - usize::from(self.parent.is_some());
            let mut excess = held.saturating_sub(WINDOW);
            for f in self.frames[1..i].iter_mut() {
                if excess == 0 {
                    break;
                }
                if f.dir.take().is_some() {
                    self.open -= 1;
                    excess -= 1;
                }
            }
        }
        Ok(())
    }
}
