//! FTP replies, pure: a [`Reply`] value and its encoding on the control
//! connection (RFC 959 §4.2), the RFC 959 257 path quoting, and the one
//! table that turns every server [`ErrorCode`] into an FTP reply code and
//! text. docs/FTP.md carries that table, and `tests/ftp_doc.rs` checks it
//! against [`error_reply`] row by row.
//!
//! Encoding rules:
//! - one line: `123 text\r\n`;
//! - several: `123-first\r\n`, then each body line with one leading space
//!   (which is what FEAT, MLST and STAT need, and which can never be taken
//!   for the closing line), then `123 last\r\n`;
//! - a CR or LF inside a text is replaced by a space, so no text (a file
//!   name, say) can end a reply early or forge another one.

use crate::protocol::ErrorCode;

/// One reply: a three-digit code and one or more lines of text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    /// The first line (after `code-` or `code `).
    pub text: String,
    /// Body lines of a multi-line reply, each sent after one space.
    pub body: Vec<String>,
    /// The closing line of a multi-line reply; `None` for a one-line reply.
    pub last: Option<String>,
}

impl Reply {
    /// A one-line reply. `code` must be in 100..=599.
    pub fn new(code: u16, text: impl Into<String>) -> Reply {
        debug_assert!((100..600).contains(&code), "reply code {code}");
        Reply { code, text: text.into(), body: Vec::new(), last: None }
    }

    /// A multi-line reply: `code-first`, the body lines, `code last`.
    pub fn multi(code: u16, first: impl Into<String>, body: Vec<String>, last: impl Into<String>) -> Reply {
        debug_assert!((100..600).contains(&code), "reply code {code}");
        Reply { code, text: first.into(), body, last: Some(last.into()) }
    }

    /// Appends the encoded reply to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let code = self.code.to_string();
        out.extend_from_slice(code.as_bytes());
        match &self.last {
            None => {
                out.push(b' ');
                push_clean(out, &self.text);
            }
            Some(last) => {
                out.push(b'-');
                push_clean(out, &self.text);
                for line in &self.body {
                    out.push(b' ');
                    push_clean(out, line);
                }
                out.extend_from_slice(code.as_bytes());
                out.push(b' ');
                push_clean(out, last);
            }
        }
    }

    /// The encoded reply.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }

    /// 1yz, 2yz or 3yz.
    pub fn is_positive(&self) -> bool {
        self.code < 400
    }

    /// 421: the server closes the control connection after sending it.
    pub fn closes_connection(&self) -> bool {
        self.code == 421
    }
}

/// One line of text and its CRLF, with CR and LF replaced by spaces.
fn push_clean(out: &mut Vec<u8>, text: &str) {
    out.extend(text.bytes().map(|b| if b == b'\r' || b == b'\n' { b' ' } else { b }));
    out.extend_from_slice(b"\r\n");
}

/// A path quoted as RFC 959 (appendix II) wants in 257 replies: inside
/// double quotes, with each embedded `"` doubled.
pub fn quote_path(path: &str) -> String {
    let mut q = String::with_capacity(path.len() + 2);
    q.push('"');
    for c in path.chars() {
        if c == '"' {
            q.push('"');
        }
        q.push(c);
    }
    q.push('"');
    q
}

/// The reply to PWD: `257 "<path>" is the current directory.`
pub fn pwd_reply(path: &str) -> Reply {
    Reply::new(257, format!("{} is the current directory.", quote_path(path)))
}

/// The reply to MKD: `257 "<path>" directory created.`
pub fn mkd_reply(path: &str) -> Reply {
    Reply::new(257, format!("{} directory created.", quote_path(path)))
}

/// The reply to HASH (draft-bryan-ftpext-hash-02 §3):
/// `213 SHA-256 <start>-<end> <hex> <path>`, the range inclusive, so a
/// whole file of `size` bytes is `0-(size-1)`; for an empty file the
/// draft's rule `end >= start` gives `0-0`.
pub fn hash_reply(algorithm: &str, size: u64, hex: &str, path: &str) -> Reply {
    Reply::new(213, format!("{algorithm} 0-{} {hex} {path}", size.saturating_sub(1)))
}

