//! The interactive client in a real terminal: `mioftp` runs in a tmux pane
//! (send-keys to type, capture-pane to read the screen) against a real
//! in-process server, as a person would use it.
//!
//! Issue 17's session behaviour (`session`):
//! - a password typed after the server's handshake deadline still logs in
//!   (the deadline is 1 s here instead of 30 s, and the password comes 2 s
//!   after the prompt, instead of 40 s);
//! - the history is recalled after a restart, and never holds the password;
//! - Tab completes a remote file name; Ctrl-C at the prompt clears the line;
//! - Ctrl-C in the middle of a `get` returns to the prompt, and the next
//!   `get` resumes (the download goes through a slow relay so there is a
//!   middle to interrupt);
//! - after the server drops an idle session, the next command reconnects
//!   and runs in the same folder.
//!
//! Issue 18's commands (`trees`, `habits`):
//! - `put -r` and `get -r` draw one bar for the whole tree, counting files
//!   in its label; Ctrl-C in the middle returns to the prompt, and the same
//!   command again resumes the file it cut (through the slow relay);
//! - `cd -` and `lcd -` go back, `rm -r` asks first, `!` runs a local command.
//!
//! tmux is installed with apt-get if missing; a machine where it cannot be
//! had fails the tests (`mioftp_testkit::tools`), never skips them.

#[path = "../common/mod.rs"]
mod common;
mod habits;
mod pane;
mod relay;
mod session;
mod trees;

use common::{Fixture, start_server_with};
use mioftp_client::Client;
use pane::Pane;

const PASSWORD: &str = "pencil-pencil";

/// tmux, installed if missing; a machine where it cannot be had fails.
pub fn require_tmux() {
    mioftp_testkit::tools::require("tmux", "tmux");
}

/// A server with alice registered, and folders for the client's side.
pub struct Setup {
    pub f: Fixture,
    pub work: tempfile::TempDir,
    pub home: tempfile::TempDir,
}

pub fn setup(tweak: impl FnOnce(&mut mioftp::config::Config)) -> Setup {
    let f = start_server_with(tweak);
    Client::connect(&f.addr(), &std::fs::read(f.key_path()).unwrap()).unwrap().register("alice", PASSWORD).unwrap();
    Setup { f, work: tempfile::tempdir().unwrap(), home: tempfile::tempdir().unwrap() }
}

impl Setup {
    pub fn pane(&self, name: &str, addr: &str) -> Pane {
        Pane::start(name, addr, &self.f.key_path(), self.work.path(), self.home.path())
    }

    pub fn alice(&self) -> Client {
        let mut c = Client::connect(&self.f.addr(), &std::fs::read(self.f.key_path()).unwrap()).unwrap();
        c.login("alice", PASSWORD).unwrap();
        c
    }
}
