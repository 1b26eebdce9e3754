//! Typed requests, replies and notices: the JSON headers both sides exchange.
//!
//! Requests are tagged by `op`. Replies carry `ok`; a success reply's other
//! fields depend on the request, a failure carries `error`. Notices are frames
//! the server sends unprompted and are tagged by `notice`. Unknown fields are
//! ignored everywhere so either side can add optional fields later.

use super::error::{ErrorCode, WireError};
use super::frame::Header;
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use serde_json::Value;

/// The protocol version announced in `hello`.
pub const PROTOCOL_VERSION: u32 = 1;
/// The KDF named in `hello`.
pub const KDF_NAME: &str = "pbkdf2-sha256";

/// A client request. The variant name in snake_case is the `op`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    /// Answer to the hello challenge: base64 HMAC-SHA-256(key, challenge).
    Auth { hmac: String },
    /// Create an account from client-derived SCRAM keys.
    Register { user: String, salt: String, iterations: u32, stored_key: String, server_key: String },
    /// SCRAM client-first: the user and a client nonce.
    Login { user: String, nonce: String },
    /// SCRAM client-final: the base64 ClientProof.
    LoginProof { proof: String },
    /// End the login; the connection stays checked and may log in again.
    Logout,
    /// Say goodbye; the server replies, then closes.
    Exit,
    /// Does nothing; answers `ok`. Useful as a keep-alive or latency probe.
    Noop,
    /// The current directory.
    Pwd,
    /// Change the current directory.
    Cd { path: String },
    /// Create a directory (`parents`: also missing parents, and no error if it exists).
    Mkdir {
        path: String,
        #[serde(default)]
        parents: bool,
    },
    /// Remove a file, a link or an empty directory; with `recursive`, a
    /// directory and everything in it.
    Rm {
        path: String,
        #[serde(default)]
        recursive: bool,
    },
    /// List a directory (default: the current one), streamed in chunks.
    Dir {
        #[serde(default)]
        path: Option<String>,
    },
    /// Bytes used and the limit.
    Quota,
    /// Start (or resume) an upload of `length` bytes to `path`.
    Put {
        path: String,
        length: u64,
        #[serde(default = "yes")]
        resume: bool,
    },
    /// The upload's body: the frame's `size` bytes follow. No reply of its own.
    PutData,
    /// The upload's trailer: the SHA-256 of the whole file, in hex.
    PutDone { sha256: String },
    /// Download `path`, resuming at `offset` if `if_match` still names the file's version.
    Get {
        path: String,
        #[serde(default)]
        offset: u64,
        #[serde(default)]
        if_match: Option<String>,
    },
}

fn yes() -> bool {
    true
}

impl Request {
    /// Every `op` this build understands.
    pub const OPS: &'static [&'static str] = &[
        "auth",
        "register",
        "login",
        "login_proof",
        "logout",
        "exit",
        "noop",
        "pwd",
        "cd",
        "mkdir",
        "rm",
        "dir",
        "quota",
        "put",
        "put_data",
        "put_done",
        "get",
    ];

    /// The `op` name of this request.
    pub fn op(&self) -> &'static str {
        match self {
            Request::Auth { .. } => "auth",
            Request::Register { .. } => "register",
            Request::Login { .. } => "login",
            Request::LoginProof { .. } => "login_proof",
            Request::Logout => "logout",
            Request::Exit => "exit",
            Request::Noop => "noop",
            Request::Pwd => "pwd",
            Request::Cd { .. } => "cd",
            Request::Mkdir { .. } => "mkdir",
            Request::Rm { .. } => "rm",
            Request::Dir { .. } => "dir",
            Request::Quota => "quota",
            Request::Put { .. } => "put",
            Request::PutData => "put_data",
            Request::PutDone { .. } => "put_done",
            Request::Get { .. } => "get",
        }
    }

    /// Interprets a decoded header. Distinguishes an unknown or missing `op`
    /// (`unknown_op`) from a known op with bad fields (`bad_request`).
    pub fn from_header(header: Header) -> Result<Request, WireError> {
        match header.get("op") {
            Some(Value::String(op)) if Self::OPS.contains(&op.as_str()) => {}
            Some(Value::String(op)) => {
                let shown: String = op.chars().take(64).collect();
                return Err(WireError::new(ErrorCode::UnknownOp, format!("unknown op \"{shown}\"")));
            }
            Some(_) => {
                return Err(WireError::new(ErrorCode::UnknownOp, "field \"op\" must be a string"));
            }
            None => {
                return Err(WireError::new(ErrorCode::UnknownOp, "request has no \"op\" field"));
            }
        }
        serde_json::from_value(Value::Object(header))
            .map_err(|e| WireError::new(ErrorCode::BadRequest, format!("malformed request: {e}")))
    }
}

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
    /// The least PBKDF2 iteration count `register` accepts.
    pub min_iterations: u32,
    /// The least password length clients should accept (clients enforce it:
    /// the server never sees the password).
    pub min_password_len: u32,
}

/// Reply to `register`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Registered {
    pub user: String,
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
    use serde_json::json;

    fn header(v: Value) -> Header {
        match v {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    #[test]
    fn requests_round_trip_through_headers() {
        let reqs = [
            Request::Auth { hmac: "aGk=".into() },
            Request::Login { user: "alice".into(), nonce: "n0nce-123".into() },
            Request::LoginProof { proof: "cHJvb2Y=".into() },
            Request::Logout,
            Request::Exit,
            Request::Noop,
        ];
        for req in reqs {
            let v = serde_json::to_value(&req).unwrap();
            assert_eq!(v["op"], req.op());
            assert_eq!(Request::from_header(header(v)).unwrap(), req);
        }
    }

    #[test]
    fn unknown_and_missing_ops_are_unknown_op() {
        for v in [json!({"op": "format_disk"}), json!({}), json!({"op": 7})] {
            let err = Request::from_header(header(v)).unwrap_err();
            assert_eq!(err.known_code(), Some(ErrorCode::UnknownOp));
        }
    }

    #[test]
    fn known_op_with_bad_fields_is_bad_request() {
        for v in [
            json!({"op": "login"}),
            json!({"op": "login", "user": 5, "nonce": "abcdefgh"}),
            json!({"op": "register", "user": "a", "salt": "x", "iterations": -1, "stored_key": "", "server_key": ""}),
        ] {
            let err = Request::from_header(header(v)).unwrap_err();
            assert_eq!(err.known_code(), Some(ErrorCode::BadRequest));
        }
    }

    #[test]
    fn extra_fields_are_ignored() {
        let req = Request::from_header(header(json!({"op": "noop", "tag": 1}))).unwrap();
        assert_eq!(req, Request::Noop);
    }

    #[test]
    fn replies_serialise_with_ok_and_classify_back() {
        let ok = serde_json::to_value(OkReply::new(&Registered { user: "bob".into() })).unwrap();
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
