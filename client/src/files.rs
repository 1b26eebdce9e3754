//! The file-system requests of PROTOCOL.md §5 that move no file data: `pwd`,
//! `cd`, `mkdir`, `rm`, `quota` and the multi-frame `dir` listing.

use crate::client::Client;
use crate::error::{ClientError, Result};
use mioftp_proto::Request;
use mioftp_proto::messages::{self, Cwd, DirChunk, DirEntry, DirSummary, EntryKind, Made, QuotaInfo, Removed};
use serde::Serialize;

/// Most `dir` frames the client reads for one listing before giving up on a
/// server that never says `more:false`.
const MAX_DIR_FRAMES: usize = 1 << 20;

/// A whole directory listing: every entry of every frame, plus the summary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Listing {
    /// The listed path, absolute.
    pub path: String,
    /// In the server's order (none in particular); see [`Listing::sorted`].
    pub entries: Vec<DirEntry>,
    pub summary: DirSummary,
}

impl Listing {
    /// Directories first, then everything else, each group by name.
    pub fn sorted(mut self) -> Listing {
        sort_entries(&mut self.entries);
        self
    }

    /// The entry called `name`, if listed.
    pub fn get(&self, name: &str) -> Option<&DirEntry> {
        self.entries.iter().find(|e| e.name == name)
    }
}

/// Sorts for display: directories first, then by name (bytewise, so the
/// order does not depend on the locale).
pub fn sort_entries(entries: &mut [DirEntry]) {
    entries.sort_by(|a, b| (a.kind != EntryKind::Dir, &a.name).cmp(&(b.kind != EntryKind::Dir, &b.name)));
}

impl Client {
    /// The current remote directory, asked of the server.
    pub fn pwd(&mut self) -> Result<String> {
        let reply: Cwd = self.conn.call(&Request::Pwd)?;
        self.cwd = reply.cwd.clone();
        Ok(reply.cwd)
    }

    /// Changes the remote directory; returns the new one, absolute.
    pub fn cd(&mut self, path: &str) -> Result<String> {
        let reply: Cwd = self.conn.call(&Request::Cd { path: path.to_owned() })?;
        self.cwd = reply.cwd.clone();
        Ok(reply.cwd)
    }

    /// Creates a directory; with `parents`, also missing parents, and an
    /// existing directory is fine (`created: false`).
    pub fn mkdir(&mut self, path: &str, parents: bool) -> Result<Made> {
        self.conn.call(&Request::Mkdir { path: path.to_owned(), parents })
    }

    /// Removes a file, a symbolic link or an empty directory.
    pub fn rm(&mut self, path: &str) -> Result<Removed> {
        self.conn.call(&Request::Rm { path: path.to_owned(), recursive: false })
    }

    /// Bytes used (partial uploads included) and the limit.
    pub fn quota(&mut self) -> Result<QuotaInfo> {
        self.conn.call(&Request::Quota)
    }

    /// Lists a directory (the current one for `None`), reading reply frames
    /// until the one with `more:false`, which carries the summary.
    pub fn dir(&mut self, path: Option<&str>) -> Result<Listing> {
        self.conn.send(&Request::Dir { path: path.map(str::to_owned) })?;
        self.conn.flush()?;
        let mut entries = Vec::new();
        for _ in 0..MAX_DIR_FRAMES {
            // A failure can only come first (before any entry); a later one
            // would also be a server refusal and is passed on the same way.
            let (header, body) = self.conn.recv_reply()?;
            if body > 0 {
                return Err(ClientError::Protocol(format!("unexpected {body}-byte body in a dir reply")));
            }
            let chunk: DirChunk = messages::reply_body(header).map_err(ClientError::Protocol)?;
            entries.extend(chunk.entries);
            if !chunk.more {
                let summary =
                    chunk.summary.ok_or_else(|| ClientError::Protocol("the last dir frame has no summary".into()))?;
                return Ok(Listing { path: chunk.path, entries, summary });
            }
        }
        Err(ClientError::Protocol(format!("a dir reply ran past {MAX_DIR_FRAMES} frames")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, kind: EntryKind) -> DirEntry {
        DirEntry { name: name.into(), kind, size: 0, mtime: 0 }
    }

    #[test]
    fn directories_sort_first_then_names() {
        let mut v = vec![
            entry("b.txt", EntryKind::File),
            entry("zdir", EntryKind::Dir),
            entry("a.txt", EntryKind::Symlink),
            entry("adir", EntryKind::Dir),
        ];
        sort_entries(&mut v);
        let names: Vec<_> = v.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["adir", "zdir", "a.txt", "b.txt"]);
    }
}
