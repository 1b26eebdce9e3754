//! Behaviour of the ordinary (non-hostile) operations on a real temporary
//! tree: stat, cd checks, mkdir, rm, open_read, the upload check, listings
//! in batches, and the usage scan against a reference sum.

use super::test_fixture::{Fx, code, exists, vp};
use super::{Meta, VPath};
use crate::protocol::ErrorCode;
use crate::protocol::messages::EntryKind;
use crate::storage::HomeStore as _;
use std::collections::BTreeSet;
use std::io::Read as _;
use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

#[test]
fn stat_lstat_and_check_dir_report_kinds_and_follow_inside_links() {
    let fx = Fx::new();
    fx.write("d/f.txt", "hello");
    fx.link("d", "dl");
    fx.link("d/f.txt", "fl");
    fx.link("missing", "dangling");
    let f = std::fs::File::options().write(true).open(fx.alice().join("d/f.txt")).expect("open");
    f.set_modified(UNIX_EPOCH - Duration::from_secs(100)).expect("set mtime");
    let m = fx.home.stat(&vp("fl")).expect("stat");
    assert_eq!(m, Meta { kind: EntryKind::File, size: 5, mtime: -100 });
    assert_eq!(fx.home.lstat(&vp("fl")).expect("lstat").kind, EntryKind::Symlink);
    assert_eq!(fx.home.stat(&VPath::root()).expect("stat /").kind, EntryKind::Dir);
    fx.home.check_dir(&VPath::root()).expect("cd /");
    fx.home.check_dir(&vp("d")).expect("cd d");
    fx.home.check_dir(&vp("dl")).expect("cd through inside link");
    assert_eq!(code(fx.home.check_dir(&vp("d/f.txt"))), "not_a_directory");
    assert_eq!(code(fx.home.check_dir(&vp("fl"))), "not_a_directory");
    assert_eq!(code(fx.home.check_dir(&vp("nope"))), "not_found");
    assert_eq!(code(fx.home.check_dir(&vp("dangling"))), "not_found");
    assert_eq!(code(fx.home.check_dir(&vp("d/f.txt/x"))), "not_a_directory");
}

#[test]
fn mkdir_without_parents_needs_the_parent_and_refuses_existing() {
    let fx = Fx::new();
    fx.write("file", "x");
    assert!(fx.home.mkdir(&vp("a"), false).expect("mkdir a"));
    assert!(fx.alice().join("a").is_dir());
    assert_eq!(code(fx.home.mkdir(&vp("a"), false)), "exists");
    assert_eq!(code(fx.home.mkdir(&vp("file"), false)), "exists");
    assert_eq!(code(fx.home.mkdir(&VPath::root(), false)), "exists");
    let e = fx.home.mkdir(&vp("x/y"), false).expect_err("no parent");
    assert_eq!(e.code(), ErrorCode::NotFound);
    assert!(e.message().contains("/x"), "{}", e.message());
    let e = fx.home.mkdir(&vp("file/sub"), false).expect_err("parent is a file");
    assert_eq!(e.code(), ErrorCode::NotADirectory);
    assert!(e.message().contains("/file is not a directory"), "{}", e.message());
    assert!(!exists(&fx.alice().join("x")));
}

#[test]
fn mkdir_with_parents_creates_the_chain_and_accepts_an_existing_dir() {
    let fx = Fx::new();
    fx.write("file", "x");
    fx.mkdir("real");
    fx.link("real", "rl");
    fx.link("nowhere", "dangling");
    assert!(fx.home.mkdir(&vp("a/b/c"), true).expect("mkdir -p"));
    assert!(fx.alice().join("a/b/c").is_dir());
    assert!(!fx.home.mkdir(&vp("a/b/c"), true).expect("again"));
    assert!(!fx.home.mkdir(&vp("a"), true).expect("existing ancestor"));
    assert!(!fx.home.mkdir(&VPath::root(), true).expect("root"));
    assert!(fx.home.mkdir(&vp("a/b/d"), true).expect("sibling"));
    assert!(fx.home.mkdir(&vp("rl/x/y"), true).expect("through inside link"));
    assert!(fx.alice().join("real/x/y").is_dir());
    assert!(!fx.home.mkdir(&vp("rl"), true).expect("link to a dir is a dir"));
    assert_eq!(code(fx.home.mkdir(&vp("file"), true)), "exists");
    assert_eq!(code(fx.home.mkdir(&vp("dangling"), true)), "exists");
    assert_eq!(code(fx.home.mkdir(&vp("file/sub/deeper"), true)), "not_a_directory");
    assert_eq!(fx.home.lstat(&vp("dangling")).expect("still a link").kind, EntryKind::Symlink);
}

