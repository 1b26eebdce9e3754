//! The storage contract, checked on both implementations: the same calls
//! give the same results and the same error codes on disk and in memory.
//! Then what only the memory storage has: disk-full and I/O-error injection.

use super::disk::DiskStorage;
use super::memory::{Fault, MemoryStorage};
use super::{Freed, HomeStore, Storage};
use crate::config::Config;
use crate::home::{FsError, VPath};
use crate::protocol::messages::EntryKind;
use std::collections::BTreeSet;
use std::io;
use std::sync::Arc;

fn vp(s: &str) -> VPath {
    VPath::resolve(&VPath::root(), s).expect("valid test path")
}

fn code<T: std::fmt::Debug>(r: Result<T, FsError>) -> &'static str {
    match r {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => e.code().as_str(),
    }
}

/// Runs `case` on a fresh disk home and a fresh memory home.
fn on_both(case: impl Fn(&dyn HomeStore)) {
    let tmp = tempfile::tempdir().unwrap();
    let disk = DiskStorage::open(&Config::new(tmp.path())).unwrap();
    case(&*disk.open_home("u").unwrap());
    let mem = MemoryStorage::new();
    case(&*mem.open_home("u").unwrap());
}

/// Writes a whole file through the partial store, as an upload does.
fn put(home: &dyn HomeStore, path: &str, bytes: &[u8]) {
    let id = format!("t{}", path.len());
    let mut f = home.open_partial(&id, 0).unwrap();
    f.write_all(bytes).unwrap();
    f.sync().unwrap();
    home.commit_partial(&id, &vp(path)).unwrap();
}

fn read(home: &dyn HomeStore, path: &str) -> Vec<u8> {
    let o = home.open_read(&vp(path)).unwrap();
    let mut buf = vec![0u8; o.meta.size as usize];
    o.file.read_exact_at(&mut buf, 0).unwrap();
    buf
}

fn usage(home: &dyn HomeStore) -> u64 {
    let mut walk = home.usage_walk().unwrap();
    for _ in 0..10_000 {
        if let Some(total) = walk.step(3).unwrap() {
            return total;
        }
    }
    panic!("the usage walk never finished");
}

fn names(home: &dyn HomeStore, path: &str) -> BTreeSet<String> {
    let mut l = home.list(&vp(path)).unwrap();
    let mut out = BTreeSet::new();
    while !l.done() {
        out.extend(l.next_batch(2).unwrap().into_iter().map(|e| e.name));
    }
    assert_eq!(l.count() as usize, out.len());
    out
}

#[test]
fn mkdir_and_its_errors_are_the_same_on_both() {
    on_both(|h| {
        assert!(h.mkdir(&vp("a"), false).unwrap());
        assert_eq!(code(h.mkdir(&vp("a"), false)), "exists");
        assert_eq!(code(h.mkdir(&VPath::root(), false)), "exists");
        assert!(!h.mkdir(&VPath::root(), true).unwrap());
        let e = h.mkdir(&vp("x/y"), false).unwrap_err();
        assert_eq!(
            (e.code().as_str(), e.message()),
            ("not_found", "/x does not exist (use parents to create it)".into())
        );
        assert!(h.mkdir(&vp("a/b/c"), true).unwrap());
        assert!(!h.mkdir(&vp("a/b/c"), true).unwrap(), "already there");
        put(h, "a/f", b"x");
        assert_eq!(h.mkdir(&vp("a/f/sub"), false).unwrap_err().message(), "/a/f is not a directory");
        assert_eq!(code(h.mkdir(&vp("a/f/sub/deeper"), false)), "not_a_directory");
        assert_eq!(code(h.mkdir(&vp("a/f"), true)), "exists");
        assert_eq!(code(h.mkdir(&vp("a/f/sub"), true)), "not_a_directory");
        h.check_dir(&vp("a/b/c")).unwrap();
        assert_eq!(code(h.check_dir(&vp("a/f"))), "not_a_directory");
        assert_eq!(code(h.check_dir(&vp("nope"))), "not_found");
    });
}

#[test]
fn files_replace_atomically_and_open_handles_keep_the_old_bytes() {
    on_both(|h| {
        put(h, "f", b"first");
        let old = h.open_read(&vp("f")).unwrap();
        assert_eq!(old.meta.kind, EntryKind::File);
        put(h, "f", b"second!");
        let new = h.open_read(&vp("f")).unwrap();
        assert_ne!(old.etag, new.etag, "a replaced file has a new etag");
        let mut buf = [0u8; 5];
        old.file.read_exact_at(&mut buf, 0).unwrap();
        assert_eq!(&buf, b"first");
        assert_eq!(read(h, "f"), b"second!");
        assert!(new.file.read_exact_at(&mut [0u8; 8], 0).is_err(), "reading past the end fails");
        assert_eq!(h.check_upload_target(&vp("f")).unwrap(), Some(7));
        assert_eq!(h.check_upload_target(&vp("g")).unwrap(), None);
        assert_eq!(code(h.check_upload_target(&vp("nope/g"))), "not_found");
        assert_eq!(code(h.check_upload_target(&vp("f/g"))), "not_a_directory");
        h.mkdir(&vp("d"), false).unwrap();
        assert_eq!(code(h.check_upload_target(&vp("d"))), "is_a_directory");
        assert_eq!(code(h.open_read(&vp("d")).map(drop)), "is_a_directory");
        assert_eq!(code(h.open_read(&vp("nope")).map(drop)), "not_found");
    });
}

