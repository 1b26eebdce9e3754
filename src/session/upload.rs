//! Uploads: `put` (checks, resume offset, quota reservation), `put_data`
//! (the body, written to the hidden partial file and hashed as it arrives),
//! and `put_done` (digest check; then fsync and atomic rename as a worker
//! job, so the loop never waits for the disk; then audit and reply).
//!
//! Memory stays bounded whatever the file size: body bytes go from the
//! connection's read buffer straight to the partial file. An upload that ends
//! any other way (disconnect, timeout, shutdown, disk full) leaves a
//! checkpoint so the next `put` of the same path resumes.

use super::files::{resolve, wire};
use super::work::{self, Pending};
use super::{Authed, Input, Session, State};
use crate::audit::{Log, Outcome, Record, Transfer};
use crate::home::VPath;
use crate::partial::{self, Partial};
use crate::protocol::messages::{PutReady, Stored};
use crate::protocol::{ErrorCode, WireError, human_size as human};
use crate::services::Services;
use crate::storage::{FileId, HomeStore, WriteFile};
use crate::users::Shortfall;
use crate::worker::{Job, JobOutput};
use sha2::Digest;
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The largest `length` a `put` may declare: a body's `size` cannot exceed it.
const MAX_LENGTH: u64 = i64::MAX as u64;

/// A checkpoint is written after this many bytes, so a crash costs at most
/// this much re-sending.
const CHECKPOINT_EVERY: u64 = 64 * 1024 * 1024;

#[derive(Debug, PartialEq)]
enum Phase {
    /// `put` answered; waiting for `put_data`.
    Ready,
    /// Body bytes arriving.
    Receiving,
    /// Body complete; waiting for `put_done`.
    AwaitDone,
    /// Writing failed; the rest of the body is discarded and this is the
    /// reply to `put_done`.
    Failed(WireError),
    /// `put_done` matched: the commit job runs (the data file went with it).
    Committing,
}

/// What a commit's second half needs.
pub(super) struct Committing {
    /// The size of the file the upload replaces (freed by the rename).
    old_size: u64,
    sha256: String,
}

/// Stands in for the data file once it went to the commit job.
struct Committed;

impl WriteFile for Committed {
    fn write_all(&mut self, _: &[u8]) -> io::Result<()> {
        Err(io::Error::other("the upload is being committed"))
    }
    fn sync(&self) -> io::Result<()> {
        Err(io::Error::other("the upload is being committed"))
    }
    fn remember_digest(&self, _: &str) {}
}

/// An upload in progress.
pub(super) struct Upload {
    user: String,
    home: Arc<dyn HomeStore>,
    target: VPath,
    length: u64,
    partial: Partial,
    /// Body bytes written in this attempt.
    received: u64,
    /// Reserved quota not yet used by written bytes.
    reserved: u64,
    /// The replaced file this upload holds a quota credit for.
    credit: Option<FileId>,
    since_checkpoint: u64,
    started: Instant,
    phase: Phase,
}

impl Upload {
    pub(super) fn is_receiving(&self) -> bool {
        matches!(self.phase, Phase::Receiving)
    }

    fn expected_body(&self) -> u64 {
        self.length - self.partial.offset
    }

    fn written(&self) -> u64 {
        self.partial.offset + self.received
    }

    /// `n` body bytes were written: the part of this upload's reservation
    /// they use up (all of them, as the body's size was checked against it).
    fn take_reserved(&mut self, n: u64) -> u64 {
        let promised = n.min(self.reserved);
        self.reserved -= promised;
        promised
    }
}

fn fail(code: ErrorCode, msg: impl Into<String>) -> WireError {
    WireError::new(code, msg)
}

