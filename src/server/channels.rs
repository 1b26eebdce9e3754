//! Extra sockets an endpoint asked for ([`DriverRequest::Listen`] and
//! [`DriverRequest::Connect`]): FTP data connections. Each lives on a
//! channel of its connection, with its own token (`key * Channel::MAX +
//! channel`), and its bytes go through the same pump and the same endpoint
//! as the control connection's, under the same turn budget.
//!
//! - A listener binds a port from the asked range, tried in a random order,
//!   accepts exactly one connection, only from the asked address (others
//!   are closed at once and do not count), then closes.
//! - An outgoing connection completes in the background; the endpoint hears
//!   `Open` or `Failed`.
//! - The deadline the endpoint gave applies until the channel is open; a
//!   failed channel no longer exists. Closing the connection closes them all.

use super::pump::{self, Pumped, Readiness};
use super::{Server, token};
use crate::session::{Budget, Channel, ChannelEvent, CloseReason};
use mio::Interest;
use mio::net::{TcpListener, TcpStream};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::ops::RangeInclusive;
use std::time::Instant;

/// Ports tried for one listener before giving up.
const PORT_TRIES: usize = 64;

/// One extra socket of a connection.
pub enum Chan {
    Listening { listener: TcpListener, from: IpAddr, deadline: Instant },
    Connecting { stream: TcpStream, deadline: Instant },
    Open { stream: TcpStream, ready: Readiness, interest: Interest },
}

impl Chan {
    /// The deadline the channel must be open by, while it is not.
    pub fn deadline(&self) -> Option<Instant> {
        match self {
            Chan::Listening { deadline, .. } | Chan::Connecting { deadline, .. } => Some(*deadline),
            Chan::Open { .. } => None,
        }
    }

    pub fn deregister(&mut self, registry: &mio::Registry) {
        let _ = match self {
            Chan::Listening { listener, .. } => registry.deregister(listener),
            Chan::Connecting { stream, .. } | Chan::Open { stream, .. } => registry.deregister(stream),
        };
    }
}

/// The slot of a data channel (1 to `Channel::MAX - 1`).
fn slot(ch: Channel) -> Option<usize> {
    (ch != Channel::CONTROL && ch.0 < Channel::MAX).then(|| usize::from(ch.0) - 1)
}

/// Binds a port of `ports` on `ip`, trying them in a random order.
fn bind_in(ip: IpAddr, ports: &RangeInclusive<u16>) -> io::Result<TcpListener> {
    let (lo, hi) = (u32::from(*ports.start()), u32::from(*ports.end()));
    if lo > hi || lo == 0 {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "an empty port range"));
    }
    let span = hi - lo + 1;
    let mut seed = [0u8; 4];
    getrandom::fill(&mut seed).map_err(io::Error::other)?;
    let start = u32::from_le_bytes(seed) % span;
    // A stride coprime with any span walks the whole range without repeats.
    let stride = if span % 7919 == 0 { 1 } else { 7919 % span.max(1) };
    let mut last = io::Error::new(io::ErrorKind::AddrInUse, "no port free in the range");
    for i in 0..(span as usize).min(PORT_TRIES) {
        let port = lo + (start + i as u32 * stride.max(1)) % span;
        match TcpListener::bind(SocketAddr::new(ip, port as u16)) {
            Ok(l) => return Ok(l),
            Err(e) => last = e,
        }
    }
    Err(last)
}

impl Server {
    /// A channel that already exists, or a bad number, is refused.
    fn free_slot(&mut self, key: usize, channel: Channel, now: Instant) -> Option<usize> {
        let conn = self.conns.get_mut(key)?;
        match slot(channel) {
            Some(i) if conn.chans[i].is_none() => Some(i),
            _ => {
                let error = format!("channel {} is not free", channel.0);
                conn.session.handle_channel(ChannelEvent::Failed { channel, error }, now, &mut self.svc);
                None
            }
        }
    }

    pub(super) fn open_listener(
        &mut self,
        key: usize,
        channel: Channel,
        (ip, ports, from, deadline): (IpAddr, RangeInclusive<u16>, IpAddr, Instant),
        now: Instant,
    ) {
        let Some(i) = self.free_slot(key, channel, now) else { return };
        let registry = self.poll.registry();
        let bound = bind_in(ip, &ports).and_then(|mut l| {
            registry.register(&mut l, token(key, channel), Interest::READABLE)?;
            Ok(l)
        });
        let Some(conn) = self.conns.get_mut(key) else { return };
        let event = match bound.and_then(|l| Ok((l.local_addr()?, l))) {
            Ok((addr, listener)) => {
                conn.chans[i] = Some(Chan::Listening { listener, from, deadline });
                ChannelEvent::Listening { channel, addr }
            }
            Err(e) => ChannelEvent::Failed { channel, error: format!("cannot listen on {ip} {ports:?}: {e}") },
        };
        conn.session.handle_channel(event, now, &mut self.svc);
    }

    pub(super) fn open_connect(
        &mut self,
        key: usize,
        channel: Channel,
        to: SocketAddr,
        deadline: Instant,
        now: Instant,
    ) {
        let Some(i) = self.free_slot(key, channel, now) else { return };
        let registry = self.poll.registry();
        let started = TcpStream::connect(to).and_then(|mut s| {
            registry.register(&mut s, token(key, channel), Interest::WRITABLE)?;
            Ok(s)
        });
        let Some(conn) = self.conns.get_mut(key) else { return };
        match started {
            Ok(stream) => conn.chans[i] = Some(Chan::Connecting { stream, deadline }),
            Err(e) => {
                let event = ChannelEvent::Failed { channel, error: format!("cannot connect to {to}: {e}") };
                conn.session.handle_channel(event, now, &mut self.svc);
            }
        }
    }

