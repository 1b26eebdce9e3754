//! Transfers on the data connection: RETR, STOR, APPE, LIST, NLST, MLSD.
//!
//! A transfer command is checked at once (the path, the quota, REST), and a
//! refusal is answered before any data connection is used. Then the
//! transfer waits for the data connection if it is not open yet, answers
//! `150` when it is, and moves bytes through this endpoint's [`DATA`]
//! channel: a download or listing fills a bounded buffer only while the
//! socket takes it (or hands the file to sendfile when its digest is
//! cached), an upload writes each read straight to its partial file. The
//! end: the data socket is closed (`CloseChannel`), an upload is committed
//! (a worker-pool job), and only then is `226` sent (see `after_close`). A
//! RETR after REST of a file without a cached digest first hashes the bytes
//! before the offset, also on the pool. ABOR answers `426` for
//! the transfer, then `226`. A lost data connection is `426`; none at all,
//! `425`.
//!
//! Every transfer hashes SHA-256 (or takes the cached digest) and is
//! recorded by the shared download and upload objects, as native ones are.

mod bytes;

use super::files::{error, wall_clock};
use super::work::Pending;
use super::{DataConn, FtpSession};
use crate::audit::Outcome;
use crate::ftp::command::Command;
use crate::ftp::listing::FactSet;
use crate::ftp::reply::Reply;
use crate::ops::download::Download;
use crate::ops::files;
use crate::ops::upload::{Size, Start, Upload};
use crate::protocol::messages::EntryKind;
use crate::protocol::{ErrorCode, WireError};
use crate::services::Services;
use crate::session::{CloseReason, DriverRequest};
use crate::storage::DirListing;
use crate::worker::JobOutput;
use std::time::Instant;

/// A download or listing generates more only while less than this waits.
const DATA_LOW_WATER: usize = 64 * 1024;
/// Fewest bytes one data read asks for.
const MIN_READ: usize = 16 * 1024;
/// Directory entries formatted per step of a listing.
const LIST_BATCH: usize = 64;

/// A transfer, from its command to its last reply.
pub(super) struct Transfer {
    kind: Kind,
    /// The 150 is out: bytes flow.
    started: bool,
    /// Data queued for the data connection (downloads, listings).
    out: Vec<u8>,
    out_pos: usize,
}

enum Kind {
    Retr(Download),
    Stor(Upload),
    List { listing: Box<dyn DirListing>, format: Format, now: i64 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    List,
    Nlst,
    Mlsd(FactSet),
}

impl Transfer {
    fn pending(&self) -> usize {
        self.out.len() - self.out_pos
    }

    fn advance(&mut self, n: usize) {
        self.out_pos += n;
        if self.out_pos >= self.out.len() {
            self.out.clear();
            self.out_pos = 0;
        }
    }

    fn compact(&mut self) {
        if self.out_pos > 0 {
            self.out.drain(..self.out_pos);
            self.out_pos = 0;
        }
    }

    /// Whether everything is generated and sent.
    fn sent_all(&self) -> bool {
        self.pending() == 0
            && match &self.kind {
                Kind::Retr(d) => d.all_sent(),
                Kind::List { listing, .. } => listing.done(),
                Kind::Stor(_) => false,
            }
    }
}

/// The audit reason for a transfer cut by the connection's end.
fn cut_reason(reason: CloseReason) -> WireError {
    let (code, why) = match reason {
        CloseReason::PeerClosed => (ErrorCode::Disconnected, "the client closed the control connection"),
        CloseReason::Timeout => (ErrorCode::Timeout, "timeout"),
        CloseReason::Done => (ErrorCode::Closed, "session ended"),
        CloseReason::Shutdown => (ErrorCode::Shutdown, "server shutting down"),
    };
    WireError::new(code, why)
}

impl FtpSession {
    /// A transfer is set up or running: other commands wait (but ABOR).
    pub(super) fn transfer_busy(&self) -> bool {
        self.transfer.is_some()
    }

    /// Bytes are flowing on the data connection.
    pub(super) fn transfer_running(&self) -> bool {
        self.transfer.as_ref().is_some_and(|t| t.started)
    }

