//! Frames that are valid but are not valid requests: missing or mistyped
//! fields (`bad_request`), unknown or non-string ops (`unknown_op`), bad
//! usernames, KDF parameters and nonces. The session survives each.

use super::*;
use mioftp::protocol::scram;
use serde_json::{Value, json};

#[test]
fn missing_fields_are_bad_request_for_every_op_and_the_session_survives() {
    let a = arena();
    let mut raw = a.mallory();
    let salt = scram::b64(&[1; 16]);
    let key = scram::b64(&[2; 32]);
    let cases = [
        json!({"op": "auth"}),
        json!({"op": "register", "salt": salt, "iterations": 1000, "stored_key": key, "server_key": key}),
        json!({"op": "register", "user": "zed", "iterations": 1000, "stored_key": key, "server_key": key}),
        json!({"op": "register", "user": "zed", "salt": salt, "stored_key": key, "server_key": key}),
        json!({"op": "register", "user": "zed", "salt": salt, "iterations": 1000, "server_key": key}),
        json!({"op": "register", "user": "zed", "salt": salt, "iterations": 1000, "stored_key": key}),
        json!({"op": "login", "nonce": "abcdefghijkl"}),
        json!({"op": "login", "user": "mallory"}),
        json!({"op": "login_proof"}),
        json!({"op": "cd"}),
        json!({"op": "mkdir", "parents": true}),
        json!({"op": "rm"}),
        json!({"op": "put", "length": 5}),
        json!({"op": "put", "path": "x"}),
        json!({"op": "put_done"}),
        json!({"op": "get"}),
    ];
    for case in &cases {
        assert_eq!(code(&raw.call(case.clone())), "bad_request", "{case}");
    }
    assert_eq!(raw.call(json!({"op": "pwd"}))["cwd"], "/", "still logged in");
    a.finish(&[]);
}

#[test]
fn wrong_field_types_are_bad_request_for_every_op() {
    let a = arena();
    let mut raw = a.mallory();
    let salt = scram::b64(&[1; 16]);
    let key = scram::b64(&[2; 32]);
    let reg = |field: &str, value: Value| {
        let mut r = json!({"op": "register", "user": "zed", "salt": salt, "iterations": 1000, "stored_key": key, "server_key": key});
        r[field] = value;
        r
    };
    let cases = [
        json!({"op": "auth", "hmac": 5}),
        reg("user", json!(5)),
        reg("salt", json!([1, 2])),
        reg("iterations", json!("1000")),
        reg("iterations", json!(-1)),
        reg("iterations", json!(1000.5)),
        reg("iterations", json!(1u64 << 32)),
        reg("stored_key", json!(null)),
        reg("server_key", json!({"k": 1})),
        json!({"op": "login", "user": null, "nonce": "abcdefghijkl"}),
        json!({"op": "login", "user": "mallory", "nonce": ["abcdefghijkl"]}),
        json!({"op": "login_proof", "proof": {}}),
        json!({"op": "cd", "path": 5}),
        json!({"op": "mkdir", "path": true}),
        json!({"op": "mkdir", "path": "d", "parents": "yes"}),
        json!({"op": "rm", "path": []}),
        json!({"op": "dir", "path": 5}),
        json!({"op": "put", "path": 1, "length": 5}),
        json!({"op": "put", "path": "x", "length": "5"}),
        json!({"op": "put", "path": "x", "length": -5}),
        json!({"op": "put", "path": "x", "length": 5, "resume": "no"}),
        json!({"op": "put_done", "sha256": 5}),
        json!({"op": "get", "path": 7}),
        json!({"op": "get", "path": "x", "offset": -1}),
        json!({"op": "get", "path": "x", "offset": "0"}),
        json!({"op": "get", "path": "x", "if_match": 5}),
    ];
    for case in &cases {
        assert_eq!(code(&raw.call(case.clone())), "bad_request", "{case}");
    }
    assert_eq!(raw.call(json!({"op": "pwd"}))["cwd"], "/", "still logged in");
    a.finish(&[]);
}

