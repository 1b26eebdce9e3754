//! Filesystem errors as values with a stable wire code, and the one place
//! that turns an `io::Error` from cap-std into one of them.
//!
//! Messages name the *virtual* path the client used, never a host path: the
//! client must not learn where homes live on the server. `io::Error`s that
//! map to no specific code are kept as [`FsError::Io`] (wire code
//! `internal`); their message shows only the OS error text, which for the
//! raw OS errors cap-std returns carries no path.

use super::vpath::{PathError, VPath};
use crate::protocol::ErrorCode;
use rustix::io::Errno;
use std::io;

/// A failed filesystem request, with a stable code (see [`FsError::code`]).
#[derive(Debug, thiserror::Error)]
pub enum FsError {
    /// Malformed path, or a request that makes no sense (removing `/`).
    #[error("{0}")]
    Invalid(String),
    /// The path, or a symbolic link on the way, would leave the home.
    #[error("{0}")]
    Escape(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    NotADirectory(String),
    #[error("{0}")]
    IsADirectory(String),
    #[error("{0}")]
    Exists(String),
    #[error("{0}")]
    NotEmpty(String),
    /// The server's disk (or its filesystem quota) is full.
    #[error("{0}")]
    NoSpace(String),
    /// Anything else; the request had no effect that the client should rely on.
    #[error("file-system error: {0}")]
    Io(io::Error),
}

impl FsError {
    /// The stable wire code (protocol §6).
    pub fn code(&self) -> ErrorCode {
        match self {
            FsError::Invalid(_) => ErrorCode::PathInvalid,
            FsError::Escape(_) => ErrorCode::PathEscape,
            FsError::NotFound(_) => ErrorCode::NotFound,
            FsError::NotADirectory(_) => ErrorCode::NotADirectory,
            FsError::IsADirectory(_) => ErrorCode::IsADirectory,
            FsError::Exists(_) => ErrorCode::Exists,
            FsError::NotEmpty(_) => ErrorCode::NotEmpty,
            FsError::NoSpace(_) => ErrorCode::NoSpace,
            FsError::Io(_) => ErrorCode::Internal,
        }
    }

