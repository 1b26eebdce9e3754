//! The committed seed corpora, written as code so that each seed says what it
//! is for. `cargo test` checks that `corpus/<target>/` holds exactly these
//! bytes; after changing this file, rewrite them with
//! `MIOFTP_FUZZ_WRITE_SEEDS=1 cargo test --manifest-path fuzz/Cargo.toml --lib seeds`.

use crate::script::{Op, Prologue, Req, Script, Str, Upload};
use crate::session::{CLIENT_NONCE, path, user};
use mioftp_proto::frame::{MAX_HEADER_LEN, encode_to_vec};
use serde_json::{Value, json};

fn f(v: Value) -> Vec<u8> {
    encode_to_vec(&v).expect("seed frames encode")
}

fn raw(len: u32, text: &[u8]) -> Vec<u8> {
    let mut v = len.to_be_bytes().to_vec();
    v.extend_from_slice(text);
    v
}

fn cat(parts: &[Vec<u8>]) -> Vec<u8> {
    parts.concat()
}

/// `frame_decode` seeds: (file name, bytes).
pub fn frame_decode() -> Seeds {
    let pad = "p".repeat(MAX_HEADER_LEN - r#"{"p":""}"#.len());
    vec![
        ("noop", f(json!({"op": "noop"}))),
        ("pipeline", cat(&[f(json!({"op": "noop"})), f(json!({"op": "pwd"})), f(json!({"op": "bogus", "i": 3}))])),
        (
            "put_data_with_body",
            cat(&[
                f(json!({"op": "put_data", "size": 5})),
                b"hello".to_vec(),
                f(json!({"op": "put_done", "sha256": "00"})),
            ]),
        ),
        ("body_cut_short", cat(&[f(json!({"op": "put_data", "size": 100})), b"only a little".to_vec()])),
        ("incomplete_header", f(json!({"op": "login", "user": "alice", "nonce": "abcdefghij"}))[..20].to_vec()),
        (
            "hello_notice",
            f(
                json!({"notice": "hello", "protocol": 1, "server": "mioftpd 0.1.0", "challenge": "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=", "kdf": "pbkdf2-sha256", "min_iterations": 4096, "min_password_len": 8}),
            ),
        ),
        ("zero_length", raw(0, b"")),
        ("too_large", raw(MAX_HEADER_LEN as u32 + 1, b"{}")),
        ("not_utf8", raw(2, &[0xff, 0xfe])),
        ("not_an_object", cat(&[raw(3, b"[1]"), raw(4, b"null")])),
        ("bad_sizes", cat(&[raw(11, br#"{"size":-1}"#), raw(12, br#"{"size":1.5}"#)])),
        ("size_at_the_limit", raw(29, br#"{"size":9223372036854775807}"#)),
        ("nested_and_escaped", f(json!({"a": {"b": [1, 2.5, -3, null, true]}, "s": "\u{0}\"\\é\u{1F600}", "size": 0}))),
        ("floats_and_duplicates", raw(33, br#"{"x":1e5,"x":-0,"y":1.0000000001}"#)),
        // Found by the fuzzer: serde_json parses this one ULP off, so it does
        // not re-encode to the same double (tolerated, see `same_json`).
        ("float_off_by_one_ulp", raw(21, br#"{"y":12000e000000101}"#)),
        ("largest_header", f(json!({ "p": pad }))),
    ]
}

fn script(user: &str, scan_first: bool, ops: Vec<Op>) -> Vec<u8> {
    let prologue = Prologue { user: Script::standing_user(user), scan_first, final_close: 0 };
    Script { prologue, ops }.encode()
}

fn send(v: Value) -> Op {
    Op::Send(f(v))
}

fn req(kind: u8, text: Str, num: u32, flag: bool) -> Op {
    Op::Request(Req { kind, text, num, flag })
}

/// An upload of `len` bytes of a fixed 7-byte pattern.
fn upload(p: &str, len: u16, cut: u16, good_digest: bool) -> Op {
    Op::Upload(Upload { path: path(p), len, pattern: b"mioftp!".to_vec(), resume: true, cut, good_digest })
}

/// `session` seeds: scripts from the hello.
pub fn session() -> Seeds {
    let noop = f(json!({"op": "noop"}));
    vec![
        ("wrong_hmac", script("fuzz", false, vec![Op::Pump, send(json!({"op": "auth", "hmac": "AAAA"})), Op::Pump])),
        ("request_before_check", script("fuzz", false, vec![send(json!({"op": "pwd"})), Op::Pump])),
        (
            "pipeline_after_check",
            script(
                "fuzz",
                false,
                vec![
                    Op::Auth { good: true },
                    Op::Send(cat(&[
                        noop.clone(),
                        f(json!({"op": "bogus"})),
                        f(json!({"op": "logout"})),
                        f(json!({"op": "login_proof", "proof": "AAAA"})),
                    ])),
                    Op::Read(7),
                    Op::Drain(5),
                    Op::Read(0),
                    Op::Drain(0),
                ],
            ),
        ),
        ("one_byte_at_a_time", {
            let mut ops = vec![Op::Auth { good: true }, Op::Send(noop.clone())];
            ops.extend((0..noop.len()).map(|_| Op::Read(1)));
            ops.push(Op::Drain(0));
            script("fuzz", false, ops)
        }),
        (
            "register_and_login",
            script(
                "fuzz",
                false,
                vec![
                    Op::Auth { good: true },
                    Op::Register(user("newbie")),
                    Op::Pump,
                    Op::Login { user: user("newbie"), good: true },
                    send(json!({"op": "quota"})),
                    send(json!({"op": "mkdir", "path": "docs"})),
                    Op::Pump,
                    Op::Tick(3),
                    Op::Pump,
                ],
            ),
        ),
        (
            "wrong_password_and_unknown_user",
            script(
                "fuzz",
                false,
                vec![
                    Op::Auth { good: true },
                    Op::Login { user: user("fuzz"), good: false },
                    Op::Login { user: user("a"), good: true },
                    send(json!({"op": "login", "user": "Bad", "nonce": CLIENT_NONCE})),
                    Op::Pump,
                ],
            ),
        ),
        ("zero_length_frame", script("fuzz", false, vec![Op::Auth { good: true }, Op::Send(raw(0, b"")), Op::Pump])),
        (
            "oversized_prefix",
            script(
                "fuzz",
                false,
                vec![Op::Auth { good: true }, Op::Send(raw(0x0001_0001, b"")), Op::Read(2), Op::Pump],
            ),
        ),
        (
            "eof_mid_frame",
            script("fuzz", false, vec![Op::Auth { good: true }, Op::Send(noop[..6].to_vec()), Op::Eof, Op::Pump]),
        ),
        (
            "handshake_timeout",
            script("fuzz", false, vec![Op::AdvanceSecs(4), Op::Timeout, Op::AdvanceSecs(2), Op::Timeout]),
        ),
        (
            "body_on_bodiless_request",
            script(
                "fuzz",
                false,
                vec![
                    Op::Auth { good: true },
                    Op::Send(cat(&[f(json!({"op": "noop", "size": 5})), b"12345".to_vec(), noop.clone()])),
                    Op::Pump,
                ],
            ),
        ),
        (
            "back_pressure",
            script(
                "fuzz",
                false,
                vec![
                    Op::Auth { good: true },
                    // 3500 requests of 19 bytes whose replies are 75: more than
                    // the 256 KiB of unsent output at which reading stops.
                    Op::Repeat { times: 3500, bytes: f(json!({"op": "logout"})) },
                    Op::Read(0),
                    Op::Read(0),
                    Op::Drain(40000),
                    Op::Read(0),
                    Op::Pump,
                ],
            ),
        ),
        (
            "exit",
            script(
                "fuzz",
                false,
                vec![Op::Auth { good: true }, send(json!({"op": "exit"})), send(json!({"op": "noop"})), Op::Pump],
            ),
        ),
        (
            "two_connections",
            script(
                "fuzz",
                false,
                vec![
                    Op::Auth { good: true },
                    Op::Switch,
                    Op::Auth { good: false },
                    Op::Switch,
                    req(6, path("a"), 0, false),
                    Op::Pump,
                ],
            ),
        ),
    ]
}

/// `session_authed` seeds: scripts that start logged in.
pub fn session_authed() -> Seeds {
    vec![
        (
            "shell_commands",
            script(
                "fuzz",
                true,
                vec![
                    send(json!({"op": "mkdir", "path": "a/b/c", "parents": true})),
                    send(json!({"op": "cd", "path": "a/b"})),
                    send(json!({"op": "pwd"})),
                    send(json!({"op": "mkdir", "path": "d"})),
                    send(json!({"op": "dir"})),
                    send(json!({"op": "rm", "path": "/a"})),
                    send(json!({"op": "rm", "path": "d"})),
                    send(json!({"op": "quota"})),
                    Op::Pump,
                ],
            ),
        ),
        (
            "upload_then_download",
            script("fuzz", true, vec![upload("f.txt", 3000, 0, true), req(16, path("f.txt"), 0, false), Op::Pump]),
        ),
        (
            "download_in_small_steps",
            script(
                "fuzz",
                true,
                vec![
                    upload("a/f.txt", 3000, 0, true),
                    upload("a", 1, 0, true),
                    send(json!({"op": "mkdir", "path": "a"})),
                    Op::Pump,
                    upload("a/f.txt", 3000, 0, true),
                    req(16, path("a/f.txt"), 0, false),
                    Op::Read(0),
                    Op::Drain(100),
                    Op::Produce,
                    Op::Drain(1000),
                    Op::Produce,
                    Op::Drain(0),
                    Op::Produce,
                    Op::Drain(0),
                ],
            ),
        ),
        (
            "interrupted_upload_resumes",
            script(
                "fuzz",
                true,
                vec![
                    upload("f.txt", 3000, 1000, true),
                    Op::Switch,
                    Op::Tick(255),
                    upload("f.txt", 3000, 0, true),
                    send(json!({"op": "quota"})),
                    Op::Pump,
                ],
            ),
        ),
        (
            "digest_mismatch",
            script("fuzz", true, vec![upload("b", 3000, 0, false), send(json!({"op": "dir"})), Op::Pump]),
        ),
        (
            "size_mismatch",
            script(
                "fuzz",
                true,
                vec![
                    send(json!({"op": "put", "path": "s", "length": 10})),
                    Op::Send(cat(&[
                        f(json!({"op": "put_data", "size": 4})),
                        b"abcd".to_vec(),
                        f(json!({"op": "put_done", "sha256": "00"})),
                    ])),
                    Op::Pump,
                ],
            ),
        ),
        (
            "tight_quota",
            script(
                "tight",
                true,
                vec![
                    upload("f.txt", 40_000, 0, true),
                    upload("a", 30_000, 0, true),
                    send(json!({"op": "quota"})),
                    Op::Pump,
                ],
            ),
        ),
        // Found by the fuzzer (crash-b049c415…): a replacement of a file,
        // abandoned, leaves the old file and the partial; `used` is then
        // above the limit, as PROTOCOL.md §5.7 allows (see `crate::quota`).
        // The second connection keeps the user's state alive.
        (
            "tight_abandoned_replacement",
            script(
                "tight",
                true,
                vec![
                    Op::Switch,
                    Op::Switch,
                    upload("f.txt", 40_000, 0, true),
                    upload("f.txt", 27_749, 26_996, true),
                    Op::Switch,
                    send(json!({"op": "quota"})),
                    send(json!({"op": "put", "path": "a", "length": 1})),
                    Op::Pump,
                ],
            ),
        ),
        // A replacement still running at the end of the run: 40,000 used
        // plus 50,000 promised, of which the old file's 40,000 are credited.
        (
            "tight_replacement_in_progress",
            script(
                "tight",
                true,
                vec![
                    upload("f.txt", 40_000, 0, true),
                    send(json!({"op": "put", "path": "f.txt", "length": 50_000})),
                    Op::Pump,
                ],
            ),
        ),
        ("long_listing", {
            let mut ops: Vec<Op> =
                (0..40).map(|i| send(json!({"op": "mkdir", "path": format!("dir-{i:02}")}))).collect();
            ops.extend([
                Op::Pump,
                send(json!({"op": "dir", "path": "/"})),
                Op::Read(0),
                Op::Produce,
                Op::Drain(0),
                Op::Produce,
                Op::Drain(0),
            ]);
            script("fuzz", true, ops)
        }),
        (
            "resumed_download",
            script(
                "fuzz",
                true,
                vec![
                    upload("f.txt", 3000, 0, true),
                    req(16, path("f.txt"), 0, false),
                    Op::Pump,
                    req(16, path("f.txt"), 1234, true),
                    Op::Pump,
                ],
            ),
        ),
        (
            "hostile_paths",
            script(
                "fuzz",
                true,
                vec![
                    req(8, path("../../../../etc/passwd"), 0, false),
                    req(9, path("/../x"), 0, true),
                    req(10, path(".mioftp"), 0, false),
                    req(13, path("a/../../x"), 5, false),
                    req(16, path("x\u{0}y"), 0, false),
                    req(11, path("../fuzz/x"), 0, true),
                    Op::Pump,
                ],
            ),
        ),
        (
            "requests_wait_for_the_scan",
            script(
                "fuzz",
                false,
                vec![
                    send(json!({"op": "quota"})),
                    send(json!({"op": "pwd"})),
                    Op::Read(0),
                    Op::Tick(1),
                    Op::Tick(1),
                    Op::Pump,
                ],
            ),
        ),
        (
            "logout_and_register",
            script(
                "fuzz",
                true,
                vec![
                    send(json!({"op": "logout"})),
                    Op::Register(user("newbie")),
                    Op::Login { user: user("newbie"), good: true },
                    req(9, path("a"), 0, false),
                    Op::Pump,
                ],
            ),
        ),
        (
            "busy_on_two_connections",
            script(
                "fuzz",
                true,
                vec![
                    send(json!({"op": "put", "path": "same", "length": 3})),
                    Op::Pump,
                    Op::Switch,
                    Op::Tick(255),
                    send(json!({"op": "put", "path": "same", "length": 3})),
                    Op::Pump,
                ],
            ),
        ),
        (
            "idle_and_transfer_timeouts",
            script(
                "fuzz",
                true,
                vec![
                    upload("f.txt", 3000, 0, true),
                    req(16, path("f.txt"), 0, false),
                    Op::Read(0),
                    Op::Drain(10),
                    Op::AdvanceSecs(4),
                    Op::Timeout,
                ],
            ),
        ),
    ]
}

/// Named seed inputs of one target.
pub type Seeds = Vec<(&'static str, Vec<u8>)>;

/// Every target's seeds.
pub fn all() -> Vec<(&'static str, Seeds)> {
    vec![("frame_decode", frame_decode()), ("session", session()), ("session_authed", session_authed())]
}
