//! Progress reporting for transfers, as a trait so the library stays free of
//! any terminal code: the `mioftp` command draws a bar, tests and benchmarks
//! pass [`NoProgress`].

/// Told how a transfer advances. Calls come in the order `start`, any number
/// of `advance`, then `finish` (only when the transfer completed). A download
/// whose resume turned out stale calls `start` again, with `already_done` 0.
pub trait Progress {
    /// The transfer begins: `total` bytes in the whole file, of which
    /// `already_done` are kept from an earlier attempt and will not move.
    fn start(&mut self, total: u64, already_done: u64);
    /// `n` more bytes moved.
    fn advance(&mut self, n: u64);
    /// The transfer completed and was verified.
    fn finish(&mut self);
}

/// Ignores everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn start(&mut self, _: u64, _: u64) {}
    fn advance(&mut self, _: u64) {}
    fn finish(&mut self) {}
}