/// The FTP reply code and text for a server error code.
///
/// This `match` is exhaustive on purpose: a new [`ErrorCode`] does not
/// compile until it has an FTP reply here, and then `tests/ftp_doc.rs`
/// fails until docs/FTP.md has its row.
pub fn error_reply(code: ErrorCode) -> (u16, &'static str) {
    use ErrorCode::*;
    match code {
        // Framing codes of the native protocol. The FTP line decoder has its
        // own (500 for an over-long line), but if one ever reaches an FTP
        // session it means the command could not be read.
        BadFrame => (500, "Syntax error, command unrecognized."),
        FrameTooLarge => (500, "Command line too long."),
        BadRequest => (501, "Syntax error in parameters or arguments."),
        UnknownOp => (500, "Command not understood."),
        UnexpectedBody => (501, "Syntax error in parameters or arguments."),
        // FTP has no connection check; USER/PASS is the whole login.
        HandshakeRequired => (530, "Please log in with USER and PASS first."),
        HandshakeFailed => (530, "Login incorrect."),
        BadState => (503, "Bad sequence of commands."),
        NotLoggedIn => (530, "Please log in with USER and PASS first."),
        // One text for every login refusal, so that a reply never tells
        // whether the account exists.
        InvalidUsername => (530, "Login incorrect."),
        WeakKdf => (530, "Login incorrect."),
        UserExists => (550, "Account already exists."),
        // FTP has no registration; these never reach an FTP session.
        RegistrationClosed => (550, "Registration is closed."),
        InvalidToken => (530, "Invalid or used token."),
        AuthFailed => (530, "Login incorrect."),
        // After a correct password only, so it reveals nothing more.
        AccountDisabled => (530, "Account disabled."),
        PathInvalid => (553, "File name not allowed."),
        PathEscape => (550, "Permission denied: the path leaves the home."),
        NotFound => (550, "No such file or directory."),
        NotADirectory => (550, "Not a directory."),
        IsADirectory => (550, "Is a directory."),
        Exists => (550, "File exists."),
        NotEmpty => (550, "Directory not empty."),
        QuotaExceeded => (552, "Quota exceeded."),
        Busy => (450, "File busy: an upload to this path is in progress."),
        // The REST offset does not match the partial upload held.
        SizeMismatch => (554, "Invalid REST offset: it does not match the partial upload."),
        DigestMismatch => (451, "Digest mismatch; nothing was stored."),
        NoSpace => (452, "Insufficient storage space on the server."),
        TooManyAttempts => (530, "Too many failed logins; try again later."),
        Timeout => (421, "Timeout; closing control connection."),
        // A job the worker pool could not take (a full queue): nothing was
        // done, and the session goes on. (A connection refused at admission
        // gets its own 421 from the acceptor.)
        ServerBusy => (450, "Server busy; nothing was done, try again."),
        Internal => (451, "Local error in processing."),
        // Audit-only reasons: they name why a connection ended and are never
        // a reply; if one ever reached a reply, the transfer was cut.
        Disconnected | Closed | Shutdown | Cancelled | Abandoned | NoSuchUser | TooManyTokens => {
            (426, "Connection closed; transfer aborted.")
        }
    }
}

