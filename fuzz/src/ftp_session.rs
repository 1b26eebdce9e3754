//! The `ftp_session` target: one or two FTP control sessions
//! (`mioftp::ftp::session::FtpSession`) on the session harness's world
//! (`crate::world`: one `Services` per thread, homes and accounts in the
//! memory storage, the standing accounts `fuzz` and `tight`), driven only
//! through the public session contract by an op script
//! ([`crate::ftp_script`]) and a fake clock, the harness playing the
//! driver's part for data connections and worker-pool jobs
//! ([`crate::ftp_conn`]).
//!
//! Checked during a run: every control byte ([`crate::ftp_reply`]), the
//! requests and invariants after every call ([`crate::ftp_conn`]), and the
//! bytes themselves: a whole RETR answered `226` delivered exactly the file
//! (from the REST offset), and a STOR answered `226` left exactly the bytes
//! sent under its name (an APPE, the old bytes then the new).
//! Checked at the end: each logged-in user's usage equals the bytes in the
//! storage, and `tight` is within its quota but for partials kept by
//! uploads that replaced a file and stopped part-way (their credit is gone);
//! after every close, no user state is left, nothing reached the disk (the
//! world's own checks).

use crate::ftp_conn::FtpConn;
use crate::ftp_script::{FtpOp, FtpScript, VERBS, arg, content};
use crate::session::{PASSWORD, STANDING, with_world};
use crate::world::World;
use mioftp::home::VPath;
use mioftp::session::{CloseReason, Endpoint};
use std::time::{Duration, Instant};

/// Passes of [`Run::pump`] at most.
const PUMP_LIMIT: usize = 64;
/// Bytes a peer may have sent and the server not yet read.
const SOCKET_LIMIT: usize = 1 << 20;

/// Runs one input against this thread's world.
pub fn run(data: &[u8]) {
    let script = FtpScript::decode(data);
    with_world(|w| play(w, &script));
}

/// Runs one input and returns the first line of every reply, in order (for
/// the harness's tests: proof that a seed reaches what it claims).
pub fn trace(data: &[u8]) -> Vec<String> {
    crate::ftp_reply::traced(|| run(data))
}

fn play(w: &mut World, script: &FtpScript) {
    let p = &script.prologue;
    let mut cfg = w.svc.config.ftp.clone();
    cfg.active = p.flags & 1 != 0;
    cfg.login_cache_ttl = if p.flags & 2 != 0 { Duration::ZERO } else { Duration::from_secs(60) };
    w.svc.config.ftp = cfg.clone();
    // A fresh cache per run: runs must not depend on each other.
    w.svc.ftp_logins = mioftp::ftp::session::CredentialCache::new(cfg.login_cache_ttl).expect("random secret");
    let user = STANDING.get(usize::from(p.user)).map(|(n, _)| *n);
    let mut run = Run { now: w.base, slots: [None, None], cur: 0, w };
    run.open(0);
    if let Some(u) = user {
        run.login(u, true);
    }
    for op in &script.ops {
        run.apply(op);
    }
    run.finish(p.final_close);
    w.check_and_clean();
}

struct Run<'w> {
    w: &'w mut World,
    now: Instant,
    slots: [Option<FtpConn>; 2],
    cur: usize,
}

fn reason(r: u8) -> CloseReason {
    match r % 4 {
        0 => CloseReason::PeerClosed,
        1 => CloseReason::Timeout,
        2 => CloseReason::Done,
        _ => CloseReason::Shutdown,
    }
}

