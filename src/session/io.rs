//! The native session's bytes, both ways: its side of the [`Endpoint`]
//! contract. Input is read into the driver's scratch buffer and handled from
//! there; only what cannot be handled yet (an unfinished frame, or whole
//! frames held back by output back-pressure or a spent budget) is copied
//! into the session's own buffer, which an idle session does not hold.
//! Output is generated into `out` while it has room (replies, listing
//! chunks, download chunks) and leaves through `write_to`, or through the
//! sendfile hint for a download whose digest is known.
//!
//! EOF is the session's to judge: after the last whole frame is handled, an
//! unfinished one left in the buffer is a truncated request, not a clean
//! close.

use super::contract::{Budget, Channel, CloseReason, DriverRequest, Endpoint, FileRange};
use super::{Input, OUT_HIGH_WATER, OUT_LOW_WATER, Producer, Session, download};
use crate::protocol::frame;
use crate::services::Services;
use crate::worker::JobOutput;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::Instant;

/// Fewest bytes one read asks for, however little budget is left: fewer
/// would cost a syscall for a handful of bytes.
const MIN_READ: usize = 16 * 1024;

impl Session {
    /// Whether the protocol state lets the session handle more input now.
    pub(super) fn wants_input(&self) -> bool {
        let receiving = self.upload.as_ref().is_some_and(|u| u.is_receiving());
        !self.closing
            && self.deferred.is_none()
            && !self.job.as_ref().is_some_and(super::work::Pending::blocks_input)
            && (self.producer.is_none() || receiving)
            && self.pending_output() < OUT_HIGH_WATER
    }

    /// Whether output is generated on demand (a download or listing) and
    /// there is room for more.
    fn wants_to_produce(&self) -> bool {
        let has_work = match &self.producer {
            Some(Producer::Get(job)) => job.wants_step(),
            Some(Producer::Dir(_)) => true,
            None => false,
        };
        has_work && !self.closing && self.pending_output() < OUT_LOW_WATER
    }

    pub(super) fn pending_output(&self) -> usize {
        self.out.len() - self.out_pos
    }

    /// Bytes waiting to be sent.
    pub(super) fn output(&self) -> &[u8] {
        &self.out[self.out_pos..]
    }

    /// Marks `n` output bytes as sent. Releases the buffer when it drains, so
    /// an idle connection holds no output memory.
    fn advance_output(&mut self, n: usize, now: Instant) {
        self.out_pos = (self.out_pos + n).min(self.out.len());
        if n > 0 {
            self.last_activity = now;
        }
        if self.out_pos == self.out.len() {
            self.out_pos = 0;
            if self.out.capacity() > 4096 && self.producer.is_none() {
                // Idle connections hold no output memory; a download keeps its
                // buffer instead of reallocating it for every chunk.
                self.out = Vec::new();
            } else {
                self.out.clear();
            }
        }
    }

    /// Moves unsent output to the front of the buffer, so a producer that
    /// appends while some output is still pending reuses the space instead of
    /// growing the buffer without bound.
    pub(super) fn compact_output(&mut self) {
        if self.out_pos > 0 {
            self.out.drain(..self.out_pos);
            self.out_pos = 0;
        }
    }

    /// Handles newly read bytes: straight from `new` when nothing is held,
    /// keeping only the rest.
    fn feed(&mut self, new: &[u8], budget: &mut Budget, now: Instant, svc: &mut Services) {
        if self.inbuf.is_empty() {
            let used = self.receive(new, budget, now, svc);
            self.inbuf.extend_from_slice(&new[used..]);
        } else {
            self.inbuf.extend_from_slice(new);
            let held = std::mem::take(&mut self.inbuf);
            let used = self.receive(&held, budget, now, svc);
            self.inbuf = held;
            self.inbuf.drain(..used);
        }
        self.after_input();
    }

    /// Handles held input again, now that the session may take it.
    fn retry_held(&mut self, budget: &mut Budget, now: Instant, svc: &mut Services) {
        let held = std::mem::take(&mut self.inbuf);
        let used = self.receive(&held, budget, now, svc);
        self.inbuf = held;
        self.inbuf.drain(..used);
        self.after_input();
    }

    fn after_input(&mut self) {
        if self.closing || self.inbuf.is_empty() {
            // Nothing after a fatal frame or `exit` will be read; and idle
            // connections hold no input memory.
            self.inbuf = Vec::new();
            self.held = false;
        }
        self.check_eof();
    }

