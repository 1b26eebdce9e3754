//! The FTP session's side of the session contract: bytes in and out on the
//! control connection and on the data channel, interest, deadlines, and the
//! one way out.
//!
//! Control input is decoded into lines at once (at most [`MAX_QUEUED`] held;
//! the bytes after them wait undecoded, and the session stops reading), and
//! lines are handled while the session is free to (`dispatch`). Handling
//! also happens from `write_to`, so lines held while the session waited are
//! taken up as soon as it stops waiting (the driver asks `wants_write`).

use super::{CONTROL_READ, DATA, FtpSession, Login, MAX_QUEUED, OUT_HIGH_WATER, Wait};
use crate::ftp::reply::Reply;
use crate::services::Services;
use crate::session::{Budget, Channel, ChannelEvent, CloseReason, DriverRequest, Endpoint};
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::Instant;

impl FtpSession {
    /// Decodes bytes into queued lines until the queue is full; returns how
    /// many bytes were used.
    fn decode(&mut self, bytes: &[u8]) -> usize {
        let mut used = 0;
        while used < bytes.len() && self.lines.len() < MAX_QUEUED {
            let (n, line) = self.decoder.decode(&bytes[used..]);
            used += n;
            if let Some(line) = line {
                self.lines.push_back(line);
            }
        }
        used
    }

    /// Decodes held bytes once the queue has room again.
    fn decode_held(&mut self) {
        if !self.inbuf.is_empty() && self.lines.len() < MAX_QUEUED {
            let held = std::mem::take(&mut self.inbuf);
            let used = self.decode(&held);
            self.inbuf = held[used..].to_vec();
        }
    }

    /// Whether queued lines can be handled now.
    fn can_handle(&self) -> bool {
        !self.closing
            && matches!(self.wait, Wait::Nothing)
            && !self.job_blocks()
            && self.pending_output() < OUT_HIGH_WATER
    }

    /// Handles queued lines while the session is free and the budget lasts;
    /// then, at EOF with nothing left to handle, ends the session.
    fn handle_lines(&mut self, budget: &mut Budget, now: Instant, svc: &mut Services) {
        let mut handled = 0;
        while self.can_handle() {
            if budget.spent() && handled > 0 {
                break; // the rest waits for this connection's next turn
            }
            let Some(line) = self.next_line() else { break };
            handled += 1;
            budget.charge(Budget::REQUEST);
            self.last_activity = now;
            self.on_line(line, now, svc);
            self.decode_held();
        }
        if self.eof && self.lines.is_empty() && self.inbuf.is_empty() && self.can_handle() {
            // The client closed its side and every command before that is
            // answered: nothing more will come.
            self.closing = true;
        }
        self.finish_shutdown_if_idle();
    }

    /// During shutdown, an idle session says goodbye and ends.
    pub(super) fn finish_shutdown_if_idle(&mut self) {
        let idle = matches!(self.wait, Wait::Nothing) && self.transfer.is_none() && self.job.is_none();
        if self.shutting_down && !self.closing && idle {
            self.reply(Reply::new(421, "Server shutting down; please reconnect later."));
            self.closing = true;
        }
    }

    /// Marks `n` control bytes as sent; releases the buffer when it drains.
    fn advance_output(&mut self, n: usize, now: Instant) {
        self.out_pos += n;
        if n > 0 {
            self.last_activity = now;
        }
        if self.out_pos >= self.out.len() {
            self.out_pos = 0;
            if self.out.capacity() > 4096 {
                self.out = Vec::new();
            } else {
                self.out.clear();
            }
        }
    }

    fn control_read(
        &mut self,
        rd: &mut dyn Read,
        scratch: &mut [u8],
        budget: &mut Budget,
        now: Instant,
        svc: &mut Services,
    ) -> io::Result<usize> {
        let take = scratch.len().min(CONTROL_READ);
        let n = rd.read(&mut scratch[..take])?;
        if n == 0 {
            // EOF: the lines already queued are still answered, then the
            // session ends (see `handle_lines`).
            self.eof = true;
            budget.charge(1);
        } else {
            budget.charge(n);
            let used = self.decode(&scratch[..n]);
            self.inbuf.extend_from_slice(&scratch[used..n]);
        }
        self.handle_lines(budget, now, svc);
        Ok(n)
    }
}

fn no_channel(ch: Channel) -> io::Error {
    io::Error::other(format!("the FTP session has no channel {}", ch.0))
}

impl Endpoint for FtpSession {
    fn id(&self) -> u64 {
        self.id
    }

    fn peer(&self) -> SocketAddr {
        self.peer
    }

    fn wants_read(&self, ch: Channel) -> bool {
        match ch {
            Channel::CONTROL => {
                !self.closing
                    && !self.eof
                    && self.inbuf.is_empty()
                    && self.lines.len() < MAX_QUEUED
                    && self.pending_output() < OUT_HIGH_WATER
            }
            DATA => self.data_wants_read(),
            _ => false,
        }
    }

