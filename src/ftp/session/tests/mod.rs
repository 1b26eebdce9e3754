//! FTP session tests without sockets: an [`FtpPair`] (`pair.rs`) drives a
//! session through the public contract on a fake clock, over the memory
//! storage, playing the driver's part for its requests (listeners,
//! connections, closes, pool jobs). `login.rs` covers USER/PASS, the pool
//! job, the delay, the throttle and the cache; `data.rs` the data
//! connections and transfers; this file the control connection.

mod data;
mod login;
mod pair;
mod work;

use pair::{FtpPair, PASSWORD};
use std::time::Duration;

#[test]
fn the_greeting_is_one_220_line() {
    let mut p = FtpPair::new();
    assert_eq!(p.replies(), ["220 mioftpd 0.1.0 ready."].map(|s| s.replace("0.1.0", env!("CARGO_PKG_VERSION"))));
}

#[test]
fn an_over_long_line_gets_one_500_and_the_next_line_is_read() {
    let mut p = FtpPair::new();
    p.replies();
    let mut line = vec![b'x'; 10_000];
    line.extend_from_slice(b"\r\nNOOP\r\n");
    p.send(&line);
    assert_eq!(p.codes(), [500, 200]);
    assert!(p.server.queued_output().is_empty());
}

#[test]
fn telnet_commands_are_stripped_and_iac_ip_dm_abor_is_an_abor() {
    let mut p = FtpPair::logged_in("alice");
    p.send(b"\xff\xfb\x01NO\xff\xfdXOP\r\n");
    assert_eq!(p.codes(), [200]);
    p.send(b"\xff\xf4\xff\xf2ABOR\r\n");
    assert_eq!(p.replies(), ["225 No transfer to abort."]);
}

#[test]
fn lines_that_are_not_utf8_are_refused_cleanly() {
    let mut p = FtpPair::logged_in("alice");
    p.send(b"MKD caf\xe9\r\nPWD\r\n");
    assert_eq!(p.codes(), [501, 257]);
    assert!(!p.exists("alice", "caf\u{e9}"));
}

#[test]
fn pipelined_commands_beyond_the_queue_wait_undecoded_and_are_all_answered() {
    let mut p = FtpPair::logged_in("alice");
    p.send(&b"NOOP\r\n".repeat(200));
    assert_eq!(p.codes().len(), 200);
}

#[test]
fn a_small_budget_spreads_a_flood_of_commands_over_several_calls() {
    let mut p = FtpPair::logged_in("alice");
    p.budget = 4 * crate::session::Budget::REQUEST;
    p.upstream.extend(b"NOOP\r\n".repeat(40));
    let mut calls = 0;
    let mut got = 0;
    while got < 40 {
        calls += 1;
        assert!(calls < 100, "no progress");
        p.step();
        got = String::from_utf8_lossy(&p.downstream).matches("200 NOOP").count();
    }
    assert!(calls >= 5, "40 commands at 4 per call took {calls} calls");
}

#[test]
fn idle_sessions_time_out_with_421_and_close() {
    let mut p = FtpPair::logged_in("alice");
    p.advance(Duration::from_secs(299));
    assert!(p.fire_timer().is_none(), "not due yet");
    p.advance(Duration::from_secs(2));
    let r = p.fire_timer().expect("due");
    assert!(r.starts_with("421 Idle timeout"), "{r}");
    assert!(p.server_closed());
}

#[test]
fn a_login_that_never_comes_times_out_and_is_recorded() {
    let mut p = FtpPair::new();
    p.replies();
    p.cmd("USER alice");
    p.advance(Duration::from_secs(31));
    let r = p.fire_timer().expect("due");
    assert!(r.starts_with("421 Login timeout"), "{r}");
    let log = p.log("register_login_accounts.log");
    assert_eq!(log.last().unwrap()["event"], "timeout");
    assert_eq!(log.last().unwrap()["proto"], "ftp");
}

#[test]
fn quit_answers_221_and_ends_the_session_after_logging_out() {
    let mut p = FtpPair::logged_in("alice");
    assert_eq!(p.codes_of("QUIT"), [221]);
    assert!(p.server_closed());
    let log = p.log("register_login_accounts.log");
    assert_eq!(log.last().unwrap()["event"], "logout");
}

