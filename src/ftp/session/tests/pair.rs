//! An FTP session and a scripted client on a fake clock, over the memory
//! storage: every byte goes through the public contract, and this harness
//! plays the driver for the session's requests (a listener is "bound" at
//! once, a connection opens when the test says so, closes are noted, pool
//! jobs run inline or are held for the test to answer).

use crate::accounts::Account;
use crate::config::Config;
use crate::ftp::session::{DATA, FtpSession};
use crate::protocol::scram::{self, ClientKeys};
use crate::services::Services;
use crate::session::{Budget, Channel, ChannelEvent, CloseReason, DriverRequest, Endpoint};
use crate::storage::memory::MemoryStorage;
use crate::worker::{Job, JobOutput};
use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const ITER: u32 = 1000;
pub const PASSWORD: &str = "pencil-pencil";
const SALT: &[u8] = b"saltsaltsaltsalt";

/// A write side with room for `room` bytes in all, then `WouldBlock`.
struct Wire<'a> {
    buf: &'a mut Vec<u8>,
    room: usize,
}

impl Write for Wire<'_> {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        let n = b.len().min(self.room.saturating_sub(self.buf.len()));
        if n == 0 && !b.is_empty() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        self.buf.extend_from_slice(&b[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A read side: what the client sent, then `WouldBlock`, or EOF.
struct Source<'a> {
    buf: &'a mut VecDeque<u8>,
    eof: bool,
}

impl Read for Source<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.buf.is_empty() {
            return if self.eof { Ok(0) } else { Err(io::ErrorKind::WouldBlock.into()) };
        }
        let n = out.len().min(self.buf.len());
        for (o, b) in out.iter_mut().zip(self.buf.drain(..n)) {
            *o = b;
        }
        Ok(n)
    }
}

/// The data connection as the fake driver holds it.
#[derive(Default)]
pub struct DataSide {
    /// A listener was asked for (PASV/EPSV), with this `from` address.
    pub listening: Option<std::net::IpAddr>,
    /// The port range and local address of the last listener asked for.
    pub listen_on: Option<(std::net::IpAddr, std::ops::RangeInclusive<u16>)>,
    /// An outgoing connection was asked for (PORT/EPRT), to this address.
    pub connecting: Option<SocketAddr>,
    pub open: bool,
    /// Client to server (an upload), not yet read.
    pub upstream: VecDeque<u8>,
    pub client_eof: bool,
    /// Server to client (a download or listing).
    pub downstream: Vec<u8>,
    /// Bytes the client's data socket takes before `WouldBlock`.
    pub room: usize,
    /// How many times the server closed the data channel.
    pub closes: usize,
}

pub struct FtpPair {
    pub server: FtpSession,
    pub svc: Services,
    pub memory: MemoryStorage,
    pub now: Instant,
    pub dir: tempfile::TempDir,
    pub upstream: VecDeque<u8>,
    pub downstream: Vec<u8>,
    pub client_eof: bool,
    pub data: DataSide,
    /// Each step's budget.
    pub budget: usize,
    /// Jobs are held here instead of run, when `hold_jobs`.
    pub hold_jobs: bool,
    pub held: Vec<Job>,
    /// Every job the session asked for, by kind.
    pub jobs: Vec<String>,
    /// Requests in the order the session made them (their kinds).
    pub requests: Vec<String>,
    scratch: Vec<u8>,
    /// Replies the client has read off `downstream` already.
    seen: usize,
    closed: bool,
}

impl FtpPair {
    pub fn new() -> FtpPair {
        FtpPair::with(|_| {}, "127.0.0.1:4000")
    }

