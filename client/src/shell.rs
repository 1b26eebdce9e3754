//! The command table and the three ways to run it: the interactive prompt,
//! a batch file (`-b`), and one command from the command line. The commands
//! themselves live in `remote_cmds`, `transfer_cmds` and `local_cmds`.

use crate::cli::Args;
use crate::{format, input, local_cmds, remote_cmds, transfer_cmds};
use mioftp_client::{Client, ClientError, Result};
use std::io::{BufRead, BufReader, IsTerminal};
use std::path::Path;

/// Whether to keep reading commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Exit,
}

/// A logged-in session plus local state.
pub struct Shell {
    pub client: Client,
}

type Handler = fn(&mut Shell, &[String]) -> Result<Flow>;

/// One command: its name, aliases, usage, one-line description and handler.
pub struct Command {
    pub name: &'static str,
    pub aliases: &'static [&'static str],
    pub usage: &'static str,
    pub about: &'static str,
    run: Handler,
}

pub const COMMANDS: &[Command] = &[
    Command {
        name: "dir",
        aliases: &["ls"],
        usage: remote_cmds::DIR.usage,
        about: "list a remote directory (dirs first; --json for a JSON array)",
        run: remote_cmds::dir,
    },
    Command {
        name: "cd",
        aliases: &[],
        usage: remote_cmds::CD.usage,
        about: "change the remote directory",
        run: remote_cmds::cd,
    },
    Command {
        name: "pwd",
        aliases: &[],
        usage: remote_cmds::PWD.usage,
        about: "show the remote directory",
        run: remote_cmds::pwd,
    },
    Command {
        name: "mkdir",
        aliases: &[],
        usage: remote_cmds::MKDIR.usage,
        about: "create a remote directory (-p: with its parents, and no error if it exists)",
        run: remote_cmds::mkdir,
    },
    Command {
        name: "rm",
        aliases: &[],
        usage: remote_cmds::RM.usage,
        about: "remove a remote file, link or empty directory",
        run: remote_cmds::rm,
    },
    Command {
        name: "quota",
        aliases: &[],
        usage: remote_cmds::QUOTA.usage,
        about: "show space used and the limit",
        run: remote_cmds::quota,
    },
    Command {
        name: "put",
        aliases: &[],
        usage: transfer_cmds::PUT.usage,
        about: "upload a file, resuming an interrupted upload unless --no-resume",
        run: transfer_cmds::put,
    },
    Command {
        name: "get",
        aliases: &[],
        usage: transfer_cmds::GET.usage,
        about: "download a file, resuming an interrupted download unless --no-resume",
        run: transfer_cmds::get,
    },
    Command {
        name: "lcd",
        aliases: &[],
        usage: local_cmds::LCD.usage,
        about: "change the local directory",
        run: local_cmds::lcd,
    },
    Command {
        name: "lpwd",
        aliases: &[],
        usage: local_cmds::LPWD.usage,
        about: "show the local directory",
        run: local_cmds::lpwd,
    },
    Command {
        name: "lls",
        aliases: &[],
        usage: local_cmds::LLS.usage,
        about: "list a local directory",
        run: local_cmds::lls,
    },
    Command { name: "help", aliases: &["?"], usage: "help", about: "list the commands", run: help },
    Command { name: "exit", aliases: &["quit", "bye"], usage: "exit", about: "leave (logs out and closes)", run: exit },
];

fn find(name: &str) -> Option<&'static Command> {
    COMMANDS.iter().find(|c| c.name == name || c.aliases.contains(&name))
}

fn help(_: &mut Shell, _: &[String]) -> Result<Flow> {
    let width = COMMANDS.iter().map(|c| c.usage.len()).max().unwrap_or(0);
    for c in COMMANDS {
        let aliases = if c.aliases.is_empty() { String::new() } else { format!(" (also: {})", c.aliases.join(", ")) };
        println!("  {:width$}  {}{aliases}", c.usage, c.about);
    }
    Ok(Flow::Continue)
}

fn exit(_: &mut Shell, _: &[String]) -> Result<Flow> {
    Ok(Flow::Exit)
}

