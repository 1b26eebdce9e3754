//! Session tests without sockets: an in-memory client ([`pair::Pair`])
//! against the session, through the public contract, on a fake clock. This
//! file covers the handshake, accounts, framing and time; `flow.rs` covers
//! back-pressure, budgets, EOF and transfers; `files.rs` the file commands
//! and transfers on both storages, and the memory storage's faults;
//! `accounts.rs` what issue 19 added to accounts (disabled, last login,
//! one-time tokens, the registration policy).
//! Every case that touches storage runs on the disk and the memory storage.

mod accounts;
mod files;
mod flow;
mod pair;

use super::*;
use crate::protocol::frame::encode_to_vec;
use crate::protocol::scram::{self, ClientKeys, Exchange};
use pair::{ITER, Pair, Store, code, on_both};
use serde_json::json;
use std::time::Duration;

#[test]
fn hello_announces_version_challenge_and_kdf_policy() {
    let mut p = Pair::new();
    let hello = p.headers().remove(0);
    assert_eq!(hello["notice"], "hello");
    assert_eq!(hello["protocol"], 1);
    assert_eq!(scram::unb64(hello["challenge"].as_str().unwrap()).unwrap().len(), 32);
    assert_eq!(hello["kdf"], "pbkdf2-sha256");
    assert_eq!(hello["min_iterations"], ITER);
}

#[test]
fn a_wrong_hmac_fails_closes_and_is_audited() {
    let mut p = Pair::new();
    p.headers();
    let reply = p.request(json!({"op": "auth", "hmac": scram::b64(&[0; 32])}));
    assert_eq!(code(&reply), "handshake_failed");
    assert!(p.closed, "the session ended once its reply was out");
    let log = p.audit_lines("register_login_accounts.log");
    assert_eq!((log[0]["event"].as_str(), log[0]["outcome"].as_str()), (Some("handshake"), Some("fail")));
}

#[test]
fn requests_before_the_check_are_refused_and_close() {
    let mut p = Pair::new();
    p.headers();
    let reply = p.request(json!({"op": "login", "user": "a", "nonce": "abcdefghij"}));
    assert_eq!(code(&reply), "handshake_required");
    assert!(p.closed);
}

fn register_then_login_then_logout(store: Store) {
    let mut p = Pair::checked_on(store);
    assert_eq!(p.register("alice", "pencil-pencil"), json!({"ok": true, "user": "alice"}));
    assert!(p.exists("alice", ""), "registering creates the home");
    let reply = p.login("alice", "pencil-pencil");
    assert_eq!(reply["user"], "alice");
    assert_eq!(p.server.user(), Some("alice"));
    assert_eq!(p.request(json!({"op": "logout"})), json!({"ok": true}));
    assert_eq!(p.server.user(), None);
    let events: Vec<_> = p
        .audit_lines("register_login_accounts.log")
        .iter()
        .map(|r| format!("{}:{}", r["event"].as_str().unwrap(), r["outcome"].as_str().unwrap()))
        .collect();
    assert_eq!(events, ["handshake:ok", "register:ok", "login:ok", "logout:ok"]);
}

fn unknown_user_and_wrong_password_look_the_same(store: Store) {
    let mut p = Pair::checked_on(store);
    p.register("alice", "pencil-pencil");
    let wrong = p.login("alice", "wrong-password");
    let unknown = p.login("mallory", "wrong-password");
    assert_eq!(wrong, unknown);
    assert_eq!(code(&wrong), "auth_failed");
    // The unknown user's salt is stable, so asking twice reveals nothing.
    let a = p.request(json!({"op": "login", "user": "nobody", "nonce": "nonce-one-1"}));
    p.request(json!({"op": "login_proof", "proof": scram::b64(&[0; 32])}));
    let b = p.request(json!({"op": "login", "user": "nobody", "nonce": "nonce-two-2"}));
    assert_eq!(a["salt"], b["salt"]);
    assert_eq!(a["iterations"], ITER);
}

#[test]
fn login_proof_without_login_is_bad_state_and_the_session_stays_usable() {
    let mut p = Pair::checked();
    let reply = p.request(json!({"op": "login_proof", "proof": "AAAA"}));
    assert_eq!(code(&reply), "bad_state");
    assert_eq!(p.request(json!({"op": "noop"})), json!({"ok": true}));
}

