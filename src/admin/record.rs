//! The administrator's view of an account record, `accounts/<user>.json`,
//! and its crash-safe rewrite.
//!
//! The fields the admin commands touch are typed here; everything else in
//! the record (the SCRAM material, the format version, fields a newer
//! server added) is carried through untouched in `rest`, so a rewrite never
//! loses data. The fields `disabled` and `last_login` default when absent,
//! so older records read as enabled and never logged in; the server's
//! `Account` reads them too, and its own rewrites (`last_login`, a password
//! reset) go through [`load`] and [`rewrite`] here.
//!
//! A rewrite is the same dance as account creation: write a `.tmp-` file
//! (which the account store removes at start if a crash leaves it), fsync,
//! rename over the record, fsync the folder.

use crate::keys::sync_dir;
use serde::{Deserialize, Serialize};
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// A per-account quota as the administrator sets it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuotaSetting {
    /// The server's `--default-quota` (stored as `"quota": null`).
    Default,
    /// No limit (stored as `u64::MAX`, which the server's arithmetic already
    /// treats as "never full": the record format has no other way to say it).
    Unlimited,
    /// This many bytes.
    Bytes(u64),
}

impl QuotaSetting {
    /// `default`, `unlimited`, or a size such as `1GiB`, `500MB`, `1048576`.
    pub fn parse(text: &str) -> Result<QuotaSetting, String> {
        if text.trim().eq_ignore_ascii_case("default") {
            return Ok(QuotaSetting::Default);
        }
        Ok(match crate::config::parse_quota(text)? {
            None => QuotaSetting::Unlimited,
            Some(n) => QuotaSetting::Bytes(n),
        })
    }

    /// The value stored in the record's `quota` field.
    pub fn stored(self) -> Option<u64> {
        match self {
            QuotaSetting::Default => None,
            QuotaSetting::Unlimited => Some(u64::MAX),
            QuotaSetting::Bytes(n) => Some(n.min(u64::MAX - 1)),
        }
    }

    /// The form written in audit records: `default`, `unlimited`, or the
    /// size in a form that reads back exactly (`5GiB`, `1500000001`).
    pub fn audit_text(self) -> String {
        match self {
            QuotaSetting::Default => "default".to_owned(),
            QuotaSetting::Unlimited => "unlimited".to_owned(),
            QuotaSetting::Bytes(n) => crate::settings::Quota(Some(n)).to_string(),
        }
    }

    /// The setting a stored `quota` field means.
    pub fn from_stored(quota: Option<u64>) -> QuotaSetting {
        match quota {
            None => QuotaSetting::Default,
            Some(u64::MAX) => QuotaSetting::Unlimited,
            Some(n) => QuotaSetting::Bytes(n),
        }
    }
}

impl std::fmt::Display for QuotaSetting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            QuotaSetting::Default => f.write_str("default"),
            QuotaSetting::Unlimited => f.write_str("unlimited"),
            QuotaSetting::Bytes(n) => write!(f, "{}", bytesize::ByteSize::b(*n).display().iec()),
        }
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// One account record, as the admin commands read and rewrite it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccountFile {
    pub user: String,
    /// RFC 3339 UTC creation time.
    #[serde(default)]
    pub created: String,
    /// `null` is the server's default; `u64::MAX` is unlimited.
    #[serde(default)]
    pub quota: Option<u64>,
    /// A disabled account cannot log in (`account_disabled`).
    #[serde(default, skip_serializing_if = "is_false")]
    pub disabled: bool,
    /// RFC 3339 UTC time of the last successful login (written by the server).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_login: Option<String>,
    /// Every other field, kept as it was.
    #[serde(flatten)]
    pub rest: serde_json::Map<String, serde_json::Value>,
}

/// The path of `user`'s record; `user` must have been validated.
pub fn record_path(accounts: &Path, user: &str) -> std::path::PathBuf {
    accounts.join(format!("{user}.json"))
}

/// Loads `user`'s record: `Ok(None)` if there is none.
pub fn load(accounts: &Path, user: &str) -> io::Result<Option<AccountFile>> {
    let bytes = match fs::read(record_path(accounts, user)) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let record: AccountFile =
        serde_json::from_slice(&bytes).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    if record.user != user {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("record of {user} names user {:?}", record.user),
        ));
    }
    Ok(Some(record))
}

/// Replaces `record`'s file durably and atomically (see the module doc).
pub fn rewrite(accounts: &Path, record: &AccountFile) -> io::Result<()> {
    let mut nonce = [0u8; 8];
    getrandom::fill(&mut nonce).map_err(io::Error::other)?;
    let tmp = accounts.join(format!(".tmp-{}-{}", record.user, hex::encode(nonce)));
    let result = (|| {
        let mut file =
            OpenOptions::new().write(true).create_new(true).mode(crate::perms::ACCOUNT_FILE_MODE).open(&tmp)?;
        let mut text = serde_json::to_vec_pretty(record).map_err(io::Error::other)?;
        text.push(b'\n');
        file.write_all(&text)?;
        file.sync_all()?;
        fs::rename(&tmp, record_path(accounts, &record.user))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result?;
    sync_dir(accounts)
}

/// The user names with a record, sorted. Entries that are not
/// `<valid-name>.json` (temporaries, the secret, the token folder) are skipped.
pub fn user_names(accounts: &Path) -> io::Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in fs::read_dir(accounts)? {
        let name = entry?.file_name();
        let Some(user) = name.to_str().and_then(|n| n.strip_suffix(".json")) else { continue };
        if crate::protocol::check_username(user).is_ok() {
            names.push(user.to_owned());
        }
    }
    names.sort();
    Ok(names)
}
