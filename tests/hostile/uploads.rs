//! Uploads that do not go by the rules: bodies of the wrong size or in the
//! wrong state, wrong digests, half-closes and exits mid-body, lengths past
//! any quota. Nothing partial ever appears under a final name.

use super::*;
use serde_json::json;

#[test]
fn put_data_larger_than_the_put_is_size_mismatch_and_stores_nothing() {
    let a = arena();
    let mut raw = a.mallory();
    assert_eq!(raw.call(json!({"op": "put", "path": "f", "length": 10}))["ok"], true);
    raw.send(json!({"op": "put_data", "size": 20}));
    raw.send_bytes(&[b'x'; 20]);
    assert_eq!(code(&raw.recv()), "size_mismatch");
    assert_eq!(code(&raw.call(json!({"op": "put_done", "sha256": sha256_hex(&[b'x'; 20])}))), "bad_state");
    assert_eq!(raw.call(json!({"op": "quota"}))["used"], 0);
    let rec = a.server.log("upload_file.log").pop().unwrap();
    assert_eq!((rec["outcome"].as_str(), rec["reason"].as_str()), (Some("rejected"), Some("size_mismatch")));
    a.finish(&[]);
}

#[test]
fn put_data_smaller_than_the_put_is_size_mismatch_and_stores_nothing() {
    let a = arena();
    let mut raw = a.mallory();
    assert_eq!(raw.call(json!({"op": "put", "path": "f", "length": 10}))["ok"], true);
    raw.send(json!({"op": "put_data", "size": 5}));
    raw.send_bytes(b"12345");
    assert_eq!(code(&raw.recv()), "size_mismatch");
    assert_eq!(raw.call(json!({"op": "pwd"}))["cwd"], "/", "the body was discarded, framing kept");
    assert_eq!(raw.call(json!({"op": "quota"}))["used"], 0);
    a.finish(&[]);
}

#[test]
fn put_data_without_a_put_is_bad_state_and_its_body_is_discarded() {
    let a = arena();
    let mut raw = a.mallory();
    let body = frame_of(&json!({"op": "exit"}));
    raw.send(json!({"op": "put_data", "size": body.len()}));
    raw.send_bytes(&body);
    assert_eq!(code(&raw.recv()), "bad_state");
    assert_eq!(raw.call(json!({"op": "pwd"}))["cwd"], "/", "the exit inside the body was not obeyed");
    a.finish(&[]);
}

#[test]
fn put_done_without_put_data_is_bad_state_and_the_upload_stays_ready() {
    let a = arena();
    let mut raw = a.mallory();
    assert_eq!(code(&raw.call(json!({"op": "put_done", "sha256": sha256_hex(b"abc")}))), "bad_state");
    assert_eq!(raw.call(json!({"op": "put", "path": "f", "length": 3}))["ok"], true);
    assert_eq!(code(&raw.call(json!({"op": "put_done", "sha256": sha256_hex(b"abc")}))), "bad_state");
    assert_eq!(code(&raw.call(json!({"op": "dir"}))), "bad_state", "only upload requests while one is ready");
    raw.send(json!({"op": "put_data", "size": 3}));
    raw.send_bytes(b"abc");
    assert_eq!(code(&raw.call(json!({"op": "cd", "path": "/"}))), "bad_state", "nor after its body");
    let done = raw.call(json!({"op": "put_done", "sha256": sha256_hex(b"abc")}));
    assert_eq!(done["ok"], true, "{done}");
    assert_eq!(std::fs::read(a.home().join("f")).unwrap(), b"abc");
    a.finish(&["f"]);
}

#[test]
fn a_mistyped_put_done_is_bad_request_and_does_not_cancel_the_upload() {
    let a = arena();
    let mut raw = a.mallory();
    start_upload(&mut raw, "f", 5);
    raw.send_bytes(b"hello");
    assert_eq!(code(&raw.call(json!({"op": "put_done", "sha256": 5}))), "bad_request");
    assert_eq!(code(&raw.call(json!({"op": "put_done"}))), "bad_request");
    assert!(!a.home().join("f").exists());
    let done = raw.call(json!({"op": "put_done", "sha256": sha256_hex(b"hello")}));
    assert_eq!(done["ok"], true, "{done}");
    a.finish(&["f"]);
}

