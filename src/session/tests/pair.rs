//! A session and an in-memory client, joined by two byte queues, on a fake
//! clock: quinn-proto's `Pair`, for the session contract. Every byte goes
//! through the public contract ([`Endpoint::read_from`],
//! [`Endpoint::write_to`], [`Endpoint::file_range`]), exactly as the driver
//! moves them; only the sockets are missing.
//!
//! The client is a small state machine on `mioftp_proto`: it encodes
//! requests, decodes every frame the server sends (bodies by their `size`),
//! keeps the hello's challenge, and runs the connection check and SCRAM
//! logins with the protocol crate's arithmetic.
//!
//! A pair runs on the disk storage (a temporary folder) or on the memory
//! one ([`Store`]); every case that touches storage runs on both
//! ([`on_both!`]). Jobs the session asks for (`DriverRequest::Work`) run at
//! once on the test's thread, as an instant worker pool, unless the test
//! holds them ([`Pair::hold_jobs`]) to look at the session while it waits.

use crate::config::Config;
use crate::protocol::frame::{self, encode_to_vec};
use crate::protocol::scram::{self, ClientKeys, Exchange};
use crate::services::Services;
use crate::session::{Budget, Channel, CloseReason, DriverRequest, Endpoint, Session};
use crate::storage::memory::MemoryStorage;
use crate::worker::Job;
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::sync::Arc;
use std::time::Instant;

pub const ITER: u32 = 1000;
const SALT: &[u8] = b"saltsaltsaltsalt";

/// Which storage a pair runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Store {
    Disk,
    Memory,
}

/// Runs each named `fn case(store: Store)` as two tests, `case::on_disk`
/// and `case::in_memory`.
macro_rules! on_both {
    ($($case:ident),* $(,)?) => {
        $(
            mod $case {
                #[test]
                fn on_disk() {
                    super::$case(super::Store::Disk)
                }
                #[test]
                fn in_memory() {
                    super::$case(super::Store::Memory)
                }
            }
        )*
    };
}
pub(crate) use on_both;

/// One frame the client received, with its body.
#[derive(Debug, Clone, PartialEq)]
pub struct Received {
    pub header: Value,
    pub body: Vec<u8>,
}

/// The client side: what it sent, and what it made of the server's bytes.
#[derive(Default)]
pub struct Client {
    /// Bytes from the server not yet made into frames.
    inbox: Vec<u8>,
    /// A frame whose body is still arriving: its header and body so far.
    partial: Option<(Value, Vec<u8>, u64)>,
    pub frames: VecDeque<Received>,
    pub challenge: Option<Vec<u8>>,
}

impl Client {
    /// Makes frames of the received bytes.
    fn absorb(&mut self, bytes: &[u8]) {
        self.inbox.extend_from_slice(bytes);
        loop {
            if let Some((header, mut body, left)) = self.partial.take() {
                let n = (left as usize).min(self.inbox.len());
                body.extend(self.inbox.drain(..n));
                if (n as u64) < left {
                    self.partial = Some((header, body, left - n as u64));
                    return;
                }
                self.push(header, body);
                continue;
            }
            match frame::decode(&self.inbox).expect("the server sends valid frames") {
                None => return,
                Some((f, n)) => {
                    self.inbox.drain(..n);
                    let header = Value::Object(f.header);
                    if f.body_len == 0 {
                        self.push(header, Vec::new());
                    } else {
                        self.partial = Some((header, Vec::new(), f.body_len));
                    }
                }
            }
        }
    }

    fn push(&mut self, header: Value, body: Vec<u8>) {
        if header["notice"] == "hello" {
            self.challenge = header["challenge"].as_str().and_then(scram::unb64);
        }
        self.frames.push_back(Received { header, body });
    }

    /// The header of a frame whose body is still arriving.
    pub fn partial_header(&self) -> Option<&Value> {
        self.partial.as_ref().map(|(header, _, _)| header)
    }

    /// Whether a frame is half received.
    pub fn mid_frame(&self) -> bool {
        !self.inbox.is_empty() || self.partial.is_some()
    }
}

/// A write side that takes at most `room` bytes before `WouldBlock`: a
/// socket send buffer in front of a client that reads when it chooses.
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

/// A read side that hands out what the client sent, then `WouldBlock`, or
/// EOF once the client shut its side.
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

