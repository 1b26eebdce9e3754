//! `--format xferlog`: transfers in the classic wu-ftpd/ProFTPD xferlog layout,
//! for tools that already read it (webalizer, xferstats, ...).
//!
//! One line per transfer that moved data (`complete` or `incomplete`); refused
//! and failed attempts moved nothing and are not transfers in that format.
//! Fields, space-separated:
//! `current-time transfer-time remote-host bytes filename type action direction
//! access-mode username service auth-method auth-user-id status`, where
//! current-time is the record's time in ctime layout (UTC, not local time),
//! transfer-time is whole seconds (rounded), bytes is what this attempt moved,
//! type is `b` (binary), action `_` (none), direction `i` for an upload and
//! `o` for a download, access-mode `r` (a real account), service `mioftp`
//! (`ftp` for a transfer of the FTP front end, `"proto":"ftp"`),
//! auth-method `0`, auth-user-id `*`, status `c` complete or `i` incomplete.
//! Whitespace in a file name would break the layout, so it becomes `_`, and
//! so does any character a terminal could act on (see
//! [`crate::protocol::display`]).

use super::output::Printer;
use super::record::{Entry, Kind, Outcome};
use std::io::{self, Write};

/// Formats one entry, or `None` when it is not a transfer that moved data.
pub fn line(entry: &Entry) -> Option<String> {
    let r = &entry.record;
    let direction = match entry.kind {
        Kind::Uploads => 'i',
        Kind::Downloads => 'o',
        Kind::Logins | Kind::Commands => return None,
    };
    let status = match r.outcome {
        Outcome::Complete => 'c',
        Outcome::Incomplete => 'i',
        _ => return None,
    };
    let when = r.ts.strftime("%a %b %e %H:%M:%S %Y");
    let seconds = r.duration_ms.unwrap_or(0).saturating_add(500) / 1000;
    let host = r.peer_ip().map(|ip| ip.to_string()).unwrap_or_else(|| field(&r.peer));
    let path = field(r.path.as_deref().unwrap_or("-"));
    let user = field(r.user.as_deref().unwrap_or("-"));
    let bytes = r.bytes.unwrap_or(0);
    // The service: `ftp` for the FTP front end (what FTP servers write),
    // `mioftp` for the native protocol.
    let service = if r.proto.as_deref() == Some("ftp") { "ftp" } else { "mioftp" };
    Some(format!("{when} {seconds} {host} {bytes} {path} b _ {direction} r {user} {service} 0 * {status}"))
}

/// A field with no whitespace, control or bidirectional characters in it.
fn field(text: &str) -> String {
    if text.is_empty() {
        return "-".to_owned();
    }
    let unsafe_char = |c: char| c.is_whitespace() || c.is_control() || crate::protocol::display::is_unsafe(c);
    text.chars().map(|c| if unsafe_char(c) { '_' } else { c }).collect()
}

/// Prints transfer entries as xferlog lines and ignores the rest.
pub struct XferlogPrinter<W> {
    out: W,
    printed: u64,
}

impl<W: Write> XferlogPrinter<W> {
    pub fn new(out: W) -> Self {
        XferlogPrinter { out, printed: 0 }
    }
}

impl<W: Write> Printer for XferlogPrinter<W> {
    fn record(&mut self, entry: &Entry) -> io::Result<()> {
        match line(entry) {
            Some(text) => {
                self.printed += 1;
                writeln!(self.out, "{text}")
            }
            None => Ok(()),
        }
    }

    fn end_of_history(&mut self, _following: bool) -> io::Result<()> {
        self.out.flush()
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    fn printed(&self) -> u64 {
        self.printed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::review::record::Record;

    fn entry(kind: Kind, raw: &str) -> Entry {
        Entry { kind, record: Record::parse(raw.as_bytes()).unwrap(), raw: raw.into() }
    }

    #[test]
    fn a_complete_upload_is_one_classic_line() {
        let e = entry(
            Kind::Uploads,
            r#"{"ts":"2026-11-03T07:12:16.938Z","peer":"10.0.0.5:40000","session":9,"user":"alice","event":"upload","outcome":"complete","path":"/docs/my file.bin","size":1048576,"bytes":524288,"offset":524288,"duration_ms":1600}"#,
        );
        assert_eq!(
            line(&e).unwrap(),
            "Tue Nov  3 07:12:16 2026 2 10.0.0.5 524288 /docs/my_file.bin b _ i r alice mioftp 0 * c"
        );
    }

    #[test]
    fn an_incomplete_v6_download_is_outgoing_and_incomplete() {
        let e = entry(
            Kind::Downloads,
            r#"{"ts":"2026-11-23T07:12:16Z","peer":"[::1]:5000","user":"bob","event":"download","outcome":"incomplete","path":"/a","bytes":7,"duration_ms":20}"#,
        );
        assert_eq!(line(&e).unwrap(), "Mon Nov 23 07:12:16 2026 0 ::1 7 /a b _ o r bob mioftp 0 * i");
    }

    #[test]
    fn an_ftp_transfer_names_the_ftp_service() {
        let e = entry(
            Kind::Uploads,
            r#"{"ts":"2026-11-23T07:12:16Z","peer":"127.0.0.1:5000","user":"bob","event":"upload","proto":"ftp","outcome":"complete","path":"/a","bytes":7,"duration_ms":20}"#,
        );
        assert_eq!(line(&e).unwrap(), "Mon Nov 23 07:12:16 2026 0 127.0.0.1 7 /a b _ i r bob ftp 0 * c");
    }

    #[test]
    fn terminal_controls_in_a_path_become_underscores_like_whitespace() {
        let e = entry(
            Kind::Downloads,
            r#"{"ts":"2026-11-23T07:12:16Z","peer":"[::1]:5000","user":"bob","event":"download","outcome":"complete","path":"/a\u001b[31m\u009b\u202etxt.exe","bytes":7}"#,
        );
        assert_eq!(line(&e).unwrap(), "Mon Nov 23 07:12:16 2026 0 ::1 7 /a_[31m__txt.exe b _ o r bob mioftp 0 * c");
    }

    #[test]
    fn refused_transfers_and_other_logs_are_not_xferlog_lines() {
        let rejected =
            entry(Kind::Uploads, r#"{"ts":"2026-11-23T07:12:16Z","event":"upload","outcome":"rejected","path":"/a"}"#);
        let login = entry(Kind::Logins, r#"{"ts":"2026-11-23T07:12:16Z","event":"login","outcome":"ok"}"#);
        assert_eq!((line(&rejected), line(&login)), (None, None));
        let mut printer = XferlogPrinter::new(Vec::new());
        printer.record(&rejected).unwrap();
        assert_eq!(printer.printed(), 0);
    }
}
