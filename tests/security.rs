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