pub struct Pair {
    pub server: Session,
    pub client: Client,
    pub svc: Services,
    pub now: Instant,
    pub dir: tempfile::TempDir,
    /// The memory storage, when the pair runs on it.
    pub memory: Option<MemoryStorage>,
    /// Client to server, not yet read by the server.
    pub upstream: VecDeque<u8>,
    /// Server to client, not yet read by the client.
    pub downstream: Vec<u8>,
    /// The most the downstream holds (a socket buffer); `usize::MAX` by default.
    pub room: usize,
    /// The client shut its sending side.
    pub client_eof: bool,
    /// Each driving step's budget (see [`Pair::step`]).
    pub budget: usize,
    scratch: Vec<u8>,
    /// Set once the session is closed (the driver would have closed it).
    pub closed: bool,
    /// Keep the jobs the session asks for in `jobs` instead of running them.
    pub hold_jobs: bool,
    /// Jobs asked for and held.
    pub jobs: VecDeque<Job>,
}

impl Pair {
    pub fn new() -> Pair {
        Pair::on(Store::Disk)
    }

    pub fn on(store: Store) -> Pair {
        Pair::with_config_on(store, |_| {})
    }

    pub fn with_config_on(store: Store, tweak: impl FnOnce(&mut Config)) -> Pair {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = Config::new(dir.path());
        cfg.min_iterations = ITER;
        tweak(&mut cfg);
        let memory = (store == Store::Memory).then(MemoryStorage::new);
        let svc = match &memory {
            None => Services::open(cfg).unwrap(),
            Some(m) => Services::with_storage(cfg, Arc::new(m.clone())).unwrap(),
        };
        let now = Instant::now();
        let server = Session::new(1, "127.0.0.1:9".parse().unwrap(), now, &svc).unwrap();
        Pair {
            server,
            client: Client::default(),
            svc,
            now,
            dir,
            memory,
            upstream: VecDeque::new(),
            downstream: Vec::new(),
            room: usize::MAX,
            client_eof: false,
            budget: usize::MAX,
            scratch: vec![0; 256 * 1024],
            closed: false,
            hold_jobs: false,
            jobs: VecDeque::new(),
        }
    }

    /// A pair past the connection check.
    pub fn checked() -> Pair {
        Pair::checked_on(Store::Disk)
    }

    pub fn checked_on(store: Store) -> Pair {
        let mut p = Pair::on(store);
        p.check();
        p
    }

    /// The connection check, from the hello.
    pub fn check(&mut self) {
        assert_eq!(self.client_frames()[0].header["notice"], "hello");
        let mac = scram::hmac(&self.svc.key, self.client.challenge.as_ref().unwrap());
        assert_eq!(self.request(json!({"op": "auth", "hmac": scram::b64(&mac)})), json!({"ok": true}));
    }

    /// A pair logged in as `user` (registered here), with its usage known.
    pub fn logged_in(user: &str) -> Pair {
        Pair::logged_in_on(Store::Disk, user)
    }

    pub fn logged_in_on(store: Store, user: &str) -> Pair {
        let mut p = Pair::checked_on(store);
        assert_eq!(p.register(user, "pencil-pencil")["ok"], true);
        assert_eq!(p.login(user, "pencil-pencil")["user"], user);
        p.settle();
        p
    }

    /// A new connection on the same services, past the connection check,
    /// in place of this one; returns the old session (still open: the
    /// caller closes it when it chooses, with `on_close`).
    pub fn reconnect(&mut self) -> Session {
        let id = self.server.id() + 1;
        let fresh = Session::new(id, "127.0.0.1:10".parse().unwrap(), self.now, &self.svc).unwrap();
        let old = std::mem::replace(&mut self.server, fresh);
        self.client = Client::default();
        self.upstream.clear();
        self.downstream.clear();
        self.client_eof = false;
        self.closed = false;
        self.check();
        old
    }

    /// Runs the held jobs and lets a waiting request continue, as the
    /// driver does when jobs complete.
    pub fn settle(&mut self) {
        self.run_jobs();
        if !self.closed && self.server.is_waiting() {
            self.server.resume(self.now, &mut self.svc);
        }
        self.serve();
    }

    /// Takes the session's requests for the driver: jobs run now (or are
    /// held). Returns whether there was one.
    fn serve(&mut self) -> bool {
        let mut any = false;
        while let Some(request) = self.server.poll_request() {
            any = true;
            match request {
                DriverRequest::Work(job) if self.hold_jobs => self.jobs.push_back(job),
                DriverRequest::Work(job) => {
                    let output = job.run();
                    self.server.work_done(output, self.now, &mut self.svc);
                }
                other => panic!("the native session asked for {other:?}"),
            }
        }
        any
    }

