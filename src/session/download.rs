//! Downloads: `get` opens the file once, sends a header announcing the body,
//! streams the body only while the connection's output has room, then sends
//! a trailer with the SHA-256 of the whole file.
//!
//! Two ways to send the body:
//! - **Cached digest** (`crate::digest_cache`: the file's SHA-256 is known
//!   and its size and mtime are unchanged): the body goes with `sendfile(2)`
//!   straight from the page cache to the socket, and nothing is read or
//!   hashed in user space, not even for a resumed download. (A storage
//!   without descriptors, the in-memory one, sends it through the output
//!   buffer instead, still without hashing.)
//! - **Hash while sending**: each chunk is read into the output buffer and
//!   hashed on the way. On a resumed download the server first hashes the
//!   bytes the client already holds (without sending them) as a worker job,
//!   before the header, so the trailer's digest always covers the whole file
//!   and a file that cannot be read gets an error reply. When the whole
//!   file was hashed and it did not change meanwhile, the digest is
//!   remembered for next time.

use super::files::{resolve, wire};
use super::work::{self, Pending};
use super::{Session, State};
use crate::audit::{Log, Outcome, Record, Transfer};
use crate::protocol::messages::{GetEnd, GetStart};
use crate::protocol::{ErrorCode, WireError};
use crate::services::Services;
use crate::storage::{Meta, Opened, ReadFile, Stamp};
use crate::worker::{Job, JobOutput};
use sha2::{Digest, Sha256};
use std::os::fd::BorrowedFd;
use std::time::{Duration, Instant};

/// Most bytes read from the file per step (the driver may ask for fewer,
/// to keep its loop turns short when many transfers share them).
const CHUNK: usize = 256 * 1024;
const MIN_CHUNK: usize = 16 * 1024;

/// A download in progress.
pub(super) struct Download {
    path: String,
    file: Box<dyn ReadFile>,
    length: u64,
    /// Where the body starts.
    offset: u64,
    /// Next byte to read or send.
    pos: u64,
    mode: Mode,
    started: Instant,
}

enum Mode {
    /// Read, hash and send through the output buffer; `Stamp` is the file
    /// as opened, to decide at the end whether the digest may be cached.
    Hash(Sha256, Option<Stamp>),
    /// The digest is known: the body goes out with sendfile.
    Cached(String),
}

impl Download {
    fn sent(&self) -> u64 {
        self.pos.saturating_sub(self.offset)
    }
}

/// `get`: opens the file and queues the header; the body follows as output room allows.
pub(super) fn get(
    s: &mut Session,
    path: String,
    offset: u64,
    if_match: Option<String>,
    now: Instant,
    svc: &mut Services,
) {
    let State::Authed(a) = &s.state else { return };
    let target = resolve(a, &path);
    let opened = target.clone().and_then(|t| a.home.open_read(&t).map_err(|e| wire(&e)));
    let Opened { file, meta, etag } = match opened {
        Ok(o) => o,
        Err(e) => {
            let shown = target.map(|t| t.to_string()).unwrap_or(path);
            let facts = Transfer {
                path: &shown,
                size: None,
                bytes: 0,
                offset: Some(offset),
                sha256: None,
                duration: Duration::ZERO,
            };
            let rec = Record::transfer(s.actor(s.user()), "download", Outcome::of_failure(e.code), Some(&e), facts);
            svc.audit.record(Log::Downloads, rec);
            return s.send_error(&e);
        }
    };
    let length = meta.size;
    // Resume only against the same version of the file.
    let start = if offset > 0 && offset <= length && if_match.as_deref() == Some(etag.as_str()) { offset } else { 0 };
    let shown = target.map(|t| t.to_string()).unwrap_or_default();
    let cached = file.cached_digest();
    if cached.is_none() && start > 0 {
        // The trailer's digest covers the whole file: the prefix the client
        // holds is hashed first, off the loop.
        let stamp = file.stamp();
        let prefix = Prefix { path: shown, meta, etag, start, stamp, started: now };
        return s.ask(Job::Hash { file, len: start }, Pending::Get(Box::new(prefix)), now);
    }
    let mode = match cached {
        Some(sha256) => Mode::Cached(sha256),
        None => Mode::Hash(Sha256::default(), file.stamp()),
    };
    start_body(s, Started { path: shown, file, meta, etag, start, started: now }, mode);
}

/// A resumed download whose prefix is being hashed.
pub(super) struct Prefix {
    path: String,
    meta: Meta,
    etag: String,
    start: u64,
    /// The file as opened, to decide at the end whether the digest may be cached.
    stamp: Option<Stamp>,
    started: Instant,
}

/// The prefix is hashed: the header, then the body from the resume point.
pub(super) fn prefix_hashed(s: &mut Session, p: Prefix, output: JobOutput, now: Instant, svc: &mut Services) {
    let failed = match output {
        JobOutput::Hashed { file, hasher, result: Ok(()) } => {
            let Prefix { path, meta, etag, start, stamp, started } = p;
            let mode = Mode::Hash(hasher, stamp);
            return start_body(s, Started { path, file, meta, etag, start, started }, mode);
        }
        JobOutput::Hashed { result: Err(e), .. } => {
            log::error!("reading {} for download: {e}", p.path);
            WireError::new(ErrorCode::Internal, "the file could not be read")
        }
        JobOutput::Busy => work::busy(),
        _ => work::lost(),
    };
    let facts = Transfer {
        path: &p.path,
        size: Some(p.meta.size),
        bytes: 0,
        offset: Some(p.start),
        sha256: None,
        duration: now.saturating_duration_since(p.started),
    };
    let rec = Record::transfer(s.actor(s.user()), "download", Outcome::of_failure(failed.code), Some(&failed), facts);
    svc.audit.record(Log::Downloads, rec);
    s.send_error(&failed);
}

