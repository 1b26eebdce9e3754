//! The administrative operations behind [`Admin::execute`]: each reads and
//! rewrites the account record, the home or the token store, and says what
//! changed, what the running server must apply, and what to audit.

use super::record::{self, AccountFile, QuotaSetting};
use super::tokens::{DEFAULT_TTL, TokenKind};
use super::{AccountSummary, Admin, AdminAudit, AdminError, Effect, Outcome, Reply, Request};
use crate::audit::Outcome as AuditOutcome;
use jiff::Timestamp;
use std::fs;
use std::io;
use std::path::Path;
use std::time::Duration;

/// Directory entries a usage walk may visit per home in `list` (a bound,
/// not a budget per turn: offline, the walk runs to the end or to this).
const USAGE_WALK_LIMIT: usize = 10_000_000;

impl Admin {
    /// Runs one request at time `now`.
    pub fn execute(&self, req: &Request, now: Timestamp) -> Outcome {
        let mut audit = AdminAudit {
            actor: "admin",
            via: self.via,
            event: req.event(),
            outcome: AuditOutcome::Ok,
            user: req.user().map(str::to_owned),
            reason: None,
            message: None,
            quota: None,
            token_id: None,
            expires: None,
            keep_home: None,
        };
        let result = self.run(req, now, &mut audit);
        let (result, effect) = match result {
            Ok((reply, effect)) => (Ok(reply), effect),
            Err(e) => {
                audit.outcome = AuditOutcome::Fail;
                audit.reason = Some(e.code());
                audit.message = Some(e.to_string());
                (Err(e), None)
            }
        };
        let audit = (!matches!(req, Request::List { .. })).then_some(audit);
        Outcome { result, effect, audit }
    }

    fn run(
        &self,
        req: &Request,
        now: Timestamp,
        audit: &mut AdminAudit,
    ) -> Result<(Reply, Option<Effect>), AdminError> {
        match req {
            Request::List { usage } => Ok((self.list(*usage)?, None)),
            Request::SetQuota { user, quota } => {
                audit.quota = Some(*quota);
                let stored = quota.stored();
                let changed = self.update(user, |r| std::mem::replace(&mut r.quota, stored) != stored)?;
                let effect = Effect::Quota { user: user.clone(), quota: stored };
                Ok((done(user, changed, format!("quota of {user} is now {quota}")), Some(effect)))
            }
            Request::Disable { user } => {
                let changed = self.update(user, |r| !std::mem::replace(&mut r.disabled, true))?;
                Ok((done(user, changed, format!("{user} is disabled")), Some(Effect::Disabled { user: user.clone() })))
            }
            Request::Enable { user } => {
                let changed = self.update(user, |r| std::mem::replace(&mut r.disabled, false))?;
                Ok((done(user, changed, format!("{user} is enabled")), Some(Effect::Enabled { user: user.clone() })))
            }
            Request::Delete { user, keep_home } => {
                audit.keep_home = Some(*keep_home);
                let message = self.delete(user, *keep_home, now)?;
                Ok((done(user, true, message), Some(Effect::Deleted { user: user.clone() })))
            }
            Request::Reset { user, ttl_secs } => {
                self.existing(user)?;
                self.issue(TokenKind::Reset, Some(user), None, *ttl_secs, now, audit)
            }
            Request::Invite { quota, ttl_secs } => {
                audit.quota = *quota;
                self.issue(TokenKind::Invite, None, *quota, *ttl_secs, now, audit)
            }
        }
    }

    /// Validates `user` and loads the record.
    fn existing(&self, user: &str) -> Result<AccountFile, AdminError> {
        crate::protocol::check_username(user).map_err(AdminError::InvalidUser)?;
        record::load(&self.accounts_dir(), user)?.ok_or_else(|| AdminError::NoSuchUser(user.to_owned()))
    }

