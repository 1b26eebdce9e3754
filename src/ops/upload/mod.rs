//! An upload, for both front ends: [`Upload::begin`] checks the target,
//! marks it busy, opens (or resumes) its hidden partial file and reserves
//! quota; [`Upload::write`] appends and hashes body bytes;
//! [`Upload::commit_job`] is the worker-pool job that makes the file visible
//! under its name (fsync, atomic rename, the digest remembered) and
//! [`Upload::committed`] its second half, on the loop; [`Upload::end`] gives
//! back what was reserved and writes the one `upload_file.log` record of the
//! attempt. A front end hands the job to the driver (`DriverRequest::Work`)
//! and waits for it in a state of its own.
//!
//! Two shapes of upload:
//! - **declared** ([`Size::Exactly`]): the native `put` says the length
//!   first, and the whole of it is reserved against the quota up front;
//! - **stream** ([`Size::Stream`]): FTP's STOR and APPE learn the length
//!   only when the data connection ends. Nothing is reserved but what ALLO
//!   asked for, and a write that does not fit the quota is refused
//!   (`quota_exceeded`), which cuts the transfer.
//!
//! Either way a replaced file's size is credited (only the growth must be
//! free; `crate::users`), the bytes go to the partial area first, memory
//! stays bounded, and an upload that stops part-way keeps a checkpoint so
//! the next attempt can resume it.

mod end;

use super::{Authed, Origin, wire};
use crate::audit::{Log, Outcome, Record, Transfer};
use crate::home::VPath;
use crate::partial::{self, Partial, Resume};
use crate::protocol::{ErrorCode, WireError, human_size as human};
use crate::services::Services;
use crate::storage::{FileId, HomeStore, ReadFile};
use crate::users::Shortfall;
use sha2::Digest;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The largest declared length: a body's `size` cannot exceed it.
pub const MAX_LENGTH: u64 = i64::MAX as u64;

/// A checkpoint is written after this many bytes, so a crash costs at most
/// this much re-sending.
const CHECKPOINT_EVERY: u64 = 64 * 1024 * 1024;

/// How big the upload is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Size {
    /// Declared up front (native `put`), and reserved in full.
    Exactly(u64),
    /// Known at the end (FTP); `reserve` bytes were promised by ALLO.
    Stream { reserve: u64 },
}

/// Where the upload starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// From nothing (an earlier partial is dropped).
    Fresh,
    /// Where the checkpointed partial of the same declared length stopped
    /// (native `put` with `resume`).
    Resume,
    /// At exactly this offset of the stream partial (FTP `REST n` + STOR):
    /// `size_mismatch` if the partial does not hold exactly that.
    At(u64),
    /// At the end of the stream partial if there is one, else after a copy
    /// of the committed file (FTP APPE).
    Append,
}

/// An upload in progress. See the module documentation.
pub struct Upload {
    origin: Origin,
    user: String,
    home: Arc<dyn HomeStore>,
    target: VPath,
    size: Size,
    partial: Partial,
    /// APPE: the committed file being copied into the partial, and its
    /// length; `None` once copied.
    source: Option<(Box<dyn ReadFile>, u64)>,
    /// Bytes of `source` copied so far.
    copied: u64,
    /// Where the client's bytes start in the file.
    start: u64,
    /// Body bytes written in this attempt (not counting an APPE copy).
    received: u64,
    /// Reserved quota not yet used by written bytes.
    reserved: u64,
    /// The replaced file this upload holds a quota credit for.
    credit: Option<FileId>,
    since_checkpoint: u64,
    started: Instant,
    /// While the commit job runs: the size of the file it replaces (freed
    /// by the rename) and the digest.
    committing: Option<(u64, String)>,
}

fn fail(code: ErrorCode, msg: impl Into<String>) -> WireError {
    WireError::new(code, msg)
}

/// A write or commit failure as the client is told it.
pub fn io_error(e: &std::io::Error) -> WireError {
    if e.kind() == std::io::ErrorKind::StorageFull || e.kind() == std::io::ErrorKind::QuotaExceeded {
        fail(ErrorCode::NoSpace, "the server's disk is full; the data received so far is kept for a later resume")
    } else {
        fail(ErrorCode::Internal, "the server could not write the upload")
    }
}

