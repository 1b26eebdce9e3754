//! Whole folders for `put -r` and `get -r`: a walk of a local folder, or of
//! a remote one through `dir` listings, into a [`Tree`] of what to copy
//! (folders parents-first, regular files with their sizes) and what is left
//! out and why. The walk comes first so one progress bar can show the whole
//! copy; the copying itself is the command's (it decides whether to stop at
//! the first failure).
//!
//! Symbolic links are never followed, on either side: they are left out and
//! named, as are FIFOs, sockets and devices. A remote listing is the
//! server's word, so every name in it is checked before it becomes part of
//! a local path (no `..`, no `/`, nothing empty). Both walks are bounded in
//! depth and in entries.

use crate::client::Client;
use crate::error::{ClientError, Result};
use mioftp_proto::ErrorCode;
use mioftp_proto::messages::EntryKind;
use std::fmt;
use std::fs::FileType;
use std::path::Path;

/// Deepest folder below the root a walk enters (the protocol's own path
/// limit is 64 levels, so nothing deeper could be named on the server).
pub const MAX_DEPTH: usize = 64;
/// Most entries one walk collects before it gives up.
pub const MAX_ENTRIES: usize = 1_000_000;

/// Why an entry is not copied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skip {
    /// A symbolic link: never followed.
    Symlink,
    /// A FIFO, socket, device, or a remote entry of kind `other`.
    Special(&'static str),
    /// A local name that is not UTF-8 cannot be named in the protocol.
    NotUtf8,
    /// A remote name that cannot be a local file name (`..`, with a `/`, ...).
    UnsafeName,
    /// A folder deeper than [`MAX_DEPTH`] below the root.
    TooDeep,
}

impl fmt::Display for Skip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Skip::Symlink => f.write_str("symbolic link, not followed"),
            Skip::Special(what) => write!(f, "{what}, not a regular file"),
            Skip::NotUtf8 => f.write_str("name is not UTF-8"),
            Skip::UnsafeName => f.write_str("name the server sent is not a safe file name"),
            Skip::TooDeep => write!(f, "more than {MAX_DEPTH} levels deep"),
        }
    }
}

/// One regular file of a tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeFile {
    /// Relative to the root, `/`-separated.
    pub rel: String,
    pub size: u64,
}

/// What a walk found below its root.
#[derive(Debug, Default)]
pub struct Tree {
    /// Folders below the root (not the root itself), relative and
    /// `/`-separated, each after its parent.
    pub dirs: Vec<String>,
    /// Regular files, in walk order.
    pub files: Vec<TreeFile>,
    /// Entries left out, and why.
    pub skipped: Vec<(String, Skip)>,
    /// Folders that could not be listed (their contents are unknown).
    pub unreadable: Vec<(String, ClientError)>,
}

impl Tree {
    /// The bytes of all its files.
    pub fn bytes(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }

    fn count(&self) -> usize {
        self.dirs.len() + self.files.len() + self.skipped.len()
    }

    fn check_bound(&self) -> Result<()> {
        if self.count() > MAX_ENTRIES {
            return Err(ClientError::Usage(format!("the tree has more than {MAX_ENTRIES} entries; copy it in parts")));
        }
        Ok(())
    }
}

/// `rel` + `/` + `name` (just `name` at the root).
pub fn join(rel: &str, name: &str) -> String {
    if rel.is_empty() { name.to_owned() } else { format!("{rel}/{name}") }
}

/// Whether a name from a remote listing can be used as one local path
/// component: not empty, not `.` or `..`, without `/` or NUL.
pub fn safe_name(name: &str) -> bool {
    !matches!(name, "" | "." | "..") && !name.contains(['/', '\0'])
}

/// What a local non-directory, non-file entry is, for the skip message.
fn special(t: FileType) -> Skip {
    use std::os::unix::fs::FileTypeExt;
    if t.is_symlink() {
        Skip::Symlink
    } else if t.is_fifo() {
        Skip::Special("FIFO")
    } else if t.is_socket() {
        Skip::Special("socket")
    } else if t.is_block_device() {
        Skip::Special("block device")
    } else if t.is_char_device() {
        Skip::Special("character device")
    } else {
        Skip::Special("special file")
    }
}

