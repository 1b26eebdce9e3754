//! Data channels over loopback, with a toy FTP-like endpoint: line commands
//! on the control connection, `PASV` and `PORT` asking the driver for a
//! listener or an outgoing connection, and the data bytes flowing through
//! the same endpoint on channel 1 (a prefix by `write_to`, then a file by
//! the sendfile hint; or an upload read to EOF).

use super::super::*;
use crate::session::{ChannelEvent, DriverRequest, Endpoint, FileRange};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener as StdListener, TcpStream};
use std::os::fd::AsFd;

const DATA: Channel = Channel(1);
const PREFIX: &[u8] = b"DATA\n";

struct Toy {
    peer: SocketAddr,
    inbox: Vec<u8>,
    out: Vec<u8>,
    requests: VecDeque<DriverRequest>,
    /// The address data connections must come from.
    allow: IpAddr,
    file: std::fs::File,
    len: u64,
    /// `RETR` (we send) or `STOR` (we receive).
    mode: &'static str,
    open: bool,
    prefix_left: usize,
    sent: u64,
    received: u64,
    now: Instant,
    /// The server is shutting down.
    closing: bool,
}

impl Toy {
    fn command(&mut self, line: &str) {
        let words: Vec<&str> = line.split_whitespace().collect();
        self.mode = if words.last() == Some(&"STOR") { "STOR" } else { "RETR" };
        let deadline = self.now + Duration::from_millis(800);
        match words.first().copied() {
            Some("PASV") => self.requests.push_back(DriverRequest::Listen {
                channel: DATA,
                ip: "127.0.0.1".parse().unwrap(),
                ports: 20_000..=60_999,
                from: self.allow,
                deadline,
            }),
            Some("PORT") => {
                let to = words[1].parse().unwrap();
                self.requests.push_back(DriverRequest::Connect { channel: DATA, to, deadline });
            }
            _ => self.out.extend_from_slice(b"500\n"),
        }
    }

    fn finish(&mut self, what: String) {
        self.open = false;
        self.requests.push_back(DriverRequest::CloseChannel { channel: DATA });
        self.out.extend_from_slice(format!("226 {what}\n").as_bytes());
    }
}

impl Endpoint for Toy {
    fn id(&self) -> u64 {
        9
    }
    fn peer(&self) -> SocketAddr {
        self.peer
    }
    fn wants_read(&self, ch: Channel) -> bool {
        ch == Channel::CONTROL || (self.open && self.mode == "STOR")
    }
    fn read_from(
        &mut self,
        ch: Channel,
        rd: &mut dyn io::Read,
        scratch: &mut [u8],
        budget: &mut Budget,
        now: Instant,
        _: &mut Services,
    ) -> io::Result<usize> {
        self.now = now;
        let n = rd.read(scratch)?;
        budget.charge(n.max(1));
        if ch == DATA {
            self.received += n as u64;
            if n == 0 {
                self.finish(self.received.to_string());
            }
            return Ok(n);
        }
        self.inbox.extend_from_slice(&scratch[..n]);
        while let Some(end) = self.inbox.iter().position(|b| *b == b'\n') {
            let line = String::from_utf8_lossy(&self.inbox[..end]).into_owned();
            self.inbox.drain(..=end);
            self.command(&line);
        }
        Ok(n)
    }
    fn wants_write(&self, ch: Channel) -> bool {
        match ch {
            Channel::CONTROL => !self.out.is_empty(),
            _ => self.open && self.mode == "RETR" && (self.prefix_left > 0 || self.sent < self.len),
        }
    }
    fn write_to(
        &mut self,
        ch: Channel,
        wr: &mut dyn io::Write,
        b: &mut Budget,
        _: Instant,
        _: &mut Services,
    ) -> io::Result<usize> {
        let pending =
            if ch == Channel::CONTROL { &mut self.out[..] } else { &PREFIX[PREFIX.len() - self.prefix_left..] };
        if pending.is_empty() {
            return Ok(0);
        }
        let n = wr.write(pending)?;
        if ch == Channel::CONTROL {
            self.out.drain(..n);
        } else {
            self.prefix_left -= n;
        }
        b.charge(n);
        Ok(n)
    }
    fn file_range(&self, ch: Channel) -> Option<FileRange<'_>> {
        let go = ch == DATA && self.open && self.mode == "RETR" && self.prefix_left == 0 && self.sent < self.len;
        go.then(|| FileRange { fd: self.file.as_fd(), offset: self.sent, len: self.len - self.sent })
    }
    fn advance_file(&mut self, _: Channel, n: usize, _: Instant) {
        self.sent += n as u64;
        if self.sent == self.len {
            self.finish("sent".into());
        }
    }
    fn poll_timeout(&self) -> Option<Instant> {
        None
    }
    fn handle_timeout(&mut self, _: Instant, _: &mut Services) {}
    fn is_closed(&self) -> bool {
        self.closing && self.out.is_empty()
    }
    fn on_close(&mut self, _: CloseReason, _: Instant, _: &mut Services) {}
    fn begin_shutdown(&mut self, _: Instant, _: &mut Services) {
        self.closing = true;
    }
    fn poll_request(&mut self) -> Option<DriverRequest> {
        self.requests.pop_front()
    }
    fn handle_channel(&mut self, event: ChannelEvent, _: Instant, _: &mut Services) {
        let line = match event {
            ChannelEvent::Listening { addr, .. } => format!("227 {}", addr.port()),
            ChannelEvent::Open { .. } => {
                (self.open, self.prefix_left, self.sent, self.received) = (true, PREFIX.len(), 0, 0);
                "150".into()
            }
            ChannelEvent::Failed { error, .. } => {
                self.open = false;
                format!("425 {error}")
            }
        };
        self.out.extend_from_slice(format!("{line}\n").as_bytes());
    }
}

