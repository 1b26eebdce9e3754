//! FTP logins: USER and PASS, checked against the same accounts as the
//! native protocol's SCRAM login.
//!
//! PASS carries the password, so the server derives the SCRAM keys itself:
//! PBKDF2 with the account's salt and iteration count (600,000 by default),
//! then StoredKey and ServerKey, compared in constant time with the stored
//! ones. The derivation is a worker-pool job (`Job::DeriveKeys`), never run
//! on the loop; the session waits for it (`work::Pending::Login`) and
//! handles no further command. A missing account gets the same derivation on the fake
//! parameters the native login hands out, so timing does not tell which
//! accounts exist; an account stored above the iteration ceiling is refused
//! without running it. Failures count toward the same three-level throttle
//! as native logins, and their 530 goes out after
//! `FtpConfig::login_failure_delay`, a deadline, not a sleep.
//!
//! [`CredentialCache`]: an optional memory-only cache of recently verified
//! passwords, keyed by HMAC under a per-process secret (docs/FTP.md §1.2
//! weighs it).

use super::work::Pending;
use super::{Authed, FtpSession, Login, Wait, plain};
use crate::accounts::{Credentials, Unusable};
use crate::ftp::reply::Reply;
use crate::home::VPath;
use crate::protocol::scram::{self, Key};
use crate::protocol::{ErrorCode, WireError, check_username};
use crate::services::Services;
use crate::worker::{Job, JobOutput};
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// First wait before a login job refused by a full pool is submitted again;
/// each further refusal doubles it, up to [`MAX_RETRY`].
const FIRST_RETRY: Duration = Duration::from_millis(20);
const MAX_RETRY: Duration = Duration::from_secs(1);

/// A PASS being checked.
pub(super) struct Check {
    user: String,
    /// False for a missing account (fake parameters; never succeeds).
    exists: bool,
    creds: Credentials,
    quota: Option<u64>,
    /// Disabled by the administrator: refused after a correct password.
    disabled: bool,
    /// The record's `last_login` (see [`crate::ops::note_login`]).
    last_login: Option<String>,
    /// Kept only while the job may have to be submitted again (a full pool).
    password: String,
    retry: Duration,
    cache_key: Option<Key>,
}

impl Drop for Check {
    fn drop(&mut self) {
        wipe(&mut self.password);
    }
}

/// Overwrites a password's bytes before its memory is freed.
fn wipe(s: &mut String) {
    let mut bytes = std::mem::take(s).into_bytes();
    bytes.fill(0);
    // `fill` on memory about to be freed could in principle be elided; the
    // black box keeps it.
    std::hint::black_box(&bytes);
}

/// Whether `ip` is the local machine (IPv4-mapped loopback included).
fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(v6.is_loopback(), |v4| v4.is_loopback()),
        v4 => v4.is_loopback(),
    }
}

impl FtpSession {
    /// `USER`: always 331, for existing and missing accounts alike, except
    /// that a plain-text login over the network is refused before the
    /// password is sent. A logged-in session is logged out first.
    pub(super) fn user_cmd(&mut self, name: String, now: Instant, svc: &mut Services) {
        if !self.cfg.allow_plain_login && !is_loopback(self.peer.ip()) {
            return self.reply(Reply::new(530, "TLS required."));
        }
        if self.user().is_some() {
            self.logout(svc, "USER while logged in");
            // The login deadline starts again, as after a native logout.
            self.phase_start = now;
        }
        self.login = Login::User(name);
        self.reply(Reply::new(331, "Password required."));
    }

