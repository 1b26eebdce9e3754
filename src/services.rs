//! The server-wide state that sessions act on: settings, keys, the account
//! store and the audit logs.
//!
//! A session is given `&mut Services` for each call instead of owning any of
//! it. That keeps sessions free of sockets and shareable state, and lets the
//! unit tests and fuzz targets drive a session against a temporary folder.

use crate::accounts::AccountStore;
use crate::admin::TokenStore;
use crate::audit::AuditLog;
use crate::config::Config;
use crate::keys;
use crate::perms::{self, Secret};
use crate::protocol::scram::{self, Key};
use crate::rootlock::RootLock;
use crate::throttle::{NameChecks, Throttle};
use crate::users::Users;
use std::io;

/// Shared, single-threaded server state.
pub struct Services {
    pub config: Config,
    /// The pre-shared connection key (exact bytes of the key file).
    pub key: Vec<u8>,
    /// Private secret for fake salts of unknown users; never sent.
    secret: Vec<u8>,
    pub accounts: AccountStore,
    /// Invitation and reset tokens (`accounts/.tokens/`).
    pub tokens: TokenStore,
    pub audit: AuditLog,
    /// Logged-in users' homes, usage and uploads.
    pub users: Users,
    /// Failed-login throttling.
    pub throttle: Throttle,
    /// Rate limit on `check_user` (a user-enumeration oracle by nature).
    pub name_checks: NameChecks,
    /// Upload bytes written in total (drives the disk-full test seam).
    pub upload_bytes_written: u64,
    /// One process per data root: held as long as these services live.
    _root_lock: RootLock,
}

impl Services {
    /// Opens everything under `config.root`, creating what is missing.
    pub fn open(config: Config) -> io::Result<Services> {
        config.validate().map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        make_dir(&config.root, "data root (--root)", perms::DATA_ROOT_MODE)?;
        // Before anything else under the root: a second server must not
        // even sweep the first one's temporaries.
        let root_lock = RootLock::acquire(&config.root, "server").map_err(|e| {
            let kind = match &e {
                crate::rootlock::LockError::Io { source, .. } => source.kind(),
                crate::rootlock::LockError::Held { .. } => io::ErrorKind::AddrInUse,
            };
            io::Error::new(kind, e.to_string())
        })?;
        check_secrets(&config)?;
        make_dir(&config.home_dir(), "home folder", 0o777)?;
        let accounts = AccountStore::open(&config.accounts_dir())?;
        let tokens = TokenStore::open(&config.accounts_dir())?;
        let audit = AuditLog::open(&config.logs_dir())?;
        let key = match &config.key_file {
            Some(path) => keys::read_key(path)
                .map_err(|e| io::Error::new(e.kind(), format!("key file {}: {e}", path.display())))?,
            None => {
                let path = config.key_path();
                let (key, created) = keys::load_or_create(&path)?;
                if created {
                    log::info!("created a new pre-shared key at {}", path.display());
                }
                key
            }
        };
        let (secret, _) = keys::load_or_create(&config.accounts_dir().join(".secret"))?;
        let throttle = Throttle::new(config.login_policy);
        let name_checks = NameChecks::new(config.name_check_policy);
        Ok(Services {
            config,
            key,
            secret,
            accounts,
            tokens,
            audit,
            users: Users::default(),
            throttle,
            name_checks,
            upload_bytes_written: 0,
            _root_lock: root_lock,
        })
    }

    /// The salt an unknown user is answered with: stable across requests and
    /// restarts (so repeating a query reveals nothing), unpredictable without
    /// the private secret, and as long as a real salt.
    pub fn fake_salt(&self, user: &str) -> Vec<u8> {
        let mac = scram::hmac(&self.secret, format!("fake-salt\0{user}").as_bytes());
        mac[..scram::SALT_LEN].to_vec()
    }

    /// A StoredKey no proof can match, for unknown users. Derived, not stored,
    /// so the unknown-user path does the same work as the real one.
    pub fn fake_stored_key(&self, user: &str) -> Key {
        scram::hmac(&self.secret, format!("fake-stored-key\0{user}").as_bytes())
    }
}

/// Warns about secrets others can reach (`--strict-perms`: refuses to start).
fn check_secrets(config: &Config) -> io::Result<()> {
    let (key, accounts) = (config.key_path(), config.accounts_dir());
    let paths = [(key.as_path(), Secret::ServerKey), (accounts.as_path(), Secret::AccountsDir)];
    match perms::check_secrets(&paths, config.strict_perms) {
        Ok(warnings) => {
            for w in warnings {
                log::warn!("{w} (--strict-perms refuses to start on this)");
            }
            Ok(())
        }
        Err(e @ perms::PermError::Exposed(_)) => Err(io::Error::new(io::ErrorKind::PermissionDenied, e.to_string())),
        Err(e) => Err(io::Error::other(e.to_string())),
    }
}

/// Creates a folder the server needs (with `mode`, less the process umask,
/// when it is new), or says which path is wrong and what was expected of it
/// (a bare "File exists" names nothing).
fn make_dir(path: &std::path::Path, what: &str, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if path.exists() && !path.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::NotADirectory,
            format!("{what} {} is not a directory; give a folder (it is created if missing)", path.display()),
        ));
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(mode)
        .create(path)
        .map_err(|e| io::Error::new(e.kind(), format!("cannot create the {what} {}: {e}", path.display())))
}
