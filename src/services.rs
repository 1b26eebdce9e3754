//! The server-wide state that sessions act on: settings, keys, the storage
//! (homes and accounts) and the audit logs.
//!
//! A session is given `&mut Services` for each call instead of owning any of
//! it. That keeps sessions free of sockets and shareable state, and lets the
//! unit tests and fuzz targets drive a session against a temporary folder or
//! an in-memory storage.

use crate::admin::TokenStore;
use crate::audit::AuditLog;
use crate::config::Config;
use crate::keys;
use crate::perms::{self, Secret};
use crate::protocol::scram::{self, Key};
use crate::rootlock::RootLock;
use crate::storage::Storage;
use crate::storage::disk::DiskStorage;
use crate::throttle::{NameChecks, Throttle};
use crate::users::Users;
use std::io;
use std::sync::Arc;

/// Shared, single-threaded server state.
pub struct Services {
    pub config: Config,
    /// The pre-shared connection key (exact bytes of the key file).
    pub key: Vec<u8>,
    /// Private secret for fake salts of unknown users; never sent.
    secret: Vec<u8>,
    /// Homes and account records: every filesystem effect of a session but
    /// the tokens below.
    pub storage: Arc<dyn Storage>,
    /// Invitation and reset tokens (`accounts/.tokens/`), on disk whatever
    /// the storage: they are written by `mioftpd accounts`, which edits the
    /// data root's files.
    pub tokens: TokenStore,
    /// The audit logs stay outside the storage: append-only files of the
    /// server's own, not user data.
    pub audit: AuditLog,
    /// Logged-in users' homes, usage and uploads.
    pub users: Users,
    /// Failed-login throttling.
    pub throttle: Throttle,
    /// Rate limit on `check_user` (a user-enumeration oracle by nature).
    pub name_checks: NameChecks,
    /// One process per data root: held as long as these services live.
    _root_lock: RootLock,
}

impl Services {
    /// Opens everything under `config.root`, creating what is missing, with
    /// homes and accounts on disk.
    pub fn open(config: Config) -> io::Result<Services> {
        let root_lock = prepare_root(&config)?;
        make_dir(&config.home_dir(), "home folder", 0o777)?;
        let storage = DiskStorage::open(&config)?;
        Services::assemble(config, Arc::new(storage), root_lock)
    }

    /// Like [`Services::open`], with homes and accounts in `storage`; the
    /// root lock, the key files, the token store and the audit logs are
    /// still under `config.root`.
    pub fn with_storage(config: Config, storage: Arc<dyn Storage>) -> io::Result<Services> {
        let root_lock = prepare_root(&config)?;
        Services::assemble(config, storage, root_lock)
    }

    /// The rest of [`Services::open`] and [`Services::with_storage`], once
    /// the root is locked and checked.
    fn assemble(config: Config, storage: Arc<dyn Storage>, root_lock: RootLock) -> io::Result<Services> {
        make_dir(&config.accounts_dir(), "accounts folder", perms::ACCOUNTS_DIR_MODE)?;
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
            storage,
            tokens,
            audit,
            users: Users::default(),
            throttle,
            name_checks,
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

/// The checks and the lock every set of services starts with: the settings
/// are valid, the data root exists, this process holds its lock, and no
/// secret is open to others (or only a warning, without `--strict-perms`).
fn prepare_root(config: &Config) -> io::Result<RootLock> {
    config.validate().map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    make_dir(&config.root, "data root (--root)", perms::DATA_ROOT_MODE)?;
    // Before anything else under the root: a second server must not even
    // sweep the first one's temporaries (`DiskStorage::open` does).
    let root_lock = RootLock::acquire(&config.root, "server").map_err(|e| {
        let kind = match &e {
            crate::rootlock::LockError::Io { source, .. } => source.kind(),
            crate::rootlock::LockError::Held { .. } => io::ErrorKind::AddrInUse,
        };
        io::Error::new(kind, e.to_string())
    })?;
    check_secrets(config)?;
    Ok(root_lock)
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
