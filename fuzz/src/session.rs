//! The `session` and `session_authed` targets: one or two `Session`s on a
//! shared `Services`, driven the way `server::conn` drives them, by an op
//! script ([`crate::script`]) and a fake clock.
//!
//! # The world
//! One `Services` per thread (so per fuzzing process), with homes and
//! accounts in the in-memory storage (`mioftp::storage::memory`: no disk
//! writes, no fsync). The key files and audit logs, which stay outside the
//! storage, are in a temporary folder (in /dev/shm when there is one) named
//! after the process, so that folders left by crashed runs can be swept. Its
//! data root is `<tmp>/root`, one level below the temporary folder, so a file
//! that escaped the root (`..` past it) would be seen, and so would any home
//! or account written to the disk instead of the storage. Two accounts are
//! registered once through a real session (connection check + SCRAM
//! registration): `fuzz` (unlimited) and `tight` (a 64 KiB quota, set in its
//! record the way an administrator would).
//!
//! # A run
//! The connection starts at the hello (`session`) or after a real connection
//! check and SCRAM login (`session_authed`). The script then sends bytes,
//! lets the server read them in pieces and under small budgets, drains
//! output in pieces, moves the clock, fires the timer, runs (or refuses) the
//! jobs sessions ask for, and so on. Every byte moves through the public session contract, under
//! the rules any driver follows ([`crate::conn`]), so a failure is a bug of
//! the session, not of the harness.
//!
//! Checked during the run: every output byte ([`OutputCheck`]), and the
//! contract's invariants after every call ([`crate::conn`]).
//! Checked at the end: each user's usage matches the files in the storage
//! (exactly: checkpoints are counted by neither), and the `tight` user is
//! within quota, allowing for replaced files kept beside their new copy
//! ([`crate::quota`]); after every connection is closed no user state is left;
//! nothing exists on disk but `root/{.lock,accounts/.secret,logs,server.key}`
//! and an empty `root/accounts/.tokens`, and every home belongs to an account. Then the run's files and accounts are
//! removed, so runs do not depend on each other.

use crate::conn::{Conn, budget};
use crate::output::hex;
use crate::requests::request_header;
use crate::script::{Op, PATHS, Req, Script, Str, USERS, Upload};
use crate::world::World;
use mioftp::session::{Budget, CloseReason, Endpoint, Session};
use mioftp_proto::frame;
use mioftp_proto::scram::{self, Exchange};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::cell::RefCell;
use std::net::SocketAddr;

use std::time::{Duration, Instant};

/// The KDF policy: low, so registering in setup is quick.
pub const ITER: u32 = 1000;
pub const PASSWORD: &str = "pencil-pencil";
pub const SALT: &[u8] = b"fuzz-salt-16byte";
pub const CLIENT_NONCE: &str = "fuzz-client-nonce";
/// The `tight` account's quota.
pub const TIGHT_QUOTA: u64 = 64 * 1024;
/// The accounts that exist before every run: (name, quota).
pub const STANDING: [(&str, Option<u64>); 2] = [("fuzz", None), ("tight", Some(TIGHT_QUOTA))];

/// Iterations of [`Run::pump`] at most.
const PUMP_LIMIT: usize = 64;
/// A pump pass's budget: the server's turn for a connection alone.
const TURN: usize = 256 * 1024;
/// Bytes a peer may have sent and the server not yet read (a `Repeat` stops here).
const SOCKET_LIMIT: usize = 1 << 20;
/// Logs are emptied when one grows past this (they are append-only).
pub(crate) const LOG_LIMIT: u64 = 16 << 20;

/// Which target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// From the hello.
    Hello,
    /// Logged in (connection check and SCRAM login done by the harness).
    Authed,
}

/// Runs one input against this thread's world.
pub fn run(data: &[u8], start: Start) {
    let script = Script::decode(data);
    WORLD.with(|w| {
        let mut w = w.borrow_mut();
        let world = w.get_or_insert_with(World::new);
        world.run(&script, start);
    });
}

