//! `put`: upload a local file with resume (PROTOCOL.md §5.7).
//!
//! `put` declares the length and learns how much the server already holds;
//! the client checks that prefix against its own file (hashing it with the
//! same hasher that then continues over the rest, so every byte is read
//! once), restarts from zero if the file changed, streams the remainder as
//! one `put_data` body, and ends with `put_done` carrying the whole file's
//! SHA-256. The server stores nothing under the target name unless that
//! digest matches what it received.

use crate::client::Client;
use crate::digest::{self, CHUNK, LocalBody};
use crate::error::{ClientError, Result};
use crate::paths;
use crate::progress::Progress;
use mioftp_proto::messages::{self, PutReady, Stored};
use mioftp_proto::{ErrorCode, Request};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;
use std::time::{Duration, Instant};

/// How long the `put` after a cut-off upload of the same path retries `busy`.
pub const BUSY_RETRY: Duration = Duration::from_secs(5);
/// The pause between those retries.
const BUSY_PAUSE: Duration = Duration::from_millis(100);

/// How to upload.
#[derive(Debug, Clone, Copy)]
pub struct PutOptions {
    /// Continue from a partial the server kept from an earlier attempt.
    pub resume: bool,
}

impl Default for PutOptions {
    fn default() -> Self {
        PutOptions { resume: true }
    }
}

/// What an upload did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutReport {
    /// The stored file, absolute (as the server names it).
    pub path: String,
    /// The whole file's size.
    pub size: u64,
    /// Bytes sent this time.
    pub sent: u64,
    /// Bytes the server already held and we did not resend (0 if none).
    pub offset: u64,
    /// The server offered a resume but its prefix did not match our file,
    /// so the upload started over from zero.
    pub restarted: bool,
    pub duration: Duration,
    /// Lowercase hex SHA-256 of the whole file, confirmed by the server.
    pub sha256: String,
}

impl Client {
    /// Uploads `local` to `remote` (relative to the remote current directory).
    pub fn put(
        &mut self,
        local: &Path,
        remote: &str,
        opts: &PutOptions,
        progress: &mut dyn Progress,
    ) -> Result<PutReport> {
        let started = Instant::now();
        let mut file = File::open(local).map_err(|e| ClientError::local(local, e))?;
        let meta = file.metadata().map_err(|e| ClientError::local(local, e))?;
        if !meta.is_file() {
            return Err(ClientError::Usage(format!("{} is not a regular file", local.display())));
        }
        let length = meta.len();
        let (remote, mut ready) = match self.put_start(remote, length, opts.resume) {
            // An existing remote folder: the file goes inside it, as in sftp.
            Err(e) if e.code() == Some(ErrorCode::IsADirectory) => {
                let name = local.file_name().and_then(|n| n.to_str()).ok_or(e)?;
                let inside = format!("{}/{name}", remote.trim_end_matches('/'));
                let ready = self.put_start(&inside, length, opts.resume)?;
                (inside, ready)
            }
            other => (remote.to_owned(), other?),
        };
        let put = |resume| Request::Put { path: remote.clone(), length, resume };
        // From here the server holds an upload for us: if the connection is
        // lost before it ends, the next `put` of this path may find the
        // server still busy with it until it notices the close.
        let cut = paths::resolve(&self.cwd, &remote);
        let result = self.put_body(local, &mut file, length, &mut ready, &put, progress);
        match &result {
            Err(e) if e.is_fatal() => self.cut_upload = cut,
            _ => {}
        }
        let (offset, restarted, stored, sha256) = result?;
        progress.finish();
        Ok(PutReport {
            path: stored.path,
            size: length,
            sent: length - offset,
            offset,
            restarted,
            duration: started.elapsed(),
            sha256,
        })
    }

    /// Sends `put` for `remote`. If the last upload of that same path was
    /// cut off, a `busy` answer means the server has not yet noticed the old
    /// connection's close: asks again for up to [`BUSY_RETRY`].
    fn put_start(&mut self, remote: &str, length: u64, resume: bool) -> Result<PutReady> {
        let req = Request::Put { path: remote.to_owned(), length, resume };
        let was_cut = self.cut_upload.is_some() && self.cut_upload == paths::resolve(&self.cwd, remote);
        let deadline = Instant::now() + BUSY_RETRY;
        loop {
            match self.conn.call(&req) {
                Err(e) if was_cut && e.code() == Some(ErrorCode::Busy) && Instant::now() < deadline => {
                    std::thread::sleep(BUSY_PAUSE);
                }
                other => {
                    if was_cut {
                        self.cut_upload = None;
                    }
                    return other;
                }
            }
        }
    }

