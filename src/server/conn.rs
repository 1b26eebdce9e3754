//! One connection: a non-blocking socket, its session, and the few bytes of
//! an incomplete frame. Moves bytes between the socket and the session until
//! neither side can make progress or the turn's budget is spent.
//!
//! Readiness is kept as two flags. mio is edge-triggered: a flag is set by an
//! event and cleared only when the socket says `WouldBlock`. A connection that
//! stops for any other reason (budget, back-pressure) keeps its flag, and the
//! server continues it from the ready list, because no new edge will come.

use crate::server::Budget;
use crate::services::Services;
use crate::session::{CloseReason, Session};
use mio::Interest;
use mio::net::TcpStream;
use std::io::{self, Read, Write};
use std::time::Instant;

/// What a pump left the connection as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pumped {
    /// Waiting for readiness events; nothing more to do now.
    Idle,
    /// Stopped with work left (budget spent): continue from the ready list.
    Again,
    /// The connection must be closed.
    Close(CloseReason),
}

pub struct Conn {
    pub stream: TcpStream,
    pub session: Session,
    /// Bytes of an unfinished frame, or frames held back while output drains.
    inbuf: Vec<u8>,
    /// `inbuf` may hold whole frames that the session declined (back-pressure).
    retry_input: bool,
    pub can_read: bool,
    pub can_write: bool,
    /// The peer shut down its sending side.
    eof: bool,
    eof_told: bool,
    /// Interest currently registered with the poller.
    pub interest: Interest,
    /// Deadline currently in the timer set.
    pub timer: Option<Instant>,
    /// Whether the key is already in the ready list.
    pub queued: bool,
    /// Whether the key is in the server's list of sessions waiting for a usage scan.
    pub waiting: bool,
    /// The loop turn in which the connection was last driven.
    pub driven_turn: u64,
}

impl Conn {
    pub fn new(stream: TcpStream, session: Session) -> Conn {
        Conn {
            stream,
            session,
            inbuf: Vec::new(),
            retry_input: false,
            // Optimistic: the first pump tries both; WouldBlock corrects them.
            can_read: true,
            can_write: true,
            eof: false,
            eof_told: false,
            interest: Interest::READABLE,
            timer: None,
            queued: false,
            waiting: false,
            driven_turn: 0,
        }
    }

    /// The interest this connection's state calls for.
    pub fn wanted_interest(&self) -> Interest {
        let read = self.session.wants_input() && !self.eof;
        let write =
            !self.session.output().is_empty() || self.session.wants_to_produce() || self.session.file_range().is_some();
        match (read, write) {
            (_, true) if read => Interest::READABLE | Interest::WRITABLE,
            (false, true) => Interest::WRITABLE,
            // Nothing wanted only happens on the way out; READABLE still
            // reports a reset.
            _ => Interest::READABLE,
        }
    }