    /// `PASS`: starts the check (see the module documentation).
    pub(super) fn pass_cmd(&mut self, mut password: String, now: Instant, svc: &mut Services) {
        let user = match std::mem::replace(&mut self.login, Login::Anonymous) {
            Login::User(u) => u,
            other => {
                self.login = other;
                wipe(&mut password);
                let why = if self.user().is_some() { "Already logged in." } else { "Login with USER first." };
                return self.reply(Reply::new(503, why));
            }
        };
        let shown = (user.len() <= 64).then_some(user.as_str());
        if let Some(lock) = svc.throttle.lock(&user, self.peer.ip(), now) {
            wipe(&mut password);
            let err = WireError::new(ErrorCode::TooManyAttempts, lock.message());
            self.audit_account(svc, shown, "login", Err(&err));
            return self.reply(plain(ErrorCode::TooManyAttempts));
        }
        let valid_name = check_username(&user).is_ok();
        let loaded = if valid_name { svc.storage.load_account(&user) } else { Ok(None) };
        let (exists, creds, account) = match loaded.map(|a| a.map(|a| (a.credentials(), a))) {
            Ok(Some((Ok(creds), a))) => (true, creds, Some(a)),
            Ok(None) => (false, fake(svc, &user), None),
            // Too costly to ever derive: refused without running the KDF.
            Ok(Some((Err(e @ Unusable::TooCostly(_)), _))) => {
                wipe(&mut password);
                log::warn!("FTP login {user} refused: {e}");
                let err = WireError::new(ErrorCode::WeakKdf, e.to_string());
                self.audit_account(svc, shown, "login", Err(&err));
                return self.delay_reply(plain(ErrorCode::WeakKdf), now);
            }
            // The store could not be read: the server's problem, not a guess.
            failed => {
                wipe(&mut password);
                let why = match failed {
                    Err(e) => e.to_string(),
                    _ => "damaged record".to_owned(),
                };
                log::error!("FTP login: loading account {user}: {why}");
                let err = WireError::new(ErrorCode::Internal, "the account store could not be read");
                self.audit_account(svc, shown, "login", Err(&err));
                return self.reply(plain(ErrorCode::Internal));
            }
        };
        let cache_key = (exists && !svc.ftp_logins.is_off()).then(|| svc.ftp_logins.key(&user, &password, &creds));
        let (quota, disabled, last_login) =
            account.map_or((None, false, None), |a| (a.quota, a.disabled, a.last_login));
        let check = Box::new(Check {
            user,
            exists,
            creds,
            quota,
            disabled,
            last_login,
            password,
            retry: FIRST_RETRY,
            cache_key,
        });
        if check.cache_key.is_some_and(|k| svc.ftp_logins.holds(&k, now)) {
            return self.login_succeeded(check, now, svc);
        }
        self.submit(check, now);
    }

    /// Hands the derivation to the pool and waits for it.
    fn submit(&mut self, check: Box<Check>, now: Instant) {
        let job = Job::DeriveKeys {
            password: check.password.clone(),
            salt: check.creds.salt.clone(),
            iterations: check.creds.iterations,
        };
        self.login = Login::Checking(check);
        self.ask(job, Pending::Login, now);
    }

    /// The pool's answer.
    pub(super) fn keys_derived(&mut self, output: JobOutput, now: Instant, svc: &mut Services) {
        let Login::Checking(mut check) = std::mem::replace(&mut self.login, Login::Anonymous) else { return };
        match output {
            JobOutput::Keys { stored_key, server_key } => {
                wipe(&mut check.password);
                let same = scram::ct_eq(&stored_key, &check.creds.stored_key)
                    & scram::ct_eq(&server_key, &check.creds.server_key);
                if same && check.exists {
                    self.login_succeeded(check, now, svc);
                } else {
                    self.login_failed(&check.user, now, svc);
                }
            }
            // The pool is full (or this address has its share in flight):
            // try again a little later, holding the command queue meanwhile.
            JobOutput::Busy => {
                let wait = check.retry;
                check.retry = (check.retry * 2).min(MAX_RETRY);
                self.login = Login::Checking(check);
                self.wait = Wait::Retry(now + wait);
            }
            // The derivation could not run (a bug): the server's problem,
            // not a failed guess.
            other => {
                wipe(&mut check.password);
                log::error!("session {}: key derivation for {}: {other:?}", self.id, check.user);
                let err = WireError::new(ErrorCode::Internal, "the password could not be checked");
                let shown = (check.user.len() <= 64).then_some(check.user.as_str());
                self.audit_account(svc, shown, "login", Err(&err));
                self.reply(plain(ErrorCode::Internal));
            }
        }
    }

