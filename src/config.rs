//! The server's settings. [`Config::new`] is the one place their defaults
//! are set: `main.rs` starts from it and overrides only the flags that were
//! given (its `--help` reads the defaults from here too), and tests start
//! from it with a temporary root and a low KDF policy.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Default PBKDF2 iteration count for accounts (OWASP's 2023 figure for
/// PBKDF2-HMAC-SHA256).
pub const DEFAULT_MIN_ITERATIONS: u32 = 600_000;
/// Default per-account quota: 10 GiB.
pub const DEFAULT_QUOTA: u64 = 10 * 1024 * 1024 * 1024;

/// Parses a quota: a size such as `1GiB`, `500MB` or `1048576`, or the word
/// `unlimited`. `0` is a quota of zero bytes, not "unlimited".
pub fn parse_quota(text: &str) -> Result<Option<u64>, String> {
    let t = text.trim();
    if t.eq_ignore_ascii_case("unlimited") {
        return Ok(None);
    }
    t.parse::<bytesize::ByteSize>()
        .map(|b| Some(b.as_u64()))
        .map_err(|e| format!("invalid quota \"{text}\": {e} (use e.g. 1GiB, 500MB, 1048576 or unlimited)"))
}

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
    /// The PBKDF2 iteration count `register` requires, exactly (protocol §4;
    /// the name is the hello field's). 1 to `scram::MAX_ITERATIONS`, else
    /// the server does not start.
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
    /// Quota for accounts without one of their own; `None` is unlimited.
    pub default_quota: Option<u64>,
    /// Partial uploads untouched this long are deleted.
    pub partial_max_age: Duration,
    /// Most simultaneous connections from one IP address; 0 is no limit.
    pub max_per_ip: usize,
    /// Login throttling: per user and address, per address, per user.
    pub login_policy: crate::throttle::Policy,
    /// `check_user` queries (whether a name is free) allowed per address
    /// within the window; every query counts. 0 disables the limit.
    pub name_check_policy: crate::throttle::NameCheckPolicy,
    /// How long in-flight transfers may run on after SIGINT/SIGTERM.
    pub shutdown_grace: Duration,
    /// The FTP front end (off unless `ftp.listen` is set).
    pub ftp: crate::ftp::config::FtpConfig,
}

impl Config {
    /// Defaults for a data root: every setting's default is here.
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
            default_quota: Some(DEFAULT_QUOTA),
            partial_max_age: Duration::from_secs(7 * 24 * 3600),
            max_per_ip: 256,
            login_policy: crate::throttle::Policy::default(),
            name_check_policy: crate::throttle::NAME_CHECK_POLICY,
            shutdown_grace: Duration::from_secs(10),
            ftp: crate::ftp::config::FtpConfig::default(),
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

#[cfg(test)]
mod tests {
    use super::parse_quota;

    #[test]
    fn quotas_parse_with_units_and_unlimited() {
        assert_eq!(parse_quota("1GiB"), Ok(Some(1 << 30)));
        assert_eq!(parse_quota("500 MB"), Ok(Some(500_000_000)));
        assert_eq!(parse_quota("1048576"), Ok(Some(1 << 20)));
        assert_eq!(parse_quota("0"), Ok(Some(0)));
        assert_eq!(parse_quota("Unlimited"), Ok(None));
        assert!(parse_quota("lots").is_err());
        assert!(parse_quota("-5").is_err());
    }
}
