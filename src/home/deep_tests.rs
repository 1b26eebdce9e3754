//! Trees deeper than any path can name: the usage scan and the recursive
//! `rm` walk them relative to directory handles with a bounded number of
//! descriptors, and a walk that meets a tree moved under it either finds its
//! way back (by `..`, then by name from its start) or stops with an error,
//! never counting or removing something it did not reach by name.

use super::test_fixture::{Fx, vp};
use super::walk::MAX_OPEN;
use super::{Home, UsageScan};
use crate::storage::Freed;
use rustix::fs::{self, Mode, OFlags};
use std::io::Write as _;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

/// Creates `levels` nested folders named `d` in `base`, one at a time
/// relative to the previous one's handle (a path to the bottom would be
/// far over PATH_MAX), with a file of `size` bytes in every `every`-th
/// level and at the bottom. Returns the bytes of all the files.
fn deep_chain(base: &Path, levels: usize, every: usize, size: usize) -> u64 {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let mut dir: OwnedFd = fs::open(base, flags, Mode::empty()).unwrap();
    let mut total = 0;
    for level in 1..=levels {
        fs::mkdirat(dir.as_fd(), "d", Mode::from_raw_mode(0o755)).unwrap();
        dir = fs::openat(dir.as_fd(), "d", flags, Mode::empty()).unwrap();
        if level % every == 0 || level == levels {
            let f = fs::openat(
                dir.as_fd(),
                "f",
                OFlags::WRONLY | OFlags::CREATE | OFlags::CLOEXEC,
                Mode::from_raw_mode(0o644),
            );
            std::fs::File::from(f.unwrap()).write_all(&vec![1u8; size]).unwrap();
            total += size as u64;
        }
    }
    total
}

/// Runs a scan to the end in steps of `budget`.
fn finish(scan: &mut UsageScan, budget: usize) -> std::io::Result<u64> {
    loop {
        if let Some(total) = scan.step(budget)? {
            return Ok(total);
        }
    }
}

fn remove(home: &Home, p: &str) -> (Freed, usize) {
    let (freed, result, peak) = home.remove_tree_counted(&vp(p));
    result.unwrap();
    (freed, peak)
}

#[test]
fn a_ten_thousand_level_tree_is_scanned_and_removed_with_at_most_64_descriptors() {
    let fx = Fx::on_tmpfs();
    fx.write("top.txt", "12345");
    let bytes = deep_chain(&fx.alice(), 10_000, 1_000, 10);
    assert_eq!(bytes, 100);
    let mut scan = fx.home.usage_scan().unwrap();
    assert_eq!(finish(&mut scan, 2048).unwrap(), 105);
    assert!(scan.peak_open() <= MAX_OPEN, "the scan held {} descriptors", scan.peak_open());
    assert!(scan.peak_open() > MAX_OPEN / 2, "the window was used: {}", scan.peak_open());
    let (freed, peak) = remove(&fx.home, "d");
    assert_eq!(freed, Freed { count: 10_000 + 10, bytes: 100 });
    assert!(peak <= MAX_OPEN, "rm -r held {peak} descriptors");
    assert!(!fx.alice().join("d").exists());
    assert_eq!(finish(&mut fx.home.usage_scan().unwrap(), 7).unwrap(), 5);
}

#[test]
fn a_wide_and_deep_tree_is_removed_whole_and_links_inside_are_not_followed() {
    let fx = Fx::on_tmpfs();
    for i in 0..5 {
        deep_chain(&fx.alice().join("t").join(format!("b{i}")).tap_mkdir(), 200, 50, 3);
    }
    fx.link(fx.outside(), "t/b0/out");
    fx.link("../../..", "t/b1/up");
    let before = fx.snapshot();
    let mut scan = fx.home.usage_scan().unwrap();
    assert_eq!(finish(&mut scan, 100).unwrap(), 5 * 4 * 3);
    let (freed, _) = remove(&fx.home, "t");
    // t, 5 b's, 5 x 200 levels, 5 x 4 files, 2 links.
    assert_eq!(freed, Freed { count: 1 + 5 + 1000 + 20 + 2, bytes: 60 });
    assert_eq!(before, fx.snapshot(), "nothing outside the home changed");
}

#[test]
fn a_scan_finds_its_way_back_when_an_ancestor_moves_under_it() {
    let fx = Fx::on_tmpfs();
    deep_chain(&fx.alice(), 300, 1_000, 7);
    let mut scan = fx.home.usage_scan().unwrap();
    // Deep enough that the 20th level's handle is closed.
    assert_eq!(scan.step(1_000).unwrap(), None);
    assert!(scan.peak_open() > 50);
    // Level 20 moves to the top: `..` of it is no longer level 19, so the
    // walk re-opens levels 1..=19 by name, finds them, and carries on.
    let level = |n: usize| fx.alice().join(vec!["d"; n].join("/"));
    std::fs::rename(level(20), fx.alice().join("moved")).unwrap();
    assert_eq!(finish(&mut scan, 1_000).unwrap(), 7, "counted once, where the walk reached it");
}

#[test]
fn a_scan_stops_with_an_error_when_its_path_is_gone() {
    let fx = Fx::on_tmpfs();
    deep_chain(&fx.alice(), 300, 1_000, 7);
    let mut scan = fx.home.usage_scan().unwrap();
    assert_eq!(scan.step(1_000).unwrap(), None);
    let level = |n: usize| fx.alice().join(vec!["d"; n].join("/"));
    std::fs::rename(level(20), fx.alice().join("moved")).unwrap();
    std::fs::rename(level(1), fx.alice().join("renamed")).unwrap();
    let e = finish(&mut scan, 1_000).unwrap_err();
    assert!(e.to_string().contains("moved while it was being walked"), "{e}");
}

/// `create_dir_all` that hands the path back, for chaining.
trait TapMkdir {
    fn tap_mkdir(self) -> Self;
}

impl TapMkdir for std::path::PathBuf {
    fn tap_mkdir(self) -> Self {
        std::fs::create_dir_all(&self).unwrap();
        self
    }
}
