//! Client requests: the typed [`Request`] enum, the [`Op`] names, and the
//! one decode from a frame header into a request.
//!
//! One macro declares each request once, with its `op` name beside it; from
//! that it generates the serde tags, the [`Op`] enum and its list, and
//! [`Request::op`], so no second table of names can drift from the first.
//!
//! Decoding is two steps, because docs/PROTOCOL.md §1.1 tells two failures
//! apart that a plain serde tagged enum would merge: [`Op::of_header`] reads
//! `op` alone (missing, not a string, or not known: `unknown_op`), then
//! [`Request::from_header`] reads that op's fields (missing or mistyped:
//! `bad_request`). Unknown fields are ignored.

use super::error::{ErrorCode, WireError};
use super::frame::Header;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;

macro_rules! requests {
    ($($(#[doc = $doc:literal])* $variant:ident = $op:literal $({ $($fields:tt)* })?;)*) => {
        /// A client request, tagged by its `op`.
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(tag = "op")]
        pub enum Request {
            $($(#[doc = $doc])* #[serde(rename = $op)] $variant $({ $($fields)* })?,)*
        }

        /// Which request a header names: its `op`, without the fields.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Op {
            $($(#[doc = $doc])* $variant,)*
        }

        impl Op {
            /// Every op this build understands, in declaration order.
            pub const ALL: &'static [Op] = &[$(Op::$variant,)*];

            /// The `op` name on the wire.
            pub fn as_str(self) -> &'static str {
                match self { $(Op::$variant => $op,)* }
            }

            /// Looks up an `op` name; `None` if this build does not know it.
            pub fn parse(name: &str) -> Option<Op> {
                match name { $($op => Some(Op::$variant),)* _ => None }
            }
        }

        impl Request {
            /// The `op` of this request.
            pub fn op(&self) -> Op {
                match self { $(Request::$variant { .. } => Op::$variant,)* }
            }
        }
    };
}

requests! {
    /// Answer to the hello challenge: base64 HMAC-SHA-256(key, challenge).
    Auth = "auth" { hmac: String };
    /// Whether a username is free to register (throttled per address).
    CheckUser = "check_user" { user: String };
    /// Create an account from client-derived SCRAM keys; with a `token`, an
    /// invitation's account or a password reset (PROTOCOL.md, `register`).
    Register = "register" {
        user: String,
        salt: String,
        iterations: u32,
        stored_key: String,
        server_key: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        token: Option<String>,
    };
    /// SCRAM client-first: the user and a client nonce.
    Login = "login" { user: String, nonce: String };
    /// SCRAM client-final: the base64 ClientProof.
    LoginProof = "login_proof" { proof: String };
    /// End the login; the connection stays checked and may log in again.
    Logout = "logout";
    /// Say goodbye; the server replies, then closes.
    Exit = "exit";
    /// Does nothing; answers `ok`. Useful as a keep-alive or latency probe.
    Noop = "noop";
    /// The current directory.
    Pwd = "pwd";
    /// Change the current directory.
    Cd = "cd" { path: String };
    /// Create a directory (`parents`: also missing parents, and no error if it exists).
    Mkdir = "mkdir" {
        path: String,
        #[serde(default)]
        parents: bool,
    };
    /// Remove a file, a link or an empty directory; with `recursive`, a
    /// directory and everything in it.
    Rm = "rm" {
        path: String,
        #[serde(default)]
        recursive: bool,
    };
    /// List a directory (default: the current one), streamed in chunks.
    Dir = "dir" {
        #[serde(default)]
        path: Option<String>,
    };
    /// Bytes used and the limit.
    Quota = "quota";
    /// Start (or resume) an upload of `length` bytes to `path`.
    Put = "put" {
        path: String,
        length: u64,
        #[serde(default = "yes")]
        resume: bool,
    };
    /// The upload's body: the frame's `size` bytes follow. No reply of its own.
    PutData = "put_data";
    /// The upload's trailer: the SHA-256 of the whole file, in hex.
    PutDone = "put_done" { sha256: String };
    /// Download `path`, resuming at `offset` if `if_match` still names the file's version.
    Get = "get" {
        path: String,
        #[serde(default)]
        offset: u64,
        #[serde(default)]
        if_match: Option<String>,
    };
}

fn yes() -> bool {
    true
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A header that is not a valid request: the reply to send, and the op when
/// the header named a known one (its fields were wrong).
#[derive(Debug, Clone, PartialEq)]
pub struct Refused {
    pub op: Option<Op>,
    pub error: WireError,
}

impl Op {
    /// Step one: the header's `op`, or `unknown_op` when it is missing, not
    /// a string, or not known.
    pub fn of_header(header: &Header) -> Result<Op, WireError> {
        match header.get("op") {
            Some(Value::String(name)) => Op::parse(name).ok_or_else(|| {
                let shown: String = name.chars().take(64).collect();
                WireError::new(ErrorCode::UnknownOp, format!("unknown op \"{shown}\""))
            }),
            Some(_) => Err(WireError::new(ErrorCode::UnknownOp, "field \"op\" must be a string")),
            None => Err(WireError::new(ErrorCode::UnknownOp, "request has no \"op\" field")),
        }
    }
}

impl Request {
    /// Decodes a request header, consuming it: [`Op::of_header`], then the
    /// fields of that op (`bad_request` when one is missing or has the wrong
    /// type).
    pub fn from_header(header: Header) -> Result<Request, Refused> {
        let op = Op::of_header(&header).map_err(|error| Refused { op: None, error })?;
        serde_json::from_value(Value::Object(header)).map_err(|e| Refused {
            op: Some(op),
            error: WireError::new(ErrorCode::BadRequest, format!("malformed {op} request: {e}")),
        })
    }
}

#[cfg(test)]
mod tests;
