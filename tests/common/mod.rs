//! Shared test support: a real server on 127.0.0.1:0 with a temporary data
//! root, the real client library, and a raw-socket peer for hostile bytes.
#![allow(dead_code)] // each test binary uses a different part of this module

use mioftp::config::Config;
use mioftp::protocol::frame;
use mioftp::protocol::scram;
use mioftp::server::{RunningServer, Server};
use mioftp_client::Client;
use mioftp_testkit::read_frame;
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
        TestServer::start_in(tempfile::tempdir().expect("temp root"), None, tweak)
    }

    /// A server whose data root is `root` (say, a small filesystem mounted
    /// there), with homes and accounts in `storage` if given (the key files
    /// and logs stay under `root`).
    pub fn start_in(
        root: tempfile::TempDir,
        storage: Option<std::sync::Arc<dyn mioftp::storage::Storage>>,
        tweak: impl FnOnce(&mut Config),
    ) -> TestServer {
        let mut cfg = Config::new(root.path());
        cfg.listen = "127.0.0.1:0".parse().unwrap();
        cfg.min_iterations = TEST_ITERATIONS;
        tweak(&mut cfg);
        let svc = match storage {
            Some(storage) => mioftp::services::Services::with_storage(cfg, storage),
            None => mioftp::services::Services::open(cfg),
        };
        let server = Server::bind_services(svc.expect("open the data root"), Box::new(mioftp::session::Native))
            .expect("bind")
            .spawn()
            .expect("spawn");
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
        match read_frame(&mut self.stream) {
            Ok(f) => f.map(|f| Value::Object(f.header)),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => None,
            Err(e) => panic!("reading a frame: {e}"),
        }
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

/// The shared test PRNG (`mioftp-testkit`): tests stay reproducible.
#[allow(unused_imports)] // each test binary uses a different part of this module
pub use mioftp_testkit::{XorShift, bytes};

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

// ---- Helpers for the hardening tests (tests/hostile/, tests/crash.rs, tests/operations/) ----

/// A frame whose header is exactly `header` (any bytes, not necessarily
/// JSON), with its true length as the prefix.
pub fn raw_frame(header: &[u8]) -> Vec<u8> {
    let mut out = (header.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(header);
    out
}

/// The encoded frame of a JSON header.
pub fn frame_of(v: &Value) -> Vec<u8> {
    frame::encode_to_vec(v).expect("encodable test frame")
}

/// The hex SHA-256 of some bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(bytes))
}

/// What a bounded read of a raw socket saw.
#[derive(Debug, PartialEq)]
pub enum Seen {
    Frame(Value),
    /// EOF or a reset: the server closed the connection.
    Closed,
    /// Nothing arrived within the time given.
    Nothing,
}

impl Raw {
    /// Writes `bytes`, tolerating a server that already closed the
    /// connection. Returns whether everything was written.
    pub fn send_lossy(&mut self, bytes: &[u8]) -> bool {
        self.stream.write_all(bytes).is_ok()
    }

    /// Reads frames until a reply (`ok`), skipping notices.
    pub fn recv_reply(&mut self) -> Value {
        loop {
            let v = self.recv();
            if v.get("ok").is_some() {
                return v;
            }
        }
    }

    /// Reads exactly `n` body bytes.
    pub fn read_body(&mut self, n: usize) -> Vec<u8> {
        let mut body = vec![0u8; n];
        self.stream.read_exact(&mut body).expect("a body from the server");
        body
    }

    /// Reads one frame, a close, or nothing within `within`. A frame that
    /// starts arriving is read whole (under the usual `IO_TIMEOUT`).
    pub fn recv_within(&mut self, within: Duration) -> Seen {
        self.stream.set_read_timeout(Some(within)).unwrap();
        let mut first = [0u8; 1];
        let got = self.stream.read(&mut first);
        self.stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        match got {
            Ok(0) => Seen::Closed,
            Ok(_) => {
                let f = read_frame(&mut (&first[..]).chain(&mut self.stream)).expect("a whole frame from the server");
                Seen::Frame(Value::Object(f.expect("its first byte arrived").header))
            }
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => Seen::Closed,
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                Seen::Nothing
            }
            Err(e) => panic!("reading a frame: {e}"),
        }
    }

    /// Asserts that the next frame is a failure with `code`, and that the
    /// server then closes without sending anything else.
    pub fn expect_fatal(&mut self, code_wanted: &str) {
        let reply = self.recv();
        assert_eq!(code(&reply), code_wanted, "{reply}");
        assert_eq!(self.recv_within(IO_TIMEOUT), Seen::Closed, "nothing may follow a fatal error");
    }

    /// A whole `dir` listing (all its frames); returns the entry names and
    /// the final frame.
    pub fn dir_listing(&mut self, path: &str) -> (Vec<String>, Value) {
        self.send(json!({"op": "dir", "path": path}));
        self.read_listing()
    }

    /// Reads the frames of one listing already requested.
    pub fn read_listing(&mut self) -> (Vec<String>, Value) {
        let mut names = Vec::new();
        loop {
            let f = self.recv_reply();
            assert_eq!(f["ok"], true, "{f}");
            for e in f["entries"].as_array().expect("entries") {
                names.push(e["name"].as_str().expect("name").to_owned());
            }
            if f["more"] == false {
                return (names, f);
            }
        }
    }
}