    /// After a successful `put`: checks the offered prefix, streams the
    /// rest and reads the verdict. Returns (offset, restarted, stored, sha256).
    fn put_body(
        &mut self,
        local: &Path,
        file: &mut File,
        length: u64,
        ready: &mut PutReady,
        put: &dyn Fn(bool) -> Request,
        progress: &mut dyn Progress,
    ) -> Result<(u64, bool, Stored, String)> {
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; CHUNK];
        let mut restarted = false;
        if ready.offset > 0 {
            // An offer beyond our length cannot be a prefix of this file.
            let matches = ready.offset <= length && {
                digest::hash_prefix(file, ready.offset, &mut hasher, local, &mut buf)?;
                ready.prefix_sha256.as_deref().is_some_and(|p| digest::same(p, &digest::hex_of(&hasher)))
            };
            if !matches {
                // The local file changed since the interrupted attempt: while
                // UPLOAD_READY, a new `put` replaces the pending one.
                *ready = self.conn.call(&put(false))?;
                if ready.offset != 0 {
                    return Err(ClientError::Protocol(format!(
                        "put with resume:false answered offset {}",
                        ready.offset
                    )));
                }
                restarted = true;
                hasher = Sha256::new();
                file.seek(SeekFrom::Start(0)).map_err(|e| ClientError::local(local, e))?;
            }
        }
        let offset = ready.offset;
        let size = length - offset;
        progress.start(length, offset);

        self.conn.send(&json!({"op": "put_data", "size": size}))?;
        let body = LocalBody { file, path: local, hasher: &mut hasher, buf: &mut buf };
        self.send_body(body, size, progress)?;
        let sha256 = digest::hex_of(&hasher);
        self.conn.send(&Request::PutDone { sha256: sha256.clone() })?;
        self.conn.flush()?;
        let stored = self.put_done_reply()?;
        if stored.length != length || !digest::same(&stored.sha256, &sha256) {
            return Err(ClientError::Protocol(format!(
                "the server stored {} bytes with SHA-256 {}, not the {length} bytes with {sha256} sent",
                stored.length, stored.sha256
            )));
        }
        Ok((offset, restarted, stored, sha256))
    }

    /// Streams exactly `size` bytes of `file` into the open `put_data` frame.
    ///
    /// One thread reads, hashes and sends. Unlike `get`, an upload is bound
    /// by the server (which receives, hashes and writes on its one loop
    /// thread, about 1.4 CPU-s per GiB against the client's 1.2), so moving
    /// the client's hashing to other threads ([`crate::hashpipe`]) cannot
    /// make it faster; measured through the binary it did not (PUT ÷ the
    /// one-thread client 0.83-0.98 by median, within this machine's noise;
    /// docs/BENCHMARKS.md, issue 12).
    fn send_body(&mut self, body: LocalBody<'_>, size: u64, progress: &mut dyn Progress) -> Result<()> {
        let LocalBody { file, path: local, hasher, buf } = body;
        let mut left = size;
        while left > 0 {
            let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
            let n = match file.read(&mut buf[..want]) {
                // The frame promised `size` bytes and the file cannot supply
                // them: the connection's framing is now broken, so it is
                // abandoned (the server keeps what it got as a partial).
                Ok(0) => {
                    self.abandon();
                    return Err(ClientError::Aborted(format!(
                        "{} shrank while it was being sent; run put again",
                        local.display()
                    )));
                }
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.abandon();
                    return Err(ClientError::Aborted(format!("reading {}: {e}", local.display())));
                }
            };
            hasher.update(&buf[..n]);
            if let Err(e) = self.conn.send_body(&buf[..n]) {
                return Err(self.explain_lost(e));
            }
            progress.advance(n as u64);
            left -= n as u64;
        }
        Ok(())
    }

    /// The reply to `put_done`. A `size_mismatch` is the reply to `put_data`
    /// (sent at once, §5.7), after which `put_done` arrives in the AUTHED
    /// state and gets its own `bad_state` reply: read and drop that one too
    /// so the next request's reply lines up.
    fn put_done_reply(&mut self) -> Result<Stored> {
        match self.conn.recv_reply() {
            Ok((header, 0)) => messages::reply_body(header).map_err(ClientError::Protocol),
            Ok((_, body)) => Err(ClientError::Protocol(format!("unexpected {body}-byte body in reply to put_done"))),
            Err(e) if e.code() == Some(ErrorCode::SizeMismatch) => {
                let _ = self.conn.recv_reply();
                Err(e)
            }
            Err(e) => Err(e),
        }
    }

    /// After a failed write the server may already have said why it closed
    /// (e.g. `timeout`): prefer its words to a bare "broken pipe".
    fn explain_lost(&mut self, err: ClientError) -> ClientError {
        let closed = matches!(&err, ClientError::Io(e)
            if matches!(e.kind(), io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset));
        if !closed {
            return err;
        }
        match self.conn.recv_reply() {
            Err(server @ ClientError::Server(_)) => server,
            _ => err,
        }
    }

    /// Shuts the socket so nothing more is sent on a connection whose frame
    /// boundaries are lost.
    pub(crate) fn abandon(&mut self) {
        // Already shut or reset: nothing more to do either way.
        let _ = self.conn.stream().shutdown(std::net::Shutdown::Both);
    }
}
