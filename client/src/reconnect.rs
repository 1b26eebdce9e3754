//! Coming back after the connection went away: the server closed an idle
//! session, the network dropped it, or the user cut a transfer with Ctrl-C
//! (the protocol has no abort, so the client closes the socket).
//!
//! [`Client::reconnect`] opens a new connection through the same
//! [`Endpoint::open`](crate::client::Endpoint::open) as the first one, logs
//! in again with the SCRAM keys kept from the last login (never the
//! password, which is not kept), and returns to the remote folder. It knows
//! nothing of the stream type underneath.

use crate::client::{Client, LoginKeys};
use crate::error::{ClientError, Result};

/// What a reconnect restored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reconnected {
    /// The remote folder the session was in.
    pub cwd: String,
    /// Whether the new session is back in it (it may have been removed).
    pub cwd_restored: bool,
}

impl Client {
    /// Whether [`Client::reconnect`] can work: the client knows where it
    /// connected and is logged in.
    pub fn can_reconnect(&self) -> bool {
        self.endpoint.is_some() && self.login_keys.is_some()
    }

    /// Whether the server has closed this connection (see
    /// [`Connection::peer_closed`](crate::connection::Connection::peer_closed)).
    pub fn peer_closed(&mut self) -> bool {
        self.conn.peer_closed()
    }

    /// Replaces the connection with a new one, logged in as the same user
    /// with the kept keys, in the same remote folder. A refusal from the
    /// server (the account was removed, disabled or its password changed,
    /// or logins are throttled) is returned as is: the caller must not try
    /// again with the same keys.
    pub fn reconnect(&mut self) -> Result<Reconnected> {
        let (Some(endpoint), Some(kept)) = (self.endpoint.clone(), self.login_keys.clone()) else {
            return Err(ClientError::Usage("this session cannot reconnect: it is not logged in".into()));
        };
        let cwd = self.cwd.clone();
        let (conn, hello) = endpoint.open()?;
        // The old connection is dropped here, whatever state it was in.
        self.conn = conn;
        self.replace_hello(hello);
        self.forget_login();
        let LoginKeys { user, salt, iterations, keys } = kept;
        // Until the login below succeeds, there are no keys to try again with:
        // a refused login must not be repeated with the same keys.
        self.login_keys = None;
        self.login_keys_with(&user, |server_salt, server_iterations| {
            if server_salt == salt.as_slice() && server_iterations == iterations {
                Ok(keys)
            } else {
                Err(ClientError::Usage(format!(
                    "the account {user} changed since you logged in; log in again with its password"
                )))
            }
        })?;
        let cwd_restored = cwd == "/" || self.cd(&cwd).is_ok();
        Ok(Reconnected { cwd, cwd_restored })
    }
}
