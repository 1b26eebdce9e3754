//! Test fixture: a real temporary tree with two homes and an outside folder,
//! and a snapshot of everything that is *not* alice's home, so tests can
//! prove that nothing outside was read into a reply, written or deleted.

use super::{FsError, Home, VPath};
use std::collections::BTreeMap;
use std::fs;
use std::os::unix::ffi::OsStrExt as _;
use std::path::{Path, PathBuf};

/// ```text
/// <tmp>/homes/alice/            alice's home (the one under test)
/// <tmp>/homes/bob/secret.txt    "bob's secret"
/// <tmp>/homes/bob/dir/inner.txt "bob inner"
/// <tmp>/outside/outside.txt     "outside"
/// <tmp>/outside/sub/deep.txt    "deep outside"
/// ```
pub(super) struct Fx {
    pub tmp: tempfile::TempDir,
    pub home: Home,
}

/// What is at each host path outside alice's home: file bytes, a directory
/// marker, or a link's target text.
pub(super) type Snapshot = BTreeMap<PathBuf, String>;

impl Fx {
    pub fn new() -> Fx {
        Fx::new_in(&std::env::temp_dir())
    }

    /// The same tree on a tmpfs (`/dev/shm`) when there is one: removing
    /// thousands of nested folders costs milliseconds each on some disks
    /// (ext4 here: about 55 s for 10,000 levels, GNU `rm -rf` alike).
    pub fn on_tmpfs() -> Fx {
        let shm = PathBuf::from("/dev/shm");
        Fx::new_in(&if shm.is_dir() { shm } else { std::env::temp_dir() })
    }

    fn new_in(parent: &Path) -> Fx {
        let tmp = tempfile::tempdir_in(parent).expect("tempdir");
        let homes = tmp.path().join("homes");
        let home = Home::open(&homes, "alice").expect("open alice's home");
        let w = |rel: &str, body: &str| {
            let p = tmp.path().join(rel);
            fs::create_dir_all(p.parent().expect("has parent")).expect("mkdir");
            fs::write(p, body).expect("write");
        };
        w("homes/bob/secret.txt", "bob's secret");
        w("homes/bob/dir/inner.txt", "bob inner");
        w("outside/outside.txt", "outside");
        w("outside/sub/deep.txt", "deep outside");
        Fx { tmp, home }
    }

    /// Host path of alice's home.
    pub fn alice(&self) -> PathBuf {
        self.tmp.path().join("homes/alice")
    }

    /// Host path of the outside folder.
    pub fn outside(&self) -> PathBuf {
        self.tmp.path().join("outside")
    }

    /// Writes a file in alice's home (host side, as a local user would).
    pub fn write(&self, rel: &str, body: &str) {
        let p = self.alice().join(rel);
        fs::create_dir_all(p.parent().expect("has parent")).expect("mkdir");
        fs::write(p, body).expect("write");
    }

    /// Creates a directory in alice's home.
    pub fn mkdir(&self, rel: &str) {
        fs::create_dir_all(self.alice().join(rel)).expect("mkdir");
    }

    /// Creates a symbolic link `at` (in alice's home) with target text `target`.
    pub fn link(&self, target: impl AsRef<Path>, at: &str) {
        let p = self.alice().join(at);
        fs::create_dir_all(p.parent().expect("has parent")).expect("mkdir");
        std::os::unix::fs::symlink(target, p).expect("symlink");
    }

    /// Everything under the temp root except alice's home, without following links.
    pub fn snapshot(&self) -> Snapshot {
        let mut out = Snapshot::new();
        let skip = self.alice();
        walk(self.tmp.path(), &skip, &mut out);
        out
    }
}

fn walk(dir: &Path, skip: &Path, out: &mut Snapshot) {
    let mut entries: Vec<_> = fs::read_dir(dir).expect("read_dir").map(|e| e.expect("entry").path()).collect();
    entries.sort();
    for p in entries {
        if p == skip {
            continue;
        }
        let md = fs::symlink_metadata(&p).expect("lstat");
        if md.file_type().is_symlink() {
            let t = fs::read_link(&p).expect("readlink");
            out.insert(p, format!("link -> {}", t.display()));
        } else if md.is_dir() {
            out.insert(p.clone(), "dir".to_owned());
            walk(&p, skip, out);
        } else {
            let bytes = fs::read(&p).expect("read");
            out.insert(p, String::from_utf8_lossy(&bytes).into_owned());
        }
    }
}

/// A virtual path from a literal known to be valid.
pub(super) fn vp(s: &str) -> VPath {
    VPath::resolve(&VPath::root(), s).expect("test path is valid")
}

/// The code name of an error, or a panic naming what succeeded instead.
pub(super) fn code<T: std::fmt::Debug>(r: Result<T, FsError>) -> &'static str {
    match r {
        Ok(v) => panic!("expected an error, got Ok({v:?})"),
        Err(e) => {
            // Messages must never show a host path.
            let m = e.message();
            let tmp = std::env::temp_dir();
            let tmp = tmp.to_string_lossy();
            assert!(!m.contains(tmp.as_ref()) && !m.contains("homes/alice"), "message leaks a host path: {m}");
            e.code().as_str()
        }
    }
}

/// Whether a host path exists (without following a final link).
pub(super) fn exists(p: &Path) -> bool {
    fs::symlink_metadata(p).is_ok()
}

/// Bytes of a name, for building names that are not UTF-8.
pub(super) fn os(bytes: &[u8]) -> &std::ffi::OsStr {
    std::ffi::OsStr::from_bytes(bytes)
}