/// A download about to send its header.
struct Started {
    path: String,
    file: Box<dyn ReadFile>,
    meta: Meta,
    etag: String,
    start: u64,
    started: Instant,
}

/// Queues the header and installs the producer for the body.
fn start_body(s: &mut Session, d: Started, mode: Mode) {
    let Started { path, file, meta, etag, start, started } = d;
    let length = meta.size;
    s.send_ok(&GetStart { path: path.clone(), length, offset: start, etag, mtime: meta.mtime, size: length - start });
    let job = Download { path, file, length, offset: start, pos: start, mode, started };
    s.producer = Some(super::Producer::Get(job));
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
    /// Reads the next chunk: hash-only below the resume offset, otherwise
    /// straight into the session's output buffer.
    pub(super) fn step(&mut self, s: &mut Session, now: Instant, svc: &mut Services, max_bytes: usize) -> Step {
        let chunk = max_bytes.clamp(MIN_CHUNK, CHUNK) as u64;
        let hasher = match &mut self.mode {
            Mode::Hash(hasher, _) => Some(hasher),
            // sendfile moved the body (see `file_range`); only the trailer is left.
            Mode::Cached(_) if self.file.fd().is_some() => return self.finish(s, now, svc, 0),
            // Known digest, no descriptor: send through the buffer, unhashed.
            Mode::Cached(_) => None,
        };
        let want = (self.length - self.pos).min(chunk) as usize;
        if want > 0 {
            let out = &mut s.out;
            let at = out.len();
            out.resize(at + want, 0);
            if let Err(e) = self.file.read_exact_at(&mut out[at..], self.pos) {
                out.truncate(at);
                return self.broken(s, &e, now, svc);
            }
            if let Some(hasher) = hasher {
                hasher.update(&out[at..]);
            }
            self.pos += want as u64;
        }
        if self.pos < self.length {
            return Step::Working(want);
        }
        self.finish(s, now, svc, want)
    }

    /// The whole body is out: record it, queue the trailer, and remember the
    /// digest if this download computed it from an unchanged file.
    fn finish(&mut self, s: &mut Session, now: Instant, svc: &mut Services, work: usize) -> Step {
        let sha256 = match &self.mode {
            Mode::Cached(sha) => sha.clone(),
            Mode::Hash(hasher, opened) => {
                let sha = hex::encode(hasher.clone().finalize());
                if opened.is_some() && self.file.stamp() == *opened {
                    self.file.remember_digest(&sha);
                }
                sha
            }
        };
        self.record(s, svc, Outcome::Complete, None, self.facts(now, Some(&sha256)));
        s.send_ok(&GetEnd { trailer: true, length: self.length, sha256 });
        Step::Done(work)
    }

    /// The part of the file sendfile should send next, when the digest is
    /// known and the body is not all sent.
    pub(super) fn file_range(&self) -> Option<(BorrowedFd<'_>, u64, u64)> {
        match self.mode {
            Mode::Cached(_) if self.pos < self.length => {
                self.file.fd().map(|fd| (fd, self.pos, self.length - self.pos))
            }
            _ => None,
        }
    }

    /// `n` body bytes went out with sendfile.
    pub(super) fn advance(&mut self, n: u64) {
        self.pos = (self.pos + n).min(self.length);
    }

    /// Whether `step` has anything to do now: always while hashing or
    /// sending through the buffer, and for a sendfile download only once the
    /// body is all out (the trailer).
    pub(super) fn wants_step(&self) -> bool {
        !matches!(self.mode, Mode::Cached(_)) || self.pos == self.length || self.file.fd().is_none()
    }

    /// sendfile found the file shorter than announced: the body cannot be
    /// completed, so the connection must close.
    pub(super) fn truncated(&mut self, s: &Session, now: Instant, svc: &mut Services) {
        let e = std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "the file shrank while being sent");
        self.broken(s, &e, now, svc);
    }

    fn broken(&mut self, s: &Session, e: &std::io::Error, now: Instant, svc: &mut Services) -> Step {
        log::error!("reading {} for download: {e}", self.path);
        let err = WireError::new(ErrorCode::Internal, "the file could not be read");
        self.record(s, svc, Outcome::Fail, Some(&err), self.facts(now, None));
        Step::Broken
    }

    /// The connection went away before the trailer. Bytes still in the
    /// output buffer never reached the peer, so they are not counted.
    pub(super) fn interrupted(&mut self, s: &Session, why: &WireError, now: Instant, svc: &mut Services) {
        let unsent = (s.output().len() as u64).min(self.sent());
        self.pos -= unsent;
        self.record(s, svc, Outcome::Incomplete, Some(why), self.facts(now, None));
    }

    /// The attempt's facts as they stand at `now`.
    fn facts<'a>(&'a self, now: Instant, sha256: Option<&'a str>) -> Transfer<'a> {
        Transfer {
            path: &self.path,
            size: Some(self.length),
            bytes: self.sent(),
            offset: Some(self.offset),
            sha256,
            duration: now.saturating_duration_since(self.started),
        }
    }

    /// Writes the attempt's `download_file.log` record.
    fn record(&self, s: &Session, svc: &mut Services, outcome: Outcome, err: Option<&WireError>, facts: Transfer<'_>) {
        svc.audit.record(Log::Downloads, Record::transfer(s.actor(s.user()), "download", outcome, err, facts));
    }
}
