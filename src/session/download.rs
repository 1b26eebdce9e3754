//! Downloads: `get` opens the file once, sends a header announcing the body,
//! streams the body only while the connection's output has room, then sends
//! a trailer with the SHA-256 of the whole file.
//!
//! The download itself is the shared [`crate::ops::download::Download`]
//! (sendfile when the file's digest is cached, read-and-hash otherwise, the
//! record); this file is the native protocol around it: the resume rule
//! (`offset` only against the same version, `if_match`), the header and the
//! trailer.

use super::Session;
use super::work::Pending;
use crate::ops::download::{self, Download as Shared};
use crate::protocol::messages::{GetEnd, GetStart};
use crate::services::Services;
use crate::worker::JobOutput;
use std::os::fd::BorrowedFd;
use std::time::Instant;

/// A download in progress.
pub(super) struct Download(Shared);

/// `get`: opens the file and queues the header; the body follows as output
/// room allows. A resumed download of a file without a cached digest first
/// hashes the prefix the client holds, as a worker job ([`prefix_hashed`]),
/// so the trailer's digest covers the whole file and a file that cannot be
/// read gets an error reply instead of a header.
pub(super) fn get(
    s: &mut Session,
    path: String,
    offset: u64,
    if_match: Option<String>,
    now: Instant,
    svc: &mut Services,
) {
    let origin = s.origin();
    let super::State::Authed(a) = &s.state else { return };
    let (mut job, meta, etag) = match Shared::open(&origin, a, &path, offset, now, svc) {
        Ok(o) => o,
        Err(e) => return s.send_error(&e),
    };
    let length = meta.size;
    // Resume only against the same version of the file.
    let start = if offset > 0 && offset <= length && if_match.as_deref() == Some(etag.as_str()) { offset } else { 0 };
    job.start_at(start);
    let header = Header { etag, mtime: meta.mtime };
    match job.prefix_job() {
        Some(hash) => s.ask(hash, Pending::Get(Box::new(Prefix { job, header })), now),
        None => start_body(s, job, header),
    }
}

/// What the header needs besides the download itself.
struct Header {
    etag: String,
    mtime: i64,
}

/// A resumed download whose prefix is being hashed.
pub(super) struct Prefix {
    job: Shared,
    header: Header,
}

/// The prefix is hashed: the header, then the body from the resume point;
/// or the refusal (recorded by the shared download).
pub(super) fn prefix_hashed(s: &mut Session, p: Prefix, output: JobOutput, now: Instant, svc: &mut Services) {
    let Prefix { mut job, header } = p;
    match job.prefix_hashed(output, now, svc) {
        Ok(()) => start_body(s, job, header),
        Err(e) => s.send_error(&e),
    }
}

/// Queues the header and installs the producer for the body.
fn start_body(s: &mut Session, job: Shared, h: Header) {
    let (length, offset) = (job.length(), job.offset());
    let path = job.path().to_owned();
    s.send_ok(&GetStart { path, length, offset, etag: h.etag, mtime: h.mtime, size: length - offset });
    s.producer = Some(super::Producer::Get(Box::new(Download(job))));
}

/// What a step of a download did.
pub(super) enum Step {
    /// Still going; this many file bytes were read.
    Working(usize),
    /// The trailer is queued.
    Done(usize),
    /// The file could not be read after the header went out: close.
    Broken,
}

impl Download {
    /// Reads the next chunk into the session's output; once the body is all
    /// out, queues the trailer.
    pub(super) fn step(&mut self, s: &mut Session, now: Instant, svc: &mut Services, max_bytes: usize) -> Step {
        match self.0.step(&mut s.out, max_bytes) {
            Ok(download::Step::Working(n)) => Step::Working(n),
            Ok(download::Step::Done(n)) => {
                let sha256 = self.0.finish(now, svc);
                s.send_ok(&GetEnd { trailer: true, length: self.0.length(), sha256 });
                Step::Done(n)
            }
            Err(e) => {
                self.0.broken(&e, now, svc);
                Step::Broken
            }
        }
    }

    /// The part of the file sendfile should send next (a cached digest).
    pub(super) fn file_range(&self) -> Option<(BorrowedFd<'_>, u64, u64)> {
        self.0.file_range()
    }

    /// `n` body bytes went out with sendfile.
    pub(super) fn advance(&mut self, n: u64) {
        self.0.advance(n);
    }

    /// Whether `step` has anything to do now: always while hashing, and for
    /// a sendfile download only once the body is all out (the trailer).
    pub(super) fn wants_step(&self) -> bool {
        self.0.wants_step() || self.0.all_sent()
    }

    /// sendfile found the file shorter than announced: the body cannot be
    /// completed, so the connection must close.
    pub(super) fn truncated(&mut self, _s: &Session, now: Instant, svc: &mut Services) {
        let e = std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "the file shrank while being sent");
        self.0.broken(&e, now, svc);
    }

    /// The connection went away before the trailer. Bytes still in the
    /// output buffer never reached the peer, so they are not counted.
    pub(super) fn interrupted(
        &mut self,
        s: &Session,
        why: &crate::protocol::WireError,
        now: Instant,
        svc: &mut Services,
    ) {
        self.0.interrupted(s.output().len() as u64, why, now, svc);
    }
}