    /// The retry deadline of a refused job passed: submit it again.
    pub(super) fn retry_job(&mut self, now: Instant) {
        if let Login::Checking(check) = std::mem::replace(&mut self.login, Login::Anonymous) {
            self.submit(check, now);
        }
    }

    fn login_succeeded(&mut self, check: Box<Check>, now: Instant, svc: &mut Services) {
        let user = check.user.clone();
        if check.disabled {
            // The password was right, so this tells a guesser nothing, and it
            // is not a failure for the throttle: a policy refusal, as in the
            // native login (never remembered by the cache either).
            let err = WireError::new(
                ErrorCode::AccountDisabled,
                "this account is disabled; ask the server's administrator to enable it",
            );
            self.audit_account(svc, Some(&user), "login", Err(&err));
            return self.reply(plain(ErrorCode::AccountDisabled));
        }
        let limit = check.quota.or(svc.config.default_quota);
        let home = match svc.users.attach(&*svc.storage, &user, limit) {
            Ok(h) => h,
            Err(e) => {
                log::error!("FTP login {user}: home folder: {e}");
                let err = WireError::new(ErrorCode::Internal, "the user's home folder is not available");
                self.audit_account(svc, Some(&user), "login", Err(&err));
                return self.reply(plain(ErrorCode::Internal));
            }
        };
        svc.throttle.record_success(&user, self.peer.ip(), now);
        crate::ops::note_login(svc, &user, check.last_login.as_deref());
        if let Some(k) = check.cache_key {
            svc.ftp_logins.insert(k, &user, now);
        }
        self.audit_account(svc, Some(&user), "login", Ok(()));
        self.reply(Reply::new(230, "Logged in."));
        self.login = Login::Authed(Box::new(Authed { user, home, cwd: VPath::root() }));
        self.last_activity = now;
        // The first session of a user works out its usage, in the
        // background: commands that need it wait, others are answered.
        self.start_usage(now, svc);
    }

    fn login_failed(&mut self, user: &str, now: Instant, svc: &mut Services) {
        svc.throttle.record_failure(user, self.peer.ip(), now);
        let err = WireError::new(ErrorCode::AuthFailed, crate::session::AUTH_FAILED);
        let shown = (user.len() <= 64).then_some(user);
        self.audit_account(svc, shown, "login", Err(&err));
        self.delay_reply(plain(ErrorCode::AuthFailed), now);
    }

    /// Sends `reply` once the failure delay has passed; until then no
    /// further command is handled.
    fn delay_reply(&mut self, reply: Reply, now: Instant) {
        self.login = Login::Anonymous;
        if self.cfg.login_failure_delay.is_zero() {
            return self.reply(reply);
        }
        self.delayed = Some(reply);
        self.wait = Wait::Delay(now + self.cfg.login_failure_delay);
    }

    /// Logs a logged-in session out (USER again, QUIT, or the end of the
    /// connection): the `logout` record, and the user's state detached.
    pub(super) fn logout(&mut self, svc: &mut Services, why: &str) {
        if let Login::Authed(a) = std::mem::replace(&mut self.login, Login::Anonymous) {
            let rec = crate::audit::Record::attempt(self.actor(Some(&a.user)), "logout", Ok(())).note(why);
            svc.audit.record(crate::audit::Log::Accounts, rec);
            svc.users.detach(&a.user);
        }
    }

