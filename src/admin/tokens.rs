//! One-time registration tokens: invitations (`accounts invite`, for
//! `--registration token`) and password resets (`accounts reset USER`).
//!
//! A token is 128 random bits, shown once as 32 hex digits and never stored:
//! only the SHA-256 of its bytes names its record,
//! `accounts/.tokens/<sha256-hex>.json` (kind, user for a reset, quota for an
//! invitation, creation and expiry, 7 days by default). Someone who reads the
//! folder learns who has a token outstanding, not the token.
//!
//! Use is single and atomic: a consumer first *claims* the record by renaming
//! it to a unique `.claim-` name (only one rename of a name can succeed), then
//! either commits (unlinks it, once the registration is durable) or releases
//! it (renames it back, if the registration failed for a reason that is not
//! the token's). A claim left behind by a crash is deleted at open: the
//! token is spent, never reusable twice.

use super::record::QuotaSetting;
use crate::keys::sync_dir;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The folder under `accounts/`.
pub const TOKENS_DIR: &str = ".tokens";
/// How long a token stays valid unless told otherwise.
pub const DEFAULT_TTL: Duration = Duration::from_secs(7 * 24 * 3600);
/// Most tokens outstanding at once (expired ones are swept first).
pub const MAX_OUTSTANDING: usize = 10_000;
/// Largest token record read back.
const MAX_RECORD: u64 = 4096;
const CLAIM_PREFIX: &str = ".claim-";

/// What a token lets its holder do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenKind {
    /// Register a new account (any free name) under `--registration token`.
    Invite,
    /// Set a new password for one existing account.
    Reset,
}

/// The stored record (never the token itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct TokenRecord {
    v: u32,
    kind: TokenKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    quota: Option<QuotaSetting>,
    created: String,
    expires: String,
}

/// A freshly issued token's secret. Shown once; `Debug` does not show it.
pub struct Token(String);

impl Token {
    pub fn reveal(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(..)")
    }
}

/// What a valid token grants, once consumed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenGrant {
    pub kind: TokenKind,
    /// The account a reset is for.
    pub user: Option<String>,
    /// The quota an invitation gives the new account.
    pub quota: Option<QuotaSetting>,
    /// A short public id (the first 12 hex digits of the hash), for audit
    /// records that tie a registration to its invitation.
    pub id: String,
}

/// An outstanding token as listed (never the token itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenInfo {
    pub id: String,
    pub kind: TokenKind,
    pub user: Option<String>,
    pub expires: String,
}

/// Why a token was not accepted. The session must answer all of these the
/// same way on the wire (a guesser learns nothing); the variants are for logs.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// Not 32 hex digits, unknown, already used, or for another kind or user.
    #[error("invalid or already used token")]
    Invalid,
    #[error("the token has expired")]
    Expired,
    #[error("{MAX_OUTSTANDING} tokens are already outstanding")]
    TooMany,
    #[error("token store I/O error: {0}")]
    Io(#[from] io::Error),
}

/// The token folder.
#[derive(Debug)]
pub struct TokenStore {
    dir: PathBuf,
}

/// A claimed token: commit it when the registration is durable, or release it.
#[derive(Debug)]
pub struct Claim<'a> {
    store: &'a TokenStore,
    claimed: PathBuf,
    original: PathBuf,
    pub grant: TokenGrant,
    done: bool,
}

impl Claim<'_> {
    /// Spends the token for good.
    pub fn commit(mut self) -> io::Result<()> {
        self.done = true;
        fs::remove_file(&self.claimed)?;
        sync_dir(&self.store.dir)
    }

    /// Puts the token back, usable again (the registration failed for a
    /// reason of its own, such as a taken user name).
    pub fn release(mut self) -> io::Result<()> {
        self.done = true;
        fs::rename(&self.claimed, &self.original)
    }
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        if !self.done {
            // Neither committed nor released (an early return): give it back.
            let _ = fs::rename(&self.claimed, &self.original);
        }
    }
}

