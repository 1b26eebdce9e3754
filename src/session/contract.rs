//! The session contract: everything the mio driver may ask of a
//! per-connection protocol object, and everything such an object may ask of
//! the driver. The native session ([`super::Session`]) implements it today;
//! the FTP control session and the PROXY-protocol preamble implement it next.
//! The driver (`crate::server`) is written against [`Endpoint`] only.
//!
//! The model is rustls' `Connection` and quinn-proto's `Connection`: the
//! endpoint owns every protocol byte (its input buffer, partial frames,
//! back-pressure, the meaning of EOF) and does no I/O of its own except
//! through the `Read`/`Write` it is handed; the driver owns the sockets,
//! readiness, tokens, timers and the ready list, and keeps no protocol
//! state. The full contract, with one request's journey through it, is in
//! docs/ARCHITECTURE.md.
//!
//! Every method that may do work takes a [`Budget`]: the endpoint charges it
//! for bytes read and written, for each request it handles and for output it
//! generates, and stops when it is spent. So one connection's share of a loop
//! turn is bounded whatever it does, and the driver can tell progress (the
//! budget moved) from idleness (it did not) without knowing what moved.

use crate::services::Services;
use crate::worker::{Job, JobOutput};
use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr};
use std::ops::RangeInclusive;
use std::os::fd::BorrowedFd;
use std::time::Instant;

/// One connection's allowance of work in one loop turn, in bytes or
/// byte-equivalents (a request costs [`Budget::REQUEST`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Budget(usize);

impl Budget {
    /// What handling one request (frame) costs, beyond its bytes: a request
    /// means a decode, a handler, usually an audit write and a reply, so it
    /// weighs like this many bytes of a transfer. With the driver's 256 KiB
    /// turn, a connection alone handles at most 32 requests per turn.
    pub const REQUEST: usize = 8 * 1024;

    pub fn new(bytes: usize) -> Budget {
        Budget(bytes)
    }
    /// An allowance no test or tool will exhaust.
    pub fn unlimited() -> Budget {
        Budget(usize::MAX)
    }
    /// Bytes (or equivalents) left.
    pub fn left(&self) -> usize {
        self.0
    }
    pub fn charge(&mut self, n: usize) {
        self.0 = self.0.saturating_sub(n);
    }
    pub fn spent(&self) -> bool {
        self.0 == 0
    }
}

/// Why a connection is ending, as the driver saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// The peer closed or reset the connection, or a socket call failed.
    PeerClosed,
    /// A deadline passed.
    Timeout,
    /// The endpoint decided to end ([`Endpoint::is_closed`]).
    Done,
    /// The server is shutting down.
    Shutdown,
}

/// One of the byte streams of an endpoint. [`Channel::CONTROL`] is the
/// connection the endpoint was created for; others exist only after the
/// endpoint asked for them with a [`DriverRequest`] (FTP data connections).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Channel(pub u8);

impl Channel {
    pub const CONTROL: Channel = Channel(0);
    /// Channels per endpoint, the control one included: the driver's token
    /// space reserves this many per connection.
    pub const MAX: u8 = 4;
}

/// The next output bytes are a range of a file: the driver moves them with
/// sendfile(2) on a plain socket, or by reading and writing where a layer
/// (TLS) sits between the socket and the endpoint. The file is a borrowed
/// descriptor, whatever storage opened it; a storage without descriptors
/// (the in-memory one) never offers a range, and its bytes go through the
/// endpoint's output instead.
#[derive(Debug, Clone, Copy)]
pub struct FileRange<'a> {
    pub fd: BorrowedFd<'a>,
    pub offset: u64,
    pub len: u64,
}

/// Something only the driver can do, asked for by an endpoint through
/// [`Endpoint::poll_request`]. The answer comes back as a [`ChannelEvent`]
/// (channels), or through [`Endpoint::work_done`] (work).
#[derive(Debug)]
pub enum DriverRequest {
    /// Listen on `ip` at a port from `ports` (tried in a random order), and
    /// accept exactly one connection on it, only from `from`, before
    /// `deadline`; then close the listener. The accepted socket's bytes flow
    /// on `channel` (FTP `PASV`/`EPSV`). Connections from any other address
    /// are refused and do not count as the one.
    Listen { channel: Channel, ip: IpAddr, ports: RangeInclusive<u16>, from: IpAddr, deadline: Instant },
    /// Connect to `to` before `deadline`; the socket's bytes flow on
    /// `channel` (FTP `PORT`/`EPRT`; the endpoint has checked `to`).
    Connect { channel: Channel, to: SocketAddr, deadline: Instant },
    /// Close `channel`'s socket or listener now (its output should have been
    /// flushed: see [`Endpoint::wants_write`]).
    CloseChannel { channel: Channel },
    /// The endpoint read a lower-layer preamble (PROXY protocol) and learned
    /// the real peer. The driver applies admission (per-IP caps) to `peer`,
    /// replaces this endpoint with the one its listener starts for `peer`,
    /// and hands it `leftover` as its first input.
    Admit { peer: SocketAddr, leftover: Vec<u8> },
    /// Run this slow job (fsync, unlink, a walk, a KDF) on the worker pool
    /// (`crate::worker`). The endpoint waits for it in an explicit state
    /// ([`Endpoint::is_waiting`] true) and gets exactly one
    /// [`Endpoint::work_done`] for it, even if the connection ends first (then
    /// just before [`Endpoint::on_close`]). One job per connection at a time:
    /// a second one, a full queue, or (for a job a peer can cause before
    /// logging in: a KDF, a registration) too many in flight from the
    /// peer's address, is answered at once with [`JobOutput::Busy`].
    Work(Job),
}

