//! The key-file format shared by the server and every client: a file whose
//! exact bytes (at least [`MIN_KEY_LEN`], at most 4096 are read) are the
//! pre-shared connection key. A file readable by group or others is used,
//! with a warning, since refusing it would lock out the owner for a mode bit.

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::PermissionsExt;
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
            // The caller names the path; saying it here too would print it twice.
            format!("it holds {} bytes; at least {MIN_KEY_LEN} are needed", key.len()),
        ));
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_key_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        std::fs::write(&path, b"short").unwrap();
        assert_eq!(read_key(&path).unwrap_err().kind(), io::ErrorKind::InvalidData);
    }
}
