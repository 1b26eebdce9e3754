//! USER and PASS: the pool job, the fake parameters, the ceiling, the
//! delay, the throttle and the credential cache.

use super::pair::{FtpPair, ITER, PASSWORD};
use crate::protocol::scram;
use crate::worker::JobOutput;
use std::time::Duration;

#[test]
fn pass_hands_the_kdf_to_the_pool_and_waits_without_answering_later_commands() {
    let mut p = FtpPair::new();
    p.register("alice");
    p.replies();
    p.hold_jobs = true;
    assert_eq!(p.codes_of("USER alice"), [331]);
    p.send(format!("PASS {PASSWORD}\r\nNOOP\r\n").as_bytes());
    assert_eq!(p.codes(), Vec::<u16>::new(), "nothing is answered while the key derivation runs");
    assert_eq!(p.jobs, [format!("DeriveKeys({ITER})")], "the account's own iteration count");
    p.run_held_jobs();
    assert_eq!(p.codes(), [230, 200], "the login, then the NOOP that waited");
    assert_eq!(p.server.user(), Some("alice"));
}

#[test]
fn a_missing_user_gets_331_and_the_same_kdf_on_fake_parameters() {
    let mut p = FtpPair::new();
    p.replies();
    assert_eq!(p.codes_of("USER nobody"), [331]);
    p.hold_jobs = true;
    p.cmd("PASS whatever");
    assert_eq!(p.jobs, [format!("DeriveKeys({ITER})")], "the same work as for a real account");
    p.run_held_jobs();
    assert_eq!(p.codes(), Vec::<u16>::new(), "the refusal waits for the delay");
    p.advance(Duration::from_secs(1));
    assert_eq!(p.fire_timer().unwrap(), "530 Login incorrect.");
    assert!(!p.server_closed(), "a failed login does not end the session");
    let rec = p.log("register_login_accounts.log").pop().unwrap();
    assert_eq!((rec["reason"].as_str(), rec["user"].as_str()), (Some("auth_failed"), Some("nobody")));
}

#[test]
fn a_wrong_password_is_answered_only_after_the_delay_and_nothing_is_read_meanwhile() {
    let mut p = FtpPair::new();
    p.register("alice");
    p.replies();
    p.cmd("USER alice");
    p.send(b"PASS wrong\r\nNOOP\r\n");
    assert!(p.replies().is_empty());
    p.advance(Duration::from_millis(999));
    assert!(p.fire_timer().is_none(), "not before the delay");
    p.advance(Duration::from_millis(1));
    assert_eq!(p.fire_timer().unwrap(), "530 Login incorrect.\n200 NOOP ok.");
}

#[test]
fn an_account_above_the_iteration_ceiling_is_refused_without_the_kdf() {
    let mut p = FtpPair::new();
    p.register_with("costly", PASSWORD, scram::MAX_ITERATIONS + 1);
    p.replies();
    p.cmd("USER costly");
    p.cmd(&format!("PASS {PASSWORD}"));
    assert!(p.jobs.is_empty(), "no key derivation for such an account");
    p.advance(Duration::from_secs(1));
    assert_eq!(p.fire_timer().unwrap(), "530 Login incorrect.");
    assert_eq!(p.log("register_login_accounts.log").pop().unwrap()["reason"], "weak_kdf");
}

#[test]
fn a_busy_pool_is_retried_later_and_the_login_still_succeeds() {
    let mut p = FtpPair::new();
    p.register("alice");
    p.replies();
    p.hold_jobs = true;
    p.cmd("USER alice");
    p.cmd(&format!("PASS {PASSWORD}"));
    p.answer_job(JobOutput::Busy);
    assert_eq!(p.jobs.len(), 1, "not resubmitted at once");
    p.advance(Duration::from_millis(20));
    assert!(p.fire_timer().is_some());
    assert_eq!(p.jobs.len(), 2, "resubmitted after the back-off");
    p.run_held_jobs();
    assert_eq!(p.codes(), [230]);
}

#[test]
fn failures_feed_the_shared_throttle_which_then_refuses_even_the_right_password() {
    let mut p = FtpPair::with(|c| c.login_policy.max_failures = 2, "127.0.0.1:4000");
    p.register("alice");
    p.replies();
    for _ in 0..2 {
        p.cmd("USER alice");
        p.cmd("PASS wrong");
        p.advance(Duration::from_secs(1));
        p.fire_timer();
    }
    p.jobs.clear();
    p.cmd("USER alice");
    let r = p.cmd(&format!("PASS {PASSWORD}"));
    assert_eq!(r, ["530 Too many failed logins; try again later."]);
    assert!(p.jobs.is_empty(), "a locked login runs no KDF");
    assert_eq!(p.log("register_login_accounts.log").pop().unwrap()["outcome"], "rejected");
}

