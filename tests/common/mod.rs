//! Shared test support: a real server on 127.0.0.1:0 with a temporary data
//! root, the real client library, and a raw-socket peer for hostile bytes.
#![allow(dead_code)] // each test binary uses a different part of this module

use mioftp::config::Config;
use mioftp::protocol::frame;
use mioftp::protocol::scram;
use mioftp::server::{RunningServer, Server};
use mioftp_client::Client;
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::time::Duration;

/// Low KDF cost so the suite runs fast; the binary's default is 600,000.
pub const TEST_ITERATIONS: u32 = 1000;
/// Every socket read in the tests gives up after this long: no test hangs.
pub const IO_TIMEOUT: Duration = Duration::from_secs(20);
pub const PASSWORD: &str = "correct horse battery";

pub struct TestServer {
    pub root: tempfile::TempDir,
    pub key: Vec<u8>,
    pub addr: SocketAddr,
    server: Option<RunningServer>,
}

impl TestServer {
    pub fn start() -> TestServer {
        TestServer::start_with(|_| {})
    }

    pub fn start_with(tweak: impl FnOnce(&mut Config)) -> TestServer {
        let root = tempfile::tempdir().expect("temp root");
        let mut cfg = Config::new(root.path());
        cfg.listen = "127.0.0.1:0".parse().unwrap();
        cfg.min_iterations = TEST_ITERATIONS;
        tweak(&mut cfg);
        let server = Server::bind(cfg).expect("bind").spawn().expect("spawn");
        let key = std::fs::read(root.path().join("server.key")).expect("server.key created at start");
        TestServer { addr: server.addr, root, key, server: Some(server) }
    }

    pub fn addr_str(&self) -> String {
        self.addr.to_string()
    }

    /// A key-checked client.
    pub fn client(&self) -> Client {
        Client::connect(&self.addr_str(), &self.key).expect("connect and pass the check")
    }

    /// A registered and logged-in client.
    pub fn user(&self, name: &str) -> Client {
        let mut c = self.client();
        c.register(name, PASSWORD).expect("register");
        c.login(name, PASSWORD).expect("login");
        c
    }

    /// A raw socket, hello already read.
    pub fn raw(&self) -> Raw {
        let mut raw = Raw::connect(self.addr);
        let hello = raw.recv();
        assert_eq!(hello["notice"], "hello", "{hello}");
        raw.challenge = scram::unb64(hello["challenge"].as_str().unwrap()).unwrap();
        raw
    }

    /// A raw socket that passed the connection check.
    pub fn raw_checked(&self) -> Raw {
        let mut raw = self.raw();
        let mac = scram::hmac(&self.key, &raw.challenge);
        assert_eq!(raw.call(json!({"op": "auth", "hmac": scram::b64(&mac)})), json!({"ok": true}));
        raw
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.path().join(rel)
    }

    /// The records of one audit log.
    pub fn log(&self, name: &str) -> Vec<Value> {
        let text = std::fs::read_to_string(self.path("logs").join(name)).unwrap_or_default();
        text.lines().map(|l| serde_json::from_str(l).expect("whole JSON line")).collect()
    }

    pub fn accounts_log(&self) -> Vec<Value> {
        self.log("register_login_accounts.log")
    }

    /// Stops the server and waits for its thread.
    pub fn stop(mut self) {
        if let Some(s) = self.server.take() {
            s.stop().expect("server loop ended cleanly");
        }
    }
}

/// A raw protocol peer.
pub struct Raw {
    pub stream: TcpStream,
    pub challenge: Vec<u8>,
}

impl Raw {
    pub fn connect(addr: SocketAddr) -> Raw {
        let stream = TcpStream::connect(addr).expect("connect");
        stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        stream.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
        stream.set_nodelay(true).unwrap();
        Raw { stream, challenge: Vec::new() }
    }

    pub fn send_bytes(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write");
    }

    pub fn send(&mut self, v: Value) {
        let bytes = frame::encode_to_vec(&v).unwrap();
        self.send_bytes(&bytes);
    }

    /// Reads one frame header as JSON (bodies are left unread).
    pub fn recv(&mut self) -> Value {
        self.try_recv().expect("a frame from the server")
    }

    /// One frame, or `None` if the server closed the connection.
    pub fn try_recv(&mut self) -> Option<Value> {
        let mut prefix = [0u8; 4];
        match self.stream.read_exact(&mut prefix) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return None,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return None,
            Err(e) => panic!("reading a frame: {e}"),
        }
        let len = frame::header_len(prefix).expect("server frame length");
        let mut header = vec![0u8; len];
        self.stream.read_exact(&mut header).expect("frame header");
        Some(Value::Object(frame::parse_header(&header).expect("server frame").header))
    }

    pub fn call(&mut self, v: Value) -> Value {
        self.send(v);
        self.recv()
    }

    /// Asserts that the server closes the connection (after any frames).
    pub fn expect_closed(&mut self) {
        let mut buf = [0u8; 1024];
        loop {
            match self.stream.read(&mut buf) {
                Ok(0) => return,
                Ok(_) => continue,
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return,
                Err(e) => panic!("expected the server to close; got {e}"),
            }
        }
    }
}

