//! The FTP session's worker-pool jobs: the usage walk at login, STOR's
//! commit, DELE's and RMD's removals, and a resumed RETR's prefix hash each
//! go to the pool, the session answering nothing meanwhile; a job the pool
//! refuses is `450` with nothing done.

use super::pair::{FtpPair, PASSWORD};
use crate::protocol::scram;
use crate::worker::JobOutput;

fn sha(bytes: &[u8]) -> String {
    hex::encode(scram::sha256(bytes))
}

/// Sends `body` as a STOR of `path` and ends the data connection.
fn stor(p: &mut FtpPair, path: &str, body: &[u8]) {
    p.cmd("EPSV");
    p.cmd(&format!("STOR {path}"));
    p.connect_data();
    p.data.upstream.extend(body);
    p.data.client_eof = true;
    p.drive();
}

#[test]
fn the_first_login_sweeps_then_walks_the_home_on_the_pool_and_file_commands_wait_for_it() {
    let mut p = FtpPair::new();
    p.register("alice");
    p.plant("alice", "old.bin", &[1u8; 700]);
    p.replies();
    p.hold_jobs = true;
    p.cmd("USER alice");
    p.cmd(&format!("PASS {PASSWORD}"));
    p.run_held_jobs(); // the KDF; the sweep is asked for at once
    assert_eq!(p.codes(), [230]);
    assert_eq!(p.jobs[1..], ["Sweep"]);
    // A command that needs the usage waits; one that does not is answered.
    p.send(b"SIZE old.bin\r\n");
    assert!(p.replies().is_empty(), "SIZE waits for the usage");
    p.run_held_jobs(); // the sweep; the walk follows
    assert_eq!(p.jobs[2..], ["Scan"]);
    assert!(p.replies().is_empty());
    p.run_held_jobs();
    assert_eq!(p.replies(), ["213 700"]);
    assert_eq!(p.svc.users.get("alice").map(|u| u.used), Some(700));
}

#[test]
fn a_stor_is_committed_on_the_pool_and_226_waits_for_the_commit() {
    let mut p = FtpPair::logged_in("alice");
    p.hold_jobs = true;
    stor(&mut p, "up.bin", b"payload");
    assert_eq!(p.codes(), [150], "no 226 before the commit");
    assert_eq!(p.data.closes, 1, "the data socket is closed at once");
    assert_eq!(p.jobs.last().unwrap(), "Commit");
    assert!(!p.exists("alice", "up.bin"));
    p.send(b"NOOP\r\n");
    assert!(p.replies().is_empty(), "nothing is answered while the commit runs");
    p.run_held_jobs();
    let r = p.replies();
    assert!(r[0].starts_with("226 Transfer complete: 7 bytes"), "{r:?}");
    assert_eq!(r[1], "200 NOOP ok.");
    assert_eq!(p.memory.read_file("alice", "up.bin").unwrap(), b"payload");
}

#[test]
fn a_commit_the_pool_refuses_is_450_and_the_upload_resumes_with_rest() {
    let mut p = FtpPair::logged_in("alice");
    p.hold_jobs = true;
    stor(&mut p, "up.bin", b"0123456789");
    p.replies();
    p.answer_job(JobOutput::Busy);
    let r = p.replies();
    assert!(r[0].starts_with("450 Server busy"), "{r:?}");
    assert!(!p.exists("alice", "up.bin"));
    assert_eq!(p.log("upload_file.log").pop().unwrap()["reason"], "server_busy");
    // The partial holds the 10 bytes: REST 10 + STOR of the rest completes it.
    p.hold_jobs = false;
    p.cmd("EPSV");
    p.cmd("REST 10");
    p.cmd("STOR up.bin");
    p.data.client_eof = false; // a new data connection
    p.connect_data();
    p.data.upstream.extend(b"abc");
    p.data.client_eof = true;
    p.drive();
    assert!(p.replies().iter().any(|r| r.starts_with("226 ")));
    assert_eq!(p.memory.read_file("alice", "up.bin").unwrap(), b"0123456789abc");
}

#[test]
fn dele_and_rmd_run_on_the_pool_and_a_refused_job_removes_nothing() {
    let mut p = FtpPair::logged_in("alice");
    p.plant("alice", "f.bin", &[3u8; 500]);
    p.plant("alice", "d/x", b"x");
    p.relogin("alice");
    p.hold_jobs = true;
    p.send(b"DELE f.bin\r\nNOOP\r\n");
    assert!(p.replies().is_empty(), "DELE waits for its job, NOOP for DELE");
    assert_eq!(p.jobs.last().unwrap(), "Remove");
    p.answer_job(JobOutput::Busy);
    assert_eq!(p.codes(), [450, 200]);
    assert!(p.exists("alice", "f.bin"), "nothing was removed");
    p.hold_jobs = false;
    assert_eq!(p.codes_of("DELE f.bin"), [250]);
    assert!(!p.exists("alice", "f.bin"));
    assert_eq!(p.svc.users.get("alice").map(|u| u.used), Some(1), "usage shrank by the file");
    let rec = p.log("shell_command.log").pop().unwrap();
    assert_eq!((rec["event"].as_str(), rec["freed"].as_u64()), (Some("rm"), Some(500)));
    assert_eq!(p.codes_of("RMD d"), [550], "not empty");
    p.cmd("DELE d/x");
    assert_eq!(p.replies_of("RMD d"), ["250 Directory /d removed."]);
}

#[test]
fn retr_after_rest_of_an_uncached_file_hashes_the_prefix_on_the_pool_first() {
    let mut p = FtpPair::logged_in("alice");
    let body: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    p.plant("alice", "r.bin", &body);
    p.hold_jobs = true;
    p.cmd("EPSV");
    p.cmd("REST 40000");
    assert!(p.cmd("RETR r.bin").is_empty(), "no 150 before the prefix is hashed");
    assert_eq!(p.jobs.last().unwrap(), "Hash");
    p.connect_data();
    assert!(p.replies().is_empty(), "still hashing");
    p.run_held_jobs();
    assert_eq!(p.codes(), [150, 226]);
    assert_eq!(p.data.downstream, body[40_000..]);
    let rec = p.log("download_file.log").pop().unwrap();
    assert_eq!((rec["offset"].as_u64(), rec["bytes"].as_u64()), (Some(40_000), Some(60_000)));
    assert_eq!(rec["sha256"], sha(&body), "the digest covers the whole file");
}
