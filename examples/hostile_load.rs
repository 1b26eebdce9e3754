//! Throws hostile traffic at a running mioftpd, so an operator can check that
//! it keeps serving everyone else (try `mioftp` from another shell while this
//! runs). Loopback or your own server only.
//!
//! ```text
//! cargo run --release --example hostile_load -- slowloris --conns 200 --seconds 60
//! cargo run --release --example hostile_load -- flood --conns 8 --seconds 30
//! cargo run --release --example hostile_load -- storm --conns 16 --seconds 30
//! ```
//!
//! - `slowloris`: opens many connections, sends half a frame header, then one
//!   byte every few seconds. The server closes each at its handshake deadline.
//! - `flood`: each worker connects, sends malformed frames (bad lengths,
//!   non-UTF-8, non-objects, garbage), reads until closed, and repeats.
//! - `storm`: each worker connects and closes immediately, as fast as it can.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

struct Args {
    mode: String,
    addr: SocketAddr,
    conns: usize,
    seconds: u64,
}

fn parse() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let mode = it.next().ok_or("usage: hostile_load slowloris|flood|storm [--addr A] [--conns N] [--seconds S]")?;
    let (mut addr, mut conns, mut seconds) = ("127.0.0.1:2121".to_owned(), 100, 30);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--addr" => addr = value,
            "--conns" => conns = value.parse().map_err(|e| format!("--conns: {e}"))?,
            "--seconds" => seconds = value.parse().map_err(|e| format!("--seconds: {e}"))?,
            other => return Err(format!("unknown flag {other}")),
        }
    }
    let addr = addr.to_socket_addrs().map_err(|e| e.to_string())?.next().ok_or("address resolves to nothing")?;
    Ok(Args { mode, addr, conns, seconds })
}

fn main() {
    let args = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("hostile_load: {e}");
            std::process::exit(2);
        }
    };
    let until = Instant::now() + Duration::from_secs(args.seconds);
    let count = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = match args.mode.as_str() {
        "slowloris" => vec![spawn(
            move |n| {
                n.fetch_add(slowloris(args.addr, args.conns, until), Ordering::Relaxed);
            },
            count.clone(),
        )],
        "flood" => (0..args.conns).map(|_| spawn(move |n| flood(args.addr, until, n), count.clone())).collect(),
        "storm" => (0..args.conns).map(|_| spawn(move |n| storm(args.addr, until, n), count.clone())).collect(),
        other => {
            eprintln!("hostile_load: unknown mode {other} (slowloris, flood or storm)");
            std::process::exit(2);
        }
    };
    for w in workers {
        let _ = w.join();
    }
    println!("{}: {} connections in {} s", args.mode, count.load(Ordering::Relaxed), args.seconds);
}

fn spawn(f: impl FnOnce(&AtomicU64) + Send + 'static, count: Arc<AtomicU64>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || f(&count))
}

fn slowloris(addr: SocketAddr, conns: usize, until: Instant) -> u64 {
    let mut open: Vec<TcpStream> = (0..conns).filter_map(|_| TcpStream::connect(addr).ok()).collect();
    for s in &mut open {
        let _ = s.write_all(&[0, 0]); // half of a length prefix
    }
    let opened = open.len() as u64;
    while Instant::now() < until && !open.is_empty() {
        std::thread::sleep(Duration::from_secs(3));
        // One more byte each; connections the server closed are dropped.
        open.retain_mut(|s| s.write_all(&[1]).is_ok());
        eprintln!("slowloris: {} of {opened} connections still open", open.len());
    }
    opened
}

fn flood(addr: SocketAddr, until: Instant, count: &AtomicU64) {
    let payloads: [&[u8]; 6] = [
        &[0, 0, 0, 0],
        &[0xff, 0xff, 0xff, 0xff],
        &[0, 0, 0, 2, 0xff, 0xfe],
        &[0, 0, 0, 2, b'[', b']'],
        &[0, 0, 0, 12, b'{', b'"', b's', b'i', b'z', b'e', b'"', b':', b'-', b'1', b'}', b' '],
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
    ];
    let mut i = 0;
    while Instant::now() < until {
        let Ok(mut s) = TcpStream::connect(addr) else { continue };
        let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
        let _ = s.write_all(payloads[i % payloads.len()]);
        let mut sink = [0u8; 4096];
        while matches!(s.read(&mut sink), Ok(n) if n > 0) {}
        count.fetch_add(1, Ordering::Relaxed);
        i += 1;
    }
}

fn storm(addr: SocketAddr, until: Instant, count: &AtomicU64) {
    while Instant::now() < until {
        if TcpStream::connect(addr).is_ok() {
            count.fetch_add(1, Ordering::Relaxed);
        }
    }
}
