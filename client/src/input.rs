//! Reading passwords and lines: hidden prompts on a terminal, or the
//! environment / stdin for scripts. Passwords are never echoed, logged or
//! put in the line editor's history (they never go through it).

use crate::cli::Args;
use mioftp_client::{ClientError, Result};
use std::io::{BufRead, IsTerminal, Write};

/// Environment variable holding the password for scripts.
pub const PASSWORD_ENV: &str = "MIOFTP_PASSWORD";

/// The password for a login.
pub fn password(args: &Args, prompt: &str) -> Result<String> {
    if let Some(p) = from_env() {
        return Ok(p);
    }
    if args.password_stdin {
        return stdin_line().and_then(|l| l.ok_or_else(|| ClientError::Usage("no password on stdin".into())));
    }
    hidden(prompt)
}

/// A new password for registration: typed twice when prompted, once from the
/// environment or stdin. `min_len` is the server's policy, when known (it
/// is checked again before registering).
pub fn new_password(args: &Args, min_len: Option<u32>) -> Result<String> {
    let from_script = from_env().is_some() || args.password_stdin;
    let first = password(args, "New password: ")?;
    if let Some(min) = min_len {
        mioftp_client::client::check_password(min, &first)?;
    }
    if !from_script {
        let again = hidden("Repeat password: ")?;
        if again != first {
            return Err(ClientError::Usage("the two passwords differ".into()));
        }
    }
    Ok(first)
}

/// `MIOFTP_PASSWORD`, unless unset or empty (`MIOFTP_PASSWORD=` clears it).
fn from_env() -> Option<String> {
    std::env::var(PASSWORD_ENV).ok().filter(|p| !p.is_empty())
}

/// A hidden prompt on the terminal.
pub fn hidden(prompt: &str) -> Result<String> {
    if !std::io::stdin().is_terminal() {
        return Err(ClientError::Usage(format!(
            "no terminal to ask for the password; set {PASSWORD_ENV} or use --password-stdin"
        )));
    }
    rpassword::prompt_password(prompt).map_err(|e| ClientError::Usage(format!("cannot read the password: {e}")))
}

/// One line from stdin without its line ending; `None` at end of input.
pub fn stdin_line() -> Result<Option<String>> {
    let mut line = String::new();
    if std::io::stdin().lock().read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let trimmed = line.trim_end_matches(['\n', '\r']).len();
    line.truncate(trimmed);
    Ok(Some(line))
}

/// Prints a prompt and reads one line. At the end of input (Ctrl-D) the
/// line is ended, so the shell's next prompt starts on a line of its own.
pub fn prompt_line(prompt: &str) -> Result<Option<String>> {
    print!("{prompt}");
    std::io::stdout().flush()?;
    let line = stdin_line()?;
    if line.is_none() {
        println!();
    }
    Ok(line)
}