#[test]
fn remove_takes_one_entry_and_remove_tree_takes_everything() {
    on_both(|h| {
        h.mkdir(&vp("t/a/b"), true).unwrap();
        put(h, "t/one", b"1");
        put(h, "t/a/two", b"22");
        put(h, "t/a/b/three", b"333");
        h.mkdir(&vp("t/empty"), false).unwrap();
        assert_eq!(code(h.remove(&vp("t"))), "not_empty");
        assert_eq!(code(h.remove(&VPath::root())), "path_invalid");
        assert_eq!(code(h.remove(&vp("nope"))), "not_found");
        assert_eq!(h.remove(&vp("t/one")).unwrap(), (EntryKind::File, 1));
        assert_eq!(h.remove(&vp("t/empty")).unwrap(), (EntryKind::Dir, 0));
        // t, a, b, two, three.
        let (freed, kind) = h.remove_tree(&vp("t"));
        assert_eq!((freed, kind.unwrap()), (Freed { count: 5, bytes: 5 }, EntryKind::Dir));
        assert_eq!(code(h.stat(&vp("t"))), "not_found");
        put(h, "lone", b"abcd");
        let (freed, kind) = h.remove_tree(&vp("lone"));
        assert_eq!((freed, kind.unwrap()), (Freed { count: 1, bytes: 4 }, EntryKind::File));
        let (freed, r) = h.remove_tree(&vp("gone"));
        assert_eq!((freed, code(r)), (Freed::default(), "not_found"));
        assert_eq!(code(h.remove_tree(&VPath::root()).1), "path_invalid");
        assert_eq!(usage(h), 0);
    });
}

#[test]
fn listings_hide_reserved_names_and_usage_counts_everything() {
    on_both(|h| {
        h.mkdir(&vp("d/e"), true).unwrap();
        put(h, "d/x", b"xx");
        put(h, "d/e/y", b"yyy");
        put(h, "top", b"t");
        let mut partial = h.open_partial("p", 0).unwrap();
        partial.write_all(b"1234").unwrap();
        h.write_checkpoint("p", b"{}").unwrap();
        assert_eq!(names(h, "/"), BTreeSet::from(["d".to_owned(), "top".to_owned()]));
        assert_eq!(names(h, "d"), BTreeSet::from(["e".to_owned(), "x".to_owned()]));
        assert_eq!(names(h, "d/x"), BTreeSet::from(["x".to_owned()]), "a file lists as itself");
        assert_eq!(code(h.list(&vp("nope")).map(|_| ())), "not_found");
        // 2 + 3 + 1 and the partial's 4; not the checkpoint's 2 (bookkeeping).
        assert_eq!(usage(h), 10);
        assert_eq!(h.discard_partial("p").unwrap(), 4);
        assert_eq!(h.read_checkpoint("p").unwrap(), None);
        assert_eq!(usage(h), 6);
    });
}

#[test]
fn accounts_are_created_once_and_read_back() {
    let tmp = tempfile::tempdir().unwrap();
    let disk: Arc<dyn Storage> = Arc::new(DiskStorage::open(&Config::new(tmp.path())).unwrap());
    let mem: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
    for s in [disk, mem] {
        let account = crate::accounts::Account {
            v: 1,
            user: "ann".into(),
            salt: "c2FsdA==".into(),
            iterations: 1000,
            stored_key: "a".into(),
            server_key: "b".into(),
            created: "2026-01-01T00:00:00.000Z".into(),
            quota: Some(5),
            disabled: true,
            last_login: None,
        };
        assert!(s.load_account("ann").unwrap().is_none());
        s.create_account(&account).unwrap();
        assert!(matches!(s.create_account(&account), Err(crate::accounts::CreateError::Exists)));
        assert_eq!(s.load_account("ann").unwrap(), Some(account));
        assert!(s.open_home("..").is_err(), "a user name is one plain component");
    }
}

