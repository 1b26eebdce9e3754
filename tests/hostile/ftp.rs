//! Hostile FTP peers on the FTP front end, beside the arena's healthy
//! native client: an over-long control line, a storm of PASV with no data
//! connection, path escapes, uploads over the quota, commands before login,
//! and a data connection that stalls beside a healthy transfer.

use super::*;
use common::ftp::Ftp;
use std::io::{Read, Write};
use std::time::Duration;

fn ftp_arena(tweak: impl FnOnce(&mut mioftp::config::Config)) -> Arena {
    arena_with(|c| {
        c.ftp.listen = Some("127.0.0.1:0".parse().unwrap());
        tweak(c);
    })
}

/// This process's listening TCP sockets on ports 20000-20999 (this test's
/// passive range; the other tests use the default one): /proc/net/tcp's
/// LISTEN entries whose inode is one of our descriptors. The range is below
/// Linux's ephemeral ports (32768-60999), so no other test's listener on
/// port 0 can land in it (one did, at 40000-40999, while tests ran in
/// parallel).
fn passive_listeners() -> usize {
    let ours: std::collections::HashSet<String> = std::fs::read_dir("/proc/self/fd")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| std::fs::read_link(e.path()).ok())
        .filter_map(|l| l.to_str()?.strip_prefix("socket:[")?.strip_suffix(']').map(str::to_owned))
        .collect();
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
    table
        .lines()
        .skip(1)
        .filter(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let port = f.get(1).and_then(|a| a.rsplit(':').next()).and_then(|p| u16::from_str_radix(p, 16).ok());
            f.get(3) == Some(&"0A")
                && port.is_some_and(|p| (20000..=20999).contains(&p))
                && f.get(9).is_some_and(|inode| ours.contains(*inode))
        })
        .count()
}

#[test]
fn a_100_kib_control_line_gets_one_500_and_the_session_goes_on() {
    let a = ftp_arena(|_| {});
    let mut f = Ftp::login(a.server.ftp(), "mallory");
    let mut line = vec![b'A'; 100 * 1024];
    line.extend_from_slice(b"\r\nNOOP\r\n");
    f.send_raw(&line);
    let r = f.reply();
    assert!(r.is(500) && r.text.contains("too long"), "{r:?}");
    assert!(f.reply().is(200), "the line after it is read normally");
    // A line with no end at all: still one 500, and nothing held.
    f.send_raw(&vec![b'B'; 64 * 1024]);
    assert!(f.reply().is(500));
    f.send_raw(b"\r\nPWD\r\n");
    assert!(f.reply().is(257));
    a.finish(&[]);
}

#[test]
fn ten_thousand_pasv_without_a_data_connection_leak_nothing() {
    let a = ftp_arena(|c| c.ftp.passive_ports = "20000-20999".parse().unwrap());
    let mut f = Ftp::login(a.server.ftp(), "mallory");
    assert!(f.cmd("PASV").is(227));
    assert_eq!(passive_listeners(), 1);
    // Pipelined in batches, as fast as the server answers.
    for _ in 0..100 {
        f.send_raw(&b"PASV\r\n".repeat(100));
        for _ in 0..100 {
            let r = f.reply();
            assert!(r.is(227), "{r:?}");
        }
    }
    // Each PASV closed the listener of the one before: one is open now.
    assert_eq!(passive_listeners(), 1, "listeners left open");
    assert!(f.cmd("NOOP").is(200));
    a.finish(&[]);
}

