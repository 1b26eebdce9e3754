//! Brute-force throttling of logins, at three levels, so that guessing is
//! slowed without one user's mistakes (or a stranger's guesses) locking out
//! everyone behind the same address.
//!
//! 1. **User and address** ([`Policy::max_failures`], 5): failures for one
//!    name from one address. When that many fall within `window` of the first
//!    of them, that name is refused from that address until the window has
//!    passed. A success from that address clears it.
//! 2. **Address** ([`Policy::max_failures_per_ip`], 50): failures from one
//!    address for any names, counted the same way; when full, the address is
//!    refused for every name. An office behind one NAT shares this budget, so
//!    it is ten times the first. A success does not clear it (one good account
//!    must not unlock guessing at others).
//! 3. **User** ([`Policy::max_failures_per_user`], 100): failures for one
//!    name from all addresses, in a bucket that drains by one per window. Once
//!    it is full, each failure locks the name for 1 s, 2 s, 4 s, ... up to
//!    [`Policy::max_backoff`]: guessing spread over many addresses (each below
//!    the first two limits) is slowed to about one guess per `max_backoff`.
//!    The lock does not apply on addresses the user logged in from
//!    successfully within [`TRUST_PERIOD`], so a stranger cannot lock the user
//!    out there at all, and elsewhere only for `max_backoff` after the
//!    stranger's last failure.
//!
//! Nothing sleeps: time is an argument, and a refusal is an immediate error
//! telling the client when to retry. Memory is bounded: one small counter per
//! key, and at most [`MAX_KEYS`] keys per level (see [`counters::Bounded`]).
//! A level whose limit is 0 is off; a zero `window` turns throttling off.

mod counters;
mod names;
#[cfg(test)]
mod tests;

use counters::{Bounded, Bucket, Window};
pub use names::{NAME_CHECK_POLICY, NameCheckPolicy, NameChecks};
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Most keys remembered at each level (and most trusted user-address pairs).
pub const MAX_KEYS: usize = 100_000;
/// How long a successful login exempts its (user, address) from the user
/// level's back-off. Kept in memory only: a restart forgets it.
pub const TRUST_PERIOD: Duration = Duration::from_secs(30 * 24 * 3600);
/// The user level's first back-off step; each further one doubles.
pub const FIRST_BACKOFF: Duration = Duration::from_secs(1);

/// The policy: a limit per level (0 turns that level off), the window, and
/// the user level's longest back-off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Failures for one user from one address within `window` that lock that
    /// user on that address.
    pub max_failures: usize,
    /// Failures from one address, for any users, within `window` that lock
    /// the address.
    pub max_failures_per_ip: usize,
    /// Failures for one user from all addresses (draining one per `window`)
    /// after which each failure starts or doubles the user's back-off.
    pub max_failures_per_user: usize,
    pub window: Duration,
    /// The longest back-off of the user level.
    pub max_backoff: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            max_failures: 5,
            max_failures_per_ip: 50,
            max_failures_per_user: 100,
            window: Duration::from_secs(300),
            max_backoff: Duration::from_secs(300),
        }
    }
}

/// Which level refused a login.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    UserAddress,
    Address,
    User,
}

/// A refusal: the level that holds the longest lock, and how long it lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lock {
    pub level: Level,
    pub wait: Duration,
}

impl Lock {
    /// The refusal as a sentence ending in "retry after N s" (N rounded up).
    pub fn message(&self) -> String {
        let secs = self.wait.as_secs() + u64::from(self.wait.subsec_nanos() > 0);
        let whose = match self.level {
            Level::UserAddress => "for this account from this address",
            Level::Address => "from this address",
            Level::User => {
                "for this account from many addresses (addresses it recently logged in from are not held back)"
            }
        };
        format!("too many failed logins {whose}; retry after {} s", secs.max(1))
    }
}

