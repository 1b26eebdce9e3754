//! File modes: what the server creates files and folders with, and the check
//! at start that its secrets are not readable by others.
//!
//! Files users store are private to the server's user and group: uploads
//! 0640 and folders 0750 by default, or `0666 & !umask` and `0777 & !umask`
//! under a configured `umask`. Audit logs are 0640, account records and keys
//! 0600, the accounts folder 0700 and the data root 0750. These are the modes
//! passed to `open`/`mkdir`; the process umask can only take bits away, so
//! a umask looser than the process's needs the process umask lowered first
//! (see [`Modes::process_umask`]).
//!
//! At start, [`check_secrets`] looks at `server.key`, `accounts/` and the TLS
//! key: any bit for group or others is a warning, and with `--strict-perms`
//! an error that stops the server.

use std::fmt;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Audit logs.
pub const LOG_FILE_MODE: u32 = 0o640;
/// Account records (already 0600 today).
pub const ACCOUNT_FILE_MODE: u32 = 0o600;
/// The accounts folder: it holds the secret and the token hashes too.
pub const ACCOUNTS_DIR_MODE: u32 = 0o700;
/// `server.key`, the TLS key, and `accounts/.secret`.
pub const KEY_FILE_MODE: u32 = 0o600;
/// The data root.
pub const DATA_ROOT_MODE: u32 = 0o750;
/// `<root>/.lock`.
pub const LOCK_FILE_MODE: u32 = 0o600;
/// `<root>/admin.sock`.
pub const ADMIN_SOCKET_MODE: u32 = 0o600;
/// The default umask for what users store: uploads 0640, folders 0750.
pub const DEFAULT_UMASK: u32 = 0o027;

/// The modes for what users store (uploads, their folders, partial uploads).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Modes {
    umask: u32,
}

impl Default for Modes {
    fn default() -> Self {
        Modes { umask: DEFAULT_UMASK }
    }
}

impl Modes {
    /// Modes under `umask` (only its 0o777 bits count).
    pub fn with_umask(umask: u32) -> Modes {
        Modes { umask: umask & 0o777 }
    }

    /// Parses an octal umask as written in a config file or flag: `027`, `0o027`, `0027`.
    pub fn parse_umask(text: &str) -> Result<Modes, String> {
        let t = text.trim();
        let digits = t.strip_prefix("0o").unwrap_or(t);
        match u32::from_str_radix(digits, 8) {
            Ok(v) if v <= 0o777 && !digits.is_empty() => Ok(Modes::with_umask(v)),
            _ => Err(format!("invalid umask \"{text}\": use three octal digits such as 027")),
        }
    }

    pub fn umask(&self) -> u32 {
        self.umask
    }

    /// Mode for an uploaded file (0640 by default).
    pub fn file(&self) -> u32 {
        0o666 & !self.umask
    }

    /// Mode for a folder made by `mkdir` or for a home (0750 by default).
    pub fn dir(&self) -> u32 {
        0o777 & !self.umask
    }

    /// The process umask the server should set at start (`umask(2)`), so
    /// that [`Modes::file`] and [`Modes::dir`] come out exactly even when
    /// they are looser than the umask it was started with. Secrets and logs
    /// are created with explicit modes that a umask can only narrow, so they
    /// stay private whatever is set here.
    pub fn process_umask(&self) -> u32 {
        self.umask
    }
}

/// What kind of secret a path is (for the message).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Secret {
    /// `server.key`, the pre-shared connection key.
    ServerKey,
    /// `accounts/`, the account records and the server's secret.
    AccountsDir,
    /// The TLS private key.
    TlsKey,
}

impl Secret {
    fn describe(self) -> &'static str {
        match self {
            Secret::ServerKey => "the pre-shared key",
            Secret::AccountsDir => "the accounts folder",
            Secret::TlsKey => "the TLS private key",
        }
    }

    fn wanted(self) -> u32 {
        match self {
            Secret::ServerKey | Secret::TlsKey => KEY_FILE_MODE,
            Secret::AccountsDir => ACCOUNTS_DIR_MODE,
        }
    }
}

/// One secret that others can reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PermWarning {
    pub path: PathBuf,
    pub what: Secret,
    /// The permission bits found (`mode & 0o777`).
    pub mode: u32,
}