#[test]
fn a_wrong_digest_deletes_the_partial_and_returns_the_quota() {
    let a = arena();
    let mut raw = a.mallory();
    start_upload(&mut raw, "f", 100_000);
    raw.send_bytes(&[7u8; 100_000]);
    let reply = raw.call(json!({"op": "put_done", "sha256": "not even hex"}));
    assert_eq!(code(&reply), "digest_mismatch");
    assert_eq!(raw.call(json!({"op": "quota"}))["used"], 0);
    let partials: Vec<_> = std::fs::read_dir(a.home().join(".mioftp/partial")).unwrap().collect();
    assert!(partials.is_empty(), "{partials:?}");
    // A resume finds nothing to resume.
    assert_eq!(raw.call(json!({"op": "put", "path": "f", "length": 100_000}))["offset"], 0);
    // Leave no upload pending: the server's shutdown would wait for it.
    drop(raw);
    a.finish(&[]);
}

#[test]
fn a_second_put_data_after_the_body_is_bad_state_and_discarded() {
    let a = arena();
    let mut raw = a.mallory();
    start_upload(&mut raw, "f", 3);
    raw.send_bytes(b"abc");
    raw.send(json!({"op": "put_data", "size": 2}));
    raw.send_bytes(b"xy");
    assert_eq!(code(&raw.recv()), "bad_state");
    let done = raw.call(json!({"op": "put_done", "sha256": sha256_hex(b"abc")}));
    assert_eq!(done["ok"], true, "{done}");
    assert_eq!(std::fs::read(a.home().join("f")).unwrap(), b"abc");
    a.finish(&["f"]);
}

#[test]
fn bytes_beyond_the_body_are_the_next_frame_and_the_whole_partial_resumes() {
    let a = arena();
    let mut raw = a.mallory();
    start_upload(&mut raw, "f", 5);
    raw.send_bytes(b"helloGARBAGE!"); // "GARB" as a length is far over the limit
    raw.expect_fatal("frame_too_large");
    a.server.wait_for_record("upload_file.log", |r| r["outcome"] == "incomplete");
    assert!(!a.home().join("f").exists(), "a partial never appears under its name");
    let mut again = a.mallory();
    let ready = again.call(json!({"op": "put", "path": "f", "length": 5}));
    assert_eq!((ready["offset"].as_u64(), ready["prefix_sha256"].as_str()), (Some(5), Some(&*sha256_hex(b"hello"))));
    again.send(json!({"op": "put_data", "size": 0}));
    let done = again.call(json!({"op": "put_done", "sha256": sha256_hex(b"hello")}));
    assert_eq!(done["ok"], true, "{done}");
    a.finish(&["f"]);
}

#[test]
fn a_short_body_swallows_the_put_done_and_the_client_restarts_on_the_prefix_mismatch() {
    let a = arena();
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("data.bin");
    let digest = random_file(&local, 100, 42);
    let data = std::fs::read(&local).unwrap();
    let mut raw = a.mallory();
    start_upload(&mut raw, "f", 100);
    let mut bytes = data[..60].to_vec();
    bytes.extend(frame_of(&json!({"op": "put_done", "sha256": digest})));
    raw.send_bytes(&bytes);
    // The first 40 bytes of that frame were taken as body; the rest is read
    // as a frame and breaks framing.
    let reply = raw.recv();
    assert!(["bad_frame", "frame_too_large"].contains(&code(&reply)), "{reply}");
    assert_eq!(raw.recv_within(IO_TIMEOUT), Seen::Closed);
    a.server.wait_for_record("upload_file.log", |r| r["outcome"] == "incomplete");
    let mut c = a.server.login("mallory");
    let report = c.put(&local, "f", &mioftp_client::PutOptions::default(), &mut mioftp_client::NoProgress).unwrap();
    assert!(report.restarted, "the server's prefix does not match the file");
    assert_eq!((report.offset, report.sha256.as_str()), (0, digest.as_str()));
    assert_eq!(std::fs::read(a.home().join("f")).unwrap(), data);
    a.finish(&["f"]);
}

#[test]
fn half_close_mid_body_leaves_an_incomplete_record_and_a_resumable_partial() {
    let a = arena();
    let data: Vec<u8> = (0..1000u32).map(|i| (i * 13 % 256) as u8).collect();
    let mut raw = a.mallory();
    start_upload(&mut raw, "half.bin", 1000);
    raw.send_bytes(&data[..400]);
    raw.stream.shutdown(std::net::Shutdown::Write).unwrap();
    raw.expect_fatal("bad_frame");
    let rec = a.server.wait_for_record("upload_file.log", |r| r["outcome"] == "incomplete");
    assert_eq!((rec["path"].as_str(), rec["bytes"].as_u64()), (Some("/half.bin"), Some(400)), "{rec}");
    assert!(!a.home().join("half.bin").exists());
    let mut again = a.mallory();
    let ready = again.call(json!({"op": "put", "path": "half.bin", "length": 1000}));
    assert_eq!(ready["offset"], 400, "{ready}");
    assert_eq!(ready["prefix_sha256"], sha256_hex(&data[..400]));
    again.send(json!({"op": "put_data", "size": 600}));
    again.send_bytes(&data[400..]);
    let done = again.call(json!({"op": "put_done", "sha256": sha256_hex(&data)}));
    assert_eq!(done["ok"], true, "{done}");
    assert_eq!(std::fs::read(a.home().join("half.bin")).unwrap(), data);
    a.finish(&["half.bin"]);
}

