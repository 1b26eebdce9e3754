//! Shared by the binary's tests: a real in-process server on 127.0.0.1:0
//! with a temporary data root and a low KDF policy.
#![allow(dead_code)] // each test binary uses a different part of this module

use mioftp::config::Config;
use mioftp::server::{RunningServer, Server};
use std::path::PathBuf;
use std::time::{Duration, Instant};

pub struct Fixture {
    pub root: tempfile::TempDir,
    pub server: RunningServer,
}

/// Starts a server; its key is at `root/server.key`.
pub fn start_server() -> Fixture {
    start_server_with(|_| {})
}

/// Starts a server with `tweak` applied to its settings.
pub fn start_server_with(tweak: impl FnOnce(&mut Config)) -> Fixture {
    let root = tempfile::tempdir().unwrap();
    let mut cfg = Config::new(root.path());
    cfg.listen = "127.0.0.1:0".parse().unwrap();
    cfg.min_iterations = 1000;
    tweak(&mut cfg);
    let server = Server::bind(cfg).unwrap().spawn().unwrap();
    Fixture { root, server }
}

impl Fixture {
    pub fn key_path(&self) -> PathBuf {
        self.root.path().join("server.key")
    }

    pub fn addr(&self) -> String {
        self.server.addr.to_string()
    }

    /// The records of one audit log.
    pub fn log(&self, name: &str) -> Vec<serde_json::Value> {
        let text = std::fs::read_to_string(self.root.path().join("logs").join(name)).unwrap_or_default();
        text.lines().map(|l| serde_json::from_str(l).expect("whole JSON line")).collect()
    }

    pub fn accounts_log(&self) -> Vec<serde_json::Value> {
        self.log("register_login_accounts.log")
    }
}

/// Polls `cond` until it holds; panics after 20 s (nothing here should take
/// more than a fraction of that).
pub fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The password of the accounts [`with_alice`] registers.
pub const ALICE_PASSWORD: &str = "pencil-pencil";

/// A server with `alice` registered.
pub fn with_alice(tweak: impl FnOnce(&mut Config)) -> Fixture {
    let f = start_server_with(tweak);
    let key = std::fs::read(f.key_path()).unwrap();
    mioftp_client::Client::connect(&f.addr(), &key).unwrap().register("alice", ALICE_PASSWORD).unwrap();
    f
}

/// What one run of the binary gave.
pub struct Ran {
    pub status: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Fixture {
    /// alice's home on the server's disk, and `rel` in it.
    pub fn home(&self, rel: &str) -> PathBuf {
        self.root.path().join("home/alice").join(rel)
    }

    /// A logged-in library client for alice.
    pub fn alice(&self) -> mioftp_client::Client {
        let mut c = mioftp_client::Client::connect(&self.addr(), &std::fs::read(self.key_path()).unwrap()).unwrap();
        c.login("alice", ALICE_PASSWORD).unwrap();
        c
    }

    /// Runs `mioftp ARGS` in `cwd` against this server, with alice's
    /// password in the environment and `stdin` as input. `--user alice`
    /// is added unless `interactive` (then the menu asks).
    pub fn run_mioftp(&self, cwd: &std::path::Path, args: &[&str], stdin: &str, interactive: bool) -> Ran {
        self.run_mioftp_env(cwd, args, stdin, interactive, &[])
    }

    /// [`Fixture::run_mioftp`] with more environment variables.
    pub fn run_mioftp_env(
        &self,
        cwd: &std::path::Path,
        args: &[&str],
        stdin: &str,
        interactive: bool,
        env: &[(&str, &std::path::Path)],
    ) -> Ran {
        use std::io::Write;
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_mioftp"));
        cmd.current_dir(cwd).args(["--server", &self.addr(), "--key-file"]).arg(self.key_path());
        if !interactive {
            cmd.args(["--user", "alice"]);
        }
        let mut child = cmd
            .args(args)
            .env("MIOFTP_PASSWORD", ALICE_PASSWORD)
            .env_remove("MIOFTP_USER")
            .env_remove("MIOFTP_SERVER")
            .env_remove("MIOFTP_KEY_FILE")
            .envs(env.iter().copied())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        Ran {
            status: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Runs a batch script (`-b -`) as alice in `cwd`.
    pub fn batch(&self, cwd: &std::path::Path, script: &str) -> Ran {
        self.run_mioftp(cwd, &["-b", "-"], script, false)
    }

    /// Runs `lines` at the interactive prompt (stdin not a terminal), after
    /// logging in through the menu.
    pub fn prompt(&self, cwd: &std::path::Path, lines: &str) -> Ran {
        self.run_mioftp(cwd, &[], &format!("l\nalice\n{lines}"), true)
    }
}
