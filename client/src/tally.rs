//! What a command on several files does when one of them fails. In batch
//! mode (`-b`, or one command) it stops at the first failure, which names
//! the file. At the prompt it carries on, and at the end lists what failed
//! and fails as a whole. Either way a lost connection stops it at once
//! (nothing more can be sent), and what is left out on purpose (links,
//! special files) is named as it is met, without failing anything.

use crate::format;
use mioftp_client::{ClientError, Result};

/// The failures of one command.
pub struct Tally {
    carry_on: bool,
    failed: Vec<ClientError>,
    /// Files not tried because their folder could not be made.
    pub not_attempted: usize,
}

impl Tally {
    /// `carry_on`: interactive mode.
    pub fn new(carry_on: bool) -> Tally {
        Tally { carry_on, failed: Vec::new(), not_attempted: 0 }
    }

    /// `what` (e.g. "put a/b.bin") failed with `e`. An error back means
    /// stop now.
    pub fn fail(&mut self, e: ClientError, what: &str) -> Result<()> {
        let e = e.about(what);
        if e.is_fatal() || !self.carry_on {
            return Err(e);
        }
        self.failed.push(e);
        Ok(())
    }

    /// The end of the command, of `total` `noun`s: lists the failures on
    /// stderr and fails with a count, or succeeds.
    pub fn finish(self, total: usize, noun: &str) -> Result<()> {
        if self.failed.is_empty() {
            if self.not_attempted == 0 {
                return Ok(());
            }
            return Err(ClientError::Usage(format!("{} {noun} not attempted", self.not_attempted)));
        }
        eprintln!("failed:");
        for e in &self.failed {
            eprintln!("  {}", format::name(&e.to_string()));
        }
        // Failures before any file (a source or folder that could not be
        // read) can outnumber the files.
        let n = self.failed.len();
        let mut summary = if n <= total { format!("{n} of {total} {noun} failed") } else { format!("{n} failed") };
        if self.not_attempted > 0 {
            summary.push_str(&format!(", {} not attempted (their folder could not be made)", self.not_attempted));
        }
        // The first failure decides the exit status.
        match self.failed.into_iter().next() {
            Some(first) => Err(ClientError::Several { summary, first: Box::new(first) }),
            None => Err(ClientError::Usage(summary)),
        }
    }
}

/// Says on stderr that `what` is left out, and why.
pub fn skipped(what: &str, why: &str) {
    eprintln!("skipped {}: {why}", format::name(what));
}

#[cfg(test)]
mod tests {
    use super::*;
    use mioftp_proto::{ErrorCode, WireError};

    fn refusal() -> ClientError {
        ClientError::Server(WireError::new(ErrorCode::QuotaExceeded, "full"))
    }

    #[test]
    fn batch_mode_stops_at_the_first_failure_naming_it() {
        let mut t = Tally::new(false);
        let e = t.fail(refusal(), "put a.bin").unwrap_err();
        assert_eq!(e.to_string(), "put a.bin: full");
    }

    #[test]
    fn interactive_mode_carries_on_and_sums_up_but_not_past_a_lost_connection() {
        let mut t = Tally::new(true);
        t.fail(refusal(), "put a.bin").unwrap();
        t.fail(ClientError::Usage("gone".into()), "put b.bin").unwrap();
        let lost = t.fail(ClientError::Io(std::io::Error::other("reset")), "put c.bin").unwrap_err();
        assert!(lost.is_fatal() && lost.to_string().starts_with("put c.bin: "), "{lost}");
        let e = t.finish(10, "files").unwrap_err();
        assert_eq!(e.to_string(), "2 of 10 files failed");
        assert_eq!(e.code(), Some(ErrorCode::QuotaExceeded), "the first failure's kind");
        assert!(Tally::new(true).finish(3, "files").is_ok());
        let mut t = Tally::new(true);
        t.fail(refusal(), "list photos/private").unwrap();
        assert_eq!(t.finish(0, "files").unwrap_err().to_string(), "1 failed");
    }
}
