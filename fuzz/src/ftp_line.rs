//! The `ftp_line` target: arbitrary bytes into the FTP control-line decoder
//! (`mioftp::ftp::LineDecoder`), fed in pieces whose sizes come from the
//! input, and every line it yields into the command parser
//! (`mioftp::ftp::parse`) and its replies.
//!
//! Input: the first byte picks a chunk size (1 to 256); the rest is the
//! byte stream.
//!
//! Invariants asserted:
//! - any split gives the same lines as feeding the stream in one call, and
//!   every byte is consumed (the decoder never refuses input);
//! - the decoder never holds more than `MAX_LINE` bytes of a partial line,
//!   and a line it yields is at most `MAX_LINE - 1` bytes (its LF counted);
//! - a yielded line has no LF; `NotUtf8` only for a line that is not UTF-8;
//! - parsing never panics; a refusal's reply code is 500, 501, 502, 504 or
//!   522, and only 500 has no verb; a parsed command's verb is the one the
//!   line names (or ABOR/STAT/QUIT after Telnet leftovers);
//! - every reply encodes as CRLF-terminated lines, none of them containing
//!   a bare CR or LF, so a peer's text can never forge another reply.

use mioftp::ftp::command::{Command, ParseErrorKind};
use mioftp::ftp::{LineDecoder, LineError, MAX_LINE, Reply, Verb, parse};

/// Runs one input.
pub fn run(data: &[u8]) {
    let Some((&first, stream)) = data.split_first() else { return };
    let chunk = usize::from(first) + 1;
    let whole = decode_all(stream, stream.len().max(1));
    let split = decode_all(stream, chunk);
    assert_eq!(whole, split, "lines depend on how the bytes were split (chunk {chunk})");
    for line in &whole {
        match line {
            Ok(text) => {
                assert!(text.len() < MAX_LINE, "a {}-byte line passed the limit", text.len());
                assert!(!text.contains('\n'), "a line kept its LF");
                check_command(text);
            }
            Err(e) => check_reply(&e.reply()),
        }
    }
}

/// Feeds `stream` in `chunk`-byte pieces; returns every line.
fn decode_all(stream: &[u8], chunk: usize) -> Vec<Result<String, LineError>> {
    let mut d = LineDecoder::new();
    let mut lines = Vec::new();
    for piece in stream.chunks(chunk) {
        let mut at = 0;
        while at < piece.len() {
            let (n, line) = d.decode(&piece[at..]);
            assert!(n <= piece.len() - at);
            at += n;
            assert!(d.buffered() < MAX_LINE, "the decoder holds {} bytes", d.buffered());
            match line {
                Some(l) => lines.push(l),
                None => assert_eq!(at, piece.len(), "the decoder stopped without a line"),
            }
        }
    }
    lines
}

fn check_command(line: &str) {
    match parse(line) {
        Ok(cmd) => {
            let verb = cmd.verb();
            let word = line.split(' ').next().unwrap_or_default();
            let named = Verb::lookup(word);
            assert!(
                named == Some(verb) || matches!(verb, Verb::Abor | Verb::Stat | Verb::Quit),
                "{line:?} parsed as {verb}"
            );
            assert!(verb.supported(), "{verb} parsed although it is not implemented");
            if let Command::Stat(arg) = &cmd {
                assert_eq!(cmd.needs_login(), arg.is_some());
            } else {
                assert_eq!(cmd.needs_login(), verb.needs_login());
            }
        }
        Err(e) => {
            let code = e.code();
            assert!([500, 501, 502, 504, 522].contains(&code), "refusal code {code}");
            assert_eq!(e.verb.is_none(), e.kind == ParseErrorKind::UnknownCommand);
            check_reply(&e.reply());
        }
    }
    // Whatever the line, echoing it in a reply text cannot forge a reply.
    check_reply(&Reply::new(550, line));
    check_reply(&Reply::multi(211, line, vec![line.to_owned()], line));
}

fn check_reply(r: &Reply) {
    let bytes = r.to_bytes();
    assert!(bytes.ends_with(b"\r\n"));
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'\r' => assert_eq!(bytes.get(i + 1), Some(&b'\n'), "a bare CR in a reply"),
            b'\n' => assert_eq!(bytes[i - 1], b'\r', "a bare LF in a reply"),
            _ => {}
        }
    }
    for line in bytes[..bytes.len() - 2].split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        assert!(line.len() >= 4 || line.first() == Some(&b' '), "a reply line too short: {line:?}");
    }
}
