//! Where matching records go: the [`Printer`] each output format implements,
//! the JSON Lines printer, and the decision whether to use colour.

use super::args::ColorChoice;
use super::record::Entry;
use std::ffi::OsStr;
use std::io::{self, Write};

/// An output format. Printers write to a buffered stdout; the caller flushes
/// at the end of the history and after every batch in `--follow`.
pub trait Printer {
    /// One matching record.
    fn record(&mut self, entry: &Entry) -> io::Result<()>;
    /// The history has been printed; `following` says whether more will come.
    fn end_of_history(&mut self, following: bool) -> io::Result<()>;
    /// Pushes buffered output out (a `--follow` batch is done).
    fn flush(&mut self) -> io::Result<()>;
    /// How many records were printed.
    fn printed(&self) -> u64;
}

/// `--json`: the original objects, one per line, each with `"log"` added.
pub struct JsonPrinter<W> {
    out: W,
    printed: u64,
}

impl<W: Write> JsonPrinter<W> {
    pub fn new(out: W) -> Self {
        JsonPrinter { out, printed: 0 }
    }
}

impl<W: Write> Printer for JsonPrinter<W> {
    fn record(&mut self, entry: &Entry) -> io::Result<()> {
        self.printed += 1;
        writeln!(self.out, "{}", entry.json_with_log())
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

/// Whether to colour: `--color always|never` decide; `auto` colours only a
/// terminal, and only while `NO_COLOR` is unset or empty (no-color.org).
pub fn colour_enabled(choice: ColorChoice, stdout_is_tty: bool, no_color: Option<&OsStr>) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => stdout_is_tty && no_color.is_none_or(|v| v.is_empty()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::review::record::{Kind, Record};

    #[test]
    fn colour_only_on_a_terminal_without_no_color_unless_forced() {
        let set = Some(OsStr::new("1"));
        let empty = Some(OsStr::new(""));
        assert!(colour_enabled(ColorChoice::Auto, true, None));
        assert!(colour_enabled(ColorChoice::Auto, true, empty));
        assert!(!colour_enabled(ColorChoice::Auto, true, set));
        assert!(!colour_enabled(ColorChoice::Auto, false, None));
        assert!(colour_enabled(ColorChoice::Always, false, set));
        assert!(!colour_enabled(ColorChoice::Never, true, None));
    }

    #[test]
    fn json_lines_are_one_object_per_record() {
        let raw = r#"{"ts":"2026-11-23T07:00:00.000Z","peer":"1.2.3.4:5","session":1,"event":"pwd","outcome":"ok","extra":true}"#;
        let entry = Entry { kind: Kind::Commands, record: Record::parse(raw.as_bytes()).unwrap(), raw: raw.into() };
        let mut printer = JsonPrinter::new(Vec::new());
        printer.record(&entry).unwrap();
        printer.record(&entry).unwrap();
        printer.end_of_history(false).unwrap();
        let text = String::from_utf8(printer.out).unwrap();
        let lines: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(
            (&lines[0]["log"], &lines[0]["extra"], &lines[0]["event"]),
            (&"commands".into(), &true.into(), &"pwd".into())
        );
        assert_eq!(printer.printed, 2);
    }
}
