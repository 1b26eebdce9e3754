//! Issue 17's newcomer bug list, one test per bug, each driving the real
//! `mioftp` binary (or the library, where the bug lives there) against a
//! real in-process server. Every test here failed before its fix.

mod common;
use common::{Fixture, start_server, start_server_with, wait_until};
use mioftp_client::Client;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

const PASSWORD: &str = "pencil-pencil";

fn mioftp(f: &Fixture, cwd: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mioftp"));
    cmd.current_dir(cwd)
        .args(["--server", &f.addr(), "--key-file"])
        .arg(f.key_path())
        .env_remove("MIOFTP_PASSWORD")
        .env_remove("MIOFTP_USER")
        .env_remove("MIOFTP_SERVER")
        .env_remove("MIOFTP_KEY_FILE")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// `mioftp --user alice ARGS` with the password in the environment.
fn alice(f: &Fixture, cwd: &Path, args: &[&str]) -> Output {
    mioftp(f, cwd).args(["--user", "alice"]).args(args).env("MIOFTP_PASSWORD", PASSWORD).output().unwrap()
}

fn register_alice(f: &Fixture) {
    let mut c = Client::connect(&f.addr(), &std::fs::read(f.key_path()).unwrap()).unwrap();
    c.register("alice", PASSWORD).unwrap();
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Bug 1: the client connected before reading the password, so a password
/// that arrived after the handshake deadline met a dead socket.
#[test]
fn bug1_a_password_that_arrives_after_the_handshake_deadline_still_logs_in() {
    let f = start_server_with(|c| c.handshake_timeout = Duration::from_millis(500));
    register_alice(&f);
    let dir = tempfile::tempdir().unwrap();
    let mut child = mioftp(&f, dir.path())
        .args(["--user", "alice", "--password-stdin", "pwd"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    // Longer than the deadline: a client that connected first is cut off.
    std::thread::sleep(Duration::from_millis(1200));
    child.stdin.take().unwrap().write_all(format!("{PASSWORD}\n").as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), "/");
    assert!(f.accounts_log().iter().all(|r| r["event"] != "timeout"), "{:?}", f.accounts_log());
}

/// Bug 1, reconnects: a session the server dropped as idle comes back on
/// the next command, logged in with the kept keys, in the same folder.
#[test]
fn bug1_the_next_command_after_an_idle_drop_reconnects_in_the_same_folder() {
    let f = start_server_with(|c| c.idle_timeout = Duration::from_millis(300));
    register_alice(&f);
    let dir = tempfile::tempdir().unwrap();
    let mut child = mioftp(&f, dir.path())
        .args(["--user", "alice", "-b", "-"])
        .env("MIOFTP_PASSWORD", PASSWORD)
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"mkdir -p docs\ncd docs\n").unwrap();
    stdin.flush().unwrap();
    wait_until("the server to drop the idle session", || {
        f.accounts_log().iter().any(|r| r["event"] == "logout" && r["message"] == "timeout")
    });
    stdin.write_all(b"pwd\n").unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).lines().last(), Some("/docs"), "{}", text(&out.stdout));
    let logins = f.accounts_log().iter().filter(|r| r["event"] == "login" && r["outcome"] == "ok").count();
    assert_eq!(logins, 2, "one login, one re-login without the password");
}

/// Bug 1: a refused re-login is not retried with the same keys.
#[test]
fn bug1_a_refused_relogin_forgets_the_keys() {
    let f = start_server();
    register_alice(&f);
    let mut c = Client::connect(&f.addr(), &std::fs::read(f.key_path()).unwrap()).unwrap();
    c.login("alice", PASSWORD).unwrap();
    assert!(c.can_reconnect());
    c.conn.stream().shutdown(std::net::Shutdown::Both).unwrap();
    c.reconnect().expect("the same account logs in again");
    assert_eq!(c.user(), Some("alice"));
    // The account goes away (the server then answers with another salt);
    // the reconnect fails, and is not tried again with the same keys.
    std::fs::remove_file(f.root.path().join("accounts/alice.json")).unwrap();
    c.conn.stream().shutdown(std::net::Shutdown::Both).unwrap();
    let err = c.reconnect().unwrap_err();
    assert!(err.to_string().contains("log in again with its password"), "{err}");
    assert!(!c.can_reconnect());
    assert!(c.reconnect().is_err());
}

/// Bug 3: a scripted `register` logged in afterwards and failed (status 1)
/// when logins from the address were throttled.
#[test]
fn bug3_scripted_register_exits_0_and_is_not_a_failed_login_even_when_logins_are_throttled() {
    let f = start_server();
    register_alice(&f);
    let dir = tempfile::tempdir().unwrap();
    for _ in 0..5 {
        let out = mioftp(&f, dir.path())
            .args(["--user", "alice", "login"])
            .env("MIOFTP_PASSWORD", "wrong-password")
            .output()
            .unwrap();
        assert!(!out.status.success());
    }
    let out =
        mioftp(&f, dir.path()).args(["--user", "bob", "register"]).env("MIOFTP_PASSWORD", PASSWORD).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("registered bob"), "{}", text(&out.stderr));
    let bob_logins: Vec<_> =
        f.accounts_log().into_iter().filter(|r| r["user"] == "bob" && r["event"] == "login").collect();
    assert!(bob_logins.is_empty(), "{bob_logins:?}");
}