    /// Moves bytes until blocked, finished, or out of budget.
    pub fn pump(&mut self, svc: &mut Services, scratch: &mut [u8], now: Instant, budget: &mut Budget) -> Pumped {
        loop {
            let mut progressed = false;

            // 0. Let a download or listing add output, only while the socket
            //    has been taking it (so a stalled reader costs no file reads).
            if self.can_write && self.session.wants_to_produce() {
                match self.session.produce(now, svc, budget.left()) {
                    Some(work) => budget.charge(work.max(1)),
                    // The body can no longer be completed: closing is the
                    // only way to tell the peer it is short.
                    None => return Pumped::Close(CloseReason::Done),
                }
                progressed = true;
            }

            // 1. Write what the session has ready.
            while self.can_write && !self.session.output().is_empty() && !budget.spent() {
                match self.stream.write(self.session.output()) {
                    Ok(0) => return Pumped::Close(CloseReason::PeerClosed),
                    Ok(n) => {
                        // A short write is normal: the rest waits for WRITABLE.
                        self.session.advance_output(n, now);
                        budget.charge(n);
                        progressed = true;
                    }
                    // The socket's send buffer is full; wait for a WRITABLE edge.
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.can_write = false,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        log::debug!("session {}: write: {e}", self.session.id());
                        return Pumped::Close(CloseReason::PeerClosed);
                    }
                }
            }
            // 1b. A download with a known digest: the body goes from the
            //     page cache to the socket with sendfile, never read here.
            while self.can_write && !budget.spent() {
                let Some((file, pos, left)) = self.session.file_range() else { break };
                let mut offset = pos;
                let count = (left.min(budget.left() as u64) as usize).max(1);
                match rustix::fs::sendfile(&self.stream, file, Some(&mut offset), count) {
                    Ok(0) => {
                        self.session.file_truncated(now, svc);
                        return Pumped::Close(CloseReason::Done);
                    }
                    Ok(n) => {
                        self.session.advance_file(n, now);
                        budget.charge(n);
                        progressed = true;
                    }
                    // The socket is full; wait for a WRITABLE edge.
                    Err(e) if e == rustix::io::Errno::AGAIN => self.can_write = false,
                    Err(e) if e == rustix::io::Errno::INTR => {}
                    Err(e) => {
                        log::debug!("session {}: sendfile: {e}", self.session.id());
                        return Pumped::Close(CloseReason::PeerClosed);
                    }
                }
            }
            if self.session.is_finished() {
                let reason = if self.eof { CloseReason::PeerClosed } else { CloseReason::Done };
                return Pumped::Close(reason);
            }
            if budget.spent() {
                return Pumped::Again;
            }

            // 2. Frames held back by back-pressure, now that output drained.
            if self.retry_input && self.session.wants_input() {
                self.feed(&[], svc, now);
                progressed = true;
            }

            // 3. Read more, only while the session will take it.
            if self.session.wants_input() && self.can_read && !self.eof && !self.retry_input {
                // Read no more than the turn allows (but not absurdly little).
                let take = budget.left().clamp(16 * 1024, scratch.len());
                match self.stream.read(&mut scratch[..take]) {
                    Ok(0) => {
                        // EOF. Buffered whole frames are still answered; an
                        // unfinished one is reported by the session.
                        self.eof = true;
                        progressed = true;
                    }
                    Ok(n) => {
                        budget.charge(n);
                        self.feed_new(&scratch[..n], svc, now);
                        progressed = true;
                    }
                    // Drained the socket; wait for a READABLE edge.
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.can_read = false,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => progressed = true,
                    Err(e) => {
                        log::debug!("session {}: read: {e}", self.session.id());
                        return Pumped::Close(CloseReason::PeerClosed);
                    }
                }
            }
            if self.eof && !self.eof_told && !self.retry_input {
                self.eof_told = true;
                self.session.on_eof(self.inbuf.len(), now, svc);
                self.inbuf = Vec::new();
                progressed = true;
            }

            if !progressed {
                return Pumped::Idle;
            }
        }
    }

    /// Feeds newly read bytes, avoiding a copy when nothing is held back.
    fn feed_new(&mut self, new: &[u8], svc: &mut Services, now: Instant) {
        if self.inbuf.is_empty() {
            let used = self.session.receive(new, now, svc);
            self.inbuf.extend_from_slice(&new[used..]);
            self.after_feed();
        } else {
            self.feed(new, svc, now);
        }
    }

    fn feed(&mut self, new: &[u8], svc: &mut Services, now: Instant) {
        self.inbuf.extend_from_slice(new);
        let used = self.session.receive(&self.inbuf, now, svc);
        self.inbuf.drain(..used);
        self.after_feed();
    }

    fn after_feed(&mut self) {
        if self.session.is_closing() {
            // Nothing after a fatal frame or `exit` will be read.
            self.inbuf = Vec::new();
        } else if self.inbuf.is_empty() && self.inbuf.capacity() > 0 {
            // Idle connections hold no input memory.
            self.inbuf = Vec::new();
        }
        self.retry_input = !self.inbuf.is_empty() && !self.session.wants_input();
    }
}
