//! SHA-256 while streaming: the transfer modules feed every byte through one
//! hasher exactly once, reading in fixed chunks so memory stays bounded
//! whatever the file size.

use crate::error::{ClientError, Result};
use sha2::{Digest, Sha256};
use std::io::{self, Read};
use std::path::Path;

/// Bytes per read and write in a transfer.
pub const CHUNK: usize = 256 * 1024;

/// The local side of a transfer's body: the file (and its name, for
/// errors), the hasher every byte goes through once, and the chunk buffer.
pub struct LocalBody<'a> {
    pub file: &'a mut std::fs::File,
    pub path: &'a Path,
    pub hasher: &'a mut Sha256,
    pub buf: &'a mut [u8],
}

/// Reads exactly `len` bytes of `file` into `hasher` (from its current
/// position). A file shorter than that is an error: it changed under us.
pub fn hash_prefix(file: &mut impl Read, len: u64, hasher: &mut Sha256, path: &Path, buf: &mut [u8]) -> Result<()> {
    let mut left = len;
    while left > 0 {
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = match file.read(&mut buf[..want]) {
            Ok(0) => {
                let e = io::Error::new(io::ErrorKind::UnexpectedEof, format!("the file shrank below {len} bytes"));
                return Err(ClientError::local(path, e));
            }
            Ok(n) => n,
            // EINTR: a signal arrived mid-read; nothing was read, so retry.
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(ClientError::local(path, e)),
        };
        hasher.update(&buf[..n]);
        left -= n as u64;
    }
    Ok(())
}

/// Lowercase hex of the digest so far, leaving the hasher as it was.
pub fn hex_of(hasher: &Sha256) -> String {
    hex::encode(hasher.clone().finalize())
}

/// Compares two hex digests; the protocol says lowercase, but accept either.
pub fn same(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// The hex SHA-256 of a whole local file, streamed.
pub fn file_sha256(path: &Path) -> Result<String> {
    let mut file = std::fs::File::open(path).map_err(|e| ClientError::local(path, e))?;
    let len = file.metadata().map_err(|e| ClientError::local(path, e))?.len();
    let mut hasher = Sha256::new();
    hash_prefix(&mut file, len, &mut hasher, path, &mut vec![0u8; CHUNK])?;
    Ok(hex_of(&hasher))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prefix_hashes_like_the_same_bytes_at_once() {
        let data: Vec<u8> = (0..1_000_003u32).map(|i| (i * 7 % 251) as u8).collect();
        let mut h = Sha256::new();
        let mut buf = vec![0u8; 4096]; // many short reads
        hash_prefix(&mut &data[..], 600_001, &mut h, Path::new("mem"), &mut buf).unwrap();
        assert_eq!(hex_of(&h), hex::encode(Sha256::digest(&data[..600_001])));
        h.update(&data[600_001..]);
        assert_eq!(hex_of(&h), hex::encode(Sha256::digest(&data)));
    }

    #[test]
    fn a_short_file_is_reported_not_padded() {
        let err = hash_prefix(&mut &b"abc"[..], 4, &mut Sha256::new(), Path::new("f"), &mut [0u8; 8]).unwrap_err();
        assert!(err.to_string().contains("shrank"), "{err}");
        assert!(same("ABcd", "abCD"));
    }
}
