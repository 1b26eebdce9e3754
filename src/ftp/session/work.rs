//! The FTP session's slow work on the worker pool, as the native session's
//! (`crate::session`): the session asks for a job through the outbox
//! (`DriverRequest::Work`), waits for it in [`Pending`], and finishes the
//! command when the driver hands the output back (`Endpoint::work_done`).
//! One job at a time per connection, as the driver requires.
//!
//! Jobs: PASS's key derivation; the user's stale-partial sweep and usage
//! walk at the first login; STOR's and APPE's commit at the end of the data
//! (or the deletion of their partial when the quota cut them);
//! DELE's and RMD's removal; HASH of a file without a cached digest; and the
//! prefix of a RETR after REST of such a file. While a job owes a reply
//! (all but the sweep and the walk), no further command is handled, so
//! replies stay in order; a command that needs a job while the walk runs
//! waits for it. A job the pool refuses (`Busy`) is answered `450`, except
//! PASS's, which is submitted again a little later.

use super::transfer::Transfer;
use super::{FtpSession, Wait, plain};
use crate::ftp::reply::{self, Reply};
use crate::ops::files::Removal;
use crate::protocol::ErrorCode;
use crate::services::Services;
use crate::session::DriverRequest;
use crate::storage::{ReadFile, Stamp};
use crate::users::Usage;
use crate::worker::{Job, JobOutput};
use sha2::Digest;
use std::time::Instant;

/// What the session waits for, and what it needs to finish when it is back.
pub(super) enum Pending {
    /// PASS: the key derivation of the login being checked.
    Login,
    /// Stale partials swept at the user's first login; the walk follows.
    Sweep(Scan),
    /// The walk of the user's home.
    Scan(Scan),
    /// STOR or APPE: the upload's commit; the data socket is closed.
    Commit(Box<Transfer>),
    /// STOR or APPE cut by the quota: its partial is deleted, then this
    /// error is the reply.
    Discard(Box<Transfer>, crate::protocol::WireError),
    /// DELE or RMD.
    Remove(Removal),
    /// HASH: the path shown, the size, and the file as opened (its digest is
    /// remembered only if it did not change while it was read).
    Hash { shown: String, size: u64, stamp: Option<Stamp> },
    /// RETR after REST: the bytes before the offset are being hashed.
    Prefix(Box<Transfer>),
}

/// Whose usage a walk computes.
pub(super) struct Scan {
    pub user: String,
    pub epoch: u64,
}

impl Pending {
    /// Whether a reply is owed when the job is back: until then no command
    /// is handled.
    pub(super) fn blocks_input(&self) -> bool {
        !matches!(self, Pending::Sweep(_) | Pending::Scan(_))
    }

    /// Whether the job is part of a transfer (the transfer deadline applies).
    pub(super) fn in_transfer(&self) -> bool {
        matches!(self, Pending::Commit(_) | Pending::Discard(..) | Pending::Prefix(_))
    }
}

/// The reply to a command whose job the pool did not run.
pub(super) fn busy_reply() -> Reply {
    reply::error(ErrorCode::ServerBusy, None)
}

impl FtpSession {
    /// Hands `job` to the driver and waits in `pending`.
    pub(super) fn ask(&mut self, job: Job, pending: Pending, now: Instant) {
        debug_assert!(self.job.is_none(), "one job at a time");
        self.last_activity = now;
        self.job = Some(pending);
        self.requests.push_back(DriverRequest::Work(job));
    }

    /// Starts the user's usage walk from this session, if it is needed and
    /// no session runs one (and this session's job slot is free). Returns
    /// whether it started.
    pub(super) fn start_usage(&mut self, now: Instant, svc: &mut Services) -> bool {
        if self.job.is_some() {
            return false;
        }
        let Some(user) = self.user().map(str::to_owned) else { return false };
        let Some(claim) = svc.users.claim_scan(&user) else { return false };
        let scan = Scan { user, epoch: claim.epoch };
        if claim.sweep_first {
            let max_age = svc.config.partial_max_age;
            self.ask(Job::Sweep { home: claim.home, max_age, active: Vec::new() }, Pending::Sweep(scan), now);
        } else {
            self.ask(Job::Scan { home: claim.home }, Pending::Scan(scan), now);
        }
        true
    }

