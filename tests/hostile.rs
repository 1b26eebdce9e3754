//! Hostile peers over raw sockets, one behaviour per test.
//!
//! Every test runs in an [`Arena`]: a real server, a healthy logged-in client
//! ("steady") that must still be answered after the hostile action, and a
//! hostile user ("mallory"). When the test ends, [`Arena::finish`] proves
//! three things beyond the test's own assertions: the healthy client is still
//! served (noop, pwd, dir), nothing outside mallory's home changed (accounts,
//! other homes, the key files), and mallory's home shows exactly the files
//! the test expects (so no partial upload ever appears under a final name).

mod common;
use common::*;
use mioftp::protocol::scram;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// A server with a healthy client and a hostile account.
struct Arena {
    server: TestServer,
    healthy: mioftp_client::Client,
    skip: Vec<PathBuf>,
    before: BTreeMap<String, Vec<u8>>,
}

fn arena() -> Arena {
    arena_with(|_| {})
}

fn arena_with(tweak: impl FnOnce(&mut mioftp::config::Config)) -> Arena {
    let server = TestServer::start_with(tweak);
    let healthy = server.user("steady");
    std::fs::write(server.path("home/steady/keep.txt"), b"steady's file").unwrap();
    server.user("mallory").exit().unwrap();
    let skip = vec![server.path("logs"), server.path("home/mallory")];
    let before = tree_snapshot(server.root.path(), &skip);
    Arena { server, healthy, skip, before }
}

impl Arena {
    /// A raw connection past the key check, not logged in.
    fn checked(&self) -> Raw {
        self.server.raw_checked()
    }

    /// A raw connection logged in as mallory.
    fn mallory(&self) -> Raw {
        let mut raw = self.server.raw_checked();
        scram_login(&mut raw, "mallory");
        raw
    }

    fn home(&self) -> PathBuf {
        self.server.path("home/mallory")
    }

    /// The checks every test ends with; `files` are mallory's visible files
    /// (directories end with `/`).
    fn finish(mut self, files: &[&str]) {
        self.healthy.noop().expect("the healthy client is still answered");
        assert_eq!(self.healthy.pwd().expect("pwd"), "/");
        let listing = self.healthy.dir(None).expect("dir");
        assert_eq!(listing.get("keep.txt").map(|e| e.size), Some(13), "the healthy client's file is intact");
        assert_eq!(
            tree_snapshot(self.server.root.path(), &self.skip),
            self.before,
            "nothing outside mallory's home may change"
        );
        let mut want: Vec<String> = files.iter().map(|s| s.to_string()).collect();
        want.sort();
        assert_eq!(visible_files(&self.home()), want, "mallory's visible files");
    }
}

/// The SCRAM proof for a `login` reply, with the test password.
fn proof_for(first: &Value, user: &str, client_nonce: &str) -> String {
    use mioftp::protocol::scram::{ClientKeys, Exchange};
    let salt = scram::unb64(first["salt"].as_str().expect("salt")).unwrap();
    let iterations = first["iterations"].as_u64().expect("iterations") as u32;
    let nonce = first["nonce"].as_str().expect("nonce");
    let ex = Exchange { user, client_nonce, nonce, salt: &salt, iterations };
    let keys = ClientKeys::from_salted(&scram::salted_password(PASSWORD.as_bytes(), &salt, iterations));
    scram::b64(&keys.proof(&ex.auth_message()))
}

/// Sends a header given as raw text on a checked connection and expects a
/// fatal framing error with `code`.
fn fatal_header(header: &[u8], code_wanted: &str) {
    let a = arena();
    let mut raw = a.checked();
    raw.send_bytes(&raw_frame(header));
    raw.expect_fatal(code_wanted);
    a.finish(&[]);
}

/// Starts an upload on `raw`: `put` then the `put_data` header; returns the offset.
fn start_upload(raw: &mut Raw, path: &str, length: u64) -> u64 {
    let ready = raw.call(json!({"op": "put", "path": path, "length": length}));
    assert_eq!(ready["ok"], true, "{ready}");
    let offset = ready["offset"].as_u64().unwrap();
    raw.send(json!({"op": "put_data", "size": length - offset}));
    offset
}

/// A whole upload over raw frames; returns the reply to `put_done`.
fn upload(raw: &mut Raw, path: &str, data: &[u8]) -> Value {
    let offset = start_upload(raw, path, data.len() as u64) as usize;
    raw.send_bytes(&data[offset..]);
    raw.call(json!({"op": "put_done", "sha256": sha256_hex(data)}))
}

