//! `get`: download a remote file with resume (PROTOCOL.md §5, `get`).
//!
//! Bytes go to `<target>.mioftp-part`, never to the target itself; a sidecar
//! records which remote version they belong to (see [`crate::partial`]). A
//! later `get` of the same remote path sends the partial's length as
//! `offset` with the recorded `etag` as `if_match`; the server either
//! continues from there or starts over at 0. The kept prefix and the body go
//! through one SHA-256 which must equal the trailer's. Only then is the
//! partial fsynced and renamed to the target. A mismatch after a resume is
//! retried once from zero; any other mismatch deletes the partial.

use crate::client::Client;
use crate::digest::{self, CHUNK};
use crate::error::{ClientError, Result};
use crate::hashpipe::{self, Stop};
use crate::partial::{PartialPaths, Sidecar};
use crate::paths;
use crate::progress::Progress;
use mioftp_proto::messages::{self, GetEnd, GetStart};
use mioftp_proto::{ErrorCode, Request};
use sha2::{Digest, Sha256};
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How to download.
#[derive(Debug, Clone, Copy)]
pub struct GetOptions {
    /// Continue from a partial left by an earlier, interrupted `get`.
    pub resume: bool,
}

impl Default for GetOptions {
    fn default() -> Self {
        GetOptions { resume: true }
    }
}

/// What a download did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetReport {
    /// The remote file, absolute.
    pub remote: String,
    /// Where it was stored.
    pub local: PathBuf,
    /// The whole file's size.
    pub size: u64,
    /// Bytes received this time.
    pub received: u64,
    /// Bytes kept from an earlier attempt (0 if none).
    pub offset: u64,
    /// A resume's digest did not match and the file was fetched again from zero.
    pub restarted: bool,
    pub duration: Duration,
    /// Lowercase hex SHA-256 of the whole file, verified against the trailer.
    pub sha256: String,
}

/// Where `get REMOTE [LOCAL]` stores its file: LOCAL itself, or inside it if
/// it is a directory; without LOCAL, the remote base name in the current
/// local directory.
pub fn local_target(remote: &str, local: Option<&Path>) -> Result<PathBuf> {
    let base = || {
        paths::base_name(remote)
            .map(PathBuf::from)
            .ok_or_else(|| ClientError::Usage(format!("\"{remote}\" has no file name; give a local name")))
    };
    match local {
        None => base(),
        Some(dir) if dir.is_dir() => Ok(dir.join(base()?)),
        Some(file) => Ok(file.to_owned()),
    }
}

/// One attempt's result: done, or a digest mismatch (with the digests).
enum Attempt {
    Done(GetReport),
    Mismatch { expected: String, actual: String, resumed: bool },
}

/// What one `get` attempt fetches, and where it goes.
struct GetTarget<'a> {
    /// The remote path as given.
    remote: &'a str,
    /// Our resolution of `remote`, used to match a partial to its remote
    /// file; `None` disables resuming.
    remote_abs: Option<&'a str>,
    local: &'a Path,
    parts: &'a PartialPaths,
}

impl Client {
    /// Downloads `remote` to the file `local` (see [`local_target`] for the
    /// command's defaults).
    pub fn get(
        &mut self,
        remote: &str,
        local: &Path,
        opts: &GetOptions,
        progress: &mut dyn Progress,
    ) -> Result<GetReport> {
        let started = Instant::now();
        if local.is_dir() {
            return Err(ClientError::Usage(format!("{} is a directory", local.display())));
        }
        let parts = PartialPaths::for_target(local);
        if !opts.resume {
            parts.discard()?;
        }
        let what = paths::resolve(&self.cwd, remote);
        let target = GetTarget { remote, remote_abs: what.as_deref(), local, parts: &parts };
        match self.get_attempt(&target, true, progress)? {
            Attempt::Done(report) => Ok(GetReport { duration: started.elapsed(), ..report }),
            // The kept prefix was not what the server has now (changed in
            // place, or damaged locally): it is gone; try once from zero.
            Attempt::Mismatch { resumed: true, .. } => match self.get_attempt(&target, false, progress)? {
                Attempt::Done(report) => Ok(GetReport { duration: started.elapsed(), restarted: true, ..report }),
                Attempt::Mismatch { expected, actual, .. } => {
                    Err(ClientError::DigestMismatch { what: format!("get {remote}"), expected, actual })
                }
            },
            Attempt::Mismatch { expected, actual, .. } => {
                Err(ClientError::DigestMismatch { what: format!("get {remote}"), expected, actual })
            }
        }
    }

    /// One `get` exchange of `target`.
    fn get_attempt(
        &mut self,
        target: &GetTarget<'_>,
        may_resume: bool,
        progress: &mut dyn Progress,
    ) -> Result<Attempt> {
        let GetTarget { remote, remote_abs, local, parts } = *target;
        // Open the partial before asking, so a local failure happens while
        // the connection is still between requests.
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&parts.data)
            .map_err(|e| ClientError::local(local, e))?;
        let have = file.metadata().map_err(|e| ClientError::local(local, e))?.len();
        let resume_from = match (may_resume, remote_abs, parts.read_sidecar()) {
            (true, Some(abs), Some(side)) if side.remote == abs && have > 0 && have <= side.length => {
                Some((have, side.etag))
            }
            _ => None,
        };
        let (offset, if_match) = resume_from.map_or((0, None), |(o, e)| (o, Some(e)));

