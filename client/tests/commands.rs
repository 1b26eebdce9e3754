//! The `mioftp` binary's file commands against a real in-process server:
//! batch mode (the remote directory persists between lines; the first
//! failure stops it, naming the line), `dir --json`, the listing table, and
//! put/get round trips with their summary lines.

mod common;
use common::{Fixture, start_server};
use mioftp_client::Client;
use serde_json::Value;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

const PASSWORD: &str = "pencil-pencil";

/// A server with one registered user, `alice`.
fn start() -> Fixture {
    let f = start_server();
    let key = std::fs::read(f.root.path().join("server.key")).unwrap();
    let mut c = Client::connect(&f.server.addr.to_string(), &key).unwrap();
    c.register("alice", PASSWORD).unwrap();
    f
}

impl Fixture {
    /// Runs `mioftp --user alice ARGS` in `cwd`, with `stdin` as its input.
    fn run_in(&self, cwd: &Path, args: &[&str], stdin: &[u8]) -> Output {
        let mut child = Command::new(env!("CARGO_BIN_EXE_mioftp"))
            .current_dir(cwd)
            .args(["--server", &self.server.addr.to_string(), "--key-file"])
            .arg(self.root.path().join("server.key"))
            .args(["--user", "alice"])
            .args(args)
            .env("MIOFTP_PASSWORD", PASSWORD)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(stdin).unwrap();
        child.wait_with_output().unwrap()
    }

    fn run(&self, args: &[&str]) -> Output {
        self.run_in(self.root.path(), args, b"")
    }

    /// `dir --json PATH` as parsed JSON entries.
    fn dir_json(&self, path: &str) -> Vec<Value> {
        let out = self.run(&["dir", "--json", path]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        serde_json::from_slice::<Value>(&out.stdout).unwrap().as_array().unwrap().clone()
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn names(entries: &[Value]) -> Vec<&str> {
    entries.iter().map(|e| e["name"].as_str().unwrap()).collect()
}

#[test]
fn batch_mode_keeps_the_remote_directory_from_line_to_line() {
    let f = start();
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("note.txt"), b"hello, batch").unwrap();
    let script = "# a comment\nmkdir -p a/b\ncd a\n\nput note.txt\ncd b\npwd\n";
    let out = f.run_in(work.path(), &["-b", "-"], script.as_bytes());
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).lines().last(), Some("/a/b"), "{}", text(&out.stdout));
    assert_eq!(std::fs::read(f.home("a/note.txt")).unwrap(), b"hello, batch");

    let file = work.path().join("script");
    std::fs::write(&file, "cd a/b\nput note.txt n2.txt\n").unwrap();
    let out = f.run_in(work.path(), &["-b", file.to_str().unwrap()], b"");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(f.home("a/b/n2.txt").is_file());
}

#[test]
fn batch_mode_stops_at_the_first_failure_and_names_the_line() {
    let f = start();
    let out = f.run_in(f.root.path(), &["-b", "-"], b"mkdir one\ncd missing\nmkdir two\n");
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("line 2") && err.contains("cd missing"), "{err}");
    assert!(!err.contains('{'), "raw JSON shown: {err}");
    assert_eq!(names(&f.dir_json("/")), ["one"]);

    let out = f.run_in(f.root.path(), &["-b", "-"], b"pwd\nfrobnicate\npwd\n");
    assert_eq!(out.status.code(), Some(2), "a usage mistake is a usage exit");
    assert!(text(&out.stderr).contains("line 2"), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).lines().count(), 1, "stopped before the third line");
}