fn quota_error(target: &VPath, short: Shortfall, needed: u64, replaced: Option<u64>) -> WireError {
    let Shortfall { needed: growth, free, limit, used, reserved } = short;
    let replacing = match replaced {
        Some(size) if growth < needed => format!(" (the {} file it replaces is credited)", human(size)),
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
}

impl Upload {
    /// Starts an upload of `input` (resolved against the session's
    /// directory). A refusal is recorded here, and returned for the reply.
    pub fn begin(
        origin: &Origin,
        a: &Authed,
        input: &str,
        size: Size,
        start: Start,
        now: Instant,
        svc: &mut Services,
    ) -> Result<Upload, WireError> {
        let target = super::resolve(a, input);
        let begun = target.clone().and_then(|t| Upload::open(origin, a, t, size, start, now, svc));
        if let Err(e) = &begun {
            let shown = target.map(|t| t.to_string()).unwrap_or_else(|_| input.to_owned());
            let declared = match size {
                Size::Exactly(n) => Some(n),
                Size::Stream { .. } => None,
            };
            let facts = Transfer {
                path: &shown,
                size: declared,
                bytes: 0,
                offset: None,
                sha256: None,
                duration: Duration::ZERO,
            };
            let rec =
                Record::transfer(origin.actor(Some(&a.user)), "upload", Outcome::of_failure(e.code), Some(e), facts);
            svc.audit.record(Log::Uploads, rec);
        }
        begun
    }

    fn open(
        origin: &Origin,
        a: &Authed,
        target: VPath,
        size: Size,
        start: Start,
        now: Instant,
        svc: &mut Services,
    ) -> Result<Upload, WireError> {
        if let Size::Exactly(length) = size {
            if length > MAX_LENGTH {
                return Err(fail(
                    ErrorCode::BadRequest,
                    format!("length {length} is larger than any file can be ({MAX_LENGTH})"),
                ));
            }
        }
        if target.is_root() {
            return Err(fail(ErrorCode::IsADirectory, "/ is your home folder, not a file"));
        }
        let replaced = a.home.upload_target(&target).map_err(|e| wire(&e))?;
        let user = svc.users.get_mut(&a.user).ok_or_else(|| fail(ErrorCode::Internal, "user state missing"))?;
        if user.uploads.contains(&target) {
            return Err(fail(
                ErrorCode::Busy,
                format!("{target} is already being uploaded by another of your sessions"),
            ));
        }
        let declared = match size {
            Size::Exactly(n) => n,
            Size::Stream { .. } => partial::STREAM,
        };
        let how = match start {
            Start::Fresh => Resume::No,
            Start::Resume | Start::Append => Resume::IfLength(declared),
            Start::At(n) => Resume::ExactlyAt(n),
        };
        let opened = partial::open_with(&*a.home, &target, how).map_err(|e| {
            log::error!("opening partial for {target}: {e}");
            io_error(&e)
        })?;
        let Some(opened) = opened else {
            let Start::At(n) = start else { unreachable!("only ExactlyAt finds nothing") };
            return Err(fail(
                ErrorCode::SizeMismatch,
                format!("no upload of {target} stopped at exactly {n} bytes; send it whole (REST 0)"),
            ));
        };
        user.shrink(opened.dropped);
        let offset = opened.partial.offset;
        // APPE with nothing to resume: the committed file is copied first.
        let source = match (start, offset, replaced) {
            (Start::Append, 0, Some((_, len))) if len > 0 => {
                let opened = a.home.open_read(&target).map_err(|e| wire(&e))?;
                Some((opened.file, len))
            }
            _ => None,
        };
        let (reserved, credit) = match size {
            Size::Exactly(length) => {
                let needed = length - offset;
                let credit = user
                    .reserve_upload(needed, replaced)
                    .map_err(|short| quota_error(&target, short, needed, replaced.map(|r| r.1)))?;
                (needed, credit)
            }
            Size::Stream { reserve } => {
                let credit = user
                    .reserve_stream(reserve, replaced)
                    .map_err(|short| quota_error(&target, short, reserve, replaced.map(|r| r.1)))?;
                (reserve, credit)
            }
        };
        user.uploads.insert(target.clone());
        let start = offset + source.as_ref().map_or(0, |s| s.1);
        let up = Upload {
            origin: *origin,
            user: a.user.clone(),
            home: a.home.clone(),
            target,
            size,
            partial: opened.partial,
            source,
            copied: 0,
            start,
            received: 0,
            reserved,
            credit,
            since_checkpoint: 0,
            started: now,
            committing: None,
        };
        up.save_checkpoint();
        Ok(up)
    }

    pub fn target(&self) -> &VPath {
        &self.target
    }

    /// Where the partial resumed (0 for a fresh one).
    pub fn offset(&self) -> u64 {
        self.partial.offset
    }

    /// The SHA-256 of the bytes before the resume offset, when resuming.
    pub fn prefix_sha256(&self) -> Option<String> {
        (self.partial.offset > 0).then(|| hex::encode(self.partial.hasher.clone().finalize()))
    }

    /// Bytes the partial holds.
    pub fn written(&self) -> u64 {
        self.partial.offset + self.copied + self.received
    }

    /// Body bytes of this attempt so far.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Whether an APPE's copy of the committed file is still under way
    /// (the client's bytes must wait).
    pub fn copying(&self) -> bool {
        self.source.is_some()
    }

    /// Copies the next part (at most `max` bytes) of the committed file an
    /// APPE appends to; returns the bytes copied (0 once done).
    pub fn copy_step(&mut self, max: usize, svc: &mut Services) -> Result<usize, WireError> {
        let Some((file, len)) = &self.source else { return Ok(0) };
        let len = *len;
        let want = (len - self.copied).min(max.clamp(16 * 1024, 256 * 1024) as u64) as usize;
        let mut buf = vec![0u8; want];
        if let Err(e) = file.read_exact_at(&mut buf, self.copied) {
            log::error!("copying {} for APPE: {e}", self.target);
            return Err(fail(ErrorCode::Internal, "the file to append to could not be read"));
        }
        self.append(&buf, svc)?;
        self.copied += want as u64;
        if self.copied >= len {
            self.source = None;
        }
        Ok(want)
    }

    /// Appends body bytes (the caller keeps a declared upload within its
    /// length). A stream upload's bytes beyond its reservation must fit the
    /// quota, or nothing is written and the answer is `quota_exceeded`.
    pub fn write(&mut self, bytes: &[u8], svc: &mut Services) -> Result<(), WireError> {
        self.append(bytes, svc)?;
        self.received += bytes.len() as u64;
        Ok(())
    }

    fn append(&mut self, bytes: &[u8], svc: &mut Services) -> Result<(), WireError> {
        let n = bytes.len() as u64;
        let promised = n.min(self.reserved);
        let user = svc.users.get_mut(&self.user);
        if let (Size::Stream { .. }, Some(u)) = (self.size, &user) {
            let free = u.free().unwrap_or(u64::MAX);
            if n - promised > free {
                self.save_checkpoint();
                return Err(fail(
                    ErrorCode::QuotaExceeded,
                    format!("{} would pass your quota ({} free); the upload is cut", self.target, human(free)),
                ));
            }
        }
        if let Err(e) = self.partial.file.write_all(bytes) {
            log::error!("writing upload {}: {e}", self.target);
            self.save_checkpoint();
            return Err(io_error(&e));
        }
        self.partial.hasher.update(bytes);
        self.reserved -= promised;
        if let Some(u) = svc.users.get_mut(&self.user) {
            u.wrote(n, promised);
        }
        self.since_checkpoint += n;
        if self.since_checkpoint >= CHECKPOINT_EVERY {
            self.since_checkpoint = 0;
            self.save_checkpoint();
        }
        Ok(())
    }

    /// Records how far the upload got, so a later attempt can resume.
    pub fn save_checkpoint(&self) {
        let length = match self.size {
            Size::Exactly(n) => n,
            Size::Stream { .. } => partial::STREAM,
        };
        let p = &self.partial;
        if let Err(e) = partial::checkpoint(&*self.home, &p.id, &self.target, length, self.written(), &p.hasher) {
            log::error!("checkpoint of upload {}: {e}", self.target);
        }
    }

    /// The SHA-256 of everything written, in lowercase hex.
    pub fn digest(&self) -> String {
        hex::encode(self.partial.hasher.clone().finalize())
    }
}