    /// The connection is ending: a login in progress is recorded as
    /// abandoned; a logged-in user is logged out.
    pub(super) fn end_login(&mut self, why: &str, timed_out: bool, svc: &mut Services) {
        match &self.login {
            Login::Checking(c) => {
                let user = c.user.clone();
                let err = WireError::new(ErrorCode::Abandoned, why);
                self.audit_account(svc, Some(&user), "login", Err(&err));
            }
            Login::Anonymous | Login::User(_) if timed_out => {
                let err = WireError::new(ErrorCode::Timeout, "no login before the login deadline");
                self.audit_account(svc, None, "timeout", Err(&err));
            }
            _ => {}
        }
        self.logout(svc, why);
    }
}

/// The parameters a missing account is checked with: the fake salt and
/// keys the native login hands out, and the policy's iteration count.
fn fake(svc: &Services, user: &str) -> Credentials {
    Credentials {
        salt: svc.fake_salt(user),
        iterations: svc.config.min_iterations,
        stored_key: svc.fake_stored_key(user),
        server_key: svc.fake_stored_key(user),
    }
}

/// Most passwords the cache remembers; the oldest are forgotten first.
pub const CACHE_ENTRIES: usize = 10_000;

/// Recently verified FTP credentials, in memory only.
///
/// An entry is HMAC-SHA-256 under a random per-process secret of the user
/// name, the password and the account's whole SCRAM record (salt, iteration
/// count, StoredKey, ServerKey), so a changed account can never match an old
/// entry, and only a password that was verified is ever remembered: a guess
/// always runs the full derivation. Entries expire after the TTL;
/// [`CredentialCache::flush_user`] forgets a user at once.
pub struct CredentialCache {
    secret: Key,
    ttl: Duration,
    entries: HashMap<Key, (String, Instant)>,
    order: VecDeque<Key>,
}

impl CredentialCache {
    /// A cache with a fresh secret; a zero `ttl` turns it off.
    pub fn new(ttl: Duration) -> std::io::Result<CredentialCache> {
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret).map_err(std::io::Error::other)?;
        Ok(CredentialCache { secret, ttl, entries: HashMap::new(), order: VecDeque::new() })
    }

    pub fn is_off(&self) -> bool {
        self.ttl.is_zero()
    }

    /// The entry's key for these credentials.
    pub fn key(&self, user: &str, password: &str, creds: &Credentials) -> Key {
        let mut msg = Vec::with_capacity(user.len() + password.len() + 128);
        for part in [user.as_bytes(), password.as_bytes(), &creds.salt, &creds.stored_key, &creds.server_key] {
            msg.extend_from_slice(&(part.len() as u64).to_be_bytes());
            msg.extend_from_slice(part);
        }
        msg.extend_from_slice(&creds.iterations.to_be_bytes());
        let key = scram::hmac(&self.secret, &msg);
        msg.iter_mut().for_each(|b| *b = 0);
        key
    }

    /// Whether `key` was verified within the TTL.
    pub fn holds(&mut self, key: &Key, now: Instant) -> bool {
        match self.entries.get(key) {
            Some((_, expires)) if *expires > now => true,
            Some(_) => {
                self.entries.remove(key);
                false
            }
            None => false,
        }
    }

    /// Remembers a verified login.
    pub fn insert(&mut self, key: Key, user: &str, now: Instant) {
        if self.is_off() {
            return;
        }
        if self.entries.insert(key, (user.to_owned(), now + self.ttl)).is_none() {
            self.order.push_back(key);
        }
        while self.order.len() > CACHE_ENTRIES {
            if let Some(old) = self.order.pop_front() {
                self.entries.remove(&old);
            }
        }
    }

    /// Forgets every entry of `user` (its account changed).
    pub fn flush_user(&mut self, user: &str) {
        self.entries.retain(|_, (u, _)| u != user);
        self.order.retain(|k| self.entries.contains_key(k));
    }

    /// Entries held (expired ones included until looked at).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}