fn a_replayed_proof_fails(store: Store) {
    let mut p = Pair::checked_on(store);
    p.register("bob", "correct-horse");
    // Capture a valid proof for one exchange...
    let first = p.request(json!({"op": "login", "user": "bob", "nonce": "replaynonce1"}));
    let salt = scram::unb64(first["salt"].as_str().unwrap()).unwrap();
    let nonce = first["nonce"].as_str().unwrap().to_owned();
    let ex = Exchange { user: "bob", client_nonce: "replaynonce1", nonce: &nonce, salt: &salt, iterations: ITER };
    let keys = ClientKeys::from_salted(&scram::salted_password(b"correct-horse", &salt, ITER));
    let proof = json!({"op": "login_proof", "proof": scram::b64(&keys.proof(&ex.auth_message()))});
    assert_eq!(p.request(proof.clone())["ok"], true);
    p.request(json!({"op": "logout"}));
    // ...and replay it against a fresh exchange with the same client nonce.
    p.request(json!({"op": "login", "user": "bob", "nonce": "replaynonce1"}));
    assert_eq!(code(&p.request(proof)), "auth_failed");
}

fn invalid_usernames_are_refused_clearly(store: Store) {
    let mut p = Pair::checked_on(store);
    for user in ["", "..", "Alice", "a/b", "a\u{0}b", &"x".repeat(33), ".x", "a b"] {
        let reply = p.register(user, "pencil-pencil");
        assert_eq!(code(&reply), "invalid_username", "{user:?}");
    }
}

fn weak_kdf_and_duplicates_are_refused(store: Store) {
    let mut p = Pair::checked_on(store);
    let weak = p.request(json!({
        "op": "register", "user": "carol", "salt": scram::b64(b"saltsalt"), "iterations": ITER - 1,
        "stored_key": scram::b64(&[1; 32]), "server_key": scram::b64(&[2; 32]),
    }));
    assert_eq!(code(&weak), "weak_kdf");
    assert_eq!(p.register("carol", "pencil-pencil")["ok"], true);
    assert_eq!(code(&p.register("carol", "other-password")), "user_exists");
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let mut p = Pair::checked();
    for op in ["noop", "bogus", "noop", "logout"] {
        p.send(json!({ "op": op }));
    }
    let codes: Vec<_> = p.headers().iter().map(|f| code(f).to_owned()).collect();
    assert_eq!(codes, ["", "unknown_op", "", "not_logged_in"]);
}

#[test]
fn a_request_arriving_one_byte_at_a_time_is_answered_once() {
    let mut p = Pair::checked();
    let bytes = encode_to_vec(&json!({"op": "noop"})).unwrap();
    for (i, b) in bytes.iter().enumerate() {
        p.send_raw(&[*b]);
        p.run();
        let last = i + 1 == bytes.len();
        assert_eq!(p.client.frames.len(), usize::from(last), "after {} bytes", i + 1);
        // Until the frame is whole, the session keeps what it has and reads on.
        assert!(p.server.wants_read(Channel::CONTROL));
    }
    assert_eq!(p.headers(), vec![json!({"ok": true})]);
    assert!(p.server.inbuf.capacity() == 0, "an idle session holds no input buffer");
}

#[test]
fn a_body_on_a_bodiless_request_is_discarded_and_framing_survives() {
    let mut p = Pair::checked();
    let mut bytes = encode_to_vec(&json!({"op": "noop", "size": 5})).unwrap();
    bytes.extend_from_slice(b"12345");
    bytes.extend(encode_to_vec(&json!({"op": "noop"})).unwrap());
    p.send_raw(&bytes);
    let replies = p.headers();
    assert_eq!(code(&replies[0]), "unexpected_body");
    assert_eq!(replies[1], json!({"ok": true}));
}

#[test]
fn a_framing_error_replies_then_closes_and_ignores_the_rest() {
    let mut p = Pair::checked();
    let mut bytes = 3u32.to_be_bytes().to_vec();
    bytes.extend_from_slice(b"[1]");
    bytes.extend(encode_to_vec(&json!({"op": "noop"})).unwrap());
    p.send_raw(&bytes);
    let replies = p.headers();
    assert_eq!(replies.len(), 1);
    assert_eq!(code(&replies[0]), "bad_frame");
    assert!(p.closed);
}

#[test]
fn an_oversized_length_is_refused_from_four_bytes() {
    let mut p = Pair::checked();
    p.send_raw(&(64 * 1024 + 1u32).to_be_bytes());
    assert_eq!(code(&p.headers()[0]), "frame_too_large");
    assert!(p.closed);
}

fn handshake_deadline_runs_from_connect_and_idle_deadline_from_last_request(store: Store) {
    let mut p = Pair::on(store);
    let start = p.now;
    assert_eq!(p.server.poll_timeout(), Some(start + Duration::from_secs(30)));
    p.now += Duration::from_secs(29);
    assert!(!p.fire_timer(), "fired early");
    p.now += Duration::from_secs(1);
    assert!(p.fire_timer());
    let frames = p.headers();
    assert_eq!(code(frames.last().unwrap()), "timeout");
    assert!(p.closed);

    let mut p = Pair::checked_on(store);
    p.register("dave", "pencil-pencil");
    p.login("dave", "pencil-pencil");
    p.now += Duration::from_secs(100);
    p.request(json!({"op": "noop"}));
    assert_eq!(p.server.poll_timeout(), Some(p.now + Duration::from_secs(300)));
}

