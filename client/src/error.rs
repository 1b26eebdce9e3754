//! The client's error type. Every variant displays as one human line; server
//! errors show their message, never raw JSON.

use mioftp::protocol::{ErrorCode, WireError};
use std::io;

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
}

impl ClientError {
    /// The server's error code, if this is a server refusal.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            ClientError::Server(e) => e.known_code(),
            _ => None,
        }
    }
}

pub type Result<T> = std::result::Result<T, ClientError>;
