//! Checks everything a session sends, as a strict client would read it:
//! a sequence of frames that all decode (read with `mioftp-testkit`'s frame
//! reader, on the protocol crate's decoder), each header at most 64 KiB,
//! each body skipped by its declared size. On top of framing:
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
use mioftp_proto::scram;
use mioftp_testkit::{FrameReader, Piece};
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
    /// The frame reader (`mioftp-testkit`): holds at most one header.
    reader: FrameReader,
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
        loop {
            let piece = self.reader.next(&mut bytes).unwrap_or_else(|e| {
                let held = String::from_utf8_lossy(self.reader.pending_header()).into_owned();
                panic!("the server sent an invalid frame ({e}): {held:?}")
            });
            match piece {
                None => return,
                Some(Piece::Body(body)) => {
                    if let Some(d) = &mut self.download {
                        d.hasher.update(body);
                        d.seen += body.len() as u64;
                    }
                }
                Some(Piece::Header(f)) => self.header(Value::Object(f.header), f.body_len),
            }
        }
    }

    /// Whether the stream so far ends on a frame boundary, or inside a body
    /// (a download cut short by a close). A header is never cut: the session
    /// queues whole frames.
    pub fn assert_no_partial_header(&self) {
        let held = self.reader.pending_header();
        assert!(held.is_empty(), "output ends inside a header: {:?}", String::from_utf8_lossy(held));
    }

    /// Body bytes a client would still expect after reading everything
    /// checked so far and then `queued` (output not yet read): non-zero
    /// while a download's body is not all queued.
    pub fn unqueued_body(&self, queued: &[u8]) -> u64 {
        let mut reader = self.reader.clone();
        let mut rest = queued;
        // A header not yet whole ends this: it will be, it is queued whole.
        while let Ok(Some(_)) = reader.next(&mut rest) {}
        if reader.pending_header().is_empty() { reader.body_left() } else { 0 }
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
        if self.awaiting_trailer && body_len == 0 && h.get("trailer").is_none() {
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
