//! Running commands: one command line against the session ([`Shell::run`]),
//! a batch file (`-b`), and one command from the command line. The table of
//! commands is in `commands`; the interactive prompt is in `interactive`.
//!
//! A line starting with `!` runs a local shell command instead (see `bang`).
//!
//! Before each command the shell checks whether the server closed the
//! connection while it was idle (an idle timeout, a restart): if so it
//! reconnects with the kept keys first, so the command runs as if nothing
//! had happened.

use crate::{bang, commands, input};
use mioftp_client::{Client, ClientError, Result};
use std::io::{BufRead, BufReader, IsTerminal};
use std::path::{Path, PathBuf};

/// Whether to keep reading commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Exit,
}

/// A logged-in session plus local state.
pub struct Shell {
    pub client: Client,
    /// At the prompt: commands on several files carry on past a failure and
    /// sum up at the end, and `rm -r` asks first. Otherwise (`-b`, one
    /// command) the first failure stops the command, and nothing is asked.
    pub interactive: bool,
    /// The remote folder before the last `cd`, for `cd -`.
    pub previous_remote: Option<String>,
    /// The local folder before the last `lcd`, for `lcd -`.
    pub previous_local: Option<PathBuf>,
}

impl Shell {
    pub fn new(client: Client) -> Shell {
        Shell { client, interactive: false, previous_remote: None, previous_local: None }
    }

    /// Runs one command line: a local shell command after `!`, or a command
    /// of the table.
    pub fn run_line(&mut self, line: &str) -> Result<Flow> {
        match bang::command(line) {
            Some(command) => bang::run(command),
            None => self.run(&split(line)?),
        }
    }

    /// Asks a yes/no question at the prompt (the answer defaults to no);
    /// outside interactive mode the command line was the answer: yes.
    pub fn confirm(&self, question: &str) -> Result<bool> {
        if !self.interactive {
            return Ok(true);
        }
        let answer = input::prompt_line(&format!("{question} [y/N] "))?.unwrap_or_default();
        Ok(matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes"))
    }

    /// Runs one parsed command line.
    pub fn run(&mut self, words: &[String]) -> Result<Flow> {
        let Some((name, args)) = words.split_first() else {
            return Ok(Flow::Continue);
        };
        let Some(cmd) = commands::find(name) else {
            return Err(unknown(name));
        };
        self.revive()?;
        (cmd.run)(self, args)
    }

    /// Reconnects first if the server closed the connection while we were
    /// idle; otherwise does nothing (a non-blocking check of the socket).
    pub fn revive(&mut self) -> Result<()> {
        if self.client.can_reconnect() && self.client.peer_closed() {
            self.reconnect("the server had closed the connection")?;
        }
        Ok(())
    }

    /// Logs in again on a new connection, saying so on stderr.
    pub fn reconnect(&mut self, why: &str) -> Result<()> {
        // A refused re-login (account removed, disabled or changed, or
        // throttled) ends the session: it is not a refusal of the command.
        let back = self.client.reconnect().map_err(|e| match e {
            e @ (ClientError::Server(_) | ClientError::Usage(_)) => {
                ClientError::Aborted(format!("{why}, and logging in again failed: {e}"))
            }
            other => other,
        })?;
        let user = self.client.user().unwrap_or("?");
        if back.cwd_restored {
            eprintln!("mioftp: {why}; reconnected as {user} in {}", back.cwd);
        } else {
            eprintln!("mioftp: {why}; reconnected as {user}, in / ({} is gone)", back.cwd);
        }
        Ok(())
    }

    /// Ends the session politely.
    pub fn finish(self) -> Result<()> {
        self.client.exit()
    }
}

/// The error for a command name not in the table.
pub fn unknown(name: &str) -> ClientError {
    ClientError::Usage(format!("unknown command \"{name}\"; type 'help' for the list"))
}

/// Splits a command line shell-style (quotes and backslashes).
pub fn split(line: &str) -> Result<Vec<String>> {
    shlex::split(line).ok_or_else(|| ClientError::Usage("unbalanced quotes in the command line".into()))
}

/// Runs one command from the command line, then exits.
pub fn one_command(client: Client, words: &[String]) -> Result<()> {
    let mut shell = Shell::new(client);
    let result = shell.run(words);
    let finish = shell.finish();
    result.and(finish)
}

/// Runs a batch file (or stdin for "-"), one command per line, in one
/// session. Blank lines and lines starting with '#' are skipped. Stops at
/// the first failure, naming the line.
pub fn batch(client: Client, path: &Path) -> Result<()> {
    let reader: Box<dyn BufRead> = if path == Path::new("-") {
        if std::io::stdin().is_terminal() {
            eprintln!("mioftp: reading commands from the terminal; end with Ctrl-D");
        }
        Box::new(BufReader::new(std::io::stdin()))
    } else {
        let file = std::fs::File::open(path)
            .map_err(|e| ClientError::Usage(format!("cannot open batch file {}: {e}", path.display())))?;
        Box::new(BufReader::new(file))
    };
    let mut shell = Shell::new(client);
    for (n, line) in reader.lines().enumerate() {
        let line = line?;
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let at_line =
            |e: ClientError| ClientError::AtLine { line: n + 1, command: trimmed.to_owned(), source: Box::new(e) };
        match shell.run_line(trimmed).map_err(at_line)? {
            Flow::Continue => {}
            Flow::Exit => break,
        }
    }
    shell.finish()
}