    /// Loads, lets `change` edit (returning whether it changed anything), and
    /// rewrites only if it did.
    fn update(&self, user: &str, change: impl FnOnce(&mut AccountFile) -> bool) -> Result<bool, AdminError> {
        let mut rec = self.existing(user)?;
        let changed = change(&mut rec);
        if changed {
            record::rewrite(&self.accounts_dir(), &rec)?;
        }
        Ok(changed)
    }

    fn list(&self, usage: bool) -> Result<Reply, AdminError> {
        let accounts_dir = self.accounts_dir();
        let mut accounts = Vec::new();
        let mut damaged = Vec::new();
        for user in record::user_names(&accounts_dir)? {
            match record::load(&accounts_dir, &user) {
                Ok(Some(r)) => {
                    let used = if usage { home_usage(&self.homes_dir(), &user) } else { None };
                    accounts.push(AccountSummary {
                        user: r.user,
                        created: r.created,
                        quota: QuotaSetting::from_stored(r.quota),
                        used,
                        last_login: r.last_login,
                        disabled: r.disabled,
                    });
                }
                Ok(None) => {} // deleted while listing
                Err(e) => damaged.push(format!("{user}: {e}")),
            }
        }
        Ok(Reply::Accounts { accounts, damaged })
    }

    fn delete(&self, user: &str, keep_home: bool, now: Timestamp) -> Result<String, AdminError> {
        self.existing(user)?;
        let accounts = self.accounts_dir();
        // The record first: once it is gone nobody can log in, whatever
        // happens to the home afterwards.
        fs::remove_file(record::record_path(&accounts, user))?;
        crate::keys::sync_dir(&accounts)?;
        let revoked = self.tokens.revoke_user(user)?;
        let home = self.homes_dir().join(user);
        let mut message = format!("{user} deleted");
        if revoked > 0 {
            message.push_str(&format!("; {revoked} reset token(s) revoked"));
        }
        match fs::symlink_metadata(&home) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e.into()),
            Ok(_) if keep_home => {
                let stamp = now.strftime("%Y%m%dT%H%M%SZ").to_string();
                let aside = self.homes_dir().join(format!(".deleted-{user}-{stamp}"));
                fs::rename(&home, &aside)?;
                message.push_str(&format!("; home kept as {}", aside.display()));
            }
            Ok(meta) if meta.is_dir() => {
                // remove_dir_all does not follow symbolic links inside the home.
                fs::remove_dir_all(&home)?;
                message.push_str("; home removed");
            }
            Ok(_) => {
                fs::remove_file(&home)?;
                message.push_str("; home removed");
            }
        }
        Ok(message)
    }

    fn issue(
        &self,
        kind: TokenKind,
        user: Option<&str>,
        quota: Option<QuotaSetting>,
        ttl_secs: Option<u64>,
        now: Timestamp,
        audit: &mut AdminAudit,
    ) -> Result<(Reply, Option<Effect>), AdminError> {
        let ttl = ttl_secs.map_or(DEFAULT_TTL, Duration::from_secs);
        let (token, grant, expires) = self.tokens.issue(kind, user, quota, ttl, now)?;
        let expires = format!("{expires:.0}");
        audit.token_id = Some(grant.id.clone());
        audit.expires = Some(expires.clone());
        let reply = Reply::Token {
            token: token.reveal().to_owned(),
            kind,
            user: user.map(str::to_owned),
            id: grant.id,
            expires,
        };
        Ok((reply, None))
    }
}

fn done(user: &str, changed: bool, message: String) -> Reply {
    Reply::Done { user: user.to_owned(), changed, message }
}

/// Bytes of regular files under `homes/user`, by the server's own walk
/// (links not followed). `None` if there is no home or it cannot be read.
fn home_usage(homes: &Path, user: &str) -> Option<u64> {
    if !homes.join(user).is_dir() {
        return None;
    }
    let home = crate::home::Home::open(homes, user).ok()?;
    let mut scan = home.usage_scan().ok()?;
    scan.step(USAGE_WALK_LIMIT).ok().flatten()
}
