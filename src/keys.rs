//! The pre-shared connection key and the server's private secret.
//!
//! `server.key` is shared with every client: whoever holds it may attempt a
//! handshake. The secret (`accounts/.secret`) never leaves the server; it
//! derives the fake salts that make unknown users look like real ones, so it
//! must not be the shared key (a client could then tell fakes apart).
//! Both are created at first start: 32 random bytes, mode 0600, fsynced.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Bytes in a generated key.
pub const KEY_LEN: usize = 32;
/// The shortest key file accepted.
pub const MIN_KEY_LEN: usize = 16;

/// Reads a key file, whose exact bytes are the key.
pub fn read_key(path: &Path) -> io::Result<Vec<u8>> {
    let mut file = File::open(path)?;
    let mode = file.metadata()?.permissions().mode();
    if mode & 0o077 != 0 {
        log::warn!(
            "key file {} is readable by group or others (mode {:o}); chmod 600 it",
            path.display(),
            mode & 0o777
        );
    }
    let mut key = Vec::new();
    Read::take(&mut file, 4096).read_to_end(&mut key)?;
    if key.len() < MIN_KEY_LEN {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("key file {} holds {} bytes; at least {MIN_KEY_LEN} are needed", path.display(), key.len()),
        ));
    }
    Ok(key)
}

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

    #[test]
    fn a_short_key_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        std::fs::write(&path, b"short").unwrap();
        assert_eq!(read_key(&path).unwrap_err().kind(), io::ErrorKind::InvalidData);
    }
}
