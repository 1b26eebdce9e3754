//! Session tests without sockets: bytes in, frames out, a fake clock.
//!
//! Every case that touches storage (accounts, homes, files) runs twice, on
//! the disk storage and on the memory one (`on_both!`); the file commands
//! and transfers are in [`files`].

use super::*;
use crate::config::Config;
use crate::protocol::frame::encode_to_vec;
use crate::protocol::scram::{self, ClientKeys, Exchange};
use crate::storage::memory::MemoryStorage;
use serde_json::{Value, json};
use std::time::Duration;

mod files;

const ITER: u32 = 1000;

/// Which storage a harness runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Store {
    Disk,
    Memory,
}

/// Runs each named `fn case(store: Store)` as two tests, `case::on_disk`
/// and `case::in_memory`.
macro_rules! on_both {
    ($($case:ident),* $(,)?) => {
        $(
            mod $case {
                #[test]
                fn on_disk() {
                    super::$case(super::Store::Disk)
                }
                #[test]
                fn in_memory() {
                    super::$case(super::Store::Memory)
                }
            }
        )*
    };
}
use on_both;

struct Harness {
    session: Session,
    svc: Services,
    now: Instant,
    dir: tempfile::TempDir,
    /// The memory storage, when the harness runs on it.
    memory: Option<MemoryStorage>,
}

impl Harness {
    fn new() -> Harness {
        Harness::on(Store::Disk)
    }

    fn on(store: Store) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = Config::new(dir.path());
        cfg.min_iterations = ITER;
        let memory = (store == Store::Memory).then(MemoryStorage::new);
        let svc = match &memory {
            None => Services::open(cfg).unwrap(),
            Some(m) => Services::with_storage(cfg, Arc::new(m.clone())).unwrap(),
        };
        let now = Instant::now();
        let session = Session::new(1, "127.0.0.1:9".parse().unwrap(), now, &svc).unwrap();
        Harness { session, svc, now, dir, memory }
    }

    /// Creates a file in a user's home behind the server's back.
    fn plant(&self, user: &str, path: &str, bytes: &[u8]) {
        match &self.memory {
            Some(m) => m.write_file(user, path, bytes).unwrap(),
            None => {
                let p = self.dir.path().join("home").join(user).join(path);
                std::fs::create_dir_all(p.parent().unwrap()).unwrap();
                std::fs::write(p, bytes).unwrap();
            }
        }
    }

    /// Whether anything is at `path` in a user's home ("" for the home itself).
    fn exists(&self, user: &str, path: &str) -> bool {
        match &self.memory {
            Some(m) => m.users().iter().any(|u| u == user) && m.exists(user, path),
            None => std::fs::symlink_metadata(self.dir.path().join("home").join(user).join(path)).is_ok(),
        }
    }

    /// Every whole frame the session has queued, consumed.
    fn frames(&mut self) -> Vec<Value> {
        let out = self.session.output().to_vec();
        self.session.advance_output(out.len(), self.now);
        let mut at = 0;
        let mut frames = Vec::new();
        while let Some((f, n)) = frame::decode(&out[at..]).unwrap() {
            frames.push(Value::Object(f.header));
            at += n;
        }
        assert_eq!(at, out.len(), "output ends with a partial frame");
        frames
    }

    fn one(&mut self) -> Value {
        let mut f = self.frames();
        assert_eq!(f.len(), 1, "{f:?}");
        f.remove(0)
    }

    fn feed(&mut self, bytes: &[u8]) -> usize {
        self.session.receive(bytes, self.now, &mut self.svc)
    }

    fn request(&mut self, v: Value) -> Value {
        let bytes = encode_to_vec(&v).unwrap();
        assert_eq!(self.feed(&bytes), bytes.len());
        self.one()
    }

    fn checked() -> Harness {
        Harness::checked_on(Store::Disk)
    }

    fn checked_on(store: Store) -> Harness {
        let mut h = Harness::on(store);
        let hello = h.one();
        let challenge = scram::unb64(hello["challenge"].as_str().unwrap()).unwrap();
        let mac = scram::hmac(&h.svc.key, &challenge);
        assert_eq!(h.request(json!({"op": "auth", "hmac": scram::b64(&mac)})), json!({"ok": true}));
        h
    }

    fn register(&mut self, user: &str, password: &str) -> Value {
        let salt = b"saltsaltsaltsalt";
        let keys = ClientKeys::from_salted(&scram::salted_password(password.as_bytes(), salt, ITER));
        self.request(json!({
            "op": "register", "user": user, "salt": scram::b64(salt), "iterations": ITER,
            "stored_key": scram::b64(&keys.stored_key), "server_key": scram::b64(&keys.server_key),
        }))
    }

    /// Runs a full SCRAM login; returns the final reply.
    fn login(&mut self, user: &str, password: &str) -> Value {
        let cnonce = "clientnonce123";
        let first = self.request(json!({"op": "login", "user": user, "nonce": cnonce}));
        assert_eq!(first["ok"], true, "{first}");
        let salt = scram::unb64(first["salt"].as_str().unwrap()).unwrap();
        let iterations = first["iterations"].as_u64().unwrap() as u32;
        let nonce = first["nonce"].as_str().unwrap().to_owned();
        let ex = Exchange { user, client_nonce: cnonce, nonce: &nonce, salt: &salt, iterations };
        let keys = ClientKeys::from_salted(&scram::salted_password(password.as_bytes(), &salt, iterations));
        let reply = self.request(json!({"op": "login_proof", "proof": scram::b64(&keys.proof(&ex.auth_message()))}));
        if reply["ok"] == true {
            let sig = scram::unb64(reply["server_signature"].as_str().unwrap()).unwrap();
            assert!(keys.verify_server(&ex.auth_message(), &sig));
        }
        reply
    }

    fn audit_lines(&self, name: &str) -> Vec<Value> {
        let text = std::fs::read_to_string(self.dir.path().join("logs").join(name)).unwrap_or_default();
        text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    }
}

