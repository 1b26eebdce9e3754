//! The pump without sockets: a scripted fake stream (short writes,
//! `WouldBlock`, `Interrupted`, EOF, errors) against the real session and
//! against a toy endpoint; and a toy byte layer between the two, standing in
//! for TLS, with neither side changed.

use super::*;
use crate::config::Config;
use crate::protocol::frame::{self, encode_to_vec};
use crate::protocol::scram;
use crate::session::{FileRange, Session};
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::io::{Read, Write};
use std::os::fd::AsFd;

/// What one `read` returns.
enum R {
    Data(Vec<u8>),
    Block,
    Eof,
    Intr,
}

/// What one `write` does.
#[derive(Clone, Copy)]
enum W {
    /// Takes at most this many bytes.
    Take(usize),
    Block,
    Intr,
    Reset,
}

/// A socket that follows a script; once a script runs out, reads block and
/// writes take everything.
#[derive(Default)]
struct Fake {
    reads: VecDeque<R>,
    writes: VecDeque<W>,
    sent: Vec<u8>,
}

impl Read for Fake {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.reads.pop_front() {
            Some(R::Data(mut d)) => {
                let n = d.len().min(buf.len());
                buf[..n].copy_from_slice(&d[..n]);
                if n < d.len() {
                    self.reads.push_front(R::Data(d.split_off(n)));
                }
                Ok(n)
            }
            Some(R::Eof) => Ok(0),
            Some(R::Intr) => Err(io::ErrorKind::Interrupted.into()),
            Some(R::Block) | None => Err(io::ErrorKind::WouldBlock.into()),
        }
    }
}

impl Write for Fake {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.writes.pop_front().unwrap_or(W::Take(usize::MAX)) {
            W::Take(n) => {
                let n = n.min(buf.len());
                self.sent.extend_from_slice(&buf[..n]);
                Ok(n)
            }
            W::Block => Err(io::ErrorKind::WouldBlock.into()),
            W::Intr => Err(io::ErrorKind::Interrupted.into()),
            W::Reset => Err(io::ErrorKind::ConnectionReset.into()),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Transport for Fake {}

struct Rig {
    svc: Services,
    _dir: tempfile::TempDir,
    now: Instant,
    scratch: Vec<u8>,
    ready: Readiness,
}

impl Rig {
    fn new() -> Rig {
        let dir = tempfile::tempdir().unwrap();
        let svc = Services::open(Config::new(dir.path())).unwrap();
        Rig { svc, _dir: dir, now: Instant::now(), scratch: vec![0; 64 * 1024], ready: Readiness::fresh() }
    }

    fn session(&self) -> Session {
        Session::new(7, "127.0.0.1:9".parse().unwrap(), self.now, &self.svc).unwrap()
    }

    /// A session past the connection check, its output taken.
    fn checked(&mut self) -> Session {
        let mut s = self.session();
        let mut io = Fake::default();
        self.pump(&mut s, &mut io, 1 << 20);
        let hello = headers(&io.sent).remove(0);
        let challenge = scram::unb64(hello["challenge"].as_str().unwrap()).unwrap();
        let auth = json!({"op": "auth", "hmac": scram::b64(&scram::hmac(&self.svc.key, &challenge))});
        let mut io = Fake { reads: [R::Data(encode_to_vec(&auth).unwrap())].into(), ..Fake::default() };
        self.ready = Readiness::fresh();
        self.pump(&mut s, &mut io, 1 << 20);
        assert_eq!(headers(&io.sent), [json!({"ok": true})]);
        s
    }

