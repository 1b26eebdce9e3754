//! A full disk, through the real server, on a real small filesystem: a
//! 1 MiB tmpfs is mounted on the data root's `home/` (the homes' volume
//! fills up; the audit logs, keys and accounts stay on the ordinary disk,
//! as they would on a server with a separate volume for homes). Mounting
//! needs CAP_SYS_ADMIN, which the test suite has where it runs as root.
//!
//! Where mounting is not allowed, the same scenario runs on the in-memory
//! storage with a 1 MB capacity, through the same real server, and the test
//! says so on stderr (`cargo test -- --nocapture` shows it): it never passes
//! by skipping. `MIOFTP_TEST_NO_MOUNT=1` takes that path on purpose.

mod common;
use common::*;
use mioftp::config::Config;
use mioftp::storage::disk::DiskStorage;
use mioftp::storage::memory::MemoryStorage;
use mioftp::storage::{HomeStore, Storage};
use mioftp_client::{NoProgress, PutOptions};
use serde_json::json;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

const UPLOADS: &str = "upload_file.log";
/// The small disk's size.
const SMALL: u64 = 1 << 20;

/// Where the homes live for this test.
enum SmallDisk {
    /// A tmpfs mounted on `<root>/home`; unmounted (and the root removed) on drop.
    Tmpfs { root: PathBuf, home: PathBuf },
    /// The fallback: homes and accounts in memory, with a capacity.
    Memory(MemoryStorage),
}

impl SmallDisk {
    /// A data root whose `home/` is a small disk.
    fn new() -> (tempfile::TempDir, SmallDisk) {
        let root = tempfile::tempdir().expect("temp root");
        let home = root.path().join("home");
        std::fs::create_dir(&home).expect("home folder");
        let data = std::ffi::CString::new(format!("size={SMALL},mode=0755")).expect("no NUL");
        let flags = rustix::mount::MountFlags::empty();
        // MIOFTP_TEST_NO_MOUNT=1 takes the fallback on purpose (to test it).
        let mounted = match std::env::var_os("MIOFTP_TEST_NO_MOUNT") {
            Some(_) => Err(rustix::io::Errno::PERM),
            None => rustix::mount::mount("mioftp-test", &home, "tmpfs", flags, data.as_c_str()),
        };
        match mounted {
            Ok(()) => {
                let disk = SmallDisk::Tmpfs { root: root.path().to_owned(), home };
                (root, disk)
            }
            Err(e) => {
                eprintln!(
                    "WARNING: disk_full: cannot mount a tmpfs ({e}); running the disk-full scenario on the \
                     in-memory storage with a {SMALL}-byte capacity instead of a real small filesystem"
                );
                let memory = MemoryStorage::new();
                memory.set_capacity(Some(SMALL));
                (root, SmallDisk::Memory(memory))
            }
        }
    }

    /// A server whose homes are on a small disk.
    fn start() -> (TestServer, SmallDisk) {
        let (root, disk) = SmallDisk::new();
        let server = TestServer::start_in(root, disk.storage(), |_| {});
        (server, disk)
    }

    /// The storage to give the server: `None` for the disk under its root.
    fn storage(&self) -> Option<Arc<dyn Storage>> {
        match self {
            SmallDisk::Tmpfs { .. } => None,
            SmallDisk::Memory(m) => Some(Arc::new(m.clone())),
        }
    }

    /// The disk gets room again.
    fn grow(&self) {
        match self {
            SmallDisk::Tmpfs { home, .. } => {
                let flags = rustix::mount::MountFlags::empty();
                rustix::mount::mount_remount(home, flags, "size=64m").expect("remount the tmpfs larger");
            }
            SmallDisk::Memory(m) => m.set_capacity(None),
        }
    }

