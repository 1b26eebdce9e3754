//! Finding and reading the pre-shared key on the client side.

use crate::error::{ClientError, Result};
use std::path::{Path, PathBuf};

/// The key file used when neither `--key-file` nor `MIOFTP_KEY_FILE` is set:
/// `./server.key`, which is where a server started from the same folder with
/// the default root writes it.
pub const DEFAULT_KEY_FILE: &str = "server.key";

/// Reads the key file's exact bytes, with an error that says what to do.
pub fn load(path: Option<&Path>) -> Result<Vec<u8>> {
    let path: PathBuf = path.map(Path::to_owned).unwrap_or_else(|| PathBuf::from(DEFAULT_KEY_FILE));
    mioftp_proto::keyfile::read_key(&path).map_err(|e| {
        ClientError::Usage(format!(
            "cannot read the server key {}: {e} (copy the server's server.key here, or pass --key-file / set MIOFTP_KEY_FILE)",
            path.display()
        ))
    })
}
