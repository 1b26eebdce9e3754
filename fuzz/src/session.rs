//! The `session` and `session_authed` targets: one or two `Session`s on a
//! shared `Services`, driven the way `server::conn` drives them, by an op
//! script ([`crate::script`]) and a fake clock.
//!
//! # The world
//! One `Services` per thread (so per fuzzing process), on a temporary folder
//! (in /dev/shm when there is one: the accounts' and uploads' fsyncs are then
//! free) named after the process, so that folders left by crashed runs can
//! be swept. Its data root is `<tmp>/root`, one level below the temporary folder,
//! so a file that escaped the root (`..` past it) would be seen. Two accounts
//! are registered once through a real session (connection check + SCRAM
//! registration): `fuzz` (unlimited) and `tight` (a 64 KiB quota, set in its
//! account file the way an administrator would).
//!
//! # A run
//! The connection starts at the hello (`session`) or after a real connection
//! check and SCRAM login (`session_authed`). The script then sends bytes,
//! lets the server read them in pieces, drains output in pieces, moves the
//! clock, fires the timer, ticks usage scans, and so on. A driver rule is
//! respected wherever the server respects it (e.g. it reads only while the
//! session wants input and tells it EOF only on a read), so a failure is a
//! bug of the session, not of the harness.
//!
//! Checked during the run: every output byte ([`OutputCheck`]); a whole
//! frame offered to a session that wants input is consumed; pending output
//! stays bounded; while a download's body is not yet all queued, nothing but
//! `produce` adds output (anything else would land inside the body).
//! Checked at the end: each user's usage matches the files on disk, and the
//! `tight` user is within quota; after every connection is closed no user
//! state is left; nothing exists outside `root/{accounts,home,logs,server.key}`
//! and every home belongs to an account. Then the run's files and accounts
//! are removed, so runs do not depend on each other.

use crate::output::{OutputCheck, hex};
use crate::script::{Op, PATHS, Req, Script, Str, USERS, Upload};
use mioftp::config::Config;
use mioftp::services::Services;
use mioftp::session::{CloseReason, OUT_HIGH_WATER, Session};
use mioftp_proto::frame::{self, LEN_PREFIX, MAX_HEADER_LEN};
use mioftp_proto::scram::{self, ClientKeys, Exchange};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::cell::RefCell;
use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
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

/// Output a session may hold unsent: the high-water mark plus one more
/// reply, or the low-water mark plus one 256 KiB download chunk and its
/// trailer. Anything near a MiB would mean input is not being refused.
const MAX_PENDING: usize = OUT_HIGH_WATER + 2 * (LEN_PREFIX + MAX_HEADER_LEN) + 256 * 1024;
/// Iterations of [`Run::pump`] at most.
const PUMP_LIMIT: usize = 64;
/// Bytes a peer may have sent and the server not yet read (a `Repeat` stops here).
const SOCKET_LIMIT: usize = 1 << 20;
/// Logs are emptied when one grows past this (they are append-only).
const LOG_LIMIT: u64 = 16 << 20;

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

struct World {
    /// Kept for its lifetime: the folder goes when the thread's world does.
    dir: tempfile::TempDir,
    root: PathBuf,
    svc: Services,
    base: Instant,
    /// SCRAM keys for [`PASSWORD`] with [`SALT`] and [`ITER`].
    keys: ClientKeys,
    sessions: u64,
}

/// One connection as the server's `Conn` holds it.
struct Conn {
    s: Session,
    /// Bytes the peer sent that the server has not read.
    socket: Vec<u8>,
    /// Bytes read but not yet consumed (`Conn::inbuf`).
    held: Vec<u8>,
    eof_sent: bool,
    eof_told: bool,
    out: OutputCheck,
}

struct Run<'w> {
    w: &'w mut World,
    start: Start,
    now: Instant,
    user: &'static str,
    slots: [Option<Conn>; 2],
    cur: usize,
    /// An upload checkpoint has existed during this run (see [`Run::check_usage`]).
    checkpoints: bool,
}

fn peer() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 9))
}

fn temp_parent() -> PathBuf {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() { shm.to_owned() } else { std::env::temp_dir() }
}

