//! What the `mioftp` binary prints from a server reaches a terminal: remote
//! names, the server's name and its error messages must arrive with every
//! terminal control (C0, DEL, C1, bidirectional) written visibly, whether the
//! server is real (names made on its disk) or hostile (a scripted fake).

mod common;
use common::start_server;
use mioftp::protocol::frame;
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Output, Stdio};

/// The characters a terminal could act on, apart from the newline.
fn raw_controls(text: &str) -> Vec<char> {
    text.chars()
        .filter(|&c| {
            (c < ' ' && c != '\n')
                || ('\u{7f}'..='\u{9f}').contains(&c)
                || matches!(c, '\u{61c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
        })
        .collect()
}

fn mioftp(addr: &str, key: &std::path::Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mioftp"))
        .args(["--server", addr, "--key-file"])
        .arg(key)
        .args(args)
        .env("MIOFTP_PASSWORD", "pencil-pencil")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn remote_names_with_terminal_controls_are_listed_escaped() {
    let f = start_server();
    let key = f.root.path().join("server.key");
    let addr = f.server.addr.to_string();
    let reg = mioftp(&addr, &key, &["--user", "alice", "register"], "");
    assert!(reg.status.success(), "{}", String::from_utf8_lossy(&reg.stderr));
    // Names the server refuses on the wire can still be on its disk.
    let home = f.root.path().join("home/alice");
    for name in ["evil\u{202e}txt.exe", "bell\x07\x1b[2J", "c1\u{9b}31m"] {
        std::fs::write(home.join(name), b"x").unwrap();
    }
    let out = mioftp(&addr, &key, &["--user", "alice", "-b", "-"], "dir\n");
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success(), "{stdout} {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(raw_controls(&stdout), [], "{stdout:?}");
    for shown in [r"evil\u{202e}txt.exe", r"bell\x07\x1b[2J", r"c1\u{9b}31m"] {
        assert!(stdout.contains(shown), "{shown} not in {stdout}");
    }
}

/// A fake server: a hello naming itself `server`, accepts the connection
/// check, and answers every later request with `error`.
fn hostile_server(server: &str, error: Value) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let hello = json!({"notice": "hello", "protocol": 1, "server": server,
        "challenge": mioftp::protocol::scram::b64(&[7u8; 32]), "kdf": "pbkdf2-sha256",
        "min_iterations": 1000, "min_password_len": 8});
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { return };
            let _ = s.write_all(&frame::encode_to_vec(&hello).unwrap());
            while let Some(req) = recv(&mut s) {
                let reply = match req["op"].as_str() {
                    Some("auth") => json!({"ok": true}),
                    Some("exit") => json!({"ok": true, "bye": true}),
                    _ => error.clone(),
                };
                if s.write_all(&frame::encode_to_vec(&reply).unwrap()).is_err() {
                    break;
                }
            }
        }
    });
    addr
}

fn recv(s: &mut TcpStream) -> Option<Value> {
    let mut prefix = [0u8; 4];
    s.read_exact(&mut prefix).ok()?;
    let mut header = vec![0u8; frame::header_len(prefix).ok()?];
    s.read_exact(&mut header).ok()?;
    Some(Value::Object(frame::parse_header(&header).ok()?.header))
}

#[test]
fn a_hostile_servers_name_and_messages_are_printed_escaped() {
    let error = json!({"ok": false, "error": {"code": "auth_failed",
        "message": "\x1b]0;pwned\x07\x1b[31mRED\x1b[0m \u{202e}evil"}});
    let addr = hostile_server("fake\x1b]0;title\x07\u{9b}2J", error);
    let key = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(key.path(), [9u8; 32]).unwrap(); // the fake does not check it

    // One command: the refusal is one line on stderr.
    let out = mioftp(&addr, key.path(), &["--user", "bob", "login"], "");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(!out.status.success());
    assert_eq!(raw_controls(&stderr), [], "{stderr:?}");
    assert!(stderr.contains(r"\x1b]0;pwned\x07\x1b[31mRED\x1b[0m \u{202e}evil"), "{stderr}");

    // Interactive: the greeting names the server, a refused login is shown.
    let out = mioftp(&addr, key.path(), &["--user", "bob"], "l\nq\n");
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(raw_controls(&stdout), [], "{stdout:?}");
    assert!(stdout.contains(r"Connected to fake\x1b]0;title\x07\u{9b}2J"), "{stdout}");
    assert!(stdout.contains(r"\u{202e}evil"), "{stdout}");
}
