//! The client's error type. Every variant displays as one human line; server
//! errors show their message, never raw JSON.
//!
//! Errors split into two families. Refusals (the server said no, a local file
//! is missing, a digest did not match, a usage mistake) leave the session
//! usable, so the interactive shell reports them and carries on. Connection
//! failures (lost socket, protocol violation, a transfer abandoned half-way)
//! leave the byte stream in an unknown state: see [`ClientError::is_fatal`].

use mioftp_proto::{ErrorCode, WireError};
use std::io;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot connect to {addr}: {source}")]
    Connect { addr: String, source: io::Error },
    #[error("connection lost: {0}")]
    Io(#[from] io::Error),
    /// The server refused the request; displays the server's message.
    #[error("{0}")]
    Server(WireError),
    #[error("protocol error: {0}")]
    Protocol(String),
    #[error("the server failed mutual authentication (bad server signature); it may be an impostor")]
    ServerAuth,
    #[error("{0}")]
    Usage(String),
    /// A local file or directory could not be read or written.
    #[error("{}: {source}", path.display())]
    Local { path: PathBuf, source: io::Error },
    /// A transfer's SHA-256 did not match; nothing was kept under the final name.
    #[error("{what}: SHA-256 mismatch (expected {expected}, got {actual}); nothing was stored")]
    DigestMismatch { what: String, expected: String, actual: String },
    /// A transfer was abandoned part-way and the connection with it (the
    /// frame boundaries can no longer be trusted).
    #[error("transfer aborted: {0}")]
    Aborted(String),
    /// A batch line failed: where, and why.
    #[error("line {line}: {command}: {source}")]
    AtLine { line: usize, command: String, source: Box<ClientError> },
    /// One item of a command on several files failed: which one, and why.
    #[error("{what}: {source}")]
    About { what: String, source: Box<ClientError> },
    /// A command on several files carried on past failures (interactive
    /// mode) and some failed; `summary` says how many, `first` is the first
    /// failure (its kind decides the exit status).
    #[error("{summary}")]
    Several { summary: String, first: Box<ClientError> },
}

impl ClientError {
    /// The server's error code, if this is a server refusal.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            ClientError::Server(e) => Some(e.code),
            ClientError::AtLine { source, .. } | ClientError::About { source, .. } => source.code(),
            ClientError::Several { first, .. } => first.code(),
            _ => None,
        }
    }

    /// This error, said of `what` (a file among several).
    pub fn about(self, what: impl Into<String>) -> ClientError {
        ClientError::About { what: what.into(), source: Box::new(self) }
    }

    /// A local I/O error, naming the path.
    pub fn local(path: &Path, source: io::Error) -> ClientError {
        ClientError::Local { path: path.to_owned(), source }
    }

    /// The error underneath any batch-line context.
    pub fn root(&self) -> &ClientError {
        match self {
            ClientError::AtLine { source, .. } | ClientError::About { source, .. } => source.root(),
            ClientError::Several { first, .. } => first.root(),
            other => other,
        }
    }

    /// True when the connection can no longer be used: the shell must stop.
    /// A server refusal whose code closes the connection (§6: framing
    /// errors, `timeout`, ...) counts too.
    pub fn is_fatal(&self) -> bool {
        match self.root() {
            ClientError::Server(e) => matches!(
                e.code,
                ErrorCode::BadFrame
                    | ErrorCode::FrameTooLarge
                    | ErrorCode::HandshakeRequired
                    | ErrorCode::HandshakeFailed
                    | ErrorCode::Timeout
                    | ErrorCode::ServerBusy
            ),
            ClientError::Usage(_) | ClientError::Local { .. } | ClientError::DigestMismatch { .. } => false,
            _ => true,
        }
    }
}

pub type Result<T> = std::result::Result<T, ClientError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_not_fatal_but_lost_connections_are() {
        let refusal = ClientError::Server(WireError::new(ErrorCode::NotFound, "no such file"));
        assert!(!refusal.is_fatal());
        let timeout = ClientError::Server(WireError::new(ErrorCode::Timeout, "idle"));
        assert!(timeout.is_fatal());
        assert!(ClientError::Io(io::Error::other("reset")).is_fatal());
        assert!(!ClientError::local(Path::new("x"), io::Error::other("denied")).is_fatal());
        let wrapped = ClientError::AtLine { line: 3, command: "get x".into(), source: Box::new(refusal) };
        assert!(!wrapped.is_fatal());
        assert_eq!(wrapped.code(), Some(ErrorCode::NotFound));
        assert_eq!(wrapped.to_string(), "line 3: get x: no such file");
        let about = ClientError::Server(WireError::new(ErrorCode::QuotaExceeded, "full")).about("put a/b.bin");
        assert_eq!((about.to_string().as_str(), about.code()), ("put a/b.bin: full", Some(ErrorCode::QuotaExceeded)));
        assert!(!about.is_fatal());
        let lost = ClientError::Io(io::Error::other("reset")).about("get x");
        let several = ClientError::Several { summary: "2 of 9 files failed".into(), first: Box::new(lost) };
        assert!(several.is_fatal(), "the first failure's kind decides");
        assert_eq!(several.to_string(), "2 of 9 files failed");
    }
}
