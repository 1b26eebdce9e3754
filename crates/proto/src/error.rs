//! Stable, machine-readable error codes and the wire error object.
//!
//! Every failure reply carries `{"ok":false,"error":{"code":..,"message":..}}`.
//! `code` is one of the snake_case names below and never changes meaning;
//! `message` is human text and may be reworded. [`ErrorCode`] is the only
//! list of codes: the server sends them, and the audit logs use them as their
//! `reason`. A few exist only as audit reasons (why a transfer or a login was
//! cut off) and are never sent: [`ErrorCode::on_wire`] tells which.
//! docs/PROTOCOL.md §6 lists them all, in this order.
//!
//! A client may meet a code from a newer server. [`WireError`] still decodes:
//! its `code` becomes [`ErrorCode::Internal`] (§6: "treat an unknown code like
//! `internal`") and the name it carried is kept in
//! [`WireError::unknown_code`], so the enum needs no catch-all variant that a
//! server could send by mistake.

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! codes {
    ($($kind:ident $variant:ident = $name:literal, $doc:literal;)*) => {
        /// A stable error code (a wire code, or an audit-only reason).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $(#[doc = $doc] $variant,)*
        }

        impl ErrorCode {
            /// Every code, in documentation order.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            /// The snake_case name sent on the wire and written as an audit `reason`.
            pub fn as_str(self) -> &'static str {
                match self { $(ErrorCode::$variant => $name,)* }
            }

            /// Parses a name; `None` for codes this build does not know.
            pub fn parse(name: &str) -> Option<ErrorCode> {
                match name { $($name => Some(ErrorCode::$variant),)* _ => None }
            }

            /// One line on what the code means.
            pub fn describe(self) -> &'static str {
                match self { $(ErrorCode::$variant => $doc,)* }
            }

            /// Whether the server may send this code in a failure reply. The
            /// others are reasons in the audit logs only.
            pub fn on_wire(self) -> bool {
                match self { $(ErrorCode::$variant => codes!(@wire $kind),)* }
            }
        }
    };
    (@wire wire) => { true };
    (@wire audit) => { false };
}