    fn pump<T: Transport>(&mut self, ep: &mut dyn Endpoint, io: &mut T, budget: usize) -> Pumped {
        let mut b = Budget::new(budget);
        pump(ep, Channel::CONTROL, io, &mut self.ready, &mut self.scratch, &mut b, self.now, &mut self.svc)
    }
}

/// Frame headers in `bytes` (bodies skipped), which must end on a boundary.
fn headers(bytes: &[u8]) -> Vec<Value> {
    let mut at = 0;
    let mut out = Vec::new();
    while at < bytes.len() {
        let (f, n) = frame::decode(&bytes[at..]).unwrap().expect("whole frames");
        at += n + f.body_len as usize;
        out.push(Value::Object(f.header));
    }
    out
}

fn noop() -> Vec<u8> {
    encode_to_vec(&json!({"op": "noop"})).unwrap()
}

const RW: Interest = Interest::READABLE.add(Interest::WRITABLE);

#[test]
fn short_writes_are_continued_and_would_block_waits_for_writable() {
    let mut rig = Rig::new();
    let mut s = rig.session();
    let mut io = Fake { writes: [W::Take(5), W::Intr, W::Take(3), W::Block].into(), ..Fake::default() };
    assert_eq!(rig.pump(&mut s, &mut io, 1 << 20), Pumped::Idle);
    assert_eq!(io.sent.len(), 8, "two short writes, an interrupted one retried, then the socket filled");
    assert_eq!(rig.ready, Readiness { can_read: false, can_write: false }, "both sides said WouldBlock");
    assert_eq!(interest(&s, Channel::CONTROL, &io), RW, "the rest of the hello waits for WRITABLE");
    // The WRITABLE edge: the rest goes out and interest drops back to reading.
    rig.ready.can_write = true;
    assert_eq!(rig.pump(&mut s, &mut io, 1 << 20), Pumped::Idle);
    assert_eq!(headers(&io.sent)[0]["notice"], "hello");
    assert_eq!(interest(&s, Channel::CONTROL, &io), Interest::READABLE);
}

#[test]
fn would_block_on_read_keeps_the_write_side_ready() {
    let mut rig = Rig::new();
    let mut s = rig.session();
    let mut io = Fake { reads: [R::Intr, R::Block].into(), ..Fake::default() };
    assert_eq!(rig.pump(&mut s, &mut io, 1 << 20), Pumped::Idle);
    assert_eq!(rig.ready, Readiness { can_read: false, can_write: true });
}

#[test]
fn eof_with_a_partial_frame_is_answered_as_truncated_then_closed() {
    let mut rig = Rig::new();
    let mut s = rig.session();
    let mut io = Fake { reads: [R::Data(noop()[..3].to_vec()), R::Eof].into(), ..Fake::default() };
    assert_eq!(rig.pump(&mut s, &mut io, 1 << 20), Pumped::Close(CloseReason::Done));
    let frames = headers(&io.sent);
    assert_eq!(frames.len(), 2, "{frames:?}");
    assert_eq!(frames[1]["error"]["code"], "bad_frame");
}

#[test]
fn eof_on_a_frame_boundary_answers_what_came_before_then_closes() {
    let mut rig = Rig::new();
    let mut s = rig.session();
    let mut io = Fake { reads: [R::Data(noop()), R::Eof].into(), ..Fake::default() };
    assert_eq!(rig.pump(&mut s, &mut io, 1 << 20), Pumped::Close(CloseReason::Done));
    let frames = headers(&io.sent);
    // Before the connection check, a noop is refused; EOF after it is clean.
    assert_eq!(
        frames.iter().map(|f| f["error"]["code"].as_str()).collect::<Vec<_>>(),
        [None, Some("handshake_required")]
    );
}

#[test]
fn a_socket_error_closes_as_peer_closed() {
    let mut rig = Rig::new();
    let mut s = rig.session();
    let mut io = Fake { writes: [W::Reset].into(), ..Fake::default() };
    assert_eq!(rig.pump(&mut s, &mut io, 1 << 20), Pumped::Close(CloseReason::PeerClosed));
}

#[test]
fn interest_follows_back_pressure_and_a_spent_budget_keeps_readiness() {
    let mut rig = Rig::new();
    let mut s = rig.checked();
    // A peer that pipelines and never reads: its socket takes nothing.
    let flood: Vec<u8> = noop().repeat(40_000);
    let mut io = Fake { reads: [R::Data(flood)].into(), writes: [W::Block].into(), ..Fake::default() };
    rig.ready = Readiness::fresh();
    let mut turns = 0;
    loop {
        turns += 1;
        match rig.pump(&mut s, &mut io, 256 * 1024) {
            Pumped::Again => assert!(rig.ready.can_read, "a spent budget is not WouldBlock"),
            Pumped::Idle => break,
            Pumped::Close(r) => panic!("closed: {r:?}"),
        }
        assert!(turns < 10_000);
    }
    assert!(turns > 1, "the flood took more than one turn's budget");
    assert!(!io.reads.is_empty(), "reading stopped with most of the flood unread");
    assert_eq!(interest(&s, Channel::CONTROL, &io), Interest::WRITABLE, "output backed up: write only");
    // The peer reads: output drains, and interest returns to reading.
    rig.ready.can_write = true;
    io.writes.clear();
    while rig.pump(&mut s, &mut io, 256 * 1024) == Pumped::Again {}
    assert!(interest(&s, Channel::CONTROL, &io).is_readable());
}

/// A toy endpoint: echoes what it reads, then offers a file range.
struct Echo {
    held: Vec<u8>,
    file: Option<(std::fs::File, u64, u64)>,
    eof: bool,
}

impl Endpoint for Echo {
    fn id(&self) -> u64 {
        1
    }
    fn peer(&self) -> std::net::SocketAddr {
        "127.0.0.1:9".parse().unwrap()
    }
    fn wants_read(&self, _: Channel) -> bool {
        !self.eof && self.held.len() < 1024
    }
    fn read_from(
        &mut self,
        _: Channel,
        rd: &mut dyn Read,
        scratch: &mut [u8],
        budget: &mut Budget,
        _: Instant,
        _: &mut Services,
    ) -> io::Result<usize> {
        let n = rd.read(&mut scratch[..1024 - self.held.len()])?;
        self.eof = n == 0;
        self.held.extend_from_slice(&scratch[..n]);
        budget.charge(n.max(1));
        Ok(n)
    }
    fn wants_write(&self, ch: Channel) -> bool {
        !self.held.is_empty() || self.file_range(ch).is_some()
    }
    fn write_to(
        &mut self,
        _: Channel,
        wr: &mut dyn Write,
        b: &mut Budget,
        _: Instant,
        _: &mut Services,
    ) -> io::Result<usize> {
        if self.held.is_empty() {
            return Ok(0);
        }
        let n = wr.write(&self.held)?;
        self.held.drain(..n);
        b.charge(n);
        Ok(n)
    }
    fn file_range(&self, _: Channel) -> Option<FileRange<'_>> {
        match &self.file {
            Some((file, offset, len)) if self.held.is_empty() && *len > 0 => {
                Some(FileRange { fd: file.as_fd(), offset: *offset, len: *len })
            }
            _ => None,
        }
    }
    fn advance_file(&mut self, _: Channel, n: usize, _: Instant) {
        if let Some((_, offset, len)) = &mut self.file {
            *offset += n as u64;
            *len -= n as u64;
        }
    }
    fn poll_timeout(&self) -> Option<Instant> {
        None
    }
    fn handle_timeout(&mut self, _: Instant, _: &mut Services) {}
    fn is_closed(&self) -> bool {
        self.eof && !self.wants_write(Channel::CONTROL)
    }
    fn on_close(&mut self, _: CloseReason, _: Instant, _: &mut Services) {}
    fn begin_shutdown(&mut self, _: Instant, _: &mut Services) {}
}

/// A toy byte layer (XOR with a key) standing in for TLS: it reads the
/// socket itself, keeps what the endpoint writes until the driver flushes
/// it, and reports held bytes with `wants_flush`.
struct Xor {
    inner: Fake,
    key: u8,
    pending: Vec<u8>,
}

impl Read for Xor {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        buf[..n].iter_mut().for_each(|b| *b ^= self.key);
        Ok(n)
    }
}

