//! Bytes that are not frames: header lengths out of range, headers that are
//! not UTF-8 or not a JSON object, bad `size` fields, garbage after a good
//! frame, a half-close inside a frame, and bodies where none belongs. A
//! framing error gets one reply and a close; a healthy peer never notices.

use super::*;
use serde_json::json;

#[test]
fn header_length_zero_is_a_bad_frame_and_closes() {
    let a = arena();
    let mut raw = a.checked();
    raw.send_bytes(&0u32.to_be_bytes());
    raw.expect_fatal("bad_frame");
    a.finish(&[]);
}

#[test]
fn header_length_one_is_a_bad_frame_and_closes() {
    fatal_header(b"7", "bad_frame");
}

#[test]
fn header_length_of_64_kib_plus_one_is_refused_from_the_prefix_alone() {
    let a = arena();
    let mut raw = a.checked();
    // Only the four length bytes: the refusal must not wait for the header.
    raw.send_bytes(&(64 * 1024 + 1u32).to_be_bytes());
    raw.expect_fatal("frame_too_large");
    a.finish(&[]);
}

#[test]
fn header_length_u32_max_is_refused_and_the_bytes_after_it_ignored() {
    let a = arena();
    let mut raw = a.checked();
    let mut bytes = u32::MAX.to_be_bytes().to_vec();
    bytes.extend(frame_of(&json!({"op": "noop"})));
    raw.send_bytes(&bytes);
    raw.expect_fatal("frame_too_large");
    a.finish(&[]);
}

