//! The throttle's levels against a fake clock: who gets locked, for how long,
//! and how fast guessing can go under each.

use super::*;

const S: fn(u64) -> Duration = Duration::from_secs;

fn ip(n: u32) -> IpAddr {
    IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + n))
}

fn policy() -> Policy {
    Policy::default()
}

#[test]
fn five_failures_lock_that_user_on_that_address_only_until_the_window_passes() {
    let mut t = Throttle::new(policy());
    let t0 = Instant::now();
    for i in 0..5 {
        assert_eq!(t.check("alice", ip(1), t0 + S(i)), None);
        t.record_failure("alice", ip(1), t0 + S(i));
    }
    let lock = t.lock("alice", ip(1), t0 + S(10)).unwrap();
    assert_eq!(lock, Lock { level: Level::UserAddress, wait: S(290) });
    assert_eq!(t.check("alice", ip(2), t0 + S(10)), None, "another address");
    assert_eq!(t.check("bob", ip(1), t0 + S(10)), None, "another user behind the same address");
    assert_eq!(t.check("alice", ip(1), t0 + S(300)), None, "the window has passed");
}

#[test]
fn users_behind_one_address_share_only_the_address_level() {
    let mut t = Throttle::new(policy());
    let t0 = Instant::now();
    // mallory guesses at herself until locked, again and again; 49 failures.
    for i in 0..49 {
        t.record_failure(&format!("mallory{}", i / 5), ip(7), t0);
    }
    for user in ["alice", "bob", "carol"] {
        assert_eq!(t.check(user, ip(7), t0 + S(1)), None, "{user}");
    }
    // The 50th failure from the address locks it for every name.
    t.record_failure("mallory9", ip(7), t0 + S(1));
    let lock = t.lock("alice", ip(7), t0 + S(2)).unwrap();
    assert_eq!(lock, Lock { level: Level::Address, wait: S(298) });
    assert_eq!(t.check("alice", ip(8), t0 + S(2)), None);
    assert_eq!(t.check("alice", ip(7), t0 + S(300)), None);
}

/// An attacker with a fresh address for every guess, trying the moment the
/// throttle allows, for a whole day: returns the number of guesses made.
fn spread_attack(t: &mut Throttle, user: &str, from: Instant, seconds: u64) -> (u64, Instant) {
    let (mut now, end, mut guesses, mut n) = (from, from + S(seconds), 0u64, 1000);
    while now < end {
        n += 1;
        match t.check(user, ip(n), now) {
            Some(wait) => now += wait,
            None => {
                t.record_failure(user, ip(n), now);
                guesses += 1;
                now += Duration::from_millis(10);
            }
        }
    }
    (guesses, now)
}

#[test]
fn guessing_spread_over_many_addresses_is_slowed_to_about_one_guess_per_backoff() {
    let mut t = Throttle::new(policy());
    let t0 = Instant::now();
    let (guesses, _) = spread_attack(&mut t, "alice", t0, 86_400);
    // 100 to fill the bucket, about 9 while the back-off doubles to 300 s,
    // then one per 300 s: 100 + 9 + 288. Unthrottled: 8.6 million.
    assert!((390..=400).contains(&guesses), "{guesses} guesses in a day");
    let mut off = Throttle::new(Policy { max_failures_per_user: 0, ..policy() });
    let (unslowed, _) = spread_attack(&mut off, "alice", t0, 60);
    assert_eq!(unslowed, 6000, "the other levels alone do not slow fresh addresses");
}

#[test]
fn the_backoff_doubles_from_one_second_to_the_cap_and_a_pause_does_not_reset_it() {
    let p = policy();
    let mut t = Throttle::new(p);
    let t0 = Instant::now();
    for i in 0..99 {
        t.record_failure("alice", ip(i), t0);
    }
    assert_eq!(t.check("alice", ip(500), t0), None, "99 failures: the bucket is not full");
    let mut now = t0;
    let mut locks = Vec::new();
    for i in 0..12 {
        t.record_failure("alice", ip(600 + i), now);
        let lock = t.lock("alice", ip(900), now).unwrap();
        assert_eq!(lock.level, Level::User);
        locks.push(lock.wait.as_secs());
        now += lock.wait;
        assert_eq!(t.check("alice", ip(900), now), None, "the lock ends on time");
    }
    assert_eq!(locks, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300]);
    // A pause drains room for one failure per window (three here, counting
    // the last lock); the failure that fills the bucket again is locked for
    // the full cap, not 1 s.
    now += p.window * 2;
    let mut free = 0;
    let first_lock = loop {
        t.record_failure("alice", ip(700 + free), now);
        if let Some(wait) = t.check("alice", ip(900), now) {
            break wait;
        }
        free += 1;
    };
    assert_eq!((free, first_lock), (2, p.max_backoff));
    // Drained empty (100 windows of quiet), it starts over.
    now += p.window * 100;
    for i in 0..100 {
        t.record_failure("alice", ip(800 + i), now);
    }
    assert_eq!(t.check("alice", ip(900), now), Some(S(1)));
}

