//! The README's exit-status table, row by row: the test reads the table out
//! of README.md, runs the examples of each status against a real server and
//! checks the status, so the table and the program cannot disagree.

mod common;
use common::{Fixture, start_server};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};

const PASSWORD: &str = "pencil-pencil";

/// The statuses README.md's "Exit status" table lists.
fn readme_statuses() -> Vec<u8> {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md")).unwrap();
    let table = readme.split("### Exit status").nth(1).expect("an Exit status section").split("\n\n").nth(2).unwrap();
    table.lines().skip(2).map(|row| row.split('|').nth(1).unwrap().trim().parse().unwrap()).collect()
}

/// Runs mioftp in `cwd` with `args` (after `--server` and `--key-file`,
/// unless `args` brings its own) and the password in the environment.
fn status(f: &Fixture, cwd: &Path, args: &[&str]) -> i32 {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mioftp"));
    if !args.contains(&"--server") {
        cmd.args(["--server", &f.addr()]);
    }
    if !args.contains(&"--key-file") {
        cmd.arg("--key-file").arg(f.key_path());
    }
    let out = cmd
        .current_dir(cwd)
        .args(args)
        .env("MIOFTP_PASSWORD", PASSWORD)
        .env_remove("MIOFTP_USER")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    // Our own failures are one line; clap's usage errors add a usage line
    // and a hint after theirs.
    if out.status.code() != Some(0) && !err.starts_with("error: unexpected argument") {
        assert_eq!(err.lines().count(), 1, "{args:?}: one line says why: {err}");
    }
    out.status.code().expect("exited, not killed")
}

#[test]
fn every_row_of_the_readme_exit_status_table_holds() {
    let f = start_server();
    let work = tempfile::tempdir().unwrap();
    let cwd = work.path();
    std::fs::write(cwd.join("a.bin"), b"data").unwrap();
    assert_eq!(status(&f, cwd, &["--user", "alice", "register"]), 0);
    let free_port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().to_string()
    };
    let mut examples: BTreeMap<u8, Vec<Vec<&str>>> = BTreeMap::new();
    examples.insert(0, vec![vec!["--user", "alice", "put", "a.bin"], vec!["--user", "alice", "pwd"]]);
    examples.insert(
        1,
        vec![
            vec!["--user", "alice", "get", "missing.bin"],
            vec!["--user", "alice", "register"], // the name is taken
        ],
    );
    examples.insert(
        2,
        vec![
            vec!["--user", "alice", "frobnicate"],
            vec!["--frobnicate"],
            vec!["--user", "alice", "put"],
            vec!["pwd"], // no --user
            vec!["--key-file", "/nonexistent/server.key", "--user", "alice", "pwd"],
            vec!["--user", "alice", "put", "missing-local.bin"],
            vec!["--user", "alice", "put", "/dev/null"],
        ],
    );
    examples.insert(3, vec![vec!["--server", &free_port, "--user", "alice", "pwd"]]);

    assert_eq!(readme_statuses(), examples.keys().copied().collect::<Vec<_>>(), "README rows vs tested rows");
    for (expected, runs) in &examples {
        for args in runs {
            assert_eq!(status(&f, cwd, args), i32::from(*expected), "{args:?}");
        }
    }
    // A wrong password is row 1 too (after the runs above left alice's
    // account untouched).
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mioftp"));
    let out = cmd
        .args(["--server", &f.addr(), "--key-file"])
        .arg(f.key_path())
        .args(["--user", "alice", "login"])
        .env("MIOFTP_PASSWORD", "wrong-password")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
}
