//! mioftp: the command-line client. Interactive by default; one command, or a
//! batch file, for scripts. Every failure is one line on stderr and a
//! non-zero exit status (see [`status`]).

mod bang;
mod bar;
mod cli;
mod commands;
mod complete;
mod editor;
mod format;
mod generate;
mod input;
mod interactive;
mod interrupt;
mod local_cmds;
mod login;
mod overall;
mod remote_cmds;
mod shell;
mod tally;
mod transfer_cmds;
mod tree_cmds;
mod words;

use mioftp_client::{ClientError, Result};
use mioftp_proto::ErrorCode;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = cli::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // The message may quote the server: escaped for the terminal.
            eprintln!("mioftp: {}", format::name(&e.to_string()));
            ExitCode::from(status(&e))
        }
    }
}

/// The exit status for an error; README.md has the same table, and
/// `tests/exit_status.rs` checks every row:
/// 1 the server refused, or a transfer failed its check;
/// 2 a usage or local problem (bad command line, key file, local file);
/// 3 the connection failed or was lost.
fn status(e: &ClientError) -> u8 {
    match e.root() {
        ClientError::Usage(_) | ClientError::Local { .. } => 2,
        ClientError::Server(w) if w.code == ErrorCode::Timeout => 3,
        ClientError::Server(_) | ClientError::DigestMismatch { .. } => 1,
        ClientError::Connect { .. }
        | ClientError::Io(_)
        | ClientError::Protocol(_)
        | ClientError::ServerAuth
        | ClientError::Aborted(_)
        // root() looks through these three.
        | ClientError::AtLine { .. }
        | ClientError::About { .. }
        | ClientError::Several { .. } => 3,
    }
}

fn run(args: &cli::Args) -> Result<()> {
    let mut words = args.command.iter().map(String::as_str);
    match (words.next(), &args.batch) {
        (Some(_), Some(_)) => Err(ClientError::Usage("give either a command or -b FILE, not both".into())),
        (Some("generate"), None) => generate::run(&args.command[1..]),
        (None, None) => {
            let endpoint = login::endpoint(args)?;
            match login::interactive(&endpoint, args)? {
                Some(client) => interactive::run(client),
                None => Ok(()),
            }
        }
        (None, Some(batch)) => shell::batch(login::scripted(args)?, batch),
        (Some("register"), None) => login::register_scripted(args),
        (Some("login"), None) => {
            let client = login::scripted(args)?;
            eprintln!("logged in as {}", client.user().unwrap_or("?"));
            client.exit()
        }
        (Some(name), None) => {
            // A mistyped command is a usage error before any password is asked.
            if commands::find(name).is_none() {
                return Err(shell::unknown(name));
            }
            shell::one_command(login::scripted(args)?, &args.command)
        }
    }
}
