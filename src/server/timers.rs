//! Connection deadlines, ordered: O(log n) to set, move or pop one, and the
//! next deadline in O(log n) for the poll timeout. No scan over all
//! connections on wake-up.

use std::collections::BTreeSet;
use std::time::Instant;

#[derive(Debug, Default)]
pub struct Timers {
    set: BTreeSet<(Instant, usize)>,
}

impl Timers {
    /// Moves `key`'s deadline from `old` (if any) to `new`.
    pub fn set(&mut self, key: usize, old: Option<Instant>, new: Instant) {
        if let Some(old) = old {
            self.set.remove(&(old, key));
        }
        self.set.insert((new, key));
    }

    pub fn remove(&mut self, key: usize, at: Instant) {
        self.set.remove(&(at, key));
    }

    /// The earliest deadline.
    pub fn next(&self) -> Option<Instant> {
        self.set.first().map(|(t, _)| *t)
    }

    /// Removes and returns one key whose deadline is at or before `now`.
    pub fn pop_due(&mut self, now: Instant) -> Option<usize> {
        match self.set.first() {
            Some(&(t, _)) if t <= now => self.set.pop_first().map(|(_, k)| k),
            _ => None,
        }
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.set.len()
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn deadlines_pop_in_order_and_moves_replace() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut timers = Timers::default();
        timers.set(1, None, t0 + s(30));
        timers.set(2, None, t0 + s(10));
        timers.set(1, Some(t0 + s(30)), t0 + s(5));
        assert_eq!(timers.len(), 2);
        assert_eq!(timers.next(), Some(t0 + s(5)));
        assert_eq!(timers.pop_due(t0 + s(4)), None);
        assert_eq!(timers.pop_due(t0 + s(20)), Some(1));
        assert_eq!(timers.pop_due(t0 + s(20)), Some(2));
        assert!(timers.is_empty());
    }
}