fn code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or("")
}

#[test]
fn hello_announces_version_challenge_and_kdf_policy() {
    let mut h = Harness::new();
    let hello = h.one();
    assert_eq!(hello["notice"], "hello");
    assert_eq!(hello["protocol"], 1);
    assert_eq!(scram::unb64(hello["challenge"].as_str().unwrap()).unwrap().len(), 32);
    assert_eq!(hello["kdf"], "pbkdf2-sha256");
    assert_eq!(hello["min_iterations"], ITER);
}

#[test]
fn a_wrong_hmac_fails_closes_and_is_audited() {
    let mut h = Harness::new();
    h.frames();
    let reply = h.request(json!({"op": "auth", "hmac": scram::b64(&[0; 32])}));
    assert_eq!(code(&reply), "handshake_failed");
    assert!(h.session.is_finished());
    let log = h.audit_lines("register_login_accounts.log");
    assert_eq!((log[0]["event"].as_str(), log[0]["outcome"].as_str()), (Some("handshake"), Some("fail")));
}

#[test]
fn requests_before_the_check_are_refused_and_close() {
    let mut h = Harness::new();
    h.frames();
    let reply = h.request(json!({"op": "login", "user": "a", "nonce": "abcdefghij"}));
    assert_eq!(code(&reply), "handshake_required");
    assert!(h.session.is_finished());
}

fn register_then_login_then_logout(store: Store) {
    let mut h = Harness::checked_on(store);
    assert_eq!(h.register("alice", "pencil-pencil"), json!({"ok": true, "user": "alice"}));
    assert!(h.exists("alice", ""), "registering creates the home");
    let reply = h.login("alice", "pencil-pencil");
    assert_eq!(reply["user"], "alice");
    assert_eq!(h.session.user(), Some("alice"));
    assert_eq!(h.request(json!({"op": "logout"})), json!({"ok": true}));
    assert_eq!(h.session.user(), None);
    let events: Vec<_> = h
        .audit_lines("register_login_accounts.log")
        .iter()
        .map(|r| format!("{}:{}", r["event"].as_str().unwrap(), r["outcome"].as_str().unwrap()))
        .collect();
    assert_eq!(events, ["handshake:ok", "register:ok", "login:ok", "logout:ok"]);
}