        self.conn.send(&Request::Get { path: remote.to_owned(), offset, if_match })?;
        self.conn.flush()?;
        let (header, body_len) = match self.conn.recv_reply() {
            Ok(reply) => reply,
            Err(e) => {
                // Leave no empty partial behind, and none for a remote file
                // that does not exist (as named) any more.
                if have == 0 || names_nothing(&e) {
                    drop(file);
                    parts.discard()?;
                }
                return Err(e);
            }
        };
        let start: GetStart = messages::reply_body(header).map_err(ClientError::Protocol)?;
        check_start(&start, body_len, offset)?;

        // From here until the trailer the body is in flight: a local failure
        // cannot be reported in-band, so it abandons the connection.
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; CHUNK];
        let side = Sidecar {
            remote: remote_abs.unwrap_or(&start.path).to_owned(),
            etag: start.etag.clone(),
            length: start.length,
        };
        if let Err(e) = prepare(&mut file, parts, local, &side, start.offset, &mut hasher, &mut buf) {
            self.abandon();
            return Err(ClientError::Aborted(format!("{e}; the partial download is kept")));
        }

        drop(buf);
        progress.start(start.length, start.offset);
        self.receive_body(&mut file, start.size, &mut hasher, local, progress)?;
        let (header, body_len) = self.conn.recv_reply()?;
        let end: GetEnd = messages::reply_body(header).map_err(ClientError::Protocol)?;
        if !end.trailer || body_len != 0 || end.length != start.length {
            return Err(ClientError::Protocol("the get trailer does not match its first frame".into()));
        }
        let sha256 = digest::hex_of(&hasher);
        if !digest::same(&end.sha256, &sha256) {
            drop(file);
            parts.discard()?;
            return Ok(Attempt::Mismatch { expected: end.sha256, actual: sha256, resumed: start.offset > 0 });
        }
        commit(file, parts, local)?;
        progress.finish();
        Ok(Attempt::Done(GetReport {
            remote: start.path,
            local: local.to_owned(),
            size: start.length,
            received: start.size,
            offset: start.offset,
            restarted: false,
            duration: Duration::ZERO,
            sha256,
        }))
    }

    /// Reads exactly `size` body bytes into the partial; a second thread
    /// hashes them and a third writes them (see [`crate::hashpipe`]).
    fn receive_body(
        &mut self,
        file: &mut File,
        size: u64,
        hasher: &mut Sha256,
        target: &Path,
        progress: &mut dyn Progress,
    ) -> Result<()> {
        let reader = self.conn.body_reader();
        let moved = hashpipe::stream(
            size,
            hasher,
            |buf| reader.read(buf),
            |chunk| file.write_all(chunk),
            |n| progress.advance(n),
        );
        match moved {
            Ok(()) => Ok(()),
            // EOF mid-body: the server stopped (or the network did). What
            // arrived is in the partial, which the next `get` resumes.
            Err(Stop::Short { done }) => Err(ClientError::Io(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("the server closed the connection after {done} of {size} bytes"),
            ))),
            Err(Stop::Fill(e)) => Err(ClientError::Io(e)),
            // A local failure cannot be reported in-band while the body is
            // in flight: the connection is abandoned, the partial kept.
            Err(Stop::Sink(e)) => {
                self.abandon();
                Err(ClientError::Aborted(format!("writing {}: {e}; the partial download is kept", target.display())))
            }
            Err(Stop::Spawn(e)) => {
                self.abandon();
                Err(ClientError::Aborted(format!("starting the hash thread: {e}; the partial download is kept")))
            }
        }
    }
}

/// A refusal saying the remote path names no readable file.
fn names_nothing(e: &ClientError) -> bool {
    matches!(
        e.code(),
        Some(ErrorCode::NotFound | ErrorCode::IsADirectory | ErrorCode::PathEscape | ErrorCode::PathInvalid)
    )
}

/// The first frame must describe a body consistent with itself and with
/// what we asked: the server may only honour our offset or fall back to 0.
fn check_start(start: &GetStart, body_len: u64, asked: u64) -> Result<()> {
    let consistent = start.offset <= start.length
        && start.size == start.length - start.offset
        && body_len == start.size
        && (start.offset == 0 || start.offset == asked);
    if consistent {
        Ok(())
    } else {
        Err(ClientError::Protocol(format!(
            "get reply: length {}, offset {} (asked {asked}), size {}, body {body_len} do not add up",
            start.length, start.offset, start.size
        )))
    }
}

/// Readies the partial for the body: keeps and hashes its first `offset`
/// bytes (or empties it for 0), and records the version in the sidecar
/// before any body byte is written.
fn prepare(
    file: &mut File,
    parts: &PartialPaths,
    target: &Path,
    side: &Sidecar,
    offset: u64,
    hasher: &mut Sha256,
    buf: &mut [u8],
) -> Result<()> {
    let at = |e| ClientError::local(target, e);
    file.set_len(offset).map_err(at)?;
    file.seek(SeekFrom::Start(0)).map_err(at)?;
    digest::hash_prefix(file, offset, hasher, target, buf)?;
    parts.write_sidecar(side)
}

/// Makes the verified partial durable and gives it the target's name; the
/// sidecar goes last (if we crash before that, the next `get` resumes at the
/// full length and re-verifies cheaply).
fn commit(file: File, parts: &PartialPaths, target: &Path) -> Result<()> {
    file.sync_all().map_err(|e| ClientError::local(target, e))?;
    drop(file);
    std::fs::rename(&parts.data, target).map_err(|e| ClientError::local(target, e))?;
    sync_parent(target);
    parts.remove_sidecar()
}

/// Makes the rename itself durable. Best effort: some platforms and file
/// systems cannot open or fsync a directory, and the data is already safe.
fn sync_parent(path: &Path) {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if let Ok(dir) = File::open(parent) {
        let _ = dir.sync_all();
    }
}
