//! `mioftp generate man|completions SHELL` through the binary: the man page
//! lists every flag and every shell command, the bash completion script is
//! valid bash, and `--help` lists the shell commands too.

use std::process::Command;

fn run(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_mioftp")).args(args).env_remove("MIOFTP_SERVER").output().unwrap()
}

const COMMANDS: [&str; 13] =
    ["dir", "cd", "pwd", "mkdir", "rm", "quota", "put", "get", "lcd", "lpwd", "lls", "help", "exit"];

#[test]
fn help_lists_the_flags_and_the_shell_commands() {
    let out = run(&["--help"]);
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for cmd in COMMANDS {
        assert!(help.lines().any(|l| l.trim_start().starts_with(cmd)), "{cmd} missing from:\n{help}");
    }
    assert!(help.contains("--password-stdin") && help.contains("Exit status"), "{help}");
    assert!(!help.contains("generate"), "generate stays hidden");
}

#[test]
fn the_man_page_and_completions_generate() {
    let man = run(&["generate", "man"]);
    assert!(man.status.success(), "{}", String::from_utf8_lossy(&man.stderr));
    let man = String::from_utf8_lossy(&man.stdout);
    assert!(man.contains(".TH mioftp 1"), "{}", &man[..man.len().min(300)]);
    for text in ["\\-\\-server", "\\-\\-key\\-file", "\\-\\-batch", "Exit status"].into_iter().chain(COMMANDS) {
        assert!(man.contains(text), "{text} missing");
    }
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = run(&["generate", "completions", shell]);
        assert!(out.status.success() && String::from_utf8_lossy(&out.stdout).contains("key-file"), "{shell}");
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mioftp.bash");
    std::fs::write(&path, run(&["generate", "completions", "bash"]).stdout).unwrap();
    assert!(Command::new("bash").arg("-n").arg(&path).status().expect("bash is installed").success());
    let bad = run(&["generate", "completions", "tcsh"]);
    assert_eq!(bad.status.code(), Some(2));
}
