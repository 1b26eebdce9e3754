//! The driver over loopback with toy acceptors: here, a preamble endpoint
//! (a one-line stand-in for the PROXY protocol) reveals the real peer
//! before admission; the per-IP limit and the audit logs then see that
//! address, and the bytes after the preamble reach the session. `data.rs`:
//! a toy FTP-like endpoint asks for data connections. `work.rs`: a toy
//! endpoint asks for worker jobs.

mod data;
mod work;

use super::*;
use crate::protocol::frame;
use crate::session::{DriverRequest, Endpoint, Session};
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::TcpStream;

/// Reads `PEER <addr>\n`, then asks to be replaced by a native session.
struct LinePreamble {
    id: u64,
    peer: SocketAddr,
    line: Vec<u8>,
    request: Option<DriverRequest>,
    deadline: Instant,
    failed: bool,
}

impl Endpoint for LinePreamble {
    fn id(&self) -> u64 {
        self.id
    }
    fn peer(&self) -> SocketAddr {
        self.peer
    }
    fn wants_read(&self, _: Channel) -> bool {
        self.request.is_none() && !self.failed
    }
    fn read_from(
        &mut self,
        _: Channel,
        rd: &mut dyn io::Read,
        scratch: &mut [u8],
        budget: &mut Budget,
        _: Instant,
        _: &mut Services,
    ) -> io::Result<usize> {
        let n = rd.read(&mut scratch[..64])?;
        budget.charge(n.max(1));
        self.line.extend_from_slice(&scratch[..n]);
        match self.line.iter().position(|b| *b == b'\n') {
            Some(end) => {
                let text = std::str::from_utf8(&self.line[..end]).unwrap_or("");
                match text.strip_prefix("PEER ").and_then(|a| a.parse().ok()) {
                    Some(peer) => {
                        let leftover = self.line[end + 1..].to_vec();
                        self.request = Some(DriverRequest::Admit { peer, leftover });
                    }
                    None => self.failed = true,
                }
            }
            None => self.failed = n == 0 || self.line.len() > 64,
        }
        Ok(n)
    }
    fn wants_write(&self, _: Channel) -> bool {
        false
    }
    fn write_to(
        &mut self,
        _: Channel,
        _: &mut dyn io::Write,
        _: &mut Budget,
        _: Instant,
        _: &mut Services,
    ) -> io::Result<usize> {
        Ok(0)
    }
    fn poll_timeout(&self) -> Option<Instant> {
        Some(self.deadline)
    }
    fn handle_timeout(&mut self, _: Instant, _: &mut Services) {
        self.failed = true;
    }
    fn is_closed(&self) -> bool {
        self.failed
    }
    fn on_close(&mut self, _: CloseReason, _: Instant, _: &mut Services) {}
    fn begin_shutdown(&mut self, _: Instant, _: &mut Services) {
        self.failed = true;
    }
    fn poll_request(&mut self) -> Option<DriverRequest> {
        self.request.take()
    }
}

struct ProxyToy;

impl Acceptor for ProxyToy {
    fn preamble(&mut self, id: u64, peer: SocketAddr, now: Instant, _: &Services) -> Option<Box<dyn Endpoint>> {
        let deadline = now + Duration::from_secs(5);
        Some(Box::new(LinePreamble { id, peer, line: Vec::new(), request: None, deadline, failed: false }))
    }
    fn start(&mut self, id: u64, peer: SocketAddr, now: Instant, svc: &Services) -> io::Result<Box<dyn Endpoint>> {
        Ok(Box::new(Session::new(id, peer, now, svc)?))
    }
}

fn connect(addr: SocketAddr, first: &[u8]) -> TcpStream {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(first).unwrap();
    s
}

/// The next frame's header (no body expected).
fn recv(s: &mut TcpStream) -> Value {
    let mut len = [0u8; 4];
    s.read_exact(&mut len).unwrap();
    let mut header = vec![0u8; u32::from_be_bytes(len) as usize];
    s.read_exact(&mut header).unwrap();
    let mut whole = len.to_vec();
    whole.extend(header);
    Value::Object(frame::decode(&whole).unwrap().unwrap().0.header)
}

#[test]
fn a_preamble_reveals_the_peer_before_admission_and_its_bytes_after_reach_the_session() {
    let root = tempfile::tempdir().unwrap();
    let mut cfg = Config::new(root.path());
    cfg.listen = "127.0.0.1:0".parse().unwrap();
    cfg.max_per_ip = 1;
    let server = Server::bind_with(cfg, Box::new(ProxyToy)).unwrap().spawn().unwrap();

    // The preamble, and a first request in the same packet.
    let auth = frame::encode_to_vec(&json!({"op": "auth", "hmac": "AAAA"})).unwrap();
    let mut a = connect(server.addr, &[b"PEER 10.0.0.1:1000\n".as_slice(), &auth].concat());
    assert_eq!(recv(&mut a)["notice"], "hello");
    assert_eq!(recv(&mut a)["error"]["code"], "handshake_failed", "the bytes after the preamble were read");

    // The per-IP limit counts the revealed address, not the balancer's.
    let mut b = connect(server.addr, b"PEER 10.0.0.2:1000\n");
    assert_eq!(recv(&mut b)["notice"], "hello");
    let mut c = connect(server.addr, b"PEER 10.0.0.2:1001\n");
    assert_eq!(recv(&mut c)["error"]["code"], "server_busy");

    // A bad preamble is closed without a session.
    let mut d = connect(server.addr, b"HELLO\n");
    assert_eq!(d.read(&mut [0u8; 16]).unwrap(), 0);

    drop((a, b, c));
    server.stop().unwrap();
    let log = std::fs::read_to_string(root.path().join("logs/register_login_accounts.log")).unwrap();
    let first: Value = serde_json::from_str(log.lines().next().unwrap()).unwrap();
    assert_eq!((first["event"].as_str(), first["peer"].as_str()), (Some("handshake"), Some("10.0.0.1:1000")));
}
