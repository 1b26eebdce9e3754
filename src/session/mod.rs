//! The per-connection protocol objects, free of sockets, and the contract
//! the mio driver drives them by ([`contract`], written out with one
//! request's journey in docs/ARCHITECTURE.md).
//!
//! # The contract, in short
//! A session owns its bytes both ways; the driver owns only sockets,
//! readiness, tokens, timers and the ready list.
//! - **Bytes in:** while [`Endpoint::wants_read`], the driver calls
//!   [`Endpoint::read_from`]: one `read` into the driver's scratch buffer,
//!   handled at once; what cannot be handled yet (an unfinished frame, whole
//!   frames held back) the session keeps. `Ok(0)` is EOF, which the session
//!   judges: a clean close, or a request cut in the middle.
//! - **Bytes out:** while [`Endpoint::wants_write`], the driver calls
//!   [`Endpoint::write_to`]: the session generates output if it has room
//!   (held requests, the next listing or download chunk), then writes once. A
//!   short write is normal. Then [`Endpoint::file_range`] is a hint: these
//!   file bytes come next, for sendfile(2).
//! - **Work:** every call that works is charged to a [`Budget`] (bytes read
//!   and written, [`Budget::REQUEST`] per request, output generated); a
//!   session stops when it is spent, so one connection's share of a loop
//!   turn is bounded, and the driver continues it on a later turn.
//! - **Time:** [`Endpoint::poll_timeout`] is the next deadline and
//!   [`Endpoint::handle_timeout`] is called once it passed. Time is always
//!   an argument, so tests drive sessions with a fake clock.
//! - **Lifecycle:** [`Endpoint::is_closed`] says the session is done and its
//!   last bytes are out; [`Endpoint::on_close`] is called exactly once.
//! - **The driver's services:** [`Endpoint::poll_request`] asks the driver
//!   for what only it can do (an FTP data listener or connection, a PROXY
//!   preamble's admission); answers come back through
//!   [`Endpoint::handle_channel`], and the new sockets' bytes flow through
//!   the same calls on another [`Channel`].
//!
//! # The native session
//! States: `Handshake` (hello sent, waiting for `auth`) → `Open` (key checked,
//! not logged in) → `LoginPending` (SCRAM server-first sent) → `Authed`.
//! `logout` returns to `Open`. Any framing error, a failed connection check,
//! `exit` or a timeout ends the session after the final frame is flushed.
//!
//! A logged-in session may also hold an upload (body bytes flow to a file)
//! or a producer (a download or a listing that fills the output as the
//! socket drains). While a producer runs, no new request is handled, so
//! replies stay in order. Slow disk work (a commit's fsyncs, unlinking,
//! the usage walk, an account write, hashing a resumed download's prefix)
//! goes to the worker pool while the session waits in an explicit state
//! (`session/work.rs`). While the user's usage is still being computed,
//! file requests wait in `deferred`. Its side of the contract (input buffer,
//! EOF, output) is in `session/io.rs`.

mod auth;
mod check_user;
pub mod contract;
mod dispatch;
mod download;
mod files;
mod io;
mod tokens;
mod upload;
mod work;

pub use auth::AUTH_FAILED;
pub use contract::{Acceptor, Budget, Channel, ChannelEvent, CloseReason, DriverRequest, Endpoint, FileRange, Native};

use crate::audit::{Actor, Log, Record};
use crate::ops::Authed;
use crate::protocol::frame::{self, FrameError};
use crate::protocol::messages::{ErrReply, Notice, OkReply};
use crate::protocol::{ErrorCode, Request, WireError};
use crate::services::Services;
use serde::Serialize;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

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

