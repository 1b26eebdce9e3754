//! The `mioftp` binary, non-interactively, against a real in-process server.

mod common;
use common::{Fixture, start_server as start};
use std::process::{Command, Output, Stdio};

impl Fixture {
    fn mioftp(&self, args: &[&str], password: Option<&str>) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_mioftp"));
        cmd.args(["--server", &self.server.addr.to_string()])
            .arg("--key-file")
            .arg(self.root.path().join("server.key"))
            .args(args)
            .env_remove("MIOFTP_PASSWORD")
            .stdin(Stdio::null());
        if let Some(p) = password {
            cmd.env("MIOFTP_PASSWORD", p);
        }
        cmd.output().unwrap()
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn register_then_login_with_the_password_from_the_environment() {
    let f = start();
    let reg = f.mioftp(&["--user", "alice", "register"], Some("pencil-pencil"));
    assert!(reg.status.success(), "{}", stderr(&reg));
    let login = f.mioftp(&["--user", "alice", "login"], Some("pencil-pencil"));
    assert!(login.status.success(), "{}", stderr(&login));
    assert!(stderr(&login).contains("logged in as alice"));
}

#[test]
fn the_password_can_come_from_stdin() {
    let f = start();
    f.mioftp(&["--user", "bob", "register"], Some("pencil-pencil"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_mioftp"))
        .args(["--server", &f.server.addr.to_string(), "--key-file"])
        .arg(f.root.path().join("server.key"))
        .args(["--user", "bob", "--password-stdin", "login"])
        .env_remove("MIOFTP_PASSWORD")
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(b"pencil-pencil\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn failures_exit_non_zero_with_one_human_line() {
    let f = start();
    f.mioftp(&["--user", "carol", "register"], Some("pencil-pencil"));
    for (args, password, expect) in [
        (vec!["--user", "carol", "login"], Some("wrong-password"), "invalid username or password"),
        (vec!["--user", "carol", "register"], Some("pencil-pencil"), "already taken"),
        (vec!["--user", "Bad/Name", "register"], Some("pencil-pencil"), "username"),
        (vec!["--user", "dave", "register"], Some("short"), "at least 8"),
        (vec!["--user", "dave", "login"], None, "MIOFTP_PASSWORD"),
        (vec!["login"], Some("x"), "--user"),
    ] {
        let out = f.mioftp(&args, password);
        let err = stderr(&out);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(expect), "{args:?}: {err}");
        assert!(!err.contains('{'), "raw JSON shown: {err}");
    }
}

#[test]
fn a_wrong_or_missing_key_file_is_explained() {
    let f = start();
    let bad = f.root.path().join("wrong.key");
    std::fs::write(&bad, [9u8; 32]).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_mioftp"))
        .args(["--server", &f.server.addr.to_string(), "--key-file"])
        .arg(&bad)
        .args(["--user", "x", "login"])
        .env("MIOFTP_PASSWORD", "whatever1")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("connection check failed"), "{}", stderr(&out));

    let missing = Command::new(env!("CARGO_BIN_EXE_mioftp"))
        .args(["--server", &f.server.addr.to_string(), "--key-file", "/nonexistent/key", "--user", "x", "login"])
        .env("MIOFTP_PASSWORD", "whatever1")
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
    assert!(stderr(&missing).contains("cannot read the server key"), "{}", stderr(&missing));
}
