//! How frames arrive: one byte at a time, many in one write, a pipeline cut
//! by `exit`. Replies come one per request, in order.

use super::*;
use mioftp::protocol::scram;
use serde_json::json;
use std::time::Duration;

#[test]
fn a_connection_check_sent_one_byte_at_a_time_is_served() {
    let a = arena();
    let mut raw = a.server.raw();
    let mac = scram::hmac(&a.server.key, &raw.challenge);
    let mut bytes = frame_of(&json!({"op": "auth", "hmac": scram::b64(&mac)}));
    bytes.extend(frame_of(&json!({"op": "noop"})));
    for b in &bytes {
        raw.send_bytes(std::slice::from_ref(b));
        // Small pauses make the server see many separate reads.
        std::thread::sleep(Duration::from_micros(300));
    }
    assert_eq!(raw.recv(), json!({"ok": true}));
    assert_eq!(raw.recv(), json!({"ok": true}));
    a.finish(&[]);
}

#[test]
fn an_upload_sent_one_byte_at_a_time_with_pauses_is_stored() {
    let a = arena();
    let mut raw = a.mallory();
    let data = b"sent one byte at a time, with pauses in between".to_vec();
    assert_eq!(raw.call(json!({"op": "put", "path": "slow.txt", "length": data.len()}))["offset"], 0);
    let mut bytes = frame_of(&json!({"op": "put_data", "size": data.len()}));
    bytes.extend_from_slice(&data);
    bytes.extend(frame_of(&json!({"op": "put_done", "sha256": sha256_hex(&data)})));
    for b in &bytes {
        raw.send_bytes(std::slice::from_ref(b));
        std::thread::sleep(Duration::from_micros(200));
    }
    let done = raw.recv();
    assert_eq!(done["ok"], true, "{done}");
    assert_eq!(std::fs::read(a.home().join("slow.txt")).unwrap(), data);
    a.finish(&["slow.txt"]);
}

#[test]
fn requests_before_login_in_one_write_are_answered_in_order() {
    let a = arena();
    let mut raw = a.checked();
    let mut bytes = Vec::new();
    let ops = ["noop", "nonsense", "logout", "login_proof", "noop"];
    for op in ops {
        bytes.extend(frame_of(&json!({ "op": op, "proof": "AAAA" })));
    }
    raw.send_bytes(&bytes);
    let codes: Vec<String> = ops.iter().map(|_| code(&raw.recv()).to_owned()).collect();
    assert_eq!(codes, ["", "unknown_op", "not_logged_in", "bad_state", ""]);
    a.finish(&[]);
}

#[test]
fn a_pipeline_of_a_thousand_mixed_requests_is_answered_in_order() {
    let a = arena();
    let mut raw = a.mallory();
    let mut bytes = Vec::new();
    let mut dirs = Vec::new();
    for i in 0..1000 {
        let req = match i % 5 {
            0 => json!({"op": "noop"}),
            1 => json!({"op": "pwd"}),
            2 => json!({"op": "frobnicate", "i": i}),
            3 => json!({"op": "cd"}),
            _ => {
                dirs.push(format!("d{i:04}/"));
                json!({"op": "mkdir", "path": format!("d{i:04}")})
            }
        };
        bytes.extend(frame_of(&req));
    }
    raw.send_bytes(&bytes);
    for i in 0..1000 {
        let reply = raw.recv();
        match i % 5 {
            0 => assert_eq!(reply, json!({"ok": true}), "reply {i}"),
            1 => assert_eq!(reply["cwd"], "/", "reply {i}: {reply}"),
            2 => assert_eq!(code(&reply), "unknown_op", "reply {i}: {reply}"),
            3 => assert_eq!(code(&reply), "bad_request", "reply {i}: {reply}"),
            _ => assert_eq!(reply["path"], format!("/d{i:04}"), "reply {i}: {reply}"),
        }
    }
    assert_eq!(raw.call(json!({"op": "noop"})), json!({"ok": true}));
    let dirs: Vec<&str> = dirs.iter().map(|s| s.as_str()).collect();
    a.finish(&dirs);
}

#[test]
fn exit_in_the_middle_of_a_pipeline_leaves_the_later_requests_unanswered() {
    let a = arena();
    let mut raw = a.mallory();
    let mut bytes = Vec::new();
    for req in [
        json!({"op": "pwd"}),
        json!({"op": "exit"}),
        json!({"op": "mkdir", "path": "after_exit"}),
        json!({"op": "noop"}),
    ] {
        bytes.extend(frame_of(&req));
    }
    raw.send_bytes(&bytes);
    assert_eq!(raw.recv()["cwd"], "/");
    assert_eq!(raw.recv(), json!({"ok": true, "bye": true}));
    assert_eq!(raw.recv_within(IO_TIMEOUT), Seen::Closed, "nothing after the goodbye");
    let logouts = a.server.accounts_log().into_iter().filter(|r| r["user"] == "mallory" && r["event"] == "logout");
    assert!(logouts.count() >= 2, "exit logs the user out");
    a.finish(&[]);
}