/// Login throttling state.
#[derive(Debug)]
pub struct Throttle {
    pub policy: Policy,
    pairs: Bounded<(String, IpAddr), Window>,
    ips: Bounded<IpAddr, Window>,
    users: Bounded<String, Bucket>,
    /// Last successful login of each (user, address).
    trusted: Bounded<(String, IpAddr), Instant>,
}

impl Throttle {
    pub fn new(policy: Policy) -> Throttle {
        Throttle { policy, pairs: Bounded::new(), ips: Bounded::new(), users: Bounded::new(), trusted: Bounded::new() }
    }

    fn off(&self) -> bool {
        self.policy.window.is_zero()
    }

    fn trusted(&self, user: &str, ip: IpAddr, now: Instant) -> bool {
        let last = self.trusted.get(&(user.to_owned(), ip));
        last.is_some_and(|t| now.saturating_duration_since(*t) < TRUST_PERIOD)
    }

    /// If a login for `user` from `ip` must be refused now: the level with
    /// the longest lock, and how long it has left.
    pub fn lock(&self, user: &str, ip: IpAddr, now: Instant) -> Option<Lock> {
        if self.off() {
            return None;
        }
        let p = self.policy;
        let pair = self.pairs.get(&(user.to_owned(), ip)).and_then(|w| w.wait(p.max_failures, p.window, now));
        let addr = self.ips.get(&ip).and_then(|w| w.wait(p.max_failures_per_ip, p.window, now));
        let by_user = (p.max_failures_per_user > 0 && !self.trusted(user, ip, now))
            .then(|| self.users.get(&user.to_owned()).and_then(|b| b.wait(now)))
            .flatten();
        [(Level::UserAddress, pair), (Level::Address, addr), (Level::User, by_user)]
            .into_iter()
            .filter_map(|(level, wait)| wait.map(|wait| Lock { level, wait }))
            .max_by_key(|l| l.wait)
    }

    /// How long until a login for `user` from `ip` may be tried, if refused now.
    pub fn check(&self, user: &str, ip: IpAddr, now: Instant) -> Option<Duration> {
        self.lock(user, ip, now).map(|l| l.wait)
    }

    /// A wrong password (or an unknown name) for `user` from `ip`.
    pub fn record_failure(&mut self, user: &str, ip: IpAddr, now: Instant) {
        if self.off() {
            return;
        }
        let p = self.policy;
        let window_live = |w: &Window| w.live(p.window, now);
        if p.max_failures > 0 {
            let locked = |w: &Window| w.wait(p.max_failures, p.window, now).is_some();
            self.pairs.entry((user.to_owned(), ip), || Window::new(now), window_live, locked).fail(p.window, now);
        }
        if p.max_failures_per_ip > 0 {
            let locked = |w: &Window| w.wait(p.max_failures_per_ip, p.window, now).is_some();
            self.ips.entry(ip, || Window::new(now), window_live, locked).fail(p.window, now);
        }
        if p.max_failures_per_user > 0 {
            let live = |b: &Bucket| b.live(p.window, now);
            let locked = |b: &Bucket| b.wait(now).is_some();
            let bucket = self.users.entry(user.to_owned(), || Bucket::new(now), live, locked);
            bucket.fail(p.max_failures_per_user, p.window, p.max_backoff, now);
        }
    }

    /// A successful login: clears this user's failures from this address and
    /// trusts the address for this user (the user level's back-off no longer
    /// applies there). The address's own count and the user's count across
    /// addresses stay: one good login must not unlock guessing at other
    /// accounts, nor restart the budget of a spread-out attack on this one.
    pub fn record_success(&mut self, user: &str, ip: IpAddr, now: Instant) {
        if self.off() {
            return;
        }
        let key = (user.to_owned(), ip);
        self.pairs.remove(&key);
        if self.policy.max_failures_per_user > 0 {
            let live = |t: &Instant| now.saturating_duration_since(*t) < TRUST_PERIOD;
            *self.trusted.entry(key, || now, live, |_| false) = now;
        }
    }
}
