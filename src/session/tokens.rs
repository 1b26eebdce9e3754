//! `register` with a one-time token, and the registration policy
//! (`--registration open|token|closed`).
//!
//! A token from `mioftpd accounts invite` lets its holder create one account
//! (of any free name, with the invitation's quota); one from `accounts reset
//! USER` lets USER's holder set a new password, so the administrator never
//! sees it. The token is claimed before the account is written and spent
//! only once the write is durable: a taken name or an I/O error gives it
//! back, a crash in between spends it (see [`crate::admin::tokens`]). Every
//! way a token can be wrong is one answer on the wire, `invalid_token`; the
//! log's message says which.

use super::auth::Registration;
use crate::accounts::NewCredentials;
use crate::admin::{Claim, QuotaSetting, TokenError, TokenKind};
use crate::config::Registration as Policy;
use crate::protocol::{ErrorCode, WireError};
use crate::services::Services;

/// What a `register` did with its token, for its audit record and reply.
#[derive(Debug, Default)]
pub(super) struct TokenUse {
    /// The token's public id (never the token).
    pub id: Option<String>,
    /// It was a reset token: the `register` replaces a password.
    pub reset: bool,
    /// The quota an invitation gives the new account.
    pub quota: Option<QuotaSetting>,
}

/// Without a token, registration must be open.
pub(super) fn check_open(policy: Policy) -> Result<(), WireError> {
    match policy {
        Policy::Open => Ok(()),
        Policy::Token => Err(WireError::new(
            ErrorCode::RegistrationClosed,
            "this server registers new accounts only with an invitation token; ask its administrator for one",
        )),
        Policy::Closed => Err(closed()),
    }
}

fn closed() -> WireError {
    WireError::new(ErrorCode::RegistrationClosed, "this server does not register new accounts")
}

/// Claims `token` for a `register` of `user`, noting what it is in `used`.
/// Under `--registration closed` only a reset token is accepted.
pub(super) fn claim<'a>(
    svc: &'a Services,
    token: &str,
    user: &str,
    used: &mut TokenUse,
) -> Result<Claim<'a>, WireError> {
    let claim = svc.tokens.claim_for(token, user, jiff::Timestamp::now()).map_err(|e| match e {
        TokenError::Io(e) => {
            log::error!("register {user}: token store: {e}");
            WireError::new(ErrorCode::Internal, "the token could not be checked; try again later")
        }
        other => {
            log::info!("register {user}: token refused: {other}");
            WireError::new(ErrorCode::InvalidToken, "invalid, expired or already used token")
        }
    })?;
    used.id = Some(claim.grant.id.clone());
    used.reset = claim.grant.kind == TokenKind::Reset;
    used.quota = claim.grant.quota;
    if !used.reset && svc.config.registration == Policy::Closed {
        return Err(closed()); // the claim drops here: the invitation stays usable
    }
    Ok(claim)
}

/// A reset token's `register`: replaces the SCRAM material of its account,
/// durably, then spends the token. Everything else in the record stays
/// (quota, creation time, and `disabled`: a reset does not enable).
pub(super) fn reset(svc: &Services, claim: Claim<'_>, reg: &Registration<'_>) -> Result<(), WireError> {
    let new = NewCredentials {
        salt: reg.salt,
        iterations: reg.iterations,
        stored_key: reg.stored_key,
        server_key: reg.server_key,
    };
    match svc.storage.replace_credentials(reg.user, new) {
        Ok(true) => {}
        Ok(false) => {
            // Deleted since the token was issued (a delete revokes them,
            // unless it raced this): the token is good for nothing now.
            let _ = claim.commit();
            return Err(WireError::new(ErrorCode::InvalidToken, "invalid, expired or already used token"));
        }
        Err(e) => {
            log::error!("reset {}: {e}", reg.user);
            return Err(WireError::new(ErrorCode::Internal, "the new password could not be saved"));
        }
    }
    spend(claim, reg.user);
    Ok(())
}

/// Spends a token once what it granted is durable. If the unlink fails the
/// token is spent anyway: its record is no longer under its name, and the
/// claim left behind is deleted at the next start.
pub(super) fn spend(claim: Claim<'_>, user: &str) {
    if let Err(e) = claim.commit() {
        log::error!("register {user}: spending the token: {e}");
    }
}