    /// Refuses the held jobs, as a full pool would: each gets `Busy`.
    pub fn refuse_jobs(&mut self) {
        while let Some(mut job) = self.jobs.pop_front() {
            job.scrub();
            self.server.work_done(crate::worker::JobOutput::Busy, self.now, &mut self.svc);
            self.serve();
        }
    }

    /// Runs the held jobs, in order, handing each output back.
    pub fn run_jobs(&mut self) {
        while let Some(job) = self.jobs.pop_front() {
            let output = job.run();
            self.server.work_done(output, self.now, &mut self.svc);
            self.serve();
        }
    }

    /// Creates a file in a user's home behind the server's back.
    pub fn plant(&self, user: &str, path: &str, bytes: &[u8]) {
        match &self.memory {
            Some(m) => m.write_file(user, path, bytes).unwrap(),
            None => {
                let p = self.dir.path().join("home").join(user).join(path);
                std::fs::create_dir_all(p.parent().unwrap()).unwrap();
                std::fs::write(p, bytes).unwrap();
            }
        }
    }

    /// Whether anything is at `path` in a user's home ("" for the home itself).
    pub fn exists(&self, user: &str, path: &str) -> bool {
        match &self.memory {
            Some(m) => m.users().iter().any(|u| u == user) && m.exists(user, path),
            None => std::fs::symlink_metadata(self.dir.path().join("home").join(user).join(path)).is_ok(),
        }
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.upstream.extend(bytes);
    }

    pub fn send(&mut self, v: Value) {
        let bytes = encode_to_vec(&v).unwrap();
        self.send_raw(&bytes);
    }

    /// One driving step, as one pump of the driver with a budget of
    /// `self.budget`: output, sendfile, input, until nothing moves or the
    /// budget is spent. Returns whether anything moved.
    pub fn step(&mut self) -> bool {
        if self.closed {
            return false;
        }
        let mut budget = Budget::new(self.budget);
        let start = budget.left();
        let ch = Channel::CONTROL;
        let mut served_any = false;
        loop {
            let before = budget.left();
            if self.server.wants_write(ch) && !budget.spent() {
                let mut wire = Wire { buf: &mut self.downstream, room: self.room };
                match self.server.write_to(ch, &mut wire, &mut budget, self.now, &mut self.svc) {
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => panic!("write_to: {e}"),
                }
            }
            if let Some(r) = self.server.file_range(ch).filter(|_| !budget.spent()) {
                // sendfile, emulated: the file's bytes go to the wire.
                let room = self.room.saturating_sub(self.downstream.len());
                let want = (r.len as usize).min(room).min(budget.left()).min(1 << 20);
                let mut buf = vec![0; want];
                let got = rustix::io::pread(r.fd, &mut buf, r.offset).unwrap();
                if want > 0 && got == 0 {
                    self.server.file_truncated(ch, self.now, &mut self.svc);
                } else if got > 0 {
                    self.downstream.extend_from_slice(&buf[..got]);
                    self.server.advance_file(ch, got, self.now);
                    budget.charge(got);
                }
            }
            if self.server.is_closed() {
                self.close(CloseReason::Done);
                break;
            }
            if budget.spent() {
                break;
            }
            if self.server.wants_read(ch) && (!self.upstream.is_empty() || self.client_eof) {
                let mut src = Source { buf: &mut self.upstream, eof: self.client_eof };
                let scratch = &mut self.scratch;
                match self.server.read_from(ch, &mut src, scratch, &mut budget, self.now, &mut self.svc) {
                    Ok(_) => {}
                    Err(e) => panic!("read_from: {e}"),
                }
            }
            let served = self.serve();
            served_any |= served;
            if budget.left() == before && !served {
                break;
            }
        }
        budget.left() != start || served_any
    }

    /// Steps until nothing moves, then the client reads everything.
    pub fn run(&mut self) {
        for _ in 0..100_000 {
            self.client_reads(usize::MAX);
            if !self.step() {
                self.client_reads(usize::MAX);
                return;
            }
        }
        panic!("the pair did not settle");
    }

