//! Command-line flags of `mioftp`, and the clap command they make (with the
//! shell commands listed after the flags), which `--help`, the man page and
//! the shell completions are all generated from.

use clap::{CommandFactory, FromArgMatches, Parser};
use mioftp_client::ClientError;
use std::path::PathBuf;

/// mioftp: client for the mioftpd file-transfer server.
///
/// With no COMMAND, mioftp is interactive: register or log in, then type
/// commands at the prompt ('help' lists them, 'help CMD' explains one). With
/// a COMMAND it logs in, runs that one command and exits; 'register' and
/// 'login' are commands too. With -b FILE it runs one command per line,
/// stopping at the first failure. The password comes from MIOFTP_PASSWORD,
/// from --password-stdin, or from a hidden prompt on a terminal; it is asked
/// before connecting, and never stored.
#[derive(Debug, Parser)]
#[command(name = "mioftp", version, about = "mioftp: client for the mioftpd file-transfer server")]
pub struct Args {
    /// Server address, host:port.
    #[arg(long, short = 's', default_value = "127.0.0.1:2121", env = "MIOFTP_SERVER")]
    pub server: String,
    /// The server's pre-shared key file [default: ./server.key].
    #[arg(long, env = "MIOFTP_KEY_FILE", value_hint = clap::ValueHint::FilePath)]
    pub key_file: Option<PathBuf>,
    /// Username for non-interactive use.
    #[arg(long, short = 'u', env = "MIOFTP_USER")]
    pub user: Option<String>,
    /// Read the password from the first line of standard input.
    #[arg(long)]
    pub password_stdin: bool,
    /// Run the commands in FILE, one per line ('-' for stdin), in one session.
    #[arg(long, short = 'b', value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub batch: Option<PathBuf>,
    /// 'register', 'login', or a shell command and its arguments, run once
    /// after logging in (flags after it belong to it).
    #[arg(trailing_var_arg = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

/// The clap command: the derived flags plus the list of shell commands and
/// the exit statuses after them.
pub fn command() -> clap::Command {
    Args::command().after_help(after_help())
}

/// Parses the process arguments (exits with status 2 on a usage error).
pub fn parse() -> Args {
    let matches = command().get_matches();
    Args::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
}

fn after_help() -> String {
    format!(
        "Commands (at the prompt, with -b, or as COMMAND):\n{}\n\
         Examples:\n  mioftp\n  mioftp --user alice register\n  \
         mioftp --user alice register --token TOKEN   (an invitation, or a password reset)\n  \
         MIOFTP_PASSWORD=... mioftp --user alice put -p report.pdf docs/\n\n\
         Exit status: 0 success; 1 the server refused or a transfer failed its check; \
         2 a usage or local problem; 3 the connection failed or was lost.",
        crate::commands::summary()
    )
}

/// The `--user` a non-interactive command needs.
pub fn require_user(args: &Args) -> Result<String, ClientError> {
    args.user.clone().ok_or_else(|| ClientError::Usage("this needs --user NAME (or MIOFTP_USER)".into()))
}