#[test]
fn plain_logins_from_the_network_are_refused_at_user_unless_allowed() {
    let mut p = FtpPair::with(|_| {}, "192.0.2.7:4000");
    p.replies();
    assert_eq!(p.replies_of("USER alice"), ["530 TLS required."]);
    let mut p = FtpPair::with(|c| c.ftp.allow_plain_login = true, "192.0.2.7:4000");
    p.replies();
    assert_eq!(p.codes_of("USER alice"), [331]);
    // IPv4-mapped loopback is loopback.
    let mut p = FtpPair::with(|_| {}, "[::ffff:127.0.0.1]:4000");
    p.replies();
    assert_eq!(p.codes_of("USER alice"), [331]);
}

#[test]
fn the_credential_cache_skips_the_kdf_only_for_a_password_already_verified() {
    let mut p = FtpPair::with(|c| c.handshake_timeout = Duration::from_secs(600), "127.0.0.1:4000");
    p.register("alice");
    p.replies();
    p.login("alice");
    assert_eq!(p.kdfs(), 1);
    p.cmd("USER alice");
    assert_eq!(p.codes_of(&format!("PASS {PASSWORD}")), [230]);
    assert_eq!(p.kdfs(), 1, "a verified password within the TTL runs no KDF");
    p.cmd("USER alice");
    p.cmd("PASS wrong");
    assert_eq!(p.kdfs(), 2, "a guess always runs the KDF");
    p.advance(Duration::from_secs(61));
    p.fire_timer();
    p.cmd("USER alice");
    assert_eq!(p.codes_of(&format!("PASS {PASSWORD}")), [230]);
    assert_eq!(p.kdfs(), 3, "the entry expired with its TTL");
    assert_eq!(p.svc.ftp_logins.len(), 1);
    p.svc.ftp_logins.flush_user("alice");
    assert!(p.svc.ftp_logins.is_empty());
}

#[test]
fn with_the_cache_off_every_login_runs_the_kdf() {
    let mut p = FtpPair::with(|c| c.ftp.login_cache_ttl = Duration::ZERO, "127.0.0.1:4000");
    p.register("alice");
    p.replies();
    p.login("alice");
    p.cmd("USER alice");
    assert_eq!(p.codes_of(&format!("PASS {PASSWORD}")), [230]);
    assert_eq!(p.kdfs(), 2);
}

#[test]
fn pass_out_of_order_is_503_and_user_while_logged_in_logs_out() {
    let mut p = FtpPair::logged_in("alice");
    assert_eq!(p.codes_of("PASS again"), [503]);
    assert_eq!(p.codes_of("USER alice"), [331]);
    assert_eq!(p.server.user(), None);
    assert_eq!(p.codes_of("PWD"), [530]);
    let mut p = FtpPair::new();
    p.replies();
    assert_eq!(p.codes_of("PASS x"), [503]);
}

#[test]
fn a_disabled_account_is_refused_after_the_right_password_only_and_not_counted_as_a_failure() {
    let mut p = FtpPair::with(|c| c.login_policy.max_failures = 1, "127.0.0.1:4000");
    p.register("alice");
    assert!(p.memory.set_disabled("alice", true));
    p.replies();
    p.cmd("USER alice");
    assert_eq!(p.replies_of(&format!("PASS {PASSWORD}")), ["530 Account disabled."]);
    assert_eq!(p.log("register_login_accounts.log").pop().unwrap()["reason"], "account_disabled");
    assert!(p.svc.ftp_logins.is_empty(), "a refused login is not remembered");
    // Not a failure: with a one-failure budget, a second try is still
    // answered on its merits, and a wrong password is the usual 530.
    p.cmd("USER alice");
    assert_eq!(p.replies_of(&format!("PASS {PASSWORD}")), ["530 Account disabled."]);
    assert!(p.memory.set_disabled("alice", false));
    p.cmd("USER alice");
    assert_eq!(p.codes_of(&format!("PASS {PASSWORD}")), [230]);
}

#[test]
fn a_login_records_its_time_in_the_account_as_a_native_login_does() {
    let mut p = FtpPair::new();
    p.register("alice");
    p.replies();
    assert_eq!(p.svc.storage.load_account("alice").unwrap().unwrap().last_login, None);
    p.login("alice");
    let stamp = p.svc.storage.load_account("alice").unwrap().unwrap().last_login;
    assert!(stamp.is_some_and(|t| t.parse::<jiff::Timestamp>().is_ok()));
}
