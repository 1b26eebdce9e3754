//! The per-connection state machine, free of sockets.
//!
//! The driver hands a session the bytes it read ([`Session::receive`]), takes
//! the bytes it wants sent ([`Session::output`], [`Session::advance_output`]),
//! and tells it about the peer's EOF, timeouts and the close. Time is always an
//! argument, so tests drive it with a fake clock. Interest follows state: the
//! driver reads only while [`Session::wants_input`] and writes only while there
//! is output.
//!
//! States: `Handshake` (hello sent, waiting for `auth`) → `Open` (key checked,
//! not logged in) → `LoginPending` (SCRAM server-first sent) → `Authed`.
//! `logout` returns to `Open`. Any framing error, a failed connection check,
//! `exit` or a timeout ends the session after the final frame is flushed.
//!
//! A logged-in session may also hold an upload (body bytes flow to a file)
//! or a producer (a download or a listing that fills the output as the
//! socket drains). While a producer runs, no new request is read, so replies
//! stay in order. While the user's usage is still being computed, file
//! requests wait in `deferred`.

mod auth;
mod check_user;
mod dispatch;
mod download;
mod files;
mod tokens;
mod upload;

use crate::audit::{Actor, Log, Record};
use crate::home::{Home, VPath};
use crate::protocol::frame::{self, FrameError};
use crate::protocol::messages::{ErrReply, Notice, OkReply};
use crate::protocol::{ErrorCode, Request, WireError};
use crate::services::Services;
use serde::Serialize;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

/// Above this many bytes of unsent output the session stops taking input, so a
/// peer that pipelines requests but never reads cannot grow our memory.
pub const OUT_HIGH_WATER: usize = 256 * 1024;
/// A producer (download, listing) adds output only while less than this is
/// unsent: it reads the file only while the socket can take more.
pub const OUT_LOW_WATER: usize = 64 * 1024;

/// Where the session is in the protocol.
enum State {
    Handshake { challenge: [u8; 32] },
    Open,
    LoginPending(Box<auth::PendingLogin>),
    Authed(Box<Authed>),
}

/// What a logged-in session knows.
struct Authed {
    user: String,
    home: Arc<Home>,
    cwd: VPath,
}

/// Output that is generated as the socket drains.
enum Producer {
    Get(download::Download),
    Dir(files::DirJob),
}

/// What the next input bytes are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Input {
    /// A frame header (length prefix + JSON).
    Header,
    /// The body of a refused request: read and dropped to keep framing.
    Discard { remaining: u64 },
    /// The body of `put_data`, for the upload.
    Body { remaining: u64 },
}

/// Why a session is ending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// The peer closed or reset the connection.
    PeerClosed,
    /// A deadline passed.
    Timeout,
    /// The session decided to end (exit, framing error, failed check).
    Done,
    /// The server is shutting down.
    Shutdown,
}

/// One connection's protocol state.
pub struct Session {
    id: u64,
    peer: SocketAddr,
    state: State,
    input: Input,
    out: Vec<u8>,
    out_pos: usize,
    /// Set when the session will end once its output is flushed.
    closing: bool,
    /// When the current phase's clock started (connect, or logout).
    phase_start: Instant,
    /// The last request or transfer progress.
    last_activity: Instant,
    upload: Option<Box<upload::Upload>>,
    producer: Option<Producer>,
    /// A file request waiting for the user's usage to be known.
    deferred: Option<Request>,
    /// The server is shutting down: end after the current transfer.
    shutting_down: bool,
    /// A deferred request is being retried.
    resuming: bool,
}

impl Session {
    /// Starts a session: queues the hello with a fresh challenge.
    pub fn new(id: u64, peer: SocketAddr, now: Instant, svc: &Services) -> std::io::Result<Session> {
        let mut challenge = [0u8; 32];
        getrandom::fill(&mut challenge).map_err(std::io::Error::other)?;
        let mut s = Session {
            id,
            peer,
            state: State::Handshake { challenge },
            input: Input::Header,
            out: Vec::new(),
            out_pos: 0,
            closing: false,
            phase_start: now,
            last_activity: now,
            upload: None,
            producer: None,
            deferred: None,
            shutting_down: false,
            resuming: false,
        };
        s.send(&Notice::Hello(auth::hello(&challenge, svc)));
        Ok(s)
    }

    pub fn id(&self) -> u64 {
        self.id
    }

    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// The logged-in user, if any.
    pub fn user(&self) -> Option<&str> {
        match &self.state {
            State::Authed(a) => Some(&a.user),
            _ => None,
        }
    }

    /// Whether the session will take more input now.
    pub fn wants_input(&self) -> bool {
        let receiving = self.upload.as_ref().is_some_and(|u| u.is_receiving());
        !self.closing
            && self.deferred.is_none()
            && (self.producer.is_none() || receiving)
            && self.pending_output() < OUT_HIGH_WATER
    }

    /// Whether a transfer (or a listing) is under way: bulk work that the
    /// driver schedules after short requests.
    pub fn is_bulk(&self) -> bool {
        self.producer.is_some() || self.upload.as_ref().is_some_and(|u| u.is_receiving())
    }

