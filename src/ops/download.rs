//! A download, for both front ends: open the file once, then send its bytes
//! from the start offset, and write one `download_file.log` record.
//!
//! Two ways to send:
//! - **Cached digest** (`crate::digest_cache`: the file's SHA-256 is known
//!   and its size and mtime are unchanged): the bytes go with `sendfile(2)`
//!   straight from the page cache to the socket ([`Download::file_range`]);
//!   nothing is read or hashed in user space, not even for a resumed
//!   download.
//! - **Hash while sending**: each chunk is read into the caller's output
//!   buffer and hashed on the way ([`Download::step`]). On a resumed
//!   download the bytes before the offset are hashed first, without being
//!   sent, as a worker-pool job ([`Download::prefix_job`], then
//!   [`Download::prefix_hashed`]), so the digest always covers the whole
//!   file and a file that cannot be read is refused before any byte is
//!   announced; when the whole file was hashed and did not change
//!   meanwhile, the digest is remembered for next time.

use super::{Authed, Origin, resolve, wire};
use crate::audit::{Log, Outcome, Record, Transfer};
use crate::home::Meta;
use crate::protocol::{ErrorCode, WireError};
use crate::services::Services;
use crate::storage::{Opened, ReadFile, Stamp};
use crate::worker::{Job, JobOutput};
use sha2::{Digest, Sha256};
use std::os::fd::BorrowedFd;
use std::time::{Duration, Instant};

/// Most bytes read from the file per step (the driver may ask for fewer,
/// to keep its loop turns short when many transfers share them).
const CHUNK: usize = 256 * 1024;
const MIN_CHUNK: usize = 16 * 1024;

/// A download in progress. See the module documentation.
pub struct Download {
    origin: Origin,
    user: String,
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

/// What a step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Still going; this many file bytes were read.
    Working(usize),
    /// Every byte is out (or queued); this many were read in this step.
    Done(usize),
}

impl Download {
    /// Opens `input` for a download starting at 0 (see [`Download::start_at`]).
    /// Returns it with the file's metadata and version tag; a refusal is
    /// recorded (with `offset`, the offset asked for) and returned.
    pub fn open(
        origin: &Origin,
        a: &Authed,
        input: &str,
        offset: u64,
        now: Instant,
        svc: &mut Services,
    ) -> Result<(Download, Meta, String), WireError> {
        let target = resolve(a, input);
        let opened = target.clone().and_then(|t| a.home.open_read(&t).map_err(|e| wire(&e)));
        let shown = target.map(|t| t.to_string()).unwrap_or_else(|_| input.to_owned());
        match opened {
            Ok(Opened { file, meta, etag }) => {
                let mode = match file.cached_digest() {
                    Some(sha256) => Mode::Cached(sha256),
                    None => Mode::Hash(Sha256::default(), file.stamp()),
                };
                let d = Download {
                    origin: *origin,
                    user: a.user.clone(),
                    path: shown,
                    file,
                    length: meta.size,
                    offset: 0,
                    pos: 0,
                    mode,
                    started: now,
                };
                Ok((d, meta, etag))
            }
            Err(e) => {
                let facts = Transfer {
                    path: &shown,
                    size: None,
                    bytes: 0,
                    offset: Some(offset),
                    sha256: None,
                    duration: Duration::ZERO,
                };
                let who = origin.actor(Some(&a.user));
                svc.audit.record(
                    Log::Downloads,
                    Record::transfer(who, "download", Outcome::of_failure(e.code), Some(&e), facts),
                );
                Err(e)
            }
        }
    }

    /// Sends from `offset` (at most the file's length). Without a known
    /// digest the bytes before it must be hashed first: see
    /// [`Download::prefix_job`].
    pub fn start_at(&mut self, offset: u64) {
        self.offset = offset.min(self.length);
        self.pos = self.offset;
    }

    /// The worker job that hashes the bytes before the resume offset, when
    /// they must be (no cached digest): the file goes with the job and comes
    /// back with [`Download::prefix_hashed`]. `None`: nothing to hash.
    pub fn prefix_job(&mut self) -> Option<Job> {
        if !matches!(self.mode, Mode::Hash(..)) || self.offset == 0 {
            return None;
        }
        let file = std::mem::replace(&mut self.file, Box::new(Lent));
        Some(Job::Hash { file, len: self.offset })
    }

    /// The prefix is hashed: the body may start. A file that could not be
    /// read (or a job that was not run) is refused, recorded, and returned.
    pub fn prefix_hashed(&mut self, output: JobOutput, now: Instant, svc: &mut Services) -> Result<(), WireError> {
        let failed = match output {
            JobOutput::Hashed { file, hasher, result: Ok(()) } => {
                self.file = file;
                if let Mode::Hash(h, _) = &mut self.mode {
                    *h = hasher;
                }
                return Ok(());
            }
            JobOutput::Hashed { file, result: Err(e), .. } => {
                self.file = file;
                log::error!("reading {} for download: {e}", self.path);
                WireError::new(ErrorCode::Internal, "the file could not be read")
            }
            JobOutput::Busy => super::busy(),
            _ => super::lost(),
        };
        self.pos = self.offset;
        self.record(svc, now, Outcome::of_failure(failed.code), Some(&failed), None);
        Err(failed)
    }