fn unknown_user_and_wrong_password_look_the_same(store: Store) {
    let mut h = Harness::checked_on(store);
    h.register("alice", "pencil-pencil");
    let wrong = h.login("alice", "wrong-password");
    let unknown = h.login("mallory", "wrong-password");
    assert_eq!(wrong, unknown);
    assert_eq!(code(&wrong), "auth_failed");
    // The unknown user's salt is stable, so asking twice reveals nothing.
    let a = h.request(json!({"op": "login", "user": "nobody", "nonce": "nonce-one-1"}));
    h.request(json!({"op": "login_proof", "proof": scram::b64(&[0; 32])}));
    let b = h.request(json!({"op": "login", "user": "nobody", "nonce": "nonce-two-2"}));
    assert_eq!(a["salt"], b["salt"]);
    assert_eq!(a["iterations"], ITER);
}

#[test]
fn login_proof_without_login_is_bad_state_and_the_session_stays_usable() {
    let mut h = Harness::checked();
    let reply = h.request(json!({"op": "login_proof", "proof": "AAAA"}));
    assert_eq!(code(&reply), "bad_state");
    assert_eq!(h.request(json!({"op": "noop"})), json!({"ok": true}));
}

fn a_replayed_proof_fails(store: Store) {
    let mut h = Harness::checked_on(store);
    h.register("bob", "correct-horse");
    // Capture a valid proof for one exchange...
    let first = h.request(json!({"op": "login", "user": "bob", "nonce": "replaynonce1"}));
    let salt = scram::unb64(first["salt"].as_str().unwrap()).unwrap();
    let nonce = first["nonce"].as_str().unwrap().to_owned();
    let ex = Exchange { user: "bob", client_nonce: "replaynonce1", nonce: &nonce, salt: &salt, iterations: ITER };
    let keys = ClientKeys::from_salted(&scram::salted_password(b"correct-horse", &salt, ITER));
    let proof = json!({"op": "login_proof", "proof": scram::b64(&keys.proof(&ex.auth_message()))});
    assert_eq!(h.request(proof.clone())["ok"], true);
    h.request(json!({"op": "logout"}));
    // ...and replay it against a fresh exchange with the same client nonce.
    h.request(json!({"op": "login", "user": "bob", "nonce": "replaynonce1"}));
    assert_eq!(code(&h.request(proof)), "auth_failed");
}

fn invalid_usernames_are_refused_clearly(store: Store) {
    let mut h = Harness::checked_on(store);
    for user in ["", "..", "Alice", "a/b", "a\u{0}b", &"x".repeat(33), ".x", "a b"] {
        let reply = h.register(user, "pencil-pencil");
        assert_eq!(code(&reply), "invalid_username", "{user:?}");
    }
}

fn weak_kdf_and_duplicates_are_refused(store: Store) {
    let mut h = Harness::checked_on(store);
    let weak = h.request(json!({
        "op": "register", "user": "carol", "salt": scram::b64(b"saltsalt"), "iterations": ITER - 1,
        "stored_key": scram::b64(&[1; 32]), "server_key": scram::b64(&[2; 32]),
    }));
    assert_eq!(code(&weak), "weak_kdf");
    assert_eq!(h.register("carol", "pencil-pencil")["ok"], true);
    assert_eq!(code(&h.register("carol", "other-password")), "user_exists");
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let mut h = Harness::checked();
    let mut bytes = Vec::new();
    for op in ["noop", "bogus", "noop", "logout"] {
        bytes.extend(encode_to_vec(&json!({ "op": op })).unwrap());
    }
    assert_eq!(h.feed(&bytes), bytes.len());
    let codes: Vec<_> = h.frames().iter().map(|f| code(f).to_owned()).collect();
    assert_eq!(codes, ["", "unknown_op", "", "not_logged_in"]);
}

#[test]
fn a_request_fed_one_byte_at_a_time_is_answered_once() {
    let mut h = Harness::checked();
    let bytes = encode_to_vec(&json!({"op": "noop"})).unwrap();
    let mut held = Vec::new();
    for b in bytes {
        held.push(b);
        let used = h.feed(&held);
        held.drain(..used);
    }
    assert!(held.is_empty());
    assert_eq!(h.frames(), vec![json!({"ok": true})]);
}

