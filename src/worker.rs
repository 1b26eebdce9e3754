//! PLACEHOLDER until issue 12's worker pool lands on main: the job types of
//! the pool contract that the FTP front end needs, run inline by the driver.
//! Replaced wholesale by the real `src/worker*` at the merge.

use crate::protocol::scram::{self, Key};
use crate::storage::ReadFile;

/// Slow work a session hands to the driver (`DriverRequest::Work`).
pub enum Job {
    /// PBKDF2 of a password with an account's (or the fake) parameters.
    DeriveKeys { password: String, salt: Vec<u8>, iterations: u32 },
    /// The SHA-256 of a whole file of `len` bytes (FTP's HASH without a
    /// cached digest), remembered if the file did not change meanwhile.
    HashFile { file: Box<dyn ReadFile>, len: u64 },
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Job::DeriveKeys { iterations, .. } => write!(f, "DeriveKeys({iterations})"),
            Job::HashFile { len, .. } => write!(f, "HashFile({len})"),
        }
    }
}

/// A job's result, handed to `Endpoint::work_done`.
pub enum JobOutput {
    Keys {
        stored_key: Key,
        server_key: Key,
    },
    /// A file's SHA-256 in lowercase hex, or why it could not be read.
    Digest(Result<String, String>),
    /// The pool's queue (or the peer's share of it) is full.
    Busy,
}

impl Job {
    pub fn run(self) -> JobOutput {
        match self {
            Job::DeriveKeys { password, salt, iterations } => {
                let salted = scram::salted_password(password.as_bytes(), &salt, iterations);
                let keys = scram::ClientKeys::from_salted(&salted);
                JobOutput::Keys { stored_key: keys.stored_key, server_key: keys.server_key }
            }
            Job::HashFile { file, len } => JobOutput::Digest(hash_file(&*file, len)),
        }
    }
}

fn hash_file(file: &dyn ReadFile, len: u64) -> Result<String, String> {
    use sha2::Digest;
    let before = file.stamp();
    let mut hasher = sha2::Sha256::default();
    let mut buf = vec![0u8; 256 * 1024];
    let mut pos = 0;
    while pos < len {
        let n = (len - pos).min(buf.len() as u64) as usize;
        file.read_exact_at(&mut buf[..n], pos).map_err(|e| e.to_string())?;
        hasher.update(&buf[..n]);
        pos += n as u64;
    }
    let sha = hex::encode(hasher.finalize());
    if before.is_some() && file.stamp() == before {
        file.remember_digest(&sha);
    }
    Ok(sha)
}
