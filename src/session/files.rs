//! The shell commands of a logged-in session: pwd, cd, mkdir, rm, quota and
//! dir. Every one is confined to the user's home by `crate::home` and
//! recorded in `shell_command.log` before its reply is queued.

use super::work::{self, Pending};
use super::{Authed, Session};
use crate::audit::{Log, Record};
use crate::home::{FsError, VPath};
use crate::protocol::messages::{Cwd, DirChunk, DirSummary, Made, QuotaInfo, Removed};
use crate::protocol::{ErrorCode, WireError};
use crate::services::Services;
use crate::storage::{DirListing, FileId, Freed};
use crate::worker::{Job, JobOutput};
use std::time::Instant;

/// Entries per `dir` frame. A name is at most 255 bytes, which JSON escaping
/// can grow six-fold; 32 such entries still fit well inside a 64 KiB header.
pub const DIR_BATCH: usize = 32;

/// Converts a filesystem error to the wire.
pub(super) fn wire(e: &FsError) -> WireError {
    let code = e.code();
    if code == ErrorCode::Internal {
        log::error!("filesystem error: {e:?}");
    }
    WireError::new(code, e.message())
}

impl Session {
    /// Writes a `shell_command.log` record.
    pub(super) fn audit_command(
        &self,
        svc: &mut Services,
        cmd: &str,
        args: &[String],
        path: Option<&VPath>,
        result: Result<(), &WireError>,
    ) {
        let shown = path.map(|p| p.to_string());
        let rec = Record::command(self.actor(self.user()), cmd, args, shown.as_deref(), result);
        svc.audit.record(Log::Commands, rec);
    }

    /// Audits and sends a command's result.
    fn finish_command<T: serde::Serialize>(
        &mut self,
        svc: &mut Services,
        cmd: &str,
        args: &[String],
        path: Option<&VPath>,
        result: Result<T, WireError>,
    ) {
        self.audit_command(svc, cmd, args, path, result.as_ref().map(|_| ()));
        match result {
            Ok(body) => self.send_ok(&body),
            Err(e) => self.send_error(&e),
        }
    }
}

fn authed(s: &Session) -> &Authed {
    match &s.state {
        super::State::Authed(a) => a,
        _ => unreachable!("file commands are dispatched only when logged in"),
    }
}

/// Resolves a peer-supplied path against the session's directory.
pub(super) fn resolve(a: &Authed, input: &str) -> Result<VPath, WireError> {
    VPath::resolve(&a.cwd, input).map_err(|e| wire(&FsError::from(e)))
}

pub(super) fn pwd(s: &mut Session, svc: &mut Services) {
    let cwd = authed(s).cwd.clone();
    s.finish_command(svc, "pwd", &[], Some(&cwd), Ok(Cwd { cwd: cwd.to_string() }));
}

pub(super) fn cd(s: &mut Session, path: String, svc: &mut Services) {
    let args = [path];
    let a = authed(s);
    let target = resolve(a, &args[0]);
    let result = target.clone().and_then(|t| a.home.check_dir(&t).map_err(|e| wire(&e)).map(|()| t));
    if let (Ok(t), super::State::Authed(a)) = (&result, &mut s.state) {
        a.cwd = t.clone();
    }
    let shown = target.ok();
    s.finish_command(svc, "cd", &args, shown.as_ref(), result.map(|t| Cwd { cwd: t.to_string() }));
}

pub(super) fn mkdir(s: &mut Session, path: String, parents: bool, svc: &mut Services) {
    let mut args = vec![path];
    if parents {
        args.insert(0, "-p".into());
    }
    let a = authed(s);
    let target = resolve(a, args.last().map(String::as_str).unwrap_or_default());
    let result = target.clone().and_then(|t| {
        let created = a.home.mkdir(&t, parents).map_err(|e| wire(&e))?;
        Ok(Made { path: t.to_string(), created })
    });
    s.finish_command(svc, "mkdir", &args, target.ok().as_ref(), result);
}

/// An `rm` whose removal runs as a worker job: what its second half needs.
pub(super) struct Removal {
    args: Vec<String>,
    target: VPath,
    recursive: bool,
    /// The identity of the file removed, when an upload holds a credit for
    /// replacing some file (so that credit can go).
    credited: Option<FileId>,
}

