//! The transfer progress bar: bytes, rate and ETA on stderr, drawn only when
//! stderr is a terminal so scripts and logs get just the summary line.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use mioftp_client::Progress;
use std::io::IsTerminal;

const TEMPLATE: &str = "{msg} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta}";

/// A [`Progress`] that draws an indicatif bar, or nothing off a terminal.
pub struct Bar {
    bar: Option<ProgressBar>,
}

impl Bar {
    pub fn new(label: &str) -> Bar {
        if !std::io::stderr().is_terminal() {
            return Bar { bar: None };
        }
        let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
        // The template is a constant, so this only fails if it is edited badly;
        // fall back to indicatif's default look rather than fail a transfer.
        if let Ok(style) = ProgressStyle::with_template(TEMPLATE) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(label.to_owned());
        Bar { bar: Some(bar) }
    }
}

impl Progress for Bar {
    fn start(&mut self, total: u64, already_done: u64) {
        if let Some(bar) = &self.bar {
            bar.set_length(total);
            bar.set_position(already_done);
            bar.reset_eta();
        }
    }

    fn advance(&mut self, n: u64) {
        if let Some(bar) = &self.bar {
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