    /// Human text for the wire; names the virtual path, never a host path.
    pub fn message(&self) -> String {
        match self {
            FsError::Invalid(m)
            | FsError::Escape(m)
            | FsError::NotFound(m)
            | FsError::NotADirectory(m)
            | FsError::IsADirectory(m)
            | FsError::Exists(m)
            | FsError::NotEmpty(m)
            | FsError::NoSpace(m) => m.clone(),
            FsError::Io(e) => match e.raw_os_error() {
                // A raw OS error displays as e.g. "Permission denied (os error 13)".
                Some(_) => format!("the server could not complete the request: {e}"),
                // A custom error's text is not ours to vouch for: show its kind only.
                None => format!("the server could not complete the request ({:?})", e.kind()),
            },
        }
    }
}

impl From<PathError> for FsError {
    fn from(e: PathError) -> FsError {
        match e {
            PathError::Invalid(m) => FsError::Invalid(m),
            PathError::Escape(m) => FsError::Escape(m),
        }
    }
}

/// Whether cap-std refused because resolution would leave the home.
///
/// cap-std reports its sandbox check as a *custom* `io::Error` of kind
/// `PermissionDenied` with the text "a path led outside of the filesystem"
/// (it also turns `openat2`'s `EXDEV` from `RESOLVE_BENEATH` into that). A
/// real `EACCES` from the kernel has a raw OS error code and is not an
/// escape. A raw `EXDEV` or `ELOOP` (too many links, or a final symlink met
/// where none may be followed) is treated as an escape too: we cannot tell
/// which link it was, and refusing is the safe side.
pub(crate) fn is_escape(e: &io::Error) -> bool {
    match Errno::from_io_error(e) {
        Some(errno) => errno == Errno::LOOP || errno == Errno::XDEV,
        None => e.kind() == io::ErrorKind::PermissionDenied,
    }
}

/// Maps an `io::Error` from an operation on `p` to an [`FsError`].
pub(crate) fn from_io(e: io::Error, p: &VPath) -> FsError {
    if Errno::from_io_error(&e) == Some(Errno::LOOP) {
        return FsError::Escape(format!(
            "{p}: too many symbolic links on the way (a loop, or links leading outside your home)"
        ));
    }
    if is_escape(&e) {
        return FsError::Escape(format!("{p}: a symbolic link on the way leads outside your home"));
    }
    if Errno::from_io_error(&e) == Some(Errno::NAMETOOLONG) {
        return FsError::Invalid(format!("{p}: the name is too long for the server's filesystem"));
    }
    match e.kind() {
        io::ErrorKind::NotFound => FsError::NotFound(format!("{p}: no such file or directory")),
        io::ErrorKind::NotADirectory => FsError::NotADirectory(format!("{p}: a part of the path is not a directory")),
        io::ErrorKind::IsADirectory => FsError::IsADirectory(format!("{p} is a directory")),
        io::ErrorKind::AlreadyExists => FsError::Exists(format!("{p} already exists")),
        io::ErrorKind::DirectoryNotEmpty => FsError::NotEmpty(format!("{p} is a directory that is not empty")),
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded => {
            FsError::NoSpace(format!("{p}: the server's disk is full"))
        }
        _ => FsError::Io(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> VPath {
        VPath::resolve(&VPath::root(), s).expect("valid")
    }

    fn os(errno: Errno) -> io::Error {
        io::Error::from_raw_os_error(errno.raw_os_error())
    }

    #[test]
    fn cap_std_sandbox_error_is_escape_but_real_eacces_is_not() {
        let sandbox = io::Error::new(io::ErrorKind::PermissionDenied, "a path led outside of the filesystem");
        assert_eq!(from_io(sandbox, &p("/a")).code(), ErrorCode::PathEscape);
        let eacces = os(Errno::ACCESS);
        assert_eq!(eacces.kind(), io::ErrorKind::PermissionDenied);
        let e = from_io(eacces, &p("/a"));
        assert_eq!(e.code(), ErrorCode::Internal);
        let shown = format!("os error {}", Errno::ACCESS.raw_os_error());
        assert!(e.message().contains(&shown), "{}", e.message());
    }

    #[test]
    fn raw_errors_map_to_stable_codes() {
        let cases = [
            (Errno::LOOP, ErrorCode::PathEscape),
            (Errno::XDEV, ErrorCode::PathEscape),
            (Errno::NOENT, ErrorCode::NotFound),
            (Errno::NOTDIR, ErrorCode::NotADirectory),
            (Errno::ISDIR, ErrorCode::IsADirectory),
            (Errno::EXIST, ErrorCode::Exists),
            (Errno::NOSPC, ErrorCode::NoSpace),
            (Errno::IO, ErrorCode::Internal),
            (Errno::NAMETOOLONG, ErrorCode::PathInvalid),
        ];
        for (errno, code) in cases {
            let e = from_io(os(errno), &p("/x/y"));
            assert_eq!(e.code(), code, "{errno:?}");
            assert!(e.message().contains("/x/y") || code == ErrorCode::Internal, "{}", e.message());
        }
        let e = from_io(io::Error::from(io::ErrorKind::DirectoryNotEmpty), &p("/d"));
        assert_eq!(e.code(), ErrorCode::NotEmpty);
    }

    #[test]
    fn path_errors_convert_and_custom_io_messages_hide_their_text() {
        assert_eq!(FsError::from(PathError::Invalid("x".into())).code(), ErrorCode::PathInvalid);
        assert_eq!(FsError::from(PathError::Escape("x".into())).code(), ErrorCode::PathEscape);
        let e = FsError::Io(io::Error::other("/srv/secret/home/alice: boom"));
        assert!(!e.message().contains("/srv"), "{}", e.message());
    }
}
