//! Bytes on the data connection: an upload's reads written to its partial
//! (its end, a commit), a download's or listing's output generated while
//! the socket takes it (or a file range for sendfile), and the end of a
//! send (the data socket closed, then `226`).

use super::{DATA_LOW_WATER, Format, Kind, LIST_BATCH, MIN_READ, Transfer};
use crate::audit::Outcome;
use crate::ftp::listing::{self, Entry};
use crate::ftp::reply::Reply;
use crate::ftp::session::FtpSession;
use crate::ftp::session::files::error;
use crate::ftp::session::work::Pending;
use crate::ops::download;
use crate::services::Services;
use crate::session::{Budget, FileRange};
use std::io::{self, Read, Write};
use std::time::Instant;

impl FtpSession {
    pub(in crate::ftp::session) fn data_wants_read(&self) -> bool {
        matches!(&self.transfer, Some(t) if t.started && matches!(&t.kind, Kind::Stor(u) if !u.copying()))
    }

    pub(in crate::ftp::session) fn data_wants_write(&self) -> bool {
        let Some(t) = &self.transfer else { return false };
        t.started
            && (t.pending() > 0
                || match &t.kind {
                    Kind::Retr(d) => d.wants_step() || d.all_sent() || d.file_range().is_some(),
                    Kind::List { .. } => true,
                    Kind::Stor(u) => u.copying(),
                })
    }

    pub(in crate::ftp::session) fn data_read(
        &mut self,
        rd: &mut dyn Read,
        scratch: &mut [u8],
        budget: &mut Budget,
        now: Instant,
        svc: &mut Services,
    ) -> io::Result<usize> {
        if !self.data_wants_read() {
            return Err(io::Error::other("read_from on the data channel while not receiving"));
        }
        let take = scratch.len().min(budget.left().max(MIN_READ));
        let n = rd.read(&mut scratch[..take])?;
        budget.charge(n.max(1));
        self.last_activity = now;
        let Some(mut t) = self.transfer.take() else { return Ok(n) };
        let Kind::Stor(up) = &mut t.kind else {
            self.transfer = Some(t);
            return Ok(n);
        };
        if n > 0 {
            match up.write(&scratch[..n], svc) {
                Ok(()) => self.transfer = Some(t),
                Err(e) => self.upload_failed(*t, e, now, svc),
            }
            return Ok(n);
        }
        // EOF: in stream mode, the end of the file. (A killed client's
        // socket ends with a plain FIN too; plain FTP cannot tell them apart:
        // docs/FTP.md §4.2.) The data socket closes now; the commit (fsync,
        // rename) runs on the worker pool, and 226 comes after both.
        let sha = up.digest();
        match up.commit_job(&sha) {
            Ok(job) => {
                self.drop_data();
                self.ask(job, Pending::Commit(t), now);
            }
            Err(e) => {
                if let Kind::Stor(up) = t.kind {
                    up.end(Outcome::Fail, Some(&e), None, now, svc);
                }
                self.close_with(error(&e));
            }
        }
        Ok(0)
    }

    pub(in crate::ftp::session) fn data_write(
        &mut self,
        wr: &mut dyn Write,
        budget: &mut Budget,
        now: Instant,
        svc: &mut Services,
    ) -> io::Result<usize> {
        let Some(mut t) = self.transfer.take() else { return Ok(0) };
        if !t.started {
            self.transfer = Some(t);
            return Ok(0);
        }
        // Generate while there is room and budget.
        while t.pending() < DATA_LOW_WATER && !budget.spent() {
            t.compact();
            let before = t.out.len();
            let progress = match &mut t.kind {
                Kind::Retr(d) if d.wants_step() => match d.step(&mut t.out, budget.left()) {
                    Ok(download::Step::Working(n) | download::Step::Done(n)) => n,
                    Err(e) => {
                        d.broken(&e, now, svc);
                        self.close_with(Reply::new(451, "Local error: the file could not be read; transfer aborted."));
                        return Ok(0);
                    }
                },
                Kind::List { listing, format, now: wall } => match listing.next_batch(LIST_BATCH) {
                    Ok(batch) => {
                        for d in &batch {
                            let e = Entry::new(&d.name, d.kind, d.size, d.mtime);
                            let line = match format {
                                Format::List => listing::list_line(&e, *wall),
                                Format::Nlst => listing::nlst_line(&e),
                                Format::Mlsd(facts) => listing::fact_line(&e, *facts),
                            };
                            listing::push_line(&mut t.out, line);
                        }
                        batch.len().max(1) * 64
                    }
                    Err(e) => {
                        log::error!("session {}: listing: {e}", self.id);
                        self.close_with(Reply::new(451, "Local error: the listing could not be completed."));
                        return Ok(0);
                    }
                },
                Kind::Stor(up) if up.copying() => match up.copy_step(budget.left(), svc) {
                    Ok(n) => n,
                    Err(e) => {
                        self.upload_failed(*t, e, now, svc);
                        return Ok(0);
                    }
                },
                _ => 0,
            };
            budget.charge(progress.max(t.out.len() - before).max(1));
            if progress == 0 || matches!(&t.kind, Kind::List { listing, .. } if listing.done()) {
                break;
            }
        }
        // One write of what is queued.
        let mut written = 0;
        if t.pending() > 0 {
            match wr.write(&t.out[t.out_pos..]) {
                Ok(0) => {
                    self.transfer = Some(t);
                    return Err(io::ErrorKind::WriteZero.into());
                }
                Ok(n) => {
                    t.advance(n);
                    budget.charge(n);
                    self.last_activity = now;
                    written = n;
                }
                Err(e) => {
                    self.transfer = Some(t);
                    return Err(e);
                }
            }
        }
        if t.started && t.sent_all() {
            self.finish_send(*t, now, svc);
        } else {
            self.transfer = Some(t);
        }
        Ok(written)
    }

    /// A download or listing is all out: close the data socket, then 226.
    fn finish_send(&mut self, t: Transfer, now: Instant, svc: &mut Services) {
        let reply = match t.kind {
            Kind::Retr(mut d) => {
                let sha = d.finish(now, svc);
                Reply::new(226, format!("Transfer complete: {} bytes, SHA-256 {sha}.", d.sent()))
            }
            _ => Reply::new(226, "Transfer complete."),
        };
        self.close_with(reply);
    }

    pub(in crate::ftp::session) fn data_file_range(&self) -> Option<FileRange<'_>> {
        let t = self.transfer.as_ref().filter(|t| t.started && t.pending() == 0)?;
        let Kind::Retr(d) = &t.kind else { return None };
        d.file_range().map(|(fd, offset, len)| FileRange { fd, offset, len })
    }

    pub(in crate::ftp::session) fn data_advance_file(&mut self, n: usize, now: Instant) {
        if let Some(Transfer { kind: Kind::Retr(d), .. }) = self.transfer.as_deref_mut() {
            d.advance(n as u64);
            self.last_activity = now;
        }
    }

    pub(in crate::ftp::session) fn data_file_truncated(&mut self, now: Instant, svc: &mut Services) {
        if let Some(t) = self.transfer.take() {
            if let Kind::Retr(mut d) = t.kind {
                let e = io::Error::new(io::ErrorKind::UnexpectedEof, "the file shrank while being sent");
                d.broken(&e, now, svc);
            }
            self.close_with(Reply::new(451, "Local error: the file shrank while being sent; transfer aborted."));
        }
    }
}
