//! `mioftp generate man` and `mioftp generate completions SHELL`: the man
//! page (clap_mangen) and shell completion scripts (clap_complete), made at
//! run time from the same clap definition that parses the flags, so they can
//! never describe another version. Hidden from `--help`; README.md says how
//! to install them.

use crate::cli;
use clap_complete::Shell;
use mioftp_client::{ClientError, Result};
use std::io::Write;

const USAGE: &str = "usage: mioftp generate man | mioftp generate completions bash|zsh|fish|elvish|powershell";

/// Writes the requested file to stdout.
pub fn run(words: &[String]) -> Result<()> {
    let mut out = Vec::new();
    render(words, &mut out)?;
    std::io::stdout().write_all(&out)?;
    Ok(())
}

/// Renders `man` or `completions SHELL` into `out`.
pub fn render(words: &[String], out: &mut Vec<u8>) -> Result<()> {
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    match words.as_slice() {
        ["man"] => clap_mangen::Man::new(cli::command()).render(out)?,
        ["completions", shell] => {
            let shell: Shell = shell.parse().map_err(|_| ClientError::Usage(format!("unknown shell; {USAGE}")))?;
            clap_complete::generate(shell, &mut cli::command(), "mioftp", out);
        }
        _ => return Err(ClientError::Usage(USAGE.into())),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(words: &[&str]) -> String {
        let words: Vec<String> = words.iter().map(|w| w.to_string()).collect();
        let mut out = Vec::new();
        render(&words, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn the_man_page_has_every_flag_and_every_shell_command() {
        let man = text(&["man"]);
        assert!(man.starts_with(".ie") || man.contains(".TH mioftp"), "{}", &man[..200]);
        for flag in ["server", "key\\-file", "user", "password\\-stdin", "batch"] {
            assert!(man.contains(flag), "{flag} missing");
        }
        for cmd in crate::commands::COMMANDS {
            assert!(man.contains(cmd.name), "{} missing", cmd.name);
        }
    }

    #[test]
    fn completions_generate_for_each_shell_and_bad_requests_are_usage_errors() {
        for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
            let script = text(&["completions", shell]);
            assert!(script.contains("mioftp") && script.contains("password-stdin"), "{shell}");
        }
        let mut out = Vec::new();
        for bad in [&["completions", "tcsh"][..], &["manual"], &[]] {
            let words: Vec<String> = bad.iter().map(|w| w.to_string()).collect();
            assert!(matches!(render(&words, &mut out), Err(ClientError::Usage(_))));
        }
    }
}
