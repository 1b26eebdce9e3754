//! Connection limits: over the cap or the per-address limit a client gets
//! `server_busy` and the server keeps serving, without spinning.

use super::*;

#[test]
fn connections_over_the_cap_get_server_busy_and_the_server_keeps_serving() {
    let server = TestServer::start_with(|c| {
        c.max_connections = 4;
        c.max_per_ip = 0;
    });
    let mut healthy = server.user("steady");
    let mut held: Vec<Raw> = (0..3).map(|_| server.raw()).collect();
    for _ in 0..10 {
        let mut extra = Raw::connect(server.addr);
        let reply = extra.recv();
        assert_eq!(code(&reply), "server_busy", "{reply}");
        assert_eq!(extra.recv_within(IO_TIMEOUT), Seen::Closed);
        healthy.noop().expect("served at the cap");
    }
    held.truncate(1);
    // The freed slots are reused (once the server has seen the closes).
    let admitted = poll_until(IO_TIMEOUT, || {
        let mut fresh = Raw::connect(server.addr);
        let first = fresh.recv();
        let ok = first["notice"] == "hello";
        if ok {
            held.push(fresh);
        }
        ok && held.len() == 3
    });
    assert!(admitted, "freed slots are given to new connections");
    healthy.dir(None).expect("still served");
}

#[test]
fn the_listener_does_not_spin_at_the_connection_cap() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let d = Daemon::start(&root, &["--max-connections", "3"]);
    let held: Vec<Raw> = (0..3)
        .map(|_| {
            let mut r = Raw::connect(d.addr);
            assert_eq!(r.recv()["notice"], "hello");
            r
        })
        .collect();
    // Extra peers that connect and then never read or leave.
    let mut extras: Vec<Raw> = (0..20).map(|_| Raw::connect(d.addr)).collect();
    for e in &mut extras {
        assert_eq!(code(&e.recv()), "server_busy");
    }
    let before = cpu_ticks(d.child.id());
    std::thread::sleep(Duration::from_secs(1));
    let spent = cpu_ticks(d.child.id()) - before;
    assert!(spent <= 20, "the server used {spent} ticks of CPU in a second while idle at its cap");
    drop(extras);
    drop(held);
    // It still serves.
    let ok = poll_until(IO_TIMEOUT, || {
        mioftp_client::Client::connect(&d.addr_str(), &d.key()).is_ok_and(|c| c.exit().is_ok())
    });
    assert!(ok, "served after the extra peers left");
}

#[test]
fn the_per_address_limit_refuses_the_extra_connection_until_one_leaves() {
    let server = TestServer::start_with(|c| c.max_per_ip = 3);
    let mut healthy = server.user("steady");
    let mut two: Vec<Raw> = vec![server.raw(), server.raw_checked()];
    let mut extra = Raw::connect(server.addr);
    let reply = extra.recv();
    assert_eq!(code(&reply), "server_busy", "{reply}");
    assert!(reply["error"]["message"].as_str().unwrap().contains("address"), "{reply}");
    assert_eq!(extra.recv_within(IO_TIMEOUT), Seen::Closed);
    healthy.noop().expect("served");
    two.pop();
    let admitted = poll_until(IO_TIMEOUT, || {
        let mut fresh = Raw::connect(server.addr);
        let ok = fresh.recv()["notice"] == "hello";
        if ok {
            two.push(fresh);
        }
        ok
    });
    assert!(admitted, "a slot of the address was freed");
    healthy.pwd().expect("served");
}