    /// Whether the logged-in user's usage is known; if not, the walk is
    /// started (by this session when no other runs it) and the command
    /// waits. A walk that this command waited for and that failed is the
    /// command's failure (the next command starts another).
    pub(super) fn usage_known(&mut self, now: Instant, svc: &mut Services) -> Result<bool, String> {
        let Some(user) = self.user().map(str::to_owned) else { return Ok(true) };
        let Some(usage) = svc.users.get(&user).map(|u| u.usage().clone()) else { return Ok(true) };
        match usage {
            Usage::Known => {
                self.usage_waited = false;
                Ok(true)
            }
            Usage::Failed(why) if std::mem::take(&mut self.usage_waited) => Err(why),
            Usage::Scanning => {
                self.usage_waited = true;
                Ok(false)
            }
            Usage::Needed | Usage::Failed(_) => {
                self.start_usage(now, svc);
                self.usage_waited = true;
                Ok(false)
            }
        }
    }

    /// The job is back: the command's second half.
    pub(super) fn on_work_done(&mut self, output: JobOutput, now: Instant, svc: &mut Services) {
        let Some(pending) = self.job.take() else {
            log::error!("session {}: work done, but no job was asked for: {output:?}", self.id);
            return;
        };
        match pending {
            Pending::Login => self.keys_derived(output, now, svc),
            Pending::Sweep(scan) => self.swept(scan, output, now, svc),
            Pending::Scan(scan) => {
                let result = match output {
                    JobOutput::Scanned(r) => r.map_err(|e| e.to_string()),
                    JobOutput::Busy => Err("the server was too busy".to_owned()),
                    _ => Err("an internal error".to_owned()),
                };
                svc.users.scan_done(&scan.user, scan.epoch, result);
                // This session may wait for that usage itself.
                if matches!(self.wait, Wait::Usage) {
                    self.wait = Wait::Nothing;
                }
            }
            Pending::Commit(t) => self.committed(*t, output, now, svc),
            Pending::Discard(t, e) => self.discarded(*t, e, output, now, svc),
            Pending::Remove(r) => {
                let result = crate::ops::files::removed(&self.origin(), svc, r, output);
                self.reply(super::files::removal(result));
            }
            Pending::Hash { shown, size, stamp } => self.hashed(shown, size, stamp, output),
            Pending::Prefix(t) => self.prefix_hashed(*t, output, now, svc),
        }
        self.finish_shutdown_if_idle();
    }

    /// Stale partials are gone (or could not be swept): on to the walk.
    fn swept(&mut self, scan: Scan, output: JobOutput, now: Instant, svc: &mut Services) {
        match output {
            JobOutput::Swept(Ok(freed)) if freed > 0 => {
                log::info!("swept {freed} bytes of stale uploads of {}", scan.user)
            }
            JobOutput::Swept(Ok(_)) => {}
            JobOutput::Swept(Err(e)) => log::warn!("sweeping stale partial uploads of {}: {e}", scan.user),
            other => log::warn!("sweeping stale partial uploads of {}: {other:?}", scan.user),
        }
        let home = svc.users.get(&scan.user).filter(|u| u.usage() == &Usage::Scanning).map(|u| u.home.clone());
        match home {
            Some(home) => self.ask(Job::Scan { home }, Pending::Scan(scan), now),
            // The user's sessions all ended meanwhile: nothing to walk for.
            None => svc.users.scan_done(&scan.user, scan.epoch, Err("abandoned".to_owned())),
        }
    }

    /// HASH's file is hashed.
    fn hashed(&mut self, shown: String, size: u64, stamp: Option<Stamp>, output: JobOutput) {
        match output {
            JobOutput::Hashed { file, hasher, result: Ok(()) } => {
                let sha = hex::encode(hasher.finalize());
                remember_if_unchanged(&*file, stamp, &sha);
                self.reply(reply::hash_reply(crate::ftp::feat::HASH_ALGORITHM, size, &sha, &shown));
            }
            JobOutput::Hashed { result: Err(e), .. } => {
                log::error!("session {}: HASH {shown}: {e}", self.id);
                self.reply(plain(ErrorCode::Internal));
            }
            JobOutput::Busy => self.reply(busy_reply()),
            _ => self.reply(plain(ErrorCode::Internal)),
        }
    }

    /// The connection ends with a job still out (its output never came: the
    /// server stopped waiting for it): whoever waits for its usage is told.
    pub(super) fn abandon_job(&mut self, svc: &mut Services) {
        match self.job.take() {
            Some(Pending::Sweep(scan) | Pending::Scan(scan)) => {
                svc.users.scan_done(&scan.user, scan.epoch, Err("the scan was abandoned".to_owned()));
            }
            Some(Pending::Commit(t) | Pending::Discard(t, _) | Pending::Prefix(t)) => self.transfer = Some(t),
            Some(_) => log::warn!("session {}: closed while a disk job was running", self.id),
            None => {}
        }
    }
}

/// Remembers a digest computed off the loop, if the file is unchanged.
fn remember_if_unchanged(file: &dyn ReadFile, opened: Option<Stamp>, sha: &str) {
    if opened.is_some() && file.stamp() == opened {
        file.remember_digest(sha);
    }
}