/// Output that is generated as the socket drains.
enum Producer {
    Get(Box<download::Download>),
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

/// The session's deadlines, copied from the configuration at connect.
#[derive(Debug, Clone, Copy)]
struct Timeouts {
    handshake: Duration,
    idle: Duration,
    transfer: Duration,
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
    /// A file request waiting for the user's usage to be known, or for this
    /// session's job slot.
    deferred: Option<Request>,
    /// The job this session waits for (see `work.rs`).
    job: Option<work::Pending>,
    /// A request for the driver, polled with `poll_request`.
    outbox: Option<DriverRequest>,
    /// The server is shutting down: end after the current transfer.
    shutting_down: bool,
    /// A deferred request is being retried.
    resuming: bool,
    timeouts: Timeouts,
    /// Input not handled yet: an unfinished frame, or whole frames held back
    /// (see `held`). Empty, with no capacity, on an idle session.
    inbuf: Vec<u8>,
    /// `inbuf` holds input that can be handled without more bytes, but was
    /// held back (output back-pressure, a busy producer, a spent budget).
    held: bool,
    /// The peer shut its sending side (a read returned 0).
    eof: bool,
    /// That EOF has been judged (see `io::check_eof`).
    eof_handled: bool,
    /// The session must close now, dropping unsent output (a download body
    /// that cannot be completed).
    aborted: bool,
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
            job: None,
            outbox: None,
            shutting_down: false,
            resuming: false,
            timeouts: Timeouts {
                handshake: svc.config.handshake_timeout,
                idle: svc.config.idle_timeout,
                transfer: svc.config.transfer_timeout,
            },
            inbuf: Vec::new(),
            held: false,
            eof: false,
            eof_handled: false,
            aborted: false,
        };
        s.send(&Notice::Hello(auth::hello(&challenge, svc)));
        Ok(s)
    }

    /// The logged-in user, if any.
    pub fn user(&self) -> Option<&str> {
        match &self.state {
            State::Authed(a) => Some(&a.user),
            _ => None,
        }
    }

    /// Output queued and not yet written, for diagnostics and for tests
    /// that check what a session may queue when (the driver moves bytes
    /// only with [`Endpoint::write_to`]).
    pub fn queued_output(&self) -> &[u8] {
        self.output()
    }

    /// Input bytes the session holds (an unfinished frame, or whole frames
    /// held back), for diagnostics and for tests of its memory bounds.
    pub fn held_input(&self) -> usize {
        self.inbuf.len()
    }

    fn finish_shutdown_if_idle(&mut self) {
        let idle = self.upload.is_none() && self.producer.is_none() && self.job.is_none();
        if self.shutting_down && !self.closing && idle {
            let message = "the server is shutting down; please reconnect later".to_owned();
            self.send(&Notice::Shutdown(crate::protocol::messages::ShutdownNotice { message }));
            self.closing = true;
        }
    }

    /// Whether a transfer is under way (a commit or a prefix hash included),
    /// or a reply the peer is slow to read: it must progress.
    fn moving(&self) -> bool {
        self.upload.is_some()
            || self.producer.is_some()
            || self.pending_output() > 0
            || self.job.as_ref().is_some_and(work::Pending::in_transfer)
    }

    /// The instant at which this session times out.
    fn deadline(&self) -> Instant {
        let t = &self.timeouts;
        let moving = self.moving();
        match &self.state {
            // A transfer, or a reply the peer is slow to read, must progress.
            State::Authed(_) if moving => self.last_activity + t.transfer,
            State::Authed(_) => self.last_activity + t.idle,
            _ => self.phase_start + t.handshake,
        }
    }

    /// Called when `now` has reached the deadline: tells the peer why and
    /// ends the session.
    fn on_timeout(&mut self, now: Instant) {
        if self.closing || now < self.deadline() {
            return;
        }
        let moving = self.moving();
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
    fn finish(&mut self, reason: CloseReason, now: Instant, svc: &mut Services) {
        let (code, why) = match reason {
            CloseReason::PeerClosed => (ErrorCode::Disconnected, "peer closed the connection"),
            CloseReason::Timeout => (ErrorCode::Timeout, "timeout"),
            CloseReason::Done => (ErrorCode::Closed, "session ended"),
            CloseReason::Shutdown => (ErrorCode::Shutdown, "server shutting down"),
        };
        let cut = WireError::new(code, why);
        self.abandon_job(svc);
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
        self.origin().actor(user)
    }

    /// Where this session's actions come from, for the shared services.
    fn origin(&self) -> crate::ops::Origin {
        crate::ops::Origin { peer: self.peer, session: self.id, proto: None }
    }

    fn audit(&self, svc: &mut Services, log: Log, user: Option<&str>, event: &str, result: Result<(), &WireError>) {
        svc.audit.record(log, Record::attempt(self.actor(user), event, result));
    }
}

#[cfg(test)]
mod tests;
