//! The benchmark's account, and the cache that keeps the client's KDF out of
//! the figures: PBKDF2 runs once per (salt, iterations), and every later login
//! reuses the SaltedPassword through `Client::login_with`. What is timed is
//! then the connection, the key check and the SCRAM exchange, which is the
//! server's share plus a few client HMACs.

use anyhow::{Context, Result};
use mioftp_client::Client;
use mioftp_proto::ErrorCode;
use mioftp_proto::scram::{self, ClientKeys, Key};
use serde::{Deserialize, Serialize};
use std::sync::Mutex;

/// A user, its password, and the derived keys seen so far.
pub struct Creds {
    pub user: String,
    password: String,
    cache: Mutex<Vec<Derived>>,
}

/// One SaltedPassword, for handing to helper processes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Derived {
    pub salt_hex: String,
    pub iterations: u32,
    pub salted_hex: String,
}

impl Creds {
    pub fn new(user: &str, password: &str) -> Creds {
        Creds { user: user.to_owned(), password: password.to_owned(), cache: Mutex::new(Vec::new()) }
    }

    pub fn password(&self) -> &str {
        &self.password
    }

    /// Seeds the cache (helper processes get the parent's derivations).
    pub fn preload(&self, derived: Vec<Derived>) {
        self.cache.lock().unwrap_or_else(|e| e.into_inner()).extend(derived);
    }

    /// Every derivation so far.
    pub fn derived(&self) -> Vec<Derived> {
        self.cache.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// SaltedPassword for this salt and count: from the cache, or derived once.
    pub fn salted(&self, salt: &[u8], iterations: u32) -> Key {
        let salt_hex = hex::encode(salt);
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        let hit = cache.iter().find(|d| d.salt_hex == salt_hex && d.iterations == iterations);
        if let Some(key) = hit.and_then(|d| hex::decode(&d.salted_hex).ok()).and_then(|k| Key::try_from(k).ok()) {
            return key;
        }
        let key = scram::salted_password(self.password.as_bytes(), salt, iterations);
        cache.push(Derived { salt_hex, iterations, salted_hex: hex::encode(key) });
        key
    }

    /// The salt this benchmark registers with: fixed per user name, so a
    /// rerun against the same external server finds the cache still valid.
    fn salt(&self) -> [u8; scram::SALT_LEN] {
        let digest = scram::sha256(format!("mioftp-bench salt for {}", self.user).as_bytes());
        let mut salt = [0u8; scram::SALT_LEN];
        salt.copy_from_slice(&digest[..scram::SALT_LEN]);
        salt
    }

    /// Creates the account at the server's least iteration count; an
    /// existing account (an external server, a second run) is fine.
    pub fn register(&self, addr: &str, key: &[u8]) -> Result<()> {
        let mut client = Client::connect(addr, key).context("connecting to register")?;
        let iterations = client.hello().min_iterations.max(1);
        let salt = self.salt();
        let keys = ClientKeys::from_salted(&self.salted(&salt, iterations));
        match client.register_keys(&self.user, &salt, iterations, &keys) {
            Ok(()) => Ok(()),
            Err(e) if e.code() == Some(ErrorCode::UserExists) => Ok(()),
            Err(e) => Err(e).context("registering the benchmark account"),
        }
    }

    /// Connects, passes the key check and logs in, using the cached keys.
    pub fn login(&self, addr: &str, key: &[u8]) -> Result<Client> {
        let mut client = Client::connect(addr, key)?;
        client.login_with(&self.user, |salt, iterations| self.salted(salt, iterations))?;
        Ok(client)
    }
}
