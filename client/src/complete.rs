//! Tab completion at the prompt: command names first, then each argument
//! by what it names (see `commands::Arg`): remote paths from a `dir` of the
//! folder being typed (kept for a few seconds, and dropped after every
//! command, since commands change the remote side), local paths from the
//! local file system, command names after `help`.

use crate::commands::{self, Arg, COMMANDS};
use crate::shell::Shell;
use mioftp_client::paths;
use mioftp_proto::messages::EntryKind;
use rustyline::completion::{Completer, FilenameCompleter, Pair};
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::Validator;
use rustyline::{Context, Helper as RlHelper};
use std::cell::RefCell;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// How long a remote listing is reused while the user presses Tab.
const FRESH: Duration = Duration::from_secs(5);

/// A remote folder's entries: (name, is a directory).
type Listing = Vec<(String, bool)>;

/// The completer. It holds the shell only while a line is being read.
#[derive(Default)]
pub struct Helper {
    shell: RefCell<Option<Shell>>,
    listings: RefCell<HashMap<String, (Instant, Listing)>>,
    files: FilenameCompleter,
}

impl Helper {
    pub fn lend(&mut self, shell: Shell) {
        *self.shell.get_mut() = Some(shell);
    }

    pub fn take_back(&mut self) -> Shell {
        self.shell.get_mut().take().expect("lent before every read")
    }

    /// After a command: the remote side may have changed.
    pub fn forget_listings(&mut self) {
        self.listings.get_mut().clear();
    }

    /// The entries of remote folder `dir` (absolute), from the cache or a
    /// fresh `dir`; empty if the listing fails (no completion then).
    fn remote_listing(&self, dir: &str) -> Listing {
        if let Some((at, entries)) = self.listings.borrow().get(dir) {
            if at.elapsed() < FRESH {
                return entries.clone();
            }
        }
        let mut shell = self.shell.borrow_mut();
        let Some(shell) = shell.as_mut() else { return Vec::new() };
        // A dead connection is not revived from inside the editor: the next
        // command does that.
        if shell.client.peer_closed() {
            return Vec::new();
        }
        let Ok(listing) = shell.client.dir(Some(dir)) else { return Vec::new() };
        let entries: Listing = listing.entries.into_iter().map(|e| (e.name, e.kind == EntryKind::Dir)).collect();
        self.listings.borrow_mut().insert(dir.to_owned(), (Instant::now(), entries.clone()));
        entries
    }

    fn remote(&self, word: &str) -> Vec<Pair> {
        let cwd = self.shell.borrow().as_ref().map(|s| s.client.cwd().to_owned()).unwrap_or_else(|| "/".into());
        let (folder, prefix) = word.rsplit_once('/').map_or(("", word), |(f, p)| (f, p));
        let typed_folder = if word.contains('/') { format!("{folder}/") } else { String::new() };
        let dir = match folder {
            "" if word.starts_with('/') => Some("/".to_owned()),
            "" => Some(cwd),
            f => paths::resolve(&cwd, f),
        };
        let Some(dir) = dir else { return Vec::new() };
        let mut pairs: Vec<Pair> = self
            .remote_listing(&dir)
            .into_iter()
            .filter(|(name, _)| name.starts_with(prefix))
            .map(|(name, is_dir)| {
                let end = if is_dir { "/" } else { " " };
                let display = if is_dir { format!("{name}/") } else { name.clone() };
                Pair { display, replacement: format!("{typed_folder}{}{end}", escape(&name)) }
            })
            .collect();
        pairs.sort_by(|a, b| a.display.cmp(&b.display));
        pairs
    }
}

/// Backslash-escapes what the command-line splitter would otherwise read
/// as separators or quotes.
fn escape(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if c.is_whitespace() || matches!(c, '\\' | '"' | '\'' | '#') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// What the word at the cursor is: its start, and which argument of which
/// command (`None` for the command name itself).
fn locate(before: &str) -> (usize, Option<(&'static commands::Command, usize)>) {
    let start = before.rfind(|c: char| c.is_whitespace()).map_or(0, |i| i + 1);
    let words: Vec<&str> = before[..start].split_whitespace().collect();
    let Some((name, rest)) = words.split_first() else { return (start, None) };
    let Some(cmd) = commands::find(name) else { return (start, Some((&COMMANDS[0], usize::MAX))) };
    let position = rest.iter().filter(|w| !w.starts_with('-')).count();
    (start, Some((cmd, position)))
}

impl Completer for Helper {
    type Candidate = Pair;

    fn complete(&self, line: &str, pos: usize, ctx: &Context<'_>) -> rustyline::Result<(usize, Vec<Pair>)> {
        let before = &line[..pos];
        let (start, what) = locate(before);
        let word = &before[start..];
        let names = |prefix: &str| {
            let mut v: Vec<Pair> = COMMANDS
                .iter()
                .flat_map(|c| std::iter::once(c.name).chain(c.aliases.iter().copied()))
                .filter(|n| n.starts_with(prefix))
                .map(|n| Pair { display: n.to_owned(), replacement: format!("{n} ") })
                .collect();
            v.sort_by(|a, b| a.display.cmp(&b.display));
            v
        };
        match what {
            None => Ok((start, names(word))),
            Some((cmd, position)) => match cmd.arg(position) {
                Some(Arg::Command) => Ok((start, names(word))),
                Some(Arg::Remote) => Ok((start, self.remote(word))),
                Some(Arg::Local) => self.files.complete(line, pos, ctx),
                None => Ok((pos, Vec::new())),
            },
        }
    }
}

impl Hinter for Helper {
    type Hint = String;
}
impl Highlighter for Helper {}
impl Validator for Helper {}
impl RlHelper for Helper {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_word_at_the_cursor_knows_its_command_and_position() {
        assert_eq!(locate("ge").0, 0);
        assert!(locate("ge").1.is_none());
        let (start, what) = locate("get --no-resume docs/re");
        assert_eq!(start, "get --no-resume ".len());
        let (cmd, position) = what.unwrap();
        assert_eq!((cmd.name, position), ("get", 0));
        assert_eq!(cmd.arg(position), Some(Arg::Remote));
        let (cmd, position) = locate("put a.bin ").1.unwrap();
        assert_eq!((cmd.name, cmd.arg(position)), ("put", Some(Arg::Remote)));
        let (cmd, position) = locate("mget a b c ").1.unwrap();
        assert_eq!((cmd.name, cmd.arg(position)), ("mget", Some(Arg::Remote)));
        let (cmd, position) = locate("rm -r a ").1.unwrap();
        assert_eq!((cmd.name, cmd.arg(position)), ("rm", Some(Arg::Remote)));
        let (cmd, position) = locate("get a b ").1.unwrap();
        assert_eq!((cmd.name, cmd.arg(position)), ("get", None));
        assert_eq!(locate("ls ").1.unwrap().0.name, "dir");
    }

    #[test]
    fn names_are_escaped_for_the_command_line_splitter() {
        assert_eq!(escape("my file's.txt"), "my\\ file\\'s.txt");
        assert_eq!(crate::shell::split(&format!("get {}", escape("a b\"c"))).unwrap(), ["get", "a b\"c"]);
    }
}
