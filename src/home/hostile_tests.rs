//! Hostile cases against a real temporary tree: links to `/etc`, to another
//! user's home, to `..`, chains that climb out, swaps between calls, bad
//! names. Each test proves that nothing outside alice's home was read into a
//! reply, listed, written or deleted (the snapshot of everything else is
//! unchanged) and that the right error code comes back.

use super::test_fixture::{Fx, code, exists, os, vp};
use super::{Home, VPath};
use crate::protocol::messages::EntryKind;
use crate::storage::HomeStore as _;
use std::io::Read as _;

/// Reads a whole file opened through the home.
fn read_all(fx: &Fx, p: &str) -> String {
    let (mut f, _, _) = fx.home.open_read(&vp(p)).expect("open_read");
    let mut s = String::new();
    f.read_to_string(&mut s).expect("read");
    s
}

#[test]
fn hostile_symlink_to_etc_is_escape_for_every_operation() {
    let fx = Fx::new();
    fx.link("/etc", "etc");
    let before = fx.snapshot();
    assert_eq!(code(fx.home.stat(&vp("etc"))), "path_escape");
    assert_eq!(code(fx.home.check_dir(&vp("etc"))), "path_escape");
    assert_eq!(code(fx.home.open_read(&vp("etc/passwd"))), "path_escape");
    assert_eq!(code(fx.home.list(&vp("etc")).map(|_| ())), "path_escape");
    assert_eq!(code(fx.home.lstat(&vp("etc/passwd"))), "path_escape");
    assert_eq!(code(fx.home.check_upload_target(&vp("etc/x"))), "path_escape");
    assert_eq!(code(fx.home.mkdir(&vp("etc/x"), false)), "path_escape");
    assert_eq!(code(fx.home.remove(&vp("etc/hostname"))), "path_escape");
    // The link itself is visible with lstat, as a link.
    let m = fx.home.lstat(&vp("etc")).expect("lstat of the link itself");
    assert_eq!(m.kind, EntryKind::Symlink);
    assert!(std::path::Path::new("/etc/passwd").exists());
    assert_eq!(before, fx.snapshot());
}

#[test]
fn hostile_symlink_to_sibling_home_cannot_read_list_write_or_delete() {
    let fx = Fx::new();
    fx.link("../bob", "bob");
    let before = fx.snapshot();
    assert_eq!(code(fx.home.open_read(&vp("bob/secret.txt"))), "path_escape");
    assert_eq!(code(fx.home.list(&vp("bob")).map(|_| ())), "path_escape");
    assert_eq!(code(fx.home.stat(&vp("bob/dir/inner.txt"))), "path_escape");
    assert_eq!(code(fx.home.mkdir(&vp("bob/new"), false)), "path_escape");
    assert_eq!(code(fx.home.mkdir(&vp("bob/new/deeper"), true)), "path_escape");
    assert_eq!(code(fx.home.remove(&vp("bob/secret.txt"))), "path_escape");
    assert_eq!(code(fx.home.remove(&vp("bob/dir/inner.txt"))), "path_escape");
    assert_eq!(code(fx.home.check_upload_target(&vp("bob/planted.bin"))), "path_escape");
    assert_eq!(before, fx.snapshot());
}

#[test]
fn hostile_symlink_to_dotdot_exposes_nothing_of_the_homes_root() {
    let fx = Fx::new();
    fx.link("..", "up");
    fx.link(".", "here");
    let before = fx.snapshot();
    assert_eq!(code(fx.home.list(&vp("up")).map(|_| ())), "path_escape");
    assert_eq!(code(fx.home.check_dir(&vp("up"))), "path_escape");
    assert_eq!(code(fx.home.open_read(&vp("up/bob/secret.txt"))), "path_escape");
    // ".." is lexical: "here/.." is "/", so this names alice's own /bob.
    assert_eq!(code(fx.home.open_read(&vp("here/../bob/secret.txt"))), "not_found");
    assert_eq!(code(fx.home.stat(&vp("up/alice"))), "path_escape");
    assert_eq!(before, fx.snapshot());
}

#[test]
fn hostile_relative_symlink_chain_that_climbs_out_is_escape() {
    let fx = Fx::new();
    // l1 -> d/l2 -> ../e/l3 -> ../../../outside : each hop looks local.
    fx.mkdir("d");
    fx.mkdir("e");
    fx.link("d/l2", "l1");
    fx.link("../e/l3", "d/l2");
    fx.link("../../../outside", "e/l3");
    let before = fx.snapshot();
    assert_eq!(code(fx.home.open_read(&vp("l1/outside.txt"))), "path_escape");
    assert_eq!(code(fx.home.list(&vp("l1/sub")).map(|_| ())), "path_escape");
    assert_eq!(code(fx.home.stat(&vp("d/l2"))), "path_escape");
    assert_eq!(code(fx.home.remove(&vp("l1/sub/deep.txt"))), "path_escape");
    assert_eq!(code(fx.home.mkdir(&vp("l1/made"), true)), "path_escape");
    assert_eq!(before, fx.snapshot());
}

