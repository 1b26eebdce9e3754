//! PLACEHOLDER until issue 12's worker pool lands on main: the job types of
//! the pool contract that the FTP login needs, run inline by the driver.
//! Replaced wholesale by the real `src/worker*` at the merge.

use crate::protocol::scram::{self, Key};

/// Slow work a session hands to the driver (`DriverRequest::Work`).
pub enum Job {
    /// PBKDF2 of a password with an account's (or the fake) parameters.
    DeriveKeys { password: String, salt: Vec<u8>, iterations: u32 },
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Job::DeriveKeys { iterations, .. } => write!(f, "DeriveKeys({iterations})"),
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
        }
    }
}

/// A job's result, handed to `Endpoint::work_done`.
pub enum JobOutput {
    Keys {
        stored_key: Key,
        server_key: Key,
    },
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
        }
    }
}