#[test]
fn unknown_and_non_string_ops_are_unknown_op_and_the_session_survives() {
    let a = arena();
    let mut raw = a.mallory();
    let cases = [
        json!({}),
        json!({"op": ""}),
        json!({"op": "NOOP"}),
        json!({"op": "noop "}),
        json!({"op": "noop\u{0}"}),
        json!({"op": "list"}),
        json!({"op": "put_data2"}),
        json!({"op": 5}),
        json!({"op": null}),
        json!({"op": ["noop"]}),
        json!({"op": {"op": "noop"}}),
    ];
    for case in &cases {
        assert_eq!(code(&raw.call(case.clone())), "unknown_op", "{case}");
    }
    assert_eq!(raw.call(json!({"op": "pwd"}))["cwd"], "/");
    a.finish(&[]);
}

#[test]
fn a_sixty_kilobyte_op_name_is_unknown_op_with_a_short_message() {
    let a = arena();
    let mut raw = a.checked();
    let reply = raw.call(json!({"op": "x".repeat(60_000)}));
    assert_eq!(code(&reply), "unknown_op");
    let message = reply["error"]["message"].as_str().unwrap();
    assert!(message.len() < 200, "the op is not echoed in full: {} bytes", message.len());
    assert_eq!(raw.call(json!({"op": "noop"})), json!({"ok": true}));
    a.finish(&[]);
}

#[test]
fn usernames_with_nul_uppercase_slash_or_dots_are_invalid_and_create_nothing() {
    let a = arena();
    let mut raw = a.checked();
    let long = "a".repeat(33);
    let names =
        ["nul\u{0}byte", "Alice", "MALLORY", "a/b", "../etc", "..", ".", ".hidden", "-dash", "", "a b", "é", &long];
    for name in names {
        let reg = raw.call(json!({
            "op": "register", "user": name, "salt": scram::b64(&[1; 16]), "iterations": 1000,
            "stored_key": scram::b64(&[2; 32]), "server_key": scram::b64(&[3; 32])
        }));
        assert_eq!(code(&reg), "invalid_username", "register {name:?}: {reg}");
        let login = raw.call(json!({"op": "login", "user": name, "nonce": "abcdefghijkl"}));
        assert_eq!(code(&login), "invalid_username", "login {name:?}: {login}");
    }
    assert_eq!(raw.call(json!({"op": "noop"})), json!({"ok": true}));
    a.finish(&[]);
}

#[test]
fn register_with_out_of_range_kdf_parameters_is_refused_and_creates_nothing() {
    let a = arena();
    let mut raw = a.checked();
    let reg = |user: &str, salt: &[u8], iterations: u64, stored: &[u8]| {
        json!({"op": "register", "user": user, "salt": scram::b64(salt), "iterations": iterations,
               "stored_key": scram::b64(stored), "server_key": scram::b64(&[3; 32])})
    };
    let cases = [
        (reg("zed", &[1; 16], 0, &[2; 32]), "weak_kdf"),
        (reg("zed", &[1; 16], u64::from(TEST_ITERATIONS) - 1, &[2; 32]), "weak_kdf"),
        (reg("zed", &[1; 16], 1 << 32, &[2; 32]), "bad_request"),
        (reg("zed", &[1; 7], 1000, &[2; 32]), "weak_kdf"),
        (reg("zed", &[1; 65], 1000, &[2; 32]), "weak_kdf"),
        (reg("zed", &[1; 16], 1000, &[2; 31]), "weak_kdf"),
        (reg("mallory", &[1; 16], 1000, &[2; 32]), "user_exists"),
    ];
    for (req, want) in &cases {
        assert_eq!(code(&raw.call(req.clone())), *want, "{req}");
    }
    assert_eq!(raw.call(json!({"op": "noop"})), json!({"ok": true}));
    a.finish(&[]);
}

#[test]
fn a_login_with_a_bad_nonce_is_bad_request_and_leaves_nothing_pending() {
    let a = arena();
    let mut raw = a.checked();
    for nonce in ["has,comma12", "short", &"n".repeat(129), "space in it", "tab\tnonce123"] {
        let reply = raw.call(json!({"op": "login", "user": "mallory", "nonce": nonce}));
        assert_eq!(code(&reply), "bad_request", "{nonce:?}: {reply}");
    }
    assert_eq!(code(&raw.call(json!({"op": "login_proof", "proof": scram::b64(&[0; 32])}))), "bad_state");
    a.finish(&[]);
}
