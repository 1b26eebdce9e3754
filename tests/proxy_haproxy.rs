//! The PROXY protocol reader against a real HAProxy: a client connects from
//! 127.0.0.9 through HAProxy (TCP mode, `send-proxy` and `send-proxy-v2`
//! with a CRC32C TLV and health checks) to a plain loopback listener that
//! feeds what it receives to `mioftp::proxy::ProxyReader`. The reader must
//! find 127.0.0.9 and the client's port, leave the client's first bytes to
//! the session, and take HAProxy's health checks for `LOCAL`.
//!
//! HAProxy comes from Debian's packages and is installed with apt-get when
//! missing; a machine where it cannot be had fails the test. The server-level version of this test (audit log and throttle
//! showing 127.0.0.9) comes when the reader is wired into the driver.

use mioftp::netaddr::CidrList;
use mioftp::proxy::{ProxyReader, Step};
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const CLIENT_IP: &str = "127.0.0.9";
/// Bound on every wait; generous, since the machine may be busy.
const PATIENCE: Duration = Duration::from_secs(30);

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The HAProxy child, killed when dropped.
struct Haproxy(Child);

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_haproxy(dir: &std::path::Path, v1_port: u16, v2_port: u16, backend: u16) -> Haproxy {
    let cfg = format!(
        "global\n    maxconn 64\n\
         defaults\n    mode tcp\n    timeout connect 5s\n    timeout client 30s\n    timeout server 30s\n\
         frontend f1\n    bind 127.0.0.1:{v1_port}\n    default_backend b1\n\
         backend b1\n    server s 127.0.0.1:{backend} send-proxy\n\
         frontend f2\n    bind 127.0.0.1:{v2_port}\n    default_backend b2\n\
         backend b2\n    server s 127.0.0.1:{backend} send-proxy-v2 proxy-v2-options crc32c check check-send-proxy inter 300ms\n"
    );
    let path = dir.join("haproxy.cfg");
    std::fs::write(&path, cfg).unwrap();
    let check = Command::new("haproxy").arg("-c").arg("-f").arg(&path).output().unwrap();
    assert!(check.status.success(), "haproxy -c: {}", String::from_utf8_lossy(&check.stderr));
    let child = Command::new("haproxy").arg("-db").arg("-f").arg(&path).stdout(Stdio::null()).spawn().unwrap();
    Haproxy(child)
}

/// Connects from 127.0.0.9 to `port`, retrying while HAProxy starts.
fn connect_from_client_ip(port: u16) -> TcpStream {
    let deadline = Instant::now() + PATIENCE;
    loop {
        match mioftp_testkit::connect_from(CLIENT_IP.parse().unwrap(), SocketAddr::from(([127, 0, 0, 1], port))) {
            Ok(stream) => return stream,
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => panic!("HAProxy on port {port} never accepted: {e}"),
        }
    }
}

/// Reads one accepted connection until the reader decides; returns the
/// decision and every byte read.
fn read_header(mut conn: TcpStream, from: SocketAddr, trusted: &CidrList) -> (Step, Vec<u8>, TcpStream) {
    // A health check may already be gone: errors end the reading like EOF.
    let _ = conn.set_read_timeout(Some(PATIENCE));
    let reader = ProxyReader::for_peer(from.ip(), trusted);
    let mut buf = Vec::new();
    let mut chunk = [0u8; 256];
    loop {
        match reader.feed(&buf) {
            Step::NeedMore => {}
            step => return (step, buf, conn),
        }
        let n = conn.read(&mut chunk).unwrap_or(0);
        if n == 0 {
            return (Step::NeedMore, buf, conn); // closed before a decision
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Accepts connections until one carries the client's header (health
/// checks may come first).
fn accept_client(listener: &TcpListener, trusted: &CidrList, client: SocketAddr, hello: &[u8]) {
    loop {
        let (conn, from) = listener.accept().unwrap();
        let (step, mut buf, mut conn) = read_header(conn, from, trusted);
        match step {
            Step::Local { .. } => {} // a health check
            Step::Done { peer, consumed } => {
                assert_eq!(peer, client, "the reader names the real client");
                // The client's own first bytes stay for the session.
                while buf.len() < consumed + hello.len() {
                    let mut chunk = [0u8; 64];
                    let n = conn.read(&mut chunk).unwrap();
                    assert!(n > 0, "connection closed before the client's bytes");
                    buf.extend_from_slice(&chunk[..n]);
                }
                assert_eq!(&buf[consumed..], hello);
                return;
            }
            Step::NeedMore => {} // a health check that closed early
            other => panic!("unexpected {other:?} from HAProxy: {buf:?}"),
        }
    }
}

#[test]
fn haproxy_send_proxy_v1_and_v2_give_the_real_client_address() {
    mioftp_testkit::tools::require("haproxy", "haproxy");
    let dir = tempfile::tempdir().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let backend = listener.local_addr().unwrap().port();
    let (v1_port, v2_port) = (free_port(), free_port());
    let _haproxy = start_haproxy(dir.path(), v1_port, v2_port, backend);
    let trusted: CidrList = "127.0.0.1/32".parse().unwrap();

    for port in [v1_port, v2_port] {
        let mut client = connect_from_client_ip(port);
        let hello = b"USER alice\r\n";
        client.write_all(hello).unwrap();
        let me = client.local_addr().unwrap();
        assert_eq!(me.ip(), CLIENT_IP.parse::<IpAddr>().unwrap());
        accept_client(&listener, &trusted, me, hello);
    }

    // HAProxy's health checks (check-send-proxy, every 300 ms) carry a v2
    // LOCAL header. Wait, bounded, for one.
    listener.set_nonblocking(true).unwrap();
    let deadline = Instant::now() + PATIENCE;
    let local = loop {
        match listener.accept() {
            Ok((conn, from)) => {
                conn.set_nonblocking(false).unwrap();
                if let (Step::Local { consumed }, ..) = read_header(conn, from, &trusted) {
                    break Some(consumed);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(_) => break None,
        }
    };
    // 16 fixed bytes + 7 for the CRC32C TLV (LOCAL carries no addresses).
    assert!(local.is_some_and(|n| n >= 16), "no health check seen: {local:?}");
}

#[test]
fn a_header_sent_straight_to_the_server_by_an_untrusted_client_is_refused() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut client = connect_from_client_ip(port);
    client.write_all(b"PROXY TCP4 198.51.100.1 127.0.0.1 1234 2121\r\nUSER x\r\n").unwrap();
    let (conn, from) = listener.accept().unwrap();
    let trusted: CidrList = "127.0.0.1/32".parse().unwrap();
    let (step, _, _) = read_header(conn, from, &trusted);
    assert_eq!(step, Step::Error(mioftp::proxy::ProxyError::Untrusted));
}