    /// Refuses the download after it was opened (an FTP `REST` past the
    /// end): records `e` with the offset asked for.
    pub fn refuse(mut self, asked: u64, e: &WireError, now: Instant, svc: &mut Services) {
        self.offset = asked;
        self.pos = asked;
        self.record(svc, now, Outcome::of_failure(e.code), Some(e), None);
    }

    /// The resolved virtual path, as shown in replies and records.
    pub fn path(&self) -> &str {
        &self.path
    }

    pub fn length(&self) -> u64 {
        self.length
    }

    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Body bytes read or handed to sendfile so far.
    pub fn sent(&self) -> u64 {
        self.pos.saturating_sub(self.offset)
    }

    /// Whether every body byte is out (or queued by `step`).
    pub fn all_sent(&self) -> bool {
        self.pos >= self.length
    }

    /// Whether [`Download::step`] has anything to do: always while hashing
    /// (or sending a cached file through the buffer, for a storage without
    /// descriptors), never while sendfile moves the body.
    pub fn wants_step(&self) -> bool {
        (!matches!(self.mode, Mode::Cached(_)) || self.file.fd().is_none()) && !self.all_sent()
    }

    /// Reads the next chunk (at most about `max_bytes`), appended to `out`
    /// and hashed.
    pub fn step(&mut self, out: &mut Vec<u8>, max_bytes: usize) -> std::io::Result<Step> {
        let chunk = max_bytes.clamp(MIN_CHUNK, CHUNK) as u64;
        let hasher = match &mut self.mode {
            Mode::Hash(hasher, _) => Some(hasher),
            // sendfile moves the body (see `file_range`).
            Mode::Cached(_) if self.file.fd().is_some() => return Ok(Step::Done(0)),
            // Known digest, no descriptor: through the buffer, unhashed.
            Mode::Cached(_) => None,
        };
        let want = (self.length - self.pos).min(chunk) as usize;
        if want > 0 {
            let at = out.len();
            out.resize(at + want, 0);
            if let Err(e) = self.file.read_exact_at(&mut out[at..], self.pos) {
                out.truncate(at);
                return Err(e);
            }
            if let Some(hasher) = hasher {
                hasher.update(&out[at..]);
            }
            self.pos += want as u64;
        }
        Ok(if self.pos < self.length { Step::Working(want) } else { Step::Done(want) })
    }

    /// The part of the file sendfile should send next, when the digest is
    /// known and the body is not all sent.
    pub fn file_range(&self) -> Option<(BorrowedFd<'_>, u64, u64)> {
        match self.mode {
            Mode::Cached(_) if self.pos < self.length => {
                self.file.fd().map(|fd| (fd, self.pos, self.length - self.pos))
            }
            _ => None,
        }
    }

    /// `n` body bytes went out with sendfile.
    pub fn advance(&mut self, n: u64) {
        self.pos = (self.pos + n).min(self.length);
    }

    /// The whole body is out: the digest (remembered if this download
    /// computed it from an unchanged file), recorded as `complete`.
    pub fn finish(&mut self, now: Instant, svc: &mut Services) -> String {
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
        self.record(svc, now, Outcome::Complete, None, Some(&sha256));
        sha256
    }

    /// The file could not be read after sending began (or it shrank).
    pub fn broken(&mut self, e: &std::io::Error, now: Instant, svc: &mut Services) {
        log::error!("reading {} for download: {e}", self.path);
        let err = WireError::new(ErrorCode::Internal, "the file could not be read");
        self.record(svc, now, Outcome::Fail, Some(&err), None);
    }

    /// The transfer stopped part-way. `unsent` bytes already taken from the
    /// file never reached the peer, so they are not counted.
    pub fn interrupted(&mut self, unsent: u64, why: &WireError, now: Instant, svc: &mut Services) {
        self.pos -= unsent.min(self.sent());
        self.record(svc, now, Outcome::Incomplete, Some(why), None);
    }

    fn record(
        &self,
        svc: &mut Services,
        now: Instant,
        outcome: Outcome,
        err: Option<&WireError>,
        sha256: Option<&str>,
    ) {
        let facts = Transfer {
            path: &self.path,
            size: Some(self.length),
            bytes: self.sent(),
            offset: Some(self.offset),
            sha256,
            duration: now.saturating_duration_since(self.started),
        };
        let rec = Record::transfer(self.origin.actor(Some(&self.user)), "download", outcome, err, facts);
        svc.audit.record(Log::Downloads, rec);
    }
}

/// Stands in for the file while it is with the prefix-hashing job.
struct Lent;

impl ReadFile for Lent {
    fn read_exact_at(&self, _: &mut [u8], _: u64) -> std::io::Result<()> {
        Err(std::io::Error::other("the file is being hashed"))
    }
    fn stamp(&self) -> Option<Stamp> {
        None
    }
    fn cached_digest(&self) -> Option<String> {
        None
    }
    fn remember_digest(&self, _: &str) {}
    fn fd(&self) -> Option<BorrowedFd<'_>> {
        None
    }
}