#[test]
fn a_put_length_over_two_to_the_63_is_bad_request_and_one_over_the_quota_is_quota_exceeded() {
    let a = arena();
    let mut raw = a.mallory();
    for length in [u64::MAX, 1 << 63] {
        let reply = raw.call(json!({"op": "put", "path": "huge", "length": length}));
        assert_eq!(code(&reply), "bad_request", "{length}: {reply}");
    }
    let reply = raw.call(json!({"op": "put", "path": "huge", "length": i64::MAX}));
    assert_eq!(code(&reply), "quota_exceeded", "{reply}");
    assert_eq!(raw.call(json!({"op": "quota"}))["used"], 0);
    let done = upload(&mut raw, "empty", b"");
    assert_eq!(done["ok"], true, "{done}");
    assert_eq!(std::fs::metadata(a.home().join("empty")).unwrap().len(), 0);
    a.finish(&["empty"]);
}

#[test]
fn huge_reservations_with_an_unlimited_quota_do_not_overflow() {
    let a = arena_with(|c| c.default_quota = None);
    // Three reservations of 2^63-1 bytes add up to more than u64 holds.
    let mut uploads: Vec<Raw> = (0..3).map(|_| a.mallory()).collect();
    for (i, up) in uploads.iter_mut().enumerate() {
        let reply = up.call(json!({"op": "put", "path": format!("f{i}"), "length": i64::MAX}));
        assert_eq!(reply["ok"], true, "unlimited quota: {reply}");
    }
    // No body can ever match (size is at most 2^63-1, but is checked
    // against what is left): a wrong one is refused.
    uploads[0].send(json!({"op": "put_data", "size": 1}));
    uploads[0].send_bytes(b"x");
    assert_eq!(code(&uploads[0].recv()), "size_mismatch");
    assert_eq!(uploads[0].call(json!({"op": "quota"}))["used"], 0, "still answering");
    drop(uploads);
    a.finish(&[]);
}

#[test]
fn put_to_a_directory_or_the_home_is_is_a_directory() {
    let a = arena();
    let mut raw = a.mallory();
    assert_eq!(raw.call(json!({"op": "mkdir", "path": "sub"}))["created"], true);
    for path in ["sub", "sub/", "/sub/.", "/", ".", "sub/.."] {
        let reply = raw.call(json!({"op": "put", "path": path, "length": 4}));
        assert_eq!(code(&reply), "is_a_directory", "{path:?}: {reply}");
    }
    assert_eq!(raw.call(json!({"op": "noop"})), json!({"ok": true}));
    a.finish(&["sub/"]);
}

#[test]
fn exit_in_the_middle_of_an_upload_keeps_the_partial_for_a_resume() {
    let a = arena();
    let data: Vec<u8> = (0..5000u32).map(|i| (i % 199) as u8).collect();
    let mut raw = a.mallory();
    start_upload(&mut raw, "e.bin", 5000);
    raw.send_bytes(&data[..2000]);
    drop(raw); // a cut: 2000 bytes kept
    a.server.wait_for_record("upload_file.log", |r| r["path"] == "/e.bin" && r["outcome"] == "incomplete");
    // The resume is accepted, then abandoned with exit: recorded as
    // cancelled, and the partial is not thrown away.
    let mut again = a.mallory();
    let ready = again.call(json!({"op": "put", "path": "e.bin", "length": 5000}));
    assert_eq!(ready["offset"], 2000, "{ready}");
    assert_eq!(again.call(json!({"op": "exit"})), json!({"ok": true, "bye": true}));
    let rec = a.server.wait_for_record("upload_file.log", |r| r["reason"] == "cancelled");
    assert_eq!((rec["path"].as_str(), rec["outcome"].as_str()), (Some("/e.bin"), Some("incomplete")), "{rec}");
    let mut last = a.mallory();
    let ready = last.call(json!({"op": "put", "path": "e.bin", "length": 5000}));
    assert_eq!(ready["offset"], 2000, "the partial survived the exit: {ready}");
    last.send(json!({"op": "put_data", "size": 3000}));
    last.send_bytes(&data[2000..]);
    let done = last.call(json!({"op": "put_done", "sha256": sha256_hex(&data)}));
    assert_eq!(done["ok"], true, "{done}");
    a.finish(&["e.bin"]);
}
