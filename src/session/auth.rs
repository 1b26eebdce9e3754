//! The connection check, registration, SCRAM login, logout and exit.

use super::tokens::{self, TokenUse};
use super::work::{self, Pending};
use super::{Authed, Session, State};
use crate::accounts::{Account, CreateError, Credentials, Unusable};
use crate::admin::{QuotaSetting, TokenKind};
use crate::audit::{Log, Record, format_ts};
use crate::home::VPath;
use crate::protocol::messages::{Bye, Empty, Hello, KDF_NAME, LoggedIn, LoginChallenge, PROTOCOL_VERSION, Registered};
use crate::protocol::scram::{self, Exchange, Key};
use crate::protocol::{ErrorCode, Request, WireError, check_username};
use crate::services::Services;
use crate::worker::{Job, JobOutput};
use std::time::{Instant, SystemTime};

/// The message both an unknown user and a wrong password get.
pub const AUTH_FAILED: &str = "invalid username or password";

/// A login between SCRAM server-first and the client's proof.
pub(super) struct PendingLogin {
    pub user: String,
    auth_message: String,
    stored_key: Key,
    server_key: Key,
    /// False for an unknown user: the proof is checked (same work) but fails.
    exists: bool,
    /// The account's own quota, if it has one.
    quota: Option<u64>,
    /// Disabled by the administrator: refused after a correct proof.
    disabled: bool,
    /// The record's `last_login`, to decide whether to write a new one.
    last_login: Option<String>,
}

pub(super) fn hello(challenge: &[u8; 32], svc: &Services) -> Hello {
    Hello {
        protocol: PROTOCOL_VERSION,
        server: crate::SERVER_SOFTWARE.to_owned(),
        challenge: scram::b64(challenge),
        kdf: KDF_NAME.to_owned(),
        min_iterations: svc.config.min_iterations,
        max_iterations: Some(scram::MAX_ITERATIONS),
        min_password_len: svc.config.min_password_len,
    }
}

/// `auth`: HMAC-SHA-256(key, challenge), compared in constant time.
pub(super) fn check_key(s: &mut Session, challenge: &[u8; 32], hmac_b64: &str, svc: &mut Services) {
    let expected = scram::hmac(&svc.key, challenge);
    let given = scram::unb64(hmac_b64).unwrap_or_default();
    if scram::ct_eq(&expected, &given) {
        s.state = State::Open;
        s.audit(svc, Log::Accounts, None, "handshake", Ok(()));
        s.send_ok(&Empty {});
    } else {
        let err = WireError::new(
            ErrorCode::HandshakeFailed,
            "connection check failed: the client's key does not match the server's",
        );
        s.audit(svc, Log::Accounts, None, "handshake", Err(&err));
        s.send_error(&err);
        s.closing = true;
    }
}

/// The fields of a `register` request.
pub(super) struct Registration<'a> {
    pub user: &'a str,
    pub salt: &'a str,
    pub iterations: u32,
    pub stored_key: &'a str,
    pub server_key: &'a str,
    /// An invitation or reset token (see [`super::tokens`]).
    pub token: Option<&'a str>,
}

/// `register`: a new account, or with a reset token a new password. The
/// audit event is `register`, or `reset` when a reset token was used.
///
/// Without a token (the common case) the request is checked here and the
/// account record (and home) is written, with its fsync, by a worker job;
/// [`registered`] answers. With a token the whole exchange (claim, durable
/// write, spend) still runs here, on the loop: the claim borrows the token
/// store, so it cannot wait in the session for a job.
pub(super) fn register(s: &mut Session, reg: &Registration<'_>, now: Instant, svc: &mut Services) {
    let user = reg.user;
    let shown_user = (!user.is_empty() && user.len() <= 64).then_some(user);
    let mut used = TokenUse::default();
    let result = match try_register(s, reg, svc, &mut used) {
        Ok(Registering::Write(account)) => {
            let job = Job::CreateAccount { storage: svc.storage.clone(), account: (*account).clone() };
            return s.ask(job, Pending::Register(account), now);
        }
        Ok(Registering::Done) => Ok(()),
        Err(e) => Err(e),
    };
    if result.is_ok() {
        // A new password (a reset token): no FTP login of that name may be
        // remembered from before (docs/FTP.md §1.2).
        svc.ftp_logins.flush_user(user);
    }
    let event = if used.reset { "reset" } else { "register" };
    let record = Record::attempt(s.actor(shown_user), event, result.as_ref().map(|_| ()))
        .with_token(used.id.as_deref(), used.quota.map(QuotaSetting::audit_text));
    svc.audit.record(Log::Accounts, record);
    match result {
        Ok(()) => s.send_ok(&Registered { user: user.to_owned(), reset: used.reset }),
        Err(e) => s.send_error(&e),
    }
}