/// [`error_reply`] as a [`Reply`], with an optional detail appended
/// (a path, or the quota numbers), for example
/// `552 Quota exceeded. 10 MB of 10 MB used`.
pub fn error(code: ErrorCode, detail: Option<&str>) -> Reply {
    let (n, text) = error_reply(code);
    match detail {
        Some(d) if !d.is_empty() => Reply::new(n, format!("{text} {d}")),
        _ => Reply::new(n, text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(r: &Reply) -> String {
        String::from_utf8(r.to_bytes()).unwrap()
    }

    #[test]
    fn single_line() {
        assert_eq!(s(&Reply::new(200, "Command okay.")), "200 Command okay.\r\n");
        assert_eq!(s(&Reply::new(200, "")), "200 \r\n");
    }

    #[test]
    fn multi_line_has_dash_first_spaced_body_and_space_last() {
        let r = Reply::multi(211, "Features:", vec!["UTF8".into(), "SIZE".into()], "End");
        assert_eq!(s(&r), "211-Features:\r\n UTF8\r\n SIZE\r\n211 End\r\n");
        // A body line that looks like a closing line cannot end the reply early.
        let r = Reply::multi(214, "Help", vec!["214 not the end".into()], "End");
        assert_eq!(s(&r), "214-Help\r\n 214 not the end\r\n214 End\r\n");
        // No body at all.
        assert_eq!(s(&Reply::multi(250, "a", vec![], "b")), "250-a\r\n250 b\r\n");
    }

    #[test]
    fn every_line_of_a_multi_line_reply_parses_back_per_rfc_959() {
        let r = Reply::multi(250, "Listing /", vec!["type=dir; /".into(), " /".into()], "End.");
        let text = s(&r);
        let lines: Vec<&str> = text.split_terminator("\r\n").collect();
        assert!(lines[0].starts_with("250-"));
        assert!(lines[1..lines.len() - 1].iter().all(|l| l.starts_with(' ')));
        assert_eq!(lines[2], "  /", "an empty fact list keeps its two leading spaces (RFC 3659)");
        assert!(lines.last().unwrap().starts_with("250 "));
    }

    #[test]
    fn cr_and_lf_in_text_cannot_forge_replies() {
        let r = Reply::new(550, "x\r\n230 Logged in.");
        assert_eq!(s(&r), "550 x  230 Logged in.\r\n");
        let r = Reply::multi(211, "a\n", vec!["b\rc".into()], "d\r\n");
        assert_eq!(s(&r), "211-a \r\n b c\r\n211 d  \r\n");
    }

    #[test]
    fn pwd_quotes_and_doubles_embedded_quotes() {
        assert_eq!(quote_path("/"), "\"/\"");
        assert_eq!(quote_path("/a \"b\" c"), "\"/a \"\"b\"\" c\"");
        assert_eq!(s(&pwd_reply("/say \"hi\"")), "257 \"/say \"\"hi\"\"\" is the current directory.\r\n");
        assert_eq!(s(&mkd_reply("/new")), "257 \"/new\" directory created.\r\n");
    }

    /// Parses a 257 reply the way RFC 959 appendix II describes (and ftplib's
    /// parse257 does), to prove the quoting round-trips.
    fn parse257(reply: &str) -> String {
        let body = &reply[5..];
        let mut out = String::new();
        let mut chars = body.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    out.push('"');
                } else {
                    break;
                }
            } else {
                out.push(c);
            }
        }
        out
    }

    #[test]
    fn quoted_paths_round_trip() {
        for p in ["/", "/a", "/\"", "/\"\"", "/a\"b/c\" d", "/d\u{e9}j\u{e0} vu"] {
            let text = s(&pwd_reply(p));
            assert_eq!(parse257(&text), p);
        }
    }

    #[test]
    fn hash_reply_uses_an_inclusive_range() {
        let r = hash_reply("SHA-256", 50, "abc", "f.txt");
        assert_eq!(s(&r), "213 SHA-256 0-49 abc f.txt\r\n");
        assert_eq!(s(&hash_reply("SHA-256", 0, "e3b0", "empty")), "213 SHA-256 0-0 e3b0 empty\r\n");
    }

    #[test]
    fn error_codes_map_to_the_documented_families() {
        assert_eq!(error_reply(ErrorCode::NotFound).0, 550);
        assert_eq!(error_reply(ErrorCode::QuotaExceeded).0, 552);
        assert_eq!(error_reply(ErrorCode::PathInvalid).0, 553);
        assert_eq!(error_reply(ErrorCode::Busy).0, 450);
        assert_eq!(error_reply(ErrorCode::NoSpace).0, 452);
        assert_eq!(error_reply(ErrorCode::SizeMismatch).0, 554);
        assert_eq!(error_reply(ErrorCode::BadState).0, 503);
        assert_eq!(error_reply(ErrorCode::NotLoggedIn).0, 530);
        for &code in ErrorCode::ALL {
            let (n, text) = error_reply(code);
            assert!((400..600).contains(&n), "{code}: an error is a 4yz or 5yz");
            assert!(!text.is_empty() && !text.contains(['\r', '\n', '|']), "{code}: text fits a table cell");
        }
        // The login refusals all read the same.
        let logins =
            [ErrorCode::AuthFailed, ErrorCode::InvalidUsername, ErrorCode::WeakKdf, ErrorCode::HandshakeFailed];
        assert!(logins.iter().all(|&c| error_reply(c) == (530, "Login incorrect.")));
    }

    #[test]
    fn error_appends_a_detail() {
        assert_eq!(s(&error(ErrorCode::NotFound, Some("/x"))), "550 No such file or directory. /x\r\n");
        assert_eq!(s(&error(ErrorCode::Timeout, None)), "421 Timeout; closing control connection.\r\n");
        assert!(error(ErrorCode::Timeout, None).closes_connection());
        assert!(!error(ErrorCode::Busy, Some("")).is_positive());
    }
}