/// Every file, directory and link under `root`, except the paths in `skip`,
/// with file contents: to prove that nothing else changed.
pub fn tree_snapshot(root: &std::path::Path, skip: &[PathBuf]) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries {
            let path = entry.expect("directory entry").path();
            if skip.iter().any(|s| path.starts_with(s)) {
                continue;
            }
            let key = path.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            let meta = std::fs::symlink_metadata(&path).expect("metadata");
            if meta.file_type().is_symlink() {
                out.insert(key + " ->", std::fs::read_link(&path).unwrap().to_string_lossy().as_bytes().to_vec());
            } else if meta.is_dir() {
                out.insert(key + "/", Vec::new());
                stack.push(path);
            } else {
                out.insert(key, std::fs::read(&path).unwrap_or_default());
            }
        }
    }
    out
}

/// The user-visible files of a home (relative paths, sorted), leaving out the
/// server's hidden `.mioftp` bookkeeping.
pub fn visible_files(home: &std::path::Path) -> Vec<String> {
    let mut out: Vec<String> = tree_snapshot(home, &[home.join(".mioftp")]).into_keys().collect();
    out.sort();
    out
}

/// Starts a new in-process server on this server's data root (after
/// stopping this one), e.g. to resume after a fault went away.
impl TestServer {
    pub fn restart_with(mut self, tweak: impl FnOnce(&mut Config)) -> TestServer {
        if let Some(s) = self.server.take() {
            s.stop().expect("server loop ended cleanly");
        }
        let mut cfg = Config::new(self.root.path());
        cfg.listen = "127.0.0.1:0".parse().unwrap();
        cfg.min_iterations = TEST_ITERATIONS;
        tweak(&mut cfg);
        let server = Server::bind(cfg).expect("bind").spawn().expect("spawn");
        TestServer { addr: server.addr, root: self.root, key: self.key, server: Some(server) }
    }
}