/// The account write of a `register` without a token is back: audit and
/// answer. If it was not run (too many registrations from this address at
/// once, or a full queue), the request waits and is tried again when a job
/// finishes.
pub(super) fn registered(s: &mut Session, account: Account, output: JobOutput, svc: &mut Services) {
    let user = account.user.as_str();
    let result = match output {
        JobOutput::Busy => {
            let Account { user, salt, iterations, stored_key, server_key, .. } = account;
            s.deferred = Some(Request::Register { user, salt, iterations, stored_key, server_key, token: None });
            return;
        }
        JobOutput::AccountCreated(Ok(())) => {
            // A new account: nothing of that name may be remembered by the
            // FTP credential cache (docs/FTP.md §1.2).
            svc.ftp_logins.flush_user(user);
            Ok(())
        }
        JobOutput::AccountCreated(Err(CreateError::Exists)) => {
            Err(WireError::new(ErrorCode::UserExists, format!("the username \"{user}\" is already taken")))
        }
        JobOutput::AccountCreated(Err(CreateError::Io(e))) => {
            log::error!("register {user}: {e}");
            Err(WireError::new(ErrorCode::Internal, "the account could not be saved"))
        }
        _ => Err(work::lost()),
    };
    s.audit(svc, Log::Accounts, Some(user), "register", result.as_ref().map(|_| ()));
    match result {
        Ok(()) => s.send_ok(&Registered { user: user.to_owned(), reset: false }),
        Err(e) => s.send_error(&e),
    }
}

/// What `register` goes on with once the request is checked.
enum Registering {
    /// No token: this record is to be written by a worker job.
    Write(Box<Account>),
    /// A token's registration or reset, already durable.
    Done,
}

/// Everything `register` checks (the state, the name, the KDF parameters,
/// the policy or the token); a token's registration is finished here.
fn try_register(
    s: &Session,
    reg: &Registration<'_>,
    svc: &mut Services,
    used: &mut TokenUse,
) -> Result<Registering, WireError> {
    let Registration { user, salt, iterations, stored_key, server_key, token } = *reg;
    if !matches!(s.state, State::Open) {
        return Err(WireError::new(ErrorCode::BadState, "log out before registering a new account"));
    }
    check_username(user).map_err(|m| WireError::new(ErrorCode::InvalidUsername, m))?;
    check_kdf(iterations, svc.config.min_iterations)?;
    let salt_ok = scram::unb64(salt).is_some_and(|b| b.len() == scram::SALT_LEN);
    if !salt_ok || scram::unb64_key(stored_key).is_none() || scram::unb64_key(server_key).is_none() {
        return Err(WireError::new(
            ErrorCode::WeakKdf,
            format!(
                "salt must be exactly {} bytes and stored_key and server_key 32 bytes each, all in base64",
                scram::SALT_LEN
            ),
        ));
    }
    // Everything about the request itself is checked: only now is a token
    // claimed, so a malformed request never spends one.
    let claim = match token {
        Some(token) => Some(tokens::claim(svc, token, user, used)?),
        None => {
            tokens::check_open(svc.config.registration)?;
            None
        }
    };
    let claim = match claim {
        Some(reset) if reset.grant.kind == TokenKind::Reset => {
            return tokens::reset(svc, reset, reg).map(|()| Registering::Done);
        }
        other => other,
    };
    let account = Box::new(Account {
        v: 1,
        user: user.to_owned(),
        salt: salt.to_owned(),
        iterations,
        stored_key: stored_key.to_owned(),
        server_key: server_key.to_owned(),
        created: format_ts(SystemTime::now()),
        quota: used.quota.and_then(QuotaSetting::stored),
        disabled: false,
        last_login: None,
    });
    let Some(claim) = claim else {
        return Ok(Registering::Write(account));
    };
    // An invitation. A taken name or an I/O error drops the claim, which
    // gives it back.
    match svc.storage.create_account(&account) {
        Ok(()) => tokens::spend(claim, user),
        Err(CreateError::Exists) => {
            return Err(WireError::new(ErrorCode::UserExists, format!("the username \"{user}\" is already taken")));
        }
        Err(CreateError::Io(e)) => {
            log::error!("register {user}: {e}");
            return Err(WireError::new(ErrorCode::Internal, "the account could not be saved"));
        }
    }
    if let Err(e) = svc.storage.create_home(user) {
        // The account exists; login creates the home if it is still missing.
        log::error!("register {user}: creating home: {e}");
    }
    Ok(Registering::Done)
}