/// Runs one input and returns every frame header the server sent, in order
/// (for the harness's tests: proof that a seed reaches what it claims).
pub fn trace(data: &[u8], start: Start) -> Vec<Value> {
    WORLD.with(|w| {
        w.borrow_mut().get_or_insert_with(World::new);
    });
    crate::output::traced(|| run(data, start))
}

thread_local! {
    static WORLD: RefCell<Option<World>> = const { RefCell::new(None) };
}

/// This thread's world (made at first use), for the other session targets.
pub(crate) fn with_world<R>(f: impl FnOnce(&mut World) -> R) -> R {
    WORLD.with(|w| f(w.borrow_mut().get_or_insert_with(World::new)))
}

pub(crate) struct Run<'w> {
    pub(crate) w: &'w mut World,
    pub(crate) start: Start,
    pub(crate) now: Instant,
    pub(crate) user: &'static str,
    pub(crate) slots: [Option<Conn>; 2],
    pub(crate) cur: usize,
}

fn peer() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 9))
}

impl Run<'_> {
    pub(crate) fn conn(&mut self) -> Option<&mut Conn> {
        self.slots[self.cur].as_mut()
    }

    /// Opens slot `i`: a new session (and, for the authed target, a real
    /// connection check and login as the run's user, unless failed logins
    /// earlier in the run got the address throttled).
    pub(crate) fn open(&mut self, i: usize) {
        self.w.sessions += 1;
        let s = Session::new(self.w.sessions, peer(), self.now, &self.w.svc).expect("session");
        self.slots[i] = Some(Conn::new(s));
        if self.start == Start::Authed {
            let cur = std::mem::replace(&mut self.cur, i);
            self.auth(true);
            let user = self.user;
            self.login(user, true);
            let reply = self.conn().and_then(|c| c.out.recent.back().cloned()).unwrap_or_default();
            // Failed logins earlier in this run may have locked the address
            // (the throttle): then the refusal is the right answer.
            let throttled =
                self.conn().is_some_and(|c| c.out.recent.iter().any(|h| h["error"]["code"] == "too_many_attempts"));
            assert!(reply["user"] == user || throttled, "the harness's login failed: {reply}");
            self.cur = cur;
        }
    }

    pub(crate) fn apply(&mut self, op: &Op) {
        match op {
            Op::Send(b) => self.send(b),
            Op::Repeat { times, bytes } => {
                // Bounded: the peer's flood stops at what a socket could hold.
                let room = SOCKET_LIMIT.saturating_sub(self.conn().map_or(0, |c| c.socket.len()));
                let times = usize::from(*times).min(room / bytes.len().max(1));
                self.send(&bytes.repeat(times));
            }
            Op::Read(n) => {
                self.read(*n, budget(*n));
            }
            Op::Drain(n) => {
                let room = if *n == 0 { usize::MAX } else { usize::from(*n) };
                self.write(room, budget(*n));
            }
            Op::Produce => {
                // The socket is full: the session may only generate output.
                self.write(0, Budget::unlimited());
            }
            Op::Advance(ms) => self.now += Duration::from_millis(u64::from(*ms)),
            Op::AdvanceSecs(s) => self.now += Duration::from_secs(u64::from(*s)),
            Op::Timeout => self.timeout(),
            Op::Tick(b) => {
                self.tick(*b);
            }
            Op::Eof => {
                if let Some(c) = self.conn() {
                    c.eof_sent = true;
                }
            }
            Op::Close(r) => self.close(self.cur, reason(*r)),
            Op::Pump => self.pump(),
            Op::Switch => {
                self.cur ^= 1;
                if self.slots[self.cur].is_none() {
                    self.open(self.cur);
                }
            }
            Op::Auth { good } => self.auth(*good),
            Op::Register(name) => self.register(&name.resolve(USERS)),
            Op::Login { user, good } => self.login(&user.resolve(USERS), *good),
            Op::Request(r) => self.request(r),
            Op::Upload(up) => self.upload(up),
        }
    }

    fn send(&mut self, bytes: &[u8]) {
        if let Some(c) = self.conn().filter(|c| !c.eof_sent) {
            c.socket.extend(bytes);
        }
    }

    fn send_frame(&mut self, header: &Value, body: &[u8]) {
        let mut bytes = frame::encode_to_vec(header).expect("harness frames encode");
        bytes.extend_from_slice(body);
        self.send(&bytes);
    }

    /// The server reads up to `max` bytes (0: all) under budget `max`
    /// (see [`budget`]), if the session wants input.
    fn read(&mut self, max: u16, b: Budget) -> bool {
        let now = self.now;
        let Some(c) = self.slots[self.cur].as_mut() else { return false };
        let moved = c.read(max, b, now, &mut self.w.svc);
        if c.s.is_closed() {
            self.close(self.cur, CloseReason::Done);
        }
        moved
    }

    /// The peer reads up to `room` bytes (the driver's write and sendfile
    /// steps), under budget `b`.
    fn write(&mut self, room: usize, b: Budget) -> bool {
        let now = self.now;
        let Some(c) = self.slots[self.cur].as_mut() else { return false };
        let moved = c.write(room, b, now, &mut self.w.svc);
        if c.s.is_closed() {
            self.close(self.cur, CloseReason::Done);
        }
        moved
    }

    /// The timer: only once the deadline has passed, as the driver's; then
    /// one flush and the close.
    fn timeout(&mut self) {
        let now = self.now;
        let Some(c) = self.slots[self.cur].as_mut() else { return };
        if c.timeout(now, &mut self.w.svc) {
            self.close(self.cur, CloseReason::Timeout);
        }
    }

    /// The worker pool's step: every connection's job runs (or, when
    /// `b % 4 == 2`, is refused with `Busy`, as a full pool would), then the
    /// waiting sessions of every connection continue. Returns whether any
    /// job was there.
    fn tick(&mut self, b: u8) -> bool {
        let now = self.now;
        let mut ran = false;
        for c in self.slots.iter_mut().flatten() {
            ran |= c.run_job(b % 4 == 2, now, &mut self.w.svc);
        }
        if ran {
            for c in self.slots.iter_mut().flatten() {
                c.resume(now, &mut self.w.svc);
            }
        }
        for i in 0..self.slots.len() {
            if self.slots[i].as_ref().is_some_and(|c| c.s.is_closed()) {
                self.close(i, CloseReason::Done);
            }
        }
        ran
    }

    pub(crate) fn finish_scans(&mut self) {
        for _ in 0..10_000 {
            if !self.tick(0) {
                return;
            }
        }
        panic!("jobs did not finish");
    }

    /// Drives the current connection like a server whose socket is always
    /// ready, one turn's budget per pass, until nothing moves.
    pub(crate) fn pump(&mut self) {
        for _ in 0..PUMP_LIMIT {
            let mut moved = self.write(usize::MAX, Budget::new(TURN));
            moved |= self.read(0, Budget::new(TURN));
            moved |= self.tick(0);
            if !moved || self.conn().is_none() {
                return;
            }
        }
    }

    /// The one way out, as `Server::close`.
    fn close(&mut self, i: usize, reason: CloseReason) {
        if let Some(c) = self.slots[i].take() {
            c.close(reason, self.now, &mut self.w.svc);
        }
    }

    pub(crate) fn auth(&mut self, good: bool) {
        self.pump();
        let Some(c) = self.conn() else { return };
        let Some(challenge) = c.out.challenge.clone() else { return };
        let key = if good { self.w.svc.key.clone() } else { b"not the key".to_vec() };
        let mac = scram::hmac(&key, &challenge);
        self.send_frame(&json!({"op": "auth", "hmac": scram::b64(&mac)}), &[]);
        self.pump();
    }

    pub(crate) fn register(&mut self, user: &str) {
        let k = &self.w.keys;
        let req = json!({
            "op": "register", "user": user, "salt": scram::b64(SALT), "iterations": ITER,
            "stored_key": scram::b64(&k.stored_key), "server_key": scram::b64(&k.server_key),
        });
        self.send_frame(&req, &[]);
    }

    /// login, then the proof: the right one if `good` and the server's salt
    /// and iterations are the harness's (so no PBKDF2 runs per login).
    fn login(&mut self, user: &str, good: bool) {
        self.send_frame(&json!({"op": "login", "user": user, "nonce": CLIENT_NONCE}), &[]);
        self.pump();
        let Some(c) = self.conn() else { return };
        let Some(first) = c.out.recent.back().cloned() else { return };
        let nonce = first["nonce"].as_str().unwrap_or_default().to_owned();
        let salt = first["salt"].as_str().and_then(scram::unb64).unwrap_or_default();
        let iterations = first["iterations"].as_u64().unwrap_or_default();
        let proof = if good && salt == SALT && iterations == u64::from(ITER) {
            let ex = Exchange { user, client_nonce: CLIENT_NONCE, nonce: &nonce, salt: &salt, iterations: ITER };
            self.w.keys.proof(&ex.auth_message())
        } else {
            [7u8; 32]
        };
        self.send_frame(&json!({"op": "login_proof", "proof": scram::b64(&proof)}), &[]);
        self.pump();
    }

    fn request(&mut self, r: &Req) {
        let last_etag =
            self.conn().and_then(|c| c.out.recent.iter().rev().find_map(|h| h["etag"].as_str().map(String::from)));
        let (header, body) = request_header(r, last_etag);
        let body = vec![b'z'; body];
        self.send_frame(&header, &body);
    }

    fn upload(&mut self, up: &Upload) {
        let path = up.path.resolve(PATHS);
        let content = up.content();
        let len = content.len() as u64;
        self.send_frame(&json!({"op": "put", "path": path, "length": len, "resume": up.resume}), &[]);
        self.pump();
        let Some(c) = self.conn() else { return };
        let Some(reply) = c.out.recent.back() else { return };
        let Some(offset) = reply["offset"].as_u64().filter(|_| reply["ok"] == true) else { return };
        let body = &content[(offset.min(len) as usize)..];
        let cut = usize::from(up.cut);
        if cut > 0 && cut < body.len() {
            self.send_frame(&json!({"op": "put_data", "size": body.len()}), &body[..cut]);
            self.pump();
            self.close(self.cur, CloseReason::PeerClosed);
            return;
        }
        self.send_frame(&json!({"op": "put_data", "size": body.len()}), body);
        let digest = if up.good_digest { hex(&Sha256::digest(&content)) } else { hex(&[0; 32]) };
        self.send_frame(&json!({"op": "put_done", "sha256": digest}), &[]);
        self.pump();
    }

    /// At the end of a run: read all output, check usage, close everything.
    pub(crate) fn finish(&mut self, final_close: u8) {
        for i in 0..2 {
            self.cur = i;
            self.write(usize::MAX, Budget::unlimited());
            if let Some(c) = self.slots[i].as_ref() {
                c.out.assert_no_partial_header();
            }
        }
        self.check_usage();
        for i in 0..2 {
            self.close(i, reason(final_close));
        }
    }
}

fn reason(r: u8) -> CloseReason {
    match r % 4 {
        0 => CloseReason::PeerClosed,
        1 => CloseReason::Timeout,
        2 => CloseReason::Done,
        _ => CloseReason::Shutdown,
    }
}

impl Script {
    /// Convenience for seeds: the prologue's user by name.
    pub fn standing_user(name: &str) -> u8 {
        STANDING.iter().position(|(n, _)| *n == name).expect("a standing account") as u8
    }
}

/// Dictionary helpers for seeds.
pub fn path(word: &str) -> Str {
    Str::word(PATHS, word)
}

pub fn user(word: &str) -> Str {
    Str::word(USERS, word)
}
