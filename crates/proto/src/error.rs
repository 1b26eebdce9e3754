//! Stable, machine-readable error codes and the wire error object.
//!
//! Every failure reply carries `{"ok":false,"error":{"code":..,"message":..}}`.
//! `code` is one of the snake_case names below and never changes meaning;
//! `message` is human text and may be reworded. docs/PROTOCOL.md lists them all.

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! codes {
    ($($variant:ident = $name:literal, $doc:literal;)*) => {
        /// A stable error code.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $(#[doc = $doc] $variant,)*
        }

        impl ErrorCode {
            /// Every code, in documentation order.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            /// The snake_case name sent on the wire.
            pub fn as_str(self) -> &'static str {
                match self { $(ErrorCode::$variant => $name,)* }
            }

            /// Parses a wire name; `None` for codes this build does not know.
            pub fn parse(name: &str) -> Option<ErrorCode> {
                match name { $($name => Some(ErrorCode::$variant),)* _ => None }
            }

            /// One line on what the code means.
            pub fn describe(self) -> &'static str {
                match self { $(ErrorCode::$variant => $doc,)* }
            }
        }
    };
}

codes! {
    BadFrame = "bad_frame", "The byte stream is not a valid frame (empty, not UTF-8, not a JSON object, or a bad `size`). The server closes the connection.";
    FrameTooLarge = "frame_too_large", "A header length over 65536 bytes was declared. The server closes the connection.";
    BadRequest = "bad_request", "A field is missing, has the wrong type, or is out of range. The connection stays usable.";
    UnknownOp = "unknown_op", "The `op` is missing or not one this server knows. The connection stays usable.";
    UnexpectedBody = "unexpected_body", "The request declared a body (`size`) where none is allowed; the body was read and discarded.";
    HandshakeRequired = "handshake_required", "The connection check (`auth`) must succeed before any other request.";
    HandshakeFailed = "handshake_failed", "The HMAC over the challenge was wrong: the client does not hold the server's key. The server closes the connection.";
    BadState = "bad_state", "The request is not valid in the connection's current state (for example `login_proof` with no `login` before it).";
    NotLoggedIn = "not_logged_in", "The request needs a logged-in session.";
    InvalidUsername = "invalid_username", "The username does not match ^[a-z0-9_][a-z0-9_.-]{0,31}$.";
    WeakKdf = "weak_kdf", "The registration's PBKDF2 iteration count is below the server's policy, or its salt or keys are malformed.";
    UserExists = "user_exists", "An account with that username already exists.";
    AuthFailed = "auth_failed", "Invalid username or password. Deliberately the same for unknown users and wrong passwords.";
    PathInvalid = "path_invalid", "The path is malformed: empty, too long (4096 bytes), too deep (64 levels), a name over 255 bytes, a control character, or a reserved name (starting with \".mioftp\").";
    PathEscape = "path_escape", "The path would leave the user's home (\"..\" above \"/\", or a symbolic link leading outside). Nothing was done.";
    NotFound = "not_found", "No such file or directory.";
    NotADirectory = "not_a_directory", "A directory was needed (for `cd`, or as a parent) but the path is something else.";
    IsADirectory = "is_a_directory", "A file was needed (for `put` or `get`) but the path is a directory.";
    Exists = "exists", "Something already exists at that path.";
    NotEmpty = "not_empty", "`rm` of a directory that is not empty (without `recursive`), or one added to while `rm` with `recursive` ran.";
    QuotaExceeded = "quota_exceeded", "The upload does not fit in the user's quota; the message gives the numbers.";
    Busy = "busy", "Another upload to the same path by the same user is in progress (for `rm` with `recursive`: to a path inside the directory).";
    SizeMismatch = "size_mismatch", "The upload body's size differs from what `put` declared and its reply allowed.";
    DigestMismatch = "digest_mismatch", "The SHA-256 in `put_done` differs from the server's digest of what it received. Nothing was stored and the partial was discarded.";
    NoSpace = "no_space", "The server's disk is full; the upload's partial data is kept for a later resume.";
    TooManyAttempts = "too_many_attempts", "Too many failed logins for this username or from this address; the message says when to retry.";
    Timeout = "timeout", "A deadline passed (handshake and login, idle, or a stalled transfer). The server closes the connection.";
    ServerBusy = "server_busy", "The server is at its connection limit, or this address has too many connections. The server closes the connection; retry later.";
    Internal = "internal", "The server hit an I/O or other internal error; the request had no effect unless stated.";
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
pub struct WireError {
    /// A stable code; kept as a string so a client can carry codes it does not know.
    pub code: String,
    pub message: String,
}

impl WireError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        WireError { code: code.as_str().to_owned(), message: message.into() }
    }

    /// The known code, if this build knows it.
    pub fn known_code(&self) -> Option<ErrorCode> {
        ErrorCode::parse(&self.code)
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
        }
        assert_eq!(ErrorCode::parse("no_such_code"), None);
    }
}
