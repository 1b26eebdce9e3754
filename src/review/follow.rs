//! `--follow`: after the history, keep printing records as they are appended.
//!
//! This is a command-line tool, not the server loop, so it simply polls: every
//! `interval` each followed log is read to its end (see `tail` for rotation),
//! the new records of all logs are put in time order, filtered and printed,
//! and stdout is flushed so a pipe sees them at once. It runs until killed, or
//! until stdout is closed (the write error ends it), or until the clock passes
//! `--until`, after which no new record could match.

use super::filter::Filter;
use super::output::Printer;
use super::record::Entry;
use super::tail::Tail;
use jiff::Timestamp;
use std::io;
use std::time::Duration;

/// Polls `tails` forever (or until `until`), printing matching records.
pub fn run(mut tails: Vec<Tail>, filter: &Filter, printer: &mut dyn Printer, interval: Duration) -> io::Result<()> {
    let mut batch: Vec<Entry> = Vec::new();
    loop {
        if filter.until.is_some_and(|until| Timestamp::now() >= until) {
            return Ok(());
        }
        for tail in &mut tails {
            tail.poll(&mut batch);
        }
        // By time, then write order within a server run (see
        // `Record::order_key`); stable, so remaining ties keep the logs' order.
        batch.sort_by(|a, b| a.record.order_key().cmp(&b.record.order_key()));
        for entry in batch.drain(..) {
            if filter.matches(&entry.record) {
                printer.record(&entry)?;
            }
        }
        printer.flush()?;
        std::thread::sleep(interval);
    }
}
