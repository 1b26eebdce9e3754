//! The server's life: signals (SIGINT/SIGTERM begin a graceful shutdown,
//! SIGHUP reopens the audit logs), the shutdown itself, and the end, which
//! cuts what is still open and flushes the logs.

use super::Server;
use crate::session::CloseReason;
use std::sync::atomic::Ordering;
use std::time::Instant;

impl Server {
    pub(super) fn on_signals(&mut self) {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
        let Some(signals) = self.signals.as_mut() else { return };
        let pending: Vec<i32> = signals.pending().collect();
        for signal in pending {
            match signal {
                SIGHUP => match self.svc.audit.reopen() {
                    Ok(()) => log::info!("SIGHUP: audit logs reopened"),
                    Err(e) => log::error!("SIGHUP: reopening the audit logs failed: {e}; still writing the old files"),
                },
                SIGINT | SIGTERM => {
                    log::info!("signal {signal}: shutting down gracefully");
                    self.stop.store(true, Ordering::SeqCst);
                }
                _ => {}
            }
        }
    }

    /// Stops accepting and tells every session; idle ones end now.
    pub(super) fn begin_shutdown(&mut self, now: Instant) {
        let grace = self.svc.config.shutdown_grace;
        self.grace_deadline = Some(now + grace);
        for listener in &mut self.listeners {
            if let Some(mut socket) = listener.socket.take() {
                let _ = self.poll.registry().deregister(&mut socket);
            }
        }
        let keys: Vec<usize> = self.conns.iter().map(|(k, _)| k).collect();
        log::info!("shutdown: {} connection(s) open, grace {grace:?}", keys.len());
        for key in keys {
            if let Some(conn) = self.conns.get_mut(key) {
                conn.session.begin_shutdown(now, &mut self.svc);
                conn.ready.can_write = true;
            }
            self.drive(key, now);
        }
    }

    /// Cuts whatever is still open (their partials stay resumable and get
    /// `incomplete` records), then flushes the logs.
    pub(super) fn finish(&mut self, now: Instant) {
        let keys: Vec<usize> = self.conns.iter().map(|(k, _)| k).collect();
        if !keys.is_empty() {
            log::info!("shutdown: grace period over; cutting {} connection(s)", keys.len());
        }
        for key in keys {
            self.close(key, CloseReason::Shutdown, now);
        }
        // Commits (and any other job) in flight finish and are recorded;
        // the wait is bounded like the grace period.
        self.drain_jobs(self.svc.config.shutdown_grace, now);
        self.svc.audit.sync();
        log::info!("server stopped");
    }
}
