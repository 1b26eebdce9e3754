//! `check_user`: whether a name is free to register, asked before login and
//! rate-limited per address (it tells whether an account exists).

use super::{Session, State};
use crate::audit::Log;
use crate::protocol::messages::UserCheck;
use crate::protocol::{ErrorCode, WireError, check_username};
use crate::services::Services;
use std::time::Instant;

/// `check_user`: whether a name is free, so a client can say "taken" before
/// asking for a password twice. It reveals whether an account exists, so it
/// is allowed only before login and rate-limited per address; a taken name
/// is recorded as a failure with `user_exists`, like a `register` would be.
pub(super) fn check_user(s: &mut Session, user: &str, now: Instant, svc: &mut Services) {
    let shown_user = (!user.is_empty() && user.len() <= 64).then_some(user);
    let result = try_check_user(s, user, now, svc);
    let audited = match &result {
        Ok(true) => Ok(()),
        Ok(false) => Err(WireError::new(ErrorCode::UserExists, format!("the username \"{user}\" is already taken"))),
        Err(e) => Err(e.clone()),
    };
    s.audit(svc, Log::Accounts, shown_user, "check_user", audited.as_ref().map(|_| ()));
    match result {
        Ok(available) => s.send_ok(&UserCheck { user: user.to_owned(), available }),
        Err(e) => s.send_error(&e),
    }
}

fn try_check_user(s: &Session, user: &str, now: Instant, svc: &mut Services) -> Result<bool, WireError> {
    if !matches!(s.state, State::Open) {
        return Err(WireError::new(ErrorCode::BadState, "check_user is for choosing a name before logging in"));
    }
    check_username(user).map_err(|m| WireError::new(ErrorCode::InvalidUsername, m))?;
    if let Some(wait) = svc.name_checks.take(s.peer.ip(), now) {
        return Err(WireError::new(
            ErrorCode::TooManyAttempts,
            format!("too many name checks from this address; retry after {} s", wait.as_secs().max(1)),
        ));
    }
    match svc.storage.load_account(user) {
        Ok(found) => Ok(found.is_none()),
        // A damaged record still holds the name.
        Err(e) if e.kind() == std::io::ErrorKind::InvalidData => Ok(false),
        Err(e) => {
            log::error!("check_user {user}: {e}");
            Err(WireError::new(ErrorCode::Internal, "the account store could not be read; try again later"))
        }
    }
}