    /// RETR, STOR, APPE, LIST, NLST, MLSD.
    pub(super) fn transfer_command(&mut self, cmd: Command, now: Instant, svc: &mut Services) {
        let rest = self.rest.take();
        let allo = self.allo.take();
        if self.data == DataConn::None {
            return self.reply(Reply::new(425, "Use PASV, EPSV, PORT or EPRT first."));
        }
        let origin = self.origin();
        let append = matches!(cmd, Command::Appe(_));
        let list_format = match cmd {
            Command::List(_) => Format::List,
            Command::Nlst(_) => Format::Nlst,
            _ => Format::Mlsd(self.facts),
        };
        let Some(a) = self.authed() else { return };
        let kind = match cmd {
            Command::Retr(path) => {
                let (mut d, _, _) = match Download::open(&origin, a, &path, rest.unwrap_or(0), now, svc) {
                    Ok(o) => o,
                    Err(e) => return self.reply(error(&e)),
                };
                let n = rest.unwrap_or(0);
                if n > d.length() {
                    let why = format!("REST {n} is past the end of {} ({} bytes)", d.path(), d.length());
                    let e = WireError::new(ErrorCode::SizeMismatch, why);
                    d.refuse(n, &e, now, svc);
                    return self.reply(Reply::new(554, format!("Invalid REST offset: {}.", e.message)));
                }
                d.start_at(n);
                if let Some(job) = d.prefix_job() {
                    // A resume of a file without a cached digest: the bytes
                    // before the offset are hashed first, off the loop, so
                    // the record's digest covers the whole file.
                    let t = Box::new(Transfer { kind: Kind::Retr(d), started: false, out: Vec::new(), out_pos: 0 });
                    return self.ask(job, Pending::Prefix(t), now);
                }
                Kind::Retr(d)
            }
            Command::Stor(path) | Command::Appe(path) => {
                if append && rest.is_some() {
                    return self.reply(Reply::new(503, "REST with APPE is not supported; use REST with STOR."));
                }
                let start = match (append, rest) {
                    (true, _) => Start::Append,
                    (false, Some(n)) => Start::At(n),
                    (false, None) => Start::Fresh,
                };
                match Upload::begin(&origin, a, &path, Size::Stream { reserve: allo.unwrap_or(0) }, start, now, svc) {
                    Ok(u) => Kind::Stor(u),
                    Err(e) => return self.reply(error(&e)),
                }
            }
            Command::List(path) | Command::Nlst(path) | Command::Mlsd(path) => {
                let format = list_format;
                let args: Vec<String> = path.iter().cloned().collect();
                if let (Format::Mlsd(_), Some(p)) = (format, &path) {
                    // MLSD lists directories only (RFC 3659 §7.1).
                    if let Ok(t) = crate::ops::resolve(a, p) {
                        if a.home.stat(&t).is_ok_and(|m| m.kind != EntryKind::Dir) {
                            let e = WireError::new(ErrorCode::NotADirectory, format!("{t} is not a directory"));
                            files::record(&origin, a, svc, "dir", &args, Some(&t), Err(&e));
                            return self.reply(Reply::new(501, format!("{t} is not a directory; use MLST.")));
                        }
                    }
                }
                match files::list(&origin, a, svc, "dir", &args, path.as_deref()) {
                    Ok((_, listing)) => Kind::List { listing, format, now: wall_clock() },
                    Err(e) => return self.reply(error(&e)),
                }
            }
            _ => return,
        };
        self.transfer = Some(Box::new(Transfer { kind, started: false, out: Vec::new(), out_pos: 0 }));
        if let DataConn::Open(_) = self.data {
            self.start_transfer(now);
        }
        // Otherwise the transfer starts when the data connection opens.
    }

    /// The data connection is there: `150`, and bytes flow.
    fn start_transfer(&mut self, now: Instant) {
        let Some(t) = self.transfer.as_mut() else { return };
        if t.started {
            return;
        }
        t.started = true;
        self.last_activity = now;
        let text = match &t.kind {
            Kind::Retr(d) => format!("Opening data connection for {} ({} bytes).", d.path(), d.length() - d.offset()),
            Kind::Stor(u) => format!("Ok to send data for {}.", u.target()),
            Kind::List { .. } => "Here comes the listing.".to_owned(),
        };
        self.reply(Reply::new(150, text));
    }

    pub(super) fn data_opened(&mut self, now: Instant, _svc: &mut Services) {
        self.start_transfer(now);
    }

    /// The data connection failed or never came (its deadline passed).
    pub(super) fn data_failed(&mut self, now: Instant, svc: &mut Services) {
        let Some(t) = self.transfer.take() else { return };
        let why = WireError::new(ErrorCode::Disconnected, "the data connection failed");
        let reply = if t.started {
            Reply::new(426, "Data connection lost; transfer aborted.")
        } else {
            Reply::new(425, "Cannot open the data connection.")
        };
        self.end_transfer(*t, &why, now, svc);
        self.reply(reply);
    }

    /// Records a transfer that ends before its time.
    fn end_transfer(&mut self, t: Transfer, why: &WireError, now: Instant, svc: &mut Services) {
        let unsent = t.pending() as u64;
        match t.kind {
            Kind::Retr(mut d) => d.interrupted(unsent, why, now, svc),
            Kind::Stor(u) => u.interrupted(why, now, svc),
            Kind::List { .. } => {}
        }
    }

