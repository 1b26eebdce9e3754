//! What issue 19 added to accounts, on both storages: a disabled account is
//! refused only after a correct proof, a login records its time, a reset
//! token replaces the password once and keeps the rest of the record, and
//! `--registration token` registers only with an invitation (its quota
//! given to the account). The tokens themselves are on disk in either case
//! (`accounts/.tokens/` under the pair's folder); the accounts are in the
//! pair's storage, so these show that the storage's account methods behave
//! the same on both.

use super::pair::{ITER, Pair, Store, code, on_both};
use crate::accounts::Account;
use crate::admin::{QuotaSetting, TokenKind, tokens::DEFAULT_TTL};
use crate::config::Registration;
use crate::protocol::scram::{self, ClientKeys};
use serde_json::{Value, json};

const SALT: &[u8] = b"saltsaltsaltsalt";

/// `register` with a token.
fn register_with_token(p: &mut Pair, user: &str, password: &str, token: &str) -> Value {
    let keys = ClientKeys::from_salted(&scram::salted_password(password.as_bytes(), SALT, ITER));
    p.request(json!({
        "op": "register", "user": user, "salt": scram::b64(SALT), "iterations": ITER,
        "stored_key": scram::b64(&keys.stored_key), "server_key": scram::b64(&keys.server_key),
        "token": token,
    }))
}

fn account(p: &Pair, user: &str) -> Account {
    p.svc.storage.load_account(user).unwrap().expect("the account exists")
}

/// Edits an account's record behind the server's back, as `mioftpd
/// accounts` would: `disabled`, or the account's own `quota`.
fn edit(p: &Pair, user: &str, disabled: Option<bool>, quota: Option<u64>) {
    match &p.memory {
        Some(m) => {
            assert!(disabled.is_none_or(|d| m.set_disabled(user, d)));
            assert!(quota.is_none_or(|q| m.set_quota(user, Some(q))));
        }
        None => {
            let path = p.dir.path().join("accounts").join(format!("{user}.json"));
            let mut record: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
            if let Some(d) = disabled {
                record["disabled"] = json!(d);
            }
            if let Some(q) = quota {
                record["quota"] = json!(q);
            }
            std::fs::write(&path, serde_json::to_vec(&record).unwrap()).unwrap();
        }
    }
}

/// Issues a token as `mioftpd accounts invite`/`reset` does.
fn issue(p: &Pair, kind: TokenKind, user: Option<&str>, quota: Option<QuotaSetting>) -> (String, String) {
    let (token, grant, _) = p.svc.tokens.issue(kind, user, quota, DEFAULT_TTL, jiff::Timestamp::now()).unwrap();
    (token.reveal().to_owned(), grant.id)
}

fn a_disabled_account_is_refused_only_after_a_correct_proof(store: Store) {
    let mut p = Pair::checked_on(store);
    p.register("alice", "pencil-pencil");
    edit(&p, "alice", Some(true), None);
    assert_eq!(code(&p.login("alice", "wrong-password")), "auth_failed", "a guesser learns nothing");
    assert_eq!(code(&p.login("alice", "pencil-pencil")), "account_disabled");
    assert_eq!(p.server.user(), None);
    edit(&p, "alice", Some(false), None);
    assert_eq!(p.login("alice", "pencil-pencil")["user"], "alice");
    let outcomes: Vec<_> = p
        .audit_lines("register_login_accounts.log")
        .iter()
        .filter(|r| r["event"] == "login")
        .map(|r| r["reason"].as_str().unwrap_or("ok").to_owned())
        .collect();
    assert_eq!(outcomes, ["auth_failed", "account_disabled", "ok"]);
}

fn a_login_records_its_time_in_the_account(store: Store) {
    let mut p = Pair::checked_on(store);
    p.register("alice", "pencil-pencil");
    assert_eq!(account(&p, "alice").last_login, None);
    assert_eq!(p.login("alice", "pencil-pencil")["user"], "alice");
    let at = account(&p, "alice").last_login.expect("recorded");
    assert!(at.parse::<jiff::Timestamp>().is_ok() && at.ends_with('Z'), "RFC 3339 UTC: {at}");
}

fn a_reset_token_replaces_the_password_once_and_keeps_the_rest(store: Store) {
    let mut p = Pair::with_config_on(store, |c| c.registration = Registration::Closed);
    p.check();
    // Registration is closed; the account is made the way a server with
    // open registration would have made it.
    assert_eq!(code(&p.register("alice", "pencil-pencil")), "registration_closed");
    p.svc.config.registration = Registration::Open;
    p.register("alice", "pencil-pencil");
    p.svc.config.registration = Registration::Closed;
    edit(&p, "alice", None, Some(7));
    let before = account(&p, "alice");
    let (token, id) = issue(&p, TokenKind::Reset, Some("alice"), None);
    assert_eq!(code(&register_with_token(&mut p, "bob", "crayon-crayon", &token)), "invalid_token", "one user's");
    let reply = register_with_token(&mut p, "alice", "crayon-crayon", &token);
    assert_eq!(reply, json!({"ok": true, "user": "alice", "reset": true}));
    assert_eq!(code(&p.login("alice", "pencil-pencil")), "auth_failed");
    assert_eq!(p.login("alice", "crayon-crayon")["user"], "alice");
    assert_eq!(p.request(json!({"op": "logout"})), json!({"ok": true}));
    let after = account(&p, "alice");
    assert_ne!(after.stored_key, before.stored_key);
    assert_eq!((&after.created, after.quota, after.disabled), (&before.created, Some(7), false));
    assert_eq!(code(&register_with_token(&mut p, "alice", "other-other", &token)), "invalid_token", "spent");
    let resets: Vec<_> =
        p.audit_lines("register_login_accounts.log").into_iter().filter(|r| r["event"] == "reset").collect();
    assert_eq!(resets.len(), 1);
    assert_eq!((resets[0]["outcome"].as_str(), resets[0]["token"].as_str()), (Some("ok"), Some(id.as_str())));
}

fn registration_by_token_needs_an_invitation_and_gives_its_quota(store: Store) {
    let mut p = Pair::with_config_on(store, |c| c.registration = Registration::Token);
    p.check();
    assert_eq!(code(&p.register("carol", "pencil-pencil")), "registration_closed");
    let (token, _) = issue(&p, TokenKind::Invite, None, Some(QuotaSetting::Bytes(1 << 20)));
    assert_eq!(code(&register_with_token(&mut p, "carol", "pencil-pencil", "0123")), "invalid_token");
    let reply = register_with_token(&mut p, "carol", "pencil-pencil", &token);
    assert_eq!(reply, json!({"ok": true, "user": "carol"}));
    assert_eq!(account(&p, "carol").quota, Some(1 << 20));
    assert!(p.exists("carol", ""), "registering creates the home");
    assert_eq!(code(&register_with_token(&mut p, "dave", "pencil-pencil", &token)), "invalid_token", "single use");
    assert!(p.svc.storage.load_account("dave").unwrap().is_none());
}

on_both!(
    a_disabled_account_is_refused_only_after_a_correct_proof,
    a_login_records_its_time_in_the_account,
    a_reset_token_replaces_the_password_once_and_keeps_the_rest,
    registration_by_token_needs_an_invitation_and_gives_its_quota,
);
