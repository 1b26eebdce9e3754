//! The default view: an aligned table with columns suited to the log shown.
//!
//! Alignment needs column widths, and widths need rows, but the input may be
//! a gigabyte. So the first [`BATCH`] rows are held to measure the widths,
//! then printed, and every later row uses those widths; a later cell that is
//! wider just pushes the rest of its row right (nothing is ever cut off).
//! Memory stays bounded by one batch. The free-text column (reason) is last
//! and never padded.
//!
//! Colour marks failures only: outcome and reason in red for `fail` and
//! `rejected`, yellow for `incomplete`. Widths are measured on the plain text,
//! so colour never disturbs alignment.
//!
//! Every cell is peer-controlled text (a user name, a path, a message), so it
//! goes through [`escape`] before anything else: a name like
//! `ESC]0;pwned BEL` is shown as `\x1b]0;pwned\x07` instead of retitling the
//! reviewer's terminal. Only the table's own colours are raw escapes.

use super::output::Printer;
use super::record::{Entry, Kind, Outcome};
use super::units;
use crate::protocol::display::{escape, is_unsafe};
use std::io::{self, Write};

/// Rows held to measure column widths before the first line is printed.
pub const BATCH: usize = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Col {
    Time,
    Log,
    User,
    Peer,
    Session,
    Event,
    Command,
    Args,
    Path,
    Size,
    Moved,
    Duration,
    Outcome,
    Reason,
}

impl Col {
    fn header(self) -> &'static str {
        match self {
            Col::Time => "TIME (UTC)",
            Col::Log => "LOG",
            Col::User => "USER",
            Col::Peer => "PEER",
            Col::Session => "SESSION",
            Col::Event => "EVENT",
            Col::Command => "COMMAND",
            Col::Args => "ARGS",
            Col::Path => "PATH",
            Col::Size => "SIZE",
            Col::Moved => "MOVED",
            Col::Duration => "DURATION",
            Col::Outcome => "OUTCOME",
            Col::Reason => "REASON",
        }
    }

    /// Numbers line up on the right.
    fn right_aligned(self) -> bool {
        matches!(self, Col::Session | Col::Size | Col::Moved | Col::Duration)
    }

    /// The cell's text, escaped for the terminal.
    fn cell(self, entry: &Entry) -> String {
        let text = self.raw_cell(entry);
        match escape(&text) {
            std::borrow::Cow::Borrowed(_) => text,
            std::borrow::Cow::Owned(escaped) => escaped,
        }
    }

    fn raw_cell(self, entry: &Entry) -> String {
        let r = &entry.record;
        let or_dash = |v: Option<String>| v.unwrap_or_else(|| "-".to_owned());
        match self {
            Col::Time => units::time(r.ts),
            Col::Log => entry.kind.name().to_owned(),
            Col::User => or_dash(r.user.clone()),
            Col::Peer if r.peer.is_empty() => "-".to_owned(),
            Col::Peer => r.peer.clone(),
            Col::Session => or_dash(r.session.map(|s| s.to_string())),
            Col::Event | Col::Command => r.event.clone(),
            Col::Args => r.args.as_deref().map(shell_words).unwrap_or_default(),
            Col::Path => or_dash(r.path.clone()),
            Col::Size => or_dash(r.size.map(units::size)),
            Col::Moved => or_dash(r.bytes.map(units::size)),
            Col::Duration => or_dash(r.duration_ms.map(units::duration)),
            Col::Outcome => r.outcome.to_string(),
            // The code is what one greps for; the message only when there is no code.
            Col::Reason => r.reason.clone().or_else(|| r.message.clone()).unwrap_or_default(),
        }
    }
}

/// The columns for one log, or for several merged (`None`).
fn columns(kind: Option<Kind>) -> &'static [Col] {
    use Col::*;
    match kind {
        Some(Kind::Logins) => &[Time, User, Peer, Session, Event, Outcome, Reason],
        Some(Kind::Commands) => &[Time, User, Peer, Command, Args, Path, Outcome, Reason],
        Some(Kind::Uploads | Kind::Downloads) => &[Time, User, Peer, Path, Size, Moved, Duration, Outcome, Reason],
        None => &[Time, Log, User, Peer, Event, Path, Moved, Duration, Outcome, Reason],
    }
}

