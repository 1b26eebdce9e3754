//! The data root under the real `mioftpd` binary: one server per root (a
//! second one stops at start naming the root and the first one's pid), the
//! modes of what the server creates (uploads 0640, folders 0750 or under
//! `--umask`, logs 0640, accounts 0700/0600, the root 0750), and the check
//! of its secrets at start (a warning, or with `--strict-perms` a refusal).

mod common;
use common::*;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).permissions().mode() & 0o777
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Runs `mioftpd --root ROOT --listen 127.0.0.1:0 EXTRA` to its exit (it is
/// expected to stop at start) and returns its status and stderr.
fn run_to_exit(root: &Path, extra: &[&str]) -> (Option<i32>, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mioftpd"));
    for (name, _) in std::env::vars_os().filter(|(n, _)| n.to_string_lossy().starts_with("MIOFTPD_")) {
        cmd.env_remove(name);
    }
    let mut child = cmd
        .arg("--root")
        .arg(root)
        .args(["--listen", "127.0.0.1:0"])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let exited = poll_until(IO_TIMEOUT, || matches!(child.try_wait(), Ok(Some(_))));
    if !exited {
        let _ = child.kill();
    }
    let out = child.wait_with_output().unwrap();
    assert!(exited, "mioftpd did not stop at start");
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// The daemon's stderr so far (see `Daemon::start`).
fn daemon_stderr(root: &Path) -> String {
    let name = root.file_name().unwrap().to_string_lossy();
    std::fs::read_to_string(root.parent().unwrap().join(format!("{name}.stderr"))).unwrap_or_default()
}

#[test]
fn a_second_server_on_the_same_root_stops_naming_the_root_and_the_first_ones_pid() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("data");
    let mut first = Daemon::start(&root, &[]);
    let (code, err) = run_to_exit(&root, &[]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("already using the data root"), "{err}");
    assert!(err.contains(&root.display().to_string()), "{err}");
    assert!(err.contains(&format!("pid {}", first.child.id())), "{err}");
    // The first server was not disturbed.
    let mut c = first.client();
    c.register("alice", PASSWORD).unwrap();
    c.exit().unwrap();
    // Once it is gone (even killed), the root is free again.
    first.kill9();
    let second = Daemon::start(&root, &[]);
    second.client().login("alice", PASSWORD).unwrap();
}

#[test]
fn uploads_folders_logs_and_accounts_get_private_modes_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("data");
    let daemon = Daemon::start(&root, &[]);
    let mut alice = daemon.client();
    alice.register("alice", PASSWORD).unwrap();
    alice.login("alice", PASSWORD).unwrap();
    alice.mkdir("docs", false).unwrap();
    let local = dir.path().join("a.bin");
    std::fs::write(&local, vec![7u8; 3000]).unwrap();
    alice.put(&local, "docs/a.bin", &Default::default(), &mut mioftp_client::NoProgress).unwrap();
    alice.exit().unwrap();
    let home = root.join("home/alice");
    assert_eq!(mode(&home.join("docs/a.bin")), 0o640, "an uploaded file");
    assert_eq!(mode(&home.join("docs")), 0o750, "a folder made by mkdir");
    assert_eq!(mode(&home), 0o750, "a home");
    assert_eq!(mode(&root), 0o750, "the data root");
    assert_eq!(mode(&root.join("logs/upload_file.log")), 0o640);
    assert_eq!(mode(&root.join("logs/register_login_accounts.log")), 0o640);
    assert_eq!(mode(&root.join("accounts")), 0o700);
    assert_eq!(mode(&root.join("accounts/alice.json")), 0o600);
    assert_eq!(mode(&root.join("server.key")), 0o600);
    assert_eq!(mode(&root.join(".lock")), 0o600);
    assert!(!daemon_stderr(&root).contains("can access it"), "no warning about its own files");
}

#[test]
fn a_umask_setting_changes_what_users_store_but_not_the_logs() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("data");
    let daemon = Daemon::start(&root, &["--umask", "007"]);
    let mut bob = daemon.client();
    bob.register("bob", PASSWORD).unwrap();
    bob.login("bob", PASSWORD).unwrap();
    bob.mkdir("shared", false).unwrap();
    let local = dir.path().join("b.bin");
    std::fs::write(&local, b"group readable").unwrap();
    bob.put(&local, "shared/b.bin", &Default::default(), &mut mioftp_client::NoProgress).unwrap();
    bob.exit().unwrap();
    let home = root.join("home/bob");
    assert_eq!(mode(&home.join("shared/b.bin")), 0o660);
    assert_eq!(mode(&home.join("shared")), 0o770);
    assert_eq!(mode(&root.join("logs/upload_file.log")), 0o640, "logs stay 0640");
    assert_eq!(mode(&root.join("accounts/bob.json")), 0o600, "accounts stay 0600");
}

#[test]
fn exposed_secrets_are_warned_about_and_strict_perms_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("data");
    // A first run makes the root, the key and accounts/; then loosen them.
    let mut daemon = Daemon::start(&root, &[]);
    daemon.kill9();
    chmod(&root.join("server.key"), 0o644);
    chmod(&root.join("accounts"), 0o755);
    let daemon = Daemon::start(&root, &[]);
    let warned = poll_until(Duration::from_secs(5), || daemon_stderr(&root).contains("chmod 700"));
    let err = daemon_stderr(&root);
    assert!(warned, "{err}");
    assert!(err.contains("server.key has mode 0644") && err.contains("chmod 600"), "{err}");
    assert!(err.contains("accounts has mode 0755"), "{err}");
    drop(daemon);

    let (code, err) = run_to_exit(&root, &["--strict-perms"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("refusing to start (--strict-perms)") && err.contains("server.key"), "{err}");
    chmod(&root.join("server.key"), 0o600);
    chmod(&root.join("accounts"), 0o700);
    let strict = Daemon::start(&root, &["--strict-perms"]);
    strict.client().exit().unwrap();
}