/// `register`'s iteration count must be exactly the server's policy (the
/// hello's `min_iterations`), which is never above [`scram::MAX_ITERATIONS`].
///
/// Why exactly, and not "at least": the login challenge of an unknown user
/// must look like a real account's, and a real account's parameters are
/// whatever it registered with. If registration allowed any count (or any
/// salt length), an account made with 700,000 iterations would stand out
/// against the fake 600,000 of every missing name. Fixing both at
/// registration makes every new account's challenge the same shape as the
/// fake one (16-byte salt, the policy's count). What remains visible:
/// accounts registered before this rule or under an earlier policy.
fn check_kdf(iterations: u32, policy: u32) -> Result<(), WireError> {
    let max = scram::MAX_ITERATIONS;
    let why = if iterations > max {
        format!("PBKDF2 iteration count {iterations} is above the protocol's maximum of {max}")
    } else if iterations < policy {
        format!("PBKDF2 iteration count {iterations} is below this server's policy of {policy}")
    } else if iterations != policy {
        format!(
            "this server requires exactly {policy} PBKDF2 iterations (its hello's min_iterations), not {iterations}"
        )
    } else {
        return Ok(());
    };
    Err(WireError::new(ErrorCode::WeakKdf, why))
}

/// `login`: SCRAM client-first. Unknown users get a fake but stable salt of
/// the one length registration allows and the policy's iteration count, the
/// parameters every account registered under this policy has (see
/// [`check_kdf`]), so this reply does not reveal whether the account exists.
///
/// A stored account above [`scram::MAX_ITERATIONS`] (written before the
/// ceiling existed, or by hand) is refused here with `weak_kdf`, before any
/// KDF parameter is handed out: no client or front end is ever asked to run
/// such a KDF. That refusal does say the account exists; such accounts can
/// only be repaired by an administrator.
pub(super) fn login(s: &mut Session, user: String, client_nonce: &str, now: Instant, svc: &mut Services) {
    let refuse = |s: &mut Session, svc: &mut Services, err: WireError| {
        let shown = (user.len() <= 64).then_some(user.as_str());
        s.audit(svc, Log::Accounts, shown, "login", Err(&err));
        s.send_error(&err);
    };
    match s.state {
        State::Open => {}
        State::Authed(_) => {
            return refuse(s, svc, WireError::new(ErrorCode::BadState, "already logged in; log out first"));
        }
        _ => {
            return refuse(s, svc, WireError::new(ErrorCode::BadState, "a login is already in progress"));
        }
    }
    if let Err(m) = check_username(&user) {
        return refuse(s, svc, WireError::new(ErrorCode::InvalidUsername, m));
    }
    if let Some(lock) = svc.throttle.lock(&user, s.peer.ip(), now) {
        // Recorded as `rejected` (see Session::audit), in a form fail2ban matches.
        return refuse(s, svc, throttled(lock));
    }
    if !scram::valid_nonce(client_nonce) {
        return refuse(
            s,
            svc,
            WireError::new(ErrorCode::BadRequest, "nonce must be 8 to 128 printable ASCII characters without ','"),
        );
    }
    let (mut quota, mut disabled, mut last_login) = (None, false, None);
    let loaded = svc.storage.load_account(&user).map(|a| a.map(|a| (a.credentials(), a)));
    let creds = match loaded {
        Ok(Some((Ok(creds), account))) => {
            (quota, disabled, last_login) = (account.quota, account.disabled, account.last_login);
            Some(creds)
        }
        Ok(None) => None,
        // Too costly to ever derive: refused before any parameter is sent.
        Ok(Some((Err(e @ Unusable::TooCostly(_)), _))) => {
            log::warn!("login {user} refused: {e}");
            return refuse(s, svc, WireError::new(ErrorCode::WeakKdf, e.to_string()));
        }
        // A record that cannot be read (out of descriptors, I/O error,
        // damaged) is the server's problem, not a wrong password: it must not
        // count toward the throttle or look like a guess to fail2ban.
        failed => {
            let why = match failed {
                Err(e) => e.to_string(),
                _ => "damaged record".to_owned(),
            };
            log::error!("loading account {user}: {why}");
            let err = WireError::new(ErrorCode::Internal, "the account store could not be read; try again later");
            return refuse(s, svc, err);
        }
    };
    let exists = creds.is_some();
    let Credentials { salt, iterations, stored_key, server_key } = creds.unwrap_or_else(|| Credentials {
        salt: svc.fake_salt(&user),
        iterations: svc.config.min_iterations,
        stored_key: svc.fake_stored_key(&user),
        server_key: svc.fake_stored_key(&user),
    });
    let server_nonce = match scram::new_nonce() {
        Ok(n) => n,
        Err(e) => {
            log::error!("no randomness for a nonce: {e}");
            return refuse(s, svc, WireError::new(ErrorCode::Internal, "the server could not make a nonce"));
        }
    };
    let nonce = format!("{client_nonce}{server_nonce}");
    let exchange = Exchange { user: &user, client_nonce, nonce: &nonce, salt: &salt, iterations };
    let auth_message = exchange.auth_message();
    s.send_ok(&LoginChallenge { salt: scram::b64(&salt), iterations, nonce: nonce.clone() });
    s.state = State::LoginPending(Box::new(PendingLogin {
        user,
        auth_message,
        stored_key,
        server_key,
        exists,
        quota,
        disabled,
        last_login,
    }));
}