codes! {
    wire BadFrame = "bad_frame", "The byte stream is not a valid frame (empty, not UTF-8, not a JSON object, or a bad `size`). The server closes the connection.";
    wire FrameTooLarge = "frame_too_large", "A header length over 65536 bytes was declared. The server closes the connection.";
    wire BadRequest = "bad_request", "A field is missing, has the wrong type, or is out of range. The connection stays usable.";
    wire UnknownOp = "unknown_op", "The `op` is missing or not one this server knows. The connection stays usable.";
    wire UnexpectedBody = "unexpected_body", "The request declared a body (`size`) where none is allowed; the body was read and discarded.";
    wire HandshakeRequired = "handshake_required", "The connection check (`auth`) must succeed before any other request.";
    wire HandshakeFailed = "handshake_failed", "The HMAC over the challenge was wrong: the client does not hold the server's key. The server closes the connection.";
    wire BadState = "bad_state", "The request is not valid in the connection's current state (for example `login_proof` with no `login` before it).";
    wire NotLoggedIn = "not_logged_in", "The request needs a logged-in session.";
    wire InvalidUsername = "invalid_username", "The username does not match ^[a-z0-9_][a-z0-9_.-]{0,31}$.";
    wire WeakKdf = "weak_kdf", "The KDF parameters are outside the policy: at registration, an iteration count other than the server's (or above 10,000,000), a salt that is not 16 bytes, or malformed keys; at login, an account stored with more than 10,000,000 iterations.";
    wire UserExists = "user_exists", "An account with that username already exists.";
    wire RegistrationClosed = "registration_closed", "`register` without a token on a server that takes new accounts only with an invitation token (`--registration token`) or not at all (`--registration closed`); the message says which.";
    wire InvalidToken = "invalid_token", "The `register` token is malformed, unknown, already used, expired, or for another account (a reset token is for one user). Deliberately one code for all of these.";
    wire AuthFailed = "auth_failed", "Invalid username or password. Deliberately the same for unknown users and wrong passwords.";
    wire AccountDisabled = "account_disabled", "The account is disabled by the server's administrator. Sent only after a correct proof, so it tells nothing to someone without the password. A client must not retry or reconnect on its own.";
    wire PathInvalid = "path_invalid", "The path is malformed: empty, too long (4096 bytes), too deep (64 levels), a name over 255 bytes, a control character (C0, DEL, C1 or bidirectional), or a reserved name (starting with \".mioftp\").";
    wire PathEscape = "path_escape", "The path would leave the user's home (\"..\" above \"/\", or a symbolic link leading outside). Nothing was done.";
    wire NotFound = "not_found", "No such file or directory.";
    wire NotADirectory = "not_a_directory", "A directory was needed (for `cd`, or as a parent) but the path is something else.";
    wire IsADirectory = "is_a_directory", "A file was needed (for `put` or `get`) but the path is a directory.";
    wire Exists = "exists", "Something already exists at that path.";
    wire NotEmpty = "not_empty", "`rm` of a directory that is not empty (without `recursive`), or one added to while `rm` with `recursive` ran.";
    wire QuotaExceeded = "quota_exceeded", "The upload does not fit in the user's quota; the message gives the numbers.";
    wire Busy = "busy", "Another upload to the same path by the same user is in progress (for `rm` with `recursive`: to a path inside the directory).";
    wire SizeMismatch = "size_mismatch", "The upload body's size differs from what `put` declared and its reply allowed.";
    wire DigestMismatch = "digest_mismatch", "The SHA-256 in `put_done` differs from the server's digest of what it received. Nothing was stored and the partial was discarded.";
    wire NoSpace = "no_space", "The server's disk is full; the upload's partial data is kept for a later resume.";
    wire TooManyAttempts = "too_many_attempts", "Too many failed logins for this username from this address, from this address, or for this username from many addresses; the message says which and when to retry.";
    wire Timeout = "timeout", "A deadline passed (handshake and login, idle, or a stalled transfer). The server closes the connection.";
    wire ServerBusy = "server_busy", "The server is at its connection limit, or this address has too many connections (the server closes the connection); or its queue of slow disk work is full (the request had no effect; the connection stays usable). Retry later.";
    wire Internal = "internal", "The server hit an I/O or other internal error; the request had no effect unless stated.";
    audit Disconnected = "disconnected", "Audit only: the peer closed or reset the connection while a transfer was under way.";
    audit Closed = "closed", "Audit only: the server ended the session while a transfer was under way, for instance after a framing error.";
    audit Shutdown = "shutdown", "Audit only: the server shut down while a transfer was under way (after the grace period).";
    audit Cancelled = "cancelled", "Audit only: the client sent `exit` while an upload was under way.";
    audit Abandoned = "abandoned", "Audit only: the connection ended between `login` and `login_proof`.";
    audit NoSuchUser = "no_such_user", "Audit only: an administrative action (`mioftpd accounts`) named an account that does not exist.";
    audit TooManyTokens = "too_many_tokens", "Audit only: `mioftpd accounts invite` or `reset` was refused because 10,000 tokens are already outstanding.";
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// The `error` object of a failure reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "RawWireError")]
pub struct WireError {
    /// The stable code; [`ErrorCode::Internal`] for a code this build does not know.
    pub code: ErrorCode,
    pub message: String,
    /// The name a received reply carried when this build does not know it
    /// (a newer server); `None` otherwise. Never sent.
    #[serde(skip)]
    pub unknown_code: Option<String>,
}

/// The `error` object as it arrives, before its code is looked up.
#[derive(Deserialize)]
struct RawWireError {
    code: String,
    message: String,
}

impl From<RawWireError> for WireError {
    fn from(raw: RawWireError) -> WireError {
        match ErrorCode::parse(&raw.code) {
            Some(code) => WireError { code, message: raw.message, unknown_code: None },
            None => WireError { code: ErrorCode::Internal, message: raw.message, unknown_code: Some(raw.code) },
        }
    }
}

impl WireError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        WireError { code, message: message.into(), unknown_code: None }
    }

    /// The code's name as received: the unknown name, or the known code's.
    pub fn code_name(&self) -> &str {
        self.unknown_code.as_deref().unwrap_or(self.code.as_str())
    }
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips_and_is_snake_case() {
        for code in ErrorCode::ALL {
            let name = code.as_str();
            assert_eq!(ErrorCode::parse(name), Some(*code));
            assert!(name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'), "{name}");
            assert_eq!(ErrorCode::ALL.iter().filter(|c| c.as_str() == name).count(), 1, "{name} twice");
        }
        assert_eq!(ErrorCode::parse("no_such_code"), None);
    }

    #[test]
    fn wire_errors_serialise_as_the_snake_case_name_and_come_back() {
        let e = WireError::new(ErrorCode::QuotaExceeded, "over");
        let json = serde_json::to_string(&e).unwrap();
        assert_eq!(json, r#"{"code":"quota_exceeded","message":"over"}"#);
        assert_eq!(serde_json::from_str::<WireError>(&json).unwrap(), e);
    }

    #[test]
    fn an_unknown_code_from_a_newer_server_reads_as_internal_and_keeps_its_name() {
        let e: WireError = serde_json::from_str(r#"{"code":"moon_phase","message":"later"}"#).unwrap();
        assert_eq!(e.code, ErrorCode::Internal);
        assert_eq!(e.code_name(), "moon_phase");
        assert_eq!(e.message, "later");
        assert_eq!(WireError::new(ErrorCode::Busy, "b").code_name(), "busy");
    }

    #[test]
    fn audit_only_reasons_are_not_wire_codes() {
        let audit: Vec<&str> = ErrorCode::ALL.iter().filter(|c| !c.on_wire()).map(|c| c.as_str()).collect();
        assert_eq!(
            audit,
            ["disconnected", "closed", "shutdown", "cancelled", "abandoned", "no_such_user", "too_many_tokens"]
        );
        assert!(ErrorCode::Timeout.on_wire() && ErrorCode::Internal.on_wire());
    }
}