impl fmt::Display for PermWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let who = match (self.mode & 0o070 != 0, self.mode & 0o007 != 0) {
            (true, true) => "its group and all users",
            (true, false) => "its group",
            _ => "all users",
        };
        write!(
            f,
            "{} {} has mode {:04o}: {who} can access it; run `chmod {:o} {}`",
            self.what.describe(),
            self.path.display(),
            self.mode,
            self.what.wanted(),
            self.path.display()
        )
    }
}

/// Why the server refuses to start under `--strict-perms`.
#[derive(Debug, thiserror::Error)]
pub enum PermError {
    #[error("refusing to start (--strict-perms): {}", join(.0))]
    Exposed(Vec<PermWarning>),
    #[error("cannot check the mode of {}: {source}", .path.display())]
    Io { path: PathBuf, source: io::Error },
}

fn join(warnings: &[PermWarning]) -> String {
    warnings.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
}

/// Checks each `(path, kind)`: any permission bit for group or others is a
/// warning (a secret readable, writable or searchable by others). A path
/// that does not exist is skipped: it is created later with the right mode,
/// or it is not configured. With `strict`, any warning is an error.
pub fn check_secrets(paths: &[(&Path, Secret)], strict: bool) -> Result<Vec<PermWarning>, PermError> {
    let mut warnings = Vec::new();
    for &(path, what) in paths {
        let meta = match std::fs::metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(source) => return Err(PermError::Io { path: path.to_owned(), source }),
        };
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            warnings.push(PermWarning { path: path.to_owned(), what, mode });
        }
    }
    if strict && !warnings.is_empty() {
        return Err(PermError::Exposed(warnings));
    }
    Ok(warnings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn chmod(path: &Path, mode: u32) {
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn the_default_modes_are_0640_and_0750_and_a_umask_changes_them() {
        let m = Modes::default();
        assert_eq!((m.file(), m.dir()), (0o640, 0o750));
        let open = Modes::parse_umask("022").unwrap();
        assert_eq!((open.file(), open.dir()), (0o644, 0o755));
        let private = Modes::parse_umask("0o077").unwrap();
        assert_eq!((private.file(), private.dir()), (0o600, 0o700));
        assert_eq!(Modes::parse_umask("0007").unwrap().file(), 0o660);
        for bad in ["", "8", "1000", "rwx", "0o"] {
            assert!(Modes::parse_umask(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn private_secrets_give_no_warning_and_missing_ones_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("server.key");
        let accounts = dir.path().join("accounts");
        fs::write(&key, b"k").unwrap();
        fs::create_dir(&accounts).unwrap();
        chmod(&key, 0o600);
        chmod(&accounts, 0o700);
        let tls = dir.path().join("absent-tls.key");
        let paths = [
            (key.as_path(), Secret::ServerKey),
            (accounts.as_path(), Secret::AccountsDir),
            (tls.as_path(), Secret::TlsKey),
        ];
        assert_eq!(check_secrets(&paths, true).unwrap(), vec![]);
    }

    #[test]
    fn exposed_secrets_are_warnings_and_strict_makes_them_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("server.key");
        let tls = dir.path().join("server-tls.key");
        let accounts = dir.path().join("accounts");
        fs::write(&key, b"k").unwrap();
        fs::write(&tls, b"k").unwrap();
        fs::create_dir(&accounts).unwrap();
        chmod(&key, 0o644);
        chmod(&tls, 0o640);
        chmod(&accounts, 0o711);
        let paths = [
            (key.as_path(), Secret::ServerKey),
            (accounts.as_path(), Secret::AccountsDir),
            (tls.as_path(), Secret::TlsKey),
        ];
        let warnings = check_secrets(&paths, false).unwrap();
        let found: Vec<(Secret, u32)> = warnings.iter().map(|w| (w.what, w.mode)).collect();
        assert_eq!(found, vec![(Secret::ServerKey, 0o644), (Secret::AccountsDir, 0o711), (Secret::TlsKey, 0o640)]);
        let text = warnings[0].to_string();
        assert!(text.contains("server.key") && text.contains("0644") && text.contains("chmod 600"), "{text}");
        assert!(warnings[2].to_string().contains("its group can"), "{}", warnings[2]);
        let err = check_secrets(&paths, true).unwrap_err();
        assert!(matches!(&err, PermError::Exposed(w) if w.len() == 3));
        assert!(err.to_string().starts_with("refusing to start (--strict-perms)"));
    }
}
