//! Brute-force throttling of logins, per username and per client address.
//!
//! Each key (a username, or an IP address) keeps the times of its recent
//! failed logins. When `max_failures` of them fall inside `window`, further
//! attempts for that key are refused until the oldest of them leaves the
//! window. Nothing sleeps: time is an argument, and a refusal is an immediate
//! error telling the client when to retry. Memory is bounded: at most
//! `max_failures` timestamps per key, and at most [`MAX_KEYS`] keys (the
//! least recently failed are forgotten first).

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Most keys of each kind remembered.
pub const MAX_KEYS: usize = 100_000;

/// The policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Failures within `window` that lock a key. 0 disables throttling.
    pub max_failures: usize,
    pub window: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Policy { max_failures: 5, window: Duration::from_secs(300) }
    }
}

/// Recent failures for one kind of key.
#[derive(Debug)]
struct Tracker<K> {
    failures: HashMap<K, VecDeque<Instant>>,
}

impl<K: Hash + Eq + Clone> Tracker<K> {
    fn new() -> Self {
        Tracker { failures: HashMap::new() }
    }

    /// When the key may try again, if it is locked now.
    fn locked_until(&self, key: &K, policy: Policy, now: Instant) -> Option<Instant> {
        if policy.max_failures == 0 {
            return None;
        }
        let times = self.failures.get(key)?;
        let recent: Vec<&Instant> =
            times.iter().filter(|t| now.saturating_duration_since(**t) < policy.window).collect();
        if recent.len() < policy.max_failures {
            return None;
        }
        recent.first().map(|oldest| **oldest + policy.window)
    }

    fn fail(&mut self, key: K, policy: Policy, now: Instant) {
        if policy.max_failures == 0 {
            return;
        }
        if !self.failures.contains_key(&key) && self.failures.len() >= MAX_KEYS {
            self.evict(policy, now);
        }
        let times = self.failures.entry(key).or_default();
        while times.front().is_some_and(|t| now.saturating_duration_since(*t) >= policy.window) {
            times.pop_front();
        }
        times.push_back(now);
        while times.len() > policy.max_failures {
            times.pop_front();
        }
    }

    fn succeed(&mut self, key: &K) {
        self.failures.remove(key);
    }

    /// Drops expired keys; if the table is still full (a flood of distinct
    /// keys), forgets an arbitrary tenth of it. Either way the O(n) pass runs
    /// at most once per n/10 new keys, so the cost per failure stays O(1)
    /// amortised. A flood from one address is still caught by its address.
    fn evict(&mut self, policy: Policy, now: Instant) {
        self.failures.retain(|_, t| t.back().is_some_and(|last| now.saturating_duration_since(*last) < policy.window));
        if self.failures.len() >= MAX_KEYS * 9 / 10 {
            let victims: Vec<K> = self.failures.keys().take(MAX_KEYS / 10).cloned().collect();
            for k in victims {
                self.failures.remove(&k);
            }
        }
    }
}

/// Login throttling by user and by address.
#[derive(Debug)]
pub struct Throttle {
    pub policy: Policy,
    users: Tracker<String>,
    ips: Tracker<IpAddr>,
}

impl Throttle {
    pub fn new(policy: Policy) -> Throttle {
        Throttle { policy, users: Tracker::new(), ips: Tracker::new() }
    }

    /// If a login for `user` from `ip` must be refused now, how long until
    /// it may be tried again.
    pub fn check(&self, user: &str, ip: IpAddr, now: Instant) -> Option<Duration> {
        let by_user = self.users.locked_until(&user.to_owned(), self.policy, now);
        let by_ip = self.ips.locked_until(&ip, self.policy, now);
        by_user.max(by_ip).map(|until| until.saturating_duration_since(now).max(Duration::from_secs(1)))
    }

    pub fn record_failure(&mut self, user: &str, ip: IpAddr, now: Instant) {
        self.users.fail(user.to_owned(), self.policy, now);
        self.ips.fail(ip, self.policy, now);
    }

    /// A successful login clears the user's failures (not the address's:
    /// one good account must not unlock guessing at others).
    pub fn record_success(&mut self, user: &str) {
        self.users.succeed(&user.to_owned());
    }
}

/// The default limit on `check_user`: 10 queries per address per minute,
/// plenty for people choosing a name, slow for enumerating accounts.
pub const NAME_CHECK_POLICY: Policy = Policy { max_failures: 10, window: Duration::from_secs(60) };

