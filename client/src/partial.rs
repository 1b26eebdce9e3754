//! A download's local partial state: `<target>.mioftp-part` holds the bytes
//! received so far and `<target>.mioftp-part.json` (the sidecar) says what
//! they are a prefix of (remote path, `etag`, length), so the next `get` can
//! ask the server to continue. The final name is only ever written by a
//! rename after the whole file's digest matched.

use crate::error::{ClientError, Result};
use serde::{Deserialize, Serialize};
use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};

/// Appended to the target's file name for the partial data.
pub const PART_SUFFIX: &str = ".mioftp-part";
/// Appended to the partial's name for its sidecar.
pub const SIDECAR_SUFFIX: &str = ".json";

/// What the partial file is a prefix of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sidecar {
    /// The remote file, absolute.
    pub remote: String,
    /// The server's version tag for it, sent back as `if_match`.
    pub etag: String,
    /// The whole remote file's length.
    pub length: u64,
}

/// The partial and sidecar paths of a download target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartialPaths {
    pub data: PathBuf,
    pub sidecar: PathBuf,
    /// The download's final name: errors name it, never the temporary
    /// names the user did not choose.
    pub target: PathBuf,
}

impl PartialPaths {
    pub fn for_target(target: &Path) -> PartialPaths {
        let data = with_suffix(target, PART_SUFFIX);
        let sidecar = with_suffix(&data, SIDECAR_SUFFIX);
        PartialPaths { data, sidecar, target: target.to_owned() }
    }

    /// The sidecar, if present and readable; anything malformed counts as
    /// absent (the partial is then not trusted and will be discarded).
    pub fn read_sidecar(&self) -> Option<Sidecar> {
        let text = std::fs::read(&self.sidecar).ok()?;
        serde_json::from_slice(&text).ok()
    }

    /// Writes the sidecar (before the body starts).
    pub fn write_sidecar(&self, sidecar: &Sidecar) -> Result<()> {
        let text = serde_json::to_vec(sidecar).map_err(|e| ClientError::local(&self.target, io::Error::other(e)))?;
        std::fs::write(&self.sidecar, text).map_err(|e| ClientError::local(&self.target, e))
    }

    /// Deletes the sidecar (after the partial was renamed into place).
    pub fn remove_sidecar(&self) -> Result<()> {
        remove_if_present(&self.sidecar, &self.target)
    }

    /// Deletes both files; absent files are fine.
    pub fn discard(&self) -> Result<()> {
        remove_if_present(&self.data, &self.target)?;
        remove_if_present(&self.sidecar, &self.target)
    }
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name: OsString = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn remove_if_present(path: &Path, target: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(ClientError::local(target, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_names_sit_next_to_the_target() {
        let p = PartialPaths::for_target(Path::new("/tmp/x/a.bin"));
        assert_eq!(p.data, Path::new("/tmp/x/a.bin.mioftp-part"));
        assert_eq!(p.sidecar, Path::new("/tmp/x/a.bin.mioftp-part.json"));
    }

    #[test]
    fn sidecars_round_trip_and_garbage_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let p = PartialPaths::for_target(&dir.path().join("f"));
        assert_eq!(p.read_sidecar(), None);
        let s = Sidecar { remote: "/f".into(), etag: "e1".into(), length: 9 };
        p.write_sidecar(&s).unwrap();
        assert_eq!(p.read_sidecar(), Some(s));
        std::fs::write(&p.sidecar, b"{not json").unwrap();
        assert_eq!(p.read_sidecar(), None);
        std::fs::write(&p.data, b"xx").unwrap();
        p.discard().unwrap();
        assert!(!p.data.exists() && !p.sidecar.exists());
        p.discard().unwrap();
    }
}
