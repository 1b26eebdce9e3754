//! `put -r` and `get -r` at the prompt of a real terminal: one bar for the
//! whole tree, with the files done in its label; Ctrl-C in the middle goes
//! back to the prompt, and the same command again resumes the file it cut
//! and completes the tree byte-identical. The transfers go through a relay
//! that is slow while a flag is set, so there is a middle to interrupt.

use super::common::wait_until;
use super::relay::relay;
use super::{require_tmux, setup};
use mioftp_testkit::bytes;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

const BIG: usize = 8 << 20;

/// A tree of three files, the big one first (names sort), and a link.
fn make_tree(root: &Path) -> Vec<u8> {
    let big = bytes(BIG, 18);
    std::fs::create_dir_all(root.join("sub")).unwrap();
    std::fs::write(root.join("a-big.bin"), &big).unwrap();
    std::fs::write(root.join("sub/b.txt"), b"b").unwrap();
    std::fs::write(root.join("sub/c.txt"), b"c").unwrap();
    std::os::unix::fs::symlink("a-big.bin", root.join("link")).unwrap();
    big
}

#[test]
fn put_r_shows_one_bar_for_the_tree_and_after_ctrl_c_the_same_command_resumes() {
    require_tmux();
    let s = setup(|_| {});
    let big = make_tree(&s.work.path().join("tree"));
    let slow = Arc::new(AtomicBool::new(true));
    let (addr, sent_up) = relay(s.f.addr(), Some(slow.clone()), None);
    let pane = s.pane("putr", &addr);
    pane.login();
    pane.type_text("put -r tree\n");
    pane.wait_for("skipped tree/link: symbolic link, not followed");
    pane.wait("one bar for the tree", |screen| {
        screen.contains("put -r tree 0/3 files [") && screen.contains("/8.00 MiB")
    });
    // Some of the big file has reached the server: there is something to resume.
    wait_until("a megabyte through the relay", || sent_up.load(Ordering::SeqCst) > 1 << 20);
    pane.keys(&["C-c"]);
    pane.wait_for("cancelled");
    pane.wait("the prompt again", |_| pane.last_line().trim_end() == "mioftp alice:/>");
    assert!(!s.f.home("tree/a-big.bin").exists(), "nothing half-done under the final name");

    slow.store(false, Ordering::SeqCst);
    pane.type_text("put -r tree\n");
    let screen = pane.wait_for("put -r tree: 3 files, 2 folders, ");
    assert!(screen.contains(", 1 resumed, 1 skipped"), "{screen}");
    assert_eq!(std::fs::read(s.f.home("tree/a-big.bin")).unwrap(), big);
    assert_eq!(std::fs::read(s.f.home("tree/sub/c.txt")).unwrap(), b"c");
}

#[test]
fn get_r_shows_one_bar_for_the_tree_and_after_ctrl_c_the_same_command_resumes() {
    require_tmux();
    let s = setup(|_| {});
    let big = make_tree(&s.f.home("tree"));
    let slow = Arc::new(AtomicBool::new(true));
    let (addr, _) = relay(s.f.addr(), None, Some(slow.clone()));
    let pane = s.pane("getr", &addr);
    pane.login();
    pane.type_text("get -r tree\n");
    pane.wait_for("skipped /tree/link: symbolic link, not followed");
    // The bar shows once bytes are in the partial file.
    pane.wait("one bar for the tree", |screen| {
        screen.contains("get -r /tree 0/3 files [") && screen.contains("/8.00 MiB")
    });
    pane.keys(&["C-c"]);
    pane.wait_for("cancelled");
    pane.wait("the prompt again", |_| pane.last_line().trim_end() == "mioftp alice:/>");
    let part = s.work.path().join("tree/a-big.bin.mioftp-part");
    let kept = std::fs::metadata(&part).map(|m| m.len()).unwrap_or(0);
    assert!(kept > 0 && kept < BIG as u64, "kept {kept} bytes");

    slow.store(false, Ordering::SeqCst);
    pane.type_text("get -r tree\n");
    let screen = pane.wait_for("get -r /tree: 3 files, 2 folders, ");
    assert!(screen.contains(", 1 resumed, 1 skipped"), "{screen}");
    assert_eq!(std::fs::read(s.work.path().join("tree/a-big.bin")).unwrap(), big);
    assert_eq!(std::fs::read(s.work.path().join("tree/sub/b.txt")).unwrap(), b"b");
    assert!(!part.exists());
}
