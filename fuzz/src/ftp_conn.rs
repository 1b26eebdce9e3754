//! One connection of the `ftp_session` harness: an `FtpSession` moved only
//! through the public session contract (`mioftp::session::Endpoint`), with
//! an in-memory control socket and a data peer that plays the driver's part
//! for the session's requests (a listener, an outgoing connection, a close,
//! a job), under the rules any driver follows: read only while `wants_read`,
//! write only while `wants_write`, take requests after every call.
//!
//! Checked after every call:
//! - every request is one a driver may honour: a listener only for the
//!   control peer's own address and within the configured passive ports; an
//!   outgoing connection only with active mode on, to the peer's own
//!   address, on a port of at least 1024 (no FTP bounce); at most one job
//!   at a time; never `Admit`;
//! - the session is not stuck (it wants to read or write, is closed, waits
//!   for a job, or has a deadline), its queued output and held input stay
//!   bounded;
//! - every control byte reads as RFC 959 replies ([`ReplyCheck`]).

use crate::ftp_reply::ReplyCheck;
use mioftp::ftp::session::{DATA, FtpSession, MAX_QUEUED, OUT_HIGH_WATER};
use mioftp::ftp::{MAX_LINE, config::FtpConfig};
use mioftp::services::Services;
use mioftp::session::{Budget, Channel, ChannelEvent, CloseReason, DriverRequest, Endpoint};
use mioftp::worker::{Job, JobOutput};
use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::os::unix::fs::FileExt;
use std::time::Instant;

const C: Channel = Channel::CONTROL;
/// The driver's scratch buffer.
const SCRATCH: usize = 256 * 1024;
/// Output a session may hold: the high-water mark plus one large multi-line
/// reply (STAT of a folder lists up to 1,000 entries).
const MAX_PENDING: usize = OUT_HIGH_WATER + 512 * 1024;
/// Input a session may hold: its queue of lines and one read.
const MAX_HELD: usize = MAX_QUEUED * MAX_LINE + 8 * 1024;

/// The client's address (the control peer) and the server's.
pub fn peer() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 40_000))
}
pub fn local() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 2100))
}

/// The data connection, as the fake driver and the client see it.
#[derive(Default)]
pub struct DataPeer {
    /// A listener or an outgoing connection was asked for, with its deadline.
    pub pending: Option<Instant>,
    pub open: bool,
    /// Client to server.
    pub upstream: VecDeque<u8>,
    pub eof: bool,
    /// Server to client, since the data connection opened.
    pub downstream: Vec<u8>,
    /// What the last closed data connection received (kept across the next
    /// PASV or PORT, for the harness's checks).
    pub closed: Vec<u8>,
}

pub struct FtpConn {
    pub s: FtpSession,
    pub socket: VecDeque<u8>,
    pub eof_sent: bool,
    pub out: ReplyCheck,
    pub data: DataPeer,
    /// The job asked for, not yet run.
    pub job: Option<Job>,
    cfg: FtpConfig,
    scratch: Vec<u8>,
}

/// A socket's receive side: `max` bytes per read, EOF once empty and shut.
struct Incoming<'a> {
    socket: &'a mut VecDeque<u8>,
    max: usize,
    eof: bool,
}

impl Read for Incoming<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.socket.is_empty() {
            return if self.eof { Ok(0) } else { Err(io::ErrorKind::WouldBlock.into()) };
        }
        let n = buf.len().min(self.max).min(self.socket.len());
        for (b, v) in buf.iter_mut().zip(self.socket.drain(..n)) {
            *b = v;
        }
        Ok(n)
    }
}

/// A socket's send side with room for `room` bytes.
struct Outgoing<'a> {
    sink: &'a mut Vec<u8>,
    room: usize,
}

