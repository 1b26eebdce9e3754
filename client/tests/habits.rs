//! The small habits people bring from sftp and a shell, through the real
//! binary against a real in-process server: `ls -l` and friends, `cd -`,
//! `lcd ~`, `lcd ~/x` and `lcd -`, `~` in local paths, and `!command` in a
//! local shell (on the client only: the server sees nothing of it).

mod common;
use common::{Ran, with_alice};

fn ok(ran: &Ran) {
    assert_eq!(ran.status, Some(0), "stdout:\n{}\nstderr:\n{}", ran.stdout, ran.stderr);
}

#[test]
fn ls_and_dir_accept_l_and_a_and_list_as_always() {
    let f = with_alice(|_| {});
    std::fs::create_dir_all(f.home("docs")).unwrap();
    std::fs::write(f.home("docs/a.txt"), b"a").unwrap();
    let plain = f.batch(f.root.path(), "ls docs\n");
    ok(&plain);
    assert!(plain.stdout.contains(" a.txt"), "{}", plain.stdout);
    for spelling in ["ls -l docs", "ls -la docs", "dir -al docs", "ls -a docs"] {
        let ran = f.batch(f.root.path(), &format!("{spelling}\n"));
        ok(&ran);
        assert_eq!(ran.stdout, plain.stdout, "{spelling}");
    }
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("here.txt"), b"x").unwrap();
    let ran = f.batch(work.path(), "lls -l\n");
    ok(&ran);
    assert!(ran.stdout.contains(" here.txt"), "{}", ran.stdout);
    let ran = f.batch(f.root.path(), "ls -x\n");
    assert_eq!(ran.status, Some(2), "other flags are still mistakes: {}", ran.stderr);
}

#[test]
fn cd_dash_returns_to_the_previous_remote_folder_and_says_where() {
    let f = with_alice(|_| {});
    std::fs::create_dir_all(f.home("a/b")).unwrap();
    std::fs::create_dir_all(f.home("c")).unwrap();
    let ran = f.batch(f.root.path(), "cd a/b\ncd /c\ncd -\npwd\ncd -\ncd\npwd\ncd -\n");
    ok(&ran);
    let lines: Vec<&str> = ran.stdout.lines().collect();
    assert_eq!(lines, ["/a/b", "/a/b", "/c", "/", "/c"]);
    let ran = f.batch(f.root.path(), "cd -\n");
    assert_eq!(ran.status, Some(2), "{}", ran.stderr);
    assert!(ran.stderr.contains("no previous remote folder yet"), "{}", ran.stderr);
}

#[test]
fn lcd_knows_the_home_folder_and_the_previous_one_and_tilde_works_in_local_paths() {
    let f = with_alice(|_| {});
    let home = tempfile::tempdir().unwrap();
    let home = home.path().canonicalize().unwrap();
    std::fs::create_dir(home.join("sub")).unwrap();
    std::fs::write(home.join("sub/note.txt"), b"from home").unwrap();
    let work = tempfile::tempdir().unwrap();
    let work = work.path().canonicalize().unwrap();
    let script = "lcd ~\nlpwd\nlcd ~/sub\nlpwd\nlcd -\nlcd\nlpwd\nput ~/sub/note.txt\nget note.txt ~/back.txt\n";
    let ran = f.run_mioftp_env(&work, &["-b", "-"], script, false, &[("HOME", &home)]);
    ok(&ran);
    let h = home.display().to_string();
    let lines: Vec<&str> = ran.stdout.lines().take(4).collect();
    assert_eq!(lines, [h.clone(), format!("{h}/sub"), h.clone(), h.clone()]);
    assert_eq!(std::fs::read(f.home("note.txt")).unwrap(), b"from home");
    assert_eq!(std::fs::read(home.join("back.txt")).unwrap(), b"from home");
    let ran = f.batch(&work, "lcd -\n");
    assert_eq!(ran.status, Some(2), "{}", ran.stderr);
    assert!(ran.stderr.contains("no previous local folder yet"), "{}", ran.stderr);
}

#[test]
fn bang_runs_a_local_shell_command_in_order_and_the_server_sees_nothing() {
    let f = with_alice(|_| {});
    let work = tempfile::tempdir().unwrap();
    let before = f.log("shell_command.log").len();
    let ran = f.batch(work.path(), "pwd\n!echo 'between two' > made.txt; cat made.txt\n! echo spaced\npwd\n");
    ok(&ran);
    assert_eq!(ran.stdout.lines().collect::<Vec<_>>(), ["/", "between two", "spaced", "/"]);
    assert_eq!(std::fs::read_to_string(work.path().join("made.txt")).unwrap(), "between two\n");
    let records: Vec<String> =
        f.log("shell_command.log")[before..].iter().map(|r| r["event"].as_str().unwrap().to_owned()).collect();
    assert_eq!(records, ["pwd", "pwd"], "only the two pwds reached the server");

    // A failing command stops a batch, naming the line.
    let ran = f.batch(work.path(), "!exit 3\npwd\n");
    assert_eq!(ran.status, Some(2), "{}", ran.stderr);
    assert!(ran.stderr.contains("line 1: !exit 3: the local command exited with status 3"), "{}", ran.stderr);
    assert!(ran.stdout.is_empty(), "{}", ran.stdout);

    // At the prompt too; a failure there is reported and the session goes on.
    let ran = f.prompt(work.path(), "!echo at the prompt\n!false\npwd\n");
    ok(&ran);
    assert!(ran.stdout.contains("at the prompt\n/\n"), "{}", ran.stdout);
    assert!(ran.stderr.contains("error: the local command exited with status 1"), "{}", ran.stderr);
}