/// Walks the local folder `root` without following symbolic links (not
/// even `root` itself, unless it is written with a trailing `/`, which the
/// system resolves). Names are sorted, so the order is stable.
pub fn local(root: &Path) -> Result<Tree> {
    let meta = root.symlink_metadata().map_err(|e| ClientError::local(root, e))?;
    if !meta.is_dir() {
        let what = if meta.file_type().is_symlink() { "a symbolic link (not followed)" } else { "not a folder" };
        return Err(ClientError::Usage(format!("{} is {what}", root.display())));
    }
    let mut tree = Tree::default();
    let mut stack = vec![(String::new(), 0usize)];
    while let Some((rel, depth)) = stack.pop() {
        let dir = if rel.is_empty() { root.to_owned() } else { root.join(&rel) };
        let mut items = Vec::new();
        let read = std::fs::read_dir(&dir).and_then(|it| {
            for item in it {
                let item = item?;
                items.push((item.file_name(), item.file_type()?, item.path()));
            }
            Ok(())
        });
        if let Err(e) = read {
            if rel.is_empty() {
                return Err(ClientError::local(root, e));
            }
            tree.unreadable.push((rel, ClientError::local(&dir, e)));
            continue;
        }
        items.sort_by(|a, b| a.0.cmp(&b.0));
        let mut subdirs = Vec::new();
        for (name, kind, path) in items {
            let Some(name) = name.to_str() else {
                tree.skipped.push((join(&rel, &name.to_string_lossy()), Skip::NotUtf8));
                continue;
            };
            let child = join(&rel, name);
            if kind.is_dir() {
                if depth + 1 > MAX_DEPTH {
                    tree.skipped.push((child, Skip::TooDeep));
                } else {
                    tree.dirs.push(child.clone());
                    subdirs.push((child, depth + 1));
                }
            } else if kind.is_file() {
                // Gone since the listing: not worth failing the walk; the
                // copy would not find it either.
                let Ok(meta) = path.symlink_metadata() else { continue };
                tree.files.push(TreeFile { rel: child, size: meta.len() });
            } else {
                tree.skipped.push((child, special(kind)));
            }
        }
        tree.check_bound()?;
        stack.extend(subdirs.into_iter().rev());
    }
    Ok(tree)
}

impl Client {
    /// Walks the remote folder `root` (absolute) with one `dir` per folder.
    /// A sub-folder that cannot be listed (removed meanwhile, say) is
    /// recorded in [`Tree::unreadable`]; a lost connection ends the walk.
    pub fn remote_tree(&mut self, root: &str) -> Result<Tree> {
        let mut tree = Tree::default();
        let mut stack = vec![(String::new(), 0usize)];
        while let Some((rel, depth)) = stack.pop() {
            let abs = if rel.is_empty() { root.to_owned() } else { format!("{}/{rel}", root.trim_end_matches('/')) };
            let mut listing = match self.dir(Some(&abs)) {
                Ok(listing) => listing,
                Err(e) if !rel.is_empty() && !e.is_fatal() => {
                    tree.unreadable.push((rel, e));
                    continue;
                }
                Err(e) => return Err(e),
            };
            listing.entries.sort_by(|a, b| a.name.cmp(&b.name));
            let mut subdirs = Vec::new();
            for entry in listing.entries {
                if !safe_name(&entry.name) {
                    tree.skipped.push((join(&rel, &entry.name), Skip::UnsafeName));
                    continue;
                }
                let child = join(&rel, &entry.name);
                match entry.kind {
                    EntryKind::Dir if depth + 1 > MAX_DEPTH => tree.skipped.push((child, Skip::TooDeep)),
                    EntryKind::Dir => {
                        tree.dirs.push(child.clone());
                        subdirs.push((child, depth + 1));
                    }
                    EntryKind::File => tree.files.push(TreeFile { rel: child, size: entry.size }),
                    EntryKind::Symlink => tree.skipped.push((child, Skip::Symlink)),
                    EntryKind::Other => tree.skipped.push((child, Skip::Special("special file"))),
                }
            }
            tree.check_bound()?;
            stack.extend(subdirs.into_iter().rev());
        }
        Ok(tree)
    }

