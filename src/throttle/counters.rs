//! The counters behind [`super::Throttle`], one small `Copy` value per key,
//! and the bounded map that holds them.
//!
//! - [`Window`]: failures since the first one of a fixed window (per user and
//!   address, and per address). O(1) memory per key, unlike a list of times.
//! - [`Bucket`]: per user, a count that drains by one per window, plus the
//!   growing back-off that starts once it is full.
//! - [`Bounded`]: a `HashMap` that never holds more than [`super::MAX_KEYS`]
//!   entries: when full, expired entries go first, then (if still nearly
//!   full, a flood of distinct keys) a tenth of the rest, unlocked ones
//!   first, so a flood cannot easily wash out the lock of a key under attack.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::{Duration, Instant};

/// Failures counted from the first one; after `window` the count restarts.
#[derive(Debug, Clone, Copy)]
pub(super) struct Window {
    first: Instant,
    count: u32,
}

impl Window {
    pub(super) fn new(now: Instant) -> Window {
        Window { first: now, count: 0 }
    }

    fn age(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.first)
    }

    pub(super) fn live(&self, window: Duration, now: Instant) -> bool {
        self.age(now) < window
    }

    /// How long this key stays locked: `max` failures within the window lock
    /// it until the window (from its first failure) has passed.
    pub(super) fn wait(&self, max: usize, window: Duration, now: Instant) -> Option<Duration> {
        let full = max > 0 && self.live(window, now) && self.count as usize >= max;
        full.then(|| window - self.age(now))
    }

    pub(super) fn fail(&mut self, window: Duration, now: Instant) {
        if self.live(window, now) {
            self.count = self.count.saturating_add(1);
        } else {
            *self = Window { first: now, count: 1 };
        }
    }
}

/// A user's failures from every address: a bucket of `max` that drains by
/// one per window. A failure that fills it sets a lock of 1 s, the next 2 s,
/// then 4 s, ... up to `max_backoff`, each counted from its failure. The
/// doubling only starts over once the bucket has drained empty: pausing for
/// a window (which makes room for one failure) does not buy a short lock.
#[derive(Debug, Clone, Copy)]
pub(super) struct Bucket {
    level: u32,
    /// The bucket was last drained (whole windows only) at this time.
    drained: Instant,
    /// Failures that filled the bucket since it was last empty.
    strikes: u32,
    locked_at: Instant,
    lock: Duration,
}

impl Bucket {
    pub(super) fn new(now: Instant) -> Bucket {
        Bucket { level: 0, drained: now, strikes: 0, locked_at: now, lock: Duration::ZERO }
    }

    fn drain(&mut self, window: Duration, now: Instant) {
        let whole = now.saturating_duration_since(self.drained).as_nanos() / window.as_nanos().max(1);
        if whole >= u128::from(self.level) {
            self.level = 0;
            self.strikes = 0;
            self.drained = now;
        } else {
            // whole < level <= u32::MAX
            self.level -= whole as u32;
            self.drained = window.checked_mul(whole as u32).and_then(|d| self.drained.checked_add(d)).unwrap_or(now);
        }
    }

    /// Time left on the back-off lock, if any.
    pub(super) fn wait(&self, now: Instant) -> Option<Duration> {
        let left = self.lock.saturating_sub(now.saturating_duration_since(self.locked_at));
        (!left.is_zero()).then_some(left)
    }

    pub(super) fn live(&self, window: Duration, now: Instant) -> bool {
        let mut drained = *self;
        drained.drain(window, now);
        drained.level > 0 || self.wait(now).is_some()
    }

    pub(super) fn fail(&mut self, max: usize, window: Duration, max_backoff: Duration, now: Instant) {
        self.drain(window, now);
        let max = u32::try_from(max).unwrap_or(u32::MAX);
        self.level = self.level.saturating_add(1).min(max);
        if self.level >= max {
            self.strikes = self.strikes.saturating_add(1);
            self.locked_at = now;
            self.lock = backoff(self.strikes, max_backoff);
        }
    }
}

/// The lock after the `strikes`-th failure while full: 1 s doubling, capped.
pub(super) fn backoff(strikes: u32, max_backoff: Duration) -> Duration {
    let doublings = strikes.saturating_sub(1).min(31);
    super::FIRST_BACKOFF.saturating_mul(1 << doublings).min(max_backoff)
}

/// A map of at most [`super::MAX_KEYS`] entries.
#[derive(Debug)]
pub(super) struct Bounded<K, V> {
    map: HashMap<K, V>,
}

impl<K: Hash + Eq + Clone, V> Bounded<K, V> {
    pub(super) fn new() -> Self {
        Bounded { map: HashMap::new() }
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.map.len()
    }

    pub(super) fn get(&self, key: &K) -> Option<&V> {
        self.map.get(key)
    }

    pub(super) fn remove(&mut self, key: &K) {
        self.map.remove(key);
    }

    /// The entry for `key`, made by `make` if absent. When the map is full,
    /// entries that are not `live` are dropped first; if it is still at 90%,
    /// a tenth of it goes, those not `locked` first. The O(n) pass runs at
    /// most once per n/10 new keys, so the cost per call stays O(1) amortised.
    pub(super) fn entry(
        &mut self,
        key: K,
        make: impl FnOnce() -> V,
        live: impl Fn(&V) -> bool,
        locked: impl Fn(&V) -> bool,
    ) -> &mut V {
        if !self.map.contains_key(&key) && self.map.len() >= super::MAX_KEYS {
            self.map.retain(|_, v| live(v));
            if self.map.len() >= super::MAX_KEYS * 9 / 10 {
                let tenth = super::MAX_KEYS / 10;
                let (map, locked) = (&self.map, &locked);
                let pick = |want_locked: bool| {
                    map.iter().filter(move |(_, v)| locked(v) == want_locked).map(|(k, _)| k.clone())
                };
                let mut victims: Vec<K> = pick(false).take(tenth).collect();
                let more = tenth - victims.len();
                victims.extend(pick(true).take(more));
                for k in victims {
                    self.map.remove(&k);
                }
            }
        }
        self.map.entry(key).or_insert_with(make)
    }
}
