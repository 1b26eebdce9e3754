//! Serving what an endpoint asks of the driver ([`DriverRequest`]), polled
//! after every drive.
//!
//! - `Admit`: a preamble endpoint (PROXY protocol) learned the real peer.
//!   Admission (the per-IP limit) is applied to that address, the listener's
//!   acceptor starts the real session for it, and the bytes the preamble
//!   read past its header become the session's first input.
//! - `Listen`, `Connect`, `CloseChannel`: FTP data connections, opened and
//!   closed by `super::channels`.
//! - `Work`: a job for the worker pool (`super::work`).

use super::admission::refuse_busy;
use super::{Server, turn_share};
use crate::session::{Budget, Channel, CloseReason, DriverRequest};
use std::net::SocketAddr;
use std::time::Instant;

impl Server {
    /// Serves the requests `key`'s endpoint queued. Returns `true` when the
    /// connection was closed, or replaced and driven again, so the caller
    /// must not touch it further.
    ///
    /// An answer may give the endpoint work (FTP queues its 227 when the
    /// listener is bound) after its pump already stopped, with no readiness
    /// edge to come: a connection that had a request served goes on the
    /// ready list, to be driven again next turn.
    pub(super) fn serve_requests(&mut self, key: usize, now: Instant) -> bool {
        let mut served = false;
        loop {
            let Some(conn) = self.conns.get_mut(key) else { return true };
            let Some(request) = conn.session.poll_request() else {
                if served && !conn.queued {
                    conn.queued = true;
                    self.ready.push_back(key);
                }
                return false;
            };
            served = true;
            match request {
                DriverRequest::Admit { peer, leftover } => {
                    self.admit_revealed(key, peer, leftover, now);
                    return true;
                }
                DriverRequest::Listen { channel, ip, ports, from, deadline } => {
                    self.open_listener(key, channel, (ip, ports, from, deadline), now)
                }
                DriverRequest::Connect { channel, to, deadline } => self.open_connect(key, channel, to, deadline, now),
                DriverRequest::CloseChannel { channel } => self.close_channel(key, channel, None, now),
                DriverRequest::Work(job) => {
                    if self.submit_job(key, job, now) {
                        return true;
                    }
                }
            }
        }
    }

    /// A preamble revealed `peer`: admit it, or refuse it as `accept` would.
    fn admit_revealed(&mut self, key: usize, peer: SocketAddr, leftover: Vec<u8>, now: Instant) {
        let refusal = self.per_ip_refusal(peer.ip());
        let Some(conn) = self.conns.get_mut(key) else { return };
        let Some(listener) = self.listeners.get_mut(conn.listener) else { return };
        let acceptor = &mut listener.acceptor;
        if conn.admitted {
            log::error!("session {}: a second admission request; closing", conn.session.id());
            return self.close(key, CloseReason::Done, now);
        }
        if let Some(why) = refusal {
            refuse_busy(&mut conn.stream, &acceptor.busy_reply(&why));
            return self.close(key, CloseReason::Done, now);
        }
        let id = conn.session.id();
        let local = conn.stream.local_addr().unwrap_or(listener.addr);
        let session = match acceptor.start_at(id, peer, local, now, &self.svc) {
            Ok(s) => s,
            Err(e) => {
                log::error!("session {id}: cannot start a session: {e}");
                return self.close(key, CloseReason::Done, now);
            }
        };
        let mut preamble = std::mem::replace(&mut conn.session, session);
        preamble.on_close(CloseReason::Done, now, &mut self.svc);
        conn.admitted = true;
        *self.per_ip.entry(peer.ip()).or_insert(0) += 1;
        log::debug!("session {id}: admitted as {peer}");
        if !leftover.is_empty() {
            let mut budget = Budget::new(turn_share(1));
            let session = &mut conn.session;
            let fed = if session.wants_read(Channel::CONTROL) {
                session.read_from(
                    Channel::CONTROL,
                    &mut &leftover[..],
                    &mut self.scratch,
                    &mut budget,
                    now,
                    &mut self.svc,
                )
            } else {
                Err(std::io::Error::other("the session takes no input"))
            };
            if let Err(e) = fed {
                log::debug!("session {id}: the bytes after the preamble: {e}");
                return self.close(key, CloseReason::Done, now);
            }
        }
        self.drive(key, now);
    }
}
