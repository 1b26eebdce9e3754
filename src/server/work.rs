//! The driver's side of the worker pool: submitting the jobs endpoints ask
//! for (`DriverRequest::Work`), handing outputs back, and the limits.
//!
//! - At most one job in flight per connection (slab key). A second is
//!   answered `Busy` at once, as is a full queue: the loop never blocks.
//! - Jobs a peer can cause before logging in (a KDF, a registration) are
//!   counted per peer address and refused beyond [`MAX_PRELOGIN_PER_IP`],
//!   so one address cannot keep both workers busy burning KDFs.
//! - Each submission gets a fresh tag; a completion finds its connection by
//!   it, never by a slab key that may have been reused.
//! - A connection that ends with a job in flight keeps its endpoint here
//!   (an orphan) until the output is back: the endpoint gets its
//!   `work_done`, then its `on_close`, so its records are whole (a commit
//!   that completed is recorded as complete even if the client left).
//! - Shutdown waits for the jobs in flight, a bounded time.

use super::Server;
use crate::session::{CloseReason, Endpoint};
use crate::worker::{Job, JobKind, JobOutput, JobPool};
use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Jobs in flight from one address before it logged in.
pub const MAX_PRELOGIN_PER_IP: usize = 2;

/// Who a job in flight is for.
struct Flight {
    key: usize,
    /// The address charged for a pre-login job.
    charged: Option<IpAddr>,
}

/// An endpoint whose connection ended while its job ran.
struct Orphan {
    endpoint: Box<dyn Endpoint>,
    reason: CloseReason,
}

/// The pool and the driver's bookkeeping of it.
pub(super) struct Jobs {
    pool: JobPool,
    next_tag: u64,
    flights: HashMap<u64, Flight>,
    prelogin: HashMap<IpAddr, usize>,
    orphans: HashMap<u64, Orphan>,
}

/// Whether a peer can cause this job before logging in.
fn before_login(kind: JobKind) -> bool {
    matches!(kind, JobKind::DeriveKeys | JobKind::CreateAccount)
}

impl Jobs {
    pub fn new(pool: JobPool) -> Jobs {
        Jobs { pool, next_tag: 0, flights: HashMap::new(), prelogin: HashMap::new(), orphans: HashMap::new() }
    }

    /// Jobs submitted and not yet handed back.
    pub fn in_flight(&self) -> usize {
        self.flights.len()
    }
}

impl Server {
    /// Submits `key`'s job, or answers `Busy` at once (then drives the
    /// connection, which has a reply to send). Returns `true` when the
    /// connection was driven again, so the caller must not touch it further.
    pub(super) fn submit_job(&mut self, key: usize, job: Job, now: Instant) -> bool {
        let Some(conn) = self.conns.get_mut(key) else { return true };
        let kind = job.kind();
        let charged = before_login(kind).then(|| conn.session.peer().ip());
        let tag = self.jobs.next_tag;
        let submitted = if conn.job.is_some() {
            log::error!("session {}: a second job while one runs; refused", conn.session.id());
            Err((job, "a job is already running"))
        } else if charged.is_some_and(|ip| self.jobs.prelogin.get(&ip).copied().unwrap_or(0) >= MAX_PRELOGIN_PER_IP) {
            Err((job, "too many jobs from this address before login"))
        } else {
            self.jobs.pool.submit(tag, job).map_err(|job| (job, "the queue is full"))
        };
        match submitted {
            Ok(()) => {
                self.jobs.next_tag += 1;
                self.jobs.flights.insert(tag, Flight { key, charged });
                if let Some(ip) = charged {
                    *self.jobs.prelogin.entry(ip).or_insert(0) += 1;
                }
                conn.job = Some(tag);
                false
            }
            Err((mut job, why)) => {
                log::debug!("session {}: {kind:?} job refused: {why}", conn.session.id());
                job.scrub();
                drop(job);
                conn.session.work_done(JobOutput::Busy, now, &mut self.svc);
                self.drive(key, now);
                true
            }
        }
    }

    /// Hands every finished job's output to its endpoint (or orphan), then
    /// lets waiting connections go on.
    pub(super) fn complete_jobs(&mut self, now: Instant) {
        let done = self.jobs.pool.completed();
        if done.is_empty() {
            return;
        }
        for (tag, output) in done {
            self.deliver(tag, output, now);
        }
        self.resume_waiting(now);
    }

    fn deliver(&mut self, tag: u64, output: JobOutput, now: Instant) {
        let Some(flight) = self.jobs.flights.remove(&tag) else {
            log::error!("job {tag}: output for no job in flight");
            return;
        };
        if let Some(ip) = flight.charged {
            if let Some(n) = self.jobs.prelogin.get_mut(&ip) {
                *n -= 1;
                if *n == 0 {
                    self.jobs.prelogin.remove(&ip);
                }
            }
        }
        if let Some(mut orphan) = self.jobs.orphans.remove(&tag) {
            orphan.endpoint.work_done(output, now, &mut self.svc);
            orphan.endpoint.on_close(orphan.reason, now, &mut self.svc);
            return;
        }
        let Some(conn) = self.conns.get_mut(flight.key).filter(|c| c.job == Some(tag)) else {
            log::error!("job {tag}: its connection is gone and no one waits for it");
            return;
        };
        conn.job = None;
        conn.session.work_done(output, now, &mut self.svc);
        // The reply goes out in this turn; the connection may have a new job.
        conn.ready.can_write = true;
        self.drive(flight.key, now);
    }

    /// Lets every waiting connection retry (a usage scan it waited for may
    /// have ended), then files it again.
    pub(super) fn resume_waiting(&mut self, now: Instant) {
        for key in std::mem::take(&mut self.waiting) {
            let Some(conn) = self.conns.get_mut(key) else { continue };
            conn.waiting = false;
            conn.session.resume(now, &mut self.svc);
            self.drive(key, now);
        }
    }

    /// The connection is closing with job `tag` in flight: its endpoint
    /// waits here for the output, then closes.
    pub(super) fn orphan(&mut self, tag: u64, endpoint: Box<dyn Endpoint>, reason: CloseReason) {
        self.jobs.orphans.insert(tag, Orphan { endpoint, reason });
    }

    /// At the end: waits for the jobs in flight (at most `wait`), hands
    /// their outputs over, and closes the orphans, those whose job never
    /// came back included.
    pub(super) fn drain_jobs(&mut self, wait: Duration, now: Instant) {
        if self.jobs.in_flight() > 0 {
            log::info!("shutdown: waiting for {} disk job(s)", self.jobs.in_flight());
        }
        for (tag, output) in self.jobs.pool.shutdown(now + wait) {
            self.deliver(tag, output, now);
        }
        for (_, mut orphan) in self.jobs.orphans.drain() {
            orphan.endpoint.on_close(orphan.reason, now, &mut self.svc);
        }
    }
}