    /// A pair whose configuration `tweak` adjusts, with the client at `peer`.
    pub fn with(tweak: impl FnOnce(&mut Config), peer: &str) -> FtpPair {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = Config::new(dir.path());
        cfg.min_iterations = ITER;
        cfg.ftp.login_failure_delay = Duration::from_secs(1);
        tweak(&mut cfg);
        let memory = MemoryStorage::new();
        let svc = Services::with_storage(cfg, Arc::new(memory.clone())).unwrap();
        let now = Instant::now();
        let local: SocketAddr = "127.0.0.1:2100".parse().unwrap();
        let server = FtpSession::new(1, peer.parse().unwrap(), local, now, &svc);
        FtpPair {
            server,
            svc,
            memory,
            now,
            dir,
            upstream: VecDeque::new(),
            downstream: Vec::new(),
            client_eof: false,
            data: DataSide { room: usize::MAX, ..Default::default() },
            budget: usize::MAX,
            hold_jobs: false,
            held: Vec::new(),
            jobs: Vec::new(),
            requests: Vec::new(),
            scratch: vec![0; 256 * 1024],
            seen: 0,
            closed: false,
        }
    }

    /// Creates an account with the test password (as registration would).
    pub fn register(&self, user: &str) {
        self.register_with(user, PASSWORD, ITER);
    }

    pub fn register_with(&self, user: &str, password: &str, iterations: u32) {
        let keys = ClientKeys::from_salted(&scram::salted_password(password.as_bytes(), SALT, iterations.min(ITER)));
        let account = Account {
            v: 1,
            user: user.to_owned(),
            salt: scram::b64(SALT),
            iterations,
            stored_key: scram::b64(&keys.stored_key),
            server_key: scram::b64(&keys.server_key),
            created: "2026-01-01T00:00:00.000Z".to_owned(),
            quota: None,
            disabled: false,
            last_login: None,
        };
        self.svc.storage.create_account(&account).unwrap();
    }

    /// A pair logged in as `user` (registered here), with its usage known.
    pub fn logged_in(user: &str) -> FtpPair {
        FtpPair::logged_in_with(user, |_| {})
    }

    pub fn logged_in_with(user: &str, tweak: impl FnOnce(&mut Config)) -> FtpPair {
        let mut p = FtpPair::with(tweak, "127.0.0.1:4000");
        p.register(user);
        p.replies();
        p.login(user);
        p
    }

    pub fn login(&mut self, user: &str) {
        assert_eq!(self.codes_of(&format!("USER {user}")), [331]);
        assert_eq!(self.codes_of(&format!("PASS {PASSWORD}")), [230]);
        self.settle();
    }

    /// Logs out and in again (a new session), so files planted behind the
    /// server's back are counted.
    pub fn relogin(&mut self, user: &str) {
        self.cmd("QUIT");
        self.close();
        self.server = FtpSession::new(
            2,
            "127.0.0.1:4001".parse().unwrap(),
            "127.0.0.1:2100".parse().unwrap(),
            self.now,
            &self.svc,
        );
        self.closed = false;
        self.downstream.clear();
        self.seen = 0;
        self.replies();
        self.login(user);
    }

    /// Key derivations asked for so far.
    pub fn kdfs(&self) -> usize {
        self.jobs.iter().filter(|j| j.starts_with("DeriveKeys")).count()
    }

    /// Runs held jobs (the usage walk of a login among them) and resumes
    /// the session, as the driver does when jobs finish.
    pub fn settle(&mut self) {
        self.run_held_jobs();
        if self.server.is_waiting() {
            self.server.resume(self.now, &mut self.svc);
        }
        self.drive();
    }

    pub fn plant(&self, user: &str, path: &str, bytes: &[u8]) {
        self.memory.write_file(user, path, bytes).unwrap();
    }

    pub fn exists(&self, user: &str, path: &str) -> bool {
        self.memory.exists(user, path)
    }

    pub fn log(&self, name: &str) -> Vec<serde_json::Value> {
        let text = std::fs::read_to_string(self.dir.path().join("logs").join(name)).unwrap_or_default();
        text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.upstream.extend(bytes);
        self.drive();
    }

    /// Sends a command; the replies it produced.
    pub fn cmd(&mut self, line: &str) -> Vec<String> {
        self.send(format!("{line}\r\n").as_bytes());
        self.replies()
    }