#[test]
fn a_body_on_a_bodiless_request_is_discarded_and_framing_survives() {
    let mut h = Harness::checked();
    let mut bytes = encode_to_vec(&json!({"op": "noop", "size": 5})).unwrap();
    bytes.extend_from_slice(b"12345");
    bytes.extend(encode_to_vec(&json!({"op": "noop"})).unwrap());
    assert_eq!(h.feed(&bytes), bytes.len());
    let replies = h.frames();
    assert_eq!(code(&replies[0]), "unexpected_body");
    assert_eq!(replies[1], json!({"ok": true}));
}

#[test]
fn a_framing_error_replies_then_closes_and_ignores_the_rest() {
    let mut h = Harness::checked();
    let mut bytes = 3u32.to_be_bytes().to_vec();
    bytes.extend_from_slice(b"[1]");
    bytes.extend(encode_to_vec(&json!({"op": "noop"})).unwrap());
    h.feed(&bytes);
    let replies = h.frames();
    assert_eq!(replies.len(), 1);
    assert_eq!(code(&replies[0]), "bad_frame");
    assert!(h.session.is_finished());
}

#[test]
fn an_oversized_length_is_refused_from_four_bytes() {
    let mut h = Harness::checked();
    h.feed(&(64 * 1024 + 1u32).to_be_bytes());
    assert_eq!(code(&h.one()), "frame_too_large");
    assert!(h.session.is_finished());
}

#[test]
fn output_back_pressure_stops_input_until_drained() {
    let mut h = Harness::checked();
    let one = encode_to_vec(&json!({"op": "bogus_op_with_a_reply"})).unwrap();
    let bytes: Vec<u8> = one.iter().copied().cycle().take(one.len() * 20_000).collect();
    let used = h.feed(&bytes);
    assert!(used < bytes.len(), "all {used} bytes taken despite back-pressure");
    assert!(!h.session.wants_input());
    assert!(h.session.output().len() < OUT_HIGH_WATER + 1024);
    h.frames();
    assert!(h.session.wants_input());
    assert!(h.feed(&bytes[used..]) > 0);
}

fn handshake_deadline_runs_from_connect_and_idle_deadline_from_last_request(store: Store) {
    let mut h = Harness::on(store);
    let start = h.now;
    assert_eq!(h.session.deadline(&h.svc), start + Duration::from_secs(30));
    h.now += Duration::from_secs(29);
    h.session.on_timeout(h.now, &mut h.svc);
    assert!(!h.session.is_closing(), "fired early");
    h.now += Duration::from_secs(1);
    h.session.on_timeout(h.now, &mut h.svc);
    let frames = h.frames();
    assert_eq!(code(frames.last().unwrap()), "timeout");
    assert!(h.session.is_finished());

    let mut h = Harness::checked_on(store);
    h.register("dave", "pencil-pencil");
    h.login("dave", "pencil-pencil");
    h.now += Duration::from_secs(100);
    h.request(json!({"op": "noop"}));
    assert_eq!(h.session.deadline(&h.svc), h.now + Duration::from_secs(300));
}

fn closing_mid_login_or_logged_in_is_audited(store: Store) {
    let mut h = Harness::checked_on(store);
    h.register("erin", "pencil-pencil");
    h.request(json!({"op": "login", "user": "erin", "nonce": "abandon-me"}));
    h.session.on_close(CloseReason::PeerClosed, h.now, &mut h.svc);
    let last = h.audit_lines("register_login_accounts.log").pop().unwrap();
    assert_eq!((last["event"].as_str(), last["reason"].as_str()), (Some("login"), Some("abandoned")));
}

#[test]
fn eof_inside_a_frame_is_reported_not_treated_as_clean() {
    let mut h = Harness::checked();
    let bytes = encode_to_vec(&json!({"op": "noop"})).unwrap();
    let used = h.feed(&bytes[..3]);
    assert_eq!(used, 0);
    h.session.on_eof(3, h.now, &mut h.svc);
    assert_eq!(code(&h.one()), "bad_frame");
    assert!(h.session.is_finished());
}

on_both!(
    register_then_login_then_logout,
    unknown_user_and_wrong_password_look_the_same,
    a_replayed_proof_fails,
    invalid_usernames_are_refused_clearly,
    weak_kdf_and_duplicates_are_refused,
    handshake_deadline_runs_from_connect_and_idle_deadline_from_last_request,
    closing_mid_login_or_logged_in_is_audited,
);