/// The hex SHA-256 of a token's bytes, or `None` if `text` is not a token.
fn token_hash(text: &str) -> Option<String> {
    let text = text.trim();
    if text.len() != 32 {
        return None;
    }
    let bytes = hex::decode(text.to_ascii_lowercase()).ok()?;
    Some(hex::encode(Sha256::digest(&bytes)))
}

fn ts(t: Timestamp) -> String {
    format!("{t:.3}")
}

impl TokenStore {
    /// Opens (creating, mode 0700) `<accounts>/.tokens`, deleting claims a
    /// crash left behind.
    pub fn open(accounts: &Path) -> io::Result<TokenStore> {
        let dir = accounts.join(TOKENS_DIR);
        match fs::DirBuilder::new().mode(crate::perms::ACCOUNTS_DIR_MODE).create(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
        for entry in fs::read_dir(&dir)? {
            let entry = entry?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with(CLAIM_PREFIX) || name.starts_with(".tmp-") {
                let _ = fs::remove_file(entry.path());
            }
        }
        Ok(TokenStore { dir })
    }

    fn path(&self, hash: &str) -> PathBuf {
        self.dir.join(format!("{hash}.json"))
    }

    /// Issues a token valid for `ttl` from `now`. Expired tokens are swept
    /// first; at [`MAX_OUTSTANDING`] live ones this refuses.
    pub fn issue(
        &self,
        kind: TokenKind,
        user: Option<&str>,
        quota: Option<QuotaSetting>,
        ttl: Duration,
        now: Timestamp,
    ) -> Result<(Token, TokenGrant, Timestamp), TokenError> {
        self.sweep_expired(now)?;
        if self.records()?.len() >= MAX_OUTSTANDING {
            return Err(TokenError::TooMany);
        }
        let mut raw = [0u8; 16];
        getrandom::fill(&mut raw).map_err(io::Error::other)?;
        let token = hex::encode(raw);
        let hash = hex::encode(Sha256::digest(raw));
        let ttl = SignedDuration::try_from(ttl).unwrap_or(SignedDuration::MAX);
        let expires = now.checked_add(ttl).unwrap_or(Timestamp::MAX);
        let record =
            TokenRecord { v: 1, kind, user: user.map(str::to_owned), quota, created: ts(now), expires: ts(expires) };
        let tmp = self.dir.join(format!(".tmp-{}", &hash[..16]));
        let result = (|| {
            let mut file =
                OpenOptions::new().write(true).create_new(true).mode(crate::perms::ACCOUNT_FILE_MODE).open(&tmp)?;
            file.write_all(&serde_json::to_vec(&record).map_err(io::Error::other)?)?;
            file.sync_all()?;
            // link, not rename: a (2^-128) collision must not replace a record.
            fs::hard_link(&tmp, self.path(&hash))
        })();
        let _ = fs::remove_file(&tmp);
        result?;
        sync_dir(&self.dir)?;
        let grant = TokenGrant { kind, user: record.user, quota, id: hash[..12].to_owned() };
        Ok((Token(token), grant, expires))
    }

    /// Claims `token` for `kind` (and, for a reset, `user`). On a mismatch
    /// the token is left usable; an expired one is deleted.
    pub fn claim(
        &self,
        token: &str,
        kind: TokenKind,
        user: Option<&str>,
        now: Timestamp,
    ) -> Result<Claim<'_>, TokenError> {
        self.claim_where(token, now, |r| r.kind == kind && (kind != TokenKind::Reset || r.user.as_deref() == user))
    }