    /// Steps until nothing moves, while the client reads nothing.
    pub fn stall(&mut self) {
        for _ in 0..100_000 {
            if !self.step() {
                return;
            }
        }
        panic!("the pair did not settle");
    }

    /// The client reads up to `n` bytes of the wire.
    pub fn client_reads(&mut self, n: usize) {
        let n = n.min(self.downstream.len());
        let bytes: Vec<u8> = self.downstream.drain(..n).collect();
        self.client.absorb(&bytes);
    }

    /// Runs, then takes every frame the client has.
    pub fn client_frames(&mut self) -> Vec<Received> {
        self.run();
        self.client.frames.drain(..).collect()
    }

    /// Headers of every frame the client has, after running.
    pub fn headers(&mut self) -> Vec<Value> {
        self.client_frames().into_iter().map(|r| r.header).collect()
    }

    /// Sends one request and returns its one reply.
    pub fn request(&mut self, v: Value) -> Value {
        self.send(v);
        let mut f = self.headers();
        assert_eq!(f.len(), 1, "{f:?}");
        f.remove(0)
    }

    /// The driver's one way out.
    pub fn close(&mut self, reason: CloseReason) {
        if !self.closed {
            self.closed = true;
            self.server.on_close(reason, self.now, &mut self.svc);
        }
    }

    /// The driver's timer: fires once the deadline has passed, then the
    /// last flush and the close, as `Server::fire_timers` does.
    pub fn fire_timer(&mut self) -> bool {
        if self.closed || self.server.poll_timeout().is_none_or(|t| t > self.now) {
            return false;
        }
        self.server.handle_timeout(self.now, &mut self.svc);
        if self.server.wants_write(Channel::CONTROL) {
            let mut wire = Wire { buf: &mut self.downstream, room: self.room };
            let mut budget = Budget::unlimited();
            let _ = self.server.write_to(Channel::CONTROL, &mut wire, &mut budget, self.now, &mut self.svc);
        }
        self.client_reads(usize::MAX);
        self.close(CloseReason::Timeout);
        true
    }

    pub fn register(&mut self, user: &str, password: &str) -> Value {
        let keys = ClientKeys::from_salted(&scram::salted_password(password.as_bytes(), SALT, ITER));
        self.request(json!({
            "op": "register", "user": user, "salt": scram::b64(SALT), "iterations": ITER,
            "stored_key": scram::b64(&keys.stored_key), "server_key": scram::b64(&keys.server_key),
        }))
    }

    /// Runs a full SCRAM login; returns the final reply.
    pub fn login(&mut self, user: &str, password: &str) -> Value {
        let cnonce = "clientnonce123";
        let first = self.request(json!({"op": "login", "user": user, "nonce": cnonce}));
        assert_eq!(first["ok"], true, "{first}");
        let salt = scram::unb64(first["salt"].as_str().unwrap()).unwrap();
        let iterations = first["iterations"].as_u64().unwrap() as u32;
        let nonce = first["nonce"].as_str().unwrap().to_owned();
        let ex = Exchange { user, client_nonce: cnonce, nonce: &nonce, salt: &salt, iterations };
        let keys = ClientKeys::from_salted(&scram::salted_password(password.as_bytes(), &salt, iterations));
        let reply = self.request(json!({"op": "login_proof", "proof": scram::b64(&keys.proof(&ex.auth_message()))}));
        if reply["ok"] == true {
            let sig = scram::unb64(reply["server_signature"].as_str().unwrap()).unwrap();
            assert!(keys.verify_server(&ex.auth_message(), &sig));
        }
        reply
    }

    /// A whole upload; returns `put_done`'s reply.
    pub fn upload(&mut self, path: &str, content: &[u8]) -> Value {
        let ready = self.request(json!({"op": "put", "path": path, "length": content.len()}));
        assert_eq!(ready["ok"], true, "{ready}");
        let offset = ready["offset"].as_u64().unwrap() as usize;
        let body = &content[offset..];
        let mut bytes = encode_to_vec(&json!({"op": "put_data", "size": body.len()})).unwrap();
        bytes.extend_from_slice(body);
        self.send_raw(&bytes);
        self.request(json!({"op": "put_done", "sha256": hex::encode(scram::sha256(content))}))
    }

    pub fn audit_lines(&self, name: &str) -> Vec<Value> {
        let text = std::fs::read_to_string(self.dir.path().join("logs").join(name)).unwrap_or_default();
        text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    }
}

pub fn code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or("")
}