/// Polls `cond` every few milliseconds until it holds or `within` passes;
/// returns whether it held.
pub fn poll_until(within: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + within;
    loop {
        if cond() {
            return true;
        }
        if std::time::Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The real `mioftpd` binary serving a data root on a free loopback port.
pub struct Daemon {
    pub child: std::process::Child,
    pub addr: SocketAddr,
    pub root: PathBuf,
}

impl Daemon {
    /// Starts `mioftpd --root ROOT --listen 127.0.0.1:PORT --min-iterations
    /// 1000` plus `extra` flags, on a port that was free a moment ago; if
    /// another process took it meanwhile, tries again with another. Returns
    /// once the server answers with a hello.
    pub fn start(root: &std::path::Path, extra: &[&str]) -> Daemon {
        Daemon::start_limited(root, None, extra)
    }

    /// Like [`Daemon::start`], with RLIMIT_NOFILE (soft and hard) set to
    /// `nofile` in the child before it runs the server.
    pub fn start_limited(root: &std::path::Path, nofile: Option<u64>, extra: &[&str]) -> Daemon {
        for _attempt in 0..10 {
            let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
            let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
            let stderr = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(root.parent().unwrap_or(root).join(format!("{}.stderr", root_name(root))))
                .expect("daemon stderr file");
            let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_mioftpd"));
            if let Some(limit) = nofile {
                use std::os::unix::process::CommandExt;
                let rlimit = rustix::process::Rlimit { current: Some(limit), maximum: Some(limit) };
                // SAFETY: runs in the child between fork and exec, where only
                // async-signal-safe calls are allowed; setrlimit is one system
                // call on a value prepared before the fork, allocating nothing.
                unsafe {
                    command.pre_exec(move || {
                        rustix::process::setrlimit(rustix::process::Resource::Nofile, rlimit)
                            .map_err(std::io::Error::from)
                    });
                }
            }
            // Only the flags below count: no MIOFTPD_* variable of the caller's.
            for (name, _) in std::env::vars_os().filter(|(n, _)| n.to_string_lossy().starts_with("MIOFTPD_")) {
                command.env_remove(name);
            }
            let mut child = command
                .arg("--root")
                .arg(root)
                .arg("--listen")
                .arg(addr.to_string())
                .args(["--min-iterations", &TEST_ITERATIONS.to_string()])
                .args(extra)
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(stderr)
                .spawn()
                .expect("spawn mioftpd");
            let deadline = std::time::Instant::now() + IO_TIMEOUT;
            loop {
                if let Some(status) = child.try_wait().expect("try_wait") {
                    // Most likely the port was taken between our probe and its bind.
                    eprintln!("mioftpd exited at start ({status}); trying another port");
                    break;
                }
                if let Ok(mut s) = TcpStream::connect(addr) {
                    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
                    let mut prefix = [0u8; 4];
                    if s.read_exact(&mut prefix).is_ok() {
                        return Daemon { child, addr, root: root.to_path_buf() };
                    }
                }
                assert!(std::time::Instant::now() < deadline, "mioftpd did not start listening on {addr}");
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        panic!("could not start mioftpd on a free port");
    }

    pub fn addr_str(&self) -> String {
        self.addr.to_string()
    }

    /// The pre-shared key the server created in its root.
    pub fn key(&self) -> Vec<u8> {
        std::fs::read(self.root.join("server.key")).expect("server.key")
    }

    pub fn client(&self) -> Client {
        Client::connect(&self.addr_str(), &self.key()).expect("connect and pass the check")
    }

    /// A raw socket that passed the connection check.
    pub fn raw_checked(&self) -> Raw {
        let mut raw = Raw::connect(self.addr);
        let hello = raw.recv();
        assert_eq!(hello["notice"], "hello", "{hello}");
        let challenge = scram::unb64(hello["challenge"].as_str().unwrap()).unwrap();
        let mac = scram::hmac(&self.key(), &challenge);
        assert_eq!(raw.call(json!({"op": "auth", "hmac": scram::b64(&mac)})), json!({"ok": true}));
        raw
    }

    /// Sends a signal to the server process.
    pub fn signal(&self, signal: rustix::process::Signal) {
        rustix::process::kill_process(rustix::process::Pid::from_child(&self.child), signal).expect("kill(2)");
    }

    /// SIGKILL, then reap.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits (bounded) for the process to exit; panics if it does not.
    pub fn wait_exit(&mut self, within: Duration) -> std::process::ExitStatus {
        let deadline = std::time::Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(std::time::Instant::now() < deadline, "mioftpd did not exit within {within:?}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The records of one audit log (a torn line is an error here).
    pub fn log(&self, name: &str) -> Vec<Value> {
        let text = std::fs::read_to_string(self.root.join("logs").join(name)).unwrap_or_default();
        text.lines().map(|l| serde_json::from_str(l).expect("whole JSON line")).collect()
    }
}

fn root_name(root: &std::path::Path) -> String {
    root.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "root".into())
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