/// Prefix of the temporary folders; the process id follows it.
const TEMP_PREFIX: &str = "mioftp-fuzz-";

/// Removes the temporary folders of harness processes that are gone. A
/// process that ends normally removes its own, but a crash (the point of
/// fuzzing) leaves it behind.
fn sweep_dead_worlds(parent: &Path) {
    let Ok(entries) = fs::read_dir(parent) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name.strip_prefix(TEMP_PREFIX).and_then(|rest| rest.split('-').next()) else { continue };
        let Ok(pid) = pid.parse::<u32>() else { continue };
        if pid != std::process::id() && !Path::new("/proc").join(pid.to_string()).exists() {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

impl World {
    fn new() -> World {
        let parent = temp_parent();
        sweep_dead_worlds(&parent);
        let prefix = format!("{TEMP_PREFIX}{}-", std::process::id());
        let dir = tempfile::Builder::new().prefix(&prefix).tempdir_in(parent).expect("temp folder");
        let root = dir.path().join("root");
        let mut cfg = Config::new(&root);
        cfg.min_iterations = ITER;
        cfg.handshake_timeout = Duration::from_secs(5);
        cfg.idle_timeout = Duration::from_secs(10);
        cfg.transfer_timeout = Duration::from_secs(3);
        cfg.default_quota = None;
        let svc = Services::open(cfg).expect("services on a temporary root");
        let keys = ClientKeys::from_salted(&scram::salted_password(PASSWORD.as_bytes(), SALT, ITER));
        let mut w = World { dir, root, svc, base: Instant::now(), keys, sessions: 0 };
        // Register the standing accounts through a real session.
        let mut run = Run {
            start: Start::Hello,
            now: w.base,
            user: "fuzz",
            slots: [None, None],
            cur: 0,
            checkpoints: false,
            w: &mut w,
        };
        run.open(0);
        run.auth(true);
        for (name, _) in STANDING {
            run.register(name);
            run.pump();
            let reply = run.conn().and_then(|c| c.out.recent.back().cloned());
            assert_eq!(reply, Some(json!({"ok": true, "user": name})), "registering {name}");
        }
        run.finish(0);
        for (name, quota) in STANDING {
            let path = w.root.join("accounts").join(format!("{name}.json"));
            let mut account: Value = serde_json::from_slice(&fs::read(&path).expect("account file")).expect("json");
            account["quota"] = json!(quota);
            fs::write(&path, serde_json::to_vec_pretty(&account).expect("json")).expect("account file");
        }
        w
    }

    fn run(&mut self, script: &Script, start: Start) {
        let p = &script.prologue;
        let user = STANDING[p.user as usize % STANDING.len()].0;
        let mut run = Run { start, now: self.base, user, slots: [None, None], cur: 0, checkpoints: false, w: self };
        run.open(0);
        if start == Start::Authed && p.scan_first {
            run.finish_scans();
        }
        for op in &script.ops {
            run.apply(op);
        }
        run.finish(p.final_close);
        self.check_and_clean();
    }

    /// After a run: the layout holds nothing unexpected; then the run's
    /// accounts, homes and files are removed.
    fn check_and_clean(&mut self) {
        let top = names(self.dir.path());
        assert_eq!(top, ["root"], "something appeared beside the data root");
        for name in names(&self.root) {
            assert!(
                ["accounts", "home", "logs", "server.key", ".lock"].contains(&name.as_str()),
                "unexpected root/{name}"
            );
        }
        let accounts = self.root.join("accounts");
        let mut users = Vec::new();
        for name in names(&accounts) {
            if name == ".secret" || name == ".tokens" {
                continue;
            }
            let user = name.strip_suffix(".json").unwrap_or_else(|| panic!("unexpected accounts/{name}"));
            assert!(mioftp_proto::check_username(user).is_ok(), "account for an invalid name {user:?}");
            users.push(user.to_owned());
        }
        assert!(!self.svc.users.scanning(), "a usage scan outlived its sessions");
        for user in &users {
            assert!(self.svc.users.get(user).is_none(), "state of {user} outlived its sessions");
        }
        let homes = self.root.join("home");
        for name in names(&homes) {
            let md = fs::symlink_metadata(homes.join(&name)).expect("home entry");
            assert!(md.is_dir(), "home/{name} is not a directory");
            assert!(users.contains(&name), "home/{name} belongs to no account");
        }
        for name in names(&self.root.join("logs")) {
            let known = ["register_login_accounts.log", "shell_command.log", "upload_file.log", "download_file.log"];
            assert!(known.contains(&name.as_str()), "unexpected logs/{name}");
            let path = self.root.join("logs").join(&name);
            if fs::metadata(&path).map(|m| m.len()).unwrap_or(0) > LOG_LIMIT {
                // The audit log appends (O_APPEND), so it carries on at 0.
                fs::OpenOptions::new().write(true).open(&path).and_then(|f| f.set_len(0)).expect("truncate log");
            }
        }
        // Back to the standing accounts with empty homes.
        for user in users {
            let standing = STANDING.iter().any(|(n, _)| *n == user);
            if !standing {
                fs::remove_file(accounts.join(format!("{user}.json"))).expect("remove account");
            }
            let home = homes.join(&user);
            if !home.exists() {
                continue;
            }
            if standing {
                for name in names(&home) {
                    let p = home.join(name);
                    let is_dir = fs::symlink_metadata(&p).map(|m| m.is_dir()).unwrap_or(false);
                    if is_dir { fs::remove_dir_all(&p) } else { fs::remove_file(&p) }.expect("clean home");
                }
            } else {
                fs::remove_dir_all(&home).expect("remove home");
            }
        }
    }
}

/// Entry names of a folder, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Bytes of regular files under `dir`, links not followed, leaving out the
/// partial-upload checkpoints (small metadata files that the server writes
/// without counting them until the next scan).
fn disk_usage(dir: &Path) -> u64 {
    let mut total = 0;
    for entry in fs::read_dir(dir).expect("read home") {
        let entry = entry.expect("entry");
        let md = entry.metadata().expect("lstat");
        let name = entry.file_name().to_string_lossy().into_owned();
        if md.is_dir() {
            total += disk_usage(&entry.path());
        } else if md.is_file() && !is_checkpoint(&entry.path(), &name) {
            total += md.len();
        }
    }
    total
}

fn is_checkpoint(path: &Path, name: &str) -> bool {
    path.parent().is_some_and(|p| p.ends_with(".mioftp/partial"))
        && (name.ends_with(".json") || name.ends_with(".json.tmp"))
}

impl Run<'_> {
    fn conn(&mut self) -> Option<&mut Conn> {
        self.slots[self.cur].as_mut()
    }

    /// Opens slot `i`: a new session (and, for the authed target, a real
    /// connection check and login as the run's user).
    fn open(&mut self, i: usize) {
        self.w.sessions += 1;
        let s = Session::new(self.w.sessions, peer(), self.now, &self.w.svc).expect("session");
        let out = OutputCheck::default();
        self.slots[i] = Some(Conn { s, socket: Vec::new(), held: Vec::new(), eof_sent: false, eof_told: false, out });
        if self.start == Start::Authed {
            let cur = std::mem::replace(&mut self.cur, i);
            self.auth(true);
            let user = self.user;
            self.login(user, true);
            let reply = self.conn().and_then(|c| c.out.recent.back().cloned()).unwrap_or_default();
            assert_eq!(reply["user"], user, "the harness's login failed: {reply}");
            self.cur = cur;
        }
    }

    fn apply(&mut self, op: &Op) {
        match op {
            Op::Send(b) => self.send(b),
            Op::Repeat { times, bytes } => {
                // Bounded: the peer's flood stops at what a socket could hold.
                let room = SOCKET_LIMIT.saturating_sub(self.conn().map_or(0, |c| c.socket.len()));
                let times = usize::from(*times).min(room / bytes.len().max(1));
                self.send(&bytes.repeat(times));
            }
            Op::Read(n) => {
                self.read(*n);
            }
            Op::Drain(n) => {
                self.drain(*n);
            }
            Op::Produce => {
                self.produce();
            }
            Op::Advance(ms) => self.now += Duration::from_millis(u64::from(*ms)),
            Op::AdvanceSecs(s) => self.now += Duration::from_secs(u64::from(*s)),
            Op::Timeout => self.timeout(),
            Op::Tick(b) => {
                self.tick(usize::from(*b));
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
        if let Some(c) = self.conn() {
            let pending = c.s.output().len();
            assert!(pending <= MAX_PENDING, "{pending} bytes of output pending");
        }
    }

    /// Whether any home holds an upload checkpoint now.
    fn any_checkpoint(&self) -> bool {
        let homes = self.w.root.join("home");
        names(&homes).iter().any(|user| {
            let dir = homes.join(user).join(mioftp::partial::PARTIAL_DIR);
            fs::read_dir(dir)
                .is_ok_and(|mut d| d.any(|e| e.is_ok_and(|e| e.file_name().to_string_lossy().ends_with(".json"))))
        })
    }

    fn send(&mut self, bytes: &[u8]) {
        if let Some(c) = self.conn().filter(|c| !c.eof_sent) {
            c.socket.extend_from_slice(bytes);
        }
    }

    fn send_frame(&mut self, header: &Value, body: &[u8]) {
        let mut bytes = frame::encode_to_vec(header).expect("harness frames encode");
        bytes.extend_from_slice(body);
        self.send(&bytes);
    }

    /// `Conn::pump`'s input half: retry held bytes, then read if wanted.
    /// Returns whether anything happened.
    fn read(&mut self, max: u16) -> bool {
        let now = self.now;
        let Some(c) = self.slots[self.cur].as_mut() else { return false };
        let mut moved = false;
        if !c.held.is_empty() && c.s.wants_input() {
            moved |= feed(c, 0, now, &mut self.w.svc);
        }
        let retry = !c.held.is_empty() && !c.s.wants_input();
        if c.s.wants_input() && !c.eof_told && !retry {
            if !c.socket.is_empty() {
                let n = if max == 0 { c.socket.len() } else { usize::from(max).min(c.socket.len()) };
                moved |= feed(c, n, now, &mut self.w.svc);
            } else if c.eof_sent {
                // A read returned 0. As in `Conn::pump`, EOF is told once,
                // with what is still held (an unfinished frame).
                c.eof_told = true;
                let held = c.held.len();
                guarded(c, |c, svc| c.s.on_eof(held, now, svc), &mut self.w.svc);
                c.held = Vec::new();
                moved = true;
            }
        }
        if c.s.is_finished() {
            self.close(self.cur, CloseReason::Done);
        }
        moved
    }

    /// The peer reads up to `max` bytes (0: all) and the session is told.
    fn drain(&mut self, max: u16) -> bool {
        let now = self.now;
        let Some(c) = self.slots[self.cur].as_mut() else { return false };
        let pending = c.s.output().len();
        if pending == 0 {
            // A download whose digest is known: the driver would sendfile
            // this range; read it the same way and feed it as output.
            if let Some((file, pos, left)) = c.s.file_range() {
                use std::os::unix::fs::FileExt;
                let want = if max == 0 { left } else { u64::from(max).min(left) };
                let mut buf = vec![0u8; want.min(1 << 20) as usize];
                let got = file.read_at(&mut buf, pos).unwrap_or(0);
                if got == 0 {
                    c.s.file_truncated(now, &mut self.w.svc);
                    self.close(self.cur, CloseReason::Done);
                    return true;
                }
                c.out.feed(&buf[..got]);
                c.s.advance_file(got, now);
                return true;
            }
        }
        let n = if max == 0 { pending } else { usize::from(max).min(pending) };
        c.out.feed(&c.s.output()[..n]);
        c.s.advance_output(n, now);
        if c.s.is_finished() {
            self.close(self.cur, CloseReason::Done);
        }
        n > 0
    }

    fn produce(&mut self) -> bool {
        let now = self.now;
        let Some(c) = self.slots[self.cur].as_mut() else { return false };
        if !c.s.wants_to_produce() {
            return false;
        }
        if c.s.produce(now, &mut self.w.svc, 256 * 1024).is_none() {
            // The body cannot be completed: the driver closes at once.
            self.close(self.cur, CloseReason::Done);
        }
        true
    }

    /// The timer: only once the deadline has passed, as `fire_timers` does;
    /// then one flush and the close.
    fn timeout(&mut self) {
        let now = self.now;
        let Some(c) = self.slots[self.cur].as_mut() else { return };
        if c.s.deadline(&self.w.svc) > now {
            return;
        }
        guarded(c, |c, svc| c.s.on_timeout(now, svc), &mut self.w.svc);
        self.drain(0);
        self.close(self.cur, CloseReason::Timeout);
    }

    /// `run_scans`: a bounded step of every scan, then the waiting sessions
    /// of every connection continue.
    fn tick(&mut self, budget: usize) -> bool {
        if !self.w.svc.users.scanning() {
            return false;
        }
        if self.w.svc.users.tick(budget) {
            let now = self.now;
            for c in self.slots.iter_mut().flatten() {
                if c.s.is_waiting() {
                    guarded(c, |c, svc| c.s.resume(now, svc), &mut self.w.svc);
                }
            }
        }
        true
    }

    fn finish_scans(&mut self) {
        for _ in 0..10_000 {
            if !self.tick(mioftp::users::SCAN_BUDGET) {
                return;
            }
        }
        panic!("usage scans did not finish");
    }

    /// Drives the current connection like a server whose socket is always
    /// ready, until nothing moves.
    fn pump(&mut self) {
        for _ in 0..PUMP_LIMIT {
            let mut moved = self.produce();
            moved |= self.drain(0);
            moved |= self.read(0);
            moved |= self.tick(mioftp::users::SCAN_BUDGET);
            if !moved || self.conn().is_none() {
                return;
            }
        }
    }

    /// The one way out, as `Server::close`.
    fn close(&mut self, i: usize, reason: CloseReason) {
        if let Some(mut c) = self.slots[i].take() {
            c.s.on_close(reason, self.now, &mut self.w.svc);
            // Checkpoints are written when an upload is cut short, which
            // ends in a close (a disconnect, `exit`, a timeout).
            self.checkpoints = self.checkpoints || self.any_checkpoint();
        }
    }

    fn auth(&mut self, good: bool) {
        self.pump();
        let Some(c) = self.conn() else { return };
        let Some(challenge) = c.out.challenge.clone() else { return };
        let key = if good { self.w.svc.key.clone() } else { b"not the key".to_vec() };
        let mac = scram::hmac(&key, &challenge);
        self.send_frame(&json!({"op": "auth", "hmac": scram::b64(&mac)}), &[]);
        self.pump();
    }

    fn register(&mut self, user: &str) {
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
    fn finish(&mut self, final_close: u8) {
        for i in 0..2 {
            self.cur = i;
            self.drain(0);
            if let Some(c) = self.slots[i].as_ref() {
                c.out.assert_no_partial_header();
            }
        }
        self.check_usage();
        for i in 0..2 {
            self.close(i, reason(final_close));
        }
    }

    /// Every logged-in user's usage, once known, is what is on disk.
    ///
    /// Upload checkpoints (`.mioftp/partial/<id>.json`) are the exception:
    /// the server never counts writing or removing one, but a usage scan
    /// (at a user's first login) counts those present. So once a checkpoint
    /// has existed in a run, usage may exceed the data on disk by checkpoint
    /// bytes, and only the lower bound is checked.
    fn check_usage(&self) {
        let homes = self.w.root.join("home");
        let Ok(entries) = fs::read_dir(&homes) else { return };
        for entry in entries {
            let user = entry.expect("entry").file_name().to_string_lossy().into_owned();
            let Some(state) = self.w.svc.users.get(&user) else { continue };
            if !state.ready() {
                continue;
            }
            let disk = disk_usage(&homes.join(&user));
            let used = state.used;
            if self.checkpoints {
                assert!(used >= disk, "usage of {user} is {used} but {disk} bytes of data are on disk");
                continue;
            }
            assert_eq!(used, disk, "usage of {user} is {used} but {disk} bytes are on disk");
            if let Some(limit) = state.limit {
                assert!(used + state.reserved <= limit, "{user} is over quota: {used} + {} > {limit}", state.reserved);
            }
        }
    }
}

/// Hands `n` socket bytes to the session (after what it holds), as
/// `Conn::feed` does, checking that a whole frame offered to a session that
/// wants input is consumed.
fn feed(c: &mut Conn, n: usize, now: Instant, svc: &mut Services) -> bool {
    c.held.extend(c.socket.drain(..n));
    let whole = c.s.wants_input() && matches!(frame::check(&c.held), Ok(Some(_)));
    let used = {
        let held = std::mem::take(&mut c.held);
        let used = guarded(c, |c, svc| c.s.receive(&held, now, svc), svc);
        c.held = held;
        used
    };
    assert!(used <= c.held.len());
    // (`check` vouches only for the length: a whole frame of bad JSON is a
    // framing error, which consumes nothing and closes.)
    assert!(!whole || used > 0 || c.s.is_closing(), "a session that wanted input took nothing of a whole frame");
    c.held.drain(..used);
    if c.s.is_closing() {
        // Nothing after a fatal frame or `exit` is read.
        c.held = Vec::new();
    }
    n > 0 || used > 0
}

/// Calls `f` (anything but `produce`), checking that it adds no output while
/// a download's body is not yet all queued: such bytes would be read by the
/// client as part of the file.
fn guarded<T>(c: &mut Conn, f: impl FnOnce(&mut Conn, &mut Services) -> T, svc: &mut Services) -> T {
    let before = c.s.output().len();
    let mid_body = c.out.unqueued_body(c.s.output()) > 0;
    let out = f(c, svc);
    if mid_body {
        let after = c.s.output().len();
        assert_eq!(after, before, "{} bytes were queued inside an unfinished download body", after - before);
    }
    out
}

fn reason(r: u8) -> CloseReason {
    match r % 4 {
        0 => CloseReason::PeerClosed,
        1 => CloseReason::Timeout,
        2 => CloseReason::Done,
        _ => CloseReason::Shutdown,
    }
}

/// The request a [`Req`] stands for, and the length of body to send after it.
pub fn request_header(r: &Req, last_etag: Option<String>) -> (Value, usize) {
    let path = r.text.resolve(PATHS);
    let num = if r.num == u32::MAX { u64::MAX } else { u64::from(r.num) };
    let small = (r.num % 70_000) as usize;
    let op = |name: &str| json!({ "op": name });
    let v = match r.kind % 22 {
        0 => json!({"op": "auth", "hmac": path}),
        1 => json!({
            "op": "register", "user": r.text.resolve(USERS), "salt": scram::b64(SALT), "iterations": num,
            "stored_key": scram::b64(&[1; 32]), "server_key": scram::b64(&[2; 32]),
        }),
        2 => {
            json!({"op": "login", "user": r.text.resolve(USERS), "nonce": if r.flag { CLIENT_NONCE } else { "short" }})
        }
        3 => json!({"op": "login_proof", "proof": path}),
        4 => op("logout"),
        5 => op("exit"),
        6 => op("noop"),
        7 => op("pwd"),
        8 => json!({"op": "cd", "path": path}),
        9 => json!({"op": "mkdir", "path": path, "parents": r.flag}),
        10 => json!({"op": "rm", "path": path}),
        11 if r.flag => json!({"op": "dir", "path": path}),
        11 => op("dir"),
        12 => op("quota"),
        13 => {
            json!({"op": "put", "path": path, "length": if r.flag { num } else { (r.num % 4096) as u64 }, "resume": r.flag})
        }
        14 => return (json!({"op": "put_data", "size": small}), small),
        15 => json!({"op": "put_done", "sha256": if r.flag { hex(&Sha256::digest(b"")) } else { path }}),
        16 => match last_etag.filter(|_| r.flag) {
            Some(etag) => json!({"op": "get", "path": path, "offset": num % 100_000, "if_match": etag}),
            None => json!({"op": "get", "path": path, "offset": num}),
        },
        // A body where none is allowed, unknown ops, no op, wrong types.
        17 => return (json!({"op": "noop", "size": small}), small),
        18 => json!({"op": path}),
        19 => json!({"path": path}),
        20 => json!({"op": "cd", "path": num}),
        _ => json!({"op": "put", "path": path, "length": -1}),
    };
    (v, 0)
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
