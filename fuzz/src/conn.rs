//! One connection of the session harness: a `Session` and two in-memory
//! sockets, moved only through the public session contract
//! (`mioftp::session::Endpoint`), under the rules the contract sets for any
//! driver: read only while `wants_read`, write only while `wants_write`,
//! fire the timer only once `poll_timeout` has passed. There is no copy of
//! the server's driver here; a failure is the session's.
//!
//! Checked after every call: the session is never stuck (it wants to read
//! or write, is closed, or waits for a job); the input it holds and the
//! output it queues stay bounded; it asks for at most one job at a time;
//! and no call other than `write_to` (which generates a download's body)
//! adds output while a download's body is not yet all queued (it would be
//! read as file bytes). The jobs it asks for wait in [`Conn::job`] until
//! the script runs them (or refuses them, as a full pool would).

use crate::output::OutputCheck;
use mioftp::services::Services;
use mioftp::session::{Budget, Channel, CloseReason, DriverRequest, Endpoint, OUT_HIGH_WATER, Session};
use mioftp::worker::{Job, JobOutput};
use mioftp_proto::frame::{LEN_PREFIX, MAX_HEADER_LEN};
use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::os::unix::fs::FileExt;
use std::time::Instant;

const C: Channel = Channel::CONTROL;

/// Output a session may hold unsent: the high-water mark plus one more
/// reply, or the low-water mark plus one 256 KiB download chunk and its
/// trailer. Anything near a MiB would mean input is not being refused.
const MAX_PENDING: usize = OUT_HIGH_WATER + 2 * (LEN_PREFIX + MAX_HEADER_LEN) + 256 * 1024;
/// Input a session may hold: one read (the scratch buffer) after an
/// unfinished header.
const MAX_HELD: usize = SCRATCH + LEN_PREFIX + MAX_HEADER_LEN;
/// The driver's scratch buffer, as in the server.
const SCRATCH: usize = 256 * 1024;

/// The budget an op's `n` stands for: 0 is unlimited, otherwise `n * 64`
/// (so from one request per call to a few hundred).
pub fn budget(n: u16) -> Budget {
    if n == 0 { Budget::unlimited() } else { Budget::new(usize::from(n) * 64) }
}

pub struct Conn {
    pub s: Session,
    /// Bytes the peer sent that the server has not read.
    pub socket: VecDeque<u8>,
    /// The peer shut its sending side.
    pub eof_sent: bool,
    pub out: OutputCheck,
    /// The job the session asked for, not yet run.
    pub job: Option<Job>,
    scratch: Vec<u8>,
}

/// The peer's side of the socket, as `read(2)` would see it.
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

/// The socket's send side, read at once by a strict client, with room for
/// `room` bytes per call.
struct Outgoing<'a> {
    out: &'a mut OutputCheck,
    room: usize,
}

