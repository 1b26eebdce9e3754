//! Every server setting as one overlay, [`Settings`]: at once the serve
//! flags (clap, each with its `MIOFTPD_*` environment variable) and the keys
//! of a config file (serde, TOML). Every field is an `Option`; `None` leaves
//! what the layer below set, and at the bottom are the defaults of
//! [`Config::new`], the one place they are set. The layers are applied in
//! one order, which is the precedence rule:
//!
//! defaults < config file (`--config FILE`) < environment < flags
//!
//! clap already reads a flag's variable when the flag is absent, so the last
//! two are one overlay here; [`file::effective`] stacks the layers.
//!
//! Names follow one rule, held by the tests: the flag `--max-per-ip` is the
//! config key `max-per-ip` and the variable `MIOFTPD_MAX_PER_IP`.

pub mod file;
mod values;

pub use values::{Quota, Umask};

use crate::config::{Config, Registration};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// The serve flags and config keys. Field order is the order of `--help`,
/// of `mioftpd check-config` and of `docs/mioftpd.example.toml`.
#[derive(Debug, Clone, Default, PartialEq, clap::Args, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Settings {
    #[arg(
        long,
        env = "MIOFTPD_ROOT",
        value_name = "DIR",
        help = "Data root holding accounts/, home/ and logs/ (created if missing) [default: .]"
    )]
    pub root: Option<PathBuf>,
    #[arg(long, env = "MIOFTPD_LISTEN", value_name = "ADDR", help = shown("Address to listen on", defaults().listen))]
    pub listen: Option<SocketAddr>,
    /// Pre-shared key file [default: <root>/server.key, created at first start].
    #[arg(long, env = "MIOFTPD_KEY_FILE", value_name = "FILE")]
    pub key_file: Option<PathBuf>,
    #[arg(
        long = "kdf-iterations",
        env = "MIOFTPD_KDF_ITERATIONS",
        value_name = "N",
        alias = "min-iterations",
        value_parser = clap::value_parser!(u32).range(1..=i64::from(crate::protocol::scram::MAX_ITERATIONS)),
        help = shown(
            "The PBKDF2-HMAC-SHA256 iteration count registration requires, exactly \
             (1 to 10000000; announced in the hello as min_iterations)",
            defaults().min_iterations,
        ),
    )]
    #[serde(rename = "kdf-iterations", alias = "min-iterations")]
    pub min_iterations: Option<u32>,
    #[arg(
        long,
        env = "MIOFTPD_MIN_PASSWORD_LEN",
        value_name = "N",
        value_parser = clap::value_parser!(u32).range(1..),
        help = shown("Least password length, announced to clients (which enforce it)", defaults().min_password_len),
    )]
    pub min_password_len: Option<u32>,
    #[arg(long, env = "MIOFTPD_HANDSHAKE_TIMEOUT", value_name = "S", help = shown(
        "Seconds from connect to a completed login", secs(defaults().handshake_timeout),
    ))]
    pub handshake_timeout: Option<u64>,
    #[arg(long, env = "MIOFTPD_IDLE_TIMEOUT", value_name = "S", help = shown(
        "Seconds a logged-in session may sit idle", secs(defaults().idle_timeout),
    ))]
    pub idle_timeout: Option<u64>,
    #[arg(long, env = "MIOFTPD_TRANSFER_TIMEOUT", value_name = "S", help = shown(
        "Seconds a transfer may go without progress", secs(defaults().transfer_timeout),
    ))]
    pub transfer_timeout: Option<u64>,
    #[arg(long, env = "MIOFTPD_MAX_CONNECTIONS", value_name = "N", help = shown(
        "Most simultaneous connections", defaults().max_connections,
    ))]
    pub max_connections: Option<usize>,
    #[arg(long, env = "MIOFTPD_DEFAULT_QUOTA", value_name = "SIZE", help = shown(
        "Quota of accounts without their own: a size (1GiB, 500MB, 1048576) or `unlimited`. \
         0 means zero bytes, not unlimited",
        Quota(defaults().default_quota),
    ))]
    pub default_quota: Option<Quota>,
    #[arg(long, env = "MIOFTPD_PARTIAL_MAX_AGE_HOURS", value_name = "H", help = shown(
        "Hours after which an untouched partial upload is deleted",
        defaults().partial_max_age.as_secs() / 3600,
    ))]
    pub partial_max_age_hours: Option<u64>,
    #[arg(long, env = "MIOFTPD_MAX_PER_IP", value_name = "N", help = shown(
        "Most simultaneous connections from one IP address (0: no limit)",
        defaults().max_per_ip,
    ))]
    pub max_per_ip: Option<usize>,
    #[arg(long, env = "MIOFTPD_LOGIN_MAX_FAILURES", value_name = "N", help = shown(
        "Failed logins for one user from one address within the window before \
         that user is refused on that address for the rest of it (0: off)",
        defaults().login_policy.max_failures,
    ))]
    pub login_max_failures: Option<usize>,
    #[arg(long, env = "MIOFTPD_LOGIN_MAX_FAILURES_PER_IP", value_name = "N", help = shown(
        "Failed logins from one address, for any users, within the window \
         before the address is refused for everyone for the rest of it (0: off)",
        defaults().login_policy.max_failures_per_ip,
    ))]
    pub login_max_failures_per_ip: Option<usize>,
    #[arg(long, env = "MIOFTPD_LOGIN_MAX_FAILURES_PER_USER", value_name = "N", help = shown(
        "Failed logins for one user from all addresses (one forgiven per \
         window) after which each failure locks the user, except on addresses \
         it recently logged in from, for 1, 2, 4, ... seconds (0: off)",
        defaults().login_policy.max_failures_per_user,
    ))]
    pub login_max_failures_per_user: Option<usize>,
    #[arg(long, env = "MIOFTPD_LOGIN_MAX_BACKOFF", value_name = "S", value_parser = clap::value_parser!(u64).range(1..),
        help = shown("The longest of those per-user locks, in seconds", secs(defaults().login_policy.max_backoff)))]
    pub login_max_backoff: Option<u64>,
    #[arg(long, env = "MIOFTPD_LOGIN_WINDOW", value_name = "S", value_parser = clap::value_parser!(u64).range(1..),
        help = shown("The throttling window, in seconds", secs(defaults().login_policy.window)))]
    pub login_window: Option<u64>,
    #[arg(long, env = "MIOFTPD_NAME_CHECK_MAX", value_name = "N", help = shown(
        "check_user queries (is a name free?) allowed per address within the \
         name-check window; every query counts (0: no limit)",
        defaults().name_check_policy.max,
    ))]
    pub name_check_max: Option<usize>,
    #[arg(long, env = "MIOFTPD_NAME_CHECK_WINDOW", value_name = "S", value_parser = clap::value_parser!(u64).range(1..),
        help = shown("The name-check window, in seconds", secs(defaults().name_check_policy.window)))]
    pub name_check_window: Option<u64>,
    #[arg(long, env = "MIOFTPD_SHUTDOWN_GRACE", value_name = "S", help = shown(
        "Seconds in-flight transfers may continue after SIGINT/SIGTERM",
        secs(defaults().shutdown_grace),
    ))]
    pub shutdown_grace: Option<u64>,
    #[arg(long, env = "MIOFTPD_REGISTRATION", value_name = "POLICY", help = shown(
        "Who may register: `open` (anyone with the key), `token` (only with an \
         invitation from `mioftpd accounts invite`) or `closed` (password-reset \
         tokens still work)",
        defaults().registration,
    ))]
    pub registration: Option<Registration>,
    #[arg(long, env = "MIOFTPD_UMASK", value_name = "UMASK", help = shown(
        "Octal umask for what users store: uploads get 0666 and folders 0777 \
         without these bits (027: 0640 and 0750)",
        Umask(defaults().umask),
    ))]
    pub umask: Option<Umask>,
    #[arg(
        long,
        env = "MIOFTPD_STRICT_PERMS",
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        help = shown(
            "Refuse to start, rather than warn, when server.key or accounts/ is \
             accessible to its group or others",
            defaults().strict_perms,
        ),
    )]
    pub strict_perms: Option<bool>,
}