impl Write for Xor {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.pending.extend(buf.iter().map(|b| b ^ self.key));
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Transport for Xor {
    fn wants_flush(&self) -> bool {
        !self.pending.is_empty()
    }
    fn flush_transport(&mut self) -> io::Result<()> {
        while !self.pending.is_empty() {
            let n = self.inner.write(&self.pending)?;
            self.pending.drain(..n);
        }
        Ok(())
    }
}

#[test]
fn a_layer_between_socket_and_session_changes_neither() {
    let mut rig = Rig::new();
    let mut s = rig.session();
    let request: Vec<u8> = noop().iter().map(|b| b ^ 0x5a).collect();
    let writes = [W::Take(10), W::Block, W::Take(usize::MAX), W::Block].into();
    let inner = Fake { reads: [R::Data(request)].into(), writes, ..Fake::default() };
    let mut io = Xor { inner, key: 0x5a, pending: Vec::new() };
    // The hello goes into the layer, 10 bytes of it to the socket; the
    // refused request is answered into the layer too.
    assert_eq!(rig.pump(&mut s, &mut io, 1 << 20), Pumped::Idle);
    rig.ready.can_write = true;
    assert_eq!(rig.pump(&mut s, &mut io, 1 << 20), Pumped::Idle, "the session is done, the layer is not");
    assert!(s.is_closed());
    assert!(io.wants_flush(), "the layer holds records the socket did not take");
    assert!(interest(&s, Channel::CONTROL, &io).is_writable(), "so WRITABLE stays registered");
    rig.ready.can_write = true;
    assert_eq!(rig.pump(&mut s, &mut io, 1 << 20), Pumped::Close(CloseReason::Done));
    assert!(!io.wants_flush());
    let clear: Vec<u8> = io.inner.sent.iter().map(|b| b ^ 0x5a).collect();
    let frames = headers(&clear);
    assert_eq!(frames[0]["notice"], "hello");
    assert_eq!(frames[1]["error"]["code"], "handshake_required");
}

#[test]
fn a_file_range_goes_through_a_layer_by_reading_and_writing() {
    let mut rig = Rig::new();
    let path = rig._dir.path().join("f");
    let content: Vec<u8> = (0..200_000u32).map(|i| (i % 253) as u8).collect();
    std::fs::write(&path, &content).unwrap();
    let file = std::fs::File::open(&path).unwrap();
    let mut ep = Echo { held: b"head:".to_vec(), file: Some((file, 0, content.len() as u64)), eof: false };
    let mut io = Xor { inner: Fake { reads: [R::Eof].into(), ..Fake::default() }, key: 7, pending: Vec::new() };
    let mut turns = 0;
    loop {
        turns += 1;
        match rig.pump(&mut ep, &mut io, 64 * 1024) {
            Pumped::Again => continue,
            Pumped::Close(CloseReason::Done) => break,
            other => panic!("{other:?}"),
        }
    }
    assert!(turns > 2, "the budget split the file over turns");
    let clear: Vec<u8> = io.inner.sent.iter().map(|b| b ^ 7).collect();
    assert_eq!(&clear[..5], b"head:");
    assert_eq!(&clear[5..], &content[..]);
}
