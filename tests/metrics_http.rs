//! The metrics responder driven by a small mio loop, as the server's driver
//! will drive it, scraped by a real HTTP client (curl): the counters move
//! between scrapes, and 404/405/HEAD/OpenMetrics behave over real sockets.
//!
//! curl is installed with apt-get if missing; a machine where it cannot be
//! had fails the test (`mioftp_testkit::tools`).

use mio::net::TcpListener;
use mio::{Events, Interest, Poll, Token};
use mioftp::metrics::http::MetricsHttp;
use mioftp::metrics::{Metrics, Protocol};
use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

const LISTENER: Token = Token(0);

/// Serves metrics on `listener` until `stop` is set.
fn serve(mut listener: TcpListener, metrics: Arc<Metrics>, stop: Arc<AtomicBool>) {
    let mut poll = Poll::new().unwrap();
    poll.registry().register(&mut listener, LISTENER, Interest::READABLE).unwrap();
    let mut events = Events::with_capacity(64);
    let mut conns: HashMap<Token, (mio::net::TcpStream, MetricsHttp)> = HashMap::new();
    let mut next = 1;
    while !stop.load(Ordering::Relaxed) {
        // A short timeout only so that `stop` is noticed; nothing is timed.
        poll.poll(&mut events, Some(Duration::from_millis(50))).unwrap();
        for event in events.iter() {
            if event.token() == LISTENER {
                // Accept until WouldBlock (edge-triggered).
                while let Ok((mut stream, _)) = listener.accept() {
                    let token = Token(next);
                    next += 1;
                    poll.registry().register(&mut stream, token, Interest::READABLE).unwrap();
                    conns.insert(token, (stream, MetricsHttp::new()));
                }
                continue;
            }
            let Some((stream, http)) = conns.get_mut(&event.token()) else { continue };
            let mut buf = [0u8; 1024];
            while http.wants_read() {
                match stream.read(&mut buf) {
                    Ok(0) => http.peer_closed(),
                    Ok(n) => http.feed(&buf[..n], |f| metrics.render(f)),
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(_) => http.peer_closed(),
                }
            }
            while http.wants_write() {
                match stream.write(http.pending()) {
                    Ok(n) => http.advance(n),
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(_) => {
                        http.peer_closed();
                        http.advance(usize::MAX);
                    }
                }
            }
            if http.finished() {
                let (mut stream, _) = conns.remove(&event.token()).unwrap();
                poll.registry().deregister(&mut stream).unwrap();
            } else if http.wants_write() {
                poll.registry().reregister(stream, event.token(), Interest::WRITABLE).unwrap();
            }
        }
    }
}

/// Runs curl with `args` against `url`; returns headers and body.
fn curl(args: &[&str], url: &str) -> String {
    let out =
        Command::new("curl").args(["-sS", "-i", "--max-time", "30"]).args(args).arg(url).output().expect("curl runs");
    assert!(out.status.success(), "curl failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn value(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.trim().parse().ok())
}

#[test]
fn curl_scrapes_metrics_that_move_between_scrapes() {
    mioftp_testkit::tools::require("curl", "curl");
    let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let metrics = Arc::new(Metrics::new());
    let stop = Arc::new(AtomicBool::new(false));
    let server = {
        let (metrics, stop) = (metrics.clone(), stop.clone());
        std::thread::spawn(move || serve(listener, metrics, stop))
    };
    let url = format!("{base}/metrics");
    let series = "mioftpd_logins_total{protocol=\"native\"}";

    let first = curl(&[], &url);
    assert!(first.starts_with("HTTP/1.1 200 OK\r\n"), "{first}");
    assert!(first.contains("text/plain; version=0.0.4"), "{first}");
    assert_eq!(value(&first, series), Some(0.0));

    metrics.login_ok(Protocol::Native);
    metrics.login_ok(Protocol::Native);
    metrics.bytes(mioftp::metrics::Direction::Download, 4096);
    let second = curl(&[], &url);
    assert_eq!(value(&second, series), Some(2.0));
    assert_eq!(value(&second, "mioftpd_transfer_bytes_total{direction=\"download\"}"), Some(4096.0));

    let om = curl(&["-H", "Accept: application/openmetrics-text; version=1.0.0"], &url);
    assert!(om.contains("application/openmetrics-text") && om.trim_end().ends_with("# EOF"), "{om}");
    let head = curl(&["-I"], &url);
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n") && !head.contains("mioftpd_logins_total"), "{head}");
    assert!(curl(&[], &format!("{base}/")).starts_with("HTTP/1.1 404 "));
    let post = curl(&["-X", "POST", "-d", "x=1"], &url);
    assert!(post.starts_with("HTTP/1.1 405 ") && post.contains("Allow: GET, HEAD"), "{post}");

    stop.store(true, Ordering::Relaxed);
    server.join().unwrap();
}
