//! Deadlines against slow and silent peers: the handshake deadline, the
//! idle deadline (kept off by `noop`), and the transfer deadline for a
//! stalled upload, which stays resumable.

use super::*;

/// Reads from `raw` until a frame or a close, doing `meanwhile` between
/// short waits; returns what arrived and when.
fn wait_for_end(raw: &mut Raw, mut meanwhile: impl FnMut()) -> (Seen, Instant) {
    let deadline = Instant::now() + IO_TIMEOUT;
    loop {
        match raw.recv_within(Duration::from_millis(100)) {
            Seen::Nothing => {
                assert!(Instant::now() < deadline, "the server never ended the connection");
                meanwhile();
            }
            seen => return (seen, Instant::now()),
        }
    }
}

#[test]
fn a_trickled_partial_header_is_closed_at_the_handshake_deadline() {
    let server = TestServer::start_with(|c| c.handshake_timeout = DEADLINE);
    let mut healthy = server.user("steady"); // logged in well inside its own deadline
    let connected = Instant::now();
    let mut slow = server.raw();
    slow.send_bytes(&[0, 0, 0, 100, b'{']);
    // One more byte every 100 ms: progress must not extend the deadline.
    let mut trickle = slow.stream.try_clone().unwrap();
    let (seen, at) = wait_for_end(&mut slow, || {
        use std::io::Write;
        let _ = trickle.write_all(b" ");
        healthy.noop().expect("the healthy client is served meanwhile");
    });
    match seen {
        Seen::Frame(v) => assert_eq!(code(&v), "timeout", "{v}"),
        Seen::Closed => panic!("closed without the timeout reply"),
        Seen::Nothing => unreachable!(),
    }
    let took = at - connected;
    assert!(took >= DEADLINE - SLACK && took < Duration::from_secs(10), "{took:?}");
    assert_eq!(slow.recv_within(IO_TIMEOUT), Seen::Closed);
    healthy.pwd().expect("still served");
}

#[test]
fn a_checked_connection_that_never_logs_in_is_closed_at_the_handshake_deadline() {
    let server = TestServer::start_with(|c| c.handshake_timeout = DEADLINE);
    let connected = Instant::now();
    let mut lurker = server.raw_checked();
    let (seen, at) = wait_for_end(&mut lurker, || {});
    assert!(matches!(&seen, Seen::Frame(v) if code(v) == "timeout"), "{seen:?}");
    assert!(at - connected >= DEADLINE - SLACK, "{:?}", at - connected);
    assert_eq!(lurker.recv_within(IO_TIMEOUT), Seen::Closed);
}

#[test]
fn an_idle_session_is_closed_at_the_idle_deadline_while_noops_keep_another_alive() {
    let server = TestServer::start_with(|c| c.idle_timeout = DEADLINE);
    let mut keeper = login_raw(&server, "keeper");
    server.user("idler").exit().unwrap();
    // Taken before the login, so the server's clock for it starts later.
    let last_request = Instant::now();
    let mut idle = login_raw(&server, "idler");
    let (seen, at) = wait_for_end(&mut idle, || {
        assert_eq!(keeper.call(json!({"op": "noop"})), json!({"ok": true}));
    });
    assert!(matches!(&seen, Seen::Frame(v) if code(v) == "timeout"), "{seen:?}");
    assert!(at - last_request >= DEADLINE - SLACK, "{:?}", at - last_request);
    assert_eq!(idle.recv_within(IO_TIMEOUT), Seen::Closed);
    // The keeper sent a noop every 100 ms or so; it outlives two deadlines.
    let end = Instant::now() + Duration::from_millis(1500);
    while Instant::now() < end {
        std::thread::sleep(Duration::from_millis(250));
        assert_eq!(keeper.call(json!({"op": "noop"})), json!({"ok": true}));
    }
    let logout = server.wait_for_record(ACCOUNTS, |r| r["user"] == "idler" && r["message"] == "timeout");
    assert_eq!(logout["event"], "logout");
}

#[test]
fn a_stalled_upload_is_cut_at_the_transfer_deadline_and_stays_resumable() {
    const SENT: usize = 300_000;
    let server = TestServer::start_with(|c| c.transfer_timeout = DEADLINE);
    let mut healthy = server.user("steady");
    let data = bytes(1_000_000, 3);
    let mut up = login_raw(&server, "up");
    assert_eq!(up.call(json!({"op": "put", "path": "s.bin", "length": data.len()}))["offset"], 0);
    up.send(json!({"op": "put_data", "size": data.len()}));
    // Taken before the last bytes go out: the server's last progress is later.
    let stalled = Instant::now();
    up.send_bytes(&data[..SENT]);
    let (seen, at) = wait_for_end(&mut up, || {
        healthy.noop().expect("served meanwhile");
    });
    assert!(matches!(&seen, Seen::Frame(v) if code(v) == "timeout"), "{seen:?}");
    assert!(at - stalled >= DEADLINE - SLACK, "{:?}", at - stalled);
    assert_eq!(up.recv_within(IO_TIMEOUT), Seen::Closed);
    let rec = server.wait_for_record(UPLOADS, |r| r["outcome"] == "incomplete");
    assert_eq!((rec["reason"].as_str(), rec["bytes"].as_u64()), (Some("timeout"), Some(SENT as u64)), "{rec}");

    let mut again = login_raw(&server, "up");
    let ready = again.call(json!({"op": "put", "path": "s.bin", "length": data.len()}));
    assert_eq!(ready["offset"], SENT, "{ready}");
    assert_eq!(ready["prefix_sha256"], sha256_hex(&data[..SENT]));
    again.send(json!({"op": "put_data", "size": data.len() - SENT}));
    again.send_bytes(&data[SENT..]);
    let done = again.call(json!({"op": "put_done", "sha256": sha256_hex(&data)}));
    assert_eq!(done["ok"], true, "{done}");
    assert_eq!(std::fs::read(server.path("home/up/s.bin")).unwrap(), data);
}