impl Write for Outgoing<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = buf.len().min(self.room);
        if n == 0 {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        self.sink.extend_from_slice(&buf[..n]);
        self.room -= n;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn budget(n: u16) -> Budget {
    if n == 0 { Budget::unlimited() } else { Budget::new(usize::from(n) * 64) }
}

fn room(n: u16) -> usize {
    if n == 0 { usize::MAX } else { usize::from(n) }
}

impl FtpConn {
    pub fn new(id: u64, now: Instant, svc: &mut Services) -> FtpConn {
        let s = FtpSession::new(id, peer(), local(), now, svc);
        let mut c = FtpConn {
            s,
            socket: VecDeque::new(),
            eof_sent: false,
            out: ReplyCheck::default(),
            data: DataPeer::default(),
            job: None,
            cfg: svc.config.ftp.clone(),
            scratch: vec![0; SCRATCH],
        };
        c.check(now, svc);
        c
    }

    /// One control read, if the session wants input and there is some.
    pub fn read(&mut self, max: u16, now: Instant, svc: &mut Services) -> bool {
        if !self.s.wants_read(C) || (self.socket.is_empty() && !self.eof_sent) {
            return false;
        }
        let mut rd = Incoming { socket: &mut self.socket, max: room(max), eof: self.eof_sent };
        let mut b = budget(max);
        if let Err(e) = self.s.read_from(C, &mut rd, &mut self.scratch, &mut b, now, svc) {
            panic!("read_from with the session wanting input: {e}");
        }
        self.check(now, svc);
        true
    }

    /// One control write into a socket with room for `n` bytes.
    pub fn write(&mut self, n: u16, now: Instant, svc: &mut Services) -> bool {
        if !self.s.wants_write(C) {
            return false;
        }
        let mut sink = Vec::new();
        let mut wr = Outgoing { sink: &mut sink, room: room(n) };
        match self.s.write_to(C, &mut wr, &mut budget(n), now, svc) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => panic!("write_to: {e}"),
        }
        self.out.feed(&sink);
        self.check(now, svc);
        !sink.is_empty()
    }

    /// One data read, if the session wants the data connection's bytes.
    pub fn data_read(&mut self, max: u16, now: Instant, svc: &mut Services) -> bool {
        if !self.data.open || !self.s.wants_read(DATA) || (self.data.upstream.is_empty() && !self.data.eof) {
            return false;
        }
        let mut rd = Incoming { socket: &mut self.data.upstream, max: room(max), eof: self.data.eof };
        let mut b = budget(max);
        if let Err(e) = self.s.read_from(DATA, &mut rd, &mut self.scratch, &mut b, now, svc) {
            panic!("read_from(DATA) with the session wanting input: {e}");
        }
        self.check(now, svc);
        true
    }

    /// One data write (and the file range, as sendfile would) into a socket
    /// with room for `n` bytes.
    pub fn data_write(&mut self, n: u16, now: Instant, svc: &mut Services) -> bool {
        if !self.data.open || !self.s.wants_write(DATA) {
            return false;
        }
        let before = self.data.downstream.len();
        let mut wr = Outgoing { sink: &mut self.data.downstream, room: room(n) };
        match self.s.write_to(DATA, &mut wr, &mut budget(n), now, svc) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => panic!("write_to(DATA): {e}"),
        }
        let left = wr.room;
        if let Some(r) = self.s.file_range(DATA).filter(|_| left > 0) {
            // The memory storage has no descriptors; a disk one would.
            let want = r.len.min(left as u64).min(1 << 20) as usize;
            let mut buf = vec![0u8; want];
            let file = r.fd.try_clone_to_owned().map(std::fs::File::from);
            let got = file.and_then(|f| f.read_at(&mut buf, r.offset)).unwrap_or(0);
            if got == 0 {
                self.s.file_truncated(DATA, now, svc);
            } else {
                self.data.downstream.extend_from_slice(&buf[..got]);
                self.s.advance_file(DATA, got, now);
            }
        }
        self.check(now, svc);
        self.data.downstream.len() > before
    }

    /// The data connection the session asked for is there.
    pub fn data_open(&mut self, now: Instant, svc: &mut Services) -> bool {
        if self.data.pending.take().is_none() {
            return false;
        }
        let closed = std::mem::take(&mut self.data.closed);
        self.data = DataPeer { open: true, closed, ..DataPeer::default() };
        let peer = SocketAddr::from(([127, 0, 0, 1], 40_001));
        self.s.handle_channel(ChannelEvent::Open { channel: DATA, peer }, now, svc);
        self.check(now, svc);
        true
    }

    /// The data connection (or the attempt at one) failed.
    pub fn data_fail(&mut self, why: &str, now: Instant, svc: &mut Services) -> bool {
        if self.data.pending.take().is_none() && !std::mem::take(&mut self.data.open) {
            return false;
        }
        self.s.handle_channel(ChannelEvent::Failed { channel: DATA, error: why.to_owned() }, now, svc);
        self.check(now, svc);
        true
    }

    /// Timers: a data connection not there by its deadline fails; then the
    /// session's own deadline, as the driver handles it (its own timer goes
    /// on; an end is flushed once and closed). Returns whether to close.
    pub fn timeout(&mut self, now: Instant, svc: &mut Services) -> bool {
        if self.data.pending.is_some_and(|t| t <= now) {
            self.data_fail("no connection before the deadline", now, svc);
        }
        if self.s.poll_timeout().is_none_or(|t| t > now) {
            return false;
        }
        self.s.handle_timeout(now, svc);
        self.check(now, svc);
        if self.s.continues_after_timeout() && !self.s.is_closed() && self.s.poll_timeout().is_some_and(|t| t > now) {
            return false;
        }
        self.write(0, now, svc);
        true
    }

    /// Runs the job asked for (or refuses it, as a full pool would), hands
    /// the output back. Returns whether there was one.
    pub fn run_job(&mut self, refuse: bool, now: Instant, svc: &mut Services) -> bool {
        let Some(mut job) = self.job.take() else { return false };
        let output = if refuse {
            job.scrub();
            JobOutput::Busy
        } else {
            job.run()
        };
        self.s.work_done(output, now, svc);
        self.check(now, svc);
        true
    }

    pub fn resume(&mut self, now: Instant, svc: &mut Services) {
        if self.s.is_waiting() {
            self.s.resume(now, svc);
            self.check(now, svc);
        }
    }

    /// The one way out, as the driver's: a job still out is run first.
    pub fn close(mut self, reason: CloseReason, now: Instant, svc: &mut Services) {
        while self.run_job(false, now, svc) {}
        self.s.on_close(reason, now, svc);
    }

    /// Takes the session's requests, then checks the invariants.
    fn check(&mut self, now: Instant, svc: &mut Services) {
        while let Some(request) = self.s.poll_request() {
            match request {
                DriverRequest::Listen { channel, ip, ports, from, deadline } => {
                    assert_eq!(channel, DATA);
                    assert_eq!(from, peer().ip(), "a listener open to another address than the client's");
                    let range = self.cfg.passive_ports;
                    assert_eq!((*ports.start(), *ports.end()), (range.first, range.last), "the passive port range");
                    let closed = std::mem::take(&mut self.data.closed);
                    self.data = DataPeer { pending: Some(deadline), closed, ..DataPeer::default() };
                    let addr = SocketAddr::new(ip, *ports.start());
                    self.s.handle_channel(ChannelEvent::Listening { channel, addr }, now, svc);
                }
                DriverRequest::Connect { channel, to, deadline } => {
                    assert_eq!(channel, DATA);
                    assert!(self.cfg.active, "PORT or EPRT honoured with active mode off");
                    assert!(to.ip() == peer().ip() && to.port() >= 1024, "an FTP bounce to {to}");
                    let closed = std::mem::take(&mut self.data.closed);
                    self.data = DataPeer { pending: Some(deadline), closed, ..DataPeer::default() };
                }
                DriverRequest::CloseChannel { channel } => {
                    assert_eq!(channel, DATA);
                    self.data.pending = None;
                    if std::mem::take(&mut self.data.open) {
                        self.data.closed = std::mem::take(&mut self.data.downstream);
                    }
                }
                DriverRequest::Work(job) => {
                    assert!(self.job.is_none(), "a second job while one runs");
                    self.job = Some(job);
                }
                DriverRequest::Admit { .. } => panic!("an FTP session asked to be admitted"),
            }
        }
        let s = &self.s;
        let live = s.wants_read(C)
            || s.wants_write(C)
            || s.is_closed()
            || s.is_waiting()
            || self.job.is_some()
            || s.poll_timeout().is_some();
        assert!(live, "the session is stuck: it wants nothing, waits for nothing and has no deadline");
        let queued = s.queued_output().len();
        assert!(queued <= MAX_PENDING, "{queued} bytes of control output queued");
        assert!(s.held_input() <= MAX_HELD, "{} bytes of control input held", s.held_input());
    }
}