    pub fn codes_of(&mut self, line: &str) -> Vec<u16> {
        self.cmd(line).iter().map(|r| r[..3].parse().unwrap()).collect()
    }

    pub fn replies_of(&mut self, line: &str) -> Vec<String> {
        self.cmd(line)
    }

    /// Every whole reply not yet looked at (multi-line ones joined by \n).
    pub fn replies(&mut self) -> Vec<String> {
        self.drive();
        let text = String::from_utf8(self.downstream[self.seen..].to_vec()).unwrap();
        let mut out = Vec::new();
        let mut used = 0;
        let mut current: Option<(String, String)> = None;
        for line in text.split_inclusive("\r\n") {
            if !line.ends_with("\r\n") {
                break;
            }
            used += line.len();
            let line = &line[..line.len() - 2];
            match current.take() {
                Some((code, mut acc)) => {
                    acc.push('\n');
                    acc.push_str(line);
                    if line.starts_with(&format!("{code} ")) {
                        out.push(acc);
                        self.seen += used;
                        used = 0;
                    } else {
                        current = Some((code, acc));
                    }
                }
                None if line.as_bytes().get(3) == Some(&b'-') => {
                    current = Some((line[..3].to_owned(), line.to_owned()))
                }
                None => {
                    out.push(line.to_owned());
                    self.seen += used;
                    used = 0;
                }
            }
        }
        out
    }

    pub fn codes(&mut self) -> Vec<u16> {
        self.replies().iter().map(|r| r[..3].parse().unwrap()).collect()
    }

    pub fn advance(&mut self, by: Duration) {
        self.now += by;
    }

    /// Fires the session's timer if it is due, as the driver does; returns
    /// the replies it produced.
    pub fn fire_timer(&mut self) -> Option<String> {
        let due = self.server.poll_timeout()?;
        if due > self.now {
            return None;
        }
        self.server.handle_timeout(self.now, &mut self.svc);
        let ended = self.server.poll_timeout().is_none_or(|t| t <= self.now) || self.server.is_closed();
        self.drive();
        let replies = self.replies().join("\n");
        if ended {
            // The driver flushes once and closes with `Timeout`.
            self.closed = true;
            self.server.on_close(CloseReason::Timeout, self.now, &mut self.svc);
        }
        Some(replies)
    }

    pub fn shutdown(&mut self) {
        self.server.begin_shutdown(self.now, &mut self.svc);
        self.drive();
    }

    pub fn close(&mut self) {
        if !self.closed {
            self.closed = true;
            self.server.on_close(CloseReason::Done, self.now, &mut self.svc);
        }
    }

    pub fn server_closed(&self) -> bool {
        self.server.is_closed()
    }

    /// The client connects to the passive port (or the active connection
    /// completes).
    pub fn connect_data(&mut self) {
        assert!(self.data.listening.is_some() || self.data.connecting.is_some(), "no data connection was set up");
        self.data.listening = None;
        self.data.connecting = None;
        self.data.open = true;
        let peer = "127.0.0.1:4100".parse().unwrap();
        self.server.handle_channel(ChannelEvent::Open { channel: DATA, peer }, self.now, &mut self.svc);
        self.drive();
    }

    /// The data connection fails (a reset), as the driver reports it.
    pub fn fail_data(&mut self) {
        self.data.open = false;
        let error = "connection reset".to_owned();
        self.server.handle_channel(ChannelEvent::Failed { channel: DATA, error }, self.now, &mut self.svc);
        self.drive();
    }

    /// Answers the oldest held job.
    pub fn answer_job(&mut self, output: JobOutput) {
        self.held.remove(0);
        self.server.work_done(output, self.now, &mut self.svc);
        self.drive();
    }

    /// Runs the held jobs.
    pub fn run_held_jobs(&mut self) {
        for job in std::mem::take(&mut self.held) {
            let out = job.run();
            self.server.work_done(out, self.now, &mut self.svc);
        }
        self.drive();
    }

