//! Typed replies and notices: the JSON headers the server sends (requests
//! are in [`crate::request`]).
//!
//! Replies carry `ok`; a success reply's other
//! fields depend on the request, a failure carries `error`. Notices are frames
//! the server sends unprompted and are tagged by `notice`. Unknown fields are
//! ignored everywhere so either side can add optional fields later.

use super::error::WireError;
use super::frame::Header;
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use serde_json::Value;

/// The protocol version announced in `hello`.
pub const PROTOCOL_VERSION: u32 = 1;
/// The KDF named in `hello`.
pub const KDF_NAME: &str = "pbkdf2-sha256";

/// Frames the server sends without being asked. The variant is the `notice`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "notice", rename_all = "snake_case")]
pub enum Notice {
    /// The first frame on every connection.
    Hello(Hello),
    /// The server is stopping; it closes the connection after this frame.
    Shutdown(ShutdownNotice),
}

/// Sent before the server closes a connection because it is shutting down.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShutdownNotice {
    pub message: String,
}

/// The server's greeting and connection-check challenge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hello {
    pub protocol: u32,
    /// Software name and version, e.g. "mioftpd 0.1.0".
    pub server: String,
    /// Base64 of 32 fresh random bytes.
    pub challenge: String,
    /// Always "pbkdf2-sha256".
    pub kdf: String,
    /// The PBKDF2 iteration count `register` requires (exactly, since
    /// protocol §4's fix for telling accounts apart; the name is historical).
    pub min_iterations: u32,
    /// The most iterations this server ever hands out at login
    /// ([`crate::protocol::scram::MAX_ITERATIONS`]). Absent from older servers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_iterations: Option<u32>,
    /// The least password length clients should accept (clients enforce it:
    /// the server never sees the password).
    pub min_password_len: u32,
}

/// Reply to `check_user`: whether `user` is free to register now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserCheck {
    pub user: String,
    pub available: bool,
}

/// Reply to `register`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Registered {
    pub user: String,
    /// True when a reset token replaced an existing account's password
    /// (absent, i.e. false, for a new account).
    #[serde(default, skip_serializing_if = "is_false")]
    pub reset: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// Reply to `login`: SCRAM server-first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoginChallenge {
    pub salt: String,
    pub iterations: u32,
    /// Client nonce followed by the server's nonce.
    pub nonce: String,
}

/// Reply to a correct `login_proof`: SCRAM server-final.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoggedIn {
    pub user: String,
    pub server_signature: String,
}

/// Reply to `exit`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bye {
    pub bye: bool,
}

/// Reply to `pwd` and `cd`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cwd {
    pub cwd: String,
}

/// Reply to `mkdir`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Made {
    pub path: String,
    /// False when `parents` was set and the directory already existed.
    pub created: bool,
}

/// What a directory entry is. Symlinks are reported, never followed, by `dir`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    File,
    Dir,
    Symlink,
    Other,
}

/// Reply to `rm`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Removed {
    pub path: String,
    pub kind: EntryKind,
    /// Bytes given back to the quota.
    pub freed: u64,
    /// Entries removed (1 without `recursive`); 0 from servers before it existed.
    #[serde(default)]
    pub count: u64,
}

/// Reply to `quota`; also the summary in the last `dir` chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotaInfo {
    pub used: u64,
    /// `null` when the account is unlimited.
    pub limit: Option<u64>,
}

/// One entry of a listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirEntry {
    pub name: String,
    pub kind: EntryKind,
    /// Bytes (for a symlink, the length of its target text).
    pub size: u64,
    /// Modification time, whole seconds since the Unix epoch (UTC).
    pub mtime: i64,
}

/// One frame of a `dir` reply. All but the last have `more: true`; the last
/// carries the summary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirChunk {
    pub path: String,
    pub entries: Vec<DirEntry>,
    pub more: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<DirSummary>,
}

/// Totals in the last `dir` frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirSummary {
    /// Entries listed in all frames.
    pub count: u64,
    pub used: u64,
    pub limit: Option<u64>,
}

