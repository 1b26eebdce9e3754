//! The connection check: the pre-shared key proven by HMAC over a challenge.

mod common;
use common::*;
use mioftp::protocol::scram;
use mioftp_client::{Client, ClientError};
use serde_json::json;

#[test]
fn the_right_key_passes_the_check_and_is_audited() {
    let server = TestServer::start();
    let client = server.client();
    assert_eq!(client.hello().protocol, 1);
    assert_eq!(client.hello().min_iterations, TEST_ITERATIONS);
    client.exit().unwrap();
    let log = server.accounts_log();
    assert_eq!(summary(&log)[0], ("handshake".into(), "ok".into(), "".into()));
    assert!(log[0]["peer"].as_str().unwrap().starts_with("127.0.0.1:"));
}

#[test]
fn a_wrong_key_is_refused_closed_and_audited() {
    let server = TestServer::start();
    let err = Client::connect(&server.addr_str(), b"not the key, not at all").err().expect("refused");
    assert!(matches!(&err, ClientError::Server(e) if e.code == mioftp::protocol::ErrorCode::HandshakeFailed), "{err}");
    assert!(err.to_string().contains("key does not match"), "{err}");

    let mut raw = server.raw();
    let reply = raw.call(json!({"op": "auth", "hmac": scram::b64(&[7; 32])}));
    assert_eq!(code(&reply), "handshake_failed");
    raw.expect_closed();

    let mut garbage = server.raw();
    assert_eq!(code(&garbage.call(json!({"op": "auth", "hmac": "%%%not base64"}))), "handshake_failed");
    garbage.expect_closed();

    let fails = summary(&server.accounts_log()).into_iter().filter(|s| s.1 == "fail").count();
    assert_eq!(fails, 3);
}

#[test]
fn each_connection_gets_a_fresh_challenge() {
    let server = TestServer::start();
    let a = server.raw().challenge;
    let b = server.raw().challenge;
    assert_eq!(a.len(), 32);
    assert_ne!(a, b);
}

#[test]
fn a_proof_for_another_connections_challenge_is_refused() {
    let server = TestServer::start();
    let first = server.raw();
    let mut second = server.raw();
    let stale = scram::hmac(&server.key, &first.challenge);
    assert_eq!(code(&second.call(json!({"op": "auth", "hmac": scram::b64(&stale)}))), "handshake_failed");
}

#[test]
fn requests_before_the_check_are_refused() {
    let server = TestServer::start();
    let mut raw = server.raw();
    assert_eq!(code(&raw.call(json!({"op": "noop"}))), "handshake_required");
    raw.expect_closed();
}
