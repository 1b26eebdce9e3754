//! Wildcards and several paths at once, through the real binary against a
//! real in-process server: local patterns in `put` and `mput`, remote
//! patterns (matched by the client on listings) in `get`, `mget` and `rm`,
//! names that merely contain wildcard characters, hidden names, no match;
//! `rm` of several paths in batch mode (stops) and at the prompt (carries
//! on); `rm -r`, which asks at the prompt and says so when the server
//! cannot remove a tree.

mod common;
use common::{Fixture, Ran, with_alice};
use std::path::Path;

fn ok(ran: &Ran) {
    assert_eq!(ran.status, Some(0), "stdout:\n{}\nstderr:\n{}", ran.stdout, ran.stderr);
}

fn write(dir: &Path, files: &[&str]) {
    for name in files {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, format!("contents of {name}")).unwrap();
    }
}

/// The names in `dir`, but the server's own `.mioftp` folder.
fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n != ".mioftp")
        .collect();
    v.sort();
    v
}

/// A server whose alice holds a few files and folders.
fn remote_files(f: &Fixture) {
    write(
        &f.home(""),
        &["a.txt", "b.txt", "c.log", ".hidden.txt", "x[1].txt", "docs/n.txt", "docs/m.pdf", "more/n.txt"],
    );
    std::fs::create_dir_all(f.home("folder.txt")).unwrap();
}

#[test]
fn put_and_mput_expand_local_patterns() {
    let f = with_alice(|_| {});
    let work = tempfile::tempdir().unwrap();
    write(work.path(), &["a.txt", "b.txt", "c.log", ".h.txt", "x[1].txt", "sub/s.txt"]);
    f.alice().mkdir("docs", false).unwrap();
    ok(&f.batch(work.path(), "put *.txt docs\nmput c.log sub/*\n"));
    assert_eq!(names(&f.home("docs")), ["a.txt", "b.txt", "x[1].txt"], "no hidden name, no .log");
    assert_eq!(names(&f.home("")), ["c.log", "docs", "s.txt"]);
    assert_eq!(std::fs::read(f.home("docs/x[1].txt")).unwrap(), b"contents of x[1].txt");
    // A name that merely contains wildcard characters is taken as written.
    ok(&f.batch(work.path(), "put x[1].txt literal.txt\n"));
    assert_eq!(std::fs::read(f.home("literal.txt")).unwrap(), b"contents of x[1].txt");
}

#[test]
fn a_local_pattern_needs_a_match_and_several_files_need_a_remote_folder() {
    let f = with_alice(|_| {});
    let work = tempfile::tempdir().unwrap();
    write(work.path(), &["a.txt", "b.txt"]);
    let ran = f.batch(work.path(), "put *.zip\n");
    assert_eq!(ran.status, Some(2), "{}", ran.stderr);
    assert!(ran.stderr.contains("no local file matches \"*.zip\""), "{}", ran.stderr);
    let ran = f.batch(work.path(), "put *.txt nowhere\n");
    assert_eq!(ran.status, Some(2), "{}", ran.stderr);
    assert!(ran.stderr.contains("nowhere is not a remote folder; several files need one"), "{}", ran.stderr);
    assert_eq!(names(&f.home("")), Vec::<String>::new(), "nothing was sent");
    // -p makes the folder.
    ok(&f.batch(work.path(), "put -p *.txt made/here\n"));
    assert_eq!(names(&f.home("made/here")), ["a.txt", "b.txt"]);
}

#[test]
fn get_and_mget_match_remote_patterns_on_listings() {
    let f = with_alice(|_| {});
    remote_files(&f);
    let work = tempfile::tempdir().unwrap();
    let ran = f.batch(work.path(), "get *.txt\n");
    ok(&ran);
    assert_eq!(names(work.path()), ["a.txt", "b.txt", "x[1].txt"], "no hidden name, no folder");
    assert!(ran.stderr.contains("skipped /folder.txt: a folder (get -r copies folders)"), "{}", ran.stderr);
    let dl = work.path().join("dl");
    std::fs::create_dir(&dl).unwrap();
    ok(&f.batch(work.path(), "get */n.txt dl\n"));
    assert_eq!(names(&dl), ["n.txt"], "both n.txt matched; the second overwrote the first");
    let ran = f.batch(&dl, "mget docs/*.pdf .h*\n");
    ok(&ran);
    assert_eq!(names(&dl), [".hidden.txt", "m.pdf", "n.txt"]);
    assert_eq!(std::fs::read(dl.join("m.pdf")).unwrap(), b"contents of docs/m.pdf");
    // Wildcard characters in a real name match that name.
    let lit = tempfile::tempdir().unwrap();
    ok(&f.batch(lit.path(), "get x[1].txt\n"));
    assert_eq!(names(lit.path()), ["x[1].txt"]);
}

