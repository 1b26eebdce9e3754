//! Account administration (`mioftpd accounts ...`) as a library with a
//! plain-data interface: a [`Request`] in, an [`Outcome`] out (the reply,
//! the change the running server must apply to its caches, and the audit
//! record to write).
//!
//! Two callers share [`Admin::execute`]:
//! - offline, when no server runs: [`Admin::open_offline`] takes the data
//!   root lock (so a server cannot start half-way through) and works on the
//!   files directly ([`cli::run`], which writes the audit record through
//!   `audit::Record::admin`);
//! - later, the running server, which already holds the lock, answering its
//!   control socket `<root>/admin.sock`: [`Admin::for_server`], then it
//!   applies [`Effect`] to its cached state (quotas, the credential cache, a
//!   disabled user's sessions) and writes [`AdminAudit`] with its audit log.
//!
//! Requests and replies are serde types so the socket can carry them as JSON.
//! Nothing here writes an audit log: the caller owns it.

pub mod cli;
mod ops;
pub mod record;
pub mod tokens;

pub use record::{AccountFile, QuotaSetting};
pub use tokens::{Claim, Token, TokenError, TokenGrant, TokenKind, TokenStore};

use crate::audit::Outcome as AuditOutcome;
use crate::protocol::ErrorCode;
use crate::rootlock::{LockError, RootLock};
use serde::{Deserialize, Serialize};
use std::io;
use std::path::{Path, PathBuf};

/// One administrative request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    /// Every account; `usage` walks each home to report the bytes used.
    List {
        usage: bool,
    },
    SetQuota {
        user: String,
        quota: QuotaSetting,
    },
    Disable {
        user: String,
    },
    Enable {
        user: String,
    },
    /// Deletes the record; the home is removed, or with `keep_home` moved
    /// aside to `home/.deleted-<user>-<time>` (so a later account of the
    /// same name does not inherit the files).
    Delete {
        user: String,
        keep_home: bool,
    },
    /// Issues a password-reset token for an existing account.
    Reset {
        user: String,
        ttl_secs: Option<u64>,
    },
    /// Issues an invitation token, optionally with the new account's quota.
    Invite {
        quota: Option<QuotaSetting>,
        ttl_secs: Option<u64>,
    },
}

impl Request {
    /// The audit `event` name (`admin_<op>`).
    pub fn event(&self) -> &'static str {
        match self {
            Request::List { .. } => "admin_list",
            Request::SetQuota { .. } => "admin_set_quota",
            Request::Disable { .. } => "admin_disable",
            Request::Enable { .. } => "admin_enable",
            Request::Delete { .. } => "admin_delete",
            Request::Reset { .. } => "admin_reset",
            Request::Invite { .. } => "admin_invite",
        }
    }

    /// The account the request is about, if one.
    pub fn user(&self) -> Option<&str> {
        match self {
            Request::SetQuota { user, .. }
            | Request::Disable { user }
            | Request::Enable { user }
            | Request::Delete { user, .. }
            | Request::Reset { user, .. } => Some(user),
            Request::List { .. } | Request::Invite { .. } => None,
        }
    }
}

/// One line of `accounts list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountSummary {
    pub user: String,
    pub created: String,
    pub quota: QuotaSetting,
    /// Bytes in the home, when asked for and readable.
    pub used: Option<u64>,
    pub last_login: Option<String>,
    pub disabled: bool,
}

/// The answer to a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub enum Reply {
    /// The accounts, sorted by name, and records that could not be read.
    Accounts { accounts: Vec<AccountSummary>, damaged: Vec<String> },
    /// The change was made (or was already so: `changed` false).
    Done { user: String, changed: bool, message: String },
    /// A new token: shown to the administrator once, stored only as a hash.
    Token { token: String, kind: TokenKind, user: Option<String>, id: String, expires: String },
}

