//! `mioftpd audit`: read, filter and present the four audit logs.
//!
//! The flow is a pipeline, one module per step:
//! [`args`] (flags) → [`source`] (each log's rotated and live files as one
//! stream, bad lines skipped with a warning; [`lines`] bounds memory per line)
//! → [`merge`] (k-way merge of the streams by time) → [`filter`] → one of
//! [`table`], [`output`]'s JSON, [`xferlog`] or [`summary`]; then, with
//! `--follow`, [`follow`] polls a [`tail`] per log. Times on the command line
//! go through [`time`]. Records are parsed by [`record`]; human units by
//! [`units`].
//!
//! Exit status: 0 on success (also when nothing matched, or when stdout was
//! closed early by e.g. `head`), 1 when the logs cannot be read, 2 for a
//! usage error.

pub mod args;
pub mod filter;
pub mod follow;
pub mod lines;
pub mod merge;
pub mod output;
pub mod record;
pub mod source;
pub mod summary;
pub mod table;
pub mod tail;
pub mod time;
pub mod units;
pub mod xferlog;

pub use args::AuditArgs;

use args::{Format, Which};
use filter::Filter;
use merge::Merge;
use output::{JsonPrinter, Printer, colour_enabled};
use record::Kind;
use source::Source;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use table::TablePrinter;
use tail::Tail;
use xferlog::XferlogPrinter;

/// Why `mioftpd audit` stopped early.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// A combination of flags that clap cannot express.
    #[error("{0}")]
    Usage(String),
    #[error("no logs folder at {} (is --root the server's data root?)", .0.display())]
    NoLogs(PathBuf),
    #[error("{0}")]
    Io(#[from] io::Error),
}

/// Runs `mioftpd audit`; returns the process exit status.
pub fn run(args: &AuditArgs) -> ExitCode {
    match execute(args) {
        Ok(()) => ExitCode::SUCCESS,
        // The reader went away (`| head`): not a failure of ours.
        Err(AuditError::Io(e)) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e @ AuditError::Usage(_)) => {
            eprintln!("mioftpd audit: {e}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("mioftpd audit: {e}");
            ExitCode::FAILURE
        }
    }
}

fn execute(args: &AuditArgs) -> Result<(), AuditError> {
    let format = args.output();
    let kinds = kinds_to_read(args.log, format, args.summary)?;
    let now = jiff::Timestamp::now();
    let filter = Filter {
        user: args.user.clone(),
        peer: args.peer,
        since: args.since.map(|t| t.resolve(now)),
        until: args.until.map(|t| t.resolve(now)),
        outcomes: args.outcome.clone(),
        path: args.path.clone(),
    };
    let dir = args.root.join("logs");
    if !dir.is_dir() {
        return Err(AuditError::NoLogs(dir));
    }
    let sources = kinds.iter().map(|&kind| Source::new(&dir, kind, args.follow)).collect::<io::Result<Vec<_>>>()?;
    let mut merged = Merge::new(sources);
    let stdout = BufWriter::new(io::stdout().lock());

    if args.summary {
        let mut totals = summary::Summary::default();
        merged.by_ref().filter(|e| filter.matches(&e.record)).for_each(|e| totals.add(&e));
        let report = totals.report();
        let mut out = stdout;
        match format {
            Format::Json => {
                serde_json::to_writer(&mut out, &report).map_err(io::Error::from)?;
                writeln!(out)?;
            }
            _ => summary::write_text(&mut out, &report)?,
        }
        return Ok(out.flush()?);
    }

    let colour = colour_enabled(args.color, io::stdout().is_terminal(), std::env::var_os("NO_COLOR").as_deref());
    let shown_kind = if kinds.len() == 1 { Some(kinds[0]) } else { None };
    let mut printer: Box<dyn Printer> = match format {
        Format::Table => Box::new(TablePrinter::new(stdout, shown_kind, colour)),
        Format::Json => Box::new(JsonPrinter::new(stdout)),
        Format::Xferlog => Box::new(XferlogPrinter::new(stdout)),
    };
    for entry in merged.by_ref() {
        if filter.matches(&entry.record) {
            printer.record(&entry)?;
        }
    }
    printer.end_of_history(args.follow)?;
    if !args.follow {
        if printer.printed() == 0 {
            eprintln!("mioftpd audit: no matching records");
        }
        return Ok(());
    }
    let tails = merged
        .into_streams()
        .into_iter()
        .map(|source| {
            let (kind, path) = (source.kind(), source.live_path().to_owned());
            Tail::new(kind, &path, source.into_live())
        })
        .collect();
    Ok(follow::run(tails, &filter, printer.as_mut(), Duration::from_millis(args.poll_ms))?)
}

/// The logs to open: `--format xferlog` covers transfers only.
fn kinds_to_read(which: Which, format: Format, summary: bool) -> Result<Vec<Kind>, AuditError> {
    if format != Format::Xferlog {
        return Ok(which.kinds());
    }
    if summary {
        return Err(AuditError::Usage("--summary prints a table or JSON, not xferlog".into()));
    }
    match which {
        Which::All => Ok(vec![Kind::Uploads, Kind::Downloads]),
        Which::Uploads | Which::Downloads => Ok(which.kinds()),
        Which::Logins | Which::Commands => {
            Err(AuditError::Usage("--format xferlog covers uploads and downloads only".into()))
        }
    }
}
