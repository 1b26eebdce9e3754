//! Reading frames the way a peer does: the one frame reader of the tests and
//! the fuzz harness, built on the protocol crate's decoder.
//!
//! [`FrameReader`] is fed bytes in pieces of any size and hands back headers
//! and body bytes as they complete; it holds at most one header's bytes.
//! [`read_frame`] uses it on a blocking stream (a socket) and leaves the
//! body in the stream; [`split_frames`] uses it on a buffer (what a session
//! queued).

use mioftp_proto::frame::{self, Frame, FrameError, LEN_PREFIX};
use serde_json::Value;
use std::io::{self, Read};

/// What the next bytes of the stream were.
#[derive(Debug, PartialEq)]
pub enum Piece<'a> {
    /// A whole header; its body (`body_len` bytes) comes next.
    Header(Frame),
    /// Bytes of the current body, as many as were offered (at most what is left).
    Body(&'a [u8]),
}

/// Reads a stream of frames fed piece by piece.
#[derive(Debug, Clone, Default)]
pub struct FrameReader {
    /// Bytes of a header not yet whole: never more than one header.
    pending: Vec<u8>,
    /// Body bytes still to come before the next header.
    body_left: u64,
}

impl FrameReader {
    /// Consumes bytes from the front of `input` and returns the next piece,
    /// or `Ok(None)` when `input` ran out first (what it held is kept). An
    /// error means the stream is not frames; the reader is then unusable.
    pub fn next<'a>(&mut self, input: &mut &'a [u8]) -> Result<Option<Piece<'a>>, FrameError> {
        if self.body_left > 0 {
            if input.is_empty() {
                return Ok(None);
            }
            let n = usize::try_from(self.body_left).unwrap_or(usize::MAX).min(input.len());
            let (body, rest) = input.split_at(n);
            *input = rest;
            self.body_left -= n as u64;
            return Ok(Some(Piece::Body(body)));
        }
        loop {
            // Take just what the header needs, so only one header is held.
            let n = self.header_wants()?.min(input.len());
            let (taken, rest) = input.split_at(n);
            self.pending.extend_from_slice(taken);
            *input = rest;
            if let Some((f, used)) = frame::decode(&self.pending)? {
                debug_assert_eq!(used, self.pending.len());
                self.pending.clear();
                self.body_left = f.body_len;
                return Ok(Some(Piece::Header(f)));
            }
            if input.is_empty() {
                return Ok(None);
            }
        }
    }

    /// Bytes still missing from the header being read (the length prefix
    /// first, then the header it declares).
    fn header_wants(&self) -> Result<usize, FrameError> {
        Ok(match self.pending.first_chunk::<LEN_PREFIX>() {
            None => LEN_PREFIX - self.pending.len(),
            Some(prefix) => LEN_PREFIX + frame::header_len(*prefix)? - self.pending.len(),
        })
    }

    /// The bytes of a header not yet whole (empty at a frame boundary or in a body).
    pub fn pending_header(&self) -> &[u8] {
        &self.pending
    }

    /// Body bytes of the last header still to come.
    pub fn body_left(&self) -> u64 {
        self.body_left
    }
}