#[test]
fn a_stranger_cannot_lock_a_user_out_of_a_known_address_nor_elsewhere_for_long() {
    let p = policy();
    let mut t = Throttle::new(p);
    let t0 = Instant::now();
    let home = ip(1);
    t.record_success("alice", home, t0);
    let (guesses, mut now) = spread_attack(&mut t, "alice", t0, 3600);
    assert!(guesses > 100, "{guesses}");
    // One last guess, so a lock is running.
    now += t.check("alice", ip(5000), now).unwrap_or_default();
    t.record_failure("alice", ip(5000), now);
    let end = now;
    // At home: the user level does not apply, so alice is never held back.
    assert_eq!(t.check("alice", home, end), None);
    // Elsewhere: at most the cap after the stranger's last guess.
    let wait = t.check("alice", ip(2), end).expect("a new address is held back");
    assert!(wait <= p.max_backoff, "{wait:?}");
    assert_eq!(t.check("alice", ip(2), end + p.max_backoff), None);
    // Trust ends after the trust period without a new success.
    let later = t0 + TRUST_PERIOD;
    for i in 0..100 {
        t.record_failure("alice", ip(6000 + i), later);
    }
    assert!(t.check("alice", home, later).is_some(), "trust expired");
}

#[test]
fn success_clears_its_own_pair_but_neither_the_address_nor_the_users_bucket() {
    let p = Policy { max_failures: 2, max_failures_per_ip: 3, max_failures_per_user: 4, ..policy() };
    let mut t = Throttle::new(p);
    let t0 = Instant::now();
    t.record_failure("u", ip(1), t0);
    t.record_failure("u", ip(1), t0);
    assert_eq!(t.lock("u", ip(1), t0).map(|l| l.level), Some(Level::UserAddress));
    t.record_success("u", ip(1), t0);
    assert_eq!(t.check("u", ip(1), t0), None);
    t.record_failure("v", ip(1), t0);
    assert_eq!(t.lock("w", ip(1), t0).map(|l| l.level), Some(Level::Address), "3 failures from ip 1");
    // u's bucket holds 2; two more from elsewhere fill it.
    t.record_failure("u", ip(2), t0);
    t.record_failure("u", ip(3), t0);
    assert_eq!(t.lock("u", ip(4), t0).map(|l| l.level), Some(Level::User));
}

#[test]
fn zero_turns_a_level_off_and_a_zero_window_turns_everything_off() {
    let t0 = Instant::now();
    let quiet = Policy { max_failures: 0, max_failures_per_ip: 0, max_failures_per_user: 0, ..policy() };
    let no_window = Policy { window: Duration::ZERO, ..policy() };
    for p in [quiet, no_window] {
        let mut t = Throttle::new(p);
        for i in 0..200 {
            t.record_failure("u", ip(1), t0 + Duration::from_millis(i));
        }
        assert_eq!(t.check("u", ip(1), t0 + S(1)), None, "{p:?}");
        assert_eq!((t.pairs.len(), t.ips.len(), t.users.len()), (0, 0, 0));
    }
}

#[test]
fn lock_messages_name_the_level_and_round_up_to_whole_seconds() {
    let lock = |level, wait| Lock { level, wait }.message();
    assert_eq!(
        lock(Level::UserAddress, Duration::from_millis(1500)),
        "too many failed logins for this account from this address; retry after 2 s"
    );
    assert_eq!(
        lock(Level::Address, Duration::from_millis(10)),
        "too many failed logins from this address; retry after 1 s"
    );
    assert!(lock(Level::User, S(300)).contains("from many addresses") && lock(Level::User, S(300)).ends_with("300 s"));
}

#[test]
fn memory_is_bounded_at_every_level_and_a_flood_keeps_locked_users() {
    let mut t = Throttle::new(policy());
    let t0 = Instant::now();
    for i in 0..100 {
        t.record_failure("target", ip(i), t0);
    }
    for i in 0..(MAX_KEYS as u32 + 10) {
        let user = format!("u{i}");
        t.record_failure(&user, ip(i), t0);
        t.record_success(&user, ip(i), t0);
    }
    assert!(t.pairs.len() <= MAX_KEYS && t.ips.len() <= MAX_KEYS, "{} {}", t.pairs.len(), t.ips.len());
    assert!(t.users.len() <= MAX_KEYS && t.trusted.len() <= MAX_KEYS);
    assert!(t.check("target", ip(5_000_000), t0).is_some(), "the locked user survived the flood");
}