/// `put`: validates, opens (or resumes) the partial, reserves quota.
pub(super) fn put(s: &mut Session, path: String, length: u64, resume: bool, now: Instant, svc: &mut Services) {
    if let Some(up) = &s.upload {
        if up.phase != Phase::Ready {
            return s.fail(ErrorCode::BadState, "an upload is in progress on this connection");
        }
        // A new put while one waits for put_data restarts it.
        end(s, svc, now, Outcome::Incomplete, Some(&fail(ErrorCode::BadState, "replaced by a new put")));
    }
    let State::Authed(a) = &s.state else { return };
    let target = resolve(a, &path);
    match target.clone().and_then(|t| begin(a, t, length, resume, now, svc)) {
        Ok(up) => {
            let offset = up.partial.offset;
            let prefix = (offset > 0).then(|| hex::encode(up.partial.hasher.clone().finalize()));
            let reply = PutReady { path: up.target.to_string(), offset, prefix_sha256: prefix };
            s.upload = Some(Box::new(up));
            s.send_ok(&reply);
        }
        Err(e) => {
            let shown = target.map(|t| t.to_string()).unwrap_or(path);
            let nothing = Duration::ZERO;
            let facts =
                Transfer { path: &shown, size: Some(length), bytes: 0, offset: None, sha256: None, duration: nothing };
            let rec = Record::transfer(s.actor(s.user()), "upload", Outcome::of_failure(e.code), Some(&e), facts);
            svc.audit.record(Log::Uploads, rec);
            s.send_error(&e);
        }
    }
}

fn begin(
    a: &Authed,
    target: VPath,
    length: u64,
    resume: bool,
    now: Instant,
    svc: &mut Services,
) -> Result<Upload, WireError> {
    if length > MAX_LENGTH {
        return Err(fail(
            ErrorCode::BadRequest,
            format!("length {length} is larger than any file can be ({MAX_LENGTH})"),
        ));
    }
    if target.is_root() {
        return Err(fail(ErrorCode::IsADirectory, "/ is your home folder, not a file"));
    }
    let replaced = a.home.upload_target(&target).map_err(|e| wire(&e))?;
    let user = svc.users.get_mut(&a.user).ok_or_else(|| fail(ErrorCode::Internal, "user state missing"))?;
    if user.uploads.contains(&target) {
        return Err(fail(ErrorCode::Busy, format!("{target} is already being uploaded by another of your sessions")));
    }
    let opened = partial::open(&*a.home, &target, length, resume).map_err(|e| {
        log::error!("opening partial for {target}: {e}");
        io_error(&e)
    })?;
    user.shrink(opened.dropped);
    let offset = opened.partial.offset;
    let needed = length - offset;
    // Only the growth over a replaced file must be free (UserState::reserve_upload).
    let credit = user.reserve_upload(needed, replaced).map_err(|short| {
        let Shortfall { needed: growth, free, limit, used, reserved } = short;
        let replacing = match replaced {
            Some((_, size)) if growth < needed => format!(" (the {} file it replaces is credited)", human(size)),
            _ => String::new(),
        };
        fail(
            ErrorCode::QuotaExceeded,
            format!(
                "{target} needs {} more{replacing} but only {} of your {} quota is free ({} used, {} promised to uploads in progress)",
                human(growth),
                human(free),
                human(limit),
                human(used),
                human(reserved)
            ),
        )
    })?;
    user.uploads.insert(target.clone());
    // The checkpoint now, while the disk has room: a full disk later can
    // then still record how far the upload got (see `crate::partial`).
    let p = &opened.partial;
    if let Err(e) = partial::checkpoint(&*a.home, &p.id, &target, length, offset, &p.hasher) {
        log::warn!("first checkpoint of the upload to {target}: {e}");
    }
    Ok(Upload {
        user: a.user.clone(),
        home: a.home.clone(),
        target,
        length,
        partial: opened.partial,
        received: 0,
        reserved: needed,
        credit,
        since_checkpoint: 0,
        started: now,
        phase: Phase::Ready,
    })
}

fn io_error(e: &std::io::Error) -> WireError {
    if e.kind() == std::io::ErrorKind::StorageFull || e.kind() == std::io::ErrorKind::QuotaExceeded {
        fail(ErrorCode::NoSpace, "the server's disk is full; the data received so far is kept for a later resume")
    } else {
        fail(ErrorCode::Internal, "the server could not write the upload")
    }
}