#[test]
fn a_remote_pattern_without_a_match_is_a_refusal_and_several_files_need_a_local_folder() {
    let f = with_alice(|_| {});
    remote_files(&f);
    let work = tempfile::tempdir().unwrap();
    let ran = f.batch(work.path(), "get *.zip\n");
    assert_eq!(ran.status, Some(1), "{}", ran.stderr);
    assert!(ran.stderr.contains("no remote file matches \"*.zip\""), "{}", ran.stderr);
    let ran = f.batch(work.path(), "get *.txt not-a-folder\n");
    assert_eq!(ran.status, Some(2), "{}", ran.stderr);
    assert!(ran.stderr.contains("not-a-folder is not a local folder; several files need one"), "{}", ran.stderr);
    assert_eq!(names(work.path()), Vec::<String>::new());
    let ran = f.batch(work.path(), "get [oops\n");
    assert_eq!(ran.status, Some(2), "{}", ran.stderr);
    assert!(ran.stderr.contains("bad pattern \"[oops\""), "{}", ran.stderr);
}

#[test]
fn rm_takes_several_paths_and_patterns() {
    let f = with_alice(|_| {});
    remote_files(&f);
    let ran = f.batch(f.root.path(), "rm a.txt b.txt\nrm docs/*\n");
    ok(&ran);
    let removed: Vec<&str> = ran.stdout.lines().collect();
    assert_eq!(removed.len(), 4, "{}", ran.stdout);
    assert!(removed[0].starts_with("removed /a.txt (file, ") && removed[3].starts_with("removed /docs/n.txt"));
    assert!(!f.home("a.txt").exists() && !f.home("b.txt").exists());
    assert_eq!(names(&f.home("docs")), Vec::<String>::new());
}

#[test]
fn rm_of_several_stops_at_the_first_failure_in_batch_mode_and_carries_on_at_the_prompt() {
    let f = with_alice(|_| {});
    remote_files(&f);
    let ran = f.batch(f.root.path(), "rm a.txt missing.txt b.txt\n");
    assert_eq!(ran.status, Some(1), "{}", ran.stderr);
    assert!(ran.stderr.contains("line 1: rm a.txt missing.txt b.txt: rm missing.txt: "), "{}", ran.stderr);
    assert!(!f.home("a.txt").exists() && f.home("b.txt").exists(), "stopped at the failure");

    let ran = f.prompt(f.root.path(), "rm c.log missing.txt b.txt\n");
    assert_eq!(ran.status, Some(0), "{}", ran.stderr);
    assert!(!f.home("c.log").exists() && !f.home("b.txt").exists(), "carried on past the failure");
    let failed: Vec<&str> = ran.stderr.lines().skip_while(|l| *l != "failed:").collect();
    assert_eq!(failed.len(), 3, "{}", ran.stderr);
    assert!(failed[1].starts_with("  rm missing.txt: "), "{}", ran.stderr);
    assert_eq!(failed[2], "error: 1 of 3 removals failed");
}

#[test]
fn rm_r_asks_at_the_prompt_and_a_no_sends_nothing() {
    let f = with_alice(|_| {});
    remote_files(&f);
    let before = f.log("shell_command.log").len();
    let ran = f.prompt(f.root.path(), "rm -r docs more\nn\n");
    ok(&ran);
    assert!(
        ran.stdout.contains("remove these 2 and everything in them: docs, more? [y/N] nothing removed"),
        "{}",
        ran.stdout
    );
    assert!(f.home("docs/n.txt").exists() && f.home("more/n.txt").exists());
    assert!(f.log("shell_command.log")[before..].iter().all(|r| r["event"] != "rm"), "no rm was sent");
}

/// `rm -r` of a tree: removed by a server with the recursive remove; said
/// clearly, with nothing removed, by one without it (this server, until
/// the recursive remove of issue 12 lands; then the first branch runs).
#[test]
fn rm_r_removes_a_tree_or_says_the_server_cannot() {
    let f = with_alice(|_| {});
    remote_files(&f);
    let ran = f.batch(f.root.path(), "rm -r docs\n");
    if ran.status == Some(0) {
        assert!(ran.stdout.starts_with("removed /docs (dir, "), "{}", ran.stdout);
        assert!(!f.home("docs").exists());
    } else {
        assert_eq!(ran.status, Some(1), "{}", ran.stderr);
        assert!(ran.stderr.contains("rm -r is not supported by this server yet"), "{}", ran.stderr);
        assert!(f.home("docs/n.txt").exists() && f.home("docs/m.pdf").exists(), "nothing removed");
    }
    // What needs no recursion works everywhere, and at the prompt a yes goes ahead.
    let ran = f.prompt(f.root.path(), "rm -r folder.txt a.txt\ny\n");
    ok(&ran);
    assert!(!f.home("folder.txt").exists() && !f.home("a.txt").exists(), "{}", ran.stderr);
}
