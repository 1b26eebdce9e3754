//! A tmux pane running `mioftp`: type into it, read its screen, wait for
//! what it shows.

use super::PASSWORD;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// A tmux server of our own (its own socket) with one pane running mioftp.
pub struct Pane {
    socket: String,
    session: String,
}

impl Pane {
    /// Starts `mioftp --server ADDR` in `cwd` with HOME (and so the history)
    /// under `home`.
    pub fn start(name: &str, addr: &str, key: &Path, cwd: &Path, home: &Path) -> Pane {
        let pane = Pane { socket: format!("mioftp-test-{}-{name}", std::process::id()), session: name.to_owned() };
        let program = format!(
            "env -u MIOFTP_PASSWORD -u MIOFTP_USER HOME={} XDG_STATE_HOME= {} --server {addr} --key-file {}",
            home.display(),
            env!("CARGO_BIN_EXE_mioftp"),
            key.display()
        );
        pane.tmux(&[
            "new-session",
            "-d",
            "-s",
            name,
            "-x",
            "120",
            "-y",
            "40",
            "-c",
            &cwd.display().to_string(),
            &program,
        ]);
        // Keep the pane (and what it shows) when mioftp exits.
        pane.tmux(&["set-option", "-t", name, "remain-on-exit", "on"]);
        pane
    }

    pub fn tmux(&self, args: &[&str]) -> String {
        let out = Command::new("tmux").args(["-L", &self.socket]).args(args).output().expect("run tmux");
        assert!(out.status.success(), "tmux {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Types text literally.
    pub fn type_text(&self, text: &str) {
        self.tmux(&["send-keys", "-t", &self.session, "-l", text]);
    }

    /// Presses keys by name (`Enter`, `Tab`, `C-c`, `Up`, ...).
    pub fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", &self.session];
        args.extend_from_slice(keys);
        self.tmux(&args);
    }

    pub fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-t", &self.session])
    }

    /// Waits until the screen satisfies `pred`; panics with the screen if it
    /// does not within 20 s.
    pub fn wait(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        for _ in 0..1000 {
            let screen = self.screen();
            if pred(&screen) {
                return screen;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("timed out waiting for {what}; the screen shows:\n{}", self.screen());
    }

    pub fn wait_for(&self, text: &str) -> String {
        self.wait(text, |s| s.contains(text))
    }

    /// Whether the program in the pane has exited.
    pub fn dead(&self) -> bool {
        self.tmux(&["list-panes", "-t", &self.session, "-F", "#{pane_dead}"]).trim() == "1"
    }

    /// The last non-empty line on the screen.
    pub fn last_line(&self) -> String {
        self.screen().lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("").to_owned()
    }

    /// Waits until the last non-empty line is `prompt`; returns that screen.
    pub fn wait_prompt(&self, prompt: &str) -> String {
        self.wait(prompt, |screen| {
            screen.lines().rev().find(|l| !l.trim().is_empty()).is_some_and(|l| l.trim_end() == prompt)
        })
    }

    /// Answers the first question and logs in as alice.
    pub fn login(&self) {
        self.wait_for("[r]egister, [l]ogin or [q]uit?");
        self.type_text("l\n");
        self.wait_for("Username:");
        self.type_text("alice\n");
        self.wait_for("Password:");
        self.type_text(&format!("{PASSWORD}\n"));
        self.wait_for("Logged in as alice.");
    }
}

impl Drop for Pane {
    fn drop(&mut self) {
        let _ = Command::new("tmux").args(["-L", &self.socket, "kill-server"]).output();
    }
}
