//! Many connections at once on the one-threaded server.

mod common;
use common::*;
use std::sync::{Arc, Barrier};

#[test]
fn a_hundred_concurrent_connections_register_and_log_in() {
    const N: usize = 100;
    let server = TestServer::start();
    let barrier = Arc::new(Barrier::new(N));
    let addr = server.addr_str();
    let handles: Vec<_> = (0..N)
        .map(|i| {
            let (barrier, addr, key) = (barrier.clone(), addr.clone(), server.key.clone());
            std::thread::spawn(move || -> Result<(), String> {
                let mut c = mioftp_client::Client::connect(&addr, &key).map_err(|e| e.to_string())?;
                barrier.wait(); // all connected; now everyone registers at once
                let user = format!("user{i:03}");
                c.register(&user, PASSWORD).map_err(|e| format!("{user} register: {e}"))?;
                c.login(&user, PASSWORD).map_err(|e| format!("{user} login: {e}"))?;
                c.noop().map_err(|e| e.to_string())?;
                c.exit().map_err(|e| e.to_string())
            })
        })
        .collect();
    let failures: Vec<String> = handles.into_iter().filter_map(|h| h.join().unwrap().err()).collect();
    assert!(failures.is_empty(), "{failures:?}");

    let log = server.accounts_log();
    for event in ["handshake", "register", "login", "logout"] {
        let ok = log.iter().filter(|r| r["event"] == event && r["outcome"] == "ok").count();
        assert_eq!(ok, N, "{event}");
    }
    let sessions: std::collections::HashSet<_> = log.iter().map(|r| r["session"].as_u64().unwrap()).collect();
    assert_eq!(sessions.len(), N);
    assert_eq!(std::fs::read_dir(server.path("home")).unwrap().count(), N);
}

#[test]
fn concurrent_registrations_of_one_name_have_exactly_one_winner() {
    const N: usize = 20;
    let server = TestServer::start();
    let barrier = Arc::new(Barrier::new(N));
    let handles: Vec<_> = (0..N)
        .map(|i| {
            let (barrier, addr, key) = (barrier.clone(), server.addr_str(), server.key.clone());
            std::thread::spawn(move || {
                let mut c = mioftp_client::Client::connect(&addr, &key).unwrap();
                barrier.wait();
                c.register("contested", &format!("password number {i}")).is_ok()
            })
        })
        .collect();
    let winners = handles.into_iter().map(|h| h.join().unwrap()).filter(|w| *w).count();
    assert_eq!(winners, 1);
    let refused = server.accounts_log().iter().filter(|r| r["reason"] == "user_exists").count();
    assert_eq!(refused, N - 1);
}
