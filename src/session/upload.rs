//! Uploads: `put` (checks, resume offset, quota reservation), `put_data`
//! (the body, written to the hidden partial file and hashed as it arrives),
//! and `put_done` (digest check; then fsync and atomic rename as a worker
//! job, so the loop never waits for the disk; then audit and reply).
//!
//! The upload itself is the shared [`crate::ops::upload::Upload`]; this file
//! is the native protocol around it: the phases between the three requests
//! and their replies. Memory stays bounded whatever the file size: body
//! bytes go from the connection's read buffer straight to the partial file.
//! An upload that ends any other way (disconnect, timeout, shutdown, disk
//! full) leaves a checkpoint so the next `put` of the same path resumes.

use super::work::Pending;
use super::{Input, Session, State};
use crate::audit::Outcome;
use crate::ops::upload::{Size, Start, Upload as Shared};
use crate::protocol::messages::{PutReady, Stored};
use crate::protocol::{ErrorCode, WireError};
use crate::services::Services;
use crate::worker::JobOutput;
use std::time::Instant;

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

/// An upload in progress on this connection.
pub(super) struct Upload {
    up: Shared,
    length: u64,
    phase: Phase,
}

impl Upload {
    pub(super) fn is_receiving(&self) -> bool {
        matches!(self.phase, Phase::Receiving)
    }

    fn expected_body(&self) -> u64 {
        self.length - self.up.offset()
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
    let origin = s.origin();
    let State::Authed(a) = &s.state else { return };
    let start = if resume { Start::Resume } else { Start::Fresh };
    match Shared::begin(&origin, a, &path, Size::Exactly(length), start, now, svc) {
        Ok(up) => {
            let reply =
                PutReady { path: up.target().to_string(), offset: up.offset(), prefix_sha256: up.prefix_sha256() };
            s.upload = Some(Box::new(Upload { up, length, phase: Phase::Ready }));
            s.send_ok(&reply);
        }
        Err(e) => s.send_error(&e),
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
        if let Err(e) = up.up.write(bytes, svc) {
            up.phase = Phase::Failed(e);
        }
    }
    if last && up.phase == Phase::Receiving {
        up.phase = Phase::AwaitDone;
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
    let Some(up) = s.upload.as_mut() else { return };
    let ours = up.up.digest();
    if !sha256.eq_ignore_ascii_case(&ours) {
        let e = fail(
            ErrorCode::DigestMismatch,
            format!("SHA-256 mismatch for {}: the server received {ours}; nothing was stored", up.up.target()),
        );
        let job = up.up.discard_job();
        return s.ask(job, Pending::Discard(e), now);
    }
    match up.up.commit_job(&ours) {
        Ok(job) => {
            up.phase = Phase::Committing;
            s.ask(job, Pending::Commit, now);
        }
        Err(e) => {
            end(s, svc, now, Outcome::Fail, Some(&e));
            s.send_error(&e);
        }
    }
}

/// The commit is back: the file is in place (audit `complete`, reply), or
/// not (the partial stays, resumable).
pub(super) fn committed(s: &mut Session, output: JobOutput, now: Instant, svc: &mut Services) {
    let Some(up) = s.upload.as_mut() else { return };
    match up.up.committed(output, svc) {
        Ok(sha256) => {
            let reply = Stored { path: up.up.target().to_string(), length: up.length, sha256: sha256.clone() };
            end_with_digest(s, svc, now, Outcome::Complete, None, Some(&sha256));
            s.send_ok(&reply);
        }
        Err(e) => {
            end(s, svc, now, Outcome::Fail, Some(&e));
            s.send_error(&e);
        }
    }
}

/// The partial of an upload with the wrong digest is gone (or could not be
/// deleted: then it stays, and the sweep takes it later).
pub(super) fn discarded(s: &mut Session, e: WireError, output: JobOutput, now: Instant, svc: &mut Services) {
    if let Some(up) = s.upload.as_ref() {
        up.up.discarded(output, svc);
    }
    end(s, svc, now, Outcome::Rejected, Some(&e));
    s.send_error(&e);
}

/// The connection is going away mid-upload: keep a checkpoint, record it.
pub(super) fn interrupted(s: &mut Session, why: &WireError, now: Instant, svc: &mut Services) {
    if let Some(up) = s.upload.take() {
        if matches!(up.phase, Phase::Failed(_)) {
            // The checkpoint was written when the write failed.
            up.up.end(Outcome::Incomplete, Some(why), None, now, svc);
        } else {
            up.up.interrupted(why, now, svc);
        }
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
    if let Some(up) = s.upload.take() {
        up.up.end(outcome, err, sha256, now, svc);
    }
}