fn throttled(lock: crate::throttle::Lock) -> WireError {
    WireError::new(ErrorCode::TooManyAttempts, lock.message())
}

/// `login_proof`: SCRAM client-final. Verifies the proof and answers with
/// the ServerSignature so the client can check the server in turn.
pub(super) fn login_proof(s: &mut Session, proof_b64: &str, now: Instant, svc: &mut Services) {
    let pending = match std::mem::replace(&mut s.state, State::Open) {
        State::LoginPending(p) => p,
        other => {
            let err = match other {
                State::Authed(_) => WireError::new(ErrorCode::BadState, "already logged in"),
                _ => WireError::new(ErrorCode::BadState, "login_proof without a preceding login"),
            };
            s.state = other;
            s.audit(svc, Log::Accounts, s.user(), "login", Err(&err));
            return s.send_error(&err);
        }
    };
    // Checked again here: logins started before a lock (many connections at
    // once) must not each get a guess after it.
    if let Some(lock) = svc.throttle.lock(&pending.user, s.peer.ip(), now) {
        let err = throttled(lock);
        s.audit(svc, Log::Accounts, Some(&pending.user), "login", Err(&err));
        return s.send_error(&err);
    }
    let proof = scram::unb64(proof_b64).unwrap_or_default();
    let valid = scram::verify_client_proof(&pending.stored_key, &pending.auth_message, &proof);
    if !(valid && pending.exists) {
        svc.throttle.record_failure(&pending.user, s.peer.ip(), now);
        let err = WireError::new(ErrorCode::AuthFailed, AUTH_FAILED);
        s.audit(svc, Log::Accounts, Some(&pending.user), "login", Err(&err));
        return s.send_error(&err);
    }
    if pending.disabled {
        // The password was right, so this says nothing a guesser could use,
        // and it is not a failure for the throttle. A policy refusal.
        let err = WireError::new(
            ErrorCode::AccountDisabled,
            "this account is disabled; ask the server's administrator to enable it",
        );
        s.audit(svc, Log::Accounts, Some(&pending.user), "login", Err(&err));
        return s.send_error(&err);
    }
    let limit = pending.quota.or(svc.config.default_quota);
    let home = match svc.users.attach(&*svc.storage, &pending.user, limit) {
        Ok(h) => h,
        Err(e) => {
            log::error!("login {}: home folder: {e}", pending.user);
            let err = WireError::new(ErrorCode::Internal, "the user's home folder is not available");
            s.audit(svc, Log::Accounts, Some(&pending.user), "login", Err(&err));
            return s.send_error(&err);
        }
    };
    svc.throttle.record_success(&pending.user, s.peer.ip(), now);
    crate::ops::note_login(svc, &pending.user, pending.last_login.as_deref());
    let signature = scram::server_signature(&pending.server_key, &pending.auth_message);
    s.audit(svc, Log::Accounts, Some(&pending.user), "login", Ok(()));
    s.send_ok(&LoggedIn { user: pending.user.clone(), server_signature: scram::b64(&signature) });
    s.state = State::Authed(Box::new(Authed { user: pending.user, home, cwd: VPath::root() }));
    s.last_activity = now;
    // The first session of a user works out its usage, in the background:
    // requests that need it wait, others are answered meanwhile.
    s.start_usage(now, svc);
}

/// `logout`: back to the checked-but-anonymous state.
pub(super) fn logout(s: &mut Session, now: Instant, svc: &mut Services) {
    match std::mem::replace(&mut s.state, State::Open) {
        State::Authed(a) => {
            s.audit(svc, Log::Accounts, Some(&a.user), "logout", Ok(()));
            svc.users.detach(&a.user);
            s.phase_start = now;
            s.send_ok(&Empty {});
        }
        other => {
            s.state = other;
            let err = WireError::new(ErrorCode::NotLoggedIn, "not logged in");
            s.send_error(&err);
        }
    }
}

/// `exit`: a goodbye reply, then the close. A logged-in user is logged out.
pub(super) fn exit(s: &mut Session, svc: &mut Services) {
    if let State::Authed(a) = std::mem::replace(&mut s.state, State::Open) {
        s.audit(svc, Log::Accounts, Some(&a.user), "logout", Ok(()));
        svc.users.detach(&a.user);
    }
    s.send_ok(&Bye { bye: true });
    s.closing = true;
}