    /// Consumes input bytes; returns how many were used. Stops early when the
    /// input is an unfinished frame (`held` stays false: more bytes are
    /// needed), or when the session cannot take more now or the budget is
    /// spent (`held` set: whole frames wait, no more should be read).
    fn receive(&mut self, input: &[u8], budget: &mut Budget, now: Instant, svc: &mut Services) -> usize {
        let (mut used, mut handled) = (0, 0);
        self.held = false;
        while used < input.len() {
            if !self.wants_input() {
                self.held = true;
                break;
            }
            match self.input {
                Input::Body { remaining } => {
                    let n = remaining.min((input.len() - used) as u64);
                    let last = n == remaining;
                    super::upload::body(self, &input[used..used + n as usize], last, svc);
                    used += n as usize;
                    self.last_activity = now;
                    self.input = if last { Input::Header } else { Input::Body { remaining: remaining - n } };
                }
                Input::Discard { remaining } => {
                    let n = remaining.min((input.len() - used) as u64);
                    used += n as usize;
                    self.input = match remaining - n {
                        0 => Input::Header,
                        left => Input::Discard { remaining: left },
                    };
                }
                Input::Header if budget.spent() && handled > 0 => {
                    // This connection had its share of the turn: the rest
                    // waits for the next one. (The first frame of a call is
                    // always handled, so a read that spent the budget on
                    // its own bytes still makes progress without a copy.)
                    self.held = true;
                    break;
                }
                Input::Header => match frame::decode(&input[used..]) {
                    Ok(None) => break,
                    Ok(Some((frame, n))) => {
                        used += n;
                        handled += 1;
                        budget.charge(Budget::REQUEST);
                        self.last_activity = now;
                        self.on_frame(frame, now, svc);
                    }
                    Err(e) => {
                        self.framing_error(e);
                        break;
                    }
                },
            }
        }
        self.finish_shutdown_if_idle();
        used
    }

    /// Judges the peer's EOF once every whole frame before it is handled.
    fn check_eof(&mut self) {
        if !self.eof || self.eof_handled || self.held {
            return;
        }
        self.eof_handled = true;
        let leftover = self.inbuf.len();
        self.inbuf = Vec::new();
        if leftover > 0 || self.input != Input::Header {
            // A partial frame at EOF is a truncated request, not a clean close.
            log::debug!("session {} ({}): EOF inside a frame ({leftover} bytes pending)", self.id, self.peer);
            if !self.closing {
                self.fail(crate::protocol::ErrorCode::BadFrame, "connection closed in the middle of a frame");
            }
        }
        self.closing = true;
    }

    /// Generates output while there is room: held requests first, then the
    /// next step of a listing or download.
    fn generate(&mut self, budget: &mut Budget, now: Instant, svc: &mut Services) {
        if self.held && self.wants_input() && !budget.spent() {
            self.retry_held(budget, now, svc);
        }
        if self.wants_to_produce() && !budget.spent() {
            match self.produce(now, svc, budget.left()) {
                Some(work) => budget.charge(work.max(1)),
                // The body can no longer be completed: closing at once is
                // the only way to tell the peer it is short.
                None => self.aborted = true,
            }
        }
    }

    /// Generates more output from the current producer. Returns the work
    /// done for the turn's budget (file bytes read, or hashed for a resumed
    /// download; at least the bytes queued); `None` if a body cannot be
    /// completed.
    fn produce(&mut self, now: Instant, svc: &mut Services, max_bytes: usize) -> Option<usize> {
        let Some(mut producer) = self.producer.take() else { return Some(0) };
        self.last_activity = now;
        self.compact_output();
        let queued = self.out.len();
        let (done, work) = match &mut producer {
            Producer::Get(job) => match job.step(self, now, svc, max_bytes) {
                download::Step::Working(n) => (false, n),
                download::Step::Done(n) => (true, n),
                download::Step::Broken => {
                    self.closing = true;
                    return None;
                }
            },
            Producer::Dir(job) => job.step(self, svc),
        };
        if !done {
            self.producer = Some(producer);
        }
        self.finish_shutdown_if_idle();
        // At least the bytes generated: a listing frame weighs its size.
        Some(work.max(self.out.len().saturating_sub(queued)))
    }
}

fn no_channel(ch: Channel) -> io::Error {
    io::Error::other(format!("the native session has no channel {}", ch.0))
}

impl Endpoint for Session {
    fn id(&self) -> u64 {
        self.id
    }

