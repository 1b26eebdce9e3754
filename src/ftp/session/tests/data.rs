//! Data connections and transfers: PASV/EPSV/PORT/EPRT requests, 150 before
//! and 226 after the close, uploads through the partial area, the quota
//! cut, REST, ABOR, a lost connection, listings, HASH.

use super::pair::FtpPair;
use crate::protocol::scram;

fn sha(bytes: &[u8]) -> String {
    hex::encode(scram::sha256(bytes))
}

#[test]
fn pasv_asks_for_a_listener_from_the_control_peer_only_and_answers_227() {
    let mut p = FtpPair::logged_in("alice");
    let r = p.replies_of("PASV");
    assert_eq!(r, ["227 Entering Passive Mode (127,0,0,1,195,87)."]);
    assert_eq!(p.data.listening, Some("127.0.0.1".parse().unwrap()), "only the control peer may connect");
    assert_eq!(p.replies_of("EPSV"), ["229 Entering Extended Passive Mode (|||50007|)"]);
    // The login's KDF, stale-partial sweep and usage walk, then the data.
    assert_eq!(
        p.requests,
        ["work", "work", "work", "listen", "close", "listen"],
        "a new PASV closes the old one first"
    );
    assert_eq!(p.codes_of("EPSV ALL"), [200]);
    assert_eq!(p.codes_of("PASV"), [501]);
    assert_eq!(p.codes_of("EPSV 2"), [522], "an IPv4 control connection");
}

#[test]
fn passive_ports_come_from_the_configured_range_and_pasv_announces_the_masquerade_address() {
    let mut p = FtpPair::logged_in_with("alice", |c| {
        c.ftp.passive_ports = "40000-40009".parse().unwrap();
        c.ftp.masquerade = Some("203.0.113.9".parse().unwrap());
    });
    // 40000 = 156 * 256 + 64.
    assert_eq!(p.replies_of("PASV"), ["227 Entering Passive Mode (203,0,113,9,156,64)."]);
    let (ip, ports) = p.data.listen_on.clone().unwrap();
    assert_eq!((ip, ports), ("127.0.0.1".parse().unwrap(), 40000..=40009), "bound locally, announced masqueraded");
    assert_eq!(p.replies_of("EPSV"), ["229 Entering Extended Passive Mode (|||40000|)"], "EPSV names no address");
}

#[test]
fn active_mode_is_off_by_default_and_checked_before_connecting_when_on() {
    let mut p = FtpPair::logged_in("alice");
    assert_eq!(p.codes_of("PORT 127,0,0,1,19,136"), [502]);
    let mut p = FtpPair::logged_in_with("alice", |c| c.ftp.active = true);
    assert_eq!(p.codes_of("PORT 127,0,0,2,19,136"), [501], "another host: FTP bounce");
    assert_eq!(p.codes_of("EPRT |1|127.0.0.1|21|"), [501], "a privileged port");
    assert!(p.data.connecting.is_none(), "nothing was tried");
    assert_eq!(p.codes_of("PORT 127,0,0,1,19,136"), [200]);
    assert_eq!(p.data.connecting, Some("127.0.0.1:5000".parse().unwrap()));
}

#[test]
fn retr_sends_150_the_bytes_then_226_only_after_the_data_close() {
    let mut p = FtpPair::logged_in("alice");
    let body: Vec<u8> = (0..300_000u32).map(|i| (i * 7) as u8).collect();
    p.plant("alice", "f.bin", &body);
    p.cmd("PASV");
    assert!(p.cmd("RETR f.bin").is_empty(), "no 150 before the data connection is there");
    p.connect_data();
    let r = p.replies();
    assert_eq!(r.len(), 2, "{r:?}");
    assert!(r[0].starts_with("150 "), "{r:?}");
    assert!(r[1].starts_with("226 Transfer complete: 300000 bytes, SHA-256 "), "{r:?}");
    assert_eq!(p.data.downstream, body);
    assert_eq!(p.data.closes, 1);
    let rec = p.log("download_file.log").pop().unwrap();
    assert_eq!((rec["outcome"].as_str(), rec["proto"].as_str()), (Some("complete"), Some("ftp")));
    assert_eq!(rec["sha256"], sha(&body));
}

