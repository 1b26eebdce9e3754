//! `mioftpd accounts` with the real binaries, and what its changes do to a
//! server started afterwards: offline only (a running server's lock stops
//! it), every change audited with `"actor":"admin"`; disabled accounts,
//! last-login times, the registration policy, invitations and resets.

mod common;
use common::*;
use mioftp::protocol::ErrorCode;
use mioftp_client::{Client, ClientError};
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

const NEW_PASSWORD: &str = "a brand new passphrase";

/// `mioftpd accounts --root ROOT ARGS` (no MIOFTPD_* from the caller).
fn accounts(root: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mioftpd"));
    for (name, _) in std::env::vars_os().filter(|(n, _)| n.to_string_lossy().starts_with("MIOFTPD_")) {
        cmd.env_remove(name);
    }
    cmd.arg("accounts").arg("--root").arg(root).args(args).output().unwrap()
}

/// Runs `accounts ARGS`, expecting success; returns stdout.
fn ok(root: &Path, args: &[&str]) -> String {
    let out = accounts(root, args);
    assert!(out.status.success(), "accounts {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// Stops a daemon gracefully (SIGTERM) and waits for it.
fn stop(mut d: Daemon) {
    d.signal(rustix::process::Signal::TERM);
    assert!(d.wait_exit(IO_TIMEOUT).success());
}

fn admin_records(d_root: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(d_root.join("logs/register_login_accounts.log")).unwrap();
    text.lines().map(|l| serde_json::from_str::<Value>(l).unwrap()).filter(|r| r["actor"] == "admin").collect()
}

fn server_code(e: &ClientError) -> Option<ErrorCode> {
    match e.root() {
        ClientError::Server(w) => Some(w.code),
        _ => None,
    }
}

/// A data root with alice and bob registered, the server stopped.
fn root_with_two_users(dir: &Path) -> std::path::PathBuf {
    let root = dir.join("data");
    let d = Daemon::start(&root, &[]);
    for user in ["alice", "bob"] {
        let mut c = d.client();
        c.register(user, PASSWORD).unwrap();
        c.exit().unwrap();
    }
    stop(d);
    root
}

#[test]
fn offline_changes_are_made_and_audited_as_admin_and_a_running_server_stops_them() {
    let dir = tempfile::tempdir().unwrap();
    let root = root_with_two_users(dir.path());
    let listed = ok(&root, &["list"]);
    assert!(listed.lines().nth(1).unwrap().starts_with("alice") && listed.contains("bob"), "{listed}");
    ok(&root, &["set-quota", "alice", "5GiB"]);
    ok(&root, &["disable", "bob"]);
    let failed = accounts(&root, &["enable", "zed"]);
    assert_eq!(failed.status.code(), Some(1));
    let json: Value = serde_json::from_str(&ok(&root, &["list", "--json"])).unwrap();
    let alice = &json["accounts"][0];
    assert_eq!((alice["user"].as_str(), alice["quota"]["bytes"].as_u64()), (Some("alice"), Some(5 << 30)));
    assert_eq!(json["accounts"][1]["disabled"], true);

    let records = admin_records(&root);
    let summary: Vec<(&str, &str, &str)> = records
        .iter()
        .map(|r| (r["event"].as_str().unwrap(), r["user"].as_str().unwrap(), r["outcome"].as_str().unwrap()))
        .collect();
    assert_eq!(
        summary,
        [("admin_set_quota", "alice", "ok"), ("admin_disable", "bob", "ok"), ("admin_enable", "zed", "fail")]
    );
    assert_eq!(records[0]["quota"], "5GiB");
    assert_eq!(records[0]["via"], "offline");
    assert_eq!(records[2]["reason"], "no_such_user");
    assert!(records.iter().all(|r| r.get("peer").is_none() && r.get("session").is_none()), "{records:?}");

    // While a server runs, the root is locked: nothing is changed.
    let d = Daemon::start(&root, &[]);
    let out = accounts(&root, &["enable", "bob"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(err.contains(&format!("pid {}", d.child.id())) && err.contains("stop the server first"), "{err}");
    let mut bob = d.client();
    let refused = bob.login("bob", PASSWORD).unwrap_err();
    assert_eq!(server_code(&refused), Some(ErrorCode::AccountDisabled), "still disabled: {refused}");
}

#[test]
fn a_disabled_account_is_refused_only_after_a_correct_password_and_last_login_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let root = root_with_two_users(dir.path());
    ok(&root, &["disable", "bob"]);
    let d = Daemon::start(&root, &[]);
    let mut c = d.client();
    let wrong = c.login("bob", "not bob's password").unwrap_err();
    assert_eq!(server_code(&wrong), Some(ErrorCode::AuthFailed), "a guesser learns nothing");
    let right = c.login("bob", PASSWORD).unwrap_err();
    assert_eq!(server_code(&right), Some(ErrorCode::AccountDisabled));
    c.login("alice", PASSWORD).unwrap();
    c.exit().unwrap();
    let bob_logins: Vec<Value> = d
        .log("register_login_accounts.log")
        .into_iter()
        .filter(|r| r["event"] == "login" && r["user"] == "bob")
        .collect();
    assert_eq!(bob_logins.last().unwrap()["outcome"], "rejected");
    assert_eq!(bob_logins.last().unwrap()["reason"], "account_disabled");
    stop(d);

    let json: Value = serde_json::from_str(&ok(&root, &["list", "--json", "--no-usage"])).unwrap();
    let last = json["accounts"][0]["last_login"].as_str().expect("alice's last login").to_owned();
    assert!(json["accounts"][1]["last_login"].is_null(), "bob never got in");
    let at: jiff::Timestamp = last.parse().unwrap();
    assert!(jiff::Timestamp::now().duration_since(at) < jiff::SignedDuration::from_hours(1), "{last}");

    // A recent last_login is not rewritten on every login.
    ok(&root, &["enable", "bob"]);
    let d = Daemon::start(&root, &[]);
    d.client().login("alice", PASSWORD).unwrap();
    d.client().login("bob", PASSWORD).unwrap();
    stop(d);
    let json: Value = serde_json::from_str(&ok(&root, &["list", "--json", "--no-usage"])).unwrap();
    assert_eq!(json["accounts"][0]["last_login"].as_str(), Some(last.as_str()));
    assert!(json["accounts"][1]["last_login"].is_string(), "bob's first login is recorded");
}

#[test]
fn invitations_are_single_use_carry_their_quota_and_are_required_under_registration_token() {
    let dir = tempfile::tempdir().unwrap();
    let root = root_with_two_users(dir.path());
    let invite = ok(&root, &["invite", "--quota", "1MiB"]).trim().to_owned();
    let spare = ok(&root, &["invite"]).trim().to_owned();
    assert_eq!(invite.len(), 32);
    let issued = admin_records(&root);
    let invite_id = issued[0]["token"].as_str().unwrap().to_owned();
    assert!(!std::fs::read_to_string(root.join("logs/register_login_accounts.log")).unwrap().contains(&invite));

    let d = Daemon::start(&root, &["--registration", "token"]);
    let mut c = d.client();
    let closed = c.register("carol", PASSWORD).unwrap_err();
    assert_eq!(server_code(&closed), Some(ErrorCode::RegistrationClosed));
    // A taken name gives the token back.
    let taken = c.register_with_token("alice", PASSWORD, Some(&invite)).unwrap_err();
    assert_eq!(server_code(&taken), Some(ErrorCode::UserExists));
    let reply = c.register_with_token("carol", PASSWORD, Some(&invite)).unwrap();
    assert!(!reply.reset);
    let again = c.register_with_token("dave", PASSWORD, Some(&invite)).unwrap_err();
    assert_eq!(server_code(&again), Some(ErrorCode::InvalidToken));
    let garbage = c.register_with_token("dave", PASSWORD, Some("not a token")).unwrap_err();
    assert_eq!(server_code(&garbage), Some(ErrorCode::InvalidToken));
    c.login("carol", PASSWORD).unwrap();
    assert_eq!(c.quota().unwrap().limit, Some(1 << 20), "the invitation's quota");
    c.exit().unwrap();
    let carol = d
        .log("register_login_accounts.log")
        .into_iter()
        .find(|r| r["event"] == "register" && r["user"] == "carol" && r["outcome"] == "ok")
        .unwrap();
    assert_eq!((carol["token"].as_str(), carol["quota"].as_str()), (Some(invite_id.as_str()), Some("1MiB")));
    stop(d);

    // Closed: not even an invitation opens it, and the invitation survives.
    let d = Daemon::start(&root, &["--registration", "closed"]);
    let refused = d.client().register_with_token("erin", PASSWORD, Some(&spare)).unwrap_err();
    assert_eq!(server_code(&refused), Some(ErrorCode::RegistrationClosed));
    let plain = d.client().register("erin", PASSWORD).unwrap_err();
    assert_eq!(server_code(&plain), Some(ErrorCode::RegistrationClosed));
    stop(d);
    let d = Daemon::start(&root, &["--registration", "token"]);
    d.client().register_with_token("erin", PASSWORD, Some(&spare)).unwrap();
}

#[test]
fn a_reset_token_sets_a_new_password_for_its_user_only_even_with_registration_closed() {
    let dir = tempfile::tempdir().unwrap();
    let root = root_with_two_users(dir.path());
    ok(&root, &["set-quota", "alice", "2MiB"]);
    let token = ok(&root, &["reset", "alice"]).trim().to_owned();
    let d = Daemon::start(&root, &["--registration", "closed"]);
    let mut c = d.client();
    let other = c.register_with_token("bob", NEW_PASSWORD, Some(&token)).unwrap_err();
    assert_eq!(server_code(&other), Some(ErrorCode::InvalidToken), "a reset token is for one user");
    let reply = c.register_with_token("alice", NEW_PASSWORD, Some(&token)).unwrap();
    assert!(reply.reset);
    let old = c.login("alice", PASSWORD).unwrap_err();
    assert_eq!(server_code(&old), Some(ErrorCode::AuthFailed));
    c.login("alice", NEW_PASSWORD).unwrap();
    assert_eq!(c.quota().unwrap().limit, Some(2 << 20), "the rest of the account is kept");
    c.exit().unwrap();
    let reused = d.client().register_with_token("alice", PASSWORD, Some(&token)).unwrap_err();
    assert_eq!(server_code(&reused), Some(ErrorCode::InvalidToken), "single use");
    // A token that is not (or no longer) valid is not known to be a reset:
    // those attempts are `register` failures.
    let events: Vec<String> = d
        .log("register_login_accounts.log")
        .iter()
        .filter(|r| r["event"] == "reset" || r["event"] == "register")
        .map(|r| {
            format!("{} {} {}", r["event"], r["user"], r["reason"].as_str().unwrap_or(r["outcome"].as_str().unwrap()))
        })
        .collect();
    assert_eq!(
        events,
        [
            r#""register" "alice" ok"#,
            r#""register" "bob" ok"#,
            r#""register" "bob" invalid_token"#,
            r#""reset" "alice" ok"#,
            r#""register" "alice" invalid_token"#,
        ]
    );
}

#[test]
fn the_client_does_not_reconnect_into_a_disabled_account() {
    let server = TestServer::start();
    let mut alice = server.user("alice");
    // Disabled behind the running server's back (the control socket that
    // will do this for a running server comes later); the next login sees it.
    let path = server.path("accounts/alice.json");
    let mut record: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    record["disabled"] = true.into();
    std::fs::write(&path, serde_json::to_vec(&record).unwrap()).unwrap();
    let err = alice.reconnect().unwrap_err();
    assert_eq!(server_code(&err), Some(ErrorCode::AccountDisabled));
    assert!(!alice.can_reconnect(), "no keys are kept to try again with");
    let again = Client::connect(&server.addr_str(), &server.key).unwrap().login("alice", PASSWORD).unwrap_err();
    assert_eq!(server_code(&again), Some(ErrorCode::AccountDisabled));
}

#[test]
fn the_commands_refuse_to_run_as_anyone_but_the_data_roots_owner() {
    let dir = tempfile::tempdir().unwrap();
    let root = root_with_two_users(dir.path());
    let me = rustix::process::geteuid();
    if !me.is_root() {
        // Only root can give the folder away; as its owner, it just works.
        ok(&root, &["list"]);
        return;
    }
    let folder = root.join("accounts");
    rustix::fs::chown(&folder, Some(rustix::fs::Uid::from_raw(4242)), None).unwrap();
    let out = accounts(&root, &["disable", "alice"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("belongs to uid 4242") && err.contains("setpriv --reuid=4242"), "{err}");
    rustix::fs::chown(&folder, Some(me), None).unwrap();
    let record = std::fs::read_to_string(root.join("accounts/alice.json")).unwrap();
    assert!(!record.contains("disabled"), "nothing was changed");
    assert!(admin_records(&root).is_empty(), "nothing was recorded");
}