    /// Whether a request waits for the user's usage scan.
    pub fn is_waiting(&self) -> bool {
        self.deferred.is_some()
    }

    /// Whether output is generated on demand (a download or listing) and
    /// there is room for more.
    pub fn wants_to_produce(&self) -> bool {
        let has_work = match &self.producer {
            Some(Producer::Get(job)) => job.wants_step(),
            Some(Producer::Dir(_)) => true,
            None => false,
        };
        has_work && !self.closing && self.pending_output() < OUT_LOW_WATER
    }

    /// A file range to send with sendfile(2), once the output buffer is
    /// empty: the body of a download whose digest is already known.
    pub fn file_range(&self) -> Option<(&std::fs::File, u64, u64)> {
        match &self.producer {
            Some(Producer::Get(job)) if self.pending_output() == 0 && !self.closing => job.file_range(),
            _ => None,
        }
    }

    /// `n` bytes of [`Session::file_range`] were sent.
    pub fn advance_file(&mut self, n: usize, now: Instant) {
        if let Some(Producer::Get(job)) = &mut self.producer {
            job.advance(n as u64);
            self.last_activity = now;
        }
    }

    /// sendfile hit the end of a file that shrank: the body cannot be
    /// completed, so the session ends (the close tells the peer).
    pub fn file_truncated(&mut self, now: Instant, svc: &mut Services) {
        if let Some(Producer::Get(mut job)) = self.producer.take() {
            job.truncated(self, now, svc);
        }
        self.closing = true;
    }

    /// Generates more output from the current producer. Returns the bytes of
    /// work done (file bytes read, or an estimate for a listing), for the
    /// driver's per-turn budget; `None` if the connection must be closed
    /// because a body cannot be completed.
    pub fn produce(&mut self, now: Instant, svc: &mut Services, max_bytes: usize) -> Option<usize> {
        let Some(mut producer) = self.producer.take() else { return Some(0) };
        self.last_activity = now;
        self.compact_output();
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
        Some(work)
    }

    /// The server is shutting down. An idle session is told so and ends at
    /// once; one with a transfer in flight ends after it (the driver cuts it
    /// when the grace period runs out).
    pub fn begin_shutdown(&mut self) {
        self.shutting_down = true;
        self.deferred = None;
        self.finish_shutdown_if_idle();
    }

    fn finish_shutdown_if_idle(&mut self) {
        if self.shutting_down && !self.closing && self.upload.is_none() && self.producer.is_none() {
            let message = "the server is shutting down; please reconnect later".to_owned();
            self.send(&Notice::Shutdown(crate::protocol::messages::ShutdownNotice { message }));
            self.closing = true;
        }
    }

    /// Retries a deferred request (after a usage scan finished).
    pub fn resume(&mut self, now: Instant, svc: &mut Services) {
        if let Some(req) = self.deferred.take() {
            self.resuming = true;
            self.dispatch(req, now, svc);
            self.resuming = false;
        }
    }

    /// Whether the session has ended and its output is flushed.
    pub fn is_finished(&self) -> bool {
        self.closing && self.pending_output() == 0
    }

    /// Whether the session is ending (its remaining output is its last).
    pub fn is_closing(&self) -> bool {
        self.closing
    }

    fn pending_output(&self) -> usize {
        self.out.len() - self.out_pos
    }

    /// Bytes waiting to be sent.
    pub fn output(&self) -> &[u8] {
        &self.out[self.out_pos..]
    }