#[test]
fn remove_files_links_and_empty_dirs_and_refuses_the_rest() {
    let fx = Fx::new();
    fx.write("f.bin", "0123456789");
    fx.mkdir("empty");
    fx.write("full/inner", "i");
    fx.link("f.bin", "fl");
    assert_eq!(fx.home.remove(&vp("fl")).expect("rm link"), (EntryKind::Symlink, 0));
    assert!(fx.alice().join("f.bin").is_file(), "the link's target stays");
    assert_eq!(fx.home.remove(&vp("f.bin")).expect("rm file"), (EntryKind::File, 10));
    assert_eq!(fx.home.remove(&vp("empty")).expect("rm dir"), (EntryKind::Dir, 0));
    let e = fx.home.remove(&vp("full")).expect_err("non-empty");
    assert_eq!(e.code(), ErrorCode::NotEmpty);
    assert!(e.message().contains("/full"), "{}", e.message());
    assert!(fx.alice().join("full/inner").is_file());
    assert_eq!(code(fx.home.remove(&vp("f.bin"))), "not_found");
    assert_eq!(code(fx.home.remove(&vp("full/inner/x"))), "not_a_directory");
    let e = fx.home.remove(&VPath::root()).expect_err("root");
    assert_eq!(e.code(), ErrorCode::PathInvalid);
    assert_eq!(e.message(), "cannot remove your home folder");
    assert!(fx.alice().is_dir());
}

#[test]
fn open_read_gives_the_file_its_meta_and_an_etag_that_tracks_changes() {
    let fx = Fx::new();
    fx.write("f.txt", "first");
    let (mut f, meta, tag1) = fx.home.open_read(&vp("f.txt")).expect("open");
    let mut s = String::new();
    f.read_to_string(&mut s).expect("read");
    assert_eq!(s, "first");
    assert_eq!((meta.kind, meta.size), (EntryKind::File, 5));
    let (_, _, same) = fx.home.open_read(&vp("f.txt")).expect("open again");
    assert_eq!(tag1, same, "unchanged file, same etag");
    // Modified in place, same length.
    std::thread::sleep(Duration::from_millis(20));
    std::fs::write(fx.alice().join("f.txt"), "FIRST").expect("rewrite");
    let (_, _, tag2) = fx.home.open_read(&vp("f.txt")).expect("open modified");
    assert_ne!(tag1, tag2);
    // Replaced by rename, as an upload does.
    std::fs::write(fx.alice().join("new"), "FIRST").expect("write new");
    std::fs::rename(fx.alice().join("new"), fx.alice().join("f.txt")).expect("rename");
    let (_, _, tag3) = fx.home.open_read(&vp("f.txt")).expect("open replaced");
    assert_ne!(tag2, tag3);
    // The handle opened first still reads what it opened.
    assert_eq!(s, "first");
}

#[test]
fn open_read_refuses_directories_missing_files_and_special_files() {
    let fx = Fx::new();
    fx.mkdir("d");
    fx.write("f", "x");
    assert_eq!(code(fx.home.open_read(&vp("d"))), "is_a_directory");
    assert_eq!(code(fx.home.open_read(&VPath::root())), "is_a_directory");
    assert_eq!(code(fx.home.open_read(&vp("nope"))), "not_found");
    assert_eq!(code(fx.home.open_read(&vp("f/x"))), "not_a_directory");
    // A FIFO with no writer: a blocking open would hang the event loop.
    let fifo = fx.alice().join("fifo");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    if made.map(|s| s.success()).unwrap_or(false) {
        assert_eq!(code(fx.home.open_read(&vp("fifo"))), "path_invalid");
    } else {
        eprintln!("mkfifo unavailable; FIFO case skipped");
    }
}