/// Bug 4: the shutdown notice's message was wrapped in words saying the same.
#[test]
fn bug4_the_shutdown_message_says_it_once() {
    let f = start_server();
    register_alice(&f);
    let mut c = Client::connect(&f.addr(), &std::fs::read(f.key_path()).unwrap()).unwrap();
    c.login("alice", PASSWORD).unwrap();
    let Fixture { root: _root, server } = f;
    server.stop().unwrap();
    let err = c.pwd().unwrap_err().to_string();
    assert_eq!(err.matches("shutting down").count(), 1, "{err}");
}

/// Bug 4: a short key file's path was printed twice.
#[test]
fn bug4_a_bad_key_file_is_named_once() {
    let f = start_server();
    let dir = tempfile::tempdir().unwrap();
    let short = dir.path().join("short.key");
    std::fs::write(&short, b"tiny").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_mioftp"))
        .args(["--server", &f.addr(), "--key-file"])
        .arg(&short)
        .args(["--user", "alice", "login"])
        .env("MIOFTP_PASSWORD", PASSWORD)
        .output()
        .unwrap();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.matches(&short.display().to_string()).count(), 1, "{err}");
}

/// Bug 7: a missing local file is a local problem (2), not a refusal (1).
#[test]
fn bug7_a_missing_local_file_exits_2() {
    let f = start_server();
    register_alice(&f);
    let dir = tempfile::tempdir().unwrap();
    let out = alice(&f, dir.path(), &["put", "no-such-file.bin"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("no-such-file.bin"), "{}", text(&out.stderr));
}

/// Bug 7: temporary names must not show in messages.
#[test]
fn bug7_download_errors_name_the_target_not_the_temporary_file() {
    let f = start_server();
    register_alice(&f);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.bin"), b"some bytes").unwrap();
    assert!(alice(&f, dir.path(), &["put", "a.bin"]).status.success());
    let down = tempfile::tempdir().unwrap();
    // Something in the way of the partial file: a folder of that name.
    std::fs::create_dir(down.path().join("a.bin.mioftp-part")).unwrap();
    let out = alice(&f, down.path(), &["get", "a.bin"]);
    let err = text(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("a.bin") && !err.contains("mioftp-part"), "{err}");
}

/// Bug 8: an unknown flag was taken for a command name.
#[test]
fn bug8_an_unknown_flag_is_reported_as_a_flag() {
    let f = start_server();
    let dir = tempfile::tempdir().unwrap();
    let out = mioftp(&f, dir.path()).arg("--frobnicate").output().unwrap();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("--frobnicate") && !err.contains("unknown command"), "{err}");
    // Flags after a command still belong to the command.
    register_alice(&f);
    std::fs::write(dir.path().join("a.bin"), b"x").unwrap();
    let out = alice(&f, dir.path(), &["put", "--no-resume", "a.bin"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

/// Bug 9: Ctrl-D (end of input) at the first question left the cursor
/// after the question.
#[test]
fn bug9_end_of_input_at_the_menu_ends_the_line() {
    let f = start_server();
    let dir = tempfile::tempdir().unwrap();
    let out = mioftp(&f, dir.path()).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("[r]egister") && stdout.ends_with('\n'), "{stdout:?}");
}

/// Bug 11: `put FILE DIR` into an existing remote folder failed.
#[test]
fn bug11_put_into_an_existing_remote_folder_lands_inside_it() {
    let f = start_server();
    register_alice(&f);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.bin"), b"into the folder").unwrap();
    assert!(alice(&f, dir.path(), &["mkdir", "somedir"]).status.success());
    let out = alice(&f, dir.path(), &["put", "a.bin", "somedir"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("-> /somedir/a.bin"), "{}", text(&out.stdout));
    let stored = f.root.path().join("home/alice/somedir/a.bin");
    assert_eq!(std::fs::read(stored).unwrap(), b"into the folder");
}

/// Bug 2: `put FILE docs/FILE` failed when `docs/` did not exist; `put -p`
/// creates the parent folders, as the README's example now does.
#[test]
fn bug2_put_p_creates_the_missing_parent_folders() {
    let f = start_server();
    register_alice(&f);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("report.pdf"), b"%PDF").unwrap();
    let out = alice(&f, dir.path(), &["put", "report.pdf", "docs/2026/report.pdf"]);
    assert_eq!(out.status.code(), Some(1), "without -p the folder must exist");
    let out = alice(&f, dir.path(), &["put", "-p", "report.pdf", "docs/2026/report.pdf"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(f.root.path().join("home/alice/docs/2026/report.pdf").is_file());
}
