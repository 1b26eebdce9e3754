//! The FTP control session: a second implementation of the session contract
//! ([`crate::session::Endpoint`]) beside the native one, over the same
//! services (accounts, homes, quotas, throttle, audit). Its data connections
//! are channels the driver opens on request (`DriverRequest::Listen` for
//! PASV/EPSV, `Connect` for PORT/EPRT); their bytes flow through this same
//! endpoint on [`DATA`].
//!
//! Pieces:
//! - `control`: the contract's side (bytes in and out on both channels,
//!   interest, deadlines, the end of the connection);
//! - `dispatch`: one command line to its handler, in order, and which
//!   commands may run while a transfer is going;
//! - `login`: USER, PASS (PBKDF2 on the worker pool), the throttle, the
//!   failure delay and the verified-credential cache;
//! - `data`: PASV, EPSV, PORT, EPRT and the channel's events;
//! - `transfer`: RETR, STOR, APPE, LIST, NLST, MLSD on the data connection,
//!   with 150 before and 226 after;
//! - `files`: the file commands answered on the control connection.
//!
//! - `work`: the jobs handed to the worker pool (PASS's KDF, the usage walk,
//!   commits, removals, hashes) and their second halves.
//!
//! The session never blocks and never sleeps: slow work waits for its job in
//! an explicit state, a refused login waits for a deadline
//! ([`crate::session::Endpoint::poll_timeout`]), and while it waits it
//! reads no further command. Memory is bounded: at most [`MAX_QUEUED`]
//! decoded lines and one read of undecoded bytes are held, and output stops
//! being generated above [`OUT_HIGH_WATER`].

mod acceptor;
mod control;
mod data;
mod dispatch;
mod files;
mod login;
mod transfer;
mod work;

pub use acceptor::FtpAcceptor;
pub use login::CredentialCache;

use super::command::DataType;
use super::config::FtpConfig;
use super::line::{LineDecoder, LineError};
use super::listing::FactSet;
use super::reply::{self, Reply};
use crate::audit::{Actor, Log, Record};
use crate::protocol::{ErrorCode, WireError};
use crate::services::Services;
use crate::session::{Channel, DriverRequest};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// The data connection's channel.
pub const DATA: Channel = Channel(1);
/// Decoded command lines held while the session is busy (a login being
/// checked, a transfer running). Past this, it stops reading.
pub const MAX_QUEUED: usize = 16;
/// Above this much unsent control output, no more commands are handled.
pub const OUT_HIGH_WATER: usize = 64 * 1024;
/// Bytes read from the control connection at once: a few lines.
const CONTROL_READ: usize = 8 * 1024;

/// Where the session is in the login.
enum Login {
    /// No USER yet, or the last login failed.
    Anonymous,
    /// USER given; PASS is next.
    User(String),
    /// PASS is being checked on the worker pool.
    Checking(Box<login::Check>),
    Authed(Box<Authed>),
}

use crate::ops::{Authed, Origin};

/// Something the session waits for before it handles the next command
/// (besides a job that owes a reply: [`work::Pending`]).
#[derive(Debug)]
enum Wait {
    Nothing,
    /// A command needs this session's job slot, which the user's usage walk
    /// holds: it is handled again when that job is back.
    Slot,
    /// The driver is opening a passive listener: the 227 or 229 comes with
    /// its `Listening` answer.
    Listen {
        extended: bool,
    },
    /// A failed login: its 530 goes out at this instant.
    Delay(Instant),
    /// The pool refused a login's job (full): it is submitted again at
    /// this instant.
    Retry(Instant),
    /// The user's usage is still being computed (the first login of a
    /// user scans the home): file commands wait, as the native ones do,
    /// so quotas are never checked against an unknown usage.
    Usage,
}

/// The data connection, as far as the driver has set it up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DataConn {
    None,
    /// Passive: listening for the client's one connection.
    Listening,
    /// Active: connecting to the client.
    Connecting,
    /// Connected (from `peer`).
    Open(SocketAddr),
}

/// One decoded control line.
type Line = Result<String, LineError>;

