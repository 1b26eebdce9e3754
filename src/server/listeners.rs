//! The driver's listening sockets. The server always has one (the native
//! protocol, or whatever acceptor `Server::bind_with` was given) and may
//! have more (the FTP front end's `--ftp-listen`), each with its own
//! [`Acceptor`]. All of them feed the same slab, the same admission rules
//! (connection cap, per-IP limit) and the same loop; a connection remembers
//! which listener took it, so a PROXY preamble is replaced by the right kind
//! of session.
//!
//! Listener `i` has the token `usize::MAX - FIRST_TOKEN_GAP - i`, far above
//! any connection's token (`key * Channel::MAX + channel`).

use crate::session::Acceptor;
use mio::Token;
use mio::net::TcpListener;
use std::net::SocketAddr;

/// Tokens below `usize::MAX` kept for the waker and the signals.
const FIRST_TOKEN_GAP: usize = 16;
/// Most listeners one server may have.
pub const MAX_LISTENERS: usize = 8;

/// One listening socket and what it starts.
pub struct Listener {
    /// `None` once shutdown has begun: new connections are refused.
    pub socket: Option<TcpListener>,
    pub addr: SocketAddr,
    pub acceptor: Box<dyn Acceptor>,
}

/// The token of listener `i`.
pub fn token(i: usize) -> Token {
    Token(usize::MAX - FIRST_TOKEN_GAP - i)
}

/// The listener a token stands for, if it is one.
pub fn index(token: Token) -> Option<usize> {
    let i = usize::MAX.checked_sub(FIRST_TOKEN_GAP)?.checked_sub(token.0)?;
    (i < MAX_LISTENERS).then_some(i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listener_tokens_round_trip_and_stay_clear_of_others() {
        for i in 0..MAX_LISTENERS {
            assert_eq!(index(token(i)), Some(i));
        }
        assert_eq!(index(Token(0)), None);
        assert_eq!(index(Token(usize::MAX - 1)), None);
        assert_eq!(index(token(MAX_LISTENERS)), None);
    }
}
