//! A file's SHA-256, remembered in an extended attribute so that a download
//! need not read and hash the file again.
//!
//! The attribute (`user.mioftp.sha256`) records the digest together with the
//! file's size and modification time when it was computed, and is trusted
//! only while both still match. It is written when an upload is committed
//! (the digest was just verified) and after a download that hashed the whole
//! file. A filesystem without user extended attributes simply never has one,
//! and downloads hash as they send. Whatever the cache says, the client still
//! checks the digest against the bytes it received.

use crate::storage::Stamp;
use std::fs::File;
use std::os::unix::fs::MetadataExt;

const NAME: &str = "user.mioftp.sha256";

/// Size and modification time of the file as it is now: what must be
/// unchanged for a digest to hold.
pub fn stamp(file: &File) -> Option<Stamp> {
    let m = file.metadata().ok()?;
    Some(Stamp { size: m.size(), mtime: m.mtime(), mtime_nsec: m.mtime_nsec() })
}

fn encode(stamp: &Stamp, sha256: &str) -> String {
    format!("v1 {} {}.{:09} {sha256}", stamp.size, stamp.mtime, stamp.mtime_nsec)
}

/// Remembers `sha256` (lowercase hex) for the file as it is now. Failures
/// (no xattr support, no permission) only mean there is no cache.
pub fn store(file: &File, sha256: &str) {
    let Some(stamp) = stamp(file) else { return };
    if let Err(e) =
        rustix::fs::fsetxattr(file, NAME, encode(&stamp, sha256).as_bytes(), rustix::fs::XattrFlags::empty())
    {
        log::debug!("no digest cache on this file: {e}");
    }
}

/// The remembered digest, if it is still valid for the file as it is now.
pub fn load(file: &File) -> Option<String> {
    let mut buf = [0u8; 128];
    let n = rustix::fs::fgetxattr(file, NAME, &mut buf[..]).ok()?;
    let text = std::str::from_utf8(&buf[..n]).ok()?;
    let stamp = stamp(file)?;
    let sha256 = text.strip_prefix(&encode(&stamp, ""))?;
    let valid = sha256.len() == 64 && sha256.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    valid.then(|| sha256.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const HEX: &str = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03";

    fn supported(dir: &std::path::Path) -> bool {
        let f = File::create(dir.join("probe")).unwrap();
        rustix::fs::fsetxattr(&f, NAME, b"x", rustix::fs::XattrFlags::empty()).is_ok()
    }

    #[test]
    fn a_stored_digest_holds_until_the_file_changes() {
        let dir = tempfile::tempdir().unwrap();
        if !supported(dir.path()) {
            eprintln!("skipped: no user xattrs on this filesystem");
            return;
        }
        let path = dir.path().join("f");
        std::fs::write(&path, b"hello\n").unwrap();
        let file = File::open(&path).unwrap();
        assert_eq!(load(&file), None);
        store(&file, HEX);
        assert_eq!(load(&file).as_deref(), Some(HEX));
        // Any write changes the modification time (and here the size).
        std::fs::OpenOptions::new().append(true).open(&path).unwrap().write_all(b"more").unwrap();
        assert_eq!(load(&File::open(&path).unwrap()), None);
    }

    #[test]
    fn a_damaged_attribute_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        if !supported(dir.path()) {
            return;
        }
        let path = dir.path().join("f");
        std::fs::write(&path, b"x").unwrap();
        let file = File::open(&path).unwrap();
        let stamp = stamp(&file).unwrap();
        for bad in [encode(&stamp, "short"), encode(&stamp, &"Z".repeat(64)), "garbage".to_owned()] {
            rustix::fs::fsetxattr(&file, NAME, bad.as_bytes(), rustix::fs::XattrFlags::empty()).unwrap();
            assert_eq!(load(&file), None, "{bad}");
        }
    }
}
