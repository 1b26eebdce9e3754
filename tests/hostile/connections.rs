//! Many connections at once: a storm of connects and closes, and peers that
//! stall or break framing next to a healthy one.

use super::*;
use mioftp::protocol::scram;
use serde_json::json;
use std::time::Duration;

#[test]
fn a_connect_and_close_storm_leaves_the_server_serving_with_every_slot_free() {
    const CAP: usize = 48;
    let mut a = arena_with(|c| {
        c.max_connections = CAP;
        c.max_per_ip = 0;
    });
    let (addr, key) = (a.server.addr, a.server.key.clone());
    let threads: Vec<_> = (0..4u64)
        .map(|t| {
            let key = key.clone();
            std::thread::spawn(move || {
                use std::io::{Read, Write};
                let auth_frame = |challenge: &[u8]| {
                    frame_of(&json!({"op": "auth", "hmac": scram::b64(&scram::hmac(&key, challenge))}))
                };
                for i in 0..100u64 {
                    let Ok(mut s) = std::net::TcpStream::connect(addr) else { continue };
                    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
                    match (t + i) % 5 {
                        0 => {} // connect and drop at once
                        1 => {
                            let _ = s.read(&mut [0u8; 8]); // part of the hello, then drop
                        }
                        2 => {
                            let _ = s.write_all(&[0, 0, 0, 200, b'{']); // mid-handshake frame
                        }
                        3 => {
                            // A whole auth, then gone before reading the answer.
                            let mut raw = Raw { stream: s, challenge: Vec::new() };
                            let Some(hello) = raw.try_recv() else { continue };
                            let Some(c) = hello["challenge"].as_str().and_then(scram::unb64) else { continue };
                            let _ = raw.stream.write_all(&auth_frame(&c));
                            continue;
                        }
                        _ => {
                            let _ = s.write_all(&[0xff; 4]); // a framing error, never read
                        }
                    }
                    drop(s);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    a.healthy_after_storm();
    // Every stormed connection was released: the cap minus the healthy
    // client's connection can be held at once (retrying while the server
    // is still reaping the last ones), and one more is refused.
    let mut held = Vec::new();
    let all_in = poll_until(IO_TIMEOUT, || {
        for _ in 0..CAP - 1 {
            let mut raw = Raw::connect(addr);
            let first = raw.recv();
            if first["notice"] != "hello" {
                // Not yet: let go of these and give the server time to reap.
                held.clear();
                std::thread::sleep(Duration::from_millis(50));
                return false;
            }
            held.push(raw);
        }
        true
    });
    assert!(all_in, "only {} connections could be held after the storm", held.len());
    let mut extra = Raw::connect(addr);
    assert_eq!(code(&extra.recv()), "server_busy");
    assert_eq!(extra.recv_within(IO_TIMEOUT), Seen::Closed);
    drop(held);
    a.finish(&[]);
}

#[test]
fn a_stalled_peer_and_a_broken_one_do_not_disturb_a_good_one() {
    let a = arena();
    let mut stalled = a.checked();
    stalled.send_bytes(&100u32.to_be_bytes()); // promises a header, never sends it
    let mut broken = a.checked();
    broken.send_bytes(&[0, 0, 0, 0]);
    broken.expect_fatal("bad_frame");
    // finish() checks the healthy client while the stalled peer still waits.
    a.finish(&[]);
    drop(stalled);
}

impl Arena {
    fn healthy_after_storm(&mut self) {
        self.healthy.noop().expect("served after the storm");
        self.healthy.dir(None).expect("dir after the storm");
    }
}
