//! The frame codec: `u32` big-endian header length, a JSON object header, then
//! `size` raw body bytes if the header declares them.
//!
//! Decoding follows mini-redis' two steps. [`check`] walks the bytes and
//! answers "incomplete" without allocating; only when a whole header is present
//! does [`decode`] build the JSON value. Running out of bytes is normal, not an
//! error. A declared length over [`MAX_HEADER_LEN`] is refused as soon as the
//! four length bytes are in, so a peer can never make us wait for (or buffer)
//! an oversized header. The body is never part of a [`Frame`]: its length is
//! reported and the caller streams the bytes that follow.

use serde::Serialize;
use serde_json::{Map, Value};

/// Bytes in the length prefix.
pub const LEN_PREFIX: usize = 4;
/// Largest header, in bytes, that either side accepts or sends.
pub const MAX_HEADER_LEN: usize = 64 * 1024;
/// The header field that declares a body.
pub const SIZE_FIELD: &str = "size";

/// A JSON header object.
pub type Header = Map<String, Value>;

/// A decoded frame: its header and the length of the raw body that follows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    pub header: Header,
    /// Raw body bytes that follow the header (0 when `size` is absent).
    pub body_len: u64,
}

/// Why a byte stream is no longer a valid sequence of frames. After any of
/// these the frame boundaries cannot be trusted, so the connection must close.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("frame header length is 0; a header must be a JSON object")]
    Empty,
    #[error("frame header of {0} bytes exceeds the limit of {MAX_HEADER_LEN} bytes")]
    TooLarge(u32),
    #[error("frame header is not valid UTF-8")]
    NotUtf8,
    #[error("frame header is not valid JSON")]
    BadJson,
    #[error("frame header is JSON but not an object")]
    NotObject,
    #[error("frame field \"size\" must be a non-negative integer below 2^63")]
    BadSize,
}

impl FrameError {
    /// The stable wire error code for this framing error.
    pub fn code(self) -> super::ErrorCode {
        match self {
            FrameError::TooLarge(_) => super::ErrorCode::FrameTooLarge,
            _ => super::ErrorCode::BadFrame,
        }
    }
}

/// Validates a length prefix: the header length it declares, or an error if
/// that length can never be accepted.
pub fn header_len(prefix: [u8; LEN_PREFIX]) -> Result<usize, FrameError> {
    let len = u32::from_be_bytes(prefix);
    if len == 0 {
        return Err(FrameError::Empty);
    }
    if len as usize > MAX_HEADER_LEN {
        return Err(FrameError::TooLarge(len));
    }
    Ok(len as usize)
}

/// Checks whether `buf` starts with a whole header frame, without allocating.
/// Returns `Ok(None)` while incomplete, or the number of bytes the length
/// prefix and header occupy (the body, if any, is not included).
pub fn check(buf: &[u8]) -> Result<Option<usize>, FrameError> {
    let Some(prefix) = buf.first_chunk::<LEN_PREFIX>() else {
        return Ok(None);
    };
    let len = header_len(*prefix)?;
    if buf.len() < LEN_PREFIX + len {
        return Ok(None);
    }
    Ok(Some(LEN_PREFIX + len))
}

/// Parses header bytes (without the length prefix) into a [`Frame`].
pub fn parse_header(bytes: &[u8]) -> Result<Frame, FrameError> {
    let text = std::str::from_utf8(bytes).map_err(|_| FrameError::NotUtf8)?;
    let value: Value = serde_json::from_str(text).map_err(|_| FrameError::BadJson)?;
    let Value::Object(header) = value else {
        return Err(FrameError::NotObject);
    };
    let body_len = match header.get(SIZE_FIELD) {
        None => 0,
        Some(v) => v.as_u64().filter(|n| *n <= i64::MAX as u64).ok_or(FrameError::BadSize)?,
    };
    Ok(Frame { header, body_len })
}

/// Decodes the first frame header in `buf`. Returns `Ok(None)` until the
/// header is whole, then the frame and the bytes it used (prefix + header).
pub fn decode(buf: &[u8]) -> Result<Option<(Frame, usize)>, FrameError> {
    match check(buf)? {
        None => Ok(None),
        Some(used) => parse_header(&buf[LEN_PREFIX..used]).map(|f| Some((f, used))),
    }
}

/// Why a header could not be encoded.
#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    #[error("encoded header is {0} bytes, over the {MAX_HEADER_LEN}-byte limit")]
    TooLarge(usize),
    #[error("header is not a JSON object")]
    NotObject,
    #[error("header could not be serialised: {0}")]
    Json(#[from] serde_json::Error),
}

/// Appends one frame header (prefix + JSON) to `out`. The body, if the header
/// declares one, is the caller's to append or stream afterwards. On error `out`
/// is left as it was.
pub fn encode(header: &impl Serialize, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    let start = out.len();
    out.extend_from_slice(&[0; LEN_PREFIX]);
    let result = serde_json::to_writer(&mut *out, header).map_err(EncodeError::from);
    let len = out.len() - start - LEN_PREFIX;
    let result = result.and_then(|()| {
        if out.get(start + LEN_PREFIX) != Some(&b'{') {
            Err(EncodeError::NotObject)
        } else if len > MAX_HEADER_LEN {
            Err(EncodeError::TooLarge(len))
        } else {
            Ok(())
        }
    });
    match result {
        Ok(()) => {
            out[start..start + LEN_PREFIX].copy_from_slice(&(len as u32).to_be_bytes());
            Ok(())
        }
        Err(e) => {
            out.truncate(start);
            Err(e)
        }
    }
}

