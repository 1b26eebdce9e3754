//! The transfer progress bar: bytes, rate and ETA on stderr, drawn only when
//! stderr is a terminal so scripts and logs get just the summary line.
//!
//! It appears only once bytes move (a transfer that fails at once leaves no
//! trace), starts at what is already there (empty for a fresh transfer,
//! never "full at 0 B/0 B"), and always fits on one terminal line: a long
//! name is cut in the middle, so the start and the file's own name show.
//! (A line wider than the terminal wraps, and the redraw then climbs as many
//! lines as it wrapped into.)

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use mioftp_client::Progress;
use std::io::IsTerminal;

const TEMPLATE: &str = "{msg} [{bar:16}] {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta}";
/// Columns the template takes besides the message, with room for the
/// widest sizes and rates ("1023.99 MiB/1023.99 MiB 1023.99 KiB/s ETA 59m").
const FIXED: usize = 66;
/// The message keeps at least this many columns, even on narrow terminals.
const MIN_LABEL: usize = 20;

/// A [`Progress`] that draws an indicatif bar, or nothing off a terminal.
pub struct Bar {
    /// Where to draw, until the bar is made; `None` off a terminal.
    target: Option<ProgressDrawTarget>,
    label: String,
    /// Columns the label may take.
    room: usize,
    bar: Option<ProgressBar>,
    total: u64,
    done: u64,
}

impl Bar {
    pub fn new(label: &str) -> Bar {
        if !std::io::stderr().is_terminal() {
            return Bar { target: None, label: String::new(), room: 0, bar: None, total: 0, done: 0 };
        }
        let width = usize::from(console::Term::stderr().size().1);
        Bar::with_target(label, ProgressDrawTarget::stderr(), width)
    }

    /// A bar drawing on `target`, a terminal `width` columns wide.
    pub fn with_target(label: &str, target: ProgressDrawTarget, width: usize) -> Bar {
        let room = width.saturating_sub(FIXED).max(MIN_LABEL);
        Bar { target: Some(target), label: middle_cut(label, room), room, bar: None, total: 0, done: 0 }
    }

    /// A new label (a copy of many files counts them in it).
    pub fn set_label(&mut self, label: &str) {
        let label = middle_cut(label, self.room);
        match &self.bar {
            Some(bar) => bar.set_message(label),
            None if self.target.is_some() => self.label = label,
            None => {}
        }
    }

    /// Moves the bar to `done` of `total` without restarting its rate and
    /// ETA (one bar over many files: a file resumed, restarted or failed).
    pub fn set(&mut self, total: u64, done: u64) {
        (self.total, self.done) = (total, done);
        if let Some(bar) = &self.bar {
            bar.set_length(total);
            bar.set_position(done);
        }
    }

    /// Makes the bar on the first bytes moved.
    fn show(&mut self) -> Option<&ProgressBar> {
        if self.bar.is_none() {
            let target = self.target.take()?;
            let bar = ProgressBar::with_draw_target(Some(self.total), target);
            // The template is a constant, so this only fails if it is edited badly;
            // fall back to indicatif's default look rather than fail a transfer.
            if let Ok(style) = ProgressStyle::with_template(TEMPLATE) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_message(std::mem::take(&mut self.label));
            bar.set_position(self.done);
            bar.reset_eta();
            self.bar = Some(bar);
        }
        self.bar.as_ref()
    }
}

/// `text` in at most `room` characters, cut in the middle with `…`.
pub fn middle_cut(text: &str, room: usize) -> String {
    let chars: Vec<char> = text.chars().collect();
    if chars.len() <= room {
        return text.to_owned();
    }
    let keep = room.saturating_sub(1);
    let head = keep / 2;
    let tail = keep - head;
    let mut out: String = chars[..head].iter().collect();
    out.push('…');
    out.extend(&chars[chars.len() - tail..]);
    out
}

impl Progress for Bar {
    fn start(&mut self, total: u64, already_done: u64) {
        (self.total, self.done) = (total, already_done);
        // A restart from zero (a stale resume) after bytes already moved.
        if let Some(bar) = &self.bar {
            bar.set_length(total);
            bar.set_position(already_done);
            bar.reset_eta();
        }
    }

