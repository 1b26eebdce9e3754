//! One progress bar over many files (`put -r`, `get -r`): each file's
//! transfer reports to an [`Overall`], which turns its own start, advance
//! and finish into movement of the one bar, and counts files done in the
//! bar's label ("put -r photos 12/2000 files").
//!
//! Bytes a resume keeps count as done when the file starts; a restart from
//! zero moves the bar back; a file that fails leaves the total; a file
//! whose size changed since the walk corrects the total when it starts.

use crate::bar::Bar;
use mioftp_client::Progress;

pub struct Overall {
    bar: Bar,
    verb: String,
    files: usize,
    files_done: usize,
    /// All bytes expected, corrected as files start.
    total: u64,
    /// Bytes of the files finished (or failed, out of `total`) so far.
    base: u64,
    /// The current file's expected size, then its real one.
    planned: u64,
    /// Of the current file, bytes counted so far.
    current: u64,
}

impl Overall {
    /// A bar for `files` files of `total` bytes, labelled `verb` and the count.
    pub fn new(mut bar: Bar, verb: &str, files: usize, total: u64) -> Overall {
        bar.set(total, 0);
        let mut o =
            Overall { bar, verb: verb.to_owned(), files, files_done: 0, total, base: 0, planned: 0, current: 0 };
        o.label();
        o
    }

    fn label(&mut self) {
        let label = format!("{} {}/{} files", self.verb, self.files_done, self.files);
        self.bar.set_label(&label);
    }

    /// The next file, expected to be `size` bytes, is about to go.
    pub fn next_file(&mut self, size: u64) {
        (self.planned, self.current) = (size, 0);
    }

    /// The current file failed: it leaves the total.
    pub fn failed(&mut self) {
        self.total = self.total.saturating_sub(self.planned);
        self.bar.set(self.total, self.base);
        (self.planned, self.current) = (0, 0);
    }

    /// Bytes of finished files, and the total as it stands.
    #[cfg(test)]
    fn position(&self) -> (u64, u64) {
        (self.base + self.current, self.total)
    }
}

impl Progress for Overall {
    fn start(&mut self, size: u64, already_done: u64) {
        self.total = self.total.saturating_sub(self.planned) + size;
        (self.planned, self.current) = (size, already_done);
        self.bar.set(self.total, self.base + already_done);
    }

    fn advance(&mut self, n: u64) {
        self.current += n;
        self.bar.advance(n);
    }

    fn finish(&mut self) {
        self.base += self.planned;
        (self.planned, self.current) = (0, 0);
        self.files_done += 1;
        self.bar.set(self.total, self.base);
        self.label();
    }
}

impl Drop for Overall {
    fn drop(&mut self) {
        self.bar.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use indicatif::ProgressDrawTarget;

    fn overall(files: usize, total: u64) -> Overall {
        Overall::new(Bar::with_target("x", ProgressDrawTarget::hidden(), 80), "put -r x", files, total)
    }

    #[test]
    fn files_add_up_resumes_count_as_done_and_restarts_move_back() {
        let mut o = overall(3, 300);
        o.next_file(100);
        o.start(100, 0);
        o.advance(100);
        o.finish();
        assert_eq!(o.position(), (100, 300));
        // Resumed at 40: those bytes count at once.
        o.next_file(100);
        o.start(100, 40);
        assert_eq!(o.position(), (140, 300));
        // The resume was stale: back to zero.
        o.start(100, 0);
        assert_eq!(o.position(), (100, 300));
        o.advance(100);
        o.finish();
        assert_eq!((o.position(), o.files_done), ((200, 300), 2));
    }

    #[test]
    fn a_failed_file_leaves_the_total_and_a_changed_size_corrects_it() {
        let mut o = overall(3, 300);
        o.next_file(100);
        o.start(100, 0);
        o.advance(30);
        o.failed();
        assert_eq!(o.position(), (0, 200));
        o.next_file(100);
        o.start(150, 0); // grew since the walk
        assert_eq!(o.position(), (0, 250));
        o.advance(150);
        o.finish();
        assert_eq!(o.position(), (150, 250));
        assert_eq!(o.files_done, 1);
    }
}
