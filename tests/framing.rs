//! Frames over real TCP: any split of the bytes, pipelines, framing errors,
//! and a misbehaving peer never disturbing a healthy one.

mod common;
use common::*;
use mioftp::protocol::frame;
use serde_json::json;
use std::time::Duration;

#[test]
fn a_client_sending_one_byte_at_a_time_is_served() {
    let server = TestServer::start();
    let mut raw = server.raw();
    let mac = mioftp::protocol::scram::hmac(&server.key, &raw.challenge);
    let mut bytes = frame::encode_to_vec(&json!({"op": "auth", "hmac": mioftp::protocol::scram::b64(&mac)})).unwrap();
    bytes.extend(frame::encode_to_vec(&json!({"op": "noop"})).unwrap());
    for b in &bytes {
        raw.send_bytes(std::slice::from_ref(b));
        // Small pauses make the server see many separate reads.
        std::thread::sleep(Duration::from_micros(300));
    }
    assert_eq!(raw.recv(), json!({"ok": true}));
    assert_eq!(raw.recv(), json!({"ok": true}));
}

#[test]
fn several_requests_in_one_write_are_answered_in_order() {
    let server = TestServer::start();
    let mut raw = server.raw_checked();
    let mut bytes = Vec::new();
    let ops = ["noop", "nonsense", "logout", "login_proof", "noop"];
    for op in ops {
        bytes.extend(frame::encode_to_vec(&json!({ "op": op, "proof": "AAAA" })).unwrap());
    }
    raw.send_bytes(&bytes);
    let codes: Vec<String> = ops.iter().map(|_| code(&raw.recv()).to_owned()).collect();
    assert_eq!(codes, ["", "unknown_op", "not_logged_in", "bad_state", ""]);
}

#[test]
fn a_pipeline_of_a_thousand_requests_is_answered_fully() {
    let server = TestServer::start();
    let mut raw = server.raw_checked();
    let one = frame::encode_to_vec(&json!({"op": "noop"})).unwrap();
    let bytes: Vec<u8> = one.iter().copied().cycle().take(one.len() * 1000).collect();
    raw.send_bytes(&bytes);
    for i in 0..1000 {
        assert_eq!(raw.recv(), json!({"ok": true}), "reply {i}");
    }
}

#[test]
fn an_oversized_header_length_gets_an_error_and_a_close() {
    let server = TestServer::start();
    let mut raw = server.raw_checked();
    raw.send_bytes(&u32::MAX.to_be_bytes());
    assert_eq!(code(&raw.recv()), "frame_too_large");
    raw.expect_closed();
}

#[test]
fn malformed_headers_close_but_malformed_requests_do_not() {
    let server = TestServer::start();
    let mut raw = server.raw_checked();
    assert_eq!(code(&raw.call(json!({"op": "login"}))), "bad_request");
    assert_eq!(code(&raw.call(json!({"no_op": true}))), "unknown_op");
    assert_eq!(raw.call(json!({"op": "noop"})), json!({"ok": true}));
    let mut bad = 2u32.to_be_bytes().to_vec();
    bad.extend_from_slice(&[0xff, 0xfe]);
    raw.send_bytes(&bad);
    assert_eq!(code(&raw.recv()), "bad_frame");
    raw.expect_closed();
}

#[test]
fn a_bad_peer_does_not_disturb_a_good_one() {
    let server = TestServer::start();
    let mut good = server.user("steady");
    let mut stalled = server.raw_checked();
    stalled.send_bytes(&100u32.to_be_bytes()); // promises a header, never sends it
    let mut flood = server.raw_checked();
    flood.send_bytes(&[0, 0, 0, 0]);
    assert_eq!(code(&flood.recv()), "bad_frame");
    good.noop().expect("the good client is still served");
}

#[test]
fn half_close_after_whole_requests_still_gets_the_replies() {
    let server = TestServer::start();
    let mut raw = server.raw_checked();
    let mut bytes = frame::encode_to_vec(&json!({"op": "noop"})).unwrap();
    bytes.extend(frame::encode_to_vec(&json!({"op": "noop"})).unwrap());
    raw.send_bytes(&bytes);
    raw.stream.shutdown(std::net::Shutdown::Write).unwrap();
    assert_eq!(raw.recv(), json!({"ok": true}));
    assert_eq!(raw.recv(), json!({"ok": true}));
    raw.expect_closed();
}

#[test]
fn half_close_mid_frame_is_reported_as_a_truncated_frame() {
    let server = TestServer::start();
    let mut raw = server.raw_checked();
    let bytes = frame::encode_to_vec(&json!({"op": "noop"})).unwrap();
    raw.send_bytes(&bytes[..bytes.len() - 2]);
    raw.stream.shutdown(std::net::Shutdown::Write).unwrap();
    assert_eq!(code(&raw.recv()), "bad_frame");
    raw.expect_closed();
}