// ---------------------------------------------------------------- framing --

#[test]
fn header_length_zero_is_a_bad_frame_and_closes() {
    let a = arena();
    let mut raw = a.checked();
    raw.send_bytes(&0u32.to_be_bytes());
    raw.expect_fatal("bad_frame");
    a.finish(&[]);
}

#[test]
fn header_length_one_is_a_bad_frame_and_closes() {
    fatal_header(b"7", "bad_frame");
}

#[test]
fn header_length_of_64_kib_plus_one_is_refused_from_the_prefix_alone() {
    let a = arena();
    let mut raw = a.checked();
    // Only the four length bytes: the refusal must not wait for the header.
    raw.send_bytes(&(64 * 1024 + 1u32).to_be_bytes());
    raw.expect_fatal("frame_too_large");
    a.finish(&[]);
}

#[test]
fn header_length_u32_max_is_refused_and_the_bytes_after_it_ignored() {
    let a = arena();
    let mut raw = a.checked();
    let mut bytes = u32::MAX.to_be_bytes().to_vec();
    bytes.extend(frame_of(&json!({"op": "noop"})));
    raw.send_bytes(&bytes);
    raw.expect_fatal("frame_too_large");
    a.finish(&[]);
}

#[test]
fn a_header_of_exactly_64_kib_is_accepted() {
    let a = arena();
    let mut raw = a.mallory();
    let shell = r#"{"op":"pwd","pad":""}"#;
    let header = format!(r#"{{"op":"pwd","pad":"{}"}}"#, "p".repeat(64 * 1024 - shell.len()));
    assert_eq!(header.len(), 64 * 1024);
    raw.send_bytes(&raw_frame(header.as_bytes()));
    assert_eq!(raw.recv(), json!({"ok": true, "cwd": "/"}));
    assert_eq!(raw.call(json!({"op": "noop"})), json!({"ok": true}));
    a.finish(&[]);
}

#[test]
fn an_encoded_surrogate_inside_a_json_string_is_not_utf8_and_a_bad_frame() {
    fatal_header(b"{\"op\":\"noop\",\"x\":\"\xed\xa0\x80\"}", "bad_frame");
}

#[test]
fn a_json_array_header_is_a_bad_frame() {
    fatal_header(br#"[{"op":"noop"}]"#, "bad_frame");
}

#[test]
fn a_json_number_header_is_a_bad_frame() {
    fatal_header(b"42", "bad_frame");
}

#[test]
fn a_json_string_header_is_a_bad_frame() {
    fatal_header(br#""noop""#, "bad_frame");
}

#[test]
fn a_json_null_header_is_a_bad_frame() {
    fatal_header(b"null", "bad_frame");
}

#[test]
fn truncated_json_is_a_bad_frame() {
    fatal_header(br#"{"op":"noop","x":"abc"#, "bad_frame");
}

#[test]
fn ten_thousand_open_brackets_are_a_bad_frame_not_a_stack_overflow() {
    fatal_header("[".repeat(10_000).as_bytes(), "bad_frame");
}

#[test]
fn deeply_nested_but_balanced_json_in_a_field_is_a_bad_frame() {
    let header = format!(r#"{{"op":"noop","x":{}{}}}"#, "[".repeat(10_000), "]".repeat(10_000));
    fatal_header(header.as_bytes(), "bad_frame");
}

#[test]
fn a_negative_size_is_a_bad_frame() {
    fatal_header(br#"{"op":"noop","size":-1}"#, "bad_frame");
}

#[test]
fn a_fractional_size_is_a_bad_frame() {
    fatal_header(br#"{"op":"noop","size":1.5}"#, "bad_frame");
}

#[test]
fn a_size_in_exponent_notation_is_a_bad_frame() {
    fatal_header(br#"{"op":"noop","size":1e3}"#, "bad_frame");
}

#[test]
fn a_string_size_is_a_bad_frame() {
    fatal_header(br#"{"op":"noop","size":"5"}"#, "bad_frame");
}

#[test]
fn a_null_size_is_a_bad_frame() {
    fatal_header(br#"{"op":"noop","size":null}"#, "bad_frame");
}

#[test]
fn a_size_of_two_to_the_63_is_a_bad_frame() {
    fatal_header(br#"{"op":"put_data","size":9223372036854775808}"#, "bad_frame");
}

#[test]
fn a_size_of_two_to_the_64_is_a_bad_frame() {
    fatal_header(br#"{"op":"put_data","size":18446744073709551616}"#, "bad_frame");
}

#[test]
fn garbage_after_a_valid_frame_gets_the_reply_then_a_framing_error() {
    let a = arena();
    let mut raw = a.checked();
    let mut bytes = frame_of(&json!({"op": "noop"}));
    // An HTTP request line: "GET " read as a length is over a gigabyte.
    bytes.extend_from_slice(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    raw.send_bytes(&bytes);
    assert_eq!(raw.recv(), json!({"ok": true}));
    raw.expect_fatal("frame_too_large");
    a.finish(&[]);
}

#[test]
fn garbage_after_a_valid_frame_with_a_small_prefix_is_a_bad_frame() {
    let a = arena();
    let mut raw = a.mallory();
    let mut bytes = frame_of(&json!({"op": "pwd"}));
    bytes.extend_from_slice(&[0, 0, 0, 5, b'h', b'e', b'l', b'l', b'o']);
    raw.send_bytes(&bytes);
    assert_eq!(raw.recv()["cwd"], "/");
    raw.expect_fatal("bad_frame");
    a.finish(&[]);
}

#[test]
fn half_close_inside_the_length_prefix_is_a_bad_frame() {
    let a = arena();
    let mut raw = a.checked();
    raw.send_bytes(&[0, 0]);
    raw.stream.shutdown(std::net::Shutdown::Write).unwrap();
    raw.expect_fatal("bad_frame");
    a.finish(&[]);
}

#[test]
fn an_upload_sent_one_byte_at_a_time_with_pauses_is_stored() {
    let a = arena();
    let mut raw = a.mallory();
    let data = b"sent one byte at a time, with pauses in between".to_vec();
    assert_eq!(raw.call(json!({"op": "put", "path": "slow.txt", "length": data.len()}))["offset"], 0);
    let mut bytes = frame_of(&json!({"op": "put_data", "size": data.len()}));
    bytes.extend_from_slice(&data);
    bytes.extend(frame_of(&json!({"op": "put_done", "sha256": sha256_hex(&data)})));
    for b in &bytes {
        raw.send_bytes(std::slice::from_ref(b));
        std::thread::sleep(Duration::from_micros(200));
    }
    let done = raw.recv();
    assert_eq!(done["ok"], true, "{done}");
    assert_eq!(std::fs::read(a.home().join("slow.txt")).unwrap(), data);
    a.finish(&["slow.txt"]);
}

#[test]
fn a_pipeline_of_a_thousand_mixed_requests_is_answered_in_order() {
    let a = arena();
    let mut raw = a.mallory();
    let mut bytes = Vec::new();
    let mut dirs = Vec::new();
    for i in 0..1000 {
        let req = match i % 5 {
            0 => json!({"op": "noop"}),
            1 => json!({"op": "pwd"}),
            2 => json!({"op": "frobnicate", "i": i}),
            3 => json!({"op": "cd"}),
            _ => {
                dirs.push(format!("d{i:04}/"));
                json!({"op": "mkdir", "path": format!("d{i:04}")})
            }
        };
        bytes.extend(frame_of(&req));
    }
    raw.send_bytes(&bytes);
    for i in 0..1000 {
        let reply = raw.recv();
        match i % 5 {
            0 => assert_eq!(reply, json!({"ok": true}), "reply {i}"),
            1 => assert_eq!(reply["cwd"], "/", "reply {i}: {reply}"),
            2 => assert_eq!(code(&reply), "unknown_op", "reply {i}: {reply}"),
            3 => assert_eq!(code(&reply), "bad_request", "reply {i}: {reply}"),
            _ => assert_eq!(reply["path"], format!("/d{i:04}"), "reply {i}: {reply}"),
        }
    }
    assert_eq!(raw.call(json!({"op": "noop"})), json!({"ok": true}));
    let dirs: Vec<&str> = dirs.iter().map(|s| s.as_str()).collect();
    a.finish(&dirs);
}

#[test]
fn exit_in_the_middle_of_a_pipeline_leaves_the_later_requests_unanswered() {
    let a = arena();
    let mut raw = a.mallory();
    let mut bytes = Vec::new();
    for req in [
        json!({"op": "pwd"}),
        json!({"op": "exit"}),
        json!({"op": "mkdir", "path": "after_exit"}),
        json!({"op": "noop"}),
    ] {
        bytes.extend(frame_of(&req));
    }
    raw.send_bytes(&bytes);
    assert_eq!(raw.recv()["cwd"], "/");
    assert_eq!(raw.recv(), json!({"ok": true, "bye": true}));
    assert_eq!(raw.recv_within(IO_TIMEOUT), Seen::Closed, "nothing after the goodbye");
    let logouts = a.server.accounts_log().into_iter().filter(|r| r["user"] == "mallory" && r["event"] == "logout");
    assert!(logouts.count() >= 2, "exit logs the user out");
    a.finish(&[]);
}

#[test]
fn duplicate_keys_take_the_last_value_for_op_and_size_alike() {
    let a = arena();
    let mut raw = a.mallory();
    let mut bytes = raw_frame(br#"{"op":"exit","op":"pwd"}"#);
    // If the first "size" counted, the next frame would be eaten as a body.
    bytes.extend(raw_frame(br#"{"op":"noop","size":9,"size":0}"#));
    bytes.extend(frame_of(&json!({"op": "noop"})));
    raw.send_bytes(&bytes);
    assert_eq!(raw.recv()["cwd"], "/", "the last op wins");
    assert_eq!(raw.recv(), json!({"ok": true}));
    assert_eq!(raw.recv(), json!({"ok": true}), "framing stayed in step");
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
fn a_connect_and_close_storm_leaves_the_server_serving_with_every_slot_free() {
    const CAP: usize = 48;
    let mut a = arena_with(|c| {
        c.max_connections = CAP;
        c.max_per_ip = 0;
    });
    let (addr, key) = (a.server.addr, a.server.key.clone());
    let threads: Vec<_> = (0..4u64)
        .map(|t| {
            let key = key.clone();
            std::thread::spawn(move || {
                use std::io::{Read, Write};
                let auth_frame = |challenge: &[u8]| {
                    frame_of(&json!({"op": "auth", "hmac": scram::b64(&scram::hmac(&key, challenge))}))
                };
                for i in 0..100u64 {
                    let Ok(mut s) = std::net::TcpStream::connect(addr) else { continue };
                    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
                    match (t + i) % 5 {
                        0 => {} // connect and drop at once
                        1 => {
                            let _ = s.read(&mut [0u8; 8]); // part of the hello, then drop
                        }
                        2 => {
                            let _ = s.write_all(&[0, 0, 0, 200, b'{']); // mid-handshake frame
                        }
                        3 => {
                            // A whole auth, then gone before reading the answer.
                            let mut raw = Raw { stream: s, challenge: Vec::new() };
                            let Some(hello) = raw.try_recv() else { continue };
                            let Some(c) = hello["challenge"].as_str().and_then(scram::unb64) else { continue };
                            let _ = raw.stream.write_all(&auth_frame(&c));
                            continue;
                        }
                        _ => {
                            let _ = s.write_all(&[0xff; 4]); // a framing error, never read
                        }
                    }
                    drop(s);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    a.healthy_after_storm();
    // Every stormed connection was released: the cap minus the healthy
    // client's connection can be held at once (retrying while the server
    // is still reaping the last ones), and one more is refused.
    let mut held = Vec::new();
    let all_in = poll_until(IO_TIMEOUT, || {
        for _ in 0..CAP - 1 {
            let mut raw = Raw::connect(addr);
            let first = raw.recv();
            if first["notice"] != "hello" {
                // Not yet: let go of these and give the server time to reap.
                held.clear();
                std::thread::sleep(Duration::from_millis(50));
                return false;
            }
            held.push(raw);
        }
        true
    });
    assert!(all_in, "only {} connections could be held after the storm", held.len());
    let mut extra = Raw::connect(addr);
    assert_eq!(code(&extra.recv()), "server_busy");
    assert_eq!(extra.recv_within(IO_TIMEOUT), Seen::Closed);
    drop(held);
    a.finish(&[]);
}

impl Arena {
    fn healthy_after_storm(&mut self) {
        self.healthy.noop().expect("served after the storm");
        self.healthy.dir(None).expect("dir after the storm");
    }
}

#[test]
fn a_body_on_a_request_that_takes_none_is_discarded_even_if_it_looks_like_frames() {
    let a = arena();
    let mut raw = a.mallory();
    let mut body = frame_of(&json!({"op": "exit"}));
    body.extend(frame_of(&json!({"op": "mkdir", "path": "smuggled"})));
    let mut bytes = frame_of(&json!({"op": "noop", "size": body.len()}));
    bytes.extend(&body);
    raw.send_bytes(&bytes);
    assert_eq!(code(&raw.recv()), "unexpected_body");
    assert_eq!(raw.call(json!({"op": "pwd"}))["cwd"], "/", "the connection is still usable");
    let mut anon = a.checked();
    anon.send(json!({"op": "noop", "size": 3}));
    anon.send_bytes(b"xyz");
    assert_eq!(code(&anon.recv()), "unexpected_body");
    assert_eq!(anon.call(json!({"op": "noop"})), json!({"ok": true}));
    a.finish(&[]);
}

// --------------------------------------------------------------- requests --

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
fn a_one_megabyte_username_cannot_fit_in_a_header_and_is_refused_at_the_prefix() {
    let a = arena();
    let mut raw = a.checked();
    let header = format!(
        r#"{{"op":"register","user":"{}","salt":"{}","iterations":1000,"stored_key":"{}","server_key":"{}"}}"#,
        "a".repeat(1 << 20),
        scram::b64(&[1; 16]),
        scram::b64(&[2; 32]),
        scram::b64(&[3; 32])
    );
    let bytes = raw_frame(header.as_bytes());
    // The refusal comes from the four length bytes; the rest is never read.
    raw.send_bytes(&bytes[..4 + 4096]);
    raw.expect_fatal("frame_too_large");
    // Sending the rest fails or vanishes; either way no account appears.
    let _ = raw.send_lossy(&bytes[4 + 4096..]);
    // The client library refuses such a name before sending anything.
    let mut c = a.server.client();
    let err = c.register(&"a".repeat(1 << 20), PASSWORD).unwrap_err();
    assert!(!err.is_fatal() && err.to_string().contains("limit"), "{err}");
    c.noop().expect("the library's connection is unaffected");
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

// ---------------------------------------------------------------- uploads --

#[test]
fn put_data_larger_than_the_put_is_size_mismatch_and_stores_nothing() {
    let a = arena();
    let mut raw = a.mallory();
    assert_eq!(raw.call(json!({"op": "put", "path": "f", "length": 10}))["ok"], true);
    raw.send(json!({"op": "put_data", "size": 20}));
    raw.send_bytes(&[b'x'; 20]);
    assert_eq!(code(&raw.recv()), "size_mismatch");
    assert_eq!(code(&raw.call(json!({"op": "put_done", "sha256": sha256_hex(&[b'x'; 20])}))), "bad_state");
    assert_eq!(raw.call(json!({"op": "quota"}))["used"], 0);
    let rec = a.server.log("upload_file.log").pop().unwrap();
    assert_eq!((rec["outcome"].as_str(), rec["reason"].as_str()), (Some("rejected"), Some("size_mismatch")));
    a.finish(&[]);
}

#[test]
fn put_data_smaller_than_the_put_is_size_mismatch_and_stores_nothing() {
    let a = arena();
    let mut raw = a.mallory();
    assert_eq!(raw.call(json!({"op": "put", "path": "f", "length": 10}))["ok"], true);
    raw.send(json!({"op": "put_data", "size": 5}));
    raw.send_bytes(b"12345");
    assert_eq!(code(&raw.recv()), "size_mismatch");
    assert_eq!(raw.call(json!({"op": "pwd"}))["cwd"], "/", "the body was discarded, framing kept");
    assert_eq!(raw.call(json!({"op": "quota"}))["used"], 0);
    a.finish(&[]);
}

#[test]
fn put_data_without_a_put_is_bad_state_and_its_body_is_discarded() {
    let a = arena();
    let mut raw = a.mallory();
    let body = frame_of(&json!({"op": "exit"}));
    raw.send(json!({"op": "put_data", "size": body.len()}));
    raw.send_bytes(&body);
    assert_eq!(code(&raw.recv()), "bad_state");
    assert_eq!(raw.call(json!({"op": "pwd"}))["cwd"], "/", "the exit inside the body was not obeyed");
    a.finish(&[]);
}

#[test]
fn put_done_without_put_data_is_bad_state_and_the_upload_stays_ready() {
    let a = arena();
    let mut raw = a.mallory();
    assert_eq!(code(&raw.call(json!({"op": "put_done", "sha256": sha256_hex(b"abc")}))), "bad_state");
    assert_eq!(raw.call(json!({"op": "put", "path": "f", "length": 3}))["ok"], true);
    assert_eq!(code(&raw.call(json!({"op": "put_done", "sha256": sha256_hex(b"abc")}))), "bad_state");
    assert_eq!(code(&raw.call(json!({"op": "dir"}))), "bad_state", "only upload requests while one is ready");
    raw.send(json!({"op": "put_data", "size": 3}));
    raw.send_bytes(b"abc");
    assert_eq!(code(&raw.call(json!({"op": "cd", "path": "/"}))), "bad_state", "nor after its body");
    let done = raw.call(json!({"op": "put_done", "sha256": sha256_hex(b"abc")}));
    assert_eq!(done["ok"], true, "{done}");
    assert_eq!(std::fs::read(a.home().join("f")).unwrap(), b"abc");
    a.finish(&["f"]);
}

#[test]
fn a_mistyped_put_done_is_bad_request_and_does_not_cancel_the_upload() {
    let a = arena();
    let mut raw = a.mallory();
    start_upload(&mut raw, "f", 5);
    raw.send_bytes(b"hello");
    assert_eq!(code(&raw.call(json!({"op": "put_done", "sha256": 5}))), "bad_request");
    assert_eq!(code(&raw.call(json!({"op": "put_done"}))), "bad_request");
    assert!(!a.home().join("f").exists());
    let done = raw.call(json!({"op": "put_done", "sha256": sha256_hex(b"hello")}));
    assert_eq!(done["ok"], true, "{done}");
    a.finish(&["f"]);
}

#[test]
fn a_wrong_digest_deletes_the_partial_and_returns_the_quota() {
    let a = arena();
    let mut raw = a.mallory();
    start_upload(&mut raw, "f", 100_000);
    raw.send_bytes(&[7u8; 100_000]);
    let reply = raw.call(json!({"op": "put_done", "sha256": "not even hex"}));
    assert_eq!(code(&reply), "digest_mismatch");
    assert_eq!(raw.call(json!({"op": "quota"}))["used"], 0);
    let partials: Vec<_> = std::fs::read_dir(a.home().join(".mioftp/partial")).unwrap().collect();
    assert!(partials.is_empty(), "{partials:?}");
    // A resume finds nothing to resume.
    assert_eq!(raw.call(json!({"op": "put", "path": "f", "length": 100_000}))["offset"], 0);
    // Leave no upload pending: the server's shutdown would wait for it.
    drop(raw);
    a.finish(&[]);
}

#[test]
fn a_second_put_data_after_the_body_is_bad_state_and_discarded() {
    let a = arena();
    let mut raw = a.mallory();
    start_upload(&mut raw, "f", 3);
    raw.send_bytes(b"abc");
    raw.send(json!({"op": "put_data", "size": 2}));
    raw.send_bytes(b"xy");
    assert_eq!(code(&raw.recv()), "bad_state");
    let done = raw.call(json!({"op": "put_done", "sha256": sha256_hex(b"abc")}));
    assert_eq!(done["ok"], true, "{done}");
    assert_eq!(std::fs::read(a.home().join("f")).unwrap(), b"abc");
    a.finish(&["f"]);
}

#[test]
fn bytes_beyond_the_body_are_the_next_frame_and_the_whole_partial_resumes() {
    let a = arena();
    let mut raw = a.mallory();
    start_upload(&mut raw, "f", 5);
    raw.send_bytes(b"helloGARBAGE!"); // "GARB" as a length is far over the limit
    raw.expect_fatal("frame_too_large");
    a.server.wait_for_record("upload_file.log", |r| r["outcome"] == "incomplete");
    assert!(!a.home().join("f").exists(), "a partial never appears under its name");
    let mut again = a.mallory();
    let ready = again.call(json!({"op": "put", "path": "f", "length": 5}));
    assert_eq!((ready["offset"].as_u64(), ready["prefix_sha256"].as_str()), (Some(5), Some(&*sha256_hex(b"hello"))));
    again.send(json!({"op": "put_data", "size": 0}));
    let done = again.call(json!({"op": "put_done", "sha256": sha256_hex(b"hello")}));
    assert_eq!(done["ok"], true, "{done}");
    a.finish(&["f"]);
}

#[test]
fn a_short_body_swallows_the_put_done_and_the_client_restarts_on_the_prefix_mismatch() {
    let a = arena();
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("data.bin");
    let digest = random_file(&local, 100, 42);
    let data = std::fs::read(&local).unwrap();
    let mut raw = a.mallory();
    start_upload(&mut raw, "f", 100);
    let mut bytes = data[..60].to_vec();
    bytes.extend(frame_of(&json!({"op": "put_done", "sha256": digest})));
    raw.send_bytes(&bytes);
    // The first 40 bytes of that frame were taken as body; the rest is read
    // as a frame and breaks framing.
    let reply = raw.recv();
    assert!(["bad_frame", "frame_too_large"].contains(&code(&reply)), "{reply}");
    assert_eq!(raw.recv_within(IO_TIMEOUT), Seen::Closed);
    a.server.wait_for_record("upload_file.log", |r| r["outcome"] == "incomplete");
    let mut c = a.server.login("mallory");
    let report = c.put(&local, "f", &mioftp_client::PutOptions::default(), &mut mioftp_client::NoProgress).unwrap();
    assert!(report.restarted, "the server's prefix does not match the file");
    assert_eq!((report.offset, report.sha256.as_str()), (0, digest.as_str()));
    assert_eq!(std::fs::read(a.home().join("f")).unwrap(), data);
    a.finish(&["f"]);
}

#[test]
fn half_close_mid_body_leaves_an_incomplete_record_and_a_resumable_partial() {
    let a = arena();
    let data: Vec<u8> = (0..1000u32).map(|i| (i * 13 % 256) as u8).collect();
    let mut raw = a.mallory();
    start_upload(&mut raw, "half.bin", 1000);
    raw.send_bytes(&data[..400]);
    raw.stream.shutdown(std::net::Shutdown::Write).unwrap();
    raw.expect_fatal("bad_frame");
    let rec = a.server.wait_for_record("upload_file.log", |r| r["outcome"] == "incomplete");
    assert_eq!((rec["path"].as_str(), rec["bytes"].as_u64()), (Some("/half.bin"), Some(400)), "{rec}");
    assert!(!a.home().join("half.bin").exists());
    let mut again = a.mallory();
    let ready = again.call(json!({"op": "put", "path": "half.bin", "length": 1000}));
    assert_eq!(ready["offset"], 400, "{ready}");
    assert_eq!(ready["prefix_sha256"], sha256_hex(&data[..400]));
    again.send(json!({"op": "put_data", "size": 600}));
    again.send_bytes(&data[400..]);
    let done = again.call(json!({"op": "put_done", "sha256": sha256_hex(&data)}));
    assert_eq!(done["ok"], true, "{done}");
    assert_eq!(std::fs::read(a.home().join("half.bin")).unwrap(), data);
    a.finish(&["half.bin"]);
}

#[test]
fn a_put_length_over_two_to_the_63_is_bad_request_and_one_over_the_quota_is_quota_exceeded() {
    let a = arena();
    let mut raw = a.mallory();
    for length in [u64::MAX, 1 << 63] {
        let reply = raw.call(json!({"op": "put", "path": "huge", "length": length}));
        assert_eq!(code(&reply), "bad_request", "{length}: {reply}");
    }
    let reply = raw.call(json!({"op": "put", "path": "huge", "length": i64::MAX}));
    assert_eq!(code(&reply), "quota_exceeded", "{reply}");
    assert_eq!(raw.call(json!({"op": "quota"}))["used"], 0);
    let done = upload(&mut raw, "empty", b"");
    assert_eq!(done["ok"], true, "{done}");
    assert_eq!(std::fs::metadata(a.home().join("empty")).unwrap().len(), 0);
    a.finish(&["empty"]);
}

#[test]
fn huge_reservations_with_an_unlimited_quota_do_not_overflow() {
    let a = arena_with(|c| c.default_quota = None);
    // Three reservations of 2^63-1 bytes add up to more than u64 holds.
    let mut uploads: Vec<Raw> = (0..3).map(|_| a.mallory()).collect();
    for (i, up) in uploads.iter_mut().enumerate() {
        let reply = up.call(json!({"op": "put", "path": format!("f{i}"), "length": i64::MAX}));
        assert_eq!(reply["ok"], true, "unlimited quota: {reply}");
    }
    // No body can ever match (size is at most 2^63-1, but is checked
    // against what is left): a wrong one is refused.
    uploads[0].send(json!({"op": "put_data", "size": 1}));
    uploads[0].send_bytes(b"x");
    assert_eq!(code(&uploads[0].recv()), "size_mismatch");
    assert_eq!(uploads[0].call(json!({"op": "quota"}))["used"], 0, "still answering");
    drop(uploads);
    a.finish(&[]);
}

#[test]
fn put_to_a_directory_or_the_home_is_is_a_directory() {
    let a = arena();
    let mut raw = a.mallory();
    assert_eq!(raw.call(json!({"op": "mkdir", "path": "sub"}))["created"], true);
    for path in ["sub", "sub/", "/sub/.", "/", ".", "sub/.."] {
        let reply = raw.call(json!({"op": "put", "path": path, "length": 4}));
        assert_eq!(code(&reply), "is_a_directory", "{path:?}: {reply}");
    }
    assert_eq!(raw.call(json!({"op": "noop"})), json!({"ok": true}));
    a.finish(&["sub/"]);
}

#[test]
fn get_of_a_directory_or_the_home_is_is_a_directory() {
    let a = arena();
    let mut raw = a.mallory();
    assert_eq!(raw.call(json!({"op": "mkdir", "path": "sub"}))["created"], true);
    for path in ["sub", "sub/", "/", ".", "sub/.."] {
        let reply = raw.call(json!({"op": "get", "path": path}));
        assert_eq!(code(&reply), "is_a_directory", "{path:?}: {reply}");
    }
    assert_eq!(raw.call(json!({"op": "noop"})), json!({"ok": true}));
    a.finish(&["sub/"]);
}

#[test]
fn rm_of_the_home_in_any_spelling_is_bad_request() {
    let a = arena();
    let mut raw = a.mallory();
    assert_eq!(raw.call(json!({"op": "mkdir", "path": "sub"}))["created"], true);
    for path in ["/", ".", "//", "/.", "sub/..", "/sub/../"] {
        let reply = raw.call(json!({"op": "rm", "path": path}));
        assert_eq!(code(&reply), "bad_request", "{path:?}: {reply}");
    }
    assert!(a.home().is_dir());
    a.finish(&["sub/"]);
}

#[test]
fn a_download_offset_beyond_the_file_or_without_a_matching_etag_starts_at_zero() {
    let a = arena();
    std::fs::write(a.home().join("m.txt"), b"mallory's data").unwrap();
    let mut raw = a.mallory();
    let first = raw.call(json!({"op": "get", "path": "m.txt"}));
    raw.read_body(14);
    raw.recv();
    let etag = first["etag"].as_str().unwrap().to_owned();
    for (offset, if_match) in
        [(u64::MAX, Some(etag.as_str())), (15, Some(etag.as_str())), (5, None), (5, Some("bogus"))]
    {
        let start = raw.call(json!({"op": "get", "path": "m.txt", "offset": offset, "if_match": if_match}));
        assert_eq!((start["offset"].as_u64(), start["size"].as_u64()), (Some(0), Some(14)), "{offset}: {start}");
        assert_eq!(raw.read_body(14), b"mallory's data");
        assert_eq!(raw.recv()["sha256"], sha256_hex(b"mallory's data"));
    }
    a.finish(&["m.txt"]);
}

#[test]
fn exit_in_the_middle_of_an_upload_keeps_the_partial_for_a_resume() {
    let a = arena();
    let data: Vec<u8> = (0..5000u32).map(|i| (i % 199) as u8).collect();
    let mut raw = a.mallory();
    start_upload(&mut raw, "e.bin", 5000);
    raw.send_bytes(&data[..2000]);
    drop(raw); // a cut: 2000 bytes kept
    a.server.wait_for_record("upload_file.log", |r| r["path"] == "/e.bin" && r["outcome"] == "incomplete");
    // The resume is accepted, then abandoned with exit: recorded as
    // cancelled, and the partial is not thrown away.
    let mut again = a.mallory();
    let ready = again.call(json!({"op": "put", "path": "e.bin", "length": 5000}));
    assert_eq!(ready["offset"], 2000, "{ready}");
    assert_eq!(again.call(json!({"op": "exit"})), json!({"ok": true, "bye": true}));
    let rec = a.server.wait_for_record("upload_file.log", |r| r["reason"] == "cancelled");
    assert_eq!((rec["path"].as_str(), rec["outcome"].as_str()), (Some("/e.bin"), Some("incomplete")), "{rec}");
    let mut last = a.mallory();
    let ready = last.call(json!({"op": "put", "path": "e.bin", "length": 5000}));
    assert_eq!(ready["offset"], 2000, "the partial survived the exit: {ready}");
    last.send(json!({"op": "put_data", "size": 3000}));
    last.send_bytes(&data[2000..]);
    let done = last.call(json!({"op": "put_done", "sha256": sha256_hex(&data)}));
    assert_eq!(done["ok"], true, "{done}");
    a.finish(&["e.bin"]);
}
