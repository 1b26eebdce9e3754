//! PLACEHOLDER until issue 12's worker pool lands on main: the job types of
//! the pool contract that the FTP login needs, run inline by the driver.
//! Replaced wholesale by the real `src/worker*` at the merge.

use crate::protocol::scram::{self, Key};

/// Slow work a session hands to the driver (`DriverRequest::Work`).
pub enum Job {
    /// PBKDF2 of a password with an account's (or the fake) parameters.
    DeriveKeys { password: String, salt: Vec<u8>, iterations: u32 },
    /// The SHA-256 of a whole file (FTP's HASH without a cached digest),
    /// remembered in the digest cache if the file did not change meanwhile.
    HashFile { file: std::fs::File },
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Job::DeriveKeys { iterations, .. } => write!(f, "DeriveKeys({iterations})"),
            Job::HashFile { .. } => f.write_str("HashFile"),
        }
    }
}

impl PartialEq for Job {
    fn eq(&self, _: &Job) -> bool {
        false
    }
}
impl Eq for Job {}
impl Clone for Job {
    fn clone(&self) -> Job {
        match self {
            Job::DeriveKeys { password, salt, iterations } => {
                Job::DeriveKeys { password: password.clone(), salt: salt.clone(), iterations: *iterations }
            }
            Job::HashFile { file } => Job::HashFile { file: file.try_clone().expect("dup a descriptor") },
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
            Job::HashFile { file } => JobOutput::Digest(hash_file(&file)),
        }
    }
}

fn hash_file(file: &std::fs::File) -> Result<String, String> {
    use sha2::Digest;
    use std::io::Read;
    let before = crate::digest_cache::Stamp::of(file);
    let mut hasher = sha2::Sha256::default();
    let mut buf = vec![0u8; 256 * 1024];
    let mut f = file;
    loop {
        match f.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => hasher.update(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.to_string()),
        }
    }
    let sha = hex::encode(hasher.finalize());
    if before.is_some() && crate::digest_cache::Stamp::of(file) == before {
        crate::digest_cache::store(file, &sha);
    }
    Ok(sha)
}
