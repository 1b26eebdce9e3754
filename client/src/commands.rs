//! The table of shell commands: name, aliases, usage, a one-line summary, a
//! paragraph for `help CMD`, what each argument names (for tab completion)
//! and the handler. `help`, `mioftp --help`, the man page and completion
//! are all generated from this one table, so they cannot drift apart.

use crate::shell::{Flow, Shell};
use crate::{bang, local_cmds, remote_cmds, transfer_cmds};
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
    /// What the 1st, 2nd, ... positional argument names; for a usage
    /// ending in `...`, the last one repeats.
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
                  JSON array (name, kind, size, mtime in seconds since 1970 UTC) for scripts. The listing is \
                  always long and shows hidden names, so ls -l, -a, -la and -al are accepted and change \
                  nothing.",
        args: &[Remote],
        run: remote_cmds::dir,
    },
    Command {
        name: "cd",
        aliases: &[],
        usage: remote_cmds::CD.usage,
        about: "change the remote directory (cd - goes back)",
        details: "PATH is relative to the current remote directory, or absolute from your home (/). \
                  You can never leave your home: '..' stops at /. Without PATH, goes to /. 'cd -' goes \
                  back to the directory you were in before the last cd, and prints it.",
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
        about: "remove remote files, links, empty directories (-r: trees)",
        details: "Removes each PATH: a file, a symbolic link (not what it points to) or an empty directory, \
                  and says how much space that freed. PATH may be a pattern (*, ?, [...]), matched on a \
                  listing; every pattern is matched before anything is removed. -r (--recursive) removes \
                  directories with everything in them, with the server's recursive remove, after asking \
                  you to confirm at the prompt (not in a batch file or a single command); a server that \
                  cannot do that says so and nothing is removed. With several paths, -b stops at the first \
                  failure; at the prompt the others are still removed and the failures listed at the end.",
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
        about: "upload a file (-r: a tree), resuming unless --no-resume",
        details: "Uploads the local file LOCAL. REMOTE defaults to its base name in the remote current \
                  directory; a REMOTE that is an existing directory (or ends in /) receives the file under its \
                  base name. -p (--parents) creates REMOTE's missing parent directories first. An upload that \
                  was cut off (Ctrl-C, a lost connection) resumes where it stopped, after checking that the \
                  data already sent still matches; --no-resume starts afresh. The file appears under its name \
                  only once its SHA-256 matched. LOCAL may be a pattern (*, ?, [...]; a leading ~ is your \
                  home): every match goes into REMOTE, which must then be a directory. -r (--recursive) \
                  copies directories whole, creating what is missing, with one progress bar for all of it; \
                  symbolic links are not followed and special files are skipped, each named. With several \
                  files, -b stops at the first failure; at the prompt the rest still go and the failures are \
                  listed at the end. Examples: put -p report.pdf docs/2026/, put *.pdf docs/, put -r photos",
        args: &[Local, Remote],
        run: transfer_cmds::put,
    },
    Command {
        name: "get",
        aliases: &[],
        usage: transfer_cmds::GET.usage,
        about: "download a file (-r: a tree), resuming unless --no-resume",
        details: "Downloads REMOTE. LOCAL defaults to its base name in the local current directory; a LOCAL \
                  that is a directory receives the file under its base name. Ctrl-C cancels the download and \
                  keeps what arrived: the same get resumes from there, after checking it is still the same \
                  remote file. --no-resume starts afresh. The file appears under its name only once its \
                  SHA-256 matched. REMOTE may be a pattern (*, ?, [...]), matched on a listing of the remote \
                  directory: every match goes into LOCAL, which must then be a directory. -r (--recursive) \
                  copies remote directories whole, with one progress bar for all of it; symbolic links are \
                  not followed and special files are skipped, each named. With several files, -b stops at \
                  the first failure; at the prompt the rest still come and the failures are listed at the end.",
        args: &[Remote, Local],
        run: transfer_cmds::get,
    },
    Command {
        name: "mput",
        aliases: &[],
        usage: transfer_cmds::MPUT.usage,
        about: "upload several files or patterns into the remote directory",
        details: "Uploads every local file each LOCAL names (patterns *, ?, [...] expanded) into the remote \
                  current directory, under their base names, as put does one by one. -r copies directories \
                  whole, as put -r. Example: mput *.pdf notes/*.txt",
        args: &[Local],
        run: transfer_cmds::mput,
    },
    Command {
        name: "mget",
        aliases: &[],
        usage: transfer_cmds::MGET.usage,
        about: "download several files or patterns into the local directory",
        details: "Downloads every remote file each REMOTE names (patterns *, ?, [...] matched on listings) \
                  into the local current directory, under their base names, as get does one by one. -r copies \
                  directories whole, as get -r. Example: mget *.pdf 2026/*",
        args: &[Remote],
        run: transfer_cmds::mget,
    },
    Command {
        name: "lcd",
        aliases: &[],
        usage: local_cmds::LCD.usage,
        about: "change the local directory (~ is home; lcd - goes back)",
        details: "Changes the local directory that put reads from and get writes to by default. A leading ~ \
                  is your home directory ($HOME), here and in every local path; without DIR, lcd goes \
                  home. 'lcd -' goes back to the directory you were in before the last lcd, and prints it.",
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
        details: "Lists a local directory (default: the current one) like dir does; -l and -a change nothing.",
        args: &[Local],
        run: local_cmds::lls,
    },
    Command {
        name: "!",
        aliases: &[],
        usage: "!COMMAND",
        about: "run COMMAND in a local shell (! alone: an interactive one)",
        details: "Runs the rest of the line in your local shell ($SHELL, else /bin/sh), on this machine, as \
                  you, as typing it in a terminal would; '!' alone starts an interactive shell, and exit \
                  comes back. This is the only place mioftp starts a shell, and only when you type !; the \
                  server never runs one. A command that fails is an error (a batch file stops there). \
                  Example: !ls -l *.pdf",
        args: &[],
        run: bang_words,
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

impl Command {
    /// What the positional argument at `position` names, if anything.
    pub fn arg(&self, position: usize) -> Option<Arg> {
        let repeats = self.usage.ends_with("...");
        let last = self.args.len().checked_sub(1);
        let i = if repeats { last.map(|l| position.min(l)) } else { Some(position) };
        i.and_then(|i| self.args.get(i)).copied()
    }
}

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

/// `! ls -l` (with a space, so `!` arrives as a word of its own): the rest
/// of the words make the command again.
fn bang_words(_: &mut Shell, words: &[String]) -> Result<Flow> {
    let line = shlex::try_join(words.iter().map(String::as_str))
        .map_err(|e| ClientError::Usage(format!("cannot pass that to a shell: {e}")))?;
    bang::run(&line)
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
