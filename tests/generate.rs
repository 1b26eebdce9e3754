//! `mioftpd generate man|completions SHELL`: the man pages and completion
//! scripts are made from the same clap definition that parses the flags, so
//! they list every flag there is; the bash script is valid bash.

use std::process::Command;

fn run(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_mioftpd")).args(args).output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Every `--flag` that `--help` lists.
fn flags(help: &str) -> Vec<String> {
    help.split_whitespace()
        .filter_map(|w| w.strip_prefix("--"))
        .map(|w| w.trim_end_matches([',', '.', ']', ')']).split(['=', '[', ' ']).next().unwrap_or("").to_owned())
        .filter(|w| !w.is_empty() && w.chars().all(|c| c.is_ascii_lowercase() || c == '-'))
        .collect()
}

#[test]
fn the_man_pages_list_every_flag_of_the_server_and_of_its_subcommands() {
    for (man_args, help_args) in [
        (&["generate", "man"][..], &["--help"][..]),
        (&["generate", "man", "audit"], &["audit", "--help"]),
        (&["generate", "man", "accounts"], &["accounts", "--help"]),
        (&["generate", "man", "check-config"], &["check-config", "--help"]),
    ] {
        let (ok, man) = run(man_args);
        assert!(ok && man.contains(".TH mioftpd"), "{}", &man[..man.len().min(300)]);
        let (_, help) = run(help_args);
        let listed = flags(&help);
        assert!(listed.len() >= 3, "{listed:?}");
        for flag in listed {
            assert!(man.contains(&flag.replace('-', "\\-")), "--{flag} missing from {man_args:?}");
        }
    }
    let (ok, _) = run(&["generate", "man", "nothing"]);
    assert!(!ok);
    let (_, help) = run(&["--help"]);
    assert!(!help.contains("generate"), "generate stays hidden");
}

#[test]
fn completion_scripts_generate_for_every_shell_and_bash_accepts_its_own() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let (ok, script) = run(&["generate", "completions", shell]);
        assert!(ok && script.contains("mioftpd") && script.contains("handshake-timeout"), "{shell}");
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mioftpd.bash");
    std::fs::write(&path, run(&["generate", "completions", "bash"]).1).unwrap();
    let check = Command::new("bash").arg("-n").arg(&path).status().expect("bash is installed");
    assert!(check.success());
}
