//! The pre-shared connection key and the server's private secret.
//!
//! `server.key` is shared with every client: whoever holds it may attempt a
//! handshake. The secret (`accounts/.secret`) never leaves the server; it
//! derives the fake salts that make unknown users look like real ones, so it
//! must not be the shared key (a client could then tell fakes apart).
//! Both are created at first start: 32 random bytes, mode 0600, fsynced.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

pub use mioftp_proto::keyfile::{KEY_LEN, MIN_KEY_LEN, read_key};

/// Reads the key at `path`, creating it with fresh random bytes if absent.
/// Returns the key and whether it was created now.
pub fn load_or_create(path: &Path) -> io::Result<(Vec<u8>, bool)> {
    let mut key = [0u8; KEY_LEN];
    getrandom::fill(&mut key).map_err(io::Error::other)?;
    match OpenOptions::new().write(true).create_new(true).mode(0o600).open(path) {
        Ok(mut file) => {
            file.write_all(&key)?;
            file.sync_all()?;
            if let Some(dir) = path.parent() {
                sync_dir(dir)?;
            }
            Ok((key.to_vec(), true))
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok((read_key(path)?, false)),
        Err(e) => Err(e),
    }
}

/// fsyncs a directory so a new or renamed entry in it survives a crash.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_key_is_created_once_with_mode_0600_and_then_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("server.key");
        let (k1, created) = load_or_create(&path).unwrap();
        assert!(created);
        assert_eq!(k1.len(), KEY_LEN);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let (k2, created) = load_or_create(&path).unwrap();
        assert!(!created);
        assert_eq!(k1, k2);
    }
}
