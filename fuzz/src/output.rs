//! Checks everything a session sends, as a strict client would read it:
//! a sequence of frames that all decode with `frame::decode`, each header at
//! most 64 KiB, each body skipped by its declared size. On top of framing:
//!
//! - the first frame is the `hello` notice (its challenge is kept, so the
//!   harness can answer the connection check);
//! - every other frame is a reply (`ok` is a boolean) or a notice (`notice`
//!   is a string), never both, never neither;
//! - a failure reply carries `error.code`, a wire code from the protocol's
//!   list (never an audit-only reason), and a string `error.message`;
//! - a download's first frame has `size == length - offset`, and when the
//!   whole file is sent (`offset` 0) the trailer's SHA-256 and length match
//!   the body that came before it.

use mioftp_proto::ErrorCode;
use mioftp_proto::frame::{self, LEN_PREFIX, MAX_HEADER_LEN};
use mioftp_proto::scram;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::cell::RefCell;
use std::collections::VecDeque;

/// Replies kept for the harness's macro ops (the newest last).
const KEEP: usize = 16;

thread_local! {
    /// When set, every header any [`OutputCheck`] on this thread reads is
    /// appended here (for the harness's own tests).
    static TRACE: RefCell<Option<Vec<Value>>> = const { RefCell::new(None) };
}

/// Runs `f`, returning every header the checks read meanwhile, in order.
pub fn traced(f: impl FnOnce()) -> Vec<Value> {
    TRACE.with(|t| *t.borrow_mut() = Some(Vec::new()));
    f();
    TRACE.with(|t| t.borrow_mut().take()).unwrap_or_default()
}

/// A download being checked: the whole file is expected.
struct Download {
    length: u64,
    hasher: Sha256,
    /// Body bytes seen so far.
    seen: u64,
}

/// The reader side of one connection.
#[derive(Default)]
pub struct OutputCheck {
    /// Bytes of a header not yet whole.
    pending: Vec<u8>,
    /// Body bytes still to skip before the next header.
    body_left: u64,
    frames: u64,
    /// The hello's challenge.
    pub challenge: Option<Vec<u8>>,
    download: Option<Download>,
    /// A download that has sent its first frame; the trailer must follow the body.
    awaiting_trailer: bool,
    /// The newest headers, for the harness to read replies from.
    pub recent: VecDeque<Value>,
}

