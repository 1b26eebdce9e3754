//! The table of shell commands: name, aliases, usage, a one-line summary, a
//! paragraph for `help CMD`, what each argument names (for tab completion)
//! and the handler. `help`, `mioftp --help`, the man page and completion
//! are all generated from this one table, so they cannot drift apart.

use crate::shell::{Flow, Shell};
use crate::{local_cmds, remote_cmds, transfer_cmds};
use mioftp_client::{ClientError, Result};

type Handler = fn(&mut Shell, &[String]) -> Result<Flow>;

/// What a command's positional argument names, for completion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arg {
    Remote,
    Local,
    Command,
}

/// One command.
pub struct Command {
    pub name: &'static str,
    pub aliases: &'static [&'static str],
    pub usage: &'static str,
    pub about: &'static str,
    /// More for `help NAME`: options, defaults, examples.
    pub details: &'static str,
    /// What the 1st, 2nd, ... positional argument names.
    pub args: &'static [Arg],
    pub run: Handler,
}

use Arg::{Local, Remote};

pub const COMMANDS: &[Command] = &[
    Command {
        name: "dir",
        aliases: &["ls"],
        usage: remote_cmds::DIR.usage,
        about: "list a remote directory (dirs first; --json for a JSON array)",
        details: "Lists PATH (default: the current remote directory): kind (d directory, - file, l link), size, \
                  modification time in your local time zone with its UTC offset (or Z for UTC), and name; \
                  then the entry count and your usage against your quota. --json prints the entries as one \
                  JSON array (name, kind, size, mtime in seconds since 1970 UTC) for scripts.",
        args: &[Remote],
        run: remote_cmds::dir,
    },
    Command {
        name: "cd",
        aliases: &[],
        usage: remote_cmds::CD.usage,
        about: "change the remote directory",
        details: "PATH is relative to the current remote directory, or absolute from your home (/). \
                  You can never leave your home: '..' stops at /.",
        args: &[Remote],
        run: remote_cmds::cd,
    },
    Command {
        name: "pwd",
        aliases: &[],
        usage: remote_cmds::PWD.usage,
        about: "show the remote directory",
        details: "Prints the remote current directory, as a path from your home (/).",
        args: &[],
        run: remote_cmds::pwd,
    },
    Command {
        name: "mkdir",
        aliases: &[],
        usage: remote_cmds::MKDIR.usage,
        about: "create a remote directory (-p: with its parents, and no error if it exists)",
        details: "Creates the directory PATH. With -p (--parents) missing parents are created too, and an \
                  existing directory is not an error.",
        args: &[Remote],
        run: remote_cmds::mkdir,
    },
    Command {
        name: "rm",
        aliases: &[],
        usage: remote_cmds::RM.usage,
        about: "remove a remote file, link or empty directory",
        details: "Removes one file, symbolic link or empty directory, and says how much space that freed.",
        args: &[Remote],
        run: remote_cmds::rm,
    },
    Command {
        name: "quota",
        aliases: &[],
        usage: remote_cmds::QUOTA.usage,
        about: "show space used and the limit",
        details: "Shows the bytes your files use (unfinished uploads included) and your limit.",
        args: &[],
        run: remote_cmds::quota,
    },
    Command {
        name: "put",
        aliases: &[],
        usage: transfer_cmds::PUT.usage,
        about: "upload a file, resuming an interrupted upload unless --no-resume",
        details: "Uploads the local file LOCAL. REMOTE defaults to its base name in the remote current \
                  directory; a REMOTE that is an existing directory (or ends in /) receives the file under its \
                  base name. -p (--parents) creates REMOTE's missing parent directories first. An upload that \
                  was cut off (Ctrl-C, a lost connection) resumes where it stopped, after checking that the \
                  data already sent still matches; --no-resume starts afresh. The file appears under its name \
                  only once its SHA-256 matched. Example: put -p report.pdf docs/2026/",
        args: &[Local, Remote],
        run: transfer_cmds::put,
    },
    Command {
        name: "get",
        aliases: &[],
        usage: transfer_cmds::GET.usage,
        about: "download a file, resuming an interrupted download unless --no-resume",
        details: "Downloads REMOTE. LOCAL defaults to its base name in the local current directory; a LOCAL \
                  that is a directory receives the file under its base name. Ctrl-C cancels the download and \
                  keeps what arrived: the same get resumes from there, after checking it is still the same \
                  remote file. --no-resume starts afresh. The file appears under its name only once its \
                  SHA-256 matched.",
        args: &[Remote, Local],
        run: transfer_cmds::get,
    },
    Command {
        name: "lcd",
        aliases: &[],
        usage: local_cmds::LCD.usage,
        about: "change the local directory",
        details: "Changes the local directory that put reads from and get writes to by default.",
        args: &[Local],
        run: local_cmds::lcd,
    },
    Command {
        name: "lpwd",
        aliases: &[],
        usage: local_cmds::LPWD.usage,
        about: "show the local directory",
        details: "Prints the local current directory.",
        args: &[],
        run: local_cmds::lpwd,
    },
    Command {
        name: "lls",
        aliases: &[],
        usage: local_cmds::LLS.usage,
        about: "list a local directory",
        details: "Lists a local directory (default: the current one) like dir does.",
        args: &[Local],
        run: local_cmds::lls,
    },
    Command {
        name: "help",
        aliases: &["?"],
        usage: "help [COMMAND]",
        about: "list the commands, or explain one",
        details: "Without COMMAND, lists every command. With one, shows its usage and what it does.",
        args: &[Arg::Command],
        run: help,
    },
    Command {
        name: "exit",
        aliases: &["quit", "bye"],
        usage: "exit",
        about: "leave (logs out and closes); Ctrl-D does the same",
        details: "Logs out, closes the connection and ends mioftp. Ctrl-D at the prompt does the same; \
                  Ctrl-C at the prompt only clears the line, and during a transfer cancels it.",
        args: &[],
        run: exit,
    },
];

