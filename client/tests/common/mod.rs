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