#[test]
fn dir_json_prints_the_sorted_entries_as_a_json_array() {
    let f = start();
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("z.bin"), vec![7u8; 2048]).unwrap();
    let out = f.run_in(work.path(), &["-b", "-"], b"mkdir docs\nput z.bin\nput z.bin a.bin\n");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let entries = f.dir_json("/");
    assert_eq!(names(&entries), ["docs", "a.bin", "z.bin"]);
    assert_eq!(entries[0]["kind"], "dir");
    assert_eq!((entries[1]["kind"].as_str(), entries[1]["size"].as_u64()), (Some("file"), Some(2048)));
    assert!(entries[1]["mtime"].as_i64().unwrap() > 1_600_000_000);

    let table = f.run(&["ls"]);
    let stdout = text(&table.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{stdout}");
    assert!(lines[0].starts_with('d') && lines[0].ends_with(" docs/"), "{stdout}");
    assert!(lines[1].contains("2.0 KiB") && lines[1].ends_with(" a.bin"), "{stdout}");
    assert!(lines[3].starts_with("3 entries, used 4.0 KiB of "), "{stdout}");
}

#[test]
fn put_and_get_round_trip_through_the_binary() {
    let f = start();
    let up = tempfile::tempdir().unwrap();
    let data: Vec<u8> = (0..1_000_003u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    std::fs::write(up.path().join("data.bin"), &data).unwrap();
    let out = f.run_in(up.path(), &["put", "data.bin"], b"");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let line = text(&out.stdout);
    assert!(line.starts_with("put data.bin -> /data.bin: 976.6 KiB in ") && line.contains("sha256 verified"), "{line}");
    assert_eq!(std::fs::read(f.home("data.bin")).unwrap(), data);

    // Default local name: the remote base name, in the current directory.
    let down = tempfile::tempdir().unwrap();
    let out = f.run_in(down.path(), &["get", "/data.bin"], b"");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("sha256 verified"), "{}", text(&out.stdout));
    assert_eq!(std::fs::read(down.path().join("data.bin")).unwrap(), data);
    // An explicit name, and --no-resume.
    let out = f.run_in(down.path(), &["get", "--no-resume", "data.bin", "copy.bin"], b"");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mut left: Vec<_> =
        std::fs::read_dir(down.path()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    left.sort();
    assert_eq!(left, ["copy.bin", "data.bin"], "no partials or sidecars left");
}

#[test]
fn a_failed_get_is_one_line_and_leaves_no_file() {
    let f = start();
    let down = tempfile::tempdir().unwrap();
    let out = f.run_in(down.path(), &["get", "nothing.bin"], b"");
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("mioftp: ") && !err.contains('{'), "{err}");
    assert_eq!(std::fs::read_dir(down.path()).unwrap().count(), 0);

    let out = f.run(&["put"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("usage: put [-r] [-p] [--no-resume] LOCAL [REMOTE]"), "{}", text(&out.stderr));
}

#[test]
fn help_lists_every_command_with_a_description() {
    let f = start();
    let out = f.run(&["help"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let help = text(&out.stdout);
    let all =
        ["dir", "cd", "pwd", "mkdir", "rm", "quota", "put", "get", "mput", "mget", "lcd", "lpwd", "lls", "!", "help"];
    for cmd in all.into_iter().chain(["exit"]) {
        assert!(help.lines().any(|l| l.trim_start().starts_with(cmd)), "{cmd} missing from:\n{help}");
    }
    let out = f.run(&["help", "put"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let one = text(&out.stdout);
    assert!(one.starts_with("usage: put [-r] [-p] [--no-resume] LOCAL [REMOTE]\n"), "{one}");
    assert!(one.contains("-p (--parents) creates"), "{one}");
    // The new commands explain themselves too.
    for (name, says) in [
        ("mget", "usage: mget [-r] [--no-resume] REMOTE..."),
        ("mput", "usage: mput [-r] [--no-resume] LOCAL..."),
        ("rm", "-r (--recursive) removes"),
        ("cd", "'cd -' goes"),
        ("lcd", "'lcd -' goes"),
        ("!", "only place mioftp starts a shell"),
        ("ls", "ls -l, -a, -la and -al are accepted"),
    ] {
        let out = f.run(&["help", name]);
        assert!(out.status.success() && text(&out.stdout).replace('\n', " ").contains(says), "{name}: {out:?}");
    }
    let out = f.run(&["help", "frobnicate"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
}