    /// A file in a user's home, if it exists.
    fn read(&self, server: &TestServer, user: &str, path: &str) -> Option<Vec<u8>> {
        match self {
            SmallDisk::Tmpfs { .. } => std::fs::read(server.path(&format!("home/{user}/{path}"))).ok(),
            SmallDisk::Memory(m) => m.read_file(user, path),
        }
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        if let SmallDisk::Tmpfs { root, home } = self {
            let _ = rustix::mount::unmount(&*home, rustix::mount::UnmountFlags::DETACH);
            let _ = std::fs::remove_dir_all(root);
        }
    }
}

#[test]
fn a_full_disk_answers_put_done_with_no_space_keeps_the_partial_and_resumes_later() {
    let (server, disk) = SmallDisk::start();
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("big.bin");
    let digest = random_file(&local, 3 * SMALL, 4);
    let data = std::fs::read(&local).unwrap();
    let mut healthy = server.user("steady");
    server.user("filler").exit().unwrap();
    let mut up = server.raw_checked();
    scram_login(&mut up, "filler");
    assert_eq!(up.call(json!({"op": "put", "path": "big.bin", "length": data.len()}))["offset"], 0);
    up.send(json!({"op": "put_data", "size": data.len()}));
    up.send_bytes(&data);
    // The failure is remembered, not replied to, until put_done.
    assert_eq!(up.recv_within(Duration::from_millis(300)), Seen::Nothing);
    healthy.dir(None).expect("another client is served meanwhile");
    let reply = up.call(json!({"op": "put_done", "sha256": digest}));
    assert_eq!(code(&reply), "no_space", "{reply}");
    let rec = server.wait_for_record(UPLOADS, |r| r["reason"] == "no_space");
    let kept = rec["bytes"].as_u64().unwrap();
    assert_eq!(rec["outcome"], "incomplete");
    assert!(kept > 0 && kept < SMALL, "{rec}");
    assert_eq!(up.call(json!({"op": "quota"}))["used"], kept, "the partial counts toward the quota");
    assert_eq!(disk.read(&server, "filler", "big.bin"), None);
    healthy.noop().expect("served");
    drop((up, healthy));

    // The disk has room again: the upload resumes where the full disk stopped it.
    disk.grow();
    let mut c = server.login("filler");
    let report = c.put(&local, "big.bin", &PutOptions::default(), &mut NoProgress).unwrap();
    assert_eq!((report.offset, report.restarted, report.sha256.as_str()), (kept, false, digest.as_str()));
    assert_eq!(disk.read(&server, "filler", "big.bin").as_deref(), Some(&data[..]));
}

/// Fills the disk under `home` to the last byte (writes are all or nothing).
fn fill(home: &dyn HomeStore) {
    let mut f = home.open_partial("filler", 0).expect("a partial to fill the disk with");
    for chunk in [64 * 1024, 4096, 1] {
        while f.write_all(&vec![7u8; chunk]).is_ok() {}
    }
}

#[test]
fn on_a_full_disk_a_checkpoint_is_overwritten_in_place_and_a_longer_one_is_refused() {
    let (root, disk) = SmallDisk::new();
    let storage: Arc<dyn Storage> = match disk.storage() {
        Some(memory) => memory,
        None => Arc::new(DiskStorage::open(&Config::new(root.path())).expect("storage on the small disk")),
    };
    let home = storage.open_home("u").unwrap();
    home.write_checkpoint("c", &[b'A'; 300]).unwrap();
    fill(&*home);
    let e = home.open_partial("more", 0).and_then(|mut f| f.write_all(&[1u8; 4096])).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::StorageFull, "the disk is full");
    // Same length: rewritten where it is, no new space needed.
    home.write_checkpoint("c", &[b'B'; 300]).unwrap();
    assert_eq!(home.read_checkpoint("c").unwrap().as_deref(), Some(&[b'B'; 300][..]));
    // Longer: refused, and the last good one is untouched.
    let e = home.write_checkpoint("c", &[b'C'; 8192]).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::StorageFull);
    assert_eq!(home.read_checkpoint("c").unwrap().as_deref(), Some(&[b'B'; 300][..]));
    drop(home);
    drop(disk);
}