/// Arguments as typed, quoting the ones a reader could not otherwise tell apart.
fn shell_words(args: &[String]) -> String {
    let word = |a: &String| {
        if a.is_empty() || a.chars().any(|c| c.is_whitespace() || c == '"' || c == '\'' || is_unsafe(c)) {
            format!("{a:?}")
        } else {
            a.clone()
        }
    };
    args.iter().map(word).collect::<Vec<_>>().join(" ")
}

struct Row {
    cells: Vec<String>,
    outcome: Outcome,
}

/// Prints entries as an aligned table.
pub struct TablePrinter<W> {
    out: W,
    cols: &'static [Col],
    colour: bool,
    /// Measured once the first batch is in; `None` while still holding it.
    widths: Option<Vec<usize>>,
    held: Vec<Row>,
    printed: u64,
}

impl<W: Write> TablePrinter<W> {
    /// `kind` is the single log shown, or `None` when logs are merged.
    pub fn new(out: W, kind: Option<Kind>, colour: bool) -> Self {
        TablePrinter { out, cols: columns(kind), colour, widths: None, held: Vec::new(), printed: 0 }
    }

    /// Measures the held rows, prints the header and them.
    fn settle(&mut self) -> io::Result<()> {
        let mut widths: Vec<usize> = self.cols.iter().map(|c| c.header().len()).collect();
        for row in &self.held {
            for (w, cell) in widths.iter_mut().zip(&row.cells) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let header: Vec<String> = self.cols.iter().map(|c| c.header().to_owned()).collect();
        self.write_row(&widths, &header, None)?;
        for row in std::mem::take(&mut self.held) {
            self.write_row(&widths, &row.cells, Some(&row.outcome))?;
        }
        self.widths = Some(widths);
        Ok(())
    }

    fn write_row(&mut self, widths: &[usize], cells: &[String], outcome: Option<&Outcome>) -> io::Result<()> {
        let paint = match outcome {
            Some(o) if self.colour && o.is_failure() => Some("\x1b[31m"),
            Some(Outcome::Incomplete) if self.colour => Some("\x1b[33m"),
            _ => None,
        };
        let mut line = String::new();
        let last = cells.len().saturating_sub(1);
        for (i, ((col, cell), width)) in self.cols.iter().zip(cells).zip(widths).enumerate() {
            let pad = width.saturating_sub(cell.chars().count());
            let text = match (col.right_aligned(), i == last) {
                (_, true) => cell.clone(),
                (true, false) => format!("{}{cell}", " ".repeat(pad)),
                (false, false) => format!("{cell}{}", " ".repeat(pad)),
            };
            match paint {
                Some(code) if matches!(col, Col::Outcome | Col::Reason) && !cell.is_empty() => {
                    line.push_str(code);
                    line.push_str(&text);
                    line.push_str("\x1b[0m");
                }
                _ => line.push_str(&text),
            }
            if i != last {
                line.push_str("  ");
            }
        }
        writeln!(self.out, "{}", line.trim_end())
    }
}

impl<W: Write> Printer for TablePrinter<W> {
    fn record(&mut self, entry: &Entry) -> io::Result<()> {
        self.printed += 1;
        let row =
            Row { cells: self.cols.iter().map(|c| c.cell(entry)).collect(), outcome: entry.record.outcome.clone() };
        match self.widths.take() {
            Some(widths) => {
                let result = self.write_row(&widths, &row.cells, Some(&row.outcome));
                self.widths = Some(widths);
                result
            }
            None => {
                self.held.push(row);
                if self.held.len() >= BATCH { self.settle() } else { Ok(()) }
            }
        }
    }