#[test]
fn hostile_symlinks_that_stay_inside_are_followed() {
    let fx = Fx::new();
    fx.write("docs/a.txt", "alpha");
    fx.link("docs", "docs_link");
    fx.mkdir("x/y");
    // A chain that wanders but stays inside: x/y/back -> ../../docs
    fx.link("../../docs", "x/y/back");
    let before = fx.snapshot();
    assert_eq!(read_all(&fx, "docs_link/a.txt"), "alpha");
    assert_eq!(read_all(&fx, "x/y/back/a.txt"), "alpha");
    fx.home.check_dir(&vp("docs_link")).expect("cd through an inside link");
    let mut l = fx.home.list(&vp("x/y/back")).expect("list through an inside link");
    let names: Vec<_> = l.next_batch(10).expect("batch").into_iter().map(|e| e.name).collect();
    assert_eq!(names, ["a.txt"]);
    assert!(fx.home.mkdir(&vp("docs_link/new"), false).expect("mkdir through link"));
    assert!(fx.alice().join("docs/new").is_dir());
    assert_eq!(before, fx.snapshot());
}

#[test]
fn hostile_absolute_symlink_is_escape_even_when_it_names_the_home() {
    // Absolute link text is resolved from the host root, which is outside by
    // definition; cap-std refuses it even if it happens to point back inside.
    let fx = Fx::new();
    fx.write("docs/a.txt", "alpha");
    fx.link(fx.alice().join("docs"), "abs");
    let before = fx.snapshot();
    assert_eq!(code(fx.home.open_read(&vp("abs/a.txt"))), "path_escape");
    assert_eq!(before, fx.snapshot());
}

#[test]
fn hostile_intermediate_component_pointing_out_is_escape() {
    let fx = Fx::new();
    fx.mkdir("a");
    fx.link("../../../outside", "a/mid");
    let before = fx.snapshot();
    assert_eq!(code(fx.home.check_dir(&vp("a/mid/sub"))), "path_escape");
    assert_eq!(code(fx.home.stat(&vp("a/mid/sub/deep.txt"))), "path_escape");
    assert_eq!(code(fx.home.lstat(&vp("a/mid/sub"))), "path_escape");
    assert_eq!(code(fx.home.open_read(&vp("a/mid/outside.txt"))), "path_escape");
    assert_eq!(code(fx.home.list(&vp("a/mid/sub")).map(|_| ())), "path_escape");
    assert_eq!(before, fx.snapshot());
}

#[test]
fn hostile_mkdir_through_or_onto_an_outside_symlink_creates_nothing_outside() {
    let fx = Fx::new();
    fx.link("../../outside", "out");
    let before = fx.snapshot();
    assert_eq!(code(fx.home.mkdir(&vp("out/new"), false)), "path_escape");
    assert_eq!(code(fx.home.mkdir(&vp("out/new/deeper"), true)), "path_escape");
    assert_eq!(code(fx.home.mkdir(&vp("out/sub"), true)), "path_escape");
    // The link itself is "something that exists".
    assert_eq!(code(fx.home.mkdir(&vp("out"), false)), "exists");
    assert_eq!(code(fx.home.mkdir(&vp("out"), true)), "path_escape");
    assert!(!exists(&fx.outside().join("new")));
    assert_eq!(before, fx.snapshot());
}

#[test]
fn hostile_remove_of_outside_links_removes_only_the_links() {
    let fx = Fx::new();
    fx.link("../bob/secret.txt", "secret_link");
    fx.link("../../outside", "out_dir_link");
    fx.link("/etc/hostname", "etc_file_link");
    let before = fx.snapshot();
    assert_eq!(code(fx.home.remove(&vp("out_dir_link/outside.txt"))), "path_escape");
    assert_eq!(fx.home.remove(&vp("secret_link")).expect("rm link"), (EntryKind::Symlink, 0));
    assert_eq!(fx.home.remove(&vp("out_dir_link")).expect("rm dir link"), (EntryKind::Symlink, 0));
    assert_eq!(fx.home.remove(&vp("etc_file_link")).expect("rm /etc link"), (EntryKind::Symlink, 0));
    for l in ["secret_link", "out_dir_link", "etc_file_link"] {
        assert!(!exists(&fx.alice().join(l)), "{l} is gone");
    }
    // The targets are untouched.
    assert_eq!(before, fx.snapshot());
    assert!(std::path::Path::new("/etc").is_dir());
}

