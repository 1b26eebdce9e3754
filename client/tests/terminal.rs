//! The interactive client in a real terminal: `mioftp` runs in a tmux pane
//! (send-keys to type, capture-pane to read the screen) against a real
//! in-process server, as a person would use it:
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
//! tmux is installed with apt-get if missing; a machine where it cannot be
//! had fails the tests (`mioftp_testkit::tools`), never skips them.

mod common;
use common::{Fixture, start_server_with, wait_until};
use mioftp_client::Client;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

const PASSWORD: &str = "pencil-pencil";

/// tmux, installed if missing; a machine where it cannot be had fails.
fn require_tmux() {
    mioftp_testkit::tools::require("tmux", "tmux");
}

/// A tmux server of our own (its own socket) with one pane running mioftp.
struct Pane {
    socket: String,
    session: String,
}

impl Pane {
    /// Starts `mioftp --server ADDR` in `cwd` with HOME (and so the history)
    /// under `home`.
    fn start(name: &str, addr: &str, key: &Path, cwd: &Path, home: &Path) -> Pane {
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

    fn tmux(&self, args: &[&str]) -> String {
        let out = Command::new("tmux").args(["-L", &self.socket]).args(args).output().expect("run tmux");
        assert!(out.status.success(), "tmux {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Types text literally.
    fn type_text(&self, text: &str) {
        self.tmux(&["send-keys", "-t", &self.session, "-l", text]);
    }

    /// Presses keys by name (`Enter`, `Tab`, `C-c`, `Up`, ...).
    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", &self.session];
        args.extend_from_slice(keys);
        self.tmux(&args);
    }

    fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-t", &self.session])
    }

    /// Waits until the screen satisfies `pred`; panics with the screen if it
    /// does not within 20 s.
    fn wait(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        for _ in 0..1000 {
            let screen = self.screen();
            if pred(&screen) {
                return screen;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("timed out waiting for {what}; the screen shows:\n{}", self.screen());
    }

    fn wait_for(&self, text: &str) -> String {
        self.wait(text, |s| s.contains(text))
    }

    /// Whether the program in the pane has exited.
    fn dead(&self) -> bool {
        self.tmux(&["list-panes", "-t", &self.session, "-F", "#{pane_dead}"]).trim() == "1"
    }

    /// The last non-empty line on the screen.
    fn last_line(&self) -> String {
        self.screen().lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("").to_owned()
    }

    /// Answers the first question and logs in as alice.
    fn login(&self) {
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

/// A server with alice registered, and folders for the client's side.
struct Setup {
    f: Fixture,
    work: tempfile::TempDir,
    home: tempfile::TempDir,
}

fn setup(tweak: impl FnOnce(&mut mioftp::config::Config)) -> Setup {
    let f = start_server_with(tweak);
    Client::connect(&f.addr(), &std::fs::read(f.key_path()).unwrap()).unwrap().register("alice", PASSWORD).unwrap();
    Setup { f, work: tempfile::tempdir().unwrap(), home: tempfile::tempdir().unwrap() }
}

impl Setup {
    fn pane(&self, name: &str, addr: &str) -> Pane {
        Pane::start(name, addr, &self.f.key_path(), self.work.path(), self.home.path())
    }

    fn alice(&self) -> Client {
        let mut c = Client::connect(&self.f.addr(), &std::fs::read(self.f.key_path()).unwrap()).unwrap();
        c.login("alice", PASSWORD).unwrap();
        c
    }
}

#[test]
fn a_password_typed_after_the_handshake_deadline_still_logs_in() {
    require_tmux();
    let s = setup(|c| c.handshake_timeout = Duration::from_secs(1));
    let pane = s.pane("late", &s.f.addr());
    pane.wait_for("[r]egister, [l]ogin or [q]uit?");
    pane.type_text("l\n");
    pane.wait_for("Username:");
    pane.type_text("alice\n");
    pane.wait_for("Password:");
    // Twice the server's deadline: a client that had connected already
    // would now hold a dead socket.
    std::thread::sleep(Duration::from_secs(2));
    pane.type_text(&format!("{PASSWORD}\n"));
    pane.wait_for("Logged in as alice.");
    pane.type_text("pwd\n");
    pane.wait(" pwd then /", |s| s.lines().any(|l| l == "/"));
    assert!(s.f.accounts_log().iter().all(|r| r["event"] != "timeout"), "{:?}", s.f.accounts_log());
}

#[test]
fn history_survives_a_restart_tab_completes_remote_names_and_ctrl_c_clears_the_line() {
    require_tmux();
    let s = setup(|_| {});
    let local = s.work.path().join("report-2026.pdf");
    std::fs::write(&local, b"quarterly numbers").unwrap();
    s.alice().put(&local, "report-2026.pdf", &Default::default(), &mut mioftp_client::NoProgress).unwrap();

    let first = s.pane("history1", &s.f.addr());
    first.login();
    first.type_text("lpwd\n");
    first.wait_for(&s.work.path().display().to_string());
    // Tab completion of a remote name, from a listing of the folder.
    first.type_text("get rep");
    first.keys(&["Tab"]);
    first.wait("the completed name", |_| first.last_line().trim_end() == "mioftp alice:/> get report-2026.pdf");
    // Ctrl-C at the prompt drops the line instead of ending the client.
    first.keys(&["C-c"]);
    first.wait("a fresh prompt", |_| first.last_line().trim_end() == "mioftp alice:/>");
    first.type_text("exit\n");
    first.wait("mioftp to exit", |_| first.dead());
    drop(first);

    let history = std::fs::read_to_string(s.home.path().join(".local/state/mioftp/history")).unwrap();
    assert!(history.contains("lpwd") && !history.contains(PASSWORD), "{history}");
    assert!(!history.contains("get rep"), "a cleared line is not history: {history}");

    let second = s.pane("history2", &s.f.addr());
    second.login();
    second.keys(&["Up"]);
    second.wait("exit recalled", |_| second.last_line().trim_end() == "mioftp alice:/> exit");
    second.keys(&["Up"]);
    second.wait("lpwd recalled", |_| second.last_line().trim_end() == "mioftp alice:/> lpwd");
    // Ctrl-C drops the recalled line; Ctrl-D leaves.
    second.keys(&["C-c"]);
    second.wait("a fresh prompt", |_| second.last_line().trim_end() == "mioftp alice:/>");
    second.keys(&["C-d"]);
    second.wait("mioftp to exit", |_| second.dead());
}

/// A TCP relay in front of the server whose server-to-client direction is
/// slow (16 KiB every 10 ms) while `slow` is set.
fn slow_relay(upstream: String, slow: Arc<AtomicBool>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(client) = client else { return };
            let Ok(server) = TcpStream::connect(&upstream) else { return };
            let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            let slow = slow.clone();
            std::thread::spawn(move || pipe(c2, s2, None));
            std::thread::spawn(move || pipe(server, client, Some(slow)));
        }
    });
    addr
}

fn pipe(mut from: TcpStream, mut to: TcpStream, slow: Option<Arc<AtomicBool>>) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
        if slow.as_ref().is_some_and(|s| s.load(Ordering::SeqCst)) {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    let _ = to.shutdown(Shutdown::Write);
    let _ = from.shutdown(Shutdown::Read);
}

#[test]
fn ctrl_c_in_the_middle_of_a_get_returns_to_the_prompt_and_the_next_get_resumes() {
    require_tmux();
    let s = setup(|_| {});
    let data: Vec<u8> = (0..8u32 << 20).map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8).collect();
    let upload = tempfile::tempdir().unwrap();
    std::fs::write(upload.path().join("big.bin"), &data).unwrap();
    s.alice()
        .put(&upload.path().join("big.bin"), "big.bin", &Default::default(), &mut mioftp_client::NoProgress)
        .unwrap();

    let slow = Arc::new(AtomicBool::new(true));
    let relay = slow_relay(s.f.addr(), slow.clone());
    let pane = s.pane("cancel", &relay);
    pane.login();
    pane.type_text("get big.bin\n");
    // The bar appears once bytes move; interrupt then.
    pane.wait("the progress bar", |screen| screen.contains("get big.bin [") && screen.contains("/8.00 MiB"));
    pane.keys(&["C-c"]);
    pane.wait_for("cancelled");
    pane.wait("the prompt again", |_| pane.last_line().trim_end() == "mioftp alice:/>");
    let part = s.work.path().join("big.bin.mioftp-part");
    let kept = std::fs::metadata(&part).map(|m| m.len()).unwrap_or(0);
    assert!(kept > 0 && kept < data.len() as u64, "kept {kept} bytes");
    assert!(!s.work.path().join("big.bin").exists());

    slow.store(false, Ordering::SeqCst);
    pane.type_text("get big.bin\n");
    let screen = pane.wait_for("sha256 verified");
    assert!(screen.contains("resumed at"), "{screen}");
    assert_eq!(std::fs::read(s.work.path().join("big.bin")).unwrap(), data);
}

#[test]
fn after_the_server_drops_an_idle_session_the_next_command_reconnects_in_the_same_folder() {
    require_tmux();
    let s = setup(|c| c.idle_timeout = Duration::from_millis(1500));
    let pane = s.pane("idle", &s.f.addr());
    pane.login();
    pane.type_text("mkdir -p docs/2026\n");
    pane.wait_for("created /docs/2026");
    pane.type_text("cd docs/2026\n");
    pane.wait_for("mioftp alice:/docs/2026>");
    wait_until("the server to drop the idle session", || {
        s.f.accounts_log().iter().any(|r| r["event"] == "logout" && r["message"] == "timeout")
    });
    pane.type_text("pwd\n");
    let screen = pane.wait("pwd's answer", |screen| screen.lines().any(|l| l == "/docs/2026"));
    assert!(screen.contains("reconnected as alice in /docs/2026"), "{screen}");
    let logins = s.f.accounts_log().iter().filter(|r| r["event"] == "login" && r["outcome"] == "ok").count();
    assert_eq!(logins, 2, "the pane's login and the re-login");
}