    fn end_of_history(&mut self, following: bool) -> io::Result<()> {
        // An empty table prints nothing, unless --follow will fill it.
        if self.widths.is_none() && (self.printed > 0 || following) {
            self.settle()?;
        }
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

    const UPLOAD: &str = r#"{"ts":"2026-11-23T08:00:02.000Z","peer":"10.0.0.5:40000","session":9,"user":"alice","event":"upload","outcome":"complete","path":"/docs/a.bin","size":1048576,"bytes":524288,"offset":524288,"duration_ms":120}"#;
    const REJECTED: &str = r#"{"ts":"2026-11-23T08:00:03.000Z","peer":"[::1]:5000","session":10,"user":"bob","event":"upload","outcome":"rejected","reason":"quota_exceeded","message":"over quota","path":"/big.iso","size":9}"#;

    fn render(kind: Option<Kind>, colour: bool, raws: &[(Kind, &str)]) -> String {
        let mut printer = TablePrinter::new(Vec::new(), kind, colour);
        for (k, raw) in raws {
            printer.record(&entry(*k, raw)).unwrap();
        }
        printer.end_of_history(false).unwrap();
        String::from_utf8(printer.out).unwrap()
    }

    #[test]
    fn transfer_rows_are_aligned_with_human_sizes() {
        let text = render(Some(Kind::Uploads), false, &[(Kind::Uploads, UPLOAD), (Kind::Uploads, REJECTED)]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(lines[0].starts_with("TIME (UTC)"));
        assert!(lines[1].contains("1.0 MiB") && lines[1].contains("512.0 KiB") && lines[1].contains("120 ms"));
        assert!(lines[2].ends_with("rejected  quota_exceeded"), "{}", lines[2]);
        let col = |line: &str, word: &str| line.find(word).unwrap();
        assert_eq!(col(lines[0], "PATH"), col(lines[1], "/docs/a.bin"));
        assert_eq!(col(lines[1], "/docs/a.bin"), col(lines[2], "/big.iso"));
        assert_eq!(col(lines[1], "complete"), col(lines[2], "rejected"));
        assert!(!text.contains('\x1b'));
    }

    #[test]
    fn failures_are_coloured_only_when_asked() {
        let text = render(None, true, &[(Kind::Uploads, UPLOAD), (Kind::Uploads, REJECTED)]);
        let lines: Vec<&str> = text.lines().collect();
        assert!(!lines[1].contains('\x1b'), "success stays plain");
        assert!(lines[2].contains("\x1b[31mrejected") && lines[2].ends_with("\x1b[31mquota_exceeded\x1b[0m"));
        let incomplete = r#"{"ts":"2026-11-23T08:00:04Z","event":"upload","outcome":"incomplete"}"#;
        let text = render(None, true, &[(Kind::Uploads, incomplete)]);
        assert!(text.ends_with("\x1b[33mincomplete\x1b[0m\n"), "an empty reason is not painted: {text:?}");
        assert!(lines[0].starts_with("TIME (UTC)") && lines[0].contains("  LOG "), "{:?}", lines[0]);
    }

    #[test]
    fn peer_text_in_every_column_is_escaped_and_aligned_on_the_escaped_form() {
        let hostile = r#"{"ts":"2026-11-23T08:00:05Z","peer":"1.2.3.4:5","session":11,"user":"\u001b]0;pwned\u0007","event":"login","outcome":"fail","reason":"bad\u009b2J","message":"x"}"#;
        let plain = r#"{"ts":"2026-11-23T08:00:06Z","peer":"1.2.3.4:5","session":12,"user":"bob","event":"login","outcome":"ok"}"#;
        let text = render(Some(Kind::Logins), true, &[(Kind::Logins, hostile), (Kind::Logins, plain)]);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[1].contains(r"\x1b]0;pwned\x07") && lines[1].contains(r"bad\u{9b}2J"), "{text:?}");
        let own_colours = text.replace("\x1b[31m", "").replace("\x1b[0m", "");
        assert!(!own_colours.contains(['\x1b', '\x07', '\u{9b}']), "{text:?}");
        let col = |line: &str, word: &str| line.find(word).unwrap();
        assert_eq!(col(lines[1], "1.2.3.4"), col(lines[2], "1.2.3.4"), "{text}");
        let args = ["evil\u{202e}txt".to_owned()];
        assert_eq!(shell_words(&args), r#""evil\u{202e}txt""#);
    }

    #[test]
    fn command_args_are_shown_as_typed_with_quotes_where_needed() {
        assert_eq!(shell_words(&["-p".into(), "my docs".into(), "".into()]), r#"-p "my docs" """#);
    }

    #[test]
    fn an_empty_result_prints_nothing_but_a_followed_one_prints_the_header() {
        assert_eq!(render(Some(Kind::Logins), false, &[]), "");
        let mut printer = TablePrinter::new(Vec::new(), Some(Kind::Logins), false);
        printer.end_of_history(true).unwrap();
        assert!(String::from_utf8(printer.out).unwrap().starts_with("TIME (UTC)  USER"));
    }

    #[test]
    fn rows_after_the_first_batch_keep_the_measured_widths() {
        let mut printer = TablePrinter::new(Vec::new(), Some(Kind::Uploads), false);
        for _ in 0..BATCH + 1 {
            printer.record(&entry(Kind::Uploads, UPLOAD)).unwrap();
        }
        printer.end_of_history(false).unwrap();
        let text = String::from_utf8(printer.out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), BATCH + 2);
        assert_eq!(lines[1], lines[BATCH + 1]);
    }
}
