//! The `frame_decode` target: arbitrary bytes into `frame::check` and
//! `frame::decode`, consuming frames the way the server does (header, then
//! skip the declared body, then the next header), until the bytes run out,
//! a frame is incomplete, or the stream is invalid.
//!
//! Invariants asserted on every step:
//! - `check` and `decode` agree: both incomplete, the same error, or both
//!   complete with the same length (then `decode` may still reject the JSON);
//! - `check` never allocates, and `decode` of an incomplete frame never
//!   allocates (so memory can never follow a declared length);
//! - a complete frame's `used` is at most the input, is the declared length
//!   plus the prefix, and every strict prefix of it is incomplete;
//! - `body_len` is the header's `size` (0 when absent) and below 2^63;
//! - `parse_header` on the header bytes gives the same frame;
//! - re-encoding the header with `frame::encode` and decoding that gives the
//!   same header (floats up to their last bits, see [`same_json`]) and
//!   `body_len`;
//! - decoding allocates at most a fixed multiple of the header's size,
//!   never anything related to the declared body.

use crate::alloc;
use mioftp_proto::frame::{self, EncodeError, FrameError, LEN_PREFIX, MAX_HEADER_LEN};
use serde_json::Value;

/// Bytes `decode` may allocate per header byte. serde_json's tree costs far
/// more than the text (a one-entry object `{"a":1}` is a whole B-tree node,
/// ~600 bytes for 7 bytes of text), so the factor is generous; the point is
/// that it is bounded by the header, which is at most 64 KiB.
const ALLOC_PER_HEADER_BYTE: u64 = 256;
const ALLOC_SLACK: u64 = 64 * 1024;

/// Runs one input.
pub fn run(data: &[u8]) {
    let mut at = 0usize;
    while at < data.len() {
        let buf = &data[at..];
        let (checked, allocs, _) = alloc::measure(|| frame::check(buf));
        assert_eq!(allocs, 0, "check allocated on {} bytes", buf.len());
        let (decoded, allocs, bytes) = alloc::measure(|| frame::decode(buf));
        match (checked, decoded) {
            (Ok(None), Ok(None)) => {
                assert_eq!(allocs, 0, "decode allocated {bytes} bytes for an incomplete frame");
                if let Some(prefix) = buf.first_chunk::<LEN_PREFIX>() {
                    let len = frame::header_len(*prefix).expect("incomplete, so the length was accepted");
                    assert!(buf.len() < LEN_PREFIX + len, "whole header reported incomplete");
                }
                return;
            }
            (Err(a), Err(b)) => {
                assert_eq!(a, b, "check and decode disagree on the error");
                assert!(matches!(a, FrameError::Empty | FrameError::TooLarge(_)), "check gave {a:?}");
                assert_eq!(allocs, 0, "decode allocated for a refused length prefix");
                let declared = u32::from_be_bytes(*buf.first_chunk::<LEN_PREFIX>().expect("a prefix was read"));
                match a {
                    FrameError::Empty => assert_eq!(declared, 0),
                    FrameError::TooLarge(n) => assert!(n == declared && n as usize > MAX_HEADER_LEN),
                    _ => unreachable!(),
                }
                return;
            }
            (Ok(Some(n)), Err(e)) => {
                assert!(
                    matches!(
                        e,
                        FrameError::NotUtf8 | FrameError::BadJson | FrameError::NotObject | FrameError::BadSize
                    ),
                    "a whole header was refused with {e:?}"
                );
                assert!(n <= buf.len());
                assert_alloc_bound(bytes, n);
                assert_eq!(frame::parse_header(&buf[LEN_PREFIX..n]), Err(e));
                return;
            }
            (Ok(Some(n)), Ok(Some((f, used)))) => {
                assert_eq!(n, used, "check and decode disagree on the frame's length");
                assert!(used <= buf.len(), "used {used} of {} bytes", buf.len());
                assert!(used > LEN_PREFIX && used <= LEN_PREFIX + MAX_HEADER_LEN);
                let prefix = *buf.first_chunk::<LEN_PREFIX>().expect("whole frame");
                assert_eq!(frame::header_len(prefix), Ok(used - LEN_PREFIX));
                assert_alloc_bound(bytes, used);
                let size = f.header.get(frame::SIZE_FIELD).map(|v| v.as_u64().expect("decode checked size"));
                assert_eq!(f.body_len, size.unwrap_or(0));
                assert!(f.body_len <= i64::MAX as u64);
                assert_eq!(frame::parse_header(&buf[LEN_PREFIX..used]).as_ref(), Ok(&f));
                strict_prefixes_are_incomplete(&buf[..used]);
                reencodes_to_the_same_frame(&f);
                // As the server does: the body is not part of the frame;
                // skip it (or stop if the input ends inside it).
                at += used;
                let body = usize::try_from(f.body_len).unwrap_or(usize::MAX);
                at = at.saturating_add(body);
            }
            (c, d) => panic!("check and decode disagree: check {c:?}, decode {d:?}"),
        }
    }
}

fn assert_alloc_bound(bytes: u64, frame_len: usize) {
    let bound = ALLOC_PER_HEADER_BYTE * frame_len as u64 + ALLOC_SLACK;
    assert!(bytes <= bound, "decode of a {frame_len}-byte frame allocated {bytes} bytes (bound {bound})");
}

fn strict_prefixes_are_incomplete(whole: &[u8]) {
    for cut in 0..whole.len() {
        let part = &whole[..cut];
        let (c, allocs, _) = alloc::measure(|| (frame::check(part), frame::decode(part)));
        assert_eq!(c, (Ok(None), Ok(None)), "a strict prefix of {cut} bytes was not incomplete");
        assert_eq!(allocs, 0, "decode allocated for a strict prefix of {cut} bytes");
    }
}

fn reencodes_to_the_same_frame(f: &frame::Frame) {
    let mut out = Vec::new();
    match frame::encode(&f.header, &mut out) {
        Ok(()) => {}
        // Re-serialising can be longer than the text received (`1e5` comes
        // back as `100000.0`), so a header near the limit may not fit again.
        Err(EncodeError::TooLarge(_)) => return assert!(out.is_empty()),
        Err(e) => panic!("a decoded header did not re-encode: {e}"),
    }
    let (again, used) = frame::decode(&out)
        .unwrap_or_else(|e| panic!("re-encoded header rejected: {e}"))
        .expect("a re-encoded header is whole");
    assert_eq!(used, out.len());
    assert!(
        same_json(&Value::Object(again.header.clone()), &Value::Object(f.header.clone())),
        "re-encoding changed the header: {:?} became {:?}",
        f.header,
        again.header
    );
    assert_eq!(again.body_len, f.body_len);
}

/// JSON equality, except that floating-point numbers may differ in their
/// last bits. serde_json (without its `float_roundtrip` feature, as mioftp
/// builds it) parses some decimal texts one ULP off the nearest double, e.g.
/// `12000e101` as 1.2000000000000001e105, which it then writes in full and
/// parses back as 1.2e105. No protocol field is a float (`size` must be an
/// integer), so this is tolerated here and reported, not a failure.
fn same_json(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) if x.is_f64() || y.is_f64() => {
            let (x, y) = (x.as_f64().unwrap_or(f64::NAN), y.as_f64().unwrap_or(f64::NAN));
            x == y || (x - y).abs() <= 4.0 * f64::EPSILON * x.abs().max(y.abs())
        }
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same_json(x, y)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same_json(v, w)))
        }
        _ => a == b,
    }
}
