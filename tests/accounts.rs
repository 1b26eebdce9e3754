//! Registration and SCRAM login against a real server, with the audit trail.

mod common;
use common::*;
use mioftp_client::ClientError;
use serde_json::json;

#[test]
fn register_then_login_creates_account_home_and_records() {
    let server = TestServer::start();
    let mut c = server.client();
    c.register("alice", PASSWORD).unwrap();
    c.login("alice", PASSWORD).unwrap();
    assert_eq!(c.user(), Some("alice"));
    c.exit().unwrap();

    let account: serde_json::Value =
        serde_json::from_slice(&std::fs::read(server.path("accounts/alice.json")).unwrap()).unwrap();
    assert_eq!(account["user"], "alice");
    assert_eq!(account["iterations"], TEST_ITERATIONS);
    assert!(account["quota"].is_null());
    let text = std::fs::read_to_string(server.path("accounts/alice.json")).unwrap();
    assert!(!text.contains(PASSWORD), "the password must never be stored");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(server.path("accounts/alice.json")).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    assert!(server.path("home/alice").is_dir());

    let log = server.accounts_log();
    let events: Vec<_> = summary(&log).into_iter().map(|(e, o, _)| format!("{e}:{o}")).collect();
    assert_eq!(events, ["handshake:ok", "register:ok", "login:ok", "logout:ok"]);
    assert!(log.iter().skip(1).all(|r| r["user"] == "alice"));
    assert!(log.iter().all(|r| r["session"] == log[0]["session"]));
}

#[test]
fn wrong_password_and_unknown_user_are_indistinguishable() {
    let server = TestServer::start();
    server.user("bob").exit().unwrap();

    let mut c = server.client();
    let wrong = c.login("bob", "not the password").unwrap_err();
    let unknown = c.login("nobody", "not the password").unwrap_err();
    assert_eq!(wrong.to_string(), "invalid username or password");
    assert_eq!(wrong.to_string(), unknown.to_string());
    assert_eq!(wrong.code(), unknown.code());

    // On the wire: same shape of challenge, same iteration count, same error.
    let mut raw = server.raw_checked();
    let real = raw.call(json!({"op": "login", "user": "bob", "nonce": "abcdefghijkl"}));
    raw.call(json!({"op": "login_proof", "proof": "AAAA"}));
    let fake = raw.call(json!({"op": "login", "user": "nobody", "nonce": "abcdefghijkl"}));
    let keys = |v: &serde_json::Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&real), keys(&fake));
    assert_eq!(real["iterations"], fake["iterations"]);
    assert_eq!(real["salt"].as_str().unwrap().len(), fake["salt"].as_str().unwrap().len());

    let fails: Vec<_> = server.accounts_log().into_iter().filter(|r| r["outcome"] == "fail").collect();
    assert_eq!(fails.len(), 3, "two client logins and the raw bad proof");
    assert!(fails.iter().all(|r| r["reason"] == "auth_failed"));
    assert_eq!((fails[0]["user"].as_str(), fails[1]["user"].as_str()), (Some("bob"), Some("nobody")));
}

#[test]
fn duplicate_registration_is_refused_and_keeps_the_first_account() {
    let server = TestServer::start();
    server.user("carol").exit().unwrap();
    let mut c = server.client();
    let err = c.register("carol", "another password").unwrap_err();
    assert_eq!(err.code(), Some(mioftp::protocol::ErrorCode::UserExists));
    c.login("carol", PASSWORD).expect("the first password still works");
    let rec = server.accounts_log().into_iter().find(|r| r["reason"] == "user_exists").expect("audited");
    assert_eq!(rec["event"], "register");
}

#[test]
fn invalid_usernames_are_refused_by_the_server() {
    let server = TestServer::start();
    let mut raw = server.raw_checked();
    let long = "a".repeat(33);
    let bad = ["", ".", "..", "../etc", "Alice", "a/b", "a\u{0}b", "a b", "-lead", ".hidden", "é", "a\\b", &long];
    for user in bad {
        let reply = raw.call(json!({
            "op": "register", "user": user, "salt": "c2FsdHNhbHQ=", "iterations": TEST_ITERATIONS,
            "stored_key": mioftp::protocol::scram::b64(&[1; 32]), "server_key": mioftp::protocol::scram::b64(&[2; 32]),
        }));
        assert_eq!(code(&reply), "invalid_username", "{user:?}: {reply}");
    }
    assert_eq!(raw.call(json!({"op": "noop"})), json!({"ok": true}), "connection stays usable");
    let mut names: Vec<_> =
        std::fs::read_dir(server.path("accounts")).unwrap().map(|e| e.unwrap().file_name()).collect();
    names.sort();
    assert_eq!(names, [".secret", ".tokens"], "no account file was written");
    let refusals = server.accounts_log().into_iter().filter(|r| r["reason"] == "invalid_username").count();
    assert_eq!(refusals, bad.len());
}

#[test]
fn the_client_refuses_bad_input_before_sending() {
    let server = TestServer::start();
    let mut c = server.client();
    assert!(matches!(c.register("Bad/Name", PASSWORD), Err(ClientError::Usage(_))));
    assert!(matches!(c.register("shortpw", "short"), Err(ClientError::Usage(_))));
    assert!(matches!(c.register("emptypw", ""), Err(ClientError::Usage(_))));
}

#[test]
fn a_weak_kdf_is_refused() {
    let server = TestServer::start();
    let mut raw = server.raw_checked();
    let reply = raw.call(json!({
        "op": "register", "user": "weak", "salt": "c2FsdHNhbHQ=", "iterations": 1,
        "stored_key": mioftp::protocol::scram::b64(&[1; 32]), "server_key": mioftp::protocol::scram::b64(&[2; 32]),
    }));
    assert_eq!(code(&reply), "weak_kdf");
    assert!(reply["error"]["message"].as_str().unwrap().contains(&TEST_ITERATIONS.to_string()));
}

#[test]
fn logout_then_login_again_on_the_same_connection() {
    let server = TestServer::start();
    let mut c = server.user("dave");
    c.logout().unwrap();
    assert_eq!(c.user(), None);
    c.login("dave", PASSWORD).unwrap();
    c.exit().unwrap();
}

#[test]
fn a_login_right_after_register_still_checks_the_password() {
    let server = TestServer::start();
    let mut c = server.client();
    c.register("erin", PASSWORD).unwrap();
    assert!(c.login("erin", "a different password").is_err(), "the cached key must not bypass the password");
    c.login("erin", PASSWORD).unwrap();
}