#[test]
fn eof_after_pipelined_commands_answers_them_then_ends() {
    let mut p = FtpPair::logged_in("alice");
    p.send(b"NOOP\r\nPWD\r\n");
    p.client_eof = true;
    assert_eq!(p.codes(), [200, 257]);
    assert!(p.server_closed());
}

#[test]
fn shutdown_says_421_to_an_idle_session() {
    let mut p = FtpPair::logged_in("alice");
    p.shutdown();
    assert_eq!(p.codes(), [421]);
    assert!(p.server_closed());
}

#[test]
fn file_commands_confine_paths_as_the_native_protocol_does() {
    let mut p = FtpPair::logged_in("alice");
    assert_eq!(p.codes_of("MKD docs"), [257]);
    assert_eq!(p.replies_of("CWD docs"), ["250 Directory changed to /docs."]);
    assert_eq!(p.replies_of("PWD"), ["257 \"/docs\" is the current directory."]);
    assert_eq!(p.codes_of("CWD ../.."), [550], "an escape");
    assert_eq!(p.codes_of("CDUP"), [250]);
    assert_eq!(p.codes_of("CDUP"), [250], "CDUP at / stays at /");
    assert_eq!(p.codes_of("MKD .mioftp"), [553], "reserved names");
    assert_eq!(p.codes_of("RMD docs"), [250]);
    assert_eq!(p.codes_of("RMD docs"), [550]);
    p.plant("alice", "f.txt", b"12345");
    assert_eq!(p.replies_of("SIZE f.txt"), ["213 5"]);
    assert_eq!(p.codes_of("RMD f.txt"), [550], "RMD of a file");
    assert_eq!(p.codes_of("MKD d"), [257]);
    assert_eq!(p.codes_of("DELE d"), [550], "DELE of a folder");
    assert!(p.replies_of("MDTM f.txt")[0].starts_with("213 "));
    let mlst = p.replies_of("MLST f.txt");
    assert!(mlst[0].starts_with("250-Listing /f.txt") && mlst[0].contains("type=file;size=5;"), "{mlst:?}");
    assert_eq!(p.codes_of("DELE f.txt"), [250]);
    assert_eq!(p.codes_of("SIZE f.txt"), [550]);
    let cmds: Vec<_> = p.log("shell_command.log").iter().map(|r| r["event"].as_str().unwrap().to_owned()).collect();
    assert!(
        cmds.iter().all(|c| ["mkdir", "cd", "pwd", "rm", "size", "mdtm", "mlst"].contains(&c.as_str())),
        "{cmds:?}"
    );
    assert!(p.log("shell_command.log").iter().all(|r| r["proto"] == "ftp"));
}

#[test]
fn rename_replaces_a_file_atomically_moves_folders_and_keeps_usage_right() {
    let mut p = FtpPair::logged_in("alice");
    p.plant("alice", "a.bin", &[1; 100]);
    p.plant("alice", "b.bin", &[2; 40]);
    p.relogin("alice");
    let used = p.svc.users.get("alice").unwrap().used;
    assert_eq!(used, 140);
    assert_eq!(p.codes_of("RNTO x"), [503], "RNTO without RNFR");
    assert_eq!(p.codes_of("RNFR a.bin"), [350]);
    assert_eq!(p.codes_of("RNTO b.bin"), [250]);
    assert_eq!(p.memory.read_file("alice", "b.bin").unwrap(), vec![1; 100]);
    assert_eq!(p.svc.users.get("alice").unwrap().used, 100, "the replaced file's bytes are given back");
    p.cmd("MKD d1");
    p.cmd("RNFR d1");
    assert_eq!(p.codes_of("RNTO d2"), [250]);
    assert_eq!(p.codes_of("CWD d2"), [250]);
    p.cmd("CWD /");
    assert_eq!(p.codes_of("RNFR missing"), [550]);
    p.cmd("RNFR b.bin");
    p.cmd("NOOP");
    assert_eq!(p.codes_of("RNTO c.bin"), [503], "RNTO must follow RNFR directly");
    p.cmd("RNFR d2");
    assert_eq!(p.codes_of("RNTO d2/inner"), [553], "a folder cannot move into itself");
    let rec = p.log("shell_command.log").into_iter().find(|r| r["event"] == "rename").unwrap();
    assert_eq!(rec["args"], serde_json::json!(["/a.bin", "b.bin"]));
    assert_eq!(rec["path"], "/b.bin");
    let _ = PASSWORD;
}
