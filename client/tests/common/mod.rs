//! Shared by the binary's tests: a real in-process server on 127.0.0.1:0
//! with a temporary data root and a low KDF policy.
#![allow(dead_code)] // each test binary uses a different part of this module

use mioftp::config::Config;
use mioftp::server::{RunningServer, Server};

pub struct Fixture {
    pub root: tempfile::TempDir,
    pub server: RunningServer,
}

/// Starts a server; its key is at `root/server.key`.
pub fn start_server() -> Fixture {
    let root = tempfile::tempdir().unwrap();
    let mut cfg = Config::new(root.path());
    cfg.listen = "127.0.0.1:0".parse().unwrap();
    cfg.min_iterations = 1000;
    let server = Server::bind(cfg).unwrap().spawn().unwrap();
    Fixture { root, server }
}
