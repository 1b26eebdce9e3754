//! Requests out of order: before the connection check, before login, a
//! proof without a login, a replayed proof, a second check.

use super::*;
use mioftp::protocol::scram;
use serde_json::json;

#[test]
fn every_file_op_before_login_is_not_logged_in() {
    let a = arena();
    let mut raw = a.checked();
    let ops = [
        json!({"op": "pwd"}),
        json!({"op": "cd", "path": "/"}),
        json!({"op": "mkdir", "path": "x"}),
        json!({"op": "rm", "path": "x"}),
        json!({"op": "dir"}),
        json!({"op": "quota"}),
        json!({"op": "put", "path": "x", "length": 1}),
        json!({"op": "put_data", "size": 0}),
        json!({"op": "put_done", "sha256": "00"}),
        json!({"op": "get", "path": "x"}),
    ];
    // In OPEN, in LOGIN_PENDING, and after a logout.
    for op in &ops {
        assert_eq!(code(&raw.call(op.clone())), "not_logged_in", "open: {op}");
    }
    raw.send(json!({"op": "put_data", "size": 4}));
    raw.send_bytes(b"data");
    assert_eq!(code(&raw.recv()), "not_logged_in", "put_data with a body");

    let first = raw.call(json!({"op": "login", "user": "mallory", "nonce": "pendingnonce1234"}));
    assert_eq!(first["ok"], true, "{first}");
    for op in &ops {
        assert_eq!(code(&raw.call(op.clone())), "not_logged_in", "pending: {op}");
    }
    let done = raw.call(json!({"op": "login_proof", "proof": proof_for(&first, "mallory", "pendingnonce1234")}));
    assert_eq!(done["ok"], true, "the pending login survived: {done}");
    assert_eq!(raw.call(json!({"op": "logout"})), json!({"ok": true}));
    for op in &ops {
        assert_eq!(code(&raw.call(op.clone())), "not_logged_in", "after logout: {op}");
    }
    a.finish(&[]);
}

#[test]
fn login_proof_without_login_is_bad_state() {
    let a = arena();
    let mut raw = a.checked();
    let proof = scram::b64(&[9; 32]);
    assert_eq!(code(&raw.call(json!({"op": "login_proof", "proof": proof}))), "bad_state");
    let mut authed = a.mallory();
    assert_eq!(code(&authed.call(json!({"op": "login_proof", "proof": proof}))), "bad_state");
    assert_eq!(authed.call(json!({"op": "pwd"}))["cwd"], "/", "still logged in");
    assert_eq!(raw.call(json!({"op": "noop"})), json!({"ok": true}));
    a.finish(&[]);
}

#[test]
fn a_replayed_scram_proof_is_refused() {
    let a = arena();
    let nonce = "replayednonce123";
    let mut first = a.checked();
    let challenge = first.call(json!({"op": "login", "user": "mallory", "nonce": nonce}));
    let proof = proof_for(&challenge, "mallory", nonce);
    assert_eq!(first.call(json!({"op": "login_proof", "proof": proof}))["ok"], true);

    // Same user, same client nonce, the captured proof: the server nonce
    // differs, so the proof is worthless.
    let mut replay = a.checked();
    let again = replay.call(json!({"op": "login", "user": "mallory", "nonce": nonce}));
    assert_ne!(again["nonce"], challenge["nonce"]);
    assert_eq!(code(&replay.call(json!({"op": "login_proof", "proof": proof}))), "auth_failed");
    assert_eq!(code(&replay.call(json!({"op": "pwd"}))), "not_logged_in");
    // And on the connection that used it, once more after a new login.
    assert_eq!(first.call(json!({"op": "logout"})), json!({"ok": true}));
    assert_eq!(first.call(json!({"op": "login", "user": "mallory", "nonce": nonce}))["ok"], true);
    assert_eq!(code(&first.call(json!({"op": "login_proof", "proof": proof}))), "auth_failed");
    a.finish(&[]);
}

#[test]
fn auth_twice_is_bad_state_and_the_connection_stays_usable() {
    let a = arena();
    let mut raw = a.server.raw();
    let hmac = scram::b64(&scram::hmac(&a.server.key, &raw.challenge));
    assert_eq!(raw.call(json!({"op": "auth", "hmac": hmac})), json!({"ok": true}));
    assert_eq!(code(&raw.call(json!({"op": "auth", "hmac": hmac}))), "bad_state");
    assert_eq!(raw.call(json!({"op": "noop"})), json!({"ok": true}));
    let mut authed = a.mallory();
    assert_eq!(code(&authed.call(json!({"op": "auth", "hmac": hmac}))), "bad_state");
    assert_eq!(authed.call(json!({"op": "pwd"}))["cwd"], "/");
    a.finish(&[]);
}

#[test]
fn an_unknown_op_before_the_check_is_handshake_required_and_closes() {
    let a = arena();
    let mut raw = a.server.raw();
    raw.send(json!({"op": "frobnicate"}));
    raw.expect_fatal("handshake_required");
    a.finish(&[]);
}

#[test]
fn a_malformed_auth_before_the_check_closes_the_connection() {
    let a = arena();
    let mut raw = a.server.raw();
    raw.send(json!({"op": "auth", "hmac": 5}));
    // A peer without the key gets one answer, then the close.
    raw.expect_fatal("handshake_required");
    a.finish(&[]);
}

#[test]
fn a_body_before_the_check_is_handshake_required_and_closes() {
    let a = arena();
    let mut raw = a.server.raw();
    raw.send(json!({"op": "noop", "size": 3}));
    raw.send_bytes(b"abc");
    raw.expect_fatal("handshake_required");
    a.finish(&[]);
}

#[test]
fn requests_out_of_state_are_bad_state_and_change_nothing() {
    let a = arena();
    let mut raw = a.mallory();
    let reg = json!({"op": "register", "user": "newbie", "salt": scram::b64(&[1; 16]), "iterations": 1000,
                     "stored_key": scram::b64(&[2; 32]), "server_key": scram::b64(&[3; 32])});
    assert_eq!(code(&raw.call(reg)), "bad_state", "register while logged in");
    assert_eq!(code(&raw.call(json!({"op": "login", "user": "steady", "nonce": "abcdefghijkl"}))), "bad_state");
    assert_eq!(raw.call(json!({"op": "pwd"}))["cwd"], "/", "still mallory");
    assert!(!a.server.path("accounts/newbie.json").exists());
    a.finish(&[]);
}