impl Run<'_> {
    fn conn(&mut self) -> Option<&mut FtpConn> {
        self.slots[self.cur].as_mut()
    }

    fn open(&mut self, i: usize) {
        self.w.sessions += 1;
        self.slots[i] = Some(FtpConn::new(self.w.sessions, self.now, &mut self.w.svc));
    }

    /// Calls `f` on the current connection; closes it (as `Done`) if that
    /// ended it. Returns what `f` returned (false without a connection).
    fn with(&mut self, f: impl FnOnce(&mut FtpConn, Instant, &mut mioftp::services::Services) -> bool) -> bool {
        let now = self.now;
        let Some(c) = self.slots[self.cur].as_mut() else { return false };
        let moved = f(c, now, &mut self.w.svc);
        if c.s.is_closed() {
            self.close(self.cur, CloseReason::Done);
        }
        moved
    }

    fn send(&mut self, bytes: &[u8]) {
        if let Some(c) = self.conn().filter(|c| !c.eof_sent && c.socket.len() < SOCKET_LIMIT) {
            c.socket.extend(bytes);
        }
    }

    fn line(&mut self, text: &str) {
        self.send(format!("{text}\r\n").as_bytes());
    }

    fn apply(&mut self, op: &FtpOp) {
        match op {
            FtpOp::Send(b) => self.send(b),
            FtpOp::Line { verb, arg: a } => {
                let verb = VERBS[usize::from(*verb) % VERBS.len()];
                match a {
                    Some(a) => self.line(&format!("{verb} {}", arg(a))),
                    None => self.line(verb),
                }
            }
            FtpOp::Read(n) => {
                self.with(|c, now, svc| c.read(*n, now, svc));
            }
            FtpOp::Drain(n) => {
                self.with(|c, now, svc| c.write(*n, now, svc));
            }
            FtpOp::Advance(ms) => self.now += Duration::from_millis(u64::from(*ms)),
            FtpOp::AdvanceSecs(s) => self.now += Duration::from_secs(u64::from(*s)),
            FtpOp::Timeout => self.timeout(),
            FtpOp::Job(b) => {
                self.jobs(b % 4 == 2);
            }
            FtpOp::Eof => {
                if let Some(c) = self.conn() {
                    c.eof_sent = true;
                }
            }
            FtpOp::Close(r) => self.close(self.cur, reason(*r)),
            FtpOp::Pump => self.pump(),
            FtpOp::Switch => {
                self.cur ^= 1;
                if self.slots[self.cur].is_none() {
                    self.open(self.cur);
                }
            }
            FtpOp::Login { user, good } => {
                let name = STANDING.get(usize::from(*user)).map_or("nobody", |(n, _)| *n);
                self.login(name, *good);
            }
            FtpOp::DataOpen => {
                self.with(|c, now, svc| c.data_open(now, svc));
            }
            FtpOp::DataFail => {
                self.with(|c, now, svc| c.data_fail("connection reset", now, svc));
            }
            FtpOp::DataSend(b) => {
                if let Some(c) = self.conn().filter(|c| c.data.open && !c.data.eof) {
                    c.data.upstream.extend(b);
                }
            }
            FtpOp::DataEof => {
                if let Some(c) = self.conn().filter(|c| c.data.open) {
                    c.data.eof = true;
                }
            }
            FtpOp::DataRead(n) => {
                self.with(|c, now, svc| c.data_read(*n, now, svc));
            }
            FtpOp::DataDrain(n) => {
                self.with(|c, now, svc| c.data_write(*n, now, svc));
            }
            FtpOp::Upload { path, how, cut, len, pattern } => {
                self.upload(&arg(path), *how, *cut, &content(*len, pattern))
            }
            FtpOp::Download { path, rest } => self.download(&arg(path), u64::from(*rest)),
            FtpOp::Shutdown => {
                let now = self.now;
                for c in self.slots.iter_mut().flatten() {
                    c.s.begin_shutdown(now, &mut self.w.svc);
                }
            }
            FtpOp::Repeat { times, bytes } => {
                let room = SOCKET_LIMIT.saturating_sub(self.conn().map_or(0, |c| c.socket.len()));
                let times = usize::from(*times).min(room / bytes.len().max(1));
                self.send(&bytes.repeat(times));
            }
        }
    }

    /// The current connection's timers, as the driver fires them.
    fn timeout(&mut self) {
        let now = self.now;
        let Some(c) = self.slots[self.cur].as_mut() else { return };
        if c.timeout(now, &mut self.w.svc) {
            self.close(self.cur, CloseReason::Timeout);
        } else if c.s.is_closed() {
            self.close(self.cur, CloseReason::Done);
        }
    }

    /// The pool's step: every connection's job runs (or is refused), then
    /// waiting sessions go on.
    fn jobs(&mut self, refuse: bool) -> bool {
        let now = self.now;
        let mut ran = false;
        for c in self.slots.iter_mut().flatten() {
            ran |= c.run_job(refuse, now, &mut self.w.svc);
        }
        if ran {
            for c in self.slots.iter_mut().flatten() {
                c.resume(now, &mut self.w.svc);
            }
        }
        for i in 0..2 {
            if self.slots[i].as_ref().is_some_and(|c| c.s.is_closed()) {
                self.close(i, CloseReason::Done);
            }
        }
        ran
    }

    /// Drives the current connection like a server whose sockets are always
    /// ready (the client reads everything), until nothing moves.
    fn pump(&mut self) {
        for _ in 0..PUMP_LIMIT {
            let mut moved = self.with(|c, now, svc| c.write(0, now, svc));
            moved |= self.with(|c, now, svc| c.read(0, now, svc));
            moved |= self.with(|c, now, svc| c.data_write(0, now, svc));
            moved |= self.with(|c, now, svc| c.data_read(0, now, svc));
            moved |= self.jobs(false);
            if !moved || self.conn().is_none() {
                return;
            }
        }
    }

    fn close(&mut self, i: usize, reason: CloseReason) {
        if let Some(c) = self.slots[i].take() {
            c.close(reason, self.now, &mut self.w.svc);
        }
    }

    fn mark(&mut self) -> u64 {
        self.conn().map_or(0, |c| c.out.count)
    }

    fn codes_since(&mut self, mark: u64) -> Vec<u16> {
        self.conn().map(|c| c.out.since(mark).into_iter().map(|(code, _)| code).collect()).unwrap_or_default()
    }

    /// The text of the `226` that ended the transfer a macro op started:
    /// the first 226 after the first 150 since `mark` (an earlier transfer,
    /// still running when the op began, may end in between with its own).
    /// That 150 must name the op's own file (`input` from `/`): another
    /// transfer waiting for a data connection may take the op's.
    fn own_226(&mut self, mark: u64, input: &str) -> Option<String> {
        let shown = self.shown(input);
        let replies = self.conn().map(|c| c.out.since(mark)).unwrap_or_default();
        let ours = |text: &str| text.contains(&format!(" for {shown}.")) || text.contains(&format!(" for {shown} ("));
        let started = replies.iter().position(|(code, text)| *code == 150 && ours(text))?;
        replies[started..].iter().find(|(code, _)| *code == 226).map(|(_, text)| text.clone())
    }

    /// `input` (from `/`) as the server shows it, or an empty string.
    fn shown(&self, input: &str) -> String {
        VPath::resolve(&VPath::root(), &format!("/{}", input.trim_start_matches('/')))
            .map(|t| t.to_string())
            .unwrap_or_default()
    }

    /// The size a `226 Transfer complete: N bytes` of the op's transfer reports.
    fn completed_size(&mut self, mark: u64, input: &str) -> Option<usize> {
        let text = self.own_226(mark, input)?;
        text.strip_prefix("226 Transfer complete: ")?.split(' ').next()?.parse().ok()
    }

    fn login(&mut self, user: &str, good: bool) {
        let mark = self.mark();
        self.line(&format!("USER {user}"));
        self.line(&format!("PASS {}", if good { PASSWORD } else { "not-the-password" }));
        self.pump();
        if !self.codes_since(mark).contains(&230) {
            // A refusal comes after the failure delay.
            self.now += Duration::from_secs(2);
            self.timeout();
            self.pump();
        }
    }

    /// The file a transfer of `input` (from `/`) concerns, in the current
    /// connection's user's home, if it resolves and someone is logged in.
    fn stored(&self, input: &str) -> Option<(String, Option<Vec<u8>>)> {
        let user = self.slots[self.cur].as_ref()?.s.user()?;
        let t = VPath::resolve(&VPath::root(), &format!("/{}", input.trim_start_matches('/'))).ok()?;
        let rel = t.to_string().trim_start_matches('/').to_owned();
        let bytes = self.w.storage.read_file(user, &rel);
        Some((rel, bytes))
    }

    /// EPSV, then STOR, APPE or REST + STOR of the path (from `/`), the data,
    /// and its end (or a reset after `cut` bytes); a 226 means the file is
    /// exactly what was sent.
    fn upload(&mut self, input: &str, how: u8, cut: u16, body: &[u8]) {
        let path = format!("/{}", input.trim_start_matches('/'));
        let before = self.stored(input);
        self.line("EPSV");
        let verb = match how % 3 {
            1 => "APPE",
            2 => {
                // Resume what the partial holds, whatever it is (554 if it
                // is not what REST says).
                self.line(&format!("REST {}", usize::from(cut)));
                "STOR"
            }
            _ => "STOR",
        };
        self.line(&format!("{verb} {path}"));
        self.pump();
        // Only into the data connection this op's EPSV asked for; its
        // transfer's replies come after it opens (an earlier transfer may
        // end in between).
        let mark = self.mark();
        if !self.with(|c, now, svc| c.data_open(now, svc)) {
            return;
        }
        let cut = usize::from(cut);
        let cut_short = how % 3 != 2 && cut > 0 && cut < body.len();
        if let Some(c) = self.conn().filter(|c| c.data.open) {
            c.data.upstream.extend(if cut_short { &body[..cut] } else { body });
            c.data.eof = !cut_short;
        }
        self.pump();
        if cut_short {
            self.with(|c, now, svc| c.data_fail("connection reset", now, svc));
            self.pump();
        }
        // A 226 means the bytes are in place: a STOR's are exactly the body;
        // an APPE's end with it, after the old file (or after a partial it
        // resumed); either way as many as the 226 says.
        let Some(size) = self.completed_size(mark, input) else { return };
        // REST resumes a partial of unknown content; a path with a line end
        // in it was split into two command lines (the rest of it is another
        // line), so its STOR named something else.
        if how % 3 == 2 || input.contains(['\n', '\r']) {
            return;
        }
        // The session may have logged out since (a USER or QUIT of the
        // script's, queued behind the transfer): then there is no home to look in.
        let Some((rel, stored)) = self.stored(input) else { return };
        let Some(now_bytes) = stored else {
            let replies = self.conn().map(|c| c.out.since(mark));
            panic!("{verb} {path} answered 226 but no file is there: {replies:#?}");
        };
        assert_eq!(now_bytes.len(), size, "{verb} {rel}: the 226 says {size} bytes");
        assert!(now_bytes.ends_with(body), "{verb} {rel} answered 226 but the file does not end with the bytes sent");
        match (how % 3, before) {
            (0, _) => assert_eq!(now_bytes.len(), body.len(), "STOR {rel} kept more than it was sent"),
            (_, Some((_, Some(old)))) if size == old.len() + body.len() => {
                assert!(now_bytes.starts_with(&old), "APPE {rel} changed the bytes it appended to");
            }
            _ => {}
        }
    }

    /// PASV, REST, RETR, and the data read to its end; a 226 means the
    /// client got exactly the file from the offset.
    fn download(&mut self, input: &str, rest: u64) {
        let path = format!("/{}", input.trim_start_matches('/'));
        let file = self.stored(input).and_then(|(_, b)| b);
        self.line("PASV");
        if rest > 0 {
            self.line(&format!("REST {rest}"));
        }
        self.line(&format!("RETR {path}"));
        self.pump();
        let mark = self.mark();
        if !self.with(|c, now, svc| c.data_open(now, svc)) {
            return;
        }
        self.pump();
        let done = self.own_226(mark, input).is_some() && !input.contains(['\n', '\r']);
        let got = self.conn().map(|c| if c.data.open { c.data.downstream.clone() } else { c.data.closed.clone() });
        if let (true, Some(file), Some(got)) = (done, file, got) {
            let from = usize::try_from(rest).unwrap_or(usize::MAX).min(file.len());
            // Only if the 150 announced this op's offset (an earlier RETR of
            // the same file, waiting for a data connection, may have taken it).
            let announced = format!("{} ({} bytes).", self.shown(input), file.len() - from);
            let ours = self.conn().is_some_and(|c| c.out.since(mark).iter().any(|(_, t)| t.ends_with(&announced)));
            if ours && got != file[from..] {
                let replies = self.conn().map(|c| c.out.since(mark));
                let (sent, want) = (got.len(), file.len() - from);
                panic!("RETR {path} at {rest} answered 226 but sent {sent} other bytes ({want} wanted): {replies:#?}");
            }
        }
    }

    /// At the end: read all output, check usage, close everything.
    fn finish(&mut self, final_close: u8) {
        for i in 0..2 {
            self.cur = i;
            self.with(|c, now, svc| c.write(0, now, svc));
        }
        self.check_usage();
        for i in 0..2 {
            self.close(i, reason(final_close));
        }
    }

    /// Every logged-in user's usage, once known, is what the storage holds.
    fn check_usage(&self) {
        for user in self.w.storage.users() {
            let Some(state) = self.w.svc.users.get(&user) else { continue };
            if !state.ready() {
                continue;
            }
            let held = self.w.storage.usage(&user);
            assert_eq!(state.used, held, "usage of {user} is {} but {held} bytes are in the storage", state.used);
            // Over the quota only by kept partials: an upload that replaced
            // a file was credited for it, and stopped part-way.
            if let Some(limit) = state.limit {
                let partials = self.w.storage.partial_usage(&user);
                let (used, reserved) = (state.used, state.reserved);
                assert!(used + reserved <= limit + partials, "{user}: {used} used + {reserved} reserved > {limit}");
            }
        }
    }
}
