//! Moving one socket's bytes between a [`Transport`] and an [`Endpoint`]
//! until neither side can make progress or the turn's budget is spent.
//!
//! The pump holds no protocol state: only the socket's two readiness flags.
//! mio is edge-triggered, so a flag is set by an event and cleared only when
//! the socket says `WouldBlock`. A pump that stops for any other reason (its
//! budget) keeps its flags, and the server continues it from the ready list,
//! because no new edge will come. Progress is read off the budget: every
//! call that does something charges it, so a pass that leaves it untouched
//! found nothing to do.
//!
//! Generic over the transport, so the tests below drive it with a scripted
//! fake stream (short writes, `WouldBlock`, EOF) and no socket.

use super::transport::Transport;
use crate::services::Services;
use crate::session::{Budget, Channel, CloseReason, Endpoint};
use mio::Interest;
use std::io;
use std::time::Instant;

/// What a pump left the connection as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pumped {
    /// Waiting for readiness events; nothing more to do now.
    Idle,
    /// Stopped with work left (budget spent): continue from the ready list.
    Again,
    /// The connection must be closed.
    Close(CloseReason),
}

/// A socket's readiness, as the last events and `WouldBlock`s left it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Readiness {
    pub can_read: bool,
    pub can_write: bool,
}

impl Readiness {
    /// Optimistic: the first pump tries both; `WouldBlock` corrects them.
    pub fn fresh() -> Readiness {
        Readiness { can_read: true, can_write: true }
    }
}

/// The interest a channel's state calls for: READABLE while the endpoint
/// takes input, WRITABLE while it or the transport has bytes to send.
pub fn interest<T: Transport>(ep: &dyn Endpoint, ch: Channel, io: &T) -> Interest {
    let read = ep.wants_read(ch);
    let write = ep.wants_write(ch) || io.wants_flush();
    match (read, write) {
        (true, true) => Interest::READABLE | Interest::WRITABLE,
        (false, true) => Interest::WRITABLE,
        // Nothing wanted only happens on the way out or while waiting;
        // READABLE still reports a reset.
        _ => Interest::READABLE,
    }
}

/// Moves bytes until blocked, finished, or out of budget.
#[allow(clippy::too_many_arguments)]
pub fn pump<T: Transport>(
    ep: &mut dyn Endpoint,
    ch: Channel,
    io: &mut T,
    ready: &mut Readiness,
    scratch: &mut [u8],
    budget: &mut Budget,
    now: Instant,
    svc: &mut Services,
) -> Pumped {
    let id = ep.id();
    let failed = |what: &str, e: io::Error| {
        log::debug!("session {id}: {what}: {e}");
        Pumped::Close(CloseReason::PeerClosed)
    };
    loop {
        let before = budget.left();

        // 0. Bytes a layer (TLS) still holds for the socket.
        if ready.can_write && io.wants_flush() {
            match io.flush_transport() {
                Ok(()) => budget.charge(1),
                // The socket's send buffer is full; wait for a WRITABLE edge.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => ready.can_write = false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return failed("flush", e),
            }
        }

        // 1. Output: the endpoint generates what it has room for, then
        //    writes once. A short write is normal.
        if ready.can_write && ep.wants_write(ch) && !budget.spent() {
            match ep.write_to(ch, io, budget, now, svc) {
                Ok(_) => {}
                // The socket's send buffer is full; wait for a WRITABLE edge.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => ready.can_write = false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return failed("write", e),
            }
        }

        // 2. A file range that comes next (a download with a known digest):
        //    sendfile on a plain socket, read-and-write through a layer.
        if ready.can_write && !budget.spent() {
            let sent = ep.file_range(ch).map(|r| {
                let count = (r.len.min(budget.left() as u64) as usize).max(1);
                io.send_file(r.fd, r.offset, count)
            });
            match sent {
                None => {}
                Some(Ok(0)) => {
                    // The file shrank: the body cannot be completed.
                    ep.file_truncated(ch, now, svc);
                    budget.charge(1);
                }
                Some(Ok(n)) => {
                    ep.advance_file(ch, n, now);
                    budget.charge(n);
                }
                Some(Err(e)) if e.kind() == io::ErrorKind::WouldBlock => ready.can_write = false,
                Some(Err(e)) if e.kind() == io::ErrorKind::Interrupted => continue,
                Some(Err(e)) => return failed("sendfile", e),
            }
        }

        // Closed once the endpoint is done and a layer has flushed its last
        // bytes too (else WRITABLE interest stays, for those).
        let done = ep.is_closed() && !io.wants_flush();
        if done {
            return Pumped::Close(CloseReason::Done);
        }
        if budget.spent() {
            return Pumped::Again;
        }

        // 3. Input, only while the endpoint takes it. EOF (`Ok(0)`) is the
        //    endpoint's to judge; it then stops wanting to read.
        if ready.can_read && ep.wants_read(ch) {
            match ep.read_from(ch, io, scratch, budget, now, svc) {
                Ok(_) => {}
                // Drained the socket; wait for a READABLE edge.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => ready.can_read = false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return failed("read", e),
            }
        }

        if budget.left() == before {
            let done = ep.is_closed() && !io.wants_flush();
            return if done { Pumped::Close(CloseReason::Done) } else { Pumped::Idle };
        }
    }
}

#[cfg(test)]
mod tests;
