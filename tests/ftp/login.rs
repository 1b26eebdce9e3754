//! Logins and the control connection.

use crate::common::ftp::Ftp;
use crate::common::{PASSWORD, TestServer, summary};

#[test]
fn a_registered_account_logs_in_over_ftp_and_the_audit_says_ftp() {
    let ts = TestServer::with_ftp(|_| {});
    let mut f = ts.ftp_user("alice");
    assert!(f.greeting.is(220), "{:?}", f.greeting);
    assert!(f.cmd("NOOP").is(200));
    assert!(f.cmd("QUIT").is(221));
    assert!(f.try_reply().is_none(), "the server closes after 221");
    let log = ts.accounts_log();
    let ftp: Vec<_> = log.iter().filter(|r| r["proto"] == "ftp").cloned().collect();
    assert_eq!(
        summary(&ftp),
        [("login".into(), "ok".into(), "".into()), ("logout".into(), "ok".into(), "".into())],
        "{log:?}"
    );
    assert!(log.iter().filter(|r| r["proto"].is_null()).all(|r| r["event"] != "login" || r["user"] == "alice"));
}

#[test]
fn user_is_always_331_and_both_refusals_read_the_same() {
    let ts = TestServer::with_ftp(|_| {});
    ts.client().register("alice", PASSWORD).unwrap();
    let mut texts = Vec::new();
    for (user, pass) in [("alice", "wrong password"), ("nobody", "whatever")] {
        let mut f = Ftp::connect(ts.ftp());
        assert!(f.cmd(&format!("USER {user}")).is(331));
        let r = f.cmd(&format!("PASS {pass}"));
        assert!(r.is(530), "{r:?}");
        texts.push(r.text);
        // Still not logged in: file commands are refused.
        assert!(f.cmd("PWD").is(530));
    }
    assert_eq!(texts[0], texts[1]);
    let fails: Vec<_> = ts.accounts_log().into_iter().filter(|r| r["event"] == "login").collect();
    assert_eq!(fails.len(), 2);
    assert!(fails.iter().all(|r| r["outcome"] == "fail" && r["reason"] == "auth_failed" && r["proto"] == "ftp"));
}

#[test]
fn commands_before_login_get_530_and_login_free_ones_work() {
    let ts = TestServer::with_ftp(|_| {});
    let mut f = Ftp::connect(ts.ftp());
    for cmd in ["PWD", "CWD /", "LIST", "RETR x", "STOR x", "MKD d", "DELE x", "PASV", "SIZE x", "STAT /"] {
        assert!(f.cmd(cmd).is(530), "{cmd}");
    }
    for (cmd, code) in
        [("NOOP", 200), ("SYST", 215), ("FEAT", 211), ("HELP", 214), ("STAT", 211), ("OPTS UTF8 ON", 200)]
    {
        assert!(f.cmd(cmd).is(code), "{cmd}");
    }
    // Shape errors come before the login check.
    assert!(f.cmd("XYZZY").is(500));
    assert!(f.cmd("RETR").is(501));
    assert!(f.cmd("PWD x").is(501));
    assert!(f.cmd("PASS x").is(503), "PASS without USER");
    assert!(f.cmd("REIN").is(502), "known, not implemented, login-free");
    assert!(f.cmd("SITE CHMOD 777 x").is(530), "known, not implemented, needs login");
}

#[test]
fn a_wrong_password_is_answered_after_the_delay_and_counts_toward_the_throttle() {
    let ts = TestServer::with_ftp(|c| {
        c.login_policy.max_failures = 2;
        c.ftp.login_failure_delay = std::time::Duration::from_millis(300);
    });
    ts.client().register("alice", PASSWORD).unwrap();
    let mut f = Ftp::connect(ts.ftp());
    let start = std::time::Instant::now();
    for _ in 0..2 {
        f.cmd("USER alice");
        assert!(f.cmd("PASS nope").is(530));
    }
    assert!(start.elapsed() >= std::time::Duration::from_millis(600), "each refusal waits for the delay");
    // Locked now, even with the right password; and NOOP was answered in
    // order meanwhile (the delay holds the queue, it does not drop it).
    f.send("USER alice");
    f.send(&format!("PASS {PASSWORD}"));
    f.send("NOOP");
    assert!(f.reply().is(331));
    let r = f.reply();
    assert!(r.is(530) && r.text.contains("Too many"), "{r:?}");
    assert!(f.reply().is(200));
    let last = ts.accounts_log().into_iter().rfind(|r| r["event"] == "login").unwrap();
    assert_eq!((last["outcome"].as_str(), last["reason"].as_str()), (Some("rejected"), Some("too_many_attempts")));
}

#[test]
fn user_while_logged_in_logs_out_first() {
    let ts = TestServer::with_ftp(|_| {});
    let mut f = ts.ftp_user("alice");
    assert!(f.cmd("USER alice").is(331));
    assert!(f.cmd("PWD").is(530), "logged out by USER");
    assert!(f.cmd(&format!("PASS {PASSWORD}")).is(230));
    assert!(f.cmd("PASS again").is(503));
    let events: Vec<_> =
        ts.accounts_log().into_iter().filter(|r| r["proto"] == "ftp").map(|r| r["event"].clone()).collect();
    assert_eq!(events, ["login", "logout", "login"]);
}

#[test]
fn pipelined_commands_are_answered_in_order() {
    let ts = TestServer::with_ftp(|_| {});
    let mut f = ts.ftp_user("alice");
    f.send_raw(b"NOOP\r\nSYST\r\nTYPE I\r\nMODE S\r\nSTRU F\r\nNOOP\r\n");
    let codes: Vec<u16> = (0..6).map(|_| f.reply().code).collect();
    assert_eq!(codes, [200, 215, 200, 200, 200, 200]);
}

/// FTP connections count toward the same per-address cap as native ones; a
/// refused one is told `421` (RFC 959's "closing") and closed.
#[test]
fn the_per_ip_cap_counts_ftp_connections_and_refuses_with_421() {
    let ts = TestServer::with_ftp(|c| c.max_per_ip = 2);
    let _native = ts.client();
    let mut first = Ftp::connect(ts.ftp());
    assert!(first.greeting.is(220), "{:?}", first.greeting);
    let mut refused = Ftp::connect(ts.ftp());
    assert!(refused.greeting.is(421), "{:?}", refused.greeting);
    assert!(refused.try_reply().is_none(), "closed after the 421");
    assert!(first.cmd("NOOP").is(200), "the admitted one goes on");
}