    /// ABOR: a transfer is cut (`426`, then `226`); otherwise `225`.
    pub(super) fn abort(&mut self, now: Instant, svc: &mut Services) {
        let had_data = self.data != DataConn::None;
        self.drop_data();
        match self.transfer.take() {
            Some(t) => {
                let started = t.started;
                let why = WireError::new(ErrorCode::Cancelled, "aborted by the client (ABOR)");
                self.end_transfer(*t, &why, now, svc);
                self.reply(if started {
                    Reply::new(426, "Transfer aborted.")
                } else {
                    Reply::new(425, "No data connection; transfer aborted.")
                });
                self.reply(Reply::new(226, "ABOR command successful."));
            }
            None if had_data => self.reply(Reply::new(225, "ABOR command successful; data connection closed.")),
            None => self.reply(Reply::new(225, "No transfer to abort.")),
        }
    }

    /// The transfer is over: the data socket is closed now, and `reply`
    /// follows the close.
    fn close_with(&mut self, reply: Reply) {
        self.drop_data();
        self.after_close = Some(reply);
    }

    /// The upload's commit is back: `226` once the file is in place (and
    /// the data socket closed), or the failure (the partial stays).
    pub(super) fn committed(&mut self, t: Transfer, output: JobOutput, now: Instant, svc: &mut Services) {
        let Kind::Stor(mut up) = t.kind else { return };
        let reply = match up.committed(output, svc) {
            Ok(sha) => {
                let size = up.written();
                up.end(Outcome::Complete, None, Some(&sha), now, svc);
                Reply::new(226, format!("Transfer complete: {size} bytes, SHA-256 {sha}."))
            }
            Err(e) => {
                up.end(Outcome::Fail, Some(&e), None, now, svc);
                error(&e)
            }
        };
        self.reply_after_close(reply);
    }

    /// The prefix of a resumed RETR is hashed: the transfer goes on as any
    /// other (waiting for its data connection, or starting now).
    pub(super) fn prefix_hashed(&mut self, mut t: Transfer, output: JobOutput, now: Instant, svc: &mut Services) {
        let Kind::Retr(d) = &mut t.kind else { return };
        if let Err(e) = d.prefix_hashed(output, now, svc) {
            return self.reply(error(&e));
        }
        if self.data == DataConn::None {
            // The data connection was lost (or never came) meanwhile.
            let why = WireError::new(ErrorCode::Disconnected, "the data connection failed");
            self.end_transfer(t, &why, now, svc);
            return self.reply(Reply::new(425, "Cannot open the data connection."));
        }
        self.transfer = Some(Box::new(t));
        if let DataConn::Open(_) = self.data {
            self.start_transfer(now);
        }
    }

    /// Sends `reply` once the data socket's close is taken by the driver
    /// (now, if it already was).
    fn reply_after_close(&mut self, reply: Reply) {
        if self.requests.iter().any(|r| matches!(r, DriverRequest::CloseChannel { .. })) {
            self.after_close = Some(reply);
        } else {
            self.reply(reply);
        }
    }

    /// A write refused (the quota) or failed (the disk): the data
    /// connection is cut, the partial kept for a resume.
    ///
    /// A cut by the quota keeps nothing: the partial is deleted (on the
    /// pool) before the `552`. A resume could not fit either, and a hidden
    /// partial would hold the user's quota until the stale-upload sweep
    /// (an APPE's holds a whole copy of the file appended to).
    fn upload_failed(&mut self, t: Transfer, e: WireError, now: Instant, svc: &mut Services) {
        if let (Kind::Stor(up), ErrorCode::QuotaExceeded) = (&t.kind, e.code) {
            let job = up.discard_job();
            self.drop_data();
            return self.ask(job, Pending::Discard(Box::new(t), e), now);
        }
        if let Kind::Stor(up) = t.kind {
            up.end(Outcome::of_failure(e.code), Some(&e), None, now, svc);
        }
        self.close_with(error(&e));
    }

    /// The partial of an upload cut by the quota is gone: its record, then
    /// the `552` (after the data socket's close).
    pub(super) fn discarded(&mut self, t: Transfer, e: WireError, output: JobOutput, now: Instant, svc: &mut Services) {
        if let Kind::Stor(up) = t.kind {
            up.discarded(output, svc);
            up.end(Outcome::of_failure(e.code), Some(&e), None, now, svc);
        }
        self.reply_after_close(error(&e));
    }

    /// The connection is going away: a transfer still running is recorded
    /// as cut (an upload keeps its partial), the login ends.
    pub(super) fn finish(&mut self, reason: CloseReason, now: Instant, svc: &mut Services) {
        if let Some(t) = self.transfer.take() {
            self.end_transfer(*t, &cut_reason(reason), now, svc);
        }
        let why = match reason {
            CloseReason::PeerClosed => "peer closed the connection",
            CloseReason::Timeout => "timeout",
            CloseReason::Done => "session ended",
            CloseReason::Shutdown => "server shutting down",
        };
        self.end_login(why, reason == CloseReason::Timeout, svc);
    }
}