/// Reads one frame header from a blocking stream, leaving its body unread.
/// `Ok(None)` when the stream ends cleanly before the frame's first byte;
/// an end inside the header is `UnexpectedEof`, a malformed frame
/// `InvalidData`.
pub fn read_frame(r: &mut impl Read) -> io::Result<Option<Frame>> {
    let mut reader = FrameReader::default();
    let mut first = [0u8; 1];
    loop {
        match r.read(&mut first) {
            Ok(0) => return Ok(None),
            Ok(_) => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    let invalid = |e: FrameError| io::Error::new(io::ErrorKind::InvalidData, e);
    let mut buf = first.to_vec();
    loop {
        let mut input = buf.as_slice();
        if let Some(piece) = reader.next(&mut input).map_err(invalid)? {
            let Piece::Header(f) = piece else { unreachable!("a fresh reader reads a header first") };
            return Ok(Some(f));
        }
        buf.resize(reader.header_wants().map_err(invalid)?, 0);
        r.read_exact(&mut buf)?;
    }
}

/// Every frame in `bytes`: each header as JSON, with its body. For tests
/// reading what a session queued: panics on a malformed frame or a cut
/// header, but the last body may go on past `bytes` (a download whose body
/// is still being produced); its slice is then shorter than its `size`.
pub fn split_frames(bytes: &[u8]) -> Vec<(Value, &[u8])> {
    let mut reader = FrameReader::default();
    let mut input = bytes;
    let mut frames: Vec<(Value, &[u8])> = Vec::new();
    while let Some(piece) = reader.next(&mut input).unwrap_or_else(|e| panic!("not a valid frame: {e}")) {
        match piece {
            Piece::Header(f) => frames.push((Value::Object(f.header), &[])),
            // A whole buffer gives each body in one piece.
            Piece::Body(body) => frames.last_mut().expect("a body follows its header").1 = body,
        }
    }
    assert!(reader.pending_header().is_empty(), "the bytes end inside a header");
    frames
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn stream() -> Vec<u8> {
        let mut out = frame::encode_to_vec(&json!({"ok": true})).unwrap();
        out.extend(frame::encode_to_vec(&json!({"ok": true, "size": 5})).unwrap());
        out.extend_from_slice(b"hello");
        out.extend(frame::encode_to_vec(&json!({"notice": "shutdown", "message": "bye"})).unwrap());
        out
    }

    /// Headers and the body bytes joined, from feeding `parts` in order.
    fn read_in(parts: &[&[u8]]) -> (Vec<Value>, Vec<u8>) {
        let mut reader = FrameReader::default();
        let (mut headers, mut body) = (Vec::new(), Vec::new());
        for part in parts {
            let mut input = *part;
            while let Some(piece) = reader.next(&mut input).unwrap() {
                match piece {
                    Piece::Header(f) => headers.push(Value::Object(f.header)),
                    Piece::Body(b) => body.extend_from_slice(b),
                }
            }
            assert!(input.is_empty(), "next returns None only when the input is used up");
        }
        assert!(reader.pending_header().is_empty() && reader.body_left() == 0);
        (headers, body)
    }

    #[test]
    fn a_stream_split_at_every_offset_reads_the_same() {
        let bytes = stream();
        let whole = read_in(&[&bytes]);
        assert_eq!(whole.0.len(), 3);
        assert_eq!(whole.1, b"hello");
        for cut in 0..=bytes.len() {
            assert_eq!(read_in(&[&bytes[..cut], &bytes[cut..]]), whole, "cut at {cut}");
        }
        let singles: Vec<&[u8]> = bytes.chunks(1).collect();
        assert_eq!(read_in(&singles), whole, "one byte at a time");
    }

    #[test]
    fn the_reader_holds_at_most_one_header() {
        let bytes = stream();
        let mut reader = FrameReader::default();
        let mut input = &bytes[..3];
        assert_eq!(reader.next(&mut input), Ok(None));
        assert_eq!(reader.pending_header().len(), 3);
        let mut input = &bytes[3..];
        assert!(matches!(reader.next(&mut input), Ok(Some(Piece::Header(_)))));
        assert_eq!(input.len(), bytes.len() - frame::encode_to_vec(&json!({"ok": true})).unwrap().len());
    }

    #[test]
    fn split_frames_gives_headers_with_their_bodies() {
        let bytes = stream();
        let frames = split_frames(&bytes);
        let bodies: Vec<&[u8]> = frames.iter().map(|f| f.1).collect();
        assert_eq!(bodies, [&b""[..], b"hello", b""]);
        assert_eq!(frames[2].0["notice"], "shutdown");
    }

    #[test]
    #[should_panic(expected = "inside a header")]
    fn split_frames_refuses_a_cut_header() {
        split_frames(&stream()[..3]);
    }

    #[test]
    fn split_frames_gives_a_body_still_to_come_as_far_as_it_goes() {
        let bytes = stream();
        let first = frame::encode_to_vec(&json!({"ok": true})).unwrap().len();
        let second = frame::encode_to_vec(&json!({"ok": true, "size": 5})).unwrap().len();
        let frames = split_frames(&bytes[..first + second + 2]);
        assert_eq!(frames.len(), 2);
        assert_eq!(frames[1].1, b"he");
    }

    #[test]
    fn read_frame_reads_headers_and_leaves_bodies_in_the_stream() {
        let bytes = stream();
        let mut r = bytes.as_slice();
        let second = {
            read_frame(&mut r).unwrap().expect("first");
            read_frame(&mut r).unwrap().expect("second")
        };
        assert_eq!(second.body_len, 5);
        assert!(r.starts_with(b"hello"));
        r = &r[5..];
        assert_eq!(read_frame(&mut r).unwrap().unwrap().header["notice"], "shutdown");
        assert!(read_frame(&mut r).unwrap().is_none(), "a clean end between frames");
    }

    #[test]
    fn read_frame_reports_a_cut_or_malformed_frame() {
        let bytes = stream();
        let err = read_frame(&mut &bytes[..6]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        let err = read_frame(&mut &[0u8, 0, 0, 2, b'[', b']'][..]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        let err = read_frame(&mut &[0xffu8, 0, 0, 0][..]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData, "an oversized length, from four bytes");
    }
}
