//! `mioftp --user NAME register --token TOKEN`, the binary against a real
//! in-process server: an invitation creates the account (once), a reset
//! token sets a new password, and a malformed `register` line is a usage
//! error before anything is asked or sent.

mod common;
use common::{Fixture, start_server_with};
use mioftp::admin::{TokenKind, TokenStore};
use mioftp::config::Registration;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

fn mioftp(f: &Fixture, args: &[&str], password: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mioftp"))
        .args(["--server", &f.addr()])
        .arg("--key-file")
        .arg(f.key_path())
        .args(args)
        .env("MIOFTP_PASSWORD", password)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Issues a token straight into the server's token store (what
/// `mioftpd accounts invite|reset` does with the server stopped).
fn token(f: &Fixture, kind: TokenKind, user: Option<&str>) -> String {
    let store = TokenStore::open(&f.root.path().join("accounts")).unwrap();
    let ttl = Duration::from_secs(3600);
    let (token, _, _) = store.issue(kind, user, None, ttl, jiff::Timestamp::now()).unwrap();
    token.reveal().to_owned()
}

#[test]
fn register_with_an_invitation_then_reset_the_password_with_a_reset_token() {
    let f = start_server_with(|c| c.registration = Registration::Token);
    let without = mioftp(&f, &["--user", "erin", "register"], "pencil-pencil");
    assert_eq!(without.status.code(), Some(1), "{}", stderr(&without));
    assert!(stderr(&without).contains("invitation token"), "{}", stderr(&without));

    let invite = token(&f, TokenKind::Invite, None);
    let reg = mioftp(&f, &["--user", "erin", "register", "--token", &invite], "pencil-pencil");
    assert!(reg.status.success(), "{}", stderr(&reg));
    assert!(stderr(&reg).contains("registered erin"), "{}", stderr(&reg));
    let again = mioftp(&f, &["--user", "fred", "register", &format!("--token={invite}")], "pencil-pencil");
    assert_eq!(again.status.code(), Some(1));
    assert!(stderr(&again).contains("already used"), "{}", stderr(&again));

    let reset = token(&f, TokenKind::Reset, Some("erin"));
    let out = mioftp(&f, &["--user", "erin", "register", "--token", &reset], "a new pencil");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("new password set for erin"), "{}", stderr(&out));
    let login = mioftp(&f, &["--user", "erin", "login"], "a new pencil");
    assert!(login.status.success(), "{}", stderr(&login));
    let old = mioftp(&f, &["--user", "erin", "login"], "pencil-pencil");
    assert_eq!(old.status.code(), Some(1));
}

#[test]
fn a_malformed_register_line_is_a_usage_error() {
    let f = start_server_with(|_| {});
    for args in [&["register", "--tokn", "x"][..], &["register", "--token"], &["register", "a", "b", "c"]] {
        let out = mioftp(&f, &[&["--user", "gail"][..], args].concat(), "pencil-pencil");
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains("register [--token TOKEN]"), "{}", stderr(&out));
    }
    assert!(f.accounts_log().iter().all(|r| r["event"] != "register"), "nothing was sent");
}
