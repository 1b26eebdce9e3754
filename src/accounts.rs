//! The account store: one JSON file per user, `accounts/<user>.json`.
//!
//! A record holds only what SCRAM needs on the server side (salt, iteration
//! count, StoredKey, ServerKey), never a password or anything that lets one be
//! replayed. Creation is crash-safe and exclusive: the record is written to a
//! temporary file, fsynced, then hard-linked to its final name. `link(2)` fails
//! if the name exists, so two registrations of one name cannot both win, and a
//! reader never sees a half-written record. Temporaries left by a crash are
//! removed at start.

use crate::admin::record::{self, AccountFile};
use crate::keys::sync_dir;
use crate::protocol::scram::{self, Key};
use serde::{Deserialize, Serialize};
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// Prefix of temporary files in the accounts folder; never a valid username
/// (usernames cannot start with '.').
const TMP_PREFIX: &str = ".tmp-";

/// One account as stored on disk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// Record format version.
    pub v: u32,
    pub user: String,
    /// Base64 salt for PBKDF2.
    pub salt: String,
    pub iterations: u32,
    /// Base64 StoredKey = H(ClientKey).
    pub stored_key: String,
    /// Base64 ServerKey.
    pub server_key: String,
    /// RFC 3339 UTC creation time.
    pub created: String,
    /// Byte quota; `null` means the server's default.
    #[serde(default)]
    pub quota: Option<u64>,
    /// Set by `mioftpd accounts disable`: logins are refused.
    #[serde(default, skip_serializing_if = "is_false")]
    pub disabled: bool,
    /// RFC 3339 UTC time of the last successful login, to the minute or so
    /// (see [`AccountStore::record_login`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_login: Option<String>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// The new SCRAM material of a password reset.
#[derive(Debug, Clone, Copy)]
pub struct NewCredentials<'a> {
    pub salt: &'a str,
    pub iterations: u32,
    pub stored_key: &'a str,
    pub server_key: &'a str,
}

/// The decoded SCRAM material of an account.
#[derive(Clone)]
pub struct Credentials {
    pub salt: Vec<u8>,
    pub iterations: u32,
    pub stored_key: Key,
    pub server_key: Key,
}

/// Why an account's SCRAM material cannot be used to log in.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unusable {
    #[error("the account record is damaged")]
    Damaged,
    /// Stored with more PBKDF2 iterations than the protocol allows (written
    /// before the ceiling existed, or by hand). No front end may hand these
    /// parameters out or run that KDF.
    #[error(
        "this account is stored with {0} PBKDF2 iterations, more than the maximum of {max}; it cannot be used \
         until an administrator resets it",
        max = scram::MAX_ITERATIONS
    )]
    TooCostly(u32),
}

impl Account {
    /// Decodes the base64 fields, refusing a damaged record and an iteration
    /// count above [`scram::MAX_ITERATIONS`].
    pub fn credentials(&self) -> Result<Credentials, Unusable> {
        if self.iterations > scram::MAX_ITERATIONS {
            return Err(Unusable::TooCostly(self.iterations));
        }
        Ok(Credentials {
            salt: scram::unb64(&self.salt).ok_or(Unusable::Damaged)?,
            iterations: self.iterations,
            stored_key: scram::unb64_key(&self.stored_key).ok_or(Unusable::Damaged)?,
            server_key: scram::unb64_key(&self.server_key).ok_or(Unusable::Damaged)?,
        })
    }
}

/// Why an account could not be created.
#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    #[error("an account with that username already exists")]
    Exists,
    #[error("account store I/O error: {0}")]
    Io(#[from] io::Error),
}

/// The folder of account records.
#[derive(Debug)]
pub struct AccountStore {
    dir: PathBuf,
}

impl AccountStore {
    /// Opens the store, creating the folder and removing crash leftovers.
    pub fn open(dir: &Path) -> io::Result<AccountStore> {
        // 0700: it holds the server's secret and the token hashes too.
        fs::DirBuilder::new().recursive(true).mode(crate::perms::ACCOUNTS_DIR_MODE).create(dir)?;
        for entry in fs::read_dir(dir)? {
            let entry = entry?;
            if entry.file_name().to_string_lossy().starts_with(TMP_PREFIX) {
                log::info!("removing unfinished account record {}", entry.path().display());
                let _ = fs::remove_file(entry.path());
            }
        }
        Ok(AccountStore { dir: dir.to_owned() })
    }

    fn path(&self, user: &str) -> PathBuf {
        self.dir.join(format!("{user}.json"))
    }

    /// Loads a user's record. `Ok(None)` if there is no such user. The caller
    /// must have validated `user` (it becomes a file name).
    pub fn load(&self, user: &str) -> io::Result<Option<Account>> {
        let bytes = match fs::read(self.path(user)) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        serde_json::from_slice(&bytes).map(Some).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
    }

    /// Sets `last_login` to `at` in `user`'s record, keeping every other
    /// field. A durable rewrite (fsync), so the caller does it at most about
    /// once a minute per user; it runs in the event loop today and belongs
    /// to the worker pool once there is one. `Ok(false)`: no such account.
    pub fn record_login(&self, user: &str, at: &str) -> io::Result<bool> {
        self.update(user, |r| r.last_login = Some(at.to_owned()))
    }

    /// Replaces `user`'s SCRAM material (a password reset), keeping the
    /// rest of the record (creation time, quota, disabled, unknown fields).
    /// Atomic and durable: a reader sees the old record or the new one.
    /// `Ok(false)`: no such account.
    pub fn replace_credentials(&self, user: &str, new: NewCredentials<'_>) -> io::Result<bool> {
        self.update(user, |r| {
            r.rest.insert("salt".to_owned(), new.salt.into());
            r.rest.insert("iterations".to_owned(), new.iterations.into());
            r.rest.insert("stored_key".to_owned(), new.stored_key.into());
            r.rest.insert("server_key".to_owned(), new.server_key.into());
        })
    }