    /// Closes a channel; with `error`, the endpoint is told it failed.
    pub(super) fn close_channel(&mut self, key: usize, channel: Channel, error: Option<String>, now: Instant) {
        let Some(conn) = self.conns.get_mut(key) else { return };
        let Some(mut chan) = slot(channel).and_then(|i| conn.chans[i].take()) else { return };
        chan.deregister(self.poll.registry());
        if let Some(error) = error {
            conn.session.handle_channel(ChannelEvent::Failed { channel, error }, now, &mut self.svc);
        }
    }

    /// A readiness event on a data channel.
    pub(super) fn channel_event(&mut self, key: usize, channel: Channel, event: &mio::event::Event, now: Instant) {
        let Some(i) = slot(channel) else { return };
        let Some(conn) = self.conns.get_mut(key) else { return };
        let registry = self.poll.registry();
        /// What the event made of the channel.
        enum Became {
            Same,
            Failed(String),
            Connected(SocketAddr),
            Accepted(TcpStream, SocketAddr),
        }
        let became = match &mut conn.chans[i] {
            None => return,
            Some(Chan::Open { ready, .. }) => {
                if event.is_readable() || event.is_read_closed() || event.is_error() {
                    ready.can_read = true;
                }
                if event.is_writable() || event.is_write_closed() || event.is_error() {
                    ready.can_write = true;
                }
                Became::Same
            }
            Some(Chan::Connecting { stream, .. }) => match (stream.take_error(), stream.peer_addr()) {
                (Ok(Some(e)) | Err(e), _) => Became::Failed(format!("connecting failed: {e}")),
                (Ok(None), Ok(peer)) => Became::Connected(peer),
                // Not connected yet: a spurious event.
                (Ok(None), Err(_)) => return,
            },
            Some(Chan::Listening { listener, from, .. }) => loop {
                match listener.accept() {
                    Ok((stream, peer)) if peer.ip() == *from => break Became::Accepted(stream, peer),
                    // Another address: refused, and it does not count.
                    Ok((_, peer)) => log::info!("session {}: data connection from {peer} refused", conn.session.id()),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => break Became::Failed(format!("accept failed: {e}")),
                }
            },
        };
        let (stream, peer, registered) = match became {
            Became::Same => return self.drive(key, now),
            Became::Failed(error) => return self.close_channel(key, channel, Some(error), now),
            Became::Connected(peer) => match conn.chans[i].take() {
                Some(Chan::Connecting { stream, .. }) => (stream, peer, true),
                _ => return,
            },
            Became::Accepted(stream, peer) => {
                // One accept per listener: it closes now.
                if let Some(mut listening) = conn.chans[i].take() {
                    listening.deregister(registry);
                }
                (stream, peer, false)
            }
        };
        let mut stream = stream;
        let _ = stream.set_nodelay(true);
        let interest = Interest::READABLE;
        let done = if registered {
            registry.reregister(&mut stream, token(key, channel), interest)
        } else {
            registry.register(&mut stream, token(key, channel), interest)
        };
        let event = match done {
            Ok(()) => {
                conn.chans[i] = Some(Chan::Open { stream, ready: Readiness::fresh(), interest });
                ChannelEvent::Open { channel, peer }
            }
            Err(e) => {
                let _ = registry.deregister(&mut stream);
                ChannelEvent::Failed { channel, error: format!("registering the data connection: {e}") }
            }
        };
        conn.session.handle_channel(event, now, &mut self.svc);
        self.drive(key, now);
    }

    /// Pumps every open data channel of `key` under the drive's budget.
    /// Returns how the connection as a whole must go on.
    pub(super) fn pump_channels(&mut self, key: usize, budget: &mut Budget, now: Instant) -> Pumped {
        let mut result = Pumped::Idle;
        for i in 0..usize::from(Channel::MAX) - 1 {
            let Some(conn) = self.conns.get_mut(key) else { return Pumped::Idle };
            let channel = Channel(i as u8 + 1);
            let super::conn::Conn { session, chans, .. } = conn;
            let Some(Chan::Open { stream, ready, interest }) = &mut chans[i] else { continue };
            let session = &mut **session;
            match pump::pump(session, channel, stream, ready, &mut self.scratch, budget, now, &mut self.svc) {
                Pumped::Close(CloseReason::Done) => return Pumped::Close(CloseReason::Done),
                Pumped::Close(_) => {
                    self.close_channel(key, channel, Some("the data connection failed".into()), now);
                    continue;
                }
                Pumped::Again => result = Pumped::Again,
                Pumped::Idle => {}
            }
            let wanted = pump::interest(session, channel, stream);
            if wanted != *interest {
                if let Err(e) = self.poll.registry().reregister(stream, token(key, channel), wanted) {
                    self.close_channel(key, channel, Some(format!("reregister: {e}")), now);
                    continue;
                }
                *interest = wanted;
            }
        }
        result
    }

    /// Fails the channels of `key` whose deadline to open has passed;
    /// returns whether any did.
    pub(super) fn expire_channels(&mut self, key: usize, now: Instant) -> bool {
        let Some(conn) = self.conns.get(key) else { return false };
        let due: Vec<Channel> = (0..conn.chans.len())
            .filter(|&i| conn.chans[i].as_ref().and_then(Chan::deadline).is_some_and(|t| t <= now))
            .map(|i| Channel(i as u8 + 1))
            .collect();
        for &channel in &due {
            self.close_channel(key, channel, Some("the data connection did not open in time".into()), now);
        }
        !due.is_empty()
    }
}
