//! `!COMMAND`: runs COMMAND in a local shell, as sftp does (`!` alone starts
//! an interactive one; `exit` comes back to mioftp).
//!
//! This is the one place mioftp starts a shell, and it does so on the
//! client, on the user's own machine, only when the user typed `!` at the
//! prompt or in their own batch file: it runs as the user, with the user's
//! rights, exactly as typing the command in a terminal would. Nothing the
//! server sends ever reaches it, and the server never runs a shell.
//!
//! The shell is `$SHELL`, or `/bin/sh` without it. Its standard input,
//! output and error are mioftp's. A command that fails (or is killed) is an
//! error, so a batch file stops there.

use crate::shell::Flow;
use mioftp_client::{ClientError, Result};
use std::io::Write;
use std::process::{Command, ExitStatus};

/// The command after a leading `!`, if the line is a local command.
pub fn command(line: &str) -> Option<&str> {
    line.trim_start().strip_prefix('!')
}

/// Runs `command` (all of it, quotes and all, as the shell reads it);
/// blank starts an interactive shell.
pub fn run(command: &str) -> Result<Flow> {
    let shell = std::env::var_os("SHELL").filter(|s| !s.is_empty()).unwrap_or_else(|| "/bin/sh".into());
    let mut child = Command::new(&shell);
    if !command.trim().is_empty() {
        child.arg("-c").arg(command);
    }
    // What we printed comes before what the command prints.
    std::io::stdout().flush()?;
    let status = child
        .status()
        .map_err(|e| ClientError::Usage(format!("cannot start the local shell {}: {e}", shell.to_string_lossy())))?;
    if status.success() { Ok(Flow::Continue) } else { Err(ClientError::Usage(failed(status))) }
}

fn failed(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("the local command exited with status {code}"),
        (None, Some(signal)) => format!("the local command was killed by signal {signal}"),
        (None, None) => "the local command failed".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_leading_bang_makes_a_local_command() {
        assert_eq!(command("!ls -l"), Some("ls -l"));
        assert_eq!(command("  ! echo 'a b'"), Some(" echo 'a b'"));
        assert_eq!(command("!"), Some(""));
        assert_eq!(command("put !x"), None);
        assert_eq!(command("ls"), None);
    }

    #[test]
    fn a_failing_command_is_an_error_that_says_how_it_ended() {
        // SAFETY: no other test in this binary reads SHELL.
        unsafe { std::env::set_var("SHELL", "/bin/sh") };
        assert_eq!(run("exit 0").unwrap(), Flow::Continue);
        assert_eq!(run("exit 3").unwrap_err().to_string(), "the local command exited with status 3");
        assert_eq!(run("kill -9 $$").unwrap_err().to_string(), "the local command was killed by signal 9");
    }
}