#[test]
fn check_upload_target_checks_parent_and_target() {
    let fx = Fx::new();
    fx.write("old.bin", "1234567");
    fx.write("file", "x");
    fx.mkdir("d");
    fx.link("d", "dlink");
    fx.link("old.bin", "flink");
    fx.link("nowhere", "dangling");
    assert_eq!(fx.home.check_upload_target(&vp("new.bin")).expect("new"), None);
    assert_eq!(fx.home.check_upload_target(&vp("old.bin")).expect("old"), Some(7));
    assert_eq!(fx.home.check_upload_target(&vp("d/new")).expect("in d"), None);
    assert_eq!(fx.home.check_upload_target(&vp("dlink/new")).expect("via link"), None);
    assert_eq!(fx.home.check_upload_target(&vp("flink")).expect("file link"), None);
    assert_eq!(fx.home.check_upload_target(&vp("dangling")).expect("dangling"), None);
    assert_eq!(code(fx.home.check_upload_target(&vp("d"))), "is_a_directory");
    assert_eq!(code(fx.home.check_upload_target(&vp("dlink"))), "is_a_directory");
    assert_eq!(code(fx.home.check_upload_target(&VPath::root())), "is_a_directory");
    let e = fx.home.check_upload_target(&vp("nodir/x")).expect_err("no parent");
    assert_eq!(e.code(), ErrorCode::NotFound);
    assert!(e.message().contains("/nodir"), "{}", e.message());
    let e = fx.home.check_upload_target(&vp("file/x")).expect_err("parent is a file");
    assert_eq!(e.code(), ErrorCode::NotADirectory);
    assert!(e.message().contains("/file"), "{}", e.message());
}

#[test]
fn the_replaced_files_identity_is_the_same_through_any_path_and_links_have_none() {
    let fx = Fx::new();
    fx.mkdir("d");
    fx.write("d/old.bin", "1234567");
    fx.link("d", "dlink");
    fx.link("d/old.bin", "flink");
    let (id, size) = fx.home.upload_target(&vp("d/old.bin")).expect("ok").expect("a file");
    assert_eq!(size, 7);
    assert_eq!(fx.home.upload_target(&vp("dlink/old.bin")).expect("ok"), Some((id, 7)));
    assert_eq!(fx.home.file_id(&vp("dlink/old.bin")), Some(id));
    assert_eq!(fx.home.file_id(&vp("flink")), None, "a final link is not its target");
    assert_eq!(fx.home.file_id(&vp("d")), None);
    assert_eq!(fx.home.file_id(&vp("missing")), None);
}

#[test]
fn listing_1000_files_in_batches_of_64_gives_each_once_and_hides_reserved() {
    let fx = Fx::new();
    for i in 0..1000 {
        fx.write(&format!("many/f{i:04}"), "x");
    }
    fx.write("many/.mioftp", "hidden");
    fx.write("many/.mioftp.tmp/inner", "hidden");
    let mut l = fx.home.list(&vp("many")).expect("list");
    let mut seen = BTreeSet::new();
    let mut batches = 0;
    while !l.done() {
        let batch = l.next_batch(64).expect("batch");
        assert!(batch.len() <= 64);
        batches += 1;
        for e in batch {
            assert_eq!((e.kind, e.size), (EntryKind::File, 1));
            assert!(seen.insert(e.name.clone()), "{} twice", e.name);
        }
        assert!(batches < 100, "listing does not end");
    }
    assert_eq!(seen.len(), 1000);
    assert_eq!(l.count(), 1000);
    assert!(seen.iter().all(|n| n.starts_with('f')));
    assert!(l.next_batch(64).expect("after end").is_empty());
    assert_eq!(l.count(), 1000);
}

#[test]
fn listing_a_file_gives_one_entry_and_an_empty_dir_none() {
    let fx = Fx::new();
    fx.write("d/f.txt", "abc");
    fx.mkdir("empty");
    fx.link("d/f.txt", "fl");
    fx.link("nowhere", "dangling");
    let mut l = fx.home.list(&vp("d/f.txt")).expect("list a file");
    assert!(l.next_batch(0).expect("zero").is_empty() && !l.done());
    let one = l.next_batch(10).expect("batch");
    assert_eq!(one.len(), 1);
    assert_eq!((one[0].name.as_str(), one[0].kind, one[0].size), ("f.txt", EntryKind::File, 3));
    assert!(l.done() && l.count() == 1);
    assert!(l.next_batch(10).expect("end").is_empty());
    // A link to a file is listed as the link; a dangling link is still listable.
    for (p, size) in [("fl", 7), ("dangling", 7)] {
        let mut l = fx.home.list(&vp(p)).expect("list link");
        let one = l.next_batch(10).expect("batch");
        assert_eq!((one[0].name.as_str(), one[0].kind, one[0].size), (p, EntryKind::Symlink, size));
    }
    let mut l = fx.home.list(&vp("empty")).expect("list empty");
    assert!(l.next_batch(10).expect("batch").is_empty());
    assert!(l.done() && l.count() == 0);
    assert_eq!(code(fx.home.list(&vp("nope")).map(|_| ())), "not_found");
    assert_eq!(code(fx.home.list(&vp("d/f.txt/x")).map(|_| ())), "not_a_directory");
}

