//! The shell commands of a logged-in session: pwd, cd, mkdir, rm, quota and
//! dir. Each is one call into the shared services (`crate::ops::files`),
//! which confine, act and record in `shell_command.log`; this file turns
//! the result into the native reply.

use super::work::Pending;
use super::{Authed, Session};
use crate::home::VPath;
pub(super) use crate::ops::files::Removal;
use crate::ops::files::{self, Expect};
use crate::protocol::messages::{Cwd, DirChunk, DirSummary, Made, QuotaInfo, Removed};
use crate::protocol::{ErrorCode, WireError};
use crate::services::Services;
use crate::storage::DirListing;
use crate::worker::JobOutput;
use std::time::Instant;

/// Entries per `dir` frame. A name is at most 255 bytes, which JSON escaping
/// can grow six-fold; 32 such entries still fit well inside a 64 KiB header.
pub const DIR_BATCH: usize = 32;

impl Session {
    /// Sends a command's result.
    fn reply_result<T: serde::Serialize>(&mut self, result: Result<T, WireError>) {
        match result {
            Ok(body) => self.send_ok(&body),
            Err(e) => self.send_error(&e),
        }
    }
}

/// The session's logged-in state, taken out for a call that needs the
/// session too (put back by the caller).
fn take_authed(s: &mut Session) -> Box<Authed> {
    match std::mem::replace(&mut s.state, super::State::Open) {
        super::State::Authed(a) => a,
        _ => unreachable!("file commands are dispatched only when logged in"),
    }
}

fn authed(s: &Session) -> &Authed {
    match &s.state {
        super::State::Authed(a) => a,
        _ => unreachable!("file commands are dispatched only when logged in"),
    }
}

pub(super) fn pwd(s: &mut Session, svc: &mut Services) {
    let cwd = files::pwd(&s.origin(), authed(s), svc, "pwd");
    s.send_ok(&Cwd { cwd: cwd.to_string() });
}

pub(super) fn cd(s: &mut Session, path: String, svc: &mut Services) {
    let origin = s.origin();
    let mut a = take_authed(s);
    let result = files::cd(&origin, &mut a, svc, "cd", std::slice::from_ref(&path), &path);
    s.state = super::State::Authed(a);
    s.reply_result(result.map(|t| Cwd { cwd: t.to_string() }));
}

pub(super) fn mkdir(s: &mut Session, path: String, parents: bool, svc: &mut Services) {
    let mut args = vec![path.clone()];
    if parents {
        args.insert(0, "-p".into());
    }
    let result = files::mkdir(&s.origin(), authed(s), svc, "mkdir", &args, &path, parents);
    s.reply_result(result.map(|(t, created)| Made { path: t.to_string(), created }));
}

/// `rm`, and with `recursive` the whole tree, each as one worker job
/// (unlinking a big file or a deep tree is slow; see `ops::files::remove`).
/// The reply comes from [`removed`].
pub(super) fn rm(s: &mut Session, path: String, recursive: bool, now: Instant, svc: &mut Services) {
    let mut args = vec![path.clone()];
    if recursive {
        args.insert(0, "-r".into());
    }
    match files::remove(&s.origin(), authed(s), svc, &args, &path, Expect::Any, recursive) {
        Ok(removal) => {
            let job = removal.job();
            s.ask(job, Pending::Remove(removal), now);
        }
        Err(e) => s.send_error(&e),
    }
}

/// The removal is back: the reply (the record is written by `ops`).
pub(super) fn removed(s: &mut Session, r: Removal, output: JobOutput, svc: &mut Services) {
    let result = files::removed(&s.origin(), svc, r, output);
    s.reply_result(result.map(|(t, kind, freed)| Removed {
        path: t.to_string(),
        kind,
        freed: freed.bytes,
        count: freed.count,
    }));
}

pub(super) fn quota(s: &mut Session, svc: &mut Services) {
    let result = files::quota(&s.origin(), authed(s), svc, "quota");
    s.reply_result(result);
}

/// A `dir` reply in progress: entries are read and sent a batch at a time,
/// only while the connection's output has room.
pub(super) struct DirJob {
    path: VPath,
    listing: Box<dyn DirListing>,
}

pub(super) fn dir(s: &mut Session, path: Option<String>, svc: &mut Services) {
    let args: Vec<String> = path.iter().cloned().collect();
    match files::list(&s.origin(), authed(s), svc, "dir", &args, path.as_deref()) {
        Ok((path, listing)) => s.producer = Some(super::Producer::Dir(DirJob { path, listing })),
        Err(e) => s.send_error(&e),
    }
}

impl DirJob {
    /// Queues the next frame of the listing; returns whether the job is done
    /// and the number of entries read (for the turn's budget).
    pub(super) fn step(&mut self, s: &mut Session, svc: &Services) -> (bool, usize) {
        let entries = match self.listing.next_batch(DIR_BATCH) {
            Ok(e) => e,
            Err(e) => {
                log::error!("listing {}: {e}", self.path);
                s.send_error(&WireError::new(ErrorCode::Internal, "the listing could not be completed"));
                return (true, 0);
            }
        };
        let n = entries.len();
        let done = self.listing.done();
        let summary = done.then(|| {
            let quota = s.user().and_then(|u| svc.users.get(u)).map(|u| u.quota());
            let QuotaInfo { used, limit } = quota.unwrap_or(QuotaInfo { used: 0, limit: None });
            DirSummary { count: self.listing.count(), used, limit }
        });
        s.send_ok(&DirChunk { path: self.path.to_string(), entries, more: !done, summary });
        (done, n.max(1) * 64)
    }
}