fn closing_mid_login_is_audited_as_abandoned(store: Store) {
    let mut p = Pair::checked_on(store);
    p.register("erin", "pencil-pencil");
    p.request(json!({"op": "login", "user": "erin", "nonce": "abandon-me"}));
    p.close(CloseReason::PeerClosed);
    let last = p.audit_lines("register_login_accounts.log").pop().unwrap();
    assert_eq!((last["event"].as_str(), last["reason"].as_str()), (Some("login"), Some("abandoned")));
}

#[test]
fn an_eof_between_requests_is_a_clean_close_after_the_answers() {
    let mut p = Pair::logged_in("faye");
    p.send(json!({"op": "noop"}));
    p.send(json!({"op": "pwd"}));
    p.client_eof = true;
    let replies = p.headers();
    assert_eq!(replies, vec![json!({"ok": true}), json!({"ok": true, "cwd": "/"})]);
    assert!(p.closed, "the session ends after answering what came before the EOF");
    // The driver closed it as `Done`; the session knows the peer left.
    let last = p.audit_lines("register_login_accounts.log").pop().unwrap();
    assert_eq!(
        (last["event"].as_str(), last["message"].as_str()),
        (Some("logout"), Some("peer closed the connection"))
    );
}

#[test]
fn eof_inside_a_frame_is_reported_not_treated_as_clean() {
    let mut p = Pair::checked();
    let bytes = encode_to_vec(&json!({"op": "noop"})).unwrap();
    p.send_raw(&bytes[..3]);
    p.run();
    assert!(p.client.frames.is_empty());
    p.client_eof = true;
    assert_eq!(code(&p.headers()[0]), "bad_frame");
    assert!(p.closed);
}

#[test]
fn every_op_misnamed_is_unknown_op_and_with_bad_fields_bad_request_and_the_session_goes_on() {
    let mut p = Pair::checked();
    for op in crate::protocol::Op::ALL {
        for wrong in [json!(op.as_str().to_uppercase()), json!([op.as_str()]), serde_json::Value::Null] {
            assert_eq!(code(&p.request(json!({"op": wrong}))), "unknown_op", "{op}");
        }
    }
    assert_eq!(code(&p.request(json!({"path": "/"}))), "unknown_op");
    for bad in [
        json!({"op": "auth"}),
        json!({"op": "login", "user": "a", "nonce": 5}),
        json!({"op": "cd", "path": 1}),
        json!({"op": "put", "path": "f", "length": -1}),
        json!({"op": "get", "path": "f", "offset": "0"}),
    ] {
        assert_eq!(code(&p.request(bad.clone())), "bad_request", "{bad}");
    }
    // A body on a request that is refused anyway: the body is the error.
    let mut bytes = encode_to_vec(&json!({"op": "mystery", "size": 2})).unwrap();
    bytes.extend_from_slice(b"xy");
    p.send_raw(&bytes);
    let replies = p.headers();
    assert_eq!(replies.len(), 1, "{replies:?}");
    assert_eq!(code(&replies[0]), "unexpected_body");
    assert!(!p.closed);
    assert_eq!(p.request(json!({"op": "noop"})), json!({"ok": true}));
}

#[test]
fn a_request_before_the_check_is_refused_whatever_it_is() {
    for req in [
        json!({"op": "noop"}),
        json!({"op": "mystery"}),
        json!({"op": "auth"}),
        json!({"op": "auth", "hmac": "x", "size": 1}),
    ] {
        let mut p = Pair::new();
        p.headers();
        let mut bytes = encode_to_vec(&req).unwrap();
        bytes.extend_from_slice(&vec![b'.'; req["size"].as_u64().unwrap_or(0) as usize]);
        p.send_raw(&bytes);
        let replies = p.headers();
        assert_eq!(code(&replies[0]), "handshake_required", "{req}");
        assert!(p.closed, "{req}");
    }
}

on_both!(
    register_then_login_then_logout,
    unknown_user_and_wrong_password_look_the_same,
    a_replayed_proof_fails,
    invalid_usernames_are_refused_clearly,
    weak_kdf_and_duplicates_are_refused,
    handshake_deadline_runs_from_connect_and_idle_deadline_from_last_request,
    closing_mid_login_is_audited_as_abandoned,
);