#[test]
fn listing_reports_kinds_sizes_and_mtimes() {
    let fx = Fx::new();
    fx.write("f", "12345");
    fx.mkdir("d");
    fx.link("f", "l");
    let f = std::fs::File::options().write(true).open(fx.alice().join("f")).expect("open");
    f.set_modified(UNIX_EPOCH + Duration::from_secs(1_764_000_000)).expect("mtime");
    let mut l = fx.home.list(&VPath::root()).expect("list");
    let mut all = l.next_batch(10).expect("batch");
    all.sort_by(|a, b| a.name.cmp(&b.name));
    assert_eq!(all.len(), 3);
    assert_eq!((all[0].name.as_str(), all[0].kind), ("d", EntryKind::Dir));
    assert_eq!((all[1].name.as_str(), all[1].kind, all[1].size), ("f", EntryKind::File, 5));
    assert_eq!(all[1].mtime, 1_764_000_000);
    assert_eq!((all[2].name.as_str(), all[2].kind, all[2].size), ("l", EntryKind::Symlink, 1));
}

/// Sum of regular file sizes under `dir`, not following links.
fn reference_usage(dir: &Path) -> u64 {
    let mut sum = 0;
    for e in std::fs::read_dir(dir).expect("read_dir") {
        let e = e.expect("entry");
        let md = std::fs::symlink_metadata(e.path()).expect("lstat");
        if md.is_file() {
            sum += md.len();
        } else if md.is_dir() {
            sum += reference_usage(&e.path());
        }
    }
    sum
}

fn run_scan(fx: &Fx, budget: usize) -> (u64, usize) {
    let mut scan = fx.home.usage_scan().expect("scan");
    let mut steps = 0;
    loop {
        steps += 1;
        assert!(steps < 100_000, "scan does not end");
        if let Some(total) = scan.step(budget).expect("step") {
            return (total, steps);
        }
    }
}

#[test]
fn usage_scan_counts_nested_files_and_partials_with_small_budgets() {
    let fx = Fx::new();
    fx.write("a.bin", &"a".repeat(1000));
    for i in 0..40 {
        fx.write(&format!("d{}/e{}/f{i}", i % 3, i % 5), &"z".repeat(i * 7 + 1));
    }
    fx.write(&format!("{}/leaf", vec!["deep"; 30].join("/")), "leafy");
    fx.write(".mioftp/partials/upload-1", &"p".repeat(4096));
    fx.mkdir("empty/dirs/only");
    fx.link("a.bin", "link_not_counted");
    let want = reference_usage(&fx.alice());
    assert!(want > 4096 + 1000, "the partial is part of the reference");
    let mut steps_seen = Vec::new();
    for budget in [1, 3, 17, 1_000_000] {
        let (total, steps) = run_scan(&fx, budget);
        assert_eq!(total, want, "budget {budget}");
        steps_seen.push(steps);
    }
    assert!(steps_seen[0] > 100, "budget 1 takes many steps: {steps_seen:?}");
    assert_eq!(steps_seen[3], 1, "a big budget finishes in one step");
    // Once done, it stays done with the same total; a zero budget does nothing.
    let mut scan = fx.home.usage_scan().expect("scan");
    assert_eq!(scan.step(0).expect("zero"), None);
    assert_eq!(scan.step(usize::MAX).expect("all"), Some(want));
    assert_eq!(scan.step(1).expect("again"), Some(want));
}

#[test]
fn usage_scan_skips_a_directory_swapped_for_a_link_mid_scan() {
    let fx = Fx::new();
    fx.write("a/ten", "0123456789");
    fx.write("b/seven", "0123456");
    let mut scan = fx.home.usage_scan().expect("scan");
    // Open "/" and read its two entries: both directories are now pending.
    for _ in 0..3 {
        assert_eq!(scan.step(1).expect("step"), None);
    }
    // Swap b for a link to a: counting through it would count "ten" twice.
    std::fs::rename(fx.alice().join("b"), fx.alice().join("b.old")).expect("rename");
    std::os::unix::fs::symlink("a", fx.alice().join("b")).expect("link");
    let total = loop {
        if let Some(t) = scan.step(1).expect("step") {
            break t;
        }
    };
    assert_eq!(total, 10);
}
