//! The native session's slow work: what it hands to the worker pool and the
//! explicit state it waits in meanwhile ([`Pending`]), one job at a time.
//!
//! A handler that needs a job calls [`Session::ask`]: the job goes to the
//! outbox (`DriverRequest::Work`, which the driver polls), and the session
//! keeps what it needs to finish the request in `job`. While a job whose
//! reply is still owed runs, no more requests are taken (replies stay in
//! order); the login's usage scan owes no reply, so requests that need
//! neither usage nor a job go on meanwhile. The driver hands the output back
//! ([`Session::on_work_done`]), the handler's second half finishes the
//! request, and a request that waited for the job (or for the usage it
//! computed) goes on.

use super::{Session, State, auth, download, files, upload};
use crate::protocol::WireError;
use crate::services::Services;
use crate::session::DriverRequest;
use crate::users::Usage;
use crate::worker::{Job, JobOutput};
use std::time::Instant;

/// What a session waits for, and what it needs to finish when it is back.
pub(super) enum Pending {
    /// Stale partials swept at the user's first login; the scan follows.
    Sweep(Scan),
    /// The walk of the user's home.
    Scan(Scan),
    /// `put_done`: the commit of the upload in `Session::upload`.
    Commit,
    /// `put_done` with the wrong digest: the partial is being deleted.
    Discard(WireError),
    /// `rm`, plain or recursive.
    Remove(files::Removal),
    /// `register`: the account record (and home) being written.
    Register(Box<crate::accounts::Account>),
    /// A resumed `get`: the prefix the client holds is being hashed.
    Get(Box<download::Prefix>),
}

/// Whose usage a scan job computes.
pub(super) struct Scan {
    pub user: String,
    pub epoch: u64,
}

impl Pending {
    /// Whether a reply is owed when the job is back: until then no more
    /// requests are taken.
    pub(super) fn blocks_input(&self) -> bool {
        !matches!(self, Pending::Sweep(_) | Pending::Scan(_))
    }

    /// Whether the job is part of a transfer, so the transfer deadline
    /// applies while it runs.
    pub(super) fn in_transfer(&self) -> bool {
        matches!(self, Pending::Commit | Pending::Discard(_) | Pending::Get(_))
    }
}

/// The replies to a request whose job was not run, or failed in an unknown
/// way (shared with the FTP front end).
pub(super) use crate::ops::lost;

impl Session {
    /// Hands `job` to the driver and waits in `pending`.
    pub(super) fn ask(&mut self, job: Job, pending: Pending, now: Instant) {
        debug_assert!(self.job.is_none() && self.outbox.is_none(), "one job at a time");
        self.last_activity = now;
        self.job = Some(pending);
        self.outbox = Some(DriverRequest::Work(job));
    }

    /// Starts the user's usage scan from this session, if it is needed and
    /// no session runs one. Returns whether it started.
    pub(super) fn start_usage(&mut self, now: Instant, svc: &mut Services) -> bool {
        let State::Authed(a) = &self.state else { return false };
        if self.job.is_some() {
            return false;
        }
        let user = a.user.clone();
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

    /// The job is back: the request's second half, then whatever waited.
    pub(super) fn on_work_done(&mut self, output: JobOutput, now: Instant, svc: &mut Services) {
        let Some(pending) = self.job.take() else {
            log::error!("session {}: work done, but no job was asked for: {output:?}", self.id);
            return;
        };
        // A job that was not run is not retried at once (that would only be
        // refused again): a request that waits for it goes on when a job
        // finishes (`Endpoint::resume`).
        let refused = matches!(output, JobOutput::Busy);
        match pending {
            Pending::Sweep(scan) => self.swept(scan, output, now, svc),
            Pending::Scan(scan) => {
                let result = match output {
                    JobOutput::Scanned(r) => r.map_err(|e| e.to_string()),
                    JobOutput::Busy => Err("the server was too busy".to_owned()),
                    _ => Err("an internal error".to_owned()),
                };
                svc.users.scan_done(&scan.user, scan.epoch, result);
            }
            Pending::Commit => upload::committed(self, output, now, svc),
            Pending::Discard(e) => upload::discarded(self, e, output, now, svc),
            Pending::Remove(r) => files::removed(self, r, output, svc),
            Pending::Register(account) => auth::registered(self, *account, output, svc),
            Pending::Get(p) => download::prefix_hashed(self, *p, output, now, svc),
        }
        if self.job.is_none() && !refused {
            self.resume_deferred(now, svc);
        }
        self.finish_shutdown_if_idle();
    }

    /// Stale partials are gone (or could not be swept): on to the scan.
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
            // The user's sessions all ended meanwhile: nothing to scan for.
            None => svc.users.scan_done(&scan.user, scan.epoch, Err("abandoned".to_owned())),
        }
    }

    /// Retries the request that waited, if any.
    pub(super) fn resume_deferred(&mut self, now: Instant, svc: &mut Services) {
        if let Some(req) = self.deferred.take() {
            self.resuming = true;
            self.dispatch(req, now, svc);
            self.resuming = false;
        }
    }

    /// The connection ends with a job still out (its output never came: the
    /// server stopped waiting for it): whoever waits for its usage is told.
    pub(super) fn abandon_job(&mut self, svc: &mut Services) {
        match self.job.take() {
            Some(Pending::Sweep(scan) | Pending::Scan(scan)) => {
                svc.users.scan_done(&scan.user, scan.epoch, Err("the scan was abandoned".to_owned()));
            }
            Some(_) => log::warn!("session {}: closed while a disk job was running", self.id),
            None => {}
        }
        self.outbox = None;
    }
}