#[test]
fn a_login_time_and_a_password_reset_change_only_their_fields_on_both() {
    let tmp = tempfile::tempdir().unwrap();
    let disk: Arc<dyn Storage> = Arc::new(DiskStorage::open(&Config::new(tmp.path())).unwrap());
    let mem: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
    for s in [disk, mem] {
        let account = crate::accounts::Account {
            v: 1,
            user: "ann".into(),
            salt: "c2FsdA==".into(),
            iterations: 1000,
            stored_key: "a".into(),
            server_key: "b".into(),
            created: "2026-01-01T00:00:00.000Z".into(),
            quota: Some(5),
            disabled: true,
            last_login: None,
        };
        s.create_account(&account).unwrap();
        assert!(s.record_login("ann", "2026-11-23T07:00:00.000Z").unwrap());
        let new = crate::accounts::NewCredentials { salt: "bmV3", iterations: 2000, stored_key: "c", server_key: "d" };
        assert!(s.replace_credentials("ann", new).unwrap());
        let expected = crate::accounts::Account {
            salt: "bmV3".into(),
            iterations: 2000,
            stored_key: "c".into(),
            server_key: "d".into(),
            last_login: Some("2026-11-23T07:00:00.000Z".into()),
            ..account
        };
        assert_eq!(s.load_account("ann").unwrap(), Some(expected));
        assert!(!s.record_login("bob", "2026-11-23T07:00:00.000Z").unwrap(), "no such account");
        assert!(!s.replace_credentials("bob", new).unwrap(), "no such account");
    }
}

#[test]
fn a_full_memory_disk_refuses_writes_whole_and_removal_gives_space_back() {
    let mem = MemoryStorage::new();
    let h = mem.open_home("u").unwrap();
    mem.set_capacity(Some(10));
    let mut f = h.open_partial("p", 0).unwrap();
    f.write_all(b"123456").unwrap();
    let e = f.write_all(b"abcdef").unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::StorageFull);
    assert_eq!(h.partial_len("p").unwrap(), Some(6), "nothing of a refused write is kept");
    f.write_all(b"abcd").unwrap();
    assert_eq!(mem.used_space(), 10);
    drop(f);
    assert_eq!(h.discard_partial("p").unwrap(), 10);
    assert_eq!(mem.used_space(), 0);
    mem.set_capacity(None);
    h.open_partial("q", 0).unwrap().write_all(&[0u8; 100]).unwrap();
}

#[test]
fn each_injected_fault_fails_its_operation_until_healed() {
    let mem = MemoryStorage::new();
    let h = mem.open_home("u").unwrap();
    put(&*h, "f", b"data");
    let internal = |r: Result<(), FsError>| code(r) == "internal";
    let eio = |r: io::Result<()>| r.is_err_and(|e| e.raw_os_error() == Some(5));
    mem.fail(Fault::Mkdir);
    assert!(internal(h.mkdir(&vp("d"), false).map(drop)));
    mem.fail(Fault::Remove);
    assert!(internal(h.remove(&vp("f")).map(drop)));
    assert!(internal(h.remove_tree(&vp("f")).1.map(drop)));
    mem.fail(Fault::List);
    assert!(internal(h.list(&VPath::root()).map(drop)));
    mem.fail(Fault::Open);
    assert!(internal(h.open_read(&vp("f")).map(drop)));
    mem.heal(Fault::Open);
    let o = h.open_read(&vp("f")).unwrap();
    mem.fail(Fault::Read);
    assert!(eio(o.file.read_exact_at(&mut [0u8; 4], 0)));
    mem.fail(Fault::Scan);
    assert!(eio(h.usage_walk().unwrap().step(10).map(drop)));
    mem.fail(Fault::Partial);
    assert!(eio(h.open_partial("p", 0).map(drop)));
    mem.heal(Fault::Partial);
    let mut p = h.open_partial("p", 0).unwrap();
    mem.fail(Fault::Write);
    assert!(eio(p.write_all(b"x")));
    mem.fail(Fault::Checkpoint);
    assert!(eio(h.write_checkpoint("p", b"{}")));
    mem.fail(Fault::Commit);
    assert!(eio(p.sync()));
    assert!(eio(h.commit_partial("p", &vp("g"))));
    mem.fail(Fault::Account);
    assert!(mem.load_account("u").is_err());
    assert!(mem.record_login("u", "2026-11-23T07:00:00.000Z").is_err());
    for f in [
        Fault::Mkdir,
        Fault::Remove,
        Fault::List,
        Fault::Read,
        Fault::Scan,
        Fault::Write,
        Fault::Checkpoint,
        Fault::Commit,
        Fault::Account,
    ] {
        mem.heal(f);
    }
    h.mkdir(&vp("d"), false).unwrap();
    p.write_all(b"x").unwrap();
    h.commit_partial("p", &vp("g")).unwrap();
    assert_eq!(read(&*h, "g"), b"x");
    assert_eq!(usage(&*h), 5);
    assert_eq!(h.remove_tree(&vp("d")).0.count, 1);
}