    /// What `path` is on the server, from a listing of its parent folder;
    /// `None` if there is nothing there. `/` is always a folder.
    pub fn stat(&mut self, path: &str) -> Result<Option<EntryKind>> {
        let abs = crate::paths::resolve(&self.cwd, path)
            .ok_or_else(|| ClientError::Usage(format!("\"{path}\" is not a path inside your home")))?;
        let Some((parent, name)) = abs.rsplit_once('/').filter(|(_, name)| !name.is_empty()) else {
            return Ok(Some(EntryKind::Dir));
        };
        let parent = if parent.is_empty() { "/" } else { parent };
        match self.dir(Some(parent)) {
            Ok(listing) => Ok(listing.get(name).map(|e| e.kind)),
            Err(e) if matches!(e.code(), Some(ErrorCode::NotFound | ErrorCode::NotADirectory)) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn a_local_walk_lists_parents_first_and_skips_links_and_fifos_by_name() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        std::fs::create_dir_all(r.join("b/deep/er")).unwrap();
        std::fs::create_dir(r.join("a")).unwrap();
        std::fs::write(r.join("top.txt"), b"12345").unwrap();
        std::fs::write(r.join("b/deep/er/x.bin"), vec![0u8; 300]).unwrap();
        std::fs::write(r.join("a/empty"), b"").unwrap();
        symlink("/etc", r.join("b/etc-link")).unwrap();
        symlink("../top.txt", r.join("a/file-link")).unwrap();
        mkfifo(&r.join("b/pipe"));
        let tree = local(r).unwrap();
        assert_eq!(tree.dirs, ["a", "b", "b/deep", "b/deep/er"]);
        let files: Vec<(&str, u64)> = tree.files.iter().map(|f| (f.rel.as_str(), f.size)).collect();
        assert_eq!(files, [("top.txt", 5), ("a/empty", 0), ("b/deep/er/x.bin", 300)]);
        assert_eq!(tree.bytes(), 305);
        let skipped: Vec<(&str, String)> = tree.skipped.iter().map(|(p, s)| (p.as_str(), s.to_string())).collect();
        assert_eq!(
            skipped,
            [
                ("a/file-link", "symbolic link, not followed".to_owned()),
                ("b/etc-link", "symbolic link, not followed".to_owned()),
                ("b/pipe", "FIFO, not a regular file".to_owned()),
            ]
        );
        assert!(tree.unreadable.is_empty());
    }

    #[test]
    fn a_local_root_that_is_a_link_or_a_file_is_refused() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("real")).unwrap();
        symlink("real", root.path().join("link")).unwrap();
        std::fs::write(root.path().join("file"), b"x").unwrap();
        let err = local(&root.path().join("link")).unwrap_err().to_string();
        assert!(err.ends_with("link is a symbolic link (not followed)"), "{err}");
        assert!(local(&root.path().join("file")).unwrap_err().to_string().ends_with("file is not a folder"));
        // With a trailing slash the system resolves the link: the user asked.
        assert!(local(&root.path().join("link/")).is_ok());
        assert!(matches!(local(&root.path().join("missing")), Err(ClientError::Local { .. })));
    }

    #[test]
    fn a_local_walk_stops_descending_below_the_depth_limit() {
        let root = tempfile::tempdir().unwrap();
        let mut deep = root.path().to_owned();
        for _ in 0..MAX_DEPTH + 1 {
            deep.push("d");
        }
        std::fs::create_dir_all(&deep).unwrap();
        let tree = local(root.path()).unwrap();
        assert_eq!(tree.dirs.len(), MAX_DEPTH);
        assert_eq!(tree.skipped.len(), 1);
        assert_eq!(tree.skipped[0].1, Skip::TooDeep);
    }

    #[test]
    fn remote_names_that_would_leave_their_folder_are_unsafe() {
        for bad in ["", ".", "..", "a/b", "../x", "nul\0"] {
            assert!(!safe_name(bad), "{bad:?}");
        }
        for good in ["a", ".hidden", "...", "a b", "é"] {
            assert!(safe_name(good), "{good:?}");
        }
        assert_eq!(join("", "a"), "a");
        assert_eq!(join("a/b", "c"), "a/b/c");
    }

    fn mkfifo(path: &Path) {
        let status = std::process::Command::new("mkfifo").arg(path).status().unwrap();
        assert!(status.success());
    }
}