    /// One pass of the driver: control, then data, then requests.
    pub fn step(&mut self) -> bool {
        if self.closed {
            return false;
        }
        let mut moved = false;
        let ch = Channel::CONTROL;
        let mut budget = Budget::new(self.budget);
        if self.server.wants_write(ch) {
            let mut w = Wire { buf: &mut self.downstream, room: usize::MAX };
            let before = budget.left();
            let _ = self.server.write_to(ch, &mut w, &mut budget, self.now, &mut self.svc);
            moved |= budget.left() != before;
        }
        if self.server.wants_read(ch) && (!self.upstream.is_empty() || self.client_eof) && !budget.spent() {
            let mut r = Source { buf: &mut self.upstream, eof: self.client_eof };
            let before = budget.left();
            let _ = self.server.read_from(ch, &mut r, &mut self.scratch, &mut budget, self.now, &mut self.svc);
            moved |= budget.left() != before;
        }
        if self.data.open {
            moved |= self.step_data(&mut budget);
        }
        while let Some(req) = self.server.poll_request() {
            moved = true;
            self.serve(req);
        }
        moved
    }

    fn step_data(&mut self, budget: &mut Budget) -> bool {
        let mut moved = false;
        if self.server.wants_write(DATA) && !budget.spent() {
            let mut w = Wire { buf: &mut self.data.downstream, room: self.data.room };
            let before = budget.left();
            let _ = self.server.write_to(DATA, &mut w, budget, self.now, &mut self.svc);
            if let Some(r) = self.server.file_range(DATA) {
                let mut buf = vec![0u8; r.len.min(256 * 1024) as usize];
                let n = rustix::io::pread(r.fd, &mut buf, r.offset).unwrap();
                let room = self.data.room.saturating_sub(self.data.downstream.len()).min(n);
                self.data.downstream.extend_from_slice(&buf[..room]);
                if room > 0 {
                    self.server.advance_file(DATA, room, self.now);
                    budget.charge(room);
                }
            }
            moved |= budget.left() != before;
        }
        if self.server.wants_read(DATA) && (!self.data.upstream.is_empty() || self.data.client_eof) && !budget.spent() {
            let mut r = Source { buf: &mut self.data.upstream, eof: self.data.client_eof };
            let before = budget.left();
            let _ = self.server.read_from(DATA, &mut r, &mut self.scratch, budget, self.now, &mut self.svc);
            moved |= budget.left() != before;
        }
        moved
    }

    fn serve(&mut self, req: DriverRequest) {
        match req {
            DriverRequest::Listen { channel, from, ip, ports, .. } => {
                self.requests.push("listen".into());
                assert_eq!(channel, DATA);
                self.data.listening = Some(from);
                // The driver binds a port of the range on the local address.
                let addr = SocketAddr::new(ip, if ports.contains(&50007) { 50007 } else { *ports.start() });
                self.data.listen_on = Some((ip, ports));
                self.server.handle_channel(ChannelEvent::Listening { channel, addr }, self.now, &mut self.svc);
            }
            DriverRequest::Connect { to, .. } => {
                self.requests.push("connect".into());
                self.data.connecting = Some(to);
            }
            DriverRequest::CloseChannel { .. } => {
                self.requests.push("close".into());
                self.data.closes += 1;
                self.data.open = false;
                self.data.listening = None;
                self.data.connecting = None;
            }
            DriverRequest::Work(job) => {
                self.requests.push("work".into());
                self.jobs.push(match &job {
                    Job::DeriveKeys { iterations, .. } => format!("DeriveKeys({iterations})"),
                    other => format!("{:?}", other.kind()),
                });
                if self.hold_jobs {
                    self.held.push(job);
                } else {
                    let out = job.run();
                    self.server.work_done(out, self.now, &mut self.svc);
                }
            }
            DriverRequest::Admit { .. } => panic!("an FTP session never asks for admission"),
        }
    }

    /// Drives until nothing moves.
    pub fn drive(&mut self) {
        for _ in 0..100_000 {
            if !self.step() {
                return;
            }
        }
        panic!("the session never settled");
    }
}