impl Settings {
    /// Overrides the settings this layer gives; leaves the others as they are.
    pub fn apply(&self, c: &mut Config) {
        let s = self.clone();
        let secs = Duration::from_secs;
        set(&mut c.root, s.root);
        set(&mut c.listen, s.listen);
        set(&mut c.key_file, s.key_file.map(Some));
        set(&mut c.min_iterations, s.min_iterations);
        set(&mut c.min_password_len, s.min_password_len);
        set(&mut c.handshake_timeout, s.handshake_timeout.map(secs));
        set(&mut c.idle_timeout, s.idle_timeout.map(secs));
        set(&mut c.transfer_timeout, s.transfer_timeout.map(secs));
        set(&mut c.max_connections, s.max_connections);
        set(&mut c.default_quota, s.default_quota.map(|q| q.0));
        set(&mut c.partial_max_age, s.partial_max_age_hours.map(|h| secs(h.saturating_mul(3600))));
        set(&mut c.max_per_ip, s.max_per_ip);
        set(&mut c.login_policy.max_failures, s.login_max_failures);
        set(&mut c.login_policy.max_failures_per_ip, s.login_max_failures_per_ip);
        set(&mut c.login_policy.max_failures_per_user, s.login_max_failures_per_user);
        set(&mut c.login_policy.max_backoff, s.login_max_backoff.map(secs));
        set(&mut c.login_policy.window, s.login_window.map(secs));
        set(&mut c.name_check_policy.max, s.name_check_max);
        set(&mut c.name_check_policy.window, s.name_check_window.map(secs));
        set(&mut c.shutdown_grace, s.shutdown_grace.map(secs));
        set(&mut c.registration, s.registration);
        set(&mut c.umask, s.umask.map(|u| u.0));
        set(&mut c.strict_perms, s.strict_perms);
    }

