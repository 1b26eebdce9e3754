//! The line editor at the `mioftp` prompt (rustyline): editing keys, history
//! kept across sessions in `$XDG_STATE_HOME/mioftp/history` (by default
//! `~/.local/state/mioftp/history`, mode 0600), and tab completion (see
//! `complete`). Only command lines typed at the prompt enter the history;
//! passwords are read elsewhere (hidden, see `input`) and never reach it.

use crate::complete::Helper;
use crate::shell::Shell;
use rustyline::error::ReadlineError;
use rustyline::history::{FileHistory, History};
use rustyline::{Config, Editor};
use std::path::PathBuf;

/// Most lines kept in the history file.
const HISTORY_LINES: usize = 1000;

/// What reading a line gave.
pub enum Read {
    Line(String),
    /// Ctrl-C at the prompt: the line was dropped.
    Cleared,
    /// Ctrl-D (or the end of input).
    End,
}

pub struct LineEditor {
    editor: Editor<Helper, FileHistory>,
    history: Option<PathBuf>,
}

/// Where the history lives: `$XDG_STATE_HOME/mioftp/history`, or
/// `$HOME/.local/state/mioftp/history`; `None` without either.
pub fn history_path() -> Option<PathBuf> {
    let non_empty = |name| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    let state = non_empty("XDG_STATE_HOME").or_else(|| non_empty("HOME").map(|h| h.join(".local/state")))?;
    Some(state.join("mioftp").join("history"))
}

impl LineEditor {
    pub fn new() -> rustyline::Result<LineEditor> {
        let config = Config::builder()
            .max_history_size(HISTORY_LINES)?
            .history_ignore_dups(true)?
            .history_ignore_space(true)
            .auto_add_history(false)
            .build();
        let mut editor = Editor::with_config(config)?;
        editor.set_helper(Some(Helper::default()));
        let history = history_path();
        if let Some(path) = &history {
            // A missing file is a first run; an unreadable one is only a
            // lost convenience, not a reason to refuse to start.
            let _ = editor.load_history(path);
        }
        Ok(LineEditor { editor, history })
    }

    /// Reads a line. The shell is lent to the completer (remote names come
    /// from a `dir` on its connection) and handed back with the result.
    pub fn read(&mut self, prompt: &str, shell: Shell) -> (Shell, rustyline::Result<Read>) {
        let helper = self.editor.helper_mut().expect("the helper is set in new");
        helper.lend(shell);
        let result = match self.editor.readline(prompt) {
            Ok(line) => Ok(Read::Line(line)),
            Err(ReadlineError::Interrupted) => Ok(Read::Cleared),
            Err(ReadlineError::Eof) => Ok(Read::End),
            Err(e) => Err(e),
        };
        let helper = self.editor.helper_mut().expect("the helper is set in new");
        let shell = helper.take_back();
        helper.forget_listings();
        (shell, result)
    }

    /// Adds a command line to the history and saves it at once (so a crash
    /// or a closed terminal loses nothing).
    pub fn remember(&mut self, line: &str) {
        if line.trim().is_empty() || !self.editor.add_history_entry(line).unwrap_or(false) {
            return;
        }
        let Some(path) = &self.history else { return };
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        if self.editor.history_mut().append(path).is_err() {
            // No history file this time; the session goes on.
            return;
        }
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_history_follows_xdg_state_home_then_home() {
        // SAFETY: this test is the only one in the binary that touches
        // these variables.
        unsafe {
            std::env::set_var("XDG_STATE_HOME", "/state");
            std::env::set_var("HOME", "/home/u");
        }
        assert_eq!(history_path(), Some(PathBuf::from("/state/mioftp/history")));
        unsafe { std::env::set_var("XDG_STATE_HOME", "") };
        assert_eq!(history_path(), Some(PathBuf::from("/home/u/.local/state/mioftp/history")));
        unsafe { std::env::remove_var("XDG_STATE_HOME") };
        assert_eq!(history_path(), Some(PathBuf::from("/home/u/.local/state/mioftp/history")));
    }
}
