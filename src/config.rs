//! The server's settings. [`Config::new`] is the one place their defaults
//! are set: [`crate::settings`] starts from it and overlays the config file,
//! the environment and the flags that were given (its `--help` and the
//! example config file read the defaults from here too), and tests start
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

/// Who may create an account with `register` (docs/PROTOCOL.md, `register`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Registration {
    /// Anyone holding the pre-shared key (an invitation token is still honoured).
    #[default]
    Open,
    /// Only with an invitation token from `mioftpd accounts invite`.
    Token,
    /// Nobody; password-reset tokens still work.
    Closed,
}

impl std::fmt::Display for Registration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Registration::Open => "open",
            Registration::Token => "token",
            Registration::Closed => "closed",
        })
    }
}

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
    /// The umask for what users store (uploads `0666 & !umask`, folders
    /// `0777 & !umask`); `main` sets it as the process umask at start.
    pub umask: u32,
    /// Refuse to start when a secret (`server.key`, `accounts/`) is
    /// accessible to its group or others, instead of warning.
    pub strict_perms: bool,
    /// Who may register.
    pub registration: Registration,
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
            umask: crate::perms::DEFAULT_UMASK,
            strict_perms: false,
            registration: Registration::Open,
        }
    }

    /// Checks the values no type can rule out, naming the setting (as its
    /// flag and config key) that is wrong. Flags are range-checked by clap
    /// already; this covers the config file and code that builds a `Config`.
    pub fn validate(&self) -> Result<(), String> {
        let max = crate::protocol::scram::MAX_ITERATIONS;
        if !(1..=max).contains(&self.min_iterations) {
            return Err(format!("kdf-iterations must be 1 to {max}, not {}", self.min_iterations));
        }
        if self.min_password_len == 0 {
            return Err("min-password-len must be at least 1".to_owned());
        }
        let at_least_a_second = [
            ("login-window", self.login_policy.window),
            ("login-max-backoff", self.login_policy.max_backoff),
            ("name-check-window", self.name_check_policy.window),
        ];
        for (name, value) in at_least_a_second {
            if value < Duration::from_secs(1) {
                return Err(format!("{name} must be at least 1 second"));
            }
        }
        if self.umask > 0o777 {
            return Err(format!("umask must be at most 777 (octal), not {:o}", self.umask));
        }
        Ok(())
    }

    /// The modes for what users store, from [`Config::umask`].
    pub fn modes(&self) -> crate::perms::Modes {
        crate::perms::Modes::with_umask(self.umask)
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