/// `put_data`: the body frame. Its `size` must be exactly what `put` allowed.
pub(super) fn put_data(s: &mut Session, body_len: u64, now: Instant, svc: &mut Services) {
    let discard = |s: &mut Session| {
        if body_len > 0 {
            s.input = Input::Discard { remaining: body_len };
        }
    };
    let Some(up) = s.upload.as_mut().filter(|u| u.phase == Phase::Ready) else {
        discard(s);
        return s.fail(ErrorCode::BadState, "put_data without an accepted put");
    };
    let expected = up.expected_body();
    if body_len != expected {
        let e = fail(
            ErrorCode::SizeMismatch,
            format!("put_data carries {body_len} bytes but the upload needs exactly {expected}; upload cancelled"),
        );
        discard(s);
        end(s, svc, now, Outcome::Rejected, Some(&e));
        return s.send_error(&e);
    }
    if body_len == 0 {
        up.phase = Phase::AwaitDone;
    } else {
        up.phase = Phase::Receiving;
        s.input = Input::Body { remaining: body_len };
    }
}

/// Body bytes of `put_data`: written to the partial and hashed.
pub(super) fn body(s: &mut Session, bytes: &[u8], last: bool, svc: &mut Services) {
    let Some(up) = s.upload.as_mut() else { return };
    if up.phase == Phase::Receiving {
        let n = bytes.len() as u64;
        match up.partial.file.write_all(bytes) {
            Ok(()) => {
                up.partial.hasher.update(bytes);
                up.received += n;
                up.since_checkpoint += n;
                let promised = up.take_reserved(n);
                if let Some(u) = svc.users.get_mut(&up.user) {
                    u.wrote(n, promised);
                }
                if up.since_checkpoint >= CHECKPOINT_EVERY {
                    up.since_checkpoint = 0;
                    save_checkpoint(up);
                }
            }
            Err(e) => {
                log::error!("writing upload {}: {e}", up.target);
                up.phase = Phase::Failed(io_error(&e));
                save_checkpoint(up);
            }
        }
    }
    if last && up.phase == Phase::Receiving {
        up.phase = Phase::AwaitDone;
    }
}

fn save_checkpoint(up: &Upload) {
    if let Err(e) =
        partial::checkpoint(&*up.home, &up.partial.id, &up.target, up.length, up.written(), &up.partial.hasher)
    {
        log::error!("checkpoint of upload {}: {e}", up.target);
    }
}

/// `put_done`: compare digests, then commit durably, audit, and reply.
pub(super) fn put_done(s: &mut Session, sha256: String, now: Instant, svc: &mut Services) {
    let phase = match s.upload.as_ref().map(|u| &u.phase) {
        Some(Phase::AwaitDone) => None,
        Some(Phase::Failed(e)) => Some(e.clone()),
        _ => return s.fail(ErrorCode::BadState, "put_done without a complete put_data"),
    };
    if let Some(e) = phase {
        end(s, svc, now, Outcome::Incomplete, Some(&e));
        return s.send_error(&e);
    }
    let Some(up) = s.upload.as_ref() else { return };
    let ours = hex::encode(up.partial.hasher.clone().finalize());
    if !sha256.eq_ignore_ascii_case(&ours) {
        let e = fail(
            ErrorCode::DigestMismatch,
            format!("SHA-256 mismatch for {}: the server received {ours}; nothing was stored", up.target),
        );
        let job = Job::Discard { home: up.home.clone(), id: up.partial.id.clone() };
        return s.ask(job, Pending::Discard(e), now);
    }
    let replaced = up.home.check_upload_target(&up.target);
    match replaced {
        Ok(old) => {
            let Some(up) = s.upload.as_mut() else { return };
            up.phase = Phase::Committing;
            let file = std::mem::replace(&mut up.partial.file, Box::new(Committed));
            let job = Job::Commit {
                home: up.home.clone(),
                id: up.partial.id.clone(),
                file,
                target: up.target.clone(),
                sha256: ours.clone(),
            };
            s.ask(job, Pending::Commit(Committing { old_size: old.unwrap_or(0), sha256: ours }), now);
        }
        Err(e) => {
            let e = wire(&e);
            end(s, svc, now, Outcome::Fail, Some(&e));
            s.send_error(&e);
        }
    }
}

