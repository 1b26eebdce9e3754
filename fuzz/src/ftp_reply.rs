//! Checks everything an FTP session sends on its control connection, as a
//! strict client reads it (RFC 959 §4.2):
//!
//! - every line ends in CRLF, holds no other CR or LF, and is at most
//!   [`MAX_REPLY_LINE`] bytes;
//! - a reply is `ddd text` or a multi-line `ddd-text` … `ddd text` with the
//!   same code, with codes from 100 to 599;
//! - the first reply is the 220 greeting;
//! - nothing follows a 221 (QUIT) or a 421 (the server closes).

use std::cell::RefCell;
use std::collections::VecDeque;

thread_local! {
    /// When set, every reply any [`ReplyCheck`] on this thread reads is
    /// appended here (for the harness's own tests).
    static TRACE: RefCell<Option<Vec<String>>> = const { RefCell::new(None) };
}

/// Runs `f`, returning every reply's first line read meanwhile, in order.
pub fn traced(f: impl FnOnce()) -> Vec<String> {
    TRACE.with(|t| *t.borrow_mut() = Some(Vec::new()));
    f();
    TRACE.with(|t| t.borrow_mut().take()).unwrap_or_default()
}

/// The longest reply line accepted (a path is at most 4 KiB).
pub const MAX_REPLY_LINE: usize = 8 * 1024;
/// Replies kept for the harness's macro ops (the newest last).
const KEEP: usize = 32;

#[derive(Default)]
pub struct ReplyCheck {
    /// An unfinished line.
    partial: Vec<u8>,
    /// The code of an open multi-line reply.
    multi: Option<u16>,
    /// Replies read so far.
    pub count: u64,
    /// The last replies: code and first line.
    pub recent: VecDeque<(u16, String)>,
    /// A 221 or 421 was read: the connection is over.
    ended: bool,
}

impl ReplyCheck {
    pub fn feed(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.partial.push(b);
            assert!(self.partial.len() <= MAX_REPLY_LINE + 2, "a reply line longer than {MAX_REPLY_LINE} bytes");
            if b == b'\n' {
                let line = std::mem::take(&mut self.partial);
                assert!(line.len() >= 2 && line[line.len() - 2] == b'\r', "a line without CRLF: {line:?}");
                self.line(&line[..line.len() - 2]);
            }
        }
    }

    fn line(&mut self, line: &[u8]) {
        assert!(!line.contains(&b'\r'), "a bare CR in a reply line: {line:?}");
        let text = String::from_utf8_lossy(line).into_owned();
        let code = (line.len() >= 4 && line[..3].iter().all(u8::is_ascii_digit))
            .then(|| text[..3].parse::<u16>().unwrap_or(0))
            .filter(|c| (100..600).contains(c));
        if let Some(open) = self.multi {
            // Inside a multi-line reply, only `ddd ` with its code ends it.
            if code == Some(open) && line[3] == b' ' {
                self.multi = None;
            }
            return;
        }
        let code = code.unwrap_or_else(|| panic!("not a reply line: {text:?}"));
        assert!(line[3] == b' ' || line[3] == b'-', "not a reply line: {text:?}");
        assert!(!self.ended, "a reply after the connection's last one: {text:?}");
        if self.count == 0 {
            assert_eq!(code, 220, "the first reply is the greeting");
        }
        if line[3] == b'-' {
            self.multi = Some(code);
        }
        self.count += 1;
        if code == 221 || code == 421 {
            self.ended = true;
        }
        TRACE.with(|t| {
            if let Some(v) = t.borrow_mut().as_mut() {
                v.push(text.clone());
            }
        });
        self.recent.push_back((code, text));
        if self.recent.len() > KEEP {
            self.recent.pop_front();
        }
    }

    /// The codes of the replies read since `mark` (a count taken earlier),
    /// as far as they are kept.
    pub fn since(&self, mark: u64) -> Vec<(u16, String)> {
        let n = (self.count - mark).min(self.recent.len() as u64) as usize;
        self.recent.iter().skip(self.recent.len() - n).cloned().collect()
    }

    /// Whether a line has started and not ended.
    pub fn mid_line(&self) -> bool {
        !self.partial.is_empty() || self.multi.is_some()
    }
}