/// The command called `name` (or one of its aliases).
pub fn find(name: &str) -> Option<&'static Command> {
    COMMANDS.iter().find(|c| c.name == name || c.aliases.contains(&name))
}

/// One line per command, aligned: for `help` and `mioftp --help`.
pub fn summary() -> String {
    let width = COMMANDS.iter().map(|c| c.usage.len()).max().unwrap_or(0);
    let mut text = String::new();
    for c in COMMANDS {
        let aliases = if c.aliases.is_empty() { String::new() } else { format!(" (also: {})", c.aliases.join(", ")) };
        text.push_str(&format!("  {:width$}  {}{aliases}\n", c.usage, c.about));
    }
    text
}

/// The text of `help NAME`.
pub fn explain(c: &Command) -> String {
    let aliases = if c.aliases.is_empty() { String::new() } else { format!("\nAlso: {}", c.aliases.join(", ")) };
    format!("usage: {}\n{}.{aliases}\n\n{}", c.usage, c.about, wrap(c.details, 76))
}

/// Wraps text at spaces to lines of at most `width` characters.
fn wrap(text: &str, width: usize) -> String {
    let mut lines = vec![String::new()];
    for word in text.split_whitespace() {
        let line = lines.last_mut().expect("never empty");
        if !line.is_empty() && line.len() + 1 + word.len() > width {
            lines.push(word.to_owned());
        } else {
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
    }
    lines.join("\n")
}

fn help(_: &mut Shell, words: &[String]) -> Result<Flow> {
    match words {
        [] => print!("{}", summary()),
        [name] => match find(name) {
            Some(c) => println!("{}", explain(c)),
            None => return Err(ClientError::Usage(format!("no command \"{name}\"; type 'help' for the list"))),
        },
        _ => return Err(ClientError::Usage("usage: help [COMMAND]".into())),
    }
    Ok(Flow::Continue)
}

fn exit(_: &mut Shell, _: &[String]) -> Result<Flow> {
    Ok(Flow::Exit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_aliases_are_unique_and_every_command_is_explained() {
        let mut names: Vec<&str> =
            COMMANDS.iter().flat_map(|c| std::iter::once(c.name).chain(c.aliases.iter().copied())).collect();
        let n = names.len();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), n, "a name or alias repeats");
        for c in COMMANDS {
            assert!(c.usage.starts_with(c.name), "{}", c.usage);
            let text = explain(c);
            assert!(text.starts_with(&format!("usage: {}", c.usage)), "{text}");
            assert!(text.lines().all(|l| l.len() <= 80), "{text}");
        }
        assert_eq!(find("ls").map(|c| c.name), Some("dir"));
        assert!(find("frobnicate").is_none());
    }
}