/// The commit is back: the file is in place (audit `complete`, reply), or
/// not (the partial stays, resumable).
pub(super) fn committed(s: &mut Session, c: Committing, output: JobOutput, now: Instant, svc: &mut Services) {
    let Some(up) = s.upload.as_ref() else { return };
    let result = match output {
        JobOutput::Committed(Ok(())) => Ok(()),
        JobOutput::Committed(Err(e)) => {
            log::error!("committing upload {}: {e}", up.target);
            Err(io_error(&e))
        }
        JobOutput::Busy => Err(WireError::new(
            ErrorCode::ServerBusy,
            "the server is too busy to store the upload now; it is kept: put it again to resume",
        )),
        _ => Err(work::lost()),
    };
    match result {
        Ok(()) => {
            if let Some(u) = svc.users.get_mut(&up.user) {
                u.shrink(c.old_size);
            }
            let reply = Stored { path: up.target.to_string(), length: up.length, sha256: c.sha256.clone() };
            end_with_digest(s, svc, now, Outcome::Complete, None, Some(&c.sha256));
            s.send_ok(&reply);
        }
        Err(e) => {
            // The partial and its checkpoint are still there: a `put` of the
            // same path resumes at its end.
            save_checkpoint(up);
            end(s, svc, now, Outcome::Fail, Some(&e));
            s.send_error(&e);
        }
    }
}

/// The partial of an upload with the wrong digest is gone (or could not be
/// deleted: then it stays, and the sweep takes it later).
pub(super) fn discarded(s: &mut Session, e: WireError, output: JobOutput, now: Instant, svc: &mut Services) {
    let Some(up) = s.upload.as_ref() else { return };
    match output {
        JobOutput::Discarded(Ok(freed)) => {
            if let Some(u) = svc.users.get_mut(&up.user) {
                u.shrink(freed);
            }
        }
        JobOutput::Discarded(Err(err)) => log::error!("discarding partial of {}: {err}", up.target),
        other => log::error!("discarding partial of {}: {other:?}", up.target),
    }
    end(s, svc, now, Outcome::Rejected, Some(&e));
    s.send_error(&e);
}

/// The connection is going away mid-upload: keep a checkpoint, record it.
pub(super) fn interrupted(s: &mut Session, why: &WireError, now: Instant, svc: &mut Services) {
    if let Some(up) = &s.upload {
        if up.written() > 0 && !matches!(up.phase, Phase::Failed(_)) {
            save_checkpoint(up);
        }
        end(s, svc, now, Outcome::Incomplete, Some(why));
    }
}

fn end(s: &mut Session, svc: &mut Services, now: Instant, outcome: Outcome, err: Option<&WireError>) {
    end_with_digest(s, svc, now, outcome, err, None);
}

/// Releases the upload's reservation and busy mark and writes its record.
fn end_with_digest(
    s: &mut Session,
    svc: &mut Services,
    now: Instant,
    outcome: Outcome,
    err: Option<&WireError>,
    sha256: Option<&str>,
) {
    let Some(up) = s.upload.take() else { return };
    if let Some(u) = svc.users.get_mut(&up.user) {
        u.release_upload(up.reserved, up.credit);
        u.uploads.remove(&up.target);
    }
    let shown = up.target.to_string();
    let facts = Transfer {
        path: &shown,
        size: Some(up.length),
        bytes: up.received,
        offset: Some(up.partial.offset),
        sha256,
        duration: now.saturating_duration_since(up.started),
    };
    svc.audit.record(Log::Uploads, Record::transfer(s.actor(Some(&up.user)), "upload", outcome, err, facts));
}
