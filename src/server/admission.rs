//! Admission: accepting connections, and refusing them clearly when the
//! server is at its connection cap, a client address has too many, or the
//! process is out of descriptors. Also the cap itself, derived from
//! RLIMIT_NOFILE at start.

use super::conn::Conn;
use super::{Server, token};
use crate::session::Channel;
use mio::Interest;
use mio::net::TcpStream;
use std::io::{self, Write};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

/// Descriptors kept free for logs, homes, files being transferred and accept.
const RESERVED_FDS: u64 = 64;
/// How long to stop accepting after the process runs out of descriptors.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

impl Server {
    pub(super) fn accept(&mut self, now: Instant) {
        if self.accept_paused_until.is_some() {
            return;
        }
        loop {
            let Some(listener) = self.listener.as_ref() else { return };
            match listener.accept() {
                Ok((stream, peer)) => self.admit(stream, peer, now),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if is_out_of_descriptors(&e) && self.spare_fd.is_some() => {
                    // Out of descriptors. Linux says so before it even looks
                    // at the queue, so give back the spare descriptor and try
                    // once more: a waiting client is accepted just to be told
                    // we are busy (instead of hanging in the kernel's queue);
                    // an empty queue ends the loop. Then take the spare back.
                    self.spare_fd = None;
                    let queued = match listener.accept() {
                        Ok((mut stream, peer)) => {
                            log::warn!("out of file descriptors; refusing {peer} with server_busy");
                            refuse_busy(&mut stream, "the server is out of resources; try again later");
                            true
                        }
                        Err(_) => false,
                    };
                    self.spare_fd = std::fs::File::open("/dev/null").ok();
                    if !queued {
                        return;
                    }
                }
                Err(e) => {
                    // Still failing (or no spare): the pending connection
                    // stays queued in the kernel. Pause accepting briefly
                    // instead of spinning; the paused deadline retries it.
                    log::warn!("accept failed: {e}; pausing accepts for {ACCEPT_BACKOFF:?}");
                    self.accept_paused_until = Some(now + ACCEPT_BACKOFF);
                    return;
                }
            }
        }
    }

    fn admit(&mut self, mut stream: TcpStream, peer: SocketAddr, now: Instant) {
        if self.conns.len() >= self.max_connections {
            refuse_busy(&mut stream, "the server is at its connection limit; try again later");
            return;
        }
        let id = self.next_session;
        self.next_session += 1;
        // A preamble (PROXY protocol from a trusted balancer) runs before
        // admission: the per-IP limit applies to the address it reveals.
        let (session, admitted) = match self.acceptor.preamble(id, peer, now, &self.svc) {
            Some(preamble) => (preamble, false),
            None => {
                if let Some(why) = self.per_ip_refusal(peer.ip()) {
                    refuse_busy(&mut stream, &why);
                    return;
                }
                match self.acceptor.start(id, peer, now, &self.svc) {
                    Ok(s) => (s, true),
                    Err(e) => {
                        log::error!("cannot start a session: {e}");
                        return;
                    }
                }
            }
        };
        let _ = stream.set_nodelay(true);
        let entry = self.conns.vacant_entry();
        let key = entry.key();
        if let Err(e) = self.poll.registry().register(&mut stream, token(key, Channel::CONTROL), Interest::READABLE) {
            log::error!("cannot register a connection: {e}");
            return;
        }
        entry.insert(Conn::new(stream, session, admitted));
        if admitted {
            *self.per_ip.entry(peer.ip()).or_insert(0) += 1;
        }
        log::debug!("session {id}: connected from {peer}");
        self.drive(key, now);
    }

    /// Why a new connection from `ip` is refused, if the per-IP limit says so.
    pub(super) fn per_ip_refusal(&self, ip: IpAddr) -> Option<String> {
        let from_ip = self.per_ip.get(&ip).copied().unwrap_or(0);
        let limit = self.svc.config.max_per_ip;
        (limit > 0 && from_ip >= limit)
            .then(|| format!("too many connections from your address (limit {limit}); try again later"))
    }

    /// An admitted connection from `ip` ended.
    pub(super) fn release_ip(&mut self, ip: IpAddr) {
        if let Some(n) = self.per_ip.get_mut(&ip) {
            *n -= 1;
            if *n == 0 {
                self.per_ip.remove(&ip);
            }
        }
    }
}

/// Raises the soft RLIMIT_NOFILE to the hard limit and returns the
/// connection cap that fits in it (each connection is one descriptor; a few
/// are kept for logs, homes and files being transferred).
pub(super) fn connection_cap(configured: usize) -> usize {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    if let Some(hard) = limit.maximum {
        if limit.current.is_some_and(|soft| soft < hard) {
            limit.current = Some(hard);
            if let Err(e) = setrlimit(Resource::Nofile, limit) {
                log::warn!("could not raise RLIMIT_NOFILE to {hard}: {e}");
            }
        }
    }
    let soft = getrlimit(Resource::Nofile).current;
    // One descriptor per connection, and a reserve for what sessions open
    // beside their sockets (homes, files in transfer, usage scans): an
    // eighth of the limit, at least RESERVED_FDS. Past it, opens fail with a
    // clear error to that client and accepts answer `server_busy`.
    let fits = soft.map_or(usize::MAX, |s| s.saturating_sub(RESERVED_FDS.max(s / 8)) as usize);
    let cap = configured.min(fits);
    if cap < configured {
        log::warn!("RLIMIT_NOFILE {soft:?} allows only {cap} connections (asked for {configured})");
    }
    cap
}

fn is_out_of_descriptors(e: &io::Error) -> bool {
    use rustix::io::Errno;
    // The process's limit, or the system's.
    matches!(Errno::from_io_error(e), Some(Errno::MFILE | Errno::NFILE))
}

/// Best-effort error frame to a connection we will not serve, then drop it.
pub(super) fn refuse_busy(stream: &mut TcpStream, message: &str) {
    use crate::protocol::messages::ErrReply;
    use crate::protocol::{ErrorCode, WireError, frame};
    let err = WireError::new(ErrorCode::ServerBusy, message);
    if let Ok(bytes) = frame::encode_to_vec(&ErrReply::new(&err)) {
        // A fresh socket's send buffer takes a small frame; if not, the peer
        // just sees the close.
        let _ = stream.write(&bytes);
    }
}
