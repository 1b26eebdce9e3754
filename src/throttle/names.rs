//! The rate limit on `check_user`, which by its nature tells whether an
//! account exists: each address may ask `max` times per window, whatever the
//! answers were. Same bounded bookkeeping as the login throttle.

use super::counters::{Bounded, Window};
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// How many `check_user` queries an address may make per window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NameCheckPolicy {
    /// Queries per window and address; 0 turns the limit off.
    pub max: usize,
    pub window: Duration,
}

/// The default: 10 queries per address per minute, plenty for people
/// choosing a name, slow for enumerating accounts.
pub const NAME_CHECK_POLICY: NameCheckPolicy = NameCheckPolicy { max: 10, window: Duration::from_secs(60) };

/// Counts `check_user` queries per address.
#[derive(Debug)]
pub struct NameChecks {
    pub policy: NameCheckPolicy,
    ips: Bounded<IpAddr, Window>,
}

impl NameChecks {
    pub fn new(policy: NameCheckPolicy) -> NameChecks {
        NameChecks { policy, ips: Bounded::new() }
    }

    /// Counts one query from `ip`, or, if its allowance is spent, says how
    /// long until it may ask again (a refused query is not counted).
    pub fn take(&mut self, ip: IpAddr, now: Instant) -> Option<Duration> {
        let p = self.policy;
        if p.max == 0 || p.window.is_zero() {
            return None;
        }
        if let Some(wait) = self.ips.get(&ip).and_then(|w| w.wait(p.max, p.window, now)) {
            return Some(wait.max(Duration::from_secs(1)));
        }
        let live = |w: &Window| w.live(p.window, now);
        let locked = |w: &Window| w.wait(p.max, p.window, now).is_some();
        self.ips.entry(ip, || Window::new(now), live, locked).fail(p.window, now);
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn ip(n: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(10, 0, 0, n))
    }

    #[test]
    fn name_checks_count_every_query_per_address() {
        let s = Duration::from_secs;
        let mut n = NameChecks::new(NameCheckPolicy { max: 2, window: s(60) });
        let t0 = Instant::now();
        assert_eq!(n.take(ip(1), t0), None);
        assert_eq!(n.take(ip(1), t0 + s(1)), None);
        assert_eq!(n.take(ip(1), t0 + s(2)), Some(s(58)));
        assert_eq!(n.take(ip(2), t0 + s(2)), None, "per address");
        assert_eq!(n.take(ip(1), t0 + s(60)), None, "the window has passed");
    }
}