/// Reply to `put`: where the body must start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PutReady {
    pub path: String,
    /// Bytes the server already holds from an earlier attempt; send from here.
    pub offset: u64,
    /// SHA-256 (hex) of those first `offset` bytes, so the client can check
    /// its file still starts with them. Absent when `offset` is 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix_sha256: Option<String>,
}

/// Reply to `put_done`: the file is durably in place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stored {
    pub path: String,
    pub length: u64,
    pub sha256: String,
}

/// First frame of a `get` reply; `size` body bytes follow it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetStart {
    pub path: String,
    /// The whole file's length.
    pub length: u64,
    /// Where the body starts (0 if the requested offset could not be honoured).
    pub offset: u64,
    /// Opaque version of the file; send it back as `if_match` to resume.
    pub etag: String,
    pub mtime: i64,
    /// Body bytes that follow: `length - offset`.
    pub size: u64,
}

/// Last frame of a `get` reply, after the body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetEnd {
    pub trailer: bool,
    pub length: u64,
    /// SHA-256 (hex) of the whole file, bytes 0 to `length`.
    pub sha256: String,
}

/// An empty success body (`{"ok":true}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Empty {}

/// A success reply: `{"ok":true}` plus the body's fields.
#[derive(Debug, Serialize)]
pub struct OkReply<'a, T: Serialize> {
    pub ok: bool,
    #[serde(flatten)]
    pub body: &'a T,
}

impl<'a, T: Serialize> OkReply<'a, T> {
    pub fn new(body: &'a T) -> Self {
        OkReply { ok: true, body }
    }
}

/// A failure reply: `{"ok":false,"error":{...}}`.
#[derive(Debug, Serialize)]
pub struct ErrReply<'a> {
    pub ok: bool,
    pub error: &'a WireError,
}

impl<'a> ErrReply<'a> {
    pub fn new(error: &'a WireError) -> Self {
        ErrReply { ok: false, error }
    }
}

/// What a server frame is, as seen by a client.
#[derive(Debug)]
pub enum ServerFrame {
    Notice(Notice),
    Reply(Result<Header, WireError>),
}

/// Classifies a server frame header. Errors name what is malformed.
pub fn classify(header: Header) -> Result<ServerFrame, String> {
    if header.contains_key("notice") {
        return serde_json::from_value(Value::Object(header))
            .map(ServerFrame::Notice)
            .map_err(|e| format!("malformed notice: {e}"));
    }
    match header.get("ok") {
        Some(Value::Bool(true)) => Ok(ServerFrame::Reply(Ok(header))),
        Some(Value::Bool(false)) => {
            let err = header.get("error").cloned().ok_or("failure reply without \"error\"")?;
            let err: WireError = serde_json::from_value(err).map_err(|e| format!("malformed error: {e}"))?;
            Ok(ServerFrame::Reply(Err(err)))
        }
        _ => Err("server frame has neither \"ok\" nor \"notice\"".into()),
    }
}

/// Reads a success reply's fields as `T`.
pub fn reply_body<T: DeserializeOwned>(header: Header) -> Result<T, String> {
    serde_json::from_value(Value::Object(header)).map_err(|e| format!("malformed reply: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorCode;
    use serde_json::json;

    fn header(v: Value) -> Header {
        match v {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    #[test]
    fn replies_serialise_with_ok_and_classify_back() {
        let ok = serde_json::to_value(OkReply::new(&Registered { user: "bob".into(), reset: false })).unwrap();
        assert_eq!(ok, json!({"ok": true, "user": "bob"}));
        let ServerFrame::Reply(Ok(h)) = classify(header(ok)).unwrap() else { panic!() };
        assert_eq!(reply_body::<Registered>(h).unwrap().user, "bob");

        let e = WireError::new(ErrorCode::AuthFailed, "invalid username or password");
        let err = serde_json::to_value(ErrReply::new(&e)).unwrap();
        assert_eq!(err["error"]["code"], "auth_failed");
        let ServerFrame::Reply(Err(back)) = classify(header(err)).unwrap() else { panic!() };
        assert_eq!(back, e);
    }
}