    fn advance(&mut self, n: u64) {
        if n == 0 {
            return;
        }
        self.done += n;
        if let Some(bar) = self.show() {
            bar.inc(n);
        }
    }

    fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

impl Drop for Bar {
    /// A failed transfer: clear the bar so the error line stands alone.
    fn drop(&mut self) {
        self.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use indicatif::TermLike;
    use std::sync::{Arc, Mutex};

    /// A terminal that records what is drawn on it.
    #[derive(Debug, Clone, Default)]
    struct Screen {
        log: Arc<Mutex<Vec<String>>>,
    }

    impl Screen {
        fn ops(&self) -> Vec<String> {
            self.log.lock().unwrap().clone()
        }
        fn push(&self, op: String) -> std::io::Result<()> {
            self.log.lock().unwrap().push(op);
            Ok(())
        }
    }

    impl TermLike for Screen {
        fn width(&self) -> u16 {
            80
        }
        fn move_cursor_up(&self, n: usize) -> std::io::Result<()> {
            self.push(format!("up {n}"))
        }
        fn move_cursor_down(&self, n: usize) -> std::io::Result<()> {
            self.push(format!("down {n}"))
        }
        fn move_cursor_right(&self, n: usize) -> std::io::Result<()> {
            self.push(format!("right {n}"))
        }
        fn move_cursor_left(&self, n: usize) -> std::io::Result<()> {
            self.push(format!("left {n}"))
        }
        fn write_line(&self, s: &str) -> std::io::Result<()> {
            self.push(format!("line {s}"))
        }
        fn write_str(&self, s: &str) -> std::io::Result<()> {
            self.push(format!("str {s}"))
        }
        fn clear_line(&self) -> std::io::Result<()> {
            self.push("clear".into())
        }
        fn flush(&self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn bar(label: &str) -> (Bar, Screen) {
        let screen = Screen::default();
        let target = ProgressDrawTarget::term_like_with_hz(Box::new(screen.clone()), 255);
        (Bar::with_target(label, target, 80), screen)
    }

    fn drawn(screen: &Screen) -> Vec<String> {
        screen.ops().into_iter().filter_map(|op| op.strip_prefix("str ").map(str::to_owned)).collect()
    }

    #[test]
    fn middle_cuts_keep_both_ends() {
        assert_eq!(middle_cut("short", 10), "short");
        assert_eq!(middle_cut("abcdefghij", 5), "ab…ij");
        assert_eq!(middle_cut("ééééééééé", 4).chars().count(), 4);
    }

    #[test]
    fn nothing_is_drawn_before_bytes_move_so_an_immediate_failure_does_not_flash() {
        let (mut b, screen) = bar("get a.bin");
        b.start(1000, 0);
        drop(b);
        assert!(drawn(&screen).iter().all(|s| s.trim().is_empty()), "{:?}", screen.ops());
    }

    #[test]
    fn the_bar_starts_empty_and_fills_as_bytes_move() {
        let (mut b, screen) = bar("get a.bin");
        b.start(1000, 0);
        b.advance(1);
        if let Some(pb) = &b.bar {
            pb.force_draw();
        }
        let text = drawn(&screen).join("\n");
        assert!(text.contains("get a.bin"), "{:?}", screen.ops());
        assert!(text.contains("1 B/1000 B"), "{text}");
        assert!(!text.contains("0 B/0 B") && !text.contains('='), "{text}");
    }

    #[test]
    fn a_long_name_is_cut_in_the_middle_and_the_bar_stays_on_one_line() {
        let long = format!("get {}end.bin", "very-long-folder-name/".repeat(40));
        let (mut b, screen) = bar(&long);
        b.start(1000, 0);
        for _ in 0..3 {
            b.advance(100);
            if let Some(pb) = &b.bar {
                pb.force_draw();
            }
        }
        let ops = screen.ops();
        assert!(ops.iter().all(|op| !op.starts_with("up ") || op == "up 1" || op == "up 0"), "{ops:?}");
        for s in drawn(&screen) {
            assert!(console::measure_text_width(&s) <= 80, "{} columns: {s}", console::measure_text_width(&s));
        }
        let text = drawn(&screen).join("\n");
        assert!(text.contains("get very") && text.contains("end.bin") && text.contains('…'), "{text}");
    }
}