#[test]
fn a_header_of_exactly_64_kib_is_accepted() {
    let a = arena();
    let mut raw = a.mallory();
    let shell = r#"{"op":"pwd","pad":""}"#;
    let header = format!(r#"{{"op":"pwd","pad":"{}"}}"#, "p".repeat(64 * 1024 - shell.len()));
    assert_eq!(header.len(), 64 * 1024);
    raw.send_bytes(&raw_frame(header.as_bytes()));
    assert_eq!(raw.recv(), json!({"ok": true, "cwd": "/"}));
    assert_eq!(raw.call(json!({"op": "noop"})), json!({"ok": true}));
    a.finish(&[]);
}

#[test]
fn an_encoded_surrogate_inside_a_json_string_is_not_utf8_and_a_bad_frame() {
    fatal_header(b"{\"op\":\"noop\",\"x\":\"\xed\xa0\x80\"}", "bad_frame");
}

#[test]
fn a_json_array_header_is_a_bad_frame() {
    fatal_header(br#"[{"op":"noop"}]"#, "bad_frame");
}

#[test]
fn a_json_number_header_is_a_bad_frame() {
    fatal_header(b"42", "bad_frame");
}

#[test]
fn a_json_string_header_is_a_bad_frame() {
    fatal_header(br#""noop""#, "bad_frame");
}

#[test]
fn a_json_null_header_is_a_bad_frame() {
    fatal_header(b"null", "bad_frame");
}

#[test]
fn truncated_json_is_a_bad_frame() {
    fatal_header(br#"{"op":"noop","x":"abc"#, "bad_frame");
}

#[test]
fn ten_thousand_open_brackets_are_a_bad_frame_not_a_stack_overflow() {
    fatal_header("[".repeat(10_000).as_bytes(), "bad_frame");
}

#[test]
fn deeply_nested_but_balanced_json_in_a_field_is_a_bad_frame() {
    let header = format!(r#"{{"op":"noop","x":{}{}}}"#, "[".repeat(10_000), "]".repeat(10_000));
    fatal_header(header.as_bytes(), "bad_frame");
}

#[test]
fn a_negative_size_is_a_bad_frame() {
    fatal_header(br#"{"op":"noop","size":-1}"#, "bad_frame");
}

#[test]
fn a_fractional_size_is_a_bad_frame() {
    fatal_header(br#"{"op":"noop","size":1.5}"#, "bad_frame");
}

#[test]
fn a_size_in_exponent_notation_is_a_bad_frame() {
    fatal_header(br#"{"op":"noop","size":1e3}"#, "bad_frame");
}

#[test]
fn a_string_size_is_a_bad_frame() {
    fatal_header(br#"{"op":"noop","size":"5"}"#, "bad_frame");
}

#[test]
fn a_null_size_is_a_bad_frame() {
    fatal_header(br#"{"op":"noop","size":null}"#, "bad_frame");
}

#[test]
fn a_size_of_two_to_the_63_is_a_bad_frame() {
    fatal_header(br#"{"op":"put_data","size":9223372036854775808}"#, "bad_frame");
}

#[test]
fn a_size_of_two_to_the_64_is_a_bad_frame() {
    fatal_header(br#"{"op":"put_data","size":18446744073709551616}"#, "bad_frame");
}

#[test]
fn garbage_after_a_valid_frame_gets_the_reply_then_a_framing_error() {
    let a = arena();
    let mut raw = a.checked();
    let mut bytes = frame_of(&json!({"op": "noop"}));
    // An HTTP request line: "GET " read as a length is over a gigabyte.
    bytes.extend_from_slice(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    raw.send_bytes(&bytes);
    assert_eq!(raw.recv(), json!({"ok": true}));
    raw.expect_fatal("frame_too_large");
    a.finish(&[]);
}

#[test]
fn garbage_after_a_valid_frame_with_a_small_prefix_is_a_bad_frame() {
    let a = arena();
    let mut raw = a.mallory();
    let mut bytes = frame_of(&json!({"op": "pwd"}));
    bytes.extend_from_slice(&[0, 0, 0, 5, b'h', b'e', b'l', b'l', b'o']);
    raw.send_bytes(&bytes);
    assert_eq!(raw.recv()["cwd"], "/");
    raw.expect_fatal("bad_frame");
    a.finish(&[]);
}

#[test]
fn half_close_inside_the_length_prefix_is_a_bad_frame() {
    let a = arena();
    let mut raw = a.checked();
    raw.send_bytes(&[0, 0]);
    raw.stream.shutdown(std::net::Shutdown::Write).unwrap();
    raw.expect_fatal("bad_frame");
    a.finish(&[]);
}

#[test]
fn duplicate_keys_take_the_last_value_for_op_and_size_alike() {
    let a = arena();
    let mut raw = a.mallory();
    let mut bytes = raw_frame(br#"{"op":"exit","op":"pwd"}"#);
    // If the first "size" counted, the next frame would be eaten as a body.
    bytes.extend(raw_frame(br#"{"op":"noop","size":9,"size":0}"#));
    bytes.extend(frame_of(&json!({"op": "noop"})));
    raw.send_bytes(&bytes);
    assert_eq!(raw.recv()["cwd"], "/", "the last op wins");
    assert_eq!(raw.recv(), json!({"ok": true}));
    assert_eq!(raw.recv(), json!({"ok": true}), "framing stayed in step");
    a.finish(&[]);
}

#[test]
fn a_body_on_a_request_that_takes_none_is_discarded_even_if_it_looks_like_frames() {
    let a = arena();
    let mut raw = a.mallory();
    let mut body = frame_of(&json!({"op": "exit"}));
    body.extend(frame_of(&json!({"op": "mkdir", "path": "smuggled"})));
    let mut bytes = frame_of(&json!({"op": "noop", "size": body.len()}));
    bytes.extend(&body);
    raw.send_bytes(&bytes);
    assert_eq!(code(&raw.recv()), "unexpected_body");
    assert_eq!(raw.call(json!({"op": "pwd"}))["cwd"], "/", "the connection is still usable");
    let mut anon = a.checked();
    anon.send(json!({"op": "noop", "size": 3}));
    anon.send_bytes(b"xyz");
    assert_eq!(code(&anon.recv()), "unexpected_body");
    assert_eq!(anon.call(json!({"op": "noop"})), json!({"ok": true}));
    a.finish(&[]);
}

#[test]
fn a_one_megabyte_username_cannot_fit_in_a_header_and_is_refused_at_the_prefix() {
    let a = arena();
    let mut raw = a.checked();
    let header = format!(
        r#"{{"op":"register","user":"{}","salt":"{}","iterations":1000,"stored_key":"{}","server_key":"{}"}}"#,
        "a".repeat(1 << 20),
        scram::b64(&[1; 16]),
        scram::b64(&[2; 32]),
        scram::b64(&[3; 32])
    );
    let bytes = raw_frame(header.as_bytes());
    // The refusal comes from the four length bytes; the rest is never read.
    raw.send_bytes(&bytes[..4 + 4096]);
    raw.expect_fatal("frame_too_large");
    // Sending the rest fails or vanishes; either way no account appears.
    let _ = raw.send_lossy(&bytes[4 + 4096..]);
    // The client library refuses such a name before sending anything.
    let mut c = a.server.client();
    let err = c.register(&"a".repeat(1 << 20), PASSWORD).unwrap_err();
    assert!(!err.is_fatal() && err.to_string().contains("limit"), "{err}");
    c.noop().expect("the library's connection is unaffected");
    a.finish(&[]);
}

#[test]
fn invalid_utf8_bytes_are_a_bad_frame() {
    fatal_header(&[0xff, 0xfe], "bad_frame");
}

#[test]
fn half_close_inside_a_header_is_a_bad_frame() {
    let a = arena();
    let mut raw = a.checked();
    let bytes = frame_of(&json!({"op": "noop"}));
    raw.send_bytes(&bytes[..bytes.len() - 2]);
    raw.stream.shutdown(std::net::Shutdown::Write).unwrap();
    raw.expect_fatal("bad_frame");
    a.finish(&[]);
}

#[test]
fn half_close_after_whole_requests_still_gets_the_replies() {
    let a = arena();
    let mut raw = a.checked();
    let mut bytes = frame_of(&json!({"op": "noop"}));
    bytes.extend(frame_of(&json!({"op": "noop"})));
    raw.send_bytes(&bytes);
    raw.stream.shutdown(std::net::Shutdown::Write).unwrap();
    assert_eq!(raw.recv(), json!({"ok": true}));
    assert_eq!(raw.recv(), json!({"ok": true}));
    raw.expect_closed();
    a.finish(&[]);
}