#[test]
fn paths_that_leave_the_home_are_refused() {
    let a = ftp_arena(|_| {});
    let mut f = Ftp::login(a.server.ftp(), "mallory");
    for path in ["../../accounts/steady.json", "../steady/keep.txt", "/../../server.key", "..//../logs"] {
        let r = f.retr(path).expect_err("refused");
        assert!(r.is(550), "RETR {path}: {r:?}");
    }
    let r = f.retr("../../accounts/x.json").expect_err("refused");
    assert!(r.is(550), "{r:?}");
    for cmd in ["SIZE ../steady/keep.txt", "MDTM ../../server.key", "DELE ../steady/keep.txt", "RNFR ../steady"] {
        assert!(f.cmd(cmd).is(550), "{cmd}");
    }
    // CWD above the top is an escape, as in the native protocol; CDUP at
    // the top stays there.
    assert!(f.cmd("CWD ../..").is(550));
    assert!(f.cmd("CDUP").is(250));
    assert_eq!(f.cmd("PWD").text, "\"/\" is the current directory.");
    assert!(f.stor("../escape.bin", b"x").is(550));
    assert!(f.cmd("MKD ../../evil").is(550));
    // Names that are not UTF-8 are refused before any path is looked at.
    f.send_raw(b"MKD bad\xc3\x28name\r\n");
    assert!(f.reply().is(501));
    a.finish(&[]);
}

#[test]
fn stor_over_the_quota_is_cut_with_552_and_leaves_nothing_visible() {
    let a = ftp_arena(|c| c.default_quota = Some(1024 * 1024));
    let mut f = Ftp::login(a.server.ftp(), "mallory");
    assert!(f.stor("fits.bin", &vec![1u8; 512 * 1024]).is(226));
    let r = f.stor("big.bin", &vec![2u8; 2 * 1024 * 1024]);
    assert!(r.is(552), "{r:?}");
    assert!(f.cmd("SIZE big.bin").is(550), "the cut upload is not visible");
    // ALLO beyond the free space is refused at once.
    assert!(f.cmd(&format!("ALLO {}", 1024 * 1024)).is(552));
    assert!(f.cmd("NOOP").is(200));
    let last = a.server.log("upload_file.log").pop().unwrap();
    assert_eq!((last["outcome"].as_str(), last["reason"].as_str()), (Some("rejected"), Some("quota_exceeded")));
    a.finish(&["fits.bin"]);
}

#[test]
fn file_and_transfer_commands_before_login_do_nothing() {
    let a = ftp_arena(|_| {});
    let mut f = Ftp::connect(a.server.ftp());
    for cmd in ["STOR x", "RETR keep.txt", "DELE x", "MKD x", "RNFR x", "RNTO y", "LIST", "PASV", "EPSV", "APPE x"] {
        assert!(f.cmd(cmd).is(530), "{cmd}");
    }
    f.cmd("USER mallory");
    assert!(f.cmd("PWD").is(530), "USER alone is not a login");
    a.finish(&[]);
}

#[test]
fn a_stalled_data_connection_does_not_slow_a_healthy_transfer() {
    let a = ftp_arena(|c| c.transfer_timeout = Duration::from_secs(2));
    let big = mioftp_testkit::bytes(32 * 1024 * 1024, 9);
    let mut slow = Ftp::login(a.server.ftp(), "mallory");
    assert!(slow.stor("big.bin", &big).is(226));
    // The slow client asks for the file and never reads its data socket.
    let (_stalled, first) = slow.transfer("RETR big.bin");
    assert!(first.is(150), "{first:?}");
    // Meanwhile a healthy client downloads the same file in full.
    let mut healthy = Ftp::login(a.server.ftp(), "mallory");
    let got = healthy.retr("big.bin").expect("the healthy download completes");
    assert!(got == big, "the healthy download is byte for byte");
    // The stalled transfer is cut by the transfer timeout, and its session with it.
    let end = slow.try_reply();
    assert!(end.as_ref().is_none_or(|r| r.code == 426 || r.code == 421), "{end:?}");
    let mut buf = [0u8; 16];
    let _ = slow.ctrl.get_mut().set_read_timeout(Some(Duration::from_secs(10)));
    assert!(matches!(slow.ctrl.get_mut().read(&mut buf), Ok(0) | Err(_)), "the slow session is closed");
    let downs = a.server.log("download_file.log");
    assert!(downs.iter().any(|r| r["outcome"] == "complete"));
    assert!(downs.iter().any(|r| r["outcome"] == "incomplete"));
    drop(healthy.ctrl.get_mut().write_all(b"QUIT\r\n"));
    a.finish(&["big.bin"]);
}