struct ToyAcceptor {
    path: std::path::PathBuf,
    allow: IpAddr,
}

impl Acceptor for ToyAcceptor {
    fn start(&mut self, _: u64, peer: SocketAddr, now: Instant, _: &Services) -> io::Result<Box<dyn Endpoint>> {
        let file = std::fs::File::open(&self.path)?;
        let len = file.metadata()?.len();
        Ok(Box::new(Toy {
            peer,
            inbox: Vec::new(),
            out: Vec::new(),
            requests: VecDeque::new(),
            allow: self.allow,
            file,
            len,
            mode: "RETR",
            open: false,
            prefix_left: 0,
            sent: 0,
            received: 0,
            now,
            closing: false,
        }))
    }
}

struct Rig {
    server: RunningServer,
    content: Vec<u8>,
    _root: tempfile::TempDir,
}

fn start(allow: &str) -> Rig {
    let root = tempfile::tempdir().unwrap();
    let path = root.path().join("payload");
    let content: Vec<u8> = (0..3_000_000u32).map(|i| (i % 241) as u8).collect();
    std::fs::write(&path, &content).unwrap();
    let mut cfg = Config::new(root.path().join("data"));
    cfg.listen = "127.0.0.1:0".parse().unwrap();
    let acceptor = ToyAcceptor { path, allow: allow.parse().unwrap() };
    let server = Server::bind_with(cfg, Box::new(acceptor)).unwrap().spawn().unwrap();
    Rig { server, content, _root: root }
}

fn control(rig: &Rig) -> (TcpStream, BufReader<TcpStream>) {
    let s = TcpStream::connect(rig.server.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let r = BufReader::new(s.try_clone().unwrap());
    (s, r)
}

fn line(r: &mut BufReader<TcpStream>) -> String {
    let mut l = String::new();
    r.read_line(&mut l).unwrap();
    l.trim_end().to_owned()
}

#[test]
fn a_passive_data_connection_carries_a_prefix_and_a_file_then_closes() {
    let rig = start("127.0.0.1");
    let (mut c, mut r) = control(&rig);
    c.write_all(b"PASV RETR\n").unwrap();
    let port: u16 = line(&mut r).strip_prefix("227 ").unwrap().parse().unwrap();
    assert!((20_000..=60_999).contains(&port));
    let mut data = TcpStream::connect(("127.0.0.1", port)).unwrap();
    data.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut got = Vec::new();
    data.read_to_end(&mut got).unwrap();
    assert_eq!(&got[..PREFIX.len()], PREFIX);
    assert!(got[PREFIX.len()..] == rig.content[..], "the file came whole and in order");
    assert_eq!(line(&mut r), "150");
    assert_eq!(line(&mut r), "226 sent");
    // The listener took one connection and closed.
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
}

#[test]
fn a_data_connection_from_another_address_is_refused_and_the_deadline_still_holds() {
    let rig = start("127.0.0.2");
    let (mut c, mut r) = control(&rig);
    c.write_all(b"PASV RETR\n").unwrap();
    let port: u16 = line(&mut r).strip_prefix("227 ").unwrap().parse().unwrap();
    let mut thief = TcpStream::connect(("127.0.0.1", port)).unwrap();
    thief.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut buf = [0u8; 16];
    assert!(matches!(thief.read(&mut buf), Ok(0) | Err(_)), "a foreign peer gets nothing");
    let failed = line(&mut r);
    assert!(failed.starts_with("425 ") && failed.contains("in time"), "{failed}");
}

#[test]
fn an_active_data_connection_receives_an_upload_to_eof() {
    let rig = start("127.0.0.1");
    let (mut c, mut r) = control(&rig);
    let client_side = StdListener::bind("127.0.0.1:0").unwrap();
    c.write_all(format!("PORT {} STOR\n", client_side.local_addr().unwrap()).as_bytes()).unwrap();
    let (mut data, _) = client_side.accept().unwrap();
    assert_eq!(line(&mut r), "150");
    data.write_all(&rig.content).unwrap();
    data.shutdown(std::net::Shutdown::Write).unwrap();
    assert_eq!(line(&mut r), format!("226 {}", rig.content.len()));
}

#[test]
fn a_refused_outgoing_connection_is_reported() {
    let rig = start("127.0.0.1");
    let (mut c, mut r) = control(&rig);
    let closed = StdListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    c.write_all(format!("PORT {closed} RETR\n").as_bytes()).unwrap();
    let failed = line(&mut r);
    assert!(failed.starts_with("425 connecting failed"), "{failed}");
}
