//! Paths and trees that no depth can break, through the real server: a
//! 10,000-level tree made behind the server's back, and the legal
//! 4,095-byte `mkdir -p` that once locked an account for good (its usage
//! scan built a path over PATH_MAX, and every later request failed).
//!
//! The data root is on a tmpfs (`/dev/shm`) when there is one: removing
//! 10,000 nested folders costs about 55 s on this VM's ext4 (GNU `rm -rf`
//! alike), a fraction of a second there.

mod common;
use common::*;
use mioftp_client::{NoProgress, PutOptions};
use rustix::fs::{self, Mode, OFlags};
use serde_json::json;
use std::io::Write as _;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

fn fast_root() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() { tempfile::tempdir_in(shm) } else { tempfile::tempdir() }.expect("temp root")
}

/// `levels` nested folders named `d` in `base`, made one at a time relative
/// to the previous one's handle (the bottom's path is ~20 KB, far over
/// PATH_MAX), with a `size`-byte file `f` at the bottom.
fn deep_chain(base: &Path, levels: usize, size: usize) {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let mut dir: OwnedFd = fs::open(base, flags, Mode::empty()).unwrap();
    for _ in 0..levels {
        fs::mkdirat(dir.as_fd(), "d", Mode::from_raw_mode(0o755)).unwrap();
        dir = fs::openat(dir.as_fd(), "d", flags, Mode::empty()).unwrap();
    }
    let f = fs::openat(dir.as_fd(), "f", OFlags::WRONLY | OFlags::CREATE | OFlags::CLOEXEC, Mode::from_raw_mode(0o644));
    std::fs::File::from(f.unwrap()).write_all(&vec![b'x'; size]).unwrap();
}

#[test]
fn a_ten_thousand_level_tree_made_behind_the_servers_back_leaves_the_account_usable() {
    let server = TestServer::start_in(fast_root(), None, |_| {});
    server.user("deep").exit().unwrap();
    let home = server.path("home/deep");
    std::fs::write(home.join("top.txt"), b"12345").unwrap();
    deep_chain(&home, 10_000, 1000);

    // A new session: the usage scan walks the whole tree.
    let mut c = server.login("deep");
    assert_eq!(c.quota().expect("quota is answered").used, 1005);
    let listing = c.dir(None).expect("dir works").sorted();
    let names: Vec<&str> = listing.entries.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["d", "top.txt"]);
    let local = tempfile::tempdir().unwrap();
    std::fs::write(local.path().join("new.bin"), b"abc").unwrap();
    c.put(&local.path().join("new.bin"), "new.bin", &PutOptions::default(), &mut NoProgress).expect("put works");
    assert_eq!(c.quota().unwrap().used, 1008);
    c.exit().unwrap();

    let mut raw = login_raw(&server, "deep");
    // Generous: without a tmpfs, ext4 here takes ~55 s to remove the tree.
    raw.stream.set_read_timeout(Some(std::time::Duration::from_secs(600))).unwrap();
    let removed = raw.call(json!({"op": "rm", "path": "d", "recursive": true}));
    // 10,000 folders and the file at the bottom.
    assert_eq!(removed, json!({"ok": true, "path": "/d", "kind": "dir", "freed": 1000, "count": 10_001}));
    assert_eq!(raw.call(json!({"op": "quota"}))["used"], 8);
    assert!(!home.join("d").exists());
    let rms: Vec<_> = server.log("shell_command.log").into_iter().filter(|r| r["event"] == "rm").collect();
    assert_eq!(rms.len(), 1, "one record for the whole tree: {rms:?}");
    assert_eq!((rms[0]["count"].as_u64(), rms[0]["freed"].as_u64()), (Some(10_001), Some(1000)));
}

#[test]
fn mkdir_p_of_a_4095_byte_path_does_not_lock_the_account() {
    let server = TestServer::start_in(fast_root(), None, |_| {});
    let mut c = server.user("long");
    let names: Vec<String> = (0..16).map(|i| format!("{i:x}").repeat(255)).collect();
    let path = names.join("/");
    assert_eq!(path.len(), 4095);
    let made = c.mkdir(&path, true).expect("a legal path");
    assert!(made.created);
    c.exit().unwrap();

    // The next login: every request that needs usage works.
    let mut c = server.login("long");
    assert_eq!(c.quota().expect("quota").used, 0);
    assert_eq!(c.dir(None).expect("dir /").entries.len(), 1);
    assert!(c.dir(Some(&path)).expect("dir of the deepest folder").entries.is_empty());
    c.mkdir("other", false).expect("mkdir");
    let local = tempfile::tempdir().unwrap();
    std::fs::write(local.path().join("f"), b"hello").unwrap();
    c.put(&local.path().join("f"), "other/f", &PutOptions::default(), &mut NoProgress).expect("put");
    assert_eq!(c.rm(&path).expect("rm of the deepest folder").count, 1);
    assert_eq!(c.quota().unwrap().used, 5);
    c.exit().unwrap();
    let mut raw = login_raw(&server, "long");
    let removed = raw.call(json!({"op": "rm", "path": names[0], "recursive": true}));
    assert_eq!((removed["count"].as_u64(), removed["freed"].as_u64()), (Some(15), Some(0)), "{removed}");
    assert_eq!(raw.call(json!({"op": "quota"}))["used"], 5);
}