    /// Marks `n` output bytes as sent. Releases the buffer when it drains, so
    /// an idle connection holds no output memory.
    pub fn advance_output(&mut self, n: usize, now: Instant) {
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
    fn compact_output(&mut self) {
        if self.out_pos > 0 {
            self.out.drain(..self.out_pos);
            self.out_pos = 0;
        }
    }

    /// Consumes input bytes; returns how many were used. Stops early (leaving
    /// the rest for a later call) when the input is an incomplete frame, when
    /// output backs up, or when the session is closing.
    pub fn receive(&mut self, input: &[u8], now: Instant, svc: &mut Services) -> usize {
        let mut used = 0;
        while used < input.len() && self.wants_input() {
            match self.input {
                Input::Body { remaining } => {
                    let n = remaining.min((input.len() - used) as u64);
                    let last = n == remaining;
                    upload::body(self, &input[used..used + n as usize], last, svc);
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
                Input::Header => match frame::decode(&input[used..]) {
                    Ok(None) => break,
                    Ok(Some((frame, n))) => {
                        used += n;
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

    /// The peer half-closed its side. `leftover` is how many input bytes the
    /// driver still holds that never made a whole frame.
    pub fn on_eof(&mut self, leftover: usize, _now: Instant, _svc: &mut Services) {
        if leftover > 0 || self.input != Input::Header {
            // A partial frame at EOF is a truncated request, not a clean close.
            log::debug!("session {} ({}): EOF inside a frame ({leftover} bytes pending)", self.id, self.peer);
            if !self.closing {
                self.fail(ErrorCode::BadFrame, "connection closed in the middle of a frame");
            }
        }
        self.closing = true;
    }

    /// The instant at which this session times out.
    pub fn deadline(&self, svc: &Services) -> Instant {
        let cfg = &svc.config;
        let moving = self.upload.is_some() || self.producer.is_some() || self.pending_output() > 0;
        match &self.state {
            // A transfer, or a reply the peer is slow to read, must progress.
            State::Authed(_) if moving => self.last_activity + cfg.transfer_timeout,
            State::Authed(_) => self.last_activity + cfg.idle_timeout,
            _ => self.phase_start + cfg.handshake_timeout,
        }
    }

    /// Called when `now` has reached [`Session::deadline`]: tells the peer why
    /// and ends the session.
    pub fn on_timeout(&mut self, now: Instant, svc: &mut Services) {
        if self.closing || now < self.deadline(svc) {
            return;
        }
        let moving = self.upload.is_some() || self.producer.is_some() || self.pending_output() > 0;
        let what = match self.state {
            State::Authed(_) if moving => "transfer made no progress",
            State::Authed(_) => "idle timeout",
            _ => "handshake and login timeout",
        };
        // A download's header is out and its body is not all queued: a
        // frame now would be read as file bytes. The close alone tells the
        // client that the body ended early.
        if !matches!(self.producer, Some(Producer::Get(_))) {
            self.fail(ErrorCode::Timeout, format!("{what}: closing the connection"));
        }
        self.closing = true;
    }

    /// The connection is going away: records what was left unfinished.
    pub fn on_close(&mut self, reason: CloseReason, now: Instant, svc: &mut Services) {
        let (code, why) = match reason {
            CloseReason::PeerClosed => (ErrorCode::Disconnected, "peer closed the connection"),
            CloseReason::Timeout => (ErrorCode::Timeout, "timeout"),
            CloseReason::Done => (ErrorCode::Closed, "session ended"),
            CloseReason::Shutdown => (ErrorCode::Shutdown, "server shutting down"),
        };
        let cut = WireError::new(code, why);
        upload::interrupted(self, &cut, now, svc);
        if let Some(Producer::Get(mut job)) = self.producer.take() {
            job.interrupted(self, &cut, now, svc);
        }
        match std::mem::replace(&mut self.state, State::Open) {
            State::LoginPending(p) => {
                let abandoned = WireError::new(ErrorCode::Abandoned, why);
                svc.audit.record(Log::Accounts, Record::attempt(self.actor(Some(&p.user)), "login", Err(&abandoned)));
            }
            State::Authed(a) => {
                let rec = Record::attempt(self.actor(Some(&a.user)), "logout", Ok(())).note(why);
                svc.audit.record(Log::Accounts, rec);
                svc.users.detach(&a.user);
            }
            // A client that connected and then never finished the check or
            // the login within the handshake deadline (a slow typist, or a
            // slowloris): not a login attempt, but worth a record.
            old @ (State::Handshake { .. } | State::Open) if reason == CloseReason::Timeout => {
                let message = match old {
                    State::Handshake { .. } => "no connection check (auth) before the handshake deadline",
                    _ => "no login before the handshake deadline",
                };
                let err = WireError::new(ErrorCode::Timeout, message);
                svc.audit.record(Log::Accounts, Record::attempt(self.actor(None), "timeout", Err(&err)));
            }
            _ => {}
        }
    }

    fn framing_error(&mut self, e: FrameError) {
        log::debug!("session {} ({}): framing error: {e}", self.id, self.peer);
        self.fail(e.code(), e.to_string());
        self.closing = true;
    }

    /// Queues a frame. Our own frames are small and well-formed; if one ever
    /// fails to encode, that is a bug, reported as `internal` to the peer.
    fn send(&mut self, header: &impl Serialize) {
        if let Err(e) = frame::encode(header, &mut self.out) {
            log::error!("session {}: could not encode a reply: {e}", self.id);
            let err = WireError::new(ErrorCode::Internal, "the server could not encode its reply");
            let _ = frame::encode(&ErrReply::new(&err), &mut self.out);
        }
    }

    fn send_ok<T: Serialize>(&mut self, body: &T) {
        self.send(&OkReply::new(body));
    }

    fn send_error(&mut self, err: &WireError) {
        debug_assert!(err.code.on_wire(), "audit-only reason {} sent on the wire", err.code);
        self.send(&ErrReply::new(err));
    }

    fn fail(&mut self, code: ErrorCode, message: impl Into<String>) {
        self.send_error(&WireError::new(code, message));
    }

    /// Who this session's records name as acting: its peer and id, and `user`.
    fn actor<'a>(&self, user: Option<&'a str>) -> Actor<'a> {
        Actor { peer: self.peer, session: self.id, user }
    }

    fn audit(&self, svc: &mut Services, log: Log, user: Option<&str>, event: &str, result: Result<(), &WireError>) {
        svc.audit.record(log, Record::attempt(self.actor(user), event, result));
    }
}

#[cfg(test)]
mod tests;