impl Write for Outgoing<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = buf.len().min(self.room);
        if n == 0 {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        self.out.feed(&buf[..n]);
        self.room -= n;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Conn {
    pub fn new(s: Session) -> Conn {
        let mut c = Conn {
            s,
            socket: VecDeque::new(),
            eof_sent: false,
            out: OutputCheck::default(),
            job: None,
            scratch: Vec::new(),
        };
        c.scratch = vec![0; SCRATCH];
        c
    }

    /// One `read_from`, if the session wants input and the socket has
    /// something (bytes, or EOF): at most `max` bytes (0: as many as fit),
    /// under budget `b`.
    pub fn read(&mut self, max: u16, mut b: Budget, now: Instant, svc: &mut Services) -> bool {
        if !self.s.wants_read(C) || (self.socket.is_empty() && !self.eof_sent) {
            return false;
        }
        let max = if max == 0 { usize::MAX } else { usize::from(max) };
        let mut rd = Incoming { socket: &mut self.socket, max, eof: self.eof_sent };
        let scratch = &mut self.scratch;
        guarded(&mut self.s, &self.out, |s| match s.read_from(C, &mut rd, scratch, &mut b, now, svc) {
            Ok(_) => {}
            Err(e) => panic!("read_from with the session wanting input: {e}"),
        });
        self.check();
        true
    }

    /// One `write_to` with room for `room` bytes (0: none, so the session
    /// only generates) under budget `b`, then the file range if output is
    /// empty, as the driver's sendfile step. Returns whether anything moved.
    pub fn write(&mut self, room: usize, mut b: Budget, now: Instant, svc: &mut Services) -> bool {
        let start = b.left();
        let mut wr = Outgoing { out: &mut self.out, room };
        if self.s.wants_write(C) {
            match self.s.write_to(C, &mut wr, &mut b, now, svc) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => panic!("write_to: {e}"),
            }
        }
        let room = wr.room;
        if let Some(r) = self.s.file_range(C).filter(|_| room > 0) {
            let want = r.len.min(room as u64).min(1 << 20) as usize;
            let mut buf = vec![0u8; want];
            // The memory storage offers no ranges; a disk one would, by descriptor.
            let file = r.fd.try_clone_to_owned().map(std::fs::File::from);
            let got = file.and_then(|f| f.read_at(&mut buf, r.offset)).unwrap_or(0);
            if got == 0 {
                self.s.file_truncated(C, now, svc);
            } else {
                self.out.feed(&buf[..got]);
                self.s.advance_file(C, got, now);
            }
            b.charge(got.max(1));
        }
        self.check();
        b.left() != start
    }

    /// The timer, once its deadline has passed, then one flush, as the
    /// driver does; the caller closes with `Timeout`.
    pub fn timeout(&mut self, now: Instant, svc: &mut Services) -> bool {
        if self.s.poll_timeout().is_none_or(|t| t > now) {
            return false;
        }
        guarded(&mut self.s, &self.out, |s| s.handle_timeout(now, svc));
        self.write(usize::MAX, Budget::unlimited(), now, svc);
        true
    }

    /// Some job finished: a session that waits may go on.
    pub fn resume(&mut self, now: Instant, svc: &mut Services) {
        if self.s.is_waiting() {
            guarded(&mut self.s, &self.out, |s| s.resume(now, svc));
            self.check();
        }
    }

    /// Runs the job the session asked for (or refuses it with `Busy`, as a
    /// full pool would) and hands the output back. Returns whether there
    /// was one.
    pub fn run_job(&mut self, refuse: bool, now: Instant, svc: &mut Services) -> bool {
        let Some(mut job) = self.job.take() else { return false };
        let output = if refuse {
            job.scrub();
            JobOutput::Busy
        } else {
            job.run()
        };
        guarded(&mut self.s, &self.out, |s| s.work_done(output, now, svc));
        self.check();
        true
    }

    /// The one way out, as the driver's: a job still out is run first, so
    /// the session hears its end before the close.
    pub fn close(mut self, reason: CloseReason, now: Instant, svc: &mut Services) {
        while self.run_job(false, now, svc) {}
        self.s.on_close(reason, now, svc);
    }

    /// Takes what the session asks of the driver, then checks the
    /// contract's invariants; after every call.
    fn check(&mut self) {
        while let Some(request) = self.s.poll_request() {
            match request {
                DriverRequest::Work(job) => {
                    assert!(self.job.is_none(), "a second job while one runs");
                    self.job = Some(job);
                }
                other => panic!("the native session asked the driver for {other:?}"),
            }
        }
        let s = &self.s;
        let live = s.wants_read(C) || s.wants_write(C) || s.is_closed() || s.is_waiting();
        assert!(live, "the session is stuck: it wants nothing, is not closed and waits for nothing");
        let queued = s.queued_output().len();
        assert!(queued <= MAX_PENDING, "{queued} bytes of output queued");
        assert!(s.held_input() <= MAX_HELD, "{} bytes of input held", s.held_input());
    }
}

/// Calls `f` (anything but `write_to`), checking that it adds no output
/// while a download's body is not yet all queued: such bytes would be read
/// by the client as part of the file.
fn guarded<T>(s: &mut Session, out: &OutputCheck, f: impl FnOnce(&mut Session) -> T) -> T {
    let before = s.queued_output().len();
    let mid_body = out.unqueued_body(s.queued_output()) > 0;
    let r = f(s);
    if mid_body {
        let after = s.queued_output().len();
        assert_eq!(after, before, "{} bytes were queued inside an unfinished download body", after - before);
    }
    r
}