/// The error code of a reply, or "" for a success.
pub fn code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or("")
}

/// (event, outcome, reason) of each record, for compact assertions.
pub fn summary(records: &[Value]) -> Vec<(String, String, String)> {
    records
        .iter()
        .map(|r| {
            let s = |k: &str| r[k].as_str().unwrap_or("").to_owned();
            (s("event"), s("outcome"), s("reason"))
        })
        .collect()
}

// ---- Helpers for the file and transfer tests (tests/files.rs, tests/transfers.rs) ----

impl TestServer {
    /// Logs an existing user in on a new connection to `addr` (the server's
    /// own address, or a relay in front of it).
    pub fn login_via(&self, addr: &str, name: &str) -> Client {
        let mut c = Client::connect(addr, &self.key).expect("connect and pass the check");
        c.login(name, PASSWORD).expect("login");
        c
    }

    /// Logs an existing user in on a new direct connection.
    pub fn login(&self, name: &str) -> Client {
        self.login_via(&self.addr_str(), name)
    }

    /// Waits until the audit log `name` has a record matching `pred`.
    pub fn wait_for_record(&self, name: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let mut found = None;
        wait_until(&format!("a matching record in {name}"), || {
            found = self.log(name).into_iter().find(|r| pred(r));
            found.is_some()
        });
        found.expect("found")
    }
}

/// Deterministic pseudo-random numbers (xorshift64): tests stay reproducible.
pub struct XorShift(u64);

impl XorShift {
    pub fn new(seed: u64) -> XorShift {
        XorShift(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    pub fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let bytes = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
    }
}

/// Writes `len` pseudo-random bytes from `seed` to `path`, streaming, and
/// returns their SHA-256 in hex.
pub fn random_file(path: &std::path::Path, len: u64, seed: u64) -> String {
    use sha2::{Digest, Sha256};
    let mut rng = XorShift::new(seed);
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).expect("create test file"));
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut left = len;
    while left > 0 {
        let n = buf.len().min(left as usize);
        rng.fill(&mut buf[..n]);
        hasher.update(&buf[..n]);
        out.write_all(&buf[..n]).expect("write test file");
        left -= n as u64;
    }
    out.flush().expect("flush test file");
    hex::encode(hasher.finalize())
}

/// The SHA-256 (hex) of a local file.
pub fn sha256_file(path: &std::path::Path) -> String {
    mioftp_client::digest::file_sha256(path).expect("hash a local file")
}

/// Polls `cond` every few milliseconds; panics after `IO_TIMEOUT`.
pub fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + IO_TIMEOUT;
    while !cond() {
        assert!(std::time::Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A one-connection TCP relay in front of `upstream` that passes the client's
/// bytes through untouched but closes both sides once `limit` bytes have gone
/// from the server to the client: a network cut at an exact point of a
/// download. Returns the address to connect to.
pub fn cut_relay(upstream: SocketAddr, limit: u64) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind relay");
    let addr = listener.local_addr().expect("relay address").to_string();
    std::thread::spawn(move || {
        let Ok((client, _)) = listener.accept() else { return };
        let Ok(server) = TcpStream::connect(upstream) else { return };
        let (Ok(mut from_client), Ok(mut to_server)) = (client.try_clone(), server.try_clone()) else { return };
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut from_client, &mut to_server);
            let _ = to_server.shutdown(std::net::Shutdown::Write);
        });
        let (mut from_server, mut to_client) = (server, client);
        let _ = std::io::copy(&mut (&mut from_server).take(limit), &mut to_client);
        let _ = to_client.shutdown(std::net::Shutdown::Both);
        let _ = from_server.shutdown(std::net::Shutdown::Both);
    });
    addr
}

/// Registers `user` with the client library, then logs in on a raw socket.
pub fn login_raw(server: &TestServer, user: &str) -> Raw {
    if !server.path(&format!("accounts/{user}.json")).exists() {
        server.user(user).exit().unwrap();
    }
    let mut raw = server.raw_checked();
    scram_login(&mut raw, user);
    raw
}

/// A SCRAM login over a raw socket.
pub fn scram_login(raw: &mut Raw, user: &str) {
    use mioftp::protocol::scram::{ClientKeys, Exchange};
    let first = raw.call(json!({"op": "login", "user": user, "nonce": "rawclientnonce1"}));
    let salt = scram::unb64(first["salt"].as_str().unwrap()).unwrap();
    let it = first["iterations"].as_u64().unwrap() as u32;
    let nonce = first["nonce"].as_str().unwrap().to_owned();
    let ex = Exchange { user, client_nonce: "rawclientnonce1", nonce: &nonce, salt: &salt, iterations: it };
    let keys = ClientKeys::from_salted(&scram::salted_password(PASSWORD.as_bytes(), &salt, it));
    let done = raw.call(json!({"op": "login_proof", "proof": scram::b64(&keys.proof(&ex.auth_message()))}));
    assert_eq!(done["ok"], true, "{done}");
}