/// The driver's answer to a [`DriverRequest`], or news of a channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelEvent {
    /// The listener is bound at `addr` (what PASV announces).
    Listening { channel: Channel, addr: SocketAddr },
    /// The channel's socket is connected (accepted from the allowed peer, or
    /// the outgoing connection completed); its bytes flow from now on.
    Open { channel: Channel, peer: SocketAddr },
    /// The channel could not be set up (no free port, deadline passed,
    /// connection refused) or its socket failed; it no longer exists.
    Failed { channel: Channel, error: String },
}

/// The contract between the driver and one connection's protocol object.
///
/// Data path, per channel (the driver calls these while the socket is ready):
/// - [`wants_read`](Endpoint::wants_read) → [`read_from`](Endpoint::read_from):
///   one `read` from the socket (or a layer above it); `Ok(0)` is EOF, which
///   the endpoint interprets (a clean close, or a truncated frame).
/// - [`wants_write`](Endpoint::wants_write) → [`write_to`](Endpoint::write_to):
///   generate output if there is room, then one `write`. A short write is
///   normal. Then [`file_range`](Endpoint::file_range), if any, for sendfile.
///
/// Interest follows `wants_read`/`wants_write`; a connection whose budget ran
/// out while either is still true goes on the ready list, since no new
/// readiness edge will come for it.
///
/// Time: [`poll_timeout`](Endpoint::poll_timeout) is the next deadline; the
/// driver calls [`handle_timeout`](Endpoint::handle_timeout) once it passed.
/// Lifecycle: [`is_closed`](Endpoint::is_closed) says the endpoint is done and
/// its last output is out; [`on_close`](Endpoint::on_close) is called exactly
/// once, whatever ended the connection.
pub trait Endpoint: Send {
    /// The session id used in logs and audit records.
    fn id(&self) -> u64;
    /// The peer as the endpoint sees it (after any PROXY preamble).
    fn peer(&self) -> SocketAddr;

    /// Whether the endpoint will take bytes from `ch` now.
    fn wants_read(&self, ch: Channel) -> bool;
    /// Reads once from `rd` into `scratch` (at most `budget.left()` bytes,
    /// but at least a useful amount), and handles what it can of them within
    /// the budget. Bytes it cannot handle yet are kept by the endpoint, which
    /// then stops wanting to read. `Ok(0)` is the peer's EOF on `ch`.
    /// `WouldBlock` and `Interrupted` are passed up unchanged.
    fn read_from(
        &mut self,
        ch: Channel,
        rd: &mut dyn Read,
        scratch: &mut [u8],
        budget: &mut Budget,
        now: Instant,
        svc: &mut Services,
    ) -> io::Result<usize>;

