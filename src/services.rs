//! The server-wide state that sessions act on: settings, keys, the storage
//! (homes and accounts) and the audit logs.
//!
//! A session is given `&mut Services` for each call instead of owning any of
//! it. That keeps sessions free of sockets and shareable state, and lets the
//! unit tests and fuzz targets drive a session against a temporary folder or
//! an in-memory storage.

use crate::audit::AuditLog;
use crate::config::Config;
use crate::keys;
use crate::protocol::scram::{self, Key};
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
    /// Homes and account records: every filesystem effect of a session.
    pub storage: Arc<dyn Storage>,
    /// The audit logs stay outside the storage: append-only files of the
    /// server's own, not user data.
    pub audit: AuditLog,
    /// Logged-in users' homes, usage and uploads.
    pub users: Users,
    /// Failed-login throttling.
    pub throttle: Throttle,
    /// Rate limit on `check_user` (a user-enumeration oracle by nature).
    pub name_checks: NameChecks,
    /// The FTP front end's recently verified passwords (memory only).
    pub ftp_logins: crate::ftp::session::CredentialCache,
}

impl Services {
    /// Opens everything under `config.root`, creating what is missing, with
    /// homes and accounts on disk.
    pub fn open(config: Config) -> io::Result<Services> {
        check_iterations(&config)?;
        make_dir(&config.root, "data root (--root)")?;
        make_dir(&config.home_dir(), "home folder")?;
        let storage = DiskStorage::open(&config)?;
        Services::with_storage(config, Arc::new(storage))
    }

    /// Like [`Services::open`], with homes and accounts in `storage`; the
    /// key files and audit logs are still under `config.root`.
    pub fn with_storage(config: Config, storage: Arc<dyn Storage>) -> io::Result<Services> {
        check_iterations(&config)?;
        make_dir(&config.root, "data root (--root)")?;
        make_dir(&config.accounts_dir(), "accounts folder")?;
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
        let ftp_logins = crate::ftp::session::CredentialCache::new(config.ftp.login_cache_ttl)?;
        Ok(Services { config, key, secret, storage, audit, users: Users::default(), throttle, name_checks, ftp_logins })
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

/// Refuses an iteration policy outside what the KDF allows.
fn check_iterations(config: &Config) -> io::Result<()> {
    let max = scram::MAX_ITERATIONS;
    if !(1..=max).contains(&config.min_iterations) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("the PBKDF2 iteration policy must be 1 to {max}, not {}", config.min_iterations),
        ));
    }
    Ok(())
}

/// Creates a folder the server needs, or says which path is wrong and what
/// was expected of it (a bare "File exists" names nothing).
fn make_dir(path: &std::path::Path, what: &str) -> io::Result<()> {
    if path.exists() && !path.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::NotADirectory,
            format!("{what} {} is not a directory; give a folder (it is created if missing)", path.display()),
        ));
    }
    std::fs::create_dir_all(path)
        .map_err(|e| io::Error::new(e.kind(), format!("cannot create the {what} {}: {e}", path.display())))
}