/// Encodes one frame header into a new buffer.
pub fn encode_to_vec(header: &impl Serialize) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::new();
    encode(header, &mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn raw(len: u32, body: &[u8]) -> Vec<u8> {
        let mut v = len.to_be_bytes().to_vec();
        v.extend_from_slice(body);
        v
    }

    fn samples() -> Vec<Value> {
        vec![
            json!({}),
            json!({"op": "noop"}),
            json!({"op": "login", "user": "alice", "nonce": "abc,=é"}),
            json!({"op": "put_data", "size": 5}),
            json!({"nested": {"a": [1, 2, 3]}, "s": "x".repeat(300)}),
        ]
    }

    #[test]
    fn every_split_of_every_sample_decodes_only_when_whole() {
        for sample in samples() {
            let bytes = encode_to_vec(&sample).unwrap();
            for cut in 0..bytes.len() {
                assert_eq!(check(&bytes[..cut]), Ok(None), "cut {cut} of {sample}");
                assert_eq!(decode(&bytes[..cut]), Ok(None));
            }
            let (frame, used) = decode(&bytes).unwrap().unwrap();
            assert_eq!(used, bytes.len());
            assert_eq!(Value::Object(frame.header), sample);
        }
    }

    #[test]
    fn a_frame_fed_one_byte_at_a_time_decodes_exactly_once() {
        let bytes = encode_to_vec(&json!({"op": "pwd"})).unwrap();
        let mut buf = Vec::new();
        let mut seen = 0;
        for b in &bytes {
            buf.push(*b);
            if let Some((frame, used)) = decode(&buf).unwrap() {
                assert_eq!(frame.header["op"], "pwd");
                buf.drain(..used);
                seen += 1;
            }
        }
        assert_eq!(seen, 1);
        assert!(buf.is_empty());
    }

    #[test]
    fn several_frames_in_one_buffer_decode_in_order() {
        let mut buf = Vec::new();
        for i in 0..5 {
            encode(&json!({"op": "noop", "i": i}), &mut buf).unwrap();
        }
        buf.extend_from_slice(&[0, 0]); // start of a sixth frame
        let mut at = 0;
        for i in 0..5 {
            let (frame, used) = decode(&buf[at..]).unwrap().unwrap();
            assert_eq!(frame.header["i"], i);
            at += used;
        }
        assert_eq!(decode(&buf[at..]), Ok(None));
    }

    #[test]
    fn body_length_is_reported_and_not_consumed() {
        let mut buf = encode_to_vec(&json!({"op": "put_data", "size": 3})).unwrap();
        let header_end = buf.len();
        buf.extend_from_slice(b"abc");
        let (frame, used) = decode(&buf).unwrap().unwrap();
        assert_eq!(frame.body_len, 3);
        assert_eq!(used, header_end);
    }

    #[test]
    fn zero_length_is_a_framing_error() {
        assert_eq!(check(&raw(0, b"")), Err(FrameError::Empty));
    }

    #[test]
    fn oversized_length_is_refused_from_the_prefix_alone() {
        let limit = MAX_HEADER_LEN as u32;
        assert_eq!(check(&raw(limit + 1, b"")), Err(FrameError::TooLarge(limit + 1)));
        assert_eq!(check(&raw(u32::MAX, b"")), Err(FrameError::TooLarge(u32::MAX)));
        // Exactly the limit is allowed: it is incomplete, not refused.
        assert_eq!(check(&raw(limit, b"{")), Ok(None));
    }

    #[test]
    fn a_header_of_exactly_the_limit_decodes() {
        let pad = "p".repeat(MAX_HEADER_LEN - r#"{"p":""}"#.len());
        let bytes = encode_to_vec(&json!({ "p": pad })).unwrap();
        assert_eq!(bytes.len(), LEN_PREFIX + MAX_HEADER_LEN);
        assert!(decode(&bytes).unwrap().is_some());
        let too_big = json!({ "p": format!("{pad}x") });
        assert!(matches!(encode_to_vec(&too_big), Err(EncodeError::TooLarge(_))));
    }

    #[test]
    fn non_utf8_header_is_a_framing_error() {
        assert_eq!(decode(&raw(2, &[0xff, 0xfe])), Err(FrameError::NotUtf8));
    }

    #[test]
    fn invalid_json_is_a_framing_error() {
        assert_eq!(decode(&raw(5, b"{op:1")), Err(FrameError::BadJson));
        assert_eq!(decode(&raw(3, b"{}x")), Err(FrameError::BadJson));
    }

    #[test]
    fn json_that_is_not_an_object_is_a_framing_error() {
        for text in ["[]", "1", "\"op\"", "null", "true"] {
            let bytes = raw(text.len() as u32, text.as_bytes());
            assert_eq!(decode(&bytes), Err(FrameError::NotObject), "{text}");
        }
    }

    #[test]
    fn bad_sizes_are_framing_errors() {
        for text in [
            r#"{"size":-1}"#,
            r#"{"size":1.5}"#,
            r#"{"size":"3"}"#,
            r#"{"size":null}"#,
            r#"{"size":1e30}"#,
            r#"{"size":18446744073709551615}"#,
        ] {
            let bytes = raw(text.len() as u32, text.as_bytes());
            assert_eq!(decode(&bytes), Err(FrameError::BadSize), "{text}");
        }
    }

    #[test]
    fn encoding_refuses_non_objects_and_leaves_the_buffer_alone() {
        let mut out = vec![9];
        assert!(matches!(encode(&json!([1]), &mut out), Err(EncodeError::NotObject)));
        assert_eq!(out, vec![9]);
    }
}
