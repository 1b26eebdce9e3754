//! mioftp: the command-line client. Interactive by default; one command, or a
//! batch file, for scripts. Every failure is one line on stderr and a
//! non-zero exit status.

mod bar;
mod cli;
mod format;
mod input;
mod local_cmds;
mod remote_cmds;
mod shell;
mod transfer_cmds;
mod words;

use clap::Parser;
use cli::Args;
use mioftp_client::{Client, ClientError, keyfile};
use std::process::ExitCode;

/// Exit status for a refused or failed operation.
const EXIT_FAILURE: u8 = 1;
/// Exit status for a usage or setup problem (bad flags, missing key).
const EXIT_USAGE: u8 = 2;

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // The message may quote the server: escaped for the terminal.
            eprintln!("mioftp: {}", format::name(&e.to_string()));
            ExitCode::from(match e.root() {
                ClientError::Usage(_) => EXIT_USAGE,
                _ => EXIT_FAILURE,
            })
        }
    }
}

fn run(args: &Args) -> mioftp_client::Result<()> {
    let key = keyfile::load(args.key_file.as_deref())?;
    let client = Client::connect(&args.server, &key)?;
    let mut words = args.command.iter().map(String::as_str);
    match (words.next(), &args.batch) {
        (None, None) => shell::interactive(client, args),
        (None, Some(batch)) => {
            let client = login(client, args)?;
            shell::batch(client, batch)
        }
        (Some(_), Some(_)) => Err(ClientError::Usage("give either a command or -b FILE, not both".into())),
        (Some("register"), None) => {
            let user = cli::require_user(args)?;
            let mut client = client;
            let password = input::new_password(args, &client)?;
            client.register(&user, &password)?;
            eprintln!("registered {user}");
            client.login(&user, &password)?;
            client.exit()
        }
        (Some("login"), None) => {
            let client = login(client, args)?;
            eprintln!("logged in as {}", client.user().unwrap_or("?"));
            client.exit()
        }
        (Some(_), None) => {
            let client = login(client, args)?;
            shell::one_command(client, &args.command)
        }
    }
}

/// Non-interactive login with `--user` and the password from the environment,
/// stdin, or (on a terminal) a hidden prompt.
fn login(mut client: Client, args: &Args) -> mioftp_client::Result<Client> {
    let user = cli::require_user(args)?;
    let password = input::password(args, "Password: ")?;
    client.login(&user, &password)?;
    Ok(client)
}
