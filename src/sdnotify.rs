//! systemd readiness and watchdog notifications (`Type=notify`), through the
//! `sd-notify` crate: `READY=1` once the listeners are bound, `STOPPING=1`
//! when a graceful shutdown starts, and `WATCHDOG=1` from the event loop.
//!
//! The watchdog fits the loop's timer model: [`Notifier::poll_timeout`] is
//! one more deadline for the poll timeout, and [`Notifier::handle_timeout`]
//! pings when it is due. Pings go out every half `WatchdogSec` (read from
//! `WATCHDOG_USEC`, honouring `WATCHDOG_PID`), as `sd_watchdog_enabled(3)`
//! advises, so a loop that stalls for longer than that is restarted by
//! systemd. Outside systemd (`NOTIFY_SOCKET` unset) every call does nothing.

use sd_notify::NotifyState;
use std::time::{Duration, Instant};

/// The watchdog ping schedule, pure: time comes in as an argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Watchdog {
    interval: Duration,
    next: Instant,
}

impl Watchdog {
    /// A schedule for a `WatchdogSec` of `timeout`: a ping every half of it,
    /// the first one due at once.
    pub fn new(timeout: Duration, now: Instant) -> Watchdog {
        // At least 1 ms apart, so a tiny or zero timeout cannot make the loop spin.
        let interval = (timeout / 2).max(Duration::from_millis(1));
        Watchdog { interval, next: now }
    }

    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// When the next ping is due.
    pub fn deadline(&self) -> Instant {
        self.next
    }

    /// Whether a ping is due at `now`; if so, schedules the next one.
    pub fn due(&mut self, now: Instant) -> bool {
        if now < self.next {
            return false;
        }
        // From now, not from the missed deadline: after a stall, one ping,
        // not a burst of catch-up pings.
        self.next = now + self.interval;
        true
    }
}

/// Notifications to the service manager.
#[derive(Debug)]
pub struct Notifier {
    watchdog: Option<Watchdog>,
}

impl Notifier {
    /// Reads `WATCHDOG_USEC`/`WATCHDOG_PID` from the environment.
    pub fn from_env(now: Instant) -> Notifier {
        Notifier { watchdog: sd_notify::watchdog_enabled().map(|t| Watchdog::new(t, now)) }
    }

    /// A notifier without a watchdog (tests, or a server not under systemd).
    pub fn without_watchdog() -> Notifier {
        Notifier { watchdog: None }
    }

    /// The ping interval, if systemd asked for a watchdog.
    pub fn watchdog_interval(&self) -> Option<Duration> {
        self.watchdog.map(|w| w.interval())
    }

    /// Startup finished: listeners bound, ready for clients.
    pub fn ready(&self, status: &str) {
        send(&[NotifyState::Ready, NotifyState::Status(status)]);
    }

    /// A graceful shutdown started.
    pub fn stopping(&self) {
        send(&[NotifyState::Stopping]);
    }

    /// A free-form status line for `systemctl status`.
    pub fn status(&self, status: &str) {
        send(&[NotifyState::Status(status)]);
    }

    /// The next watchdog deadline, for the poll timeout.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.watchdog.map(|w| w.deadline())
    }

    /// Pings the watchdog if due. Call every loop turn: the loop being alive
    /// to call it is what the ping vouches for.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some(w) = &mut self.watchdog {
            if w.due(now) {
                send(&[NotifyState::Watchdog]);
            }
        }
    }
}

/// Sends, reporting (but surviving) a failure: losing a notification must
/// not take the server down.
fn send(states: &[NotifyState<'_>]) {
    if let Err(e) = sd_notify::notify(states) {
        log::warn!("sd_notify failed: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixDatagram;
    use std::process::Command;

    #[test]
    fn the_watchdog_pings_at_once_then_every_half_timeout() {
        let t0 = Instant::now();
        let mut w = Watchdog::new(Duration::from_secs(10), t0);
        assert_eq!(w.interval(), Duration::from_secs(5));
        assert!(w.due(t0), "the first ping is due at start");
        assert!(!w.due(t0 + Duration::from_secs(4)));
        assert_eq!(w.deadline(), t0 + Duration::from_secs(5));
        assert!(w.due(t0 + Duration::from_secs(5)));
        assert!(!w.due(t0 + Duration::from_secs(6)));
    }

    #[test]
    fn after_a_stall_one_ping_goes_out_not_a_burst() {
        let t0 = Instant::now();
        let mut w = Watchdog::new(Duration::from_secs(2), t0);
        assert!(w.due(t0));
        let late = t0 + Duration::from_secs(60);
        assert!(w.due(late));
        assert!(!w.due(late + Duration::from_millis(999)));
        assert_eq!(w.deadline(), late + Duration::from_secs(1));
    }

    #[test]
    fn a_zero_timeout_cannot_make_the_loop_spin() {
        let t0 = Instant::now();
        let mut w = Watchdog::new(Duration::ZERO, t0);
        assert!(w.due(t0));
        assert!(!w.due(t0), "not due again in the same instant");
    }

    #[test]
    fn without_a_watchdog_there_is_no_deadline() {
        let mut n = Notifier::without_watchdog();
        assert_eq!(n.poll_timeout(), None);
        n.handle_timeout(Instant::now());
    }

    /// Not a test of its own: the child half of the next test, which gives
    /// it `NOTIFY_SOCKET` and `WATCHDOG_USEC` as systemd would.
    #[test]
    #[ignore = "helper run by notifications_reach_the_notify_socket"]
    fn child_sends_notifications() {
        if std::env::var_os("NOTIFY_SOCKET").is_none() {
            return; // run on its own (`--include-ignored`): nothing to do
        }
        let t0 = Instant::now();
        let mut n = Notifier::from_env(t0);
        assert_eq!(n.watchdog_interval(), Some(Duration::from_millis(1500)));
        n.ready("serving on 127.0.0.1:2121");
        n.handle_timeout(t0);
        n.handle_timeout(t0 + Duration::from_millis(10)); // not due: no datagram
        n.stopping();
    }

    #[test]
    fn notifications_reach_the_notify_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify.sock");
        let sock = UnixDatagram::bind(&path).unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        // output(), not status(): the child harness's own lines stay out of ours.
        let out = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "sdnotify::tests::child_sends_notifications", "--ignored", "--quiet"])
            .env("NOTIFY_SOCKET", &path)
            .env("WATCHDOG_USEC", "3000000")
            .env_remove("WATCHDOG_PID")
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
        let mut got = Vec::new();
        sock.set_nonblocking(true).unwrap();
        let mut buf = [0u8; 512];
        while let Ok(n) = sock.recv(&mut buf) {
            got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
        assert_eq!(got, ["READY=1\nSTATUS=serving on 127.0.0.1:2121\n", "WATCHDOG=1\n", "STOPPING=1\n"]);
    }
}
