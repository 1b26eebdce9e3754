//! The security findings of issue 13, each proved against the real server:
//! terminal escapes in what `mioftpd audit` prints, the KDF cost ceiling,
//! unknown users that look like real ones, the three-level login throttle,
//! and quota when an upload replaces a file.

mod common;
use common::*;
use serde_json::{Value, json};
use std::path::Path;
use std::process::Command;

// ------------------------------------------------ terminal escapes (#13.1) --

/// The user name from the issue: sets the terminal title, then paints red.
const TITLE_AND_RED: &str = "\x1b]0;pwned\x07\x1b[31mRED\x1b[0m";
/// A name that reads backwards from the override on (U+202E).
const BIDI: &str = "admin\u{202e}gpj.exe";

fn audit(root: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_mioftpd"))
        .arg("audit")
        .args(args)
        .arg("--root")
        .arg(root)
        .env_remove("NO_COLOR")
        .env_remove("MIOFTPD_ROOT")
        .output()
        .unwrap();
    assert!(out.status.success(), "audit {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// No byte a terminal would act on: C0 (but the newline ending each line),
/// DEL, C1, or a bidirectional control.
fn assert_inert(text: &str) {
    let bad: Vec<char> = text
        .chars()
        .filter(|&c| {
            (c < ' ' && c != '\n')
                || ('\u{7f}'..='\u{9f}').contains(&c)
                || matches!(c, '\u{61c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
        })
        .collect();
    assert!(bad.is_empty(), "raw control characters {bad:?} in {text:?}");
}

#[test]
fn hostile_user_names_reach_the_audit_table_and_summary_escaped_and_json_exact() {
    let server = TestServer::start();
    let mut raw = server.raw_checked();
    for name in [TITLE_AND_RED, BIDI] {
        let reply = raw.call(json!({"op": "login", "user": name, "nonce": "abcdefghijkl"}));
        assert_eq!(code(&reply), "invalid_username", "{reply}");
    }
    let root = server.root.path();

    for args in [&["logins", "--color", "always"][..], &["all", "--color", "never"], &["--summary"]] {
        let text = audit(root, args);
        // The only escapes left are the table's own colours.
        assert_inert(&text.replace("\x1b[31m", "").replace("\x1b[33m", "").replace("\x1b[0m", ""));
        assert!(text.contains(r"\x1b]0;pwned\x07\x1b[31mRED\x1b[0m"), "{args:?}: {text}");
        assert!(text.contains(r"admin\u{202e}gpj.exe"), "{args:?}: {text}");
    }
    // The colour the table adds itself is still there.
    assert!(audit(root, &["logins", "--color", "always"]).contains("\x1b[31mfail"));

    // --json stays exact: the very bytes that were logged.
    let users: Vec<String> = audit(root, &["logins", "--json"])
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter_map(|r| r["user"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(users, [TITLE_AND_RED, BIDI]);
}

#[test]
fn paths_with_c1_controls_or_bidi_controls_are_path_invalid() {
    let server = TestServer::start();
    let mut raw = login_raw(&server, "alice");
    for name in ["a\u{9b}31mred", "x\u{85}y", "evil\u{202e}txt.exe", "\u{2066}iso", "rlm\u{200f}", "alm\u{61c}"] {
        for req in [
            json!({"op": "mkdir", "path": name}),
            json!({"op": "put", "path": name, "length": 1}),
            json!({"op": "cd", "path": format!("docs/{name}")}),
        ] {
            let reply = raw.call(req.clone());
            assert_eq!(code(&reply), "path_invalid", "{req}: {reply}");
            assert_inert(reply["error"]["message"].as_str().unwrap());
        }
    }
    // Ordinary non-ASCII names are fine.
    assert_eq!(raw.call(json!({"op": "mkdir", "path": "café ☕ 日本"}))["ok"], true);
    let home: Vec<String> = std::fs::read_dir(server.path("home/alice"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with(".mioftp"))
        .collect();
    assert_eq!(home, ["café ☕ 日本"]);
}

// --------------------------------------------------- KDF cost (#13.2, #13.3) --

/// The protocol's ceiling on PBKDF2 iterations.
const MAX_ITERATIONS: u64 = 10_000_000;

fn register_req(user: &str, salt_len: usize, iterations: u64) -> Value {
    json!({"op": "register", "user": user, "salt": mioftp::protocol::scram::b64(&vec![5; salt_len]),
        "iterations": iterations, "stored_key": mioftp::protocol::scram::b64(&[1; 32]),
        "server_key": mioftp::protocol::scram::b64(&[2; 32])})
}

fn account_files(server: &TestServer) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(server.path("accounts"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    names.sort();
    names
}

#[test]
fn register_refuses_iteration_counts_above_ten_million_and_hello_announces_the_ceiling() {
    let server = TestServer::start();
    let mut raw = server.raw();
    let hello = {
        // `raw()` consumed the hello; look at a fresh one.
        let mut again = Raw::connect(server.addr);
        again.recv()
    };
    assert_eq!(hello["max_iterations"], MAX_ITERATIONS, "{hello}");
    let mac = mioftp::protocol::scram::hmac(&server.key, &raw.challenge);
    assert_eq!(raw.call(json!({"op": "auth", "hmac": mioftp::protocol::scram::b64(&mac)}))["ok"], true);
    for iterations in [MAX_ITERATIONS + 1, u64::from(u32::MAX)] {
        let reply = raw.call(register_req("spinner", 16, iterations));
        assert_eq!(code(&reply), "weak_kdf", "{iterations}: {reply}");
        let message = reply["error"]["message"].as_str().unwrap();
        assert!(message.contains("10000000"), "{message}");
    }
    assert_eq!(account_files(&server), Vec::<String>::new());
}

#[test]
fn a_server_whose_own_policy_is_above_the_ceiling_does_not_start() {
    let root = tempfile::tempdir().unwrap();
    let mut cfg = mioftp::config::Config::new(root.path());
    cfg.listen = "127.0.0.1:0".parse().unwrap();
    cfg.min_iterations = MAX_ITERATIONS as u32 + 1;
    let err = mioftp::server::Server::bind(cfg).err().expect("refused");
    assert!(err.to_string().contains("10000000"), "{err}");
}

#[test]
fn a_stored_account_above_the_ceiling_is_refused_at_login_without_kdf_parameters() {
    let server = TestServer::start();
    server.user("legacy").exit().unwrap();
    // An account written before the ceiling existed.
    let path = server.path("accounts/legacy.json");
    let mut account: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    account["iterations"] = json!(u32::MAX);
    std::fs::write(&path, serde_json::to_vec(&account).unwrap()).unwrap();

    let mut raw = server.raw_checked();
    for _ in 0..7 {
        let reply = raw.call(json!({"op": "login", "user": "legacy", "nonce": "abcdefghijkl"}));
        assert_eq!(code(&reply), "weak_kdf", "{reply}");
        assert!(reply.get("salt").is_none() && reply.get("iterations").is_none(), "{reply}");
        let message = reply["error"]["message"].as_str().unwrap();
        assert!(message.contains("4294967295") && message.contains("10000000"), "{message}");
        // Nothing is pending: a proof now is out of state.
        assert_eq!(code(&raw.call(json!({"op": "login_proof", "proof": "AAAA"}))), "bad_state");
    }
    let refusals: Vec<Value> =
        server.accounts_log().into_iter().filter(|r| r["event"] == "login" && r["session"] != 1).collect();
    let weak: Vec<&Value> = refusals.iter().filter(|r| r["user"] == "legacy").collect();
    assert_eq!(weak.len(), 7, "each refusal is audited: {refusals:?}");
    assert!(weak.iter().all(|r| r["outcome"] == "fail" && r["reason"] == "weak_kdf"), "{refusals:?}");
    assert!(refusals.iter().all(|r| r["outcome"] != "ok"), "{refusals:?}");
    // Refusals are not password guesses: the throttle did not count them.
    assert_eq!(code(&raw.call(json!({"op": "login", "user": "legacy", "nonce": "abcdefghijkl"}))), "weak_kdf");
}

#[test]
fn registration_fixes_salt_length_and_iterations_so_unknown_users_look_like_real_ones() {
    let server = TestServer::start();
    let mut raw = server.raw_checked();
    let policy = u64::from(TEST_ITERATIONS);
    // Anything but a 16-byte salt and exactly the announced count is refused.
    for (salt_len, iterations) in [(8, policy), (32, policy), (64, policy), (16, policy + 1), (16, 2 * policy)] {
        let reply = raw.call(register_req("odd", salt_len, iterations));
        assert_eq!(code(&reply), "weak_kdf", "salt {salt_len}, {iterations}: {reply}");
    }
    assert_eq!(account_files(&server), Vec::<String>::new());
    assert_eq!(raw.call(register_req("real", 16, policy))["ok"], true);

    let challenge = |raw: &mut Raw, user: &str| {
        let reply = raw.call(json!({"op": "login", "user": user, "nonce": "abcdefghijkl"}));
        assert_eq!(code(&raw.call(json!({"op": "login_proof", "proof": "AAAA"}))), "auth_failed");
        let salt = mioftp::protocol::scram::unb64(reply["salt"].as_str().unwrap()).unwrap();
        let keys: Vec<String> = reply.as_object().unwrap().keys().cloned().collect();
        (keys, salt.len(), reply["iterations"].clone())
    };
    let real = challenge(&mut raw, "real");
    assert_eq!(real, (real.0.clone(), 16, json!(policy)));
    for unknown in ["nobody", "odd", "x"] {
        assert_eq!(challenge(&mut raw, unknown), real, "{unknown}");
    }
}

// ------------------------------------------------------ throttle (#13.4) --

#[test]
fn one_users_failed_logins_do_not_lock_out_other_users_behind_the_same_address() {
    let server = TestServer::start();
    server.user("alice").exit().unwrap();
    server.user("mallory").exit().unwrap();
    let mut c = server.client();
    for _ in 0..5 {
        let e = c.login("mallory", "not the password").unwrap_err();
        assert_eq!(e.code(), Some(mioftp::protocol::ErrorCode::AuthFailed), "{e}");
    }
    // mallory is held back on this address...
    let e = c.login("mallory", PASSWORD).unwrap_err();
    assert_eq!(e.code(), Some(mioftp::protocol::ErrorCode::TooManyAttempts), "{e}");
    // ...and keeps guessing at other names from it, below the address limit.
    for i in 0..10 {
        let e = c.login(&format!("guess{i}"), "not the password").unwrap_err();
        assert_eq!(e.code(), Some(mioftp::protocol::ErrorCode::AuthFailed), "{e}");
    }
    // Everyone else behind the same address still gets in.
    server.login("alice").exit().unwrap();
    server.user("newcomer").exit().unwrap();
}

/// A key-checked client whose connection comes from `src` (a loopback
/// address other than 127.0.0.1), so the server sees a different peer.
fn client_from(src: [u8; 4], server: &TestServer) -> mioftp_client::Client {
    let stream = mioftp_testkit::connect_from(std::net::Ipv4Addr::from(src).into(), server.addr).unwrap();
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    stream.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
    let conn = mioftp_client::connection::Connection::new(stream).unwrap();
    mioftp_client::Client::handshake(conn, &server.key).unwrap()
}

#[test]
fn guessing_from_many_addresses_holds_the_user_back_except_where_the_user_logs_in() {
    use mioftp::protocol::ErrorCode;
    let server = TestServer::start_with(|c| {
        c.login_policy = mioftp::throttle::Policy { max_failures_per_user: 8, ..Default::default() }
    });
    // alice registers and logs in from 127.0.0.1.
    server.user("alice").exit().unwrap();
    server.user("bob").exit().unwrap();
    // A stranger guesses from two other addresses, four times each: below
    // the per-address limits everywhere, but eight for alice in all.
    for n in [2, 3] {
        let mut c = client_from([127, 0, 0, n], &server);
        for _ in 0..4 {
            let e = c.login("alice", "not the password").unwrap_err();
            assert_eq!(e.code(), Some(ErrorCode::AuthFailed), "{e}");
        }
    }
    // From an address alice never used, even her password waits...
    let mut elsewhere = client_from([127, 0, 0, 9], &server);
    let e = elsewhere.login("alice", PASSWORD).unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::TooManyAttempts), "{e}");
    assert!(e.to_string().contains("from many addresses"), "{e}");
    // ...while other users are not affected there,
    elsewhere.login("bob", PASSWORD).expect("bob is not held back");
    // and from the address she logged in from before, alice gets in.
    server.login("alice").exit().unwrap();
    let refused = server.accounts_log().into_iter().find(|r| r["reason"] == "too_many_attempts").unwrap();
    assert_eq!((refused["user"].as_str(), refused["outcome"].as_str()), (Some("alice"), Some("rejected")));
    assert!(refused["peer"].as_str().unwrap().starts_with("127.0.0.9:"), "{refused}");
}

// ------------------------------------------------- quota on replace (#13.5) --

const MIB: u64 = 1 << 20;

#[test]
fn replacing_a_70_mib_file_under_a_100_mib_quota_reserves_only_the_growth() {
    use mioftp_client::{NoProgress, PutOptions};
    let server = TestServer::start_with(|c| c.default_quota = Some(100 * MIB));
    let mut c = server.user("alice");
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("big.bin");
    random_file(&local, 70 * MIB, 1);
    c.put(&local, "big.bin", &PutOptions::default(), &mut NoProgress).expect("the first copy fits");
    // A changed file of the same size, under the same name.
    let changed = random_file(&local, 70 * MIB, 2);
    c.put(&local, "big.bin", &PutOptions::default(), &mut NoProgress).expect("replacing needs no new room");
    assert_eq!(sha256_file(&server.path("home/alice/big.bin")), changed);
    assert_eq!(c.quota().unwrap().used, 70 * MIB);
    // Growth still counts: 70 -> 95 MiB fits, 95 -> 101 MiB does not.
    random_file(&local, 95 * MIB, 3);
    c.put(&local, "big.bin", &PutOptions::default(), &mut NoProgress).expect("25 MiB of growth fits");
    random_file(&local, 101 * MIB, 4);
    let e = c.put(&local, "big.bin", &PutOptions::default(), &mut NoProgress).unwrap_err();
    assert_eq!(e.code(), Some(mioftp::protocol::ErrorCode::QuotaExceeded), "{e}");
    assert_eq!(c.quota().unwrap().used, 95 * MIB);
}

#[test]
fn removing_the_file_an_upload_replaces_takes_back_its_credit_even_through_a_link() {
    for target in ["real/big.bin", "alias/big.bin"] {
        let server = TestServer::start_with(|c| c.default_quota = Some(100 * MIB));
        server.user("alice").exit().unwrap();
        // A 70 MiB file (sparse: its size is what counts) and a link to its folder.
        let home = server.path("home/alice");
        std::fs::create_dir(home.join("real")).unwrap();
        std::fs::File::create(home.join("real/big.bin")).unwrap().set_len(70 * MIB).unwrap();
        std::os::unix::fs::symlink("real", home.join("alias")).unwrap();

        let mut up = login_raw(&server, "alice");
        let mut other = login_raw(&server, "alice");
        // The replacement needs no new room: the old file's 70 MiB are credited.
        let ready = up.call(json!({"op": "put", "path": target, "length": 70 * MIB}));
        assert_eq!(ready["offset"], 0, "{target}: {ready}");
        // The old file goes away while the upload waits: its credit goes too,
        // so the 70 MiB freed stay promised to the upload.
        assert_eq!(other.call(json!({"op": "rm", "path": "real/big.bin"}))["freed"], 70 * MIB);
        let refused = other.call(json!({"op": "put", "path": "other.bin", "length": 40 * MIB}));
        assert_eq!(code(&refused), "quota_exceeded", "{target}: {refused}");
        let fits = other.call(json!({"op": "put", "path": "other.bin", "length": 30 * MIB}));
        assert_eq!(fits["offset"], 0, "{target}: {fits}");
    }
}