#[test]
fn hostile_open_read_through_file_and_dir_links_pointing_out() {
    let fx = Fx::new();
    fx.link("../bob/secret.txt", "secret_link");
    fx.link("../../outside/outside.txt", "out_file");
    fx.link("/etc/passwd", "passwd");
    let before = fx.snapshot();
    for p in ["secret_link", "out_file", "passwd"] {
        assert_eq!(code(fx.home.open_read(&vp(p))), "path_escape", "{p}");
        assert_eq!(code(fx.home.stat(&vp(p))), "path_escape", "{p}");
    }
    // "/etc/passwd" on the wire is a *virtual* path: alice's /etc/passwd.
    assert_eq!(code(fx.home.open_read(&vp("/etc/passwd"))), "not_found");
    assert_eq!(before, fx.snapshot());
}

#[test]
fn hostile_upload_target_with_outside_parent_or_outside_link_is_escape() {
    let fx = Fx::new();
    fx.link("../bob", "bob");
    fx.link("../bob/secret.txt", "secret_link");
    fx.link("../../outside/sub", "deep_parent");
    let before = fx.snapshot();
    assert_eq!(code(fx.home.check_upload_target(&vp("bob/new.bin"))), "path_escape");
    assert_eq!(code(fx.home.check_upload_target(&vp("bob/secret.txt"))), "path_escape");
    assert_eq!(code(fx.home.check_upload_target(&vp("deep_parent/x"))), "path_escape");
    assert_eq!(code(fx.home.check_upload_target(&vp("secret_link"))), "path_escape");
    assert_eq!(before, fx.snapshot());
}

#[test]
fn hostile_listing_reports_outside_links_without_following_them() {
    let fx = Fx::new();
    fx.write("mine.txt", "mine");
    fx.link("../bob", "bob");
    fx.link("/etc", "etc");
    let before = fx.snapshot();
    let mut l = fx.home.list(&VPath::root()).expect("list /");
    let mut all = l.next_batch(100).expect("batch");
    assert!(l.next_batch(100).expect("end").is_empty() && l.done());
    all.sort_by(|a, b| a.name.cmp(&b.name));
    let got: Vec<_> = all.iter().map(|e| (e.name.as_str(), e.kind, e.size)).collect();
    // Links are reported as links; size is the length of their target text.
    assert_eq!(
        got,
        [("bob", EntryKind::Symlink, 6), ("etc", EntryKind::Symlink, 4), ("mine.txt", EntryKind::File, 4),]
    );
    assert!(!all.iter().any(|e| e.name == "secret.txt" || e.name == "passwd"));
    assert_eq!(code(fx.home.list(&vp("bob")).map(|_| ())), "path_escape");
    assert_eq!(before, fx.snapshot());
}

#[test]
fn hostile_directory_swapped_for_outside_link_between_calls_is_escape() {
    let fx = Fx::new();
    fx.write("work/f.txt", "mine");
    let before = fx.snapshot();
    // First call: a real directory.
    assert_eq!(read_all(&fx, "work/f.txt"), "mine");
    let mut open_listing = fx.home.list(&vp("work")).expect("list work");
    // Between calls, a local user swaps the directory for a link to bob's home.
    std::fs::rename(fx.alice().join("work"), fx.alice().join("work.old")).expect("rename");
    std::os::unix::fs::symlink("../bob", fx.alice().join("work")).expect("swap in link");
    std::fs::write(fx.tmp.path().join("homes/bob/f.txt"), "bob's f").expect("plant");
    let before = {
        let mut b = before;
        b.insert(fx.tmp.path().join("homes/bob/f.txt"), "bob's f".to_owned());
        b
    };
    // Second calls: every one is refused.
    assert_eq!(code(fx.home.open_read(&vp("work/f.txt"))), "path_escape");
    assert_eq!(code(fx.home.check_dir(&vp("work"))), "path_escape");
    assert_eq!(code(fx.home.list(&vp("work")).map(|_| ())), "path_escape");
    assert_eq!(code(fx.home.check_upload_target(&vp("work/g"))), "path_escape");
    assert_eq!(code(fx.home.mkdir(&vp("work/sub"), false)), "path_escape");
    assert_eq!(code(fx.home.remove(&vp("work/f.txt"))), "path_escape");
    // A listing opened before the swap keeps reading the directory it opened.
    let names: Vec<_> = open_listing.next_batch(10).expect("batch").into_iter().map(|e| e.name).collect();
    assert_eq!(names, ["f.txt"]);
    assert_eq!(before, fx.snapshot());
}