#[test]
fn the_226_is_held_until_the_driver_takes_the_close() {
    let mut p = FtpPair::logged_in("alice");
    p.plant("alice", "f.bin", b"abc");
    p.cmd("PASV");
    p.cmd("RETR f.bin");
    // Open the data connection and pump only the data side: the 226 must
    // not be queued on the control connection before the close is taken.
    p.data.open = true;
    p.data.listening = None;
    let peer = "127.0.0.1:4100".parse().unwrap();
    let ev = crate::session::ChannelEvent::Open { channel: crate::ftp::session::DATA, peer };
    crate::session::Endpoint::handle_channel(&mut p.server, ev, p.now, &mut p.svc);
    let mut budget = crate::session::Budget::unlimited();
    let mut sink = Vec::new();
    crate::session::Endpoint::write_to(
        &mut p.server,
        crate::ftp::session::DATA,
        &mut sink,
        &mut budget,
        p.now,
        &mut p.svc,
    )
    .unwrap();
    assert_eq!(sink, b"abc");
    let queued = String::from_utf8_lossy(p.server.queued_output()).into_owned();
    assert!(queued.contains("150 ") && !queued.contains("226"), "{queued:?}");
    assert!(matches!(
        crate::session::Endpoint::poll_request(&mut p.server),
        Some(crate::session::DriverRequest::CloseChannel { .. })
    ));
    assert!(String::from_utf8_lossy(p.server.queued_output()).contains("226 "));
}

#[test]
fn stor_goes_through_the_partial_area_and_is_visible_only_after_226() {
    let mut p = FtpPair::logged_in("alice");
    let body = vec![9u8; 100_000];
    p.cmd("EPSV");
    p.cmd("STOR up.bin");
    p.connect_data();
    assert_eq!(p.codes(), [150]);
    p.data.upstream.extend(&body[..60_000]);
    p.drive();
    assert!(!p.exists("alice", "up.bin"), "not visible while the data connection is open");
    assert_eq!(p.codes_of("SIZE up.bin"), Vec::<u16>::new(), "SIZE waits for the transfer (only ABOR jumps)");
    p.data.upstream.extend(&body[60_000..]);
    p.data.client_eof = true;
    p.drive();
    let r = p.replies();
    assert!(r[0].starts_with("226 Transfer complete: 100000 bytes"), "{r:?}");
    assert_eq!(r[1], "213 100000", "the SIZE that waited, after the 226");
    assert_eq!(p.memory.read_file("alice", "up.bin").unwrap(), body);
    let rec = p.log("upload_file.log").pop().unwrap();
    assert_eq!((rec["outcome"].as_str(), rec["size"].as_u64()), (Some("complete"), Some(100_000)));
    assert_eq!(rec["sha256"], sha(&body));
}

#[test]
fn stor_beyond_the_quota_is_cut_with_552_and_nothing_appears() {
    let mut p = FtpPair::logged_in_with("alice", |c| c.default_quota = Some(50_000));
    p.cmd("EPSV");
    p.cmd("STOR big.bin");
    p.connect_data();
    p.data.upstream.extend(vec![1u8; 80_000]);
    p.drive();
    let r = p.replies();
    assert!(r.iter().any(|r| r.starts_with("552 Quota exceeded.")), "{r:?}");
    assert_eq!(p.data.closes, 1, "the data connection is cut");
    assert!(!p.exists("alice", "big.bin"));
    assert_eq!(p.log("upload_file.log").pop().unwrap()["reason"], "quota_exceeded");
    // Nothing is kept: a hidden partial would hold the quota.
    assert_eq!(p.svc.users.get("alice").map(|u| (u.used, u.reserved)), Some((0, 0)));
    assert_eq!(p.memory.usage("alice"), 0);
    assert_eq!(p.codes_of(&format!("ALLO {}", 60_000)), [552]);
    assert_eq!(p.codes_of("ALLO 10"), [200]);
}

#[test]
fn rest_then_stor_resumes_only_a_partial_of_exactly_that_size() {
    let mut p = FtpPair::logged_in("alice");
    let body: Vec<u8> = (0..50_000u32).map(|i| i as u8).collect();
    p.cmd("EPSV");
    p.cmd("STOR r.bin");
    p.connect_data();
    p.data.upstream.extend(&body[..20_000]);
    p.drive();
    p.fail_data(); // the client's data connection is reset
    assert!(p.replies().iter().any(|r| r.starts_with("426 ")));
    assert!(!p.exists("alice", "r.bin"));
    p.cmd("EPSV");
    p.cmd("REST 19999");
    assert_eq!(p.codes_of("STOR r.bin"), [554], "the partial holds 20000, not 19999");
    p.cmd("REST 20000");
    p.cmd("STOR r.bin");
    p.connect_data();
    p.data.upstream.extend(&body[20_000..]);
    p.data.client_eof = true;
    p.drive();
    assert!(p.replies().iter().any(|r| r.starts_with("226 ")));
    assert_eq!(p.memory.read_file("alice", "r.bin").unwrap(), body);
    let rec = p.log("upload_file.log").pop().unwrap();
    assert_eq!((rec["offset"].as_u64(), rec["bytes"].as_u64()), (Some(20_000), Some(30_000)));
    assert_eq!(rec["sha256"], sha(&body), "the digest covers the whole file");
}