/// Rate limit on `check_user`, which by its nature tells whether an account
/// exists: each address may ask `policy.max_failures` times per window,
/// whatever the answers were. Same bounded bookkeeping as the login throttle.
#[derive(Debug)]
pub struct NameChecks {
    pub policy: Policy,
    ips: Tracker<IpAddr>,
}

impl NameChecks {
    pub fn new(policy: Policy) -> NameChecks {
        NameChecks { policy, ips: Tracker::new() }
    }

    /// Counts one query from `ip`, or, if its allowance is spent, says how
    /// long until it may ask again (a refused query is not counted).
    pub fn take(&mut self, ip: IpAddr, now: Instant) -> Option<Duration> {
        if let Some(until) = self.ips.locked_until(&ip, self.policy, now) {
            return Some(until.saturating_duration_since(now).max(Duration::from_secs(1)));
        }
        self.ips.fail(ip, self.policy, now);
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    fn ip(n: u8) -> IpAddr {
        IpAddr::from([10, 0, 0, n])
    }

    #[test]
    fn five_failures_for_a_user_lock_it_until_the_window_passes() {
        let mut t = Throttle::new(Policy::default());
        let t0 = Instant::now();
        for i in 0..5 {
            assert_eq!(t.check("alice", ip(i), t0 + S(i as u64)), None);
            t.record_failure("alice", ip(i), t0 + S(i as u64));
        }
        // Locked from any address, until the first failure is 300 s old.
        assert_eq!(t.check("alice", ip(99), t0 + S(10)), Some(S(290)));
        assert_eq!(t.check("bob", ip(99), t0 + S(10)), None);
        assert_eq!(t.check("alice", ip(99), t0 + S(300)), None);
    }

    #[test]
    fn five_failures_from_an_address_lock_it_for_every_user() {
        let mut t = Throttle::new(Policy::default());
        let t0 = Instant::now();
        for i in 0..5 {
            t.record_failure(&format!("user{i}"), ip(7), t0);
        }
        assert!(t.check("someone-else", ip(7), t0 + S(1)).is_some());
        assert!(t.check("someone-else", ip(8), t0 + S(1)).is_none());
    }

    #[test]
    fn failures_outside_the_window_do_not_count() {
        let mut t = Throttle::new(Policy { max_failures: 3, window: S(60) });
        let t0 = Instant::now();
        t.record_failure("u", ip(1), t0);
        t.record_failure("u", ip(1), t0 + S(30));
        t.record_failure("u", ip(1), t0 + S(70)); // the first has expired
        assert_eq!(t.check("u", ip(1), t0 + S(71)), None);
        t.record_failure("u", ip(1), t0 + S(75));
        assert_eq!(t.check("u", ip(1), t0 + S(76)), Some(S(14)));
    }

    #[test]
    fn success_clears_the_user_but_not_the_address() {
        let mut t = Throttle::new(Policy { max_failures: 2, window: S(60) });
        let t0 = Instant::now();
        t.record_failure("u", ip(1), t0);
        t.record_failure("u", ip(1), t0);
        t.record_success("u");
        assert!(t.check("u", ip(2), t0).is_none());
        assert!(t.check("v", ip(1), t0).is_some());
    }

    #[test]
    fn name_checks_count_every_query_per_address() {
        let mut n = NameChecks::new(Policy { max_failures: 2, window: S(60) });
        let t0 = Instant::now();
        assert_eq!(n.take(ip(1), t0), None);
        assert_eq!(n.take(ip(1), t0 + S(1)), None);
        assert_eq!(n.take(ip(1), t0 + S(2)), Some(S(58)));
        assert_eq!(n.take(ip(2), t0 + S(2)), None, "per address");
        assert_eq!(n.take(ip(1), t0 + S(60)), None, "the oldest left the window");
    }

    #[test]
    fn zero_disables_and_memory_is_bounded() {
        let mut off = Throttle::new(Policy { max_failures: 0, window: S(60) });
        let t0 = Instant::now();
        for _ in 0..10 {
            off.record_failure("u", ip(1), t0);
        }
        assert!(off.check("u", ip(1), t0).is_none());

        let mut t = Throttle::new(Policy::default());
        for i in 0..(MAX_KEYS + 10) {
            t.record_failure(&format!("u{i}"), ip(1), t0);
        }
        assert!(t.users.failures.len() <= MAX_KEYS);
    }
}