#[test]
fn hostile_names_with_nul_newline_and_control_characters_are_refused() {
    let fx = Fx::new();
    let before = fx.snapshot();
    for bad in ["a\0b", "a\nb", "x/\r", "\u{7f}", "../\0/etc", "\u{1b}[31m"] {
        let r = VPath::resolve(&VPath::root(), bad).map_err(super::FsError::from);
        assert_eq!(code(r), "path_invalid", "{bad:?}");
    }
    // A name with a newline that already exists on disk is listed verbatim
    // (it is valid UTF-8), and one that is not UTF-8 with U+FFFD.
    std::fs::write(fx.alice().join("new\nline"), "x").expect("write");
    std::fs::write(fx.alice().join(os(b"bad\xffname")), "y").expect("write");
    let mut l = fx.home.list(&VPath::root()).expect("list");
    let mut names: Vec<_> = l.next_batch(10).expect("batch").into_iter().map(|e| e.name).collect();
    names.sort();
    assert_eq!(names, ["bad\u{fffd}name", "new\nline"]);
    assert_eq!(before, fx.snapshot());
}

#[test]
fn hostile_reserved_names_are_refused_and_hidden() {
    let fx = Fx::new();
    fx.write(".mioftp/partials/p1", "partial bytes");
    fx.write(".mioftp-other", "hidden too");
    fx.write("visible.txt", "v");
    let before = fx.snapshot();
    for p in [".mioftp", ".mioftp/partials/p1", "a/../.mioftp/partials", "x/.mioftpz"] {
        let r = VPath::resolve(&VPath::root(), p).map_err(super::FsError::from);
        assert_eq!(code(r), "path_invalid", "{p}");
    }
    let mut l = fx.home.list(&VPath::root()).expect("list");
    let names: Vec<_> = l.next_batch(10).expect("batch").into_iter().map(|e| e.name).collect();
    assert_eq!(names, ["visible.txt"]);
    assert_eq!(l.count(), 1);
    assert_eq!(before, fx.snapshot());
    assert!(fx.alice().join(".mioftp/partials/p1").is_file());
}

#[test]
fn hostile_dotdot_in_paths_never_leaves_the_home() {
    let fx = Fx::new();
    let before = fx.snapshot();
    let deep = vp("/a/b");
    for p in ["..", "/..", "../bob", "../../outside", "/a/../..", "x/../../y"] {
        let r = VPath::resolve(&VPath::root(), p).map_err(super::FsError::from);
        assert_eq!(code(r), "path_escape", "{p}");
    }
    let r = VPath::resolve(&deep, "../../../bob/secret.txt").map_err(super::FsError::from);
    assert_eq!(code(r), "path_escape");
    assert_eq!(before, fx.snapshot());
}

#[test]
fn hostile_symlink_loop_is_refused_without_hanging() {
    let fx = Fx::new();
    fx.link("loop2", "loop1");
    fx.link("loop1", "loop2");
    let before = fx.snapshot();
    assert_eq!(code(fx.home.stat(&vp("loop1"))), "path_escape");
    assert_eq!(code(fx.home.open_read(&vp("loop1"))), "path_escape");
    assert_eq!(code(fx.home.list(&vp("loop1/x")).map(|_| ())), "path_escape");
    // The links themselves can still be removed.
    assert_eq!(fx.home.remove(&vp("loop1")).expect("rm"), (EntryKind::Symlink, 0));
    assert_eq!(before, fx.snapshot());
}

#[test]
fn hostile_usage_scan_does_not_follow_links_out() {
    let fx = Fx::new();
    fx.write("mine.bin", "12345");
    fx.link("../bob", "bob");
    fx.link("../../outside", "out");
    fx.link("/etc", "etc");
    let before = fx.snapshot();
    let mut scan = fx.home.usage_scan().expect("scan");
    let total = loop {
        if let Some(t) = scan.step(2).expect("step") {
            break t;
        }
    };
    assert_eq!(total, 5);
    assert_eq!(before, fx.snapshot());
}

#[test]
fn hostile_home_entry_that_is_a_link_out_of_the_homes_root_is_refused() {
    let fx = Fx::new();
    let homes = fx.tmp.path().join("homes");
    std::os::unix::fs::symlink("../outside", homes.join("mallory")).expect("symlink");
    let before = fx.snapshot();
    let err = Home::open(&homes, "mallory").err().expect("must not open");
    assert!(super::error::is_escape(&err), "{err:?}");
    for bad in ["", ".", "..", "../outside", "a/b", "nul\0"] {
        let err = Home::open(&homes, bad).err().expect("must not open");
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput, "{bad:?}");
    }
    assert_eq!(before, fx.snapshot());
}