#[test]
fn appe_appends_to_the_committed_file_through_a_partial() {
    let mut p = FtpPair::logged_in("alice");
    p.plant("alice", "log.txt", b"first\n");
    p.relogin("alice");
    p.cmd("EPSV");
    p.cmd("APPE log.txt");
    p.connect_data();
    p.data.upstream.extend(b"second\n");
    p.data.client_eof = true;
    p.drive();
    assert!(p.replies().iter().any(|r| r.starts_with("226 ")));
    assert_eq!(p.memory.read_file("alice", "log.txt").unwrap(), b"first\nsecond\n");
    p.cmd("EPSV");
    p.cmd("REST 3");
    assert_eq!(p.codes_of("APPE log.txt"), [503]);
}

#[test]
fn abor_during_retr_answers_426_then_226_and_records_the_cut() {
    let mut p = FtpPair::logged_in("alice");
    p.plant("alice", "big.bin", &vec![5u8; 1 << 20]);
    p.data.room = 64 * 1024; // the client reads slowly
    p.cmd("PASV");
    p.cmd("RETR big.bin");
    p.connect_data();
    assert_eq!(p.codes(), [150]);
    assert_eq!(p.replies_of("ABOR"), ["426 Transfer aborted.", "226 ABOR command successful."]);
    assert_eq!(p.data.closes, 1);
    let rec = p.log("download_file.log").pop().unwrap();
    assert_eq!((rec["outcome"].as_str(), rec["reason"].as_str()), (Some("incomplete"), Some("cancelled")));
    assert_eq!(p.codes_of("NOOP"), [200]);
}

#[test]
fn quit_during_a_transfer_is_answered_after_its_226() {
    let mut p = FtpPair::logged_in("alice");
    p.cmd("EPSV");
    p.cmd("STOR q.bin");
    p.connect_data();
    p.send(b"QUIT\r\n");
    p.data.upstream.extend(b"data");
    p.data.client_eof = true;
    p.drive();
    let codes: Vec<u16> = p.replies().iter().map(|r| r[..3].parse().unwrap()).collect();
    assert_eq!(codes, [150, 226, 221]);
    assert!(p.exists("alice", "q.bin"));
}

#[test]
fn a_transfer_with_no_data_connection_is_425() {
    let mut p = FtpPair::logged_in("alice");
    p.plant("alice", "f", b"x");
    assert_eq!(p.codes_of("RETR f"), [425]);
    p.cmd("PASV");
    p.cmd("RETR f");
    p.fail_data(); // the listener's deadline passed
    assert_eq!(p.codes(), [425]);
}

#[test]
fn listings_stream_in_all_three_formats() {
    let mut p = FtpPair::logged_in("alice");
    p.plant("alice", "a.txt", b"abc");
    p.plant("alice", "sub/x", b"");
    for (cmd, want) in [("NLST", "a.txt\r\nsub\r\n"), ("MLSD", "type=file;size=3;"), ("LIST -la", "-rw-r--r--")] {
        p.cmd("EPSV");
        p.cmd(cmd);
        p.connect_data();
        let text = String::from_utf8(std::mem::take(&mut p.data.downstream)).unwrap();
        assert!(text.contains(want), "{cmd}: {text:?}");
        assert_eq!(p.codes(), [150, 226], "{cmd}");
    }
    p.cmd("EPSV");
    assert_eq!(p.codes_of("MLSD a.txt"), [501], "MLSD lists directories");
    assert_eq!(p.codes_of("LIST missing"), [550]);
    assert_eq!(p.log("shell_command.log").iter().filter(|r| r["event"] == "dir").count(), 5);
}

#[test]
fn hash_uses_the_cached_digest_or_asks_the_pool() {
    let mut p = FtpPair::logged_in("alice");
    p.plant("alice", "h.bin", b"hello");
    p.hold_jobs = true;
    assert!(p.cmd("HASH h.bin").is_empty(), "waits for the pool");
    assert_eq!(p.jobs.last().unwrap(), "Hash");
    p.run_held_jobs();
    assert_eq!(p.replies(), [format!("213 SHA-256 0-4 {} /h.bin", sha(b"hello"))]);
    // The digest computed on the pool is remembered: the next HASH needs no job.
    let jobs = p.jobs.len();
    assert_eq!(p.replies_of("HASH h.bin"), [format!("213 SHA-256 0-4 {} /h.bin", sha(b"hello"))]);
    assert_eq!(p.jobs.len(), jobs);
    // Uploaded files have their digest cached: no job.
    p.hold_jobs = false;
    p.cmd("EPSV");
    p.cmd("STOR u.bin");
    p.connect_data();
    p.data.upstream.extend(b"12345678");
    p.data.client_eof = true;
    p.drive();
    p.replies();
    let jobs = p.jobs.len();
    assert_eq!(p.replies_of("HASH u.bin"), [format!("213 SHA-256 0-7 {} /u.bin", sha(b"12345678"))]);
    assert_eq!(p.jobs.len(), jobs);
}