    /// Every setting of `c` (the key file only when one is configured):
    /// applied to any `Config`, it gives `c` back.
    pub fn of(c: &Config) -> Settings {
        let secs = |d: Duration| Some(d.as_secs());
        Settings {
            root: Some(c.root.clone()),
            listen: Some(c.listen),
            key_file: c.key_file.clone(),
            min_iterations: Some(c.min_iterations),
            min_password_len: Some(c.min_password_len),
            handshake_timeout: secs(c.handshake_timeout),
            idle_timeout: secs(c.idle_timeout),
            transfer_timeout: secs(c.transfer_timeout),
            max_connections: Some(c.max_connections),
            default_quota: Some(Quota(c.default_quota)),
            partial_max_age_hours: Some(c.partial_max_age.as_secs() / 3600),
            max_per_ip: Some(c.max_per_ip),
            login_max_failures: Some(c.login_policy.max_failures),
            login_max_failures_per_ip: Some(c.login_policy.max_failures_per_ip),
            login_max_failures_per_user: Some(c.login_policy.max_failures_per_user),
            login_max_backoff: secs(c.login_policy.max_backoff),
            login_window: secs(c.login_policy.window),
            name_check_max: Some(c.name_check_policy.max),
            name_check_window: secs(c.name_check_policy.window),
            shutdown_grace: secs(c.shutdown_grace),
            registration: Some(c.registration),
            umask: Some(Umask(c.umask)),
            strict_perms: Some(c.strict_perms),
        }
    }
}

fn set<T>(slot: &mut T, layer: Option<T>) {
    if let Some(value) = layer {
        *slot = value;
    }
}

/// The settings a server starts from before any layer: the source of the
/// defaults `--help` shows.
fn defaults() -> Config {
    Config::new(".")
}

fn secs(d: Duration) -> u64 {
    d.as_secs()
}

/// Help text that ends with the default, the way clap shows one.
fn shown(help: &str, default: impl std::fmt::Display) -> String {
    format!("{help} [default: {default}]")
}

#[cfg(test)]
mod tests;