    /// Whether [`write_to`](Endpoint::write_to) on `ch` would make progress:
    /// output is pending, or can be generated (the next chunk of a listing or
    /// download, requests held back by back-pressure or an earlier budget).
    fn wants_write(&self, ch: Channel) -> bool;
    /// Generates output while there is room and budget, then writes once to
    /// `wr`; returns the bytes written (0 if nothing was pending). A write
    /// that takes 0 bytes of a non-empty buffer is `WriteZero`.
    fn write_to(
        &mut self,
        ch: Channel,
        wr: &mut dyn Write,
        budget: &mut Budget,
        now: Instant,
        svc: &mut Services,
    ) -> io::Result<usize>;
    /// The next output bytes of `ch` are this file range (only once
    /// `write_to` has nothing else pending). See [`FileRange`].
    fn file_range(&self, _ch: Channel) -> Option<FileRange<'_>> {
        None
    }
    /// `n` bytes of the file range went out.
    fn advance_file(&mut self, _ch: Channel, _n: usize, _now: Instant) {}
    /// The file ended before the range did (it shrank): the body cannot be
    /// completed; the endpoint closes.
    fn file_truncated(&mut self, _ch: Channel, _now: Instant, _svc: &mut Services) {}

    /// When [`handle_timeout`](Endpoint::handle_timeout) is next due.
    fn poll_timeout(&self) -> Option<Instant>;
    /// Time has reached the deadline: the endpoint tells the peer if it can,
    /// and ends. The driver flushes once more and closes with
    /// [`CloseReason::Timeout`]. An endpoint whose deadline was a timer of
    /// its own (FTP answers a failed login after a delay) does that work
    /// instead, moves [`poll_timeout`](Endpoint::poll_timeout) past `now`
    /// and says so in
    /// [`continues_after_timeout`](Endpoint::continues_after_timeout): then
    /// the driver drives it on rather than closing it.
    fn handle_timeout(&mut self, now: Instant, svc: &mut Services);
    /// Asked right after [`handle_timeout`](Endpoint::handle_timeout):
    /// whether that deadline was a timer of the endpoint's own and the
    /// endpoint goes on (its next deadline is in
    /// [`poll_timeout`](Endpoint::poll_timeout)). The default, `false`:
    /// every deadline is the endpoint's end, whatever its deadline says
    /// afterwards (a native session's deadline moves once it queues its
    /// timeout notice).
    fn continues_after_timeout(&self) -> bool {
        false
    }

    /// Whether the endpoint has ended and its final output is flushed (or
    /// must be dropped): the driver closes with [`CloseReason::Done`].
    fn is_closed(&self) -> bool;
    /// The connection is going away, for `reason`; called exactly once. The
    /// endpoint finishes its audit records and releases shared state.
    fn on_close(&mut self, reason: CloseReason, now: Instant, svc: &mut Services);

    /// The server is shutting down: end at the next quiet moment.
    fn begin_shutdown(&mut self, now: Instant, svc: &mut Services);

    /// Bulk work (a transfer or a long listing) is under way: the driver
    /// runs this connection after the short requests of a turn.
    fn is_bulk(&self) -> bool {
        false
    }
    /// The endpoint waits for a job: its own ([`DriverRequest::Work`]), or
    /// another connection's that it shares (the user's usage scan). The
    /// driver calls [`resume`](Endpoint::resume) whenever jobs finish.
    fn is_waiting(&self) -> bool {
        false
    }
    fn resume(&mut self, _now: Instant, _svc: &mut Services) {}
    /// The output of the job this endpoint asked for with
    /// [`DriverRequest::Work`] (or [`JobOutput::Busy`] if it was not run).
    fn work_done(&mut self, _output: JobOutput, _now: Instant, _svc: &mut Services) {}

    /// Something the endpoint needs the driver to do (see [`DriverRequest`]).
    /// The driver polls after every call that may have queued one.
    fn poll_request(&mut self) -> Option<DriverRequest> {
        None
    }
    /// The driver's answer to a request, or a channel's failure.
    fn handle_channel(&mut self, _event: ChannelEvent, _now: Instant, _svc: &mut Services) {}
}

/// Starts endpoints for a listener's new connections.
pub trait Acceptor: Send {
    /// An endpoint that must run before admission for a connection from
    /// `peer` (a PROXY-protocol preamble when `peer` is a trusted balancer),
    /// or `None` to admit `peer` at once.
    fn preamble(&mut self, _id: u64, _peer: SocketAddr, _now: Instant, _svc: &Services) -> Option<Box<dyn Endpoint>> {
        None
    }
    /// The endpoint for an admitted connection from `peer`.
    fn start(&mut self, id: u64, peer: SocketAddr, now: Instant, svc: &Services) -> io::Result<Box<dyn Endpoint>>;

    /// [`start`](Acceptor::start), also told the connection's local address
    /// (the FTP front end announces it in PASV replies and listens on it for
    /// data connections). The driver calls this one.
    fn start_at(
        &mut self,
        id: u64,
        peer: SocketAddr,
        _local: SocketAddr,
        now: Instant,
        svc: &Services,
    ) -> io::Result<Box<dyn Endpoint>> {
        self.start(id, peer, now, svc)
    }

    /// Socket options the protocol needs, set on each accepted socket before
    /// anything is read (FTP: `SO_OOBINLINE`, so an ABOR sent as urgent data
    /// stays in the stream).
    fn configure(&self, _socket: BorrowedFd<'_>) -> io::Result<()> {
        Ok(())
    }

    /// What a connection that is refused before it starts (the server or its
    /// address is at its limit) is sent before the close: here, a native
    /// `server_busy` error frame.
    fn busy_reply(&self, message: &str) -> Vec<u8> {
        use crate::protocol::messages::ErrReply;
        use crate::protocol::{ErrorCode, WireError, frame};
        let err = WireError::new(ErrorCode::ServerBusy, message);
        frame::encode_to_vec(&ErrReply::new(&err)).unwrap_or_default()
    }
}

/// The native protocol's acceptor: every connection gets a [`super::Session`].
#[derive(Debug, Default, Clone, Copy)]
pub struct Native;

impl Acceptor for Native {
    fn start(&mut self, id: u64, peer: SocketAddr, now: Instant, svc: &Services) -> io::Result<Box<dyn Endpoint>> {
        Ok(Box::new(super::Session::new(id, peer, now, svc)?))
    }
}
