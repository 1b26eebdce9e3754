//! A TCP relay in front of the server that can slow either direction, so a
//! transfer has a middle to look at and to interrupt.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

/// A relay to `upstream` whose server-to-client direction is slow (16 KiB
/// every 10 ms) while `slow` is set.
pub fn slow_relay(upstream: String, slow: Arc<AtomicBool>) -> String {
    relay(upstream, None, Some(slow)).0
}

/// A relay to `upstream` whose client-to-server direction (`up`) and
/// server-to-client direction (`down`) are slow while their flags are set.
/// Also returns the count of bytes it has passed on to the server.
pub fn relay(upstream: String, up: Option<Arc<AtomicBool>>, down: Option<Arc<AtomicBool>>) -> (String, Arc<AtomicU64>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let sent_up = Arc::new(AtomicU64::new(0));
    let counter = sent_up.clone();
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(client) = client else { return };
            let Ok(server) = TcpStream::connect(&upstream) else { return };
            let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            let (up, down, counter) = (up.clone(), down.clone(), counter.clone());
            std::thread::spawn(move || pipe(c2, s2, up, Some(counter)));
            std::thread::spawn(move || pipe(server, client, down, None));
        }
    });
    (addr, sent_up)
}

fn pipe(mut from: TcpStream, mut to: TcpStream, slow: Option<Arc<AtomicBool>>, count: Option<Arc<AtomicU64>>) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
        if let Some(count) = &count {
            count.fetch_add(n as u64, Ordering::SeqCst);
        }
        if slow.as_ref().is_some_and(|s| s.load(Ordering::SeqCst)) {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    let _ = to.shutdown(Shutdown::Write);
    let _ = from.shutdown(Shutdown::Read);
}