/// One FTP control connection's protocol state. See the module documentation.
pub struct FtpSession {
    id: u64,
    peer: SocketAddr,
    /// The control connection's local address: PASV listens on it and
    /// announces it (unless masqueraded).
    local: SocketAddr,
    cfg: FtpConfig,
    timeouts: Timeouts,
    // ---- control input ----
    decoder: LineDecoder,
    /// Bytes read but not yet decoded (the queue was full).
    inbuf: Vec<u8>,
    lines: VecDeque<Line>,
    /// The peer shut its sending side.
    eof: bool,
    // ---- control output ----
    out: Vec<u8>,
    out_pos: usize,
    /// A reply that goes out only once the driver has taken the data
    /// channel's close (226 after the data socket is closed).
    after_close: Option<Reply>,
    /// Close once the output is flushed.
    closing: bool,
    // ---- state ----
    login: Login,
    wait: Wait,
    requests: VecDeque<DriverRequest>,
    data: DataConn,
    /// `EPSV ALL` was given: PASV, PORT and EPRT are refused from now on.
    epsv_all: bool,
    facts: FactSet,
    data_type: DataType,
    /// The reply a failed login will send when its delay is over.
    delayed: Option<Reply>,
    /// The transfer set up or running.
    transfer: Option<Box<transfer::Transfer>>,
    /// RNFR's source, for the RNTO that must follow.
    rename_from: Option<crate::home::VPath>,
    /// REST's offset, for the next RETR or STOR.
    rest: Option<u64>,
    /// ALLO's size, reserved by the next STOR or APPE.
    allo: Option<u64>,
    /// The worker-pool job this session waits for (see `work`).
    job: Option<work::Pending>,
    /// The command at the head of the queue waited for the usage walk.
    usage_waited: bool,
    shutting_down: bool,
    phase_start: Instant,
    last_activity: Instant,
}

/// Deadlines, from the server's configuration.
#[derive(Debug, Clone, Copy)]
struct Timeouts {
    login: Duration,
    idle: Duration,
    transfer: Duration,
}

impl FtpSession {
    /// A new control connection from `peer`, accepted on `local`: queues
    /// the 220 greeting.
    pub fn new(id: u64, peer: SocketAddr, local: SocketAddr, now: Instant, svc: &Services) -> FtpSession {
        let c = &svc.config;
        let mut s = FtpSession {
            id,
            peer,
            local,
            cfg: c.ftp.clone(),
            timeouts: Timeouts { login: c.handshake_timeout, idle: c.idle_timeout, transfer: c.transfer_timeout },
            decoder: LineDecoder::new(),
            inbuf: Vec::new(),
            lines: VecDeque::new(),
            eof: false,
            out: Vec::new(),
            out_pos: 0,
            after_close: None,
            closing: false,
            login: Login::Anonymous,
            wait: Wait::Nothing,
            requests: VecDeque::new(),
            data: DataConn::None,
            epsv_all: false,
            facts: FactSet::ALL,
            data_type: DataType::Ascii,
            delayed: None,
            transfer: None,
            rename_from: None,
            rest: None,
            allo: None,
            job: None,
            usage_waited: false,
            shutting_down: false,
            phase_start: now,
            last_activity: now,
        };
        s.reply(Reply::new(220, format!("{} ready.", crate::SERVER_SOFTWARE)));
        s
    }

    /// The logged-in user, if any.
    pub fn user(&self) -> Option<&str> {
        match &self.login {
            Login::Authed(a) => Some(&a.user),
            _ => None,
        }
    }

    /// Control output queued and not yet written (for tests and diagnostics).
    pub fn queued_output(&self) -> &[u8] {
        &self.out[self.out_pos..]
    }

    /// Control input held: undecoded bytes and decoded lines waiting.
    pub fn held_input(&self) -> usize {
        self.inbuf.len() + self.lines.iter().map(|l| l.as_ref().map_or(0, String::len)).sum::<usize>()
    }

    fn reply(&mut self, r: Reply) {
        r.encode(&mut self.out);
    }

    /// Where this session's actions come from: the FTP front end.
    fn origin(&self) -> Origin {
        Origin { peer: self.peer, session: self.id, proto: Some("ftp") }
    }

    fn actor<'a>(&self, user: Option<&'a str>) -> Actor<'a> {
        self.origin().actor(user)
    }

    /// Writes an accounts-log record for this session.
    fn audit_account(&self, svc: &mut Services, user: Option<&str>, event: &str, result: Result<(), &WireError>) {
        svc.audit.record(Log::Accounts, Record::attempt(self.actor(user), event, result));
    }

    fn pending_output(&self) -> usize {
        self.out.len() - self.out_pos
    }

    /// The instant the session times out: the login deadline before login,
    /// the idle one after, the transfer one while a transfer (or a reply
    /// the peer is slow to read) must progress.
    fn deadline(&self) -> Instant {
        let t = &self.timeouts;
        match &self.login {
            Login::Authed(_) if self.moving() => self.last_activity + t.transfer,
            Login::Authed(_) => self.last_activity + t.idle,
            _ => self.phase_start + t.login,
        }
    }

    /// Whether bytes must keep moving: output waits for the peer, or a
    /// transfer runs (its commit or its prefix hash included).
    fn moving(&self) -> bool {
        self.pending_output() > 0
            || self.transfer_running()
            || self.job.as_ref().is_some_and(work::Pending::in_transfer)
    }

    /// Whether a job that owes a reply is out: no command is handled.
    fn job_blocks(&self) -> bool {
        self.job.as_ref().is_some_and(work::Pending::blocks_input)
    }
}

/// An error reply for a code, without a detail.
fn plain(code: ErrorCode) -> Reply {
    reply::error(code, None)
}

#[cfg(test)]
mod tests;