/// `rm`, and with `recursive` the whole tree, each as one worker job
/// (unlinking a big file or a deep tree is slow). Checked here; the reply
/// and the one audit record come from [`removed`].
pub(super) fn rm(s: &mut Session, path: String, recursive: bool, now: Instant, svc: &mut Services) {
    let mut args = vec![path];
    if recursive {
        args.insert(0, "-r".into());
    }
    let a = authed(s);
    let target = resolve(a, args.last().map(String::as_str).unwrap_or_default());
    let checked = target.clone().and_then(|t| {
        if t.is_root() {
            return Err(WireError::new(ErrorCode::BadRequest, "cannot remove your home folder"));
        }
        let user = svc.users.get(&a.user);
        // A folder that holds the target of an upload in progress is kept:
        // removing it would make that upload fail at its very end.
        let uploading = user.and_then(|u| u.uploads.iter().find(|up| up.is_within(&t)).cloned());
        if let Some(up) = uploading.filter(|_| recursive) {
            return Err(WireError::new(
                ErrorCode::Busy,
                format!("{t} holds {up}, which one of your sessions is uploading; finish or cancel that upload first"),
            ));
        }
        // Removing a file that an upload will replace is fine: the upload's
        // data is elsewhere until it is renamed into place. But the upload
        // was credited for that file's size, which this frees: the credit goes.
        let credited = if !recursive && user.is_some_and(|u| u.has_credits()) { a.home.file_id(&t) } else { None };
        Ok(Removal { args: Vec::new(), target: t, recursive, credited })
    });
    match checked {
        Ok(mut removal) => {
            removal.args = args;
            let (home, path) = (a.home.clone(), removal.target.clone());
            let job = if recursive { Job::RemoveTree { home, path } } else { Job::Remove { home, path } };
            s.ask(job, Pending::Remove(removal), now);
        }
        Err(e) => {
            let shown = target.as_ref().ok().map(|p| p.to_string());
            let rec = Record::removal(s.actor(s.user()), &args, shown.as_deref(), Err(&e), Freed::default());
            svc.audit.record(Log::Commands, rec);
            s.send_error(&e);
        }
    }
}

/// The removal is back. Usage shrinks by the bytes really freed, even when a
/// recursive removal stopped at an error part-way; one audit record tells
/// the count and the bytes.
pub(super) fn removed(s: &mut Session, r: Removal, output: JobOutput, svc: &mut Services) {
    let (freed, result) = match output {
        JobOutput::Removed(Ok((kind, bytes))) => (Freed { count: 1, bytes }, Ok(kind)),
        JobOutput::Removed(Err(e)) => (Freed::default(), Err(wire(&e))),
        JobOutput::RemovedTree { freed, result } => (freed, result.map_err(|e| wire(&e))),
        JobOutput::Busy => (Freed::default(), Err(work::busy())),
        _ => (Freed::default(), Err(work::lost())),
    };
    let home_and_user = match &s.state {
        super::State::Authed(a) => Some((a.home.clone(), a.user.clone())),
        _ => None,
    };
    if let Some((home, u)) = home_and_user.and_then(|(h, user)| svc.users.get_mut(&user).map(|u| (h, u))) {
        u.shrink(freed.bytes);
        if let Some(id) = r.credited.filter(|_| freed.count > 0) {
            u.revoke_credit(id);
        }
        // A credited file may have been in the tree (reached by the upload
        // through a link): credits whose file is no longer at its upload's
        // target go.
        if r.recursive && freed.count > 0 && u.has_credits() {
            let live: Vec<_> = u.uploads.iter().filter_map(|up| home.file_id(up)).collect();
            u.retain_credits(|id| live.contains(id));
        }
    }
    let path = r.target.to_string();
    let rec = Record::removal(s.actor(s.user()), &r.args, Some(&path), result.as_ref().map(|_| ()), freed);
    svc.audit.record(Log::Commands, rec);
    match result {
        Ok(kind) => s.send_ok(&Removed { path, kind, freed: freed.bytes, count: freed.count }),
        Err(e) => s.send_error(&e),
    }
}

pub(super) fn quota(s: &mut Session, svc: &mut Services) {
    let user = authed(s).user.clone();
    let info = svc.users.get(&user).map(|u| u.quota());
    let result = info.ok_or_else(|| WireError::new(ErrorCode::Internal, "usage is not available"));
    s.finish_command(svc, "quota", &[], None, result);
}

/// A `dir` reply in progress: entries are read and sent a batch at a time,
/// only while the connection's output has room.
pub(super) struct DirJob {
    path: VPath,
    listing: Box<dyn DirListing>,
}

pub(super) fn dir(s: &mut Session, path: Option<String>, svc: &mut Services) {
    let args: Vec<String> = path.iter().cloned().collect();
    let a = authed(s);
    let target = match &path {
        Some(p) => resolve(a, p),
        None => Ok(a.cwd.clone()),
    };
    let started = target.clone().and_then(|t| a.home.list(&t).map_err(|e| wire(&e)));
    s.audit_command(svc, "dir", &args, target.as_ref().ok(), started.as_ref().map(|_| ()));
    match (started, target) {
        (Ok(listing), Ok(path)) => s.producer = Some(super::Producer::Dir(DirJob { path, listing })),
        (Err(e), _) | (_, Err(e)) => s.send_error(&e),
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
