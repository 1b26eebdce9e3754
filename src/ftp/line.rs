//! The FTP control-channel line decoder, sans-IO: bytes go in, in any split,
//! and complete command lines come out, one at a time.
//!
//! The control connection is a Telnet NVT stream (RFC 959 §4.1.1, RFC 854):
//! lines end in CRLF (a bare LF is accepted too, as every real server does),
//! and Telnet commands (`IAC x`) may appear anywhere. The decoder strips them:
//! `IAC IAC` is a data byte 0xFF, option negotiation (`IAC WILL/WONT/DO/DONT
//! opt`) and subnegotiation (`IAC SB .. IAC SE`) are dropped, and an
//! `IAC IP` or `IAC DM` (the "interrupt, then synch" that RFC 959 asks a
//! client to send before an urgent ABOR) raises the urgent flag, which the
//! session reads with [`LineDecoder::take_urgent`].
//!
//! Bounds: a line may hold at most [`MAX_LINE`] bytes including its line
//! end. A longer line is reported once, as [`LineError::TooLong`], as soon as
//! the limit is crossed; the rest of it is skipped without being buffered,
//! and decoding resumes after its LF. So memory per connection is bounded by
//! [`MAX_LINE`] whatever a peer sends.
//!
//! Like the native frame decoder, running out of bytes is not an error: the
//! decoder keeps the partial line and waits for more.

use super::reply::Reply;

/// Longest control line, in bytes, counting its CRLF (after Telnet commands are removed).
pub const MAX_LINE: usize = 2048;

/// Telnet "interpret as command".
const IAC: u8 = 255;
const DONT: u8 = 254;
const DO: u8 = 253;
const WONT: u8 = 252;
const WILL: u8 = 251;
const SB: u8 = 250;
/// Data mark: the "synch" after an interrupt.
const DM: u8 = 242;
/// Interrupt process.
const IP: u8 = 244;
const SE: u8 = 240;

/// Why a line cannot be used. The session answers both with 500 (over-long)
/// or 501 (not UTF-8) and carries on with the next line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineError {
    /// The line passed [`MAX_LINE`] bytes. Reported once, when the limit is
    /// crossed; the rest of the line up to its LF is skipped.
    TooLong,
    /// The line is complete but is not valid UTF-8 (RFC 2640 makes UTF-8 the
    /// pathname encoding; we accept nothing else).
    NotUtf8,
}

impl std::fmt::Display for LineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LineError::TooLong => write!(f, "command line too long (limit {MAX_LINE} bytes)"),
            LineError::NotUtf8 => f.write_str("command line is not valid UTF-8"),
        }
    }
}

impl std::error::Error for LineError {}

impl LineError {
    /// The reply: 500 for an over-long line, 501 for one that is not UTF-8.
    pub fn reply(self) -> Reply {
        match self {
            LineError::TooLong => Reply::new(500, "Command line too long."),
            LineError::NotUtf8 => Reply::new(501, "Command line is not valid UTF-8."),
        }
    }
}

/// Where the Telnet scanner is between two bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Telnet {
    Data,
    /// After an IAC.
    Iac,
    /// After IAC WILL/WONT/DO/DONT: the next byte is the option code.
    Option,
    /// Inside IAC SB ... : skip until IAC SE.
    Sub,
    /// Inside a subnegotiation, after an IAC.
    SubIac,
}

/// The decoder of one control connection. See the module documentation.
#[derive(Debug)]
pub struct LineDecoder {
    /// The current line, Telnet commands removed, without its LF (a CR
    /// before the LF is still here and is dropped when the LF arrives).
    buf: Vec<u8>,
    /// Skipping the rest of an over-long line, up to and including its LF.
    skipping: bool,
    telnet: Telnet,
    /// An IAC IP or IAC DM was seen and not yet taken.
    urgent: bool,
    /// The last Telnet command was IP: a lone DM byte right after it is the
    /// synch whose IAC the kernel took out of band (see `feed_byte`).
    after_ip: bool,
    /// Bytes inside the current subnegotiation.
    sub_len: usize,
}

impl Default for LineDecoder {
    fn default() -> Self {
        LineDecoder::new()
    }
}

