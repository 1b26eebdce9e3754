//! `rm -r`: the server's recursive remove, `rm` with `recursive: true`
//! (PROTOCOL.md §5, `rm`), one request for a whole tree.
//!
//! Servers from before that field ignore it (unknown fields are ignored,
//! §1.1) and answer a non-empty folder with `not_empty`; a server that does
//! not know the request at all would say `unknown_op` or `bad_request`.
//! The answer tells, so nothing about server versions is hard-coded here:
//! those replies become one clear "not supported by this server yet".

use crate::client::Client;
use crate::error::{ClientError, Result};
use mioftp_proto::messages::{self, Removed};
use mioftp_proto::{ErrorCode, WireError};
use serde_json::json;

impl Client {
    /// Removes `path` and, if it is a folder, everything in it.
    pub fn rm_recursive(&mut self, path: &str) -> Result<Removed> {
        // The server refuses `/` with `bad_request`, which must not read as
        // "not supported" below.
        if crate::paths::resolve(&self.cwd, path).as_deref() == Some("/") {
            return Err(ClientError::Usage("your home folder (/) itself cannot be removed".into()));
        }
        // Sent as plain JSON: the typed request of this protocol version
        // has no `recursive` field yet.
        self.conn.send(&json!({"op": "rm", "path": path, "recursive": true}))?;
        self.conn.flush()?;
        let (header, body) = self.conn.recv_reply().map_err(|e| unsupported(e, path))?;
        if body > 0 {
            return Err(ClientError::Protocol(format!("unexpected {body}-byte body in reply to rm")));
        }
        messages::reply_body(header).map_err(ClientError::Protocol)
    }
}

/// A refusal of `rm` with `recursive` that shows the server cannot do it,
/// said so; any other error unchanged.
fn unsupported(e: ClientError, path: &str) -> ClientError {
    let (code, said) = match &e {
        ClientError::Server(w)
            if matches!(w.code, ErrorCode::UnknownOp | ErrorCode::BadRequest | ErrorCode::NotEmpty) =>
        {
            (w.code, w.message.clone())
        }
        _ => return e,
    };
    let message = if code == ErrorCode::NotEmpty {
        format!(
            "{path} is not empty and the server did not remove it recursively: \
             rm -r is not supported by this server yet (or something was added to the folder meanwhile)"
        )
    } else {
        format!("rm -r is not supported by this server yet (it answered {}: {said})", code.as_str())
    };
    ClientError::Server(WireError::new(code, message))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(code: ErrorCode) -> ClientError {
        ClientError::Server(WireError::new(code, "the server's words"))
    }

    #[test]
    fn refusals_that_mean_no_recursive_remove_say_so_and_keep_their_code() {
        for code in [ErrorCode::UnknownOp, ErrorCode::BadRequest, ErrorCode::NotEmpty] {
            let e = unsupported(refusal(code), "/photos");
            assert_eq!(e.code(), Some(code));
            assert!(e.to_string().contains("rm -r is not supported by this server yet"), "{e}");
            assert!(!e.is_fatal());
        }
        assert!(unsupported(refusal(ErrorCode::NotEmpty), "/photos").to_string().starts_with("/photos is not empty"));
    }

    #[test]
    fn other_errors_pass_unchanged() {
        for code in [ErrorCode::NotFound, ErrorCode::Busy, ErrorCode::PathEscape] {
            assert_eq!(unsupported(refusal(code), "/x").to_string(), "the server's words");
        }
        let lost = unsupported(ClientError::Io(std::io::Error::other("reset")), "/x");
        assert!(matches!(lost, ClientError::Io(_)));
    }
}
