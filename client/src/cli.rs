//! Command-line flags of `mioftp`.

use clap::Parser;
use mioftp_client::ClientError;
use std::path::PathBuf;

/// mioftp: client for the mioftpd file-transfer server.
///
/// With no COMMAND, mioftp is interactive: register or log in, then type
/// commands at the prompt ('help' lists them). With a COMMAND it logs in,
/// runs that one command and exits; 'register' and 'login' are commands too.
/// With -b FILE it runs one command per line, stopping at the first failure.
/// The password comes from MIOFTP_PASSWORD, from --password-stdin, or from a
/// hidden prompt on a terminal.
#[derive(Debug, Parser)]
#[command(name = "mioftp", version, about = "mioftp: client for the mioftpd file-transfer server", long_about = None, after_help = "Examples:\n  mioftp\n  mioftp --user alice register\n  MIOFTP_PASSWORD=... mioftp --user alice login")]
pub struct Args {
    /// Server address, host:port.
    #[arg(long, short = 's', default_value = "127.0.0.1:2121", env = "MIOFTP_SERVER")]
    pub server: String,
    /// The server's pre-shared key file [default: ./server.key].
    #[arg(long, env = "MIOFTP_KEY_FILE")]
    pub key_file: Option<PathBuf>,
    /// Username for non-interactive use.
    #[arg(long, short = 'u', env = "MIOFTP_USER")]
    pub user: Option<String>,
    /// Read the password from the first line of standard input.
    #[arg(long)]
    pub password_stdin: bool,
    /// Run the commands in FILE, one per line ('-' for stdin), in one session.
    #[arg(long, short = 'b', value_name = "FILE")]
    pub batch: Option<PathBuf>,
    /// A command and its arguments, run once after logging in.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

/// The `--user` a non-interactive command needs.
pub fn require_user(args: &Args) -> Result<String, ClientError> {
    args.user.clone().ok_or_else(|| ClientError::Usage("this needs --user NAME (or MIOFTP_USER)".into()))
}