    /// Claims `token` for a `register` of `user`: an invitation (any name),
    /// or a reset token for exactly `user`. The grant says which.
    pub fn claim_for(&self, token: &str, user: &str, now: Timestamp) -> Result<Claim<'_>, TokenError> {
        self.claim_where(token, now, |r| r.kind == TokenKind::Invite || r.user.as_deref() == Some(user))
    }

    /// Claims `token` if its record passes `accept`; see [`TokenStore::claim`].
    fn claim_where(
        &self,
        token: &str,
        now: Timestamp,
        accept: impl FnOnce(&TokenRecord) -> bool,
    ) -> Result<Claim<'_>, TokenError> {
        let hash = token_hash(token).ok_or(TokenError::Invalid)?;
        let original = self.path(&hash);
        let mut nonce = [0u8; 8];
        getrandom::fill(&mut nonce).map_err(io::Error::other)?;
        let claimed = self.dir.join(format!("{CLAIM_PREFIX}{hash}-{}", hex::encode(nonce)));
        match fs::rename(&original, &claimed) {
            Ok(()) => {}
            // Unknown, or another consumer got there first.
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(TokenError::Invalid),
            Err(e) => return Err(e.into()),
        }
        let grant = TokenGrant { kind: TokenKind::Invite, user: None, quota: None, id: hash[..12].to_owned() };
        let mut claim = Claim { store: self, claimed, original, grant, done: false };
        // From here, an early return drops the claim, which puts it back.
        let record = read_record(&claim.claimed)?;
        if !accept(&record) {
            return Err(TokenError::Invalid);
        }
        claim.grant.kind = record.kind;
        claim.grant.user.clone_from(&record.user);
        let expires: Timestamp = record.expires.parse().map_err(|_| TokenError::Invalid)?;
        if now >= expires {
            claim.done = true;
            let _ = fs::remove_file(&claim.claimed);
            return Err(TokenError::Expired);
        }
        claim.grant.quota = record.quota;
        Ok(claim)
    }

    /// Claims and commits at once: the API for a session that has already
    /// checked everything else. Single-use even against concurrent callers.
    pub fn consume_token(
        &self,
        token: &str,
        kind: TokenKind,
        user: Option<&str>,
        now: Timestamp,
    ) -> Result<TokenGrant, TokenError> {
        let claim = self.claim(token, kind, user, now)?;
        let grant = claim.grant.clone();
        claim.commit()?;
        Ok(grant)
    }

    /// Deletes expired tokens; returns how many.
    pub fn sweep_expired(&self, now: Timestamp) -> io::Result<usize> {
        let mut n = 0;
        for (path, record) in self.records()? {
            if record.expires.parse::<Timestamp>().map_or(true, |e| now >= e) && fs::remove_file(path).is_ok() {
                n += 1;
            }
        }
        Ok(n)
    }

    /// Deletes the reset tokens of `user` (the account is being deleted).
    pub fn revoke_user(&self, user: &str) -> io::Result<usize> {
        let mut n = 0;
        for (path, record) in self.records()? {
            if record.kind == TokenKind::Reset && record.user.as_deref() == Some(user) && fs::remove_file(path).is_ok()
            {
                n += 1;
            }
        }
        Ok(n)
    }

    /// Outstanding tokens: public id, kind, user, expiry (never the token).
    pub fn outstanding(&self) -> io::Result<Vec<TokenInfo>> {
        let mut out: Vec<_> = self
            .records()?
            .into_iter()
            .map(|(path, r)| {
                let id = path.file_stem().map(|s| s.to_string_lossy()[..12].to_owned()).unwrap_or_default();
                TokenInfo { id, kind: r.kind, user: r.user, expires: r.expires }
            })
            .collect();
        out.sort_by(|a, b| a.expires.cmp(&b.expires));
        Ok(out)
    }

    /// Every readable record, with its path. Damaged ones are skipped.
    fn records(&self) -> io::Result<Vec<(PathBuf, TokenRecord)>> {
        let mut out = Vec::new();
        for entry in fs::read_dir(&self.dir)? {
            let entry = entry?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let is_record = name.len() == 64 + 5 && name.ends_with(".json") && !name.starts_with('.');
            if !is_record {
                continue;
            }
            if let Ok(r) = read_record(&entry.path()) {
                out.push((entry.path(), r));
            }
        }
        Ok(out)
    }
}

fn read_record(path: &Path) -> Result<TokenRecord, TokenError> {
    use std::io::Read;
    let mut bytes = Vec::new();
    fs::File::open(path)?.take(MAX_RECORD).read_to_end(&mut bytes)?;
    serde_json::from_slice(&bytes).map_err(|_| TokenError::Invalid)
}