impl OutputCheck {
    /// Takes the next bytes the session sent.
    pub fn feed(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            if self.body_left > 0 {
                let n = self.body_left.min(bytes.len() as u64) as usize;
                if let Some(d) = &mut self.download {
                    d.hasher.update(&bytes[..n]);
                    d.seen += n as u64;
                }
                self.body_left -= n as u64;
                bytes = &bytes[n..];
                continue;
            }
            // Take just what the header needs, so the buffer stays one frame.
            let need = match self.pending.first_chunk::<LEN_PREFIX>() {
                None => LEN_PREFIX - self.pending.len(),
                Some(p) => match frame::header_len(*p) {
                    Ok(len) => LEN_PREFIX + len - self.pending.len(),
                    Err(e) => panic!("the server sent a bad length prefix {p:?}: {e}"),
                },
            };
            let n = need.min(bytes.len());
            self.pending.extend_from_slice(&bytes[..n]);
            bytes = &bytes[n..];
            match frame::decode(&self.pending) {
                Ok(None) => {}
                Ok(Some((f, used))) => {
                    assert_eq!(used, self.pending.len());
                    assert!(used - LEN_PREFIX <= MAX_HEADER_LEN);
                    self.pending.clear();
                    self.body_left = f.body_len;
                    self.header(Value::Object(f.header), f.body_len);
                }
                Err(e) => {
                    panic!("the server sent an invalid frame ({e}): {:?}", String::from_utf8_lossy(&self.pending))
                }
            }
        }
    }

    /// Whether the stream so far ends on a frame boundary, or inside a body
    /// (a download cut short by a close). A header is never cut: the session
    /// queues whole frames.
    pub fn assert_no_partial_header(&self) {
        assert!(self.pending.is_empty(), "output ends inside a header: {:?}", String::from_utf8_lossy(&self.pending));
    }

    /// Body bytes a client would still expect after reading everything
    /// checked so far and then `queued` (output not yet read): non-zero
    /// while a download's body is not all queued.
    pub fn unqueued_body(&self, queued: &[u8]) -> u64 {
        let joined;
        let mut rest = if self.pending.is_empty() {
            queued
        } else {
            joined = [self.pending.as_slice(), queued].concat();
            joined.as_slice()
        };
        let mut left = self.body_left;
        loop {
            let n = left.min(rest.len() as u64);
            left -= n;
            rest = &rest[n as usize..];
            if left > 0 || rest.is_empty() {
                return left;
            }
            match frame::decode(rest) {
                Ok(Some((f, used))) => {
                    rest = &rest[used..];
                    left = f.body_len;
                }
                // A header not yet whole: it will be, it is queued whole.
                _ => return 0,
            }
        }
    }

    pub fn frames(&self) -> u64 {
        self.frames
    }

    fn header(&mut self, h: Value, body_len: u64) {
        self.frames += 1;
        if self.frames == 1 {
            assert_eq!(h["notice"], "hello", "the first frame is not the hello: {h}");
            let challenge = h["challenge"].as_str().and_then(scram::unb64).expect("hello has a base64 challenge");
            assert_eq!(challenge.len(), 32, "challenge length");
            self.challenge = Some(challenge);
        }
        let ok = h.get("ok");
        let notice = h.get("notice");
        match (ok, notice) {
            (Some(Value::Bool(_)), None) | (None, Some(Value::String(_))) => {}
            _ => panic!("a frame that is neither a reply nor a notice: {h}"),
        }
        if ok == Some(&Value::Bool(false)) {
            let code = h["error"]["code"].as_str().unwrap_or_else(|| panic!("failure without a code: {h}"));
            let known = ErrorCode::parse(code).unwrap_or_else(|| panic!("unknown error code {code:?}: {h}"));
            assert!(known.on_wire(), "an audit-only reason was sent: {h}");
            assert!(h["error"]["message"].is_string(), "failure without a message: {h}");
            assert_eq!(body_len, 0, "a failure reply with a body: {h}");
        }
        if self.awaiting_trailer && self.body_left == 0 && body_len == 0 && h.get("trailer").is_none() {
            // Only a close can interrupt a download; any other frame here
            // would be read by a client as the end of the body.
            if ok == Some(&Value::Bool(true)) {
                panic!("a reply came between a download's body and its trailer: {h}");
            }
        }
        if h["ok"] == true && h.get("etag").is_some() {
            let (length, offset) = (h["length"].as_u64(), h["offset"].as_u64());
            let (Some(length), Some(offset)) = (length, offset) else { panic!("download start without numbers: {h}") };
            assert!(offset <= length, "{h}");
            assert_eq!(body_len, length - offset, "download size is not length - offset: {h}");
            self.download = (offset == 0).then(|| Download { length, hasher: Sha256::new(), seen: 0 });
            self.awaiting_trailer = true;
        } else if h["trailer"] == true {
            assert!(self.awaiting_trailer, "a trailer without a download: {h}");
            self.awaiting_trailer = false;
            if let Some(d) = self.download.take() {
                assert_eq!(d.seen, d.length);
                assert_eq!(h["length"].as_u64(), Some(d.length), "{h}");
                let sha = hex(&d.hasher.finalize());
                assert_eq!(h["sha256"].as_str(), Some(sha.as_str()), "trailer digest differs from the body sent");
            }
        } else {
            assert_eq!(body_len, 0, "a body on a frame that is not a download: {h}");
        }
        TRACE.with(|t| {
            if let Some(all) = t.borrow_mut().as_mut() {
                all.push(h.clone());
            }
        });
        if self.recent.len() == KEEP {
            self.recent.pop_front();
        }
        self.recent.push_back(h);
    }
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