    fn read_from(
        &mut self,
        ch: Channel,
        rd: &mut dyn Read,
        scratch: &mut [u8],
        budget: &mut Budget,
        now: Instant,
        svc: &mut Services,
    ) -> io::Result<usize> {
        match ch {
            Channel::CONTROL => self.control_read(rd, scratch, budget, now, svc),
            DATA => self.data_read(rd, scratch, budget, now, svc),
            _ => Err(no_channel(ch)),
        }
    }

    fn wants_write(&self, ch: Channel) -> bool {
        match ch {
            Channel::CONTROL => {
                self.pending_output() > 0
                    || (self.can_handle() && (!self.lines.is_empty() || self.eof || self.shutting_down))
            }
            DATA => self.data_wants_write(),
            _ => false,
        }
    }

    fn write_to(
        &mut self,
        ch: Channel,
        wr: &mut dyn Write,
        budget: &mut Budget,
        now: Instant,
        svc: &mut Services,
    ) -> io::Result<usize> {
        if ch == DATA {
            return self.data_write(wr, budget, now, svc);
        }
        if ch != Channel::CONTROL {
            return Err(no_channel(ch));
        }
        self.handle_lines(budget, now, svc);
        if self.pending_output() == 0 {
            return Ok(0);
        }
        let n = wr.write(&self.out[self.out_pos..])?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        // A short write is normal: the rest waits for the socket.
        self.advance_output(n, now);
        budget.charge(n);
        Ok(n)
    }

    fn file_range(&self, ch: Channel) -> Option<crate::session::FileRange<'_>> {
        if ch == DATA { self.data_file_range() } else { None }
    }

    fn advance_file(&mut self, ch: Channel, n: usize, now: Instant) {
        if ch == DATA {
            self.data_advance_file(n, now);
        }
    }

    fn file_truncated(&mut self, ch: Channel, now: Instant, svc: &mut Services) {
        if ch == DATA {
            self.data_file_truncated(now, svc);
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        if self.closing {
            return None;
        }
        let mut t = self.deadline();
        if let Wait::Delay(until) | Wait::Retry(until) = self.wait {
            t = t.min(until);
        }
        Some(t)
    }

    fn handle_timeout(&mut self, now: Instant, svc: &mut Services) {
        match self.wait {
            Wait::Delay(until) if now >= until => {
                // A failed login's reply is due (the delay is a deadline,
                // never a sleep).
                self.wait = Wait::Nothing;
                if let Some(r) = self.delayed.take() {
                    self.reply(r);
                }
                return;
            }
            Wait::Retry(until) if now >= until => {
                self.wait = Wait::Nothing;
                return self.retry_job(now);
            }
            _ => {}
        }
        if self.closing || now < self.deadline() {
            return;
        }
        let what = match (&self.login, self.moving()) {
            (Login::Authed(_), true) => "Transfer made no progress",
            (Login::Authed(_), false) => "Idle timeout",
            _ => "Login timeout",
        };
        self.reply(Reply::new(421, format!("{what}; closing control connection.")));
        self.closing = true;
        let _ = svc;
    }

    /// A failed login's delay or a job's retry was due, not the end.
    fn continues_after_timeout(&self) -> bool {
        !self.closing
    }

    fn is_closed(&self) -> bool {
        self.closing && self.pending_output() == 0
    }

    fn on_close(&mut self, reason: CloseReason, now: Instant, svc: &mut Services) {
        self.abandon_job(svc);
        self.finish(reason, now, svc);
    }

    fn begin_shutdown(&mut self, _now: Instant, _svc: &mut Services) {
        self.shutting_down = true;
        self.finish_shutdown_if_idle();
    }

    fn is_bulk(&self) -> bool {
        self.transfer_running()
    }

    fn is_waiting(&self) -> bool {
        matches!(self.wait, Wait::Usage | Wait::Slot) || self.job.is_some()
    }

    /// Some job finished: a command that waited for the user's usage (a
    /// walk another session ran) is handled again (and may wait again).
    fn resume(&mut self, _now: Instant, _svc: &mut Services) {
        if matches!(self.wait, Wait::Usage) {
            self.wait = Wait::Nothing;
        }
    }

    fn poll_request(&mut self) -> Option<DriverRequest> {
        let request = self.requests.pop_front()?;
        if matches!(request, DriverRequest::CloseChannel { .. }) {
            // The driver closes the data socket now: the 226 may go out.
            if let Some(r) = self.after_close.take() {
                self.reply(r);
            }
        }
        Some(request)
    }

    fn handle_channel(&mut self, event: ChannelEvent, now: Instant, svc: &mut Services) {
        self.on_channel(event, now, svc);
    }

    fn work_done(&mut self, output: crate::worker::JobOutput, now: Instant, svc: &mut Services) {
        self.on_work_done(output, now, svc);
        // A command that waited for the job slot goes on.
        if self.job.is_none() && matches!(self.wait, Wait::Slot) {
            self.wait = Wait::Nothing;
        }
    }
}