impl Shell {
    /// Runs one parsed command line.
    pub fn run(&mut self, words: &[String]) -> Result<Flow> {
        let Some((name, args)) = words.split_first() else {
            return Ok(Flow::Continue);
        };
        match find(name) {
            Some(cmd) => (cmd.run)(self, args),
            None => Err(ClientError::Usage(format!("unknown command \"{name}\"; type 'help' for the list"))),
        }
    }

    /// Ends the session politely.
    pub fn finish(self) -> Result<()> {
        self.client.exit()
    }
}

/// Splits a command line shell-style (quotes and backslashes).
pub fn split(line: &str) -> Result<Vec<String>> {
    shlex::split(line).ok_or_else(|| ClientError::Usage("unbalanced quotes in the command line".into()))
}

/// The interactive flow: register or log in, then the command prompt.
pub fn interactive(mut client: Client, args: &Args) -> Result<()> {
    println!("Connected to {} at {}.", format::name(&client.hello().server), args.server);
    loop {
        let Some(choice) = input::prompt_line("[r]egister, [l]ogin or [q]uit? ")? else {
            return client.exit();
        };
        let result = match choice.trim() {
            "r" | "register" => register_flow(&mut client, args),
            "l" | "login" => login_flow(&mut client, args),
            "q" | "quit" | "exit" => return client.exit(),
            "" => continue,
            other => {
                println!("Please answer r, l or q (not \"{other}\").");
                continue;
            }
        };
        match result {
            Ok(()) => break,
            // A refusal (taken name, wrong password) lets the user try again;
            // a lost connection ends the program.
            Err(e @ (ClientError::Server(_) | ClientError::Usage(_))) => println!("{}", format::name(&e.to_string())),
            Err(e) => return Err(e),
        }
    }
    println!("Logged in as {}. Type 'help' for commands.", client.user().unwrap_or("?"));
    let mut shell = Shell { client };
    loop {
        let prompt = format!("mioftp {}:{}> ", shell.client.user().unwrap_or("?"), shell.client.cwd());
        let Some(line) = input::prompt_line(&prompt)? else {
            println!();
            break;
        };
        let flow = split(&line).and_then(|words| shell.run(&words));
        match flow {
            Ok(Flow::Continue) => {}
            Ok(Flow::Exit) => break,
            // A refusal leaves the session usable; a lost connection does not.
            Err(e) if !e.is_fatal() => eprintln!("error: {}", format::name(&e.to_string())),
            Err(e) => return Err(e),
        }
    }
    shell.finish()
}

fn ask_user(args: &Args) -> Result<String> {
    if let Some(u) = &args.user {
        return Ok(u.clone());
    }
    input::prompt_line("Username: ")?
        .map(|u| u.trim().to_owned())
        .ok_or_else(|| ClientError::Usage("no username".into()))
}

fn register_flow(client: &mut Client, args: &Args) -> Result<()> {
    let user = ask_user(args)?;
    mioftp::protocol::check_username(&user).map_err(ClientError::Usage)?;
    let password = input::new_password(args, client)?;
    println!("Deriving keys ({} PBKDF2 iterations)...", client.hello().min_iterations);
    client.register(&user, &password)?;
    println!("Registered {user}. Logging in...");
    client.login(&user, &password)
}

fn login_flow(client: &mut Client, args: &Args) -> Result<()> {
    let user = ask_user(args)?;
    let password = input::password(args, "Password: ")?;
    client.login(&user, &password)
}

/// Runs one command from the command line, then exits.
pub fn one_command(client: Client, words: &[String]) -> Result<()> {
    let mut shell = Shell { client };
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
    let mut shell = Shell { client };
    for (n, line) in reader.lines().enumerate() {
        let line = line?;
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let at_line =
            |e: ClientError| ClientError::AtLine { line: n + 1, command: trimmed.to_owned(), source: Box::new(e) };
        match split(trimmed).and_then(|words| shell.run(&words)).map_err(at_line)? {
            Flow::Continue => {}
            Flow::Exit => break,
        }
    }
    shell.finish()
}
