//! The end of an upload, for both front ends: the commit (a worker-pool
//! job that makes the file durable under its name, then its second half on
//! the loop), the discard of a partial that must not be kept, and the
//! attempt's one `upload_file.log` record ([`Upload::end`],
//! [`Upload::interrupted`]).

use super::{Size, Upload, fail, io_error};
use crate::audit::{Log, Outcome, Record, Transfer};
use crate::ops::wire;
use crate::protocol::{ErrorCode, WireError};
use crate::services::Services;
use crate::storage::WriteFile;
use crate::worker::{Job, JobOutput};
use std::time::Instant;

/// Stands in for the data file once it went to the commit job.
struct Committing;

impl WriteFile for Committing {
    fn write_all(&mut self, _: &[u8]) -> std::io::Result<()> {
        Err(std::io::Error::other("the upload is being committed"))
    }
    fn sync(&self) -> std::io::Result<()> {
        Err(std::io::Error::other("the upload is being committed"))
    }
    fn remember_digest(&self, _: &str) {}
}

impl Upload {
    /// The job that deletes the partial (a digest that did not match):
    /// nothing is kept. [`Upload::discarded`] takes its output.
    pub fn discard_job(&self) -> Job {
        Job::Discard { home: self.home.clone(), id: self.partial.id.clone() }
    }

    /// The partial is gone (or could not be deleted: then it stays, and a
    /// later sweep takes it).
    pub fn discarded(&self, output: JobOutput, svc: &mut Services) {
        match output {
            JobOutput::Discarded(Ok(freed)) => {
                if let Some(u) = svc.users.get_mut(&self.user) {
                    u.shrink(freed);
                }
            }
            JobOutput::Discarded(Err(err)) => log::error!("discarding partial of {}: {err}", self.target),
            other => log::error!("discarding partial of {}: {other:?}", self.target),
        }
    }

    /// The job that makes the upload visible under its name, durably, with
    /// `sha256` remembered for downloads (fsync, atomic rename, fsync of the
    /// folder: slow, so on the worker pool). The data file goes with the
    /// job; nothing more can be written. [`Upload::committed`] takes its
    /// output. Refused at once if the target became a folder meanwhile.
    pub fn commit_job(&mut self, sha256: &str) -> Result<Job, WireError> {
        let old = self.home.check_upload_target(&self.target).map_err(|e| wire(&e))?;
        let file = std::mem::replace(&mut self.partial.file, Box::new(Committing));
        self.committing = Some((old.unwrap_or(0), sha256.to_owned()));
        Ok(Job::Commit {
            home: self.home.clone(),
            id: self.partial.id.clone(),
            file,
            target: self.target.clone(),
            sha256: sha256.to_owned(),
        })
    }

    /// The commit is back: the file is in place (the replaced file's bytes
    /// go back to the quota) and its digest is returned; or it is not, and
    /// the partial stays, resumable.
    pub fn committed(&mut self, output: JobOutput, svc: &mut Services) -> Result<String, WireError> {
        let Some((old_size, sha256)) = self.committing.take() else {
            return Err(crate::ops::lost());
        };
        let result = match output {
            JobOutput::Committed(Ok(())) => Ok(()),
            JobOutput::Committed(Err(e)) => {
                log::error!("committing upload {}: {e}", self.target);
                Err(io_error(&e))
            }
            JobOutput::Busy => Err(fail(
                ErrorCode::ServerBusy,
                "the server is too busy to store the upload now; it is kept: send it again to resume",
            )),
            _ => Err(crate::ops::lost()),
        };
        match result {
            Ok(()) => {
                if let Some(u) = svc.users.get_mut(&self.user) {
                    u.shrink(old_size);
                }
                Ok(sha256)
            }
            Err(e) => {
                // The partial and its checkpoint are still there.
                self.save_checkpoint();
                Err(e)
            }
        }
    }

    /// The attempt is over: gives back the unused reservation, the credit
    /// and the busy mark, and writes its record.
    pub fn end(
        self,
        outcome: Outcome,
        err: Option<&WireError>,
        sha256: Option<&str>,
        now: Instant,
        svc: &mut Services,
    ) {
        if let Some(u) = svc.users.get_mut(&self.user) {
            u.release_upload(self.reserved, self.credit);
            u.uploads.remove(&self.target);
        }
        let shown = self.target.to_string();
        let size = match self.size {
            Size::Exactly(n) => n,
            // A stream's size is what it came to.
            Size::Stream { .. } => self.written(),
        };
        let facts = Transfer {
            path: &shown,
            size: Some(size),
            bytes: self.received,
            offset: Some(self.start),
            sha256,
            duration: now.saturating_duration_since(self.started),
        };
        let rec = Record::transfer(self.origin.actor(Some(&self.user)), "upload", outcome, err, facts);
        svc.audit.record(Log::Uploads, rec);
    }

    /// The attempt stopped part-way (disconnect, timeout, shutdown, abort):
    /// the partial is kept with a checkpoint for a later resume.
    pub fn interrupted(self, why: &WireError, now: Instant, svc: &mut Services) {
        if self.written() > 0 {
            self.save_checkpoint();
        }
        self.end(Outcome::Incomplete, Some(why), None, now, svc);
    }
}
