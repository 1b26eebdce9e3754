//! `dir`: a directory listing read a batch at a time, so that a directory of
//! a million entries never stalls the event loop or fills memory.
//!
//! A [`Listing`] owns exactly one open directory handle (the cap-std
//! `ReadDir`, opened beneath the home) and looks at each entry with `lstat`
//! relative to that handle, by its bare name: no path is re-resolved while
//! the listing runs, and symbolic links are reported as such, never followed.
//! Names starting with [`super::RESERVED_PREFIX`] are skipped.

use super::error::{FsError, from_io};
use super::vpath::is_reserved;
use super::{Home, Meta, VPath};
use crate::protocol::messages::{DirEntry, EntryKind};
use cap_std::fs::ReadDir;
use std::io;
use std::os::unix::ffi::OsStrExt as _;

/// Most hidden (reserved) or vanished entries one [`Listing::next_batch`] call will step
/// over beyond `max`, so the work per call stays bounded even in a directory
/// full of them. Hitting it can make a batch come back empty while
/// [`Listing::done`] is still false; the caller just asks again.
const MAX_SKIPPED_PER_BATCH: usize = 1024;

/// Entries of one directory (or the one entry for a file), in batches.
pub struct Listing {
    state: State,
    count: u64,
}

enum State {
    /// Reading a directory.
    Dir(ReadDir),
    /// Listing a single non-directory: its entry, until taken.
    Single(Option<DirEntry>),
    Done,
}

impl Home {
    /// Starts a listing of directory `p` (following links that stay inside),
    /// or, if `p` is not a directory, a listing of that one entry (the entry
    /// itself, as `lstat` sees it).
    pub fn list(&self, p: &VPath) -> Result<Listing, FsError> {
        match self.dir.read_dir(p.rel()) {
            Ok(rd) => Ok(Listing { state: State::Dir(rd), count: 0 }),
            // `p` is a file (or a link to one): list just that entry. If a part
            // on the way is the non-directory, `lstat` fails the same way.
            Err(e) if e.kind() == io::ErrorKind::NotADirectory => {
                let meta = self.lstat(p)?;
                Ok(Listing::single(p, meta))
            }
            // A dangling link inside the home is still an entry one can list
            // (and remove); anything else that is missing is not found.
            Err(e) if e.kind() == io::ErrorKind::NotFound => match self.lstat(p) {
                Ok(meta) if meta.kind == EntryKind::Symlink => Ok(Listing::single(p, meta)),
                _ => Err(from_io(e, p)),
            },
            Err(e) => Err(from_io(e, p)),
        }
    }
}

impl Listing {
    fn single(p: &VPath, meta: Meta) -> Listing {
        let name = p.name().unwrap_or("/").to_owned();
        Listing { state: State::Single(Some(entry(name, meta))), count: 0 }
    }

    /// Up to `max` more entries. An empty vector with [`Listing::done`] true
    /// means the end. (A directory holding more than
    /// `MAX_SKIPPED_PER_BATCH` reserved names in a row can also give an
    /// empty batch before the end; keep calling until `done()`.)
    ///
    /// An entry that disappears between being read and being looked at is
    /// skipped. Any other error ends the listing.
    pub fn next_batch(&mut self, max: usize) -> io::Result<Vec<DirEntry>> {
        let mut out = Vec::new();
        match &mut self.state {
            State::Done => {}
            State::Single(one) => {
                if max > 0 {
                    out.extend(one.take());
                    self.state = State::Done;
                }
            }
            State::Dir(rd) => {
                let mut skipped = 0usize;
                while out.len() < max {
                    let Some(next) = rd.next() else {
                        self.state = State::Done;
                        break;
                    };
                    let ent = match next {
                        Ok(ent) => ent,
                        Err(e) => {
                            self.state = State::Done;
                            return Err(e);
                        }
                    };
                    let name = ent.file_name();
                    if is_reserved(name.as_bytes()) {
                        skipped += 1;
                        if skipped >= MAX_SKIPPED_PER_BATCH {
                            break;
                        }
                        continue;
                    }
                    // DirEntry::metadata is an lstat relative to the open directory.
                    let meta = match ent.metadata() {
                        Ok(m) => Meta::from_cap(&m),
                        // Removed since readdir saw it: it is simply not there.
                        Err(e) if e.kind() == io::ErrorKind::NotFound => {
                            skipped += 1;
                            if skipped >= MAX_SKIPPED_PER_BATCH {
                                break;
                            }
                            continue;
                        }
                        Err(e) => {
                            self.state = State::Done;
                            return Err(e);
                        }
                    };
                    out.push(entry(name.to_string_lossy().into_owned(), meta));
                }
            }
        }
        self.count += out.len() as u64;
        Ok(out)
    }

    /// Whether every entry has been yielded.
    pub fn done(&self) -> bool {
        matches!(self.state, State::Done)
    }

    /// Entries yielded so far.
    pub fn count(&self) -> u64 {
        self.count
    }
}

fn entry(name: String, meta: Meta) -> DirEntry {
    DirEntry { name, kind: meta.kind, size: meta.size, mtime: meta.mtime }
}
