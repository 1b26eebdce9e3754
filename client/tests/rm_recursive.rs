//! `Client::rm_recursive` against a scripted fake server: it sends `rm`
//! with `recursive: true`, takes a server's success as it is, and turns the
//! answers of a server without the recursive remove (`unknown_op`,
//! `bad_request`, or `not_empty` from one that ignored the field) into one
//! clear "not supported by this server yet", keeping the code. Other
//! refusals pass unchanged. (The real server of today answers `not_empty`;
//! see tests/patterns.rs.)

use mioftp::protocol::frame;
use mioftp_client::Client;
use mioftp_proto::ErrorCode;
use serde_json::{Value, json};
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;

/// A server for one connection that answers every `rm` with `reply` and
/// anything else with a bare success; each `rm` header it received comes
/// back on the channel.
fn fake(reply: Value) -> (String, mpsc::Receiver<Value>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let hello = json!({"notice": "hello", "protocol": 1, "server": "fake", "challenge": mioftp::protocol::scram::b64(&[7u8; 32]),
            "kdf": "pbkdf2-sha256", "min_iterations": 1000, "min_password_len": 8});
        send(&mut s, &hello);
        while let Ok(Some(f)) = mioftp_testkit::read_frame(&mut s) {
            let header = Value::Object(f.header);
            let answer = if header["op"] == "rm" { reply.clone() } else { json!({"ok": true}) };
            if header["op"] == "rm" {
                tx.send(header).unwrap();
            }
            send(&mut s, &answer);
        }
    });
    (addr, rx)
}

fn send(s: &mut TcpStream, v: &Value) {
    s.write_all(&frame::encode_to_vec(v).unwrap()).unwrap();
}

fn refusal(code: &str) -> Value {
    json!({"ok": false, "error": {"code": code, "message": "the server's own words"}})
}

fn client(addr: &str) -> Client {
    Client::connect(addr, b"any key: the fake does not check").unwrap()
}

#[test]
fn it_asks_for_a_recursive_remove_and_takes_the_servers_reply() {
    let (addr, sent) = fake(json!({"ok": true, "path": "/photos", "kind": "dir", "freed": 7_340_032, "count": 58}));
    let removed = client(&addr).rm_recursive("photos").unwrap();
    assert_eq!((removed.path.as_str(), removed.freed), ("/photos", 7_340_032));
    let header = sent.recv().unwrap();
    assert_eq!(header, json!({"op": "rm", "path": "photos", "recursive": true}));
}

#[test]
fn answers_of_a_server_without_it_say_not_supported_and_keep_their_code() {
    for (code, parsed) in [
        ("unknown_op", ErrorCode::UnknownOp),
        ("bad_request", ErrorCode::BadRequest),
        ("not_empty", ErrorCode::NotEmpty),
    ] {
        let (addr, _sent) = fake(refusal(code));
        let mut c = client(&addr);
        let e = c.rm_recursive("photos").unwrap_err();
        assert_eq!(e.code(), Some(parsed), "{e}");
        assert!(e.to_string().contains("rm -r is not supported by this server yet"), "{code}: {e}");
        assert!(!e.is_fatal(), "the session goes on");
        c.noop().unwrap();
    }
}

#[test]
fn other_refusals_pass_unchanged_and_the_home_itself_is_refused_before_asking() {
    let (addr, sent) = fake(refusal("busy"));
    let mut c = client(&addr);
    let e = c.rm_recursive("photos").unwrap_err();
    assert_eq!((e.code(), e.to_string().as_str()), (Some(ErrorCode::Busy), "the server's own words"));
    sent.recv().unwrap();
    let e = c.rm_recursive("photos/..").unwrap_err();
    assert_eq!(e.to_string(), "your home folder (/) itself cannot be removed");
    assert!(sent.try_recv().is_err(), "nothing was sent");
}
