//! The server's settings. `main.rs` fills this from flags; tests build it
//! directly with a temporary root and a low KDF policy.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Default PBKDF2 iteration floor for accounts (OWASP's 2023 figure for
/// PBKDF2-HMAC-SHA256).
pub const DEFAULT_MIN_ITERATIONS: u32 = 600_000;
/// Default listening address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:2121";

/// Everything the server needs to start.
#[derive(Debug, Clone)]
pub struct Config {
    /// The data root holding `accounts/`, `home/` and `logs/`.
    pub root: PathBuf,
    /// Address to listen on (port 0 picks a free one).
    pub listen: SocketAddr,
    /// The pre-shared key file; `None` means `<root>/server.key`, created if absent.
    pub key_file: Option<PathBuf>,
    /// The least PBKDF2 iteration count `register` accepts.
    pub min_iterations: u32,
    /// The least password length, announced for clients to enforce.
    pub min_password_len: u32,
    /// Deadline for the connection check plus login, from connect.
    pub handshake_timeout: Duration,
    /// Deadline for an authenticated session with no request.
    pub idle_timeout: Duration,
    /// Deadline for a transfer (or a stalled reply) that makes no progress.
    pub transfer_timeout: Duration,
    /// Most simultaneous connections.
    pub max_connections: usize,
}

impl Config {
    /// Defaults for a data root.
    pub fn new(root: impl Into<PathBuf>) -> Config {
        Config {
            root: root.into(),
            listen: DEFAULT_LISTEN.parse().expect("valid default address"),
            key_file: None,
            min_iterations: DEFAULT_MIN_ITERATIONS,
            min_password_len: 8,
            handshake_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(300),
            transfer_timeout: Duration::from_secs(60),
            max_connections: 10_000,
        }
    }

    pub fn key_path(&self) -> PathBuf {
        self.key_file.clone().unwrap_or_else(|| self.root.join("server.key"))
    }

    pub fn accounts_dir(&self) -> PathBuf {
        self.root.join("accounts")
    }

    pub fn home_dir(&self) -> PathBuf {
        self.root.join("home")
    }

    pub fn logs_dir(&self) -> PathBuf {
        self.root.join("logs")
    }
}