    fn peer(&self) -> SocketAddr {
        self.peer
    }

    fn wants_read(&self, ch: Channel) -> bool {
        ch == Channel::CONTROL && !self.eof && !self.held && self.wants_input()
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
        if ch != Channel::CONTROL {
            return Err(no_channel(ch));
        }
        if !self.wants_read(ch) {
            return Err(io::Error::other("read_from while the session is not reading"));
        }
        let take = budget.left().max(MIN_READ).min(scratch.len());
        let n = rd.read(&mut scratch[..take])?;
        if n == 0 {
            // EOF. Whole frames already held are still answered (they are
            // not: nothing is read while frames are held); an unfinished
            // one is reported by `check_eof`.
            self.eof = true;
            budget.charge(1);
            self.check_eof();
        } else {
            budget.charge(n);
            self.feed(&scratch[..n], budget, now, svc);
        }
        Ok(n)
    }

    fn wants_write(&self, ch: Channel) -> bool {
        ch == Channel::CONTROL
            && !self.aborted
            && (self.pending_output() > 0
                || self.wants_to_produce()
                || (self.held && self.wants_input())
                || self.file_range(ch).is_some())
    }

    fn write_to(
        &mut self,
        ch: Channel,
        wr: &mut dyn Write,
        budget: &mut Budget,
        now: Instant,
        svc: &mut Services,
    ) -> io::Result<usize> {
        if ch != Channel::CONTROL {
            return Err(no_channel(ch));
        }
        self.generate(budget, now, svc);
        if self.aborted || self.pending_output() == 0 {
            return Ok(0);
        }
        let n = wr.write(self.output())?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        // A short write is normal: the rest waits for the socket.
        self.advance_output(n, now);
        budget.charge(n);
        Ok(n)
    }

    /// The body of a download whose digest is already known, once the
    /// output buffer is empty.
    fn file_range(&self, ch: Channel) -> Option<FileRange<'_>> {
        match &self.producer {
            Some(Producer::Get(job)) if ch == Channel::CONTROL && self.pending_output() == 0 && !self.closing => {
                job.file_range().map(|(fd, offset, len)| FileRange { fd, offset, len })
            }
            _ => None,
        }
    }

    fn advance_file(&mut self, _ch: Channel, n: usize, now: Instant) {
        if let Some(Producer::Get(job)) = &mut self.producer {
            job.advance(n as u64);
            self.last_activity = now;
        }
    }

    /// The file shrank under sendfile: the body cannot be completed, so the
    /// session ends at once (the close tells the peer).
    fn file_truncated(&mut self, _ch: Channel, now: Instant, svc: &mut Services) {
        if let Some(Producer::Get(mut job)) = self.producer.take() {
            job.truncated(self, now, svc);
        }
        self.closing = true;
        self.aborted = true;
    }

    fn poll_timeout(&self) -> Option<Instant> {
        Some(self.deadline())
    }

    fn handle_timeout(&mut self, now: Instant, _svc: &mut Services) {
        self.on_timeout(now);
    }

    fn is_closed(&self) -> bool {
        self.aborted || (self.closing && self.pending_output() == 0)
    }

    fn on_close(&mut self, reason: CloseReason, now: Instant, svc: &mut Services) {
        // A session that ended because the peer shut its side was closed by
        // the peer, whatever the driver saw last.
        let reason = if reason == CloseReason::Done && self.eof { CloseReason::PeerClosed } else { reason };
        self.finish(reason, now, svc);
    }

    fn begin_shutdown(&mut self, _now: Instant, _svc: &mut Services) {
        self.shutting_down = true;
        self.deferred = None;
        self.finish_shutdown_if_idle();
    }

    fn is_bulk(&self) -> bool {
        self.producer.is_some() || self.upload.as_ref().is_some_and(|u| u.is_receiving())
    }

    fn is_waiting(&self) -> bool {
        self.deferred.is_some() || self.job.is_some()
    }

    /// Some job finished: a request that waited for the user's usage (a
    /// scan another session ran) may go on. One waiting for this session's
    /// own job goes on in `work_done` instead.
    fn resume(&mut self, now: Instant, svc: &mut Services) {
        if self.job.is_none() {
            self.resume_deferred(now, svc);
        }
    }

    fn poll_request(&mut self) -> Option<DriverRequest> {
        self.outbox.take()
    }

    fn work_done(&mut self, output: JobOutput, now: Instant, svc: &mut Services) {
        self.on_work_done(output, now, svc);
    }
}
