//! The actions both front ends (the native session and the FTP session)
//! perform for a logged-in user, written once: path resolution and
//! confinement, the shell commands, rename, listings, and the upload and
//! download objects with their quota, busy marks, partial files, digests
//! and audit records. A front end only turns requests into calls here and
//! results into its own replies, so the two protocols cannot drift apart:
//! the same checks, the same effects, the same records (which say which
//! front end served them, `proto`).
//!
//! - [`files`]: pwd, cd, mkdir, remove, rename, quota, stat, listings;
//! - [`upload`]: [`upload::Upload`] (begin with the quota reservation, the
//!   busy mark and the partial; write; commit with the digest; end with
//!   the record);
//! - [`download`]: [`download::Download`] (open; read and hash, or hand the
//!   file to sendfile when its digest is cached; the record).

pub mod download;
pub mod files;
pub mod upload;

use crate::audit::Actor;
use crate::home::{FsError, VPath};
use crate::protocol::{ErrorCode, WireError};
use crate::storage::HomeStore;
use std::net::SocketAddr;
use std::sync::Arc;

/// What a logged-in session knows about its user.
pub struct Authed {
    pub user: String,
    pub home: Arc<dyn HomeStore>,
    pub cwd: VPath,
}

/// Where an action comes from: the connection, and the front end that
/// serves it (`"ftp"`; `None` for the native protocol).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origin {
    pub peer: SocketAddr,
    pub session: u64,
    pub proto: Option<&'static str>,
}

impl Origin {
    /// The audit actor for `user`.
    pub fn actor<'a>(&self, user: Option<&'a str>) -> Actor<'a> {
        Actor { peer: self.peer, session: self.session, user, proto: self.proto }
    }
}

/// `last_login` is rewritten (an fsync in the loop today; in the worker
/// pool once there is one) only when the stored one is older than this.
const LAST_LOGIN_RESOLUTION: std::time::Duration = std::time::Duration::from_secs(60);

/// Records a successful login's time in the account (both front ends),
/// unless the stored one is recent (see [`LAST_LOGIN_RESOLUTION`]). A
/// failure is logged, never the user's.
pub fn note_login(svc: &crate::services::Services, user: &str, last: Option<&str>) {
    let now = jiff::Timestamp::now();
    let recent = last.and_then(|t| t.parse::<jiff::Timestamp>().ok()).is_some_and(|t| {
        now.duration_since(t) < jiff::SignedDuration::try_from(LAST_LOGIN_RESOLUTION).unwrap_or_default()
    });
    if recent {
        return;
    }
    if let Err(e) = svc.storage.record_login(user, &format!("{now:.3}")) {
        log::warn!("login {user}: recording the login time: {e}");
    }
}

/// The reply to a request whose worker job was not run (the pool's queue
/// was full, or the server is stopping): nothing was done.
pub fn busy() -> WireError {
    WireError::new(ErrorCode::ServerBusy, "the server is too busy for this now; nothing was done, try again")
}

/// The reply to a request whose worker job failed in an unknown way.
pub fn lost() -> WireError {
    WireError::new(ErrorCode::Internal, "the server hit an internal error; the request may not have taken effect")
}

/// Converts a filesystem error to the wire.
pub fn wire(e: &FsError) -> WireError {
    let code = e.code();
    if code == ErrorCode::Internal {
        log::error!("filesystem error: {e:?}");
    }
    WireError::new(code, e.message())
}

/// Resolves a peer-supplied path against the session's directory (lexically,
/// protocol §5.1; the filesystem confinement is the home's).
pub fn resolve(a: &Authed, input: &str) -> Result<VPath, WireError> {
    VPath::resolve(&a.cwd, input).map_err(|e| wire(&FsError::from(e)))
}