/// What the running server must change in its own state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "effect", rename_all = "snake_case")]
pub enum Effect {
    /// The cached quota of a logged-in user (`None`: the server default).
    Quota {
        user: String,
        quota: Option<u64>,
    },
    /// End the user's sessions at their next request; refuse new logins.
    Disabled {
        user: String,
    },
    Enabled {
        user: String,
    },
    /// Drop every cached state of the user and end their sessions.
    Deleted {
        user: String,
    },
}

/// The audit record of one administrative action, for
/// `register_login_accounts.log`. The writer stamps `ts`; there is no
/// `peer` or `session` (the action did not come from a client connection).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AdminAudit {
    /// Always `"admin"`.
    pub actor: &'static str,
    /// `"offline"` (files edited under the lock) or `"socket"` (the running server).
    pub via: &'static str,
    pub event: &'static str,
    pub outcome: AuditOutcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<ErrorCode>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The quota set (`set_quota`, `invite`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quota: Option<QuotaSetting>,
    /// The public id of an issued token (never the token).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    /// `delete`: whether the home was kept (moved aside).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keep_home: Option<bool>,
}

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("invalid username: {0}")]
    InvalidUser(String),
    #[error("no such user: {0}")]
    NoSuchUser(String),
    #[error(transparent)]
    Locked(#[from] LockError),
    #[error("token: {0}")]
    Token(#[from] TokenError),
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
}

impl AdminError {
    /// The stable code for the audit `reason` (one list: [`ErrorCode`]).
    pub fn code(&self) -> ErrorCode {
        match self {
            AdminError::InvalidUser(_) => ErrorCode::InvalidUsername,
            AdminError::NoSuchUser(_) => ErrorCode::NoSuchUser,
            AdminError::Token(TokenError::TooMany) => ErrorCode::TooManyTokens,
            AdminError::Token(TokenError::Invalid | TokenError::Expired) => ErrorCode::InvalidToken,
            AdminError::Locked(_) | AdminError::Token(TokenError::Io(_)) | AdminError::Io(_) => ErrorCode::Internal,
        }
    }
}

/// The result of [`Admin::execute`].
#[derive(Debug)]
pub struct Outcome {
    pub result: Result<Reply, AdminError>,
    pub effect: Option<Effect>,
    /// `None` for read-only requests (`list`).
    pub audit: Option<AdminAudit>,
}

/// Administration of one data root.
#[derive(Debug)]
pub struct Admin {
    root: PathBuf,
    tokens: TokenStore,
    via: &'static str,
    _lock: Option<RootLock>,
}

impl Admin {
    /// For the command line while no server runs: takes the root lock, so
    /// this fails with [`AdminError::Locked`] (naming the server's pid) if
    /// one does.
    pub fn open_offline(root: &Path) -> Result<Admin, AdminError> {
        let lock = RootLock::acquire(root, "admin")?;
        Admin::open(root, Some(lock), "offline")
    }

    /// For the running server, which holds the root lock itself.
    pub fn for_server(root: &Path) -> Result<Admin, AdminError> {
        Admin::open(root, None, "socket")
    }

    fn open(root: &Path, lock: Option<RootLock>, via: &'static str) -> Result<Admin, AdminError> {
        let accounts = root.join("accounts");
        if !accounts.is_dir() {
            return Err(AdminError::Io(io::Error::new(
                io::ErrorKind::NotFound,
                format!("{} has no accounts folder: is it a mioftpd data root?", root.display()),
            )));
        }
        let tokens = TokenStore::open(&accounts)?;
        Ok(Admin { root: root.to_owned(), tokens, via, _lock: lock })
    }

    pub fn accounts_dir(&self) -> PathBuf {
        self.root.join("accounts")
    }

    pub fn homes_dir(&self) -> PathBuf {
        self.root.join("home")
    }

    /// The token store, for the session's `register --token` path.
    pub fn tokens(&self) -> &TokenStore {
        &self.tokens
    }
}

#[cfg(test)]
mod tests;