impl LineDecoder {
    pub fn new() -> Self {
        LineDecoder {
            buf: Vec::new(),
            skipping: false,
            telnet: Telnet::Data,
            urgent: false,
            after_ip: false,
            sub_len: 0,
        }
    }

    /// Decodes from `input` until one line is complete or the bytes run out.
    ///
    /// Returns how many bytes of `input` were consumed and, if a line ended
    /// (or one became too long), the line. With `None`, every byte was
    /// consumed and the decoder waits for more; with `Some`, the caller
    /// calls again with `&input[consumed..]` when it is ready for the next
    /// command. So a session that is busy (waiting for a login check, say)
    /// can leave later commands unread in its own buffer.
    pub fn decode(&mut self, input: &[u8]) -> (usize, Option<Result<String, LineError>>) {
        for (i, &b) in input.iter().enumerate() {
            if let Some(done) = self.feed_byte(b) {
                return (i + 1, Some(done));
            }
        }
        (input.len(), None)
    }

    /// Whether an IAC IP or IAC DM arrived since the last call, clearing the flag.
    /// The session uses it to treat the next ABOR as urgent (RFC 959 §4.1.3).
    pub fn take_urgent(&mut self) -> bool {
        std::mem::take(&mut self.urgent)
    }

    /// Bytes of a partial line held (at most [`MAX_LINE`] - 1).
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    fn feed_byte(&mut self, b: u8) -> Option<Result<String, LineError>> {
        match self.telnet {
            Telnet::Data => {
                if b == IAC {
                    self.telnet = Telnet::Iac;
                    return None;
                }
                // Without SO_OOBINLINE, Linux removes the one urgent byte of
                // a `send(IAC IP IAC, MSG_OOB)` from the stream, so the synch
                // arrives as a lone DM byte after IAC IP. Take it as the DM.
                if b == DM && self.after_ip && self.buf.is_empty() {
                    self.after_ip = false;
                    self.urgent = true;
                    return None;
                }
                self.after_ip = false;
                self.data(b)
            }
            Telnet::Iac => {
                self.telnet = Telnet::Data;
                self.after_ip = false;
                match b {
                    IAC => return self.data(IAC),
                    WILL | WONT | DO | DONT => self.telnet = Telnet::Option,
                    SB => {
                        self.telnet = Telnet::Sub;
                        self.sub_len = 0;
                    }
                    IP => {
                        self.urgent = true;
                        self.after_ip = true;
                    }
                    DM => self.urgent = true,
                    // NOP, BRK, AO, AYT, EC, EL, GA, a stray SE: nothing to do.
                    _ => {}
                }
                None
            }
            Telnet::Option => {
                // We neither accept nor refuse options: RFC 959 servers may
                // ignore negotiation, and answering would put Telnet bytes
                // among our replies.
                self.telnet = Telnet::Data;
                None
            }
            Telnet::Sub | Telnet::SubIac => {
                // A subnegotiation is never buffered, but it counts toward
                // the line's length: one that never ends must not keep the
                // decoder from reporting anything forever.
                self.sub_len += 1;
                if self.sub_len >= MAX_LINE {
                    self.telnet = Telnet::Data;
                    self.buf = Vec::new();
                    self.skipping = true;
                    return Some(Err(LineError::TooLong));
                }
                self.telnet = match (self.telnet, b) {
                    (Telnet::SubIac, SE) => Telnet::Data,
                    (Telnet::Sub, IAC) => Telnet::SubIac,
                    _ => Telnet::Sub,
                };
                None
            }
        }
    }

    /// One data byte (Telnet commands already removed).
    fn data(&mut self, b: u8) -> Option<Result<String, LineError>> {
        if b == b'\n' {
            if std::mem::take(&mut self.skipping) {
                // The end of an over-long line, already reported.
                return None;
            }
            let mut line = std::mem::take(&mut self.buf);
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            return Some(String::from_utf8(line).map_err(|_| LineError::NotUtf8));
        }
        if self.skipping {
            return None;
        }
        // The LF still to come counts too: a full buffer here means the line
        // can no longer end within MAX_LINE bytes.
        if self.buf.len() + 1 >= MAX_LINE {
            self.buf = Vec::new();
            self.skipping = true;
            return Some(Err(LineError::TooLong));
        }
        self.buf.push(b);
        None
    }
}

#[cfg(test)]
mod tests;
