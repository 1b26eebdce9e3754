//! Issue 17's server parts, against a real server: the `check_user` op that
//! lets a client ask whether a name is free before it asks for a password
//! (allowed before login, throttled per address, audited), handshake
//! timeouts in the accounts log, and `--root` naming what is wrong with it.

mod common;
use common::*;
use serde_json::json;
use std::time::Duration;

#[test]
fn check_user_answers_whether_a_name_is_free_before_login_and_is_audited() {
    let server = TestServer::start();
    server.user("taken").exit().unwrap();
    let mut raw = server.raw_checked();
    let free = raw.call(json!({"op": "check_user", "user": "newcomer"}));
    assert_eq!(free, json!({"ok": true, "user": "newcomer", "available": true}));
    let taken = raw.call(json!({"op": "check_user", "user": "taken"}));
    assert_eq!(taken, json!({"ok": true, "user": "taken", "available": false}));
    let bad = raw.call(json!({"op": "check_user", "user": "Bad/Name"}));
    assert_eq!(code(&bad), "invalid_username");

    let checks: Vec<_> = server.accounts_log().into_iter().filter(|r| r["event"] == "check_user").collect();
    let seen: Vec<_> =
        checks.iter().map(|r| (r["user"].as_str(), r["outcome"].as_str(), r["reason"].as_str())).collect();
    assert_eq!(
        seen,
        [
            (Some("newcomer"), Some("ok"), None),
            (Some("taken"), Some("fail"), Some("user_exists")),
            (Some("Bad/Name"), Some("fail"), Some("invalid_username")),
        ]
    );
}

#[test]
fn check_user_needs_the_connection_check_and_is_refused_once_logged_in() {
    let server = TestServer::start();
    let mut raw = server.raw();
    raw.send(json!({"op": "check_user", "user": "someone"}));
    raw.expect_fatal("handshake_required");

    let mut raw = login_raw(&server, "alice");
    assert_eq!(code(&raw.call(json!({"op": "check_user", "user": "someone"}))), "bad_state");
}

#[test]
fn check_user_is_throttled_per_address_and_does_not_lock_logins() {
    let server = TestServer::start_with(|c| {
        c.name_check_policy = mioftp::throttle::NameCheckPolicy { max: 3, window: Duration::from_secs(600) }
    });
    server.user("alice").exit().unwrap();
    let mut raw = server.raw_checked();
    for i in 0..3 {
        let reply = raw.call(json!({"op": "check_user", "user": format!("name{i}")}));
        assert_eq!(reply["available"], true, "{reply}");
    }
    let refused = raw.call(json!({"op": "check_user", "user": "name9"}));
    assert_eq!(code(&refused), "too_many_attempts", "{refused}");
    assert!(refused["error"]["message"].as_str().unwrap().contains("retry after"), "{refused}");
    // Another connection from the same address is refused too ...
    let mut other = server.raw_checked();
    assert_eq!(code(&other.call(json!({"op": "check_user", "user": "name8"}))), "too_many_attempts");
    // ... but logins from it are not affected.
    server.login("alice").exit().unwrap();
    let last = server.accounts_log().into_iter().rfind(|r| r["event"] == "check_user").unwrap();
    assert_eq!((last["outcome"].as_str(), last["reason"].as_str()), (Some("rejected"), Some("too_many_attempts")));
}

#[test]
fn a_handshake_timeout_is_recorded_in_the_accounts_log() {
    let server = TestServer::start_with(|c| c.handshake_timeout = Duration::from_millis(300));
    // One connection never answers the hello; one passes the check and never logs in.
    let mut silent = server.raw();
    let mut checked = server.raw_checked();
    silent.expect_fatal("timeout");
    checked.expect_fatal("timeout");
    let timeouts =
        |server: &TestServer| server.accounts_log().into_iter().filter(|r| r["event"] == "timeout").collect::<Vec<_>>();
    wait_until("two timeout records", || timeouts(&server).len() == 2);
    for r in timeouts(&server) {
        assert_eq!((r["outcome"].as_str(), r["reason"].as_str()), (Some("fail"), Some("timeout")), "{r}");
        assert!(r.get("user").is_none(), "{r}");
    }
    let messages: Vec<String> = timeouts(&server).iter().map(|r| r["message"].as_str().unwrap().to_owned()).collect();
    assert!(messages.iter().any(|m| m.contains("connection check")), "{messages:?}");
    assert!(messages.iter().any(|m| m.contains("no login")), "{messages:?}");
}

#[test]
fn a_root_that_is_a_file_is_named_with_what_was_expected() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-folder");
    std::fs::write(&file, b"x").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mioftpd"))
        .arg("--root")
        .arg(&file)
        .args(["--listen", "127.0.0.1:0"])
        .env_remove("MIOFTPD_ROOT")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&file.display().to_string()), "{err}");
    assert!(err.contains("not a directory"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}