    /// Loads `user`'s record as the administrator's view (every field kept),
    /// lets `change` edit it, and rewrites it (see [`crate::admin::record`]).
    fn update(&self, user: &str, change: impl FnOnce(&mut AccountFile)) -> io::Result<bool> {
        let Some(mut record) = record::load(&self.dir, user)? else { return Ok(false) };
        change(&mut record);
        record::rewrite(&self.dir, &record)?;
        Ok(true)
    }

    /// Writes a new record durably and exclusively.
    pub fn create(&self, account: &Account) -> Result<(), CreateError> {
        let final_path = self.path(&account.user);
        let mut nonce = [0u8; 8];
        getrandom::fill(&mut nonce).map_err(io::Error::other)?;
        let tmp = self.dir.join(format!("{TMP_PREFIX}{}-{}", account.user, hex::encode(nonce)));
        let result = (|| {
            let mut file =
                OpenOptions::new().write(true).create_new(true).mode(crate::perms::ACCOUNT_FILE_MODE).open(&tmp)?;
            let mut text = serde_json::to_vec_pretty(account).map_err(io::Error::other)?;
            text.push(b'\n');
            file.write_all(&text)?;
            file.sync_all()?;
            match fs::hard_link(&tmp, &final_path) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(CreateError::Exists),
                Err(e) => Err(CreateError::Io(e)),
            }
        })();
        let _ = fs::remove_file(&tmp);
        result?;
        sync_dir(&self.dir)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(user: &str) -> Account {
        Account {
            v: 1,
            user: user.into(),
            salt: scram::b64(b"0123456789abcdef"),
            iterations: 4096,
            stored_key: scram::b64(&[1; 32]),
            server_key: scram::b64(&[2; 32]),
            created: "2026-01-01T00:00:00.000Z".into(),
            quota: None,
            disabled: false,
            last_login: None,
        }
    }

    #[test]
    fn create_then_load_round_trips_and_leaves_no_temporaries() {
        let dir = tempfile::tempdir().unwrap();
        let store = AccountStore::open(dir.path()).unwrap();
        store.create(&account("alice")).unwrap();
        assert_eq!(store.load("alice").unwrap(), Some(account("alice")));
        assert!(store.load("bob").unwrap().is_none());
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, vec!["alice.json"]);
        let creds = store.load("alice").unwrap().unwrap().credentials().unwrap();
        assert_eq!(creds.stored_key, [1; 32]);
    }

    #[test]
    fn a_second_create_of_the_same_name_fails_and_keeps_the_first() {
        let dir = tempfile::tempdir().unwrap();
        let store = AccountStore::open(dir.path()).unwrap();
        store.create(&account("alice")).unwrap();
        let mut other = account("alice");
        other.iterations = 9999;
        assert!(matches!(store.create(&other), Err(CreateError::Exists)));
        assert_eq!(store.load("alice").unwrap().unwrap().iterations, 4096);
    }

    #[test]
    fn credentials_refuse_damaged_records_and_more_than_the_maximum_iterations() {
        let mut a = account("alice");
        a.iterations = scram::MAX_ITERATIONS;
        assert!(a.credentials().is_ok());
        a.iterations = scram::MAX_ITERATIONS + 1;
        assert_eq!(a.credentials().err(), Some(Unusable::TooCostly(scram::MAX_ITERATIONS + 1)));
        let mut b = account("bob");
        b.stored_key = "not base64!".into();
        assert_eq!(b.credentials().err(), Some(Unusable::Damaged));
    }

    #[test]
    fn a_login_time_and_a_password_reset_rewrite_the_record_keeping_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let store = AccountStore::open(dir.path()).unwrap();
        store.create(&Account { quota: Some(7), disabled: true, ..account("alice") }).unwrap();
        // A field a newer server added survives both rewrites.
        let path = dir.path().join("alice.json");
        let mut raw: serde_json::Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
        raw["future"] = "kept".into();
        fs::write(&path, serde_json::to_vec(&raw).unwrap()).unwrap();
        assert!(store.record_login("alice", "2026-11-23T07:00:00.000Z").unwrap());
        let salt = scram::b64(b"fedcba9876543210");
        let (stored, server) = (scram::b64(&[3; 32]), scram::b64(&[4; 32]));
        let new = NewCredentials { salt: &salt, iterations: 5000, stored_key: &stored, server_key: &server };
        assert!(store.replace_credentials("alice", new).unwrap());
        let a = store.load("alice").unwrap().unwrap();
        assert_eq!((a.quota, a.disabled, a.last_login.as_deref()), (Some(7), true, Some("2026-11-23T07:00:00.000Z")));
        assert_eq!((a.iterations, a.created.as_str()), (5000, "2026-01-01T00:00:00.000Z"));
        let creds = a.credentials().unwrap();
        assert_eq!((creds.stored_key, creds.server_key), ([3; 32], [4; 32]));
        let raw: serde_json::Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
        assert_eq!(raw["future"], "kept");
        assert!(!store.record_login("bob", "2026-11-23T07:00:00.000Z").unwrap(), "no such account");
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, vec!["alice.json"], "no temporaries left");
    }

    #[test]
    fn crash_leftovers_are_removed_at_open() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(".tmp-alice-00"), b"{\"half").unwrap();
        AccountStore::open(dir.path()).unwrap();
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
