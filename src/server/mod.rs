//! The mio driver: one thread, one `Poll`, its listeners (the native
//! protocol's, and the FTP front end's when configured) and a `Slab` of
//! connections whose keys are their tokens.
//!
//! Each loop turn: poll with the next deadline (or zero if the ready list has
//! work) as timeout; drive every connection that got an event; continue the
//! connections queued on the ready list by an earlier turn; fire due timers.
//! Driving a connection is bounded by a work budget (bytes moved, requests
//! handled, output generated: see `crate::session::Budget`), so one busy
//! peer cannot starve the others. There is one way out for a connection,
//! [`Server::close`].
//!
//! The driver knows connections only through the session contract
//! ([`crate::session::Endpoint`]): it keeps sockets, readiness, tokens,
//! timers and the ready list, and no protocol state. A connection's slab
//! key `k` gives its channels the tokens `k * Channel::MAX + channel`.

mod admission;
mod channels;
mod conn;
mod handle;
mod lifecycle;
mod listeners;
mod pump;
mod requests;
mod timers;
pub mod transport;
mod turns;
mod work;

pub use handle::{RunningServer, ShutdownHandle};

use crate::config::Config;
use crate::services::Services;
use crate::session::{Acceptor, Budget, Channel, CloseReason, Native};
use conn::Conn;
use listeners::Listener;
use mio::net::TcpListener;
use mio::{Events, Interest, Poll, Token, Waker};
use pump::Pumped;
use slab::Slab;
use std::collections::{HashMap, VecDeque};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use timers::Timers;

const WAKER: Token = Token(usize::MAX - 2);
const SIGNALS: Token = Token(usize::MAX - 3);

/// The token of a connection's channel.
fn token(key: usize, ch: Channel) -> Token {
    Token(key * usize::from(Channel::MAX) + usize::from(ch.0))
}

/// The connection and channel a token stands for.
fn split(token: Token) -> (usize, Channel) {
    let per = usize::from(Channel::MAX);
    (token.0 / per, Channel((token.0 % per) as u8))
}

/// Bytes read from one socket per `read(2)`; shared by all connections.
const SCRATCH_LEN: usize = 256 * 1024;
/// Bytes all busy connections together should move in one loop turn. A
/// turn's length is what a new request waits, so this bounds latency. Tuned
/// with mioftp-bench (docs/BENCHMARKS.md, optimisation log): at 50 transfers,
/// 2 MiB gave a `dir` p99 of 11-12 ms, 512 KiB 5-7 ms, 256 KiB 3.7-4.7 ms,
/// for about 10 % less aggregate throughput at 100 concurrent transfers.
const TURN_BYTES: usize = 256 * 1024;
/// Per-connection share of a turn, whatever the number of busy connections:
/// a floor so syscalls stay few per MiB, a ceiling so one transfer shares.
const MIN_BUDGET: usize = 16 * 1024;
const MAX_BUDGET: usize = 1024 * 1024;

/// Each connection's allowance when `busy` connections share a turn.
fn turn_share(busy: usize) -> usize {
    (TURN_BYTES / busy.max(1)).clamp(MIN_BUDGET, MAX_BUDGET)
}

/// The server: bind with [`Server::bind`], then [`Server::run`].
pub struct Server {
    poll: Poll,
    /// The listening sockets, each with the acceptor that starts its
    /// connections' endpoints. The first is the main one (`addr`).
    listeners: Vec<Listener>,
    addr: SocketAddr,
    /// The FTP front end's address, when it is on.
    ftp_addr: Option<SocketAddr>,
    conns: Slab<Conn>,
    svc: Services,
    timers: Timers,
    ready: VecDeque<usize>,
    scratch: Box<[u8]>,
    next_session: u64,
    stop: Arc<AtomicBool>,
    waker: Arc<Waker>,
    accept_paused_until: Option<Instant>,
    /// Connections whose endpoint waits for a job (its own, or a usage scan
    /// another connection runs); resumed whenever jobs finish.
    waiting: Vec<usize>,
    /// The worker pool, and the jobs in flight.
    jobs: work::Jobs,
    /// Open connections per client address (for the per-IP limit).
    per_ip: HashMap<IpAddr, usize>,
    /// The connection cap after the descriptor limit is taken into account.
    max_connections: usize,
    signals: Option<signal_hook_mio::v1_0::Signals>,
    /// Set when shutdown began: in-flight transfers may run until then.
    grace_deadline: Option<Instant>,
    /// A descriptor held in reserve, released to answer a client when the
    /// process runs out (the "EMFILE trick").
    spare_fd: Option<std::fs::File>,
    /// The loop turn, counted, so no connection is driven twice in one.
    turn: u64,
    /// Each connection's byte allowance this turn.
    turn_budget: usize,
}

impl Server {
    /// Opens the data root and binds the listener; connections speak the
    /// native protocol. With `config.ftp.listen` (whatever the constructor),
    /// a second listener serves the FTP front end (`crate::ftp::session`) in
    /// the same loop.
    pub fn bind(config: Config) -> io::Result<Server> {
        Server::bind_with(config, Box::new(Native))
    }

    /// Binds one more listener, whose connections `acceptor` starts; they
    /// share the slab, the admission rules and the loop with the others.
    /// Returns the bound address.
    pub fn add_listener(&mut self, addr: SocketAddr, acceptor: Box<dyn Acceptor>) -> io::Result<SocketAddr> {
        let i = self.listeners.len();
        if i >= listeners::MAX_LISTENERS {
            return Err(io::Error::other("too many listeners"));
        }
        let mut socket = TcpListener::bind(addr)?;
        self.poll.registry().register(&mut socket, listeners::token(i), Interest::READABLE)?;
        let addr = socket.local_addr()?;
        self.listeners.push(Listener { socket: Some(socket), addr, acceptor });
        Ok(addr)
    }

    /// Opens the data root and binds the listener; `acceptor` starts each
    /// connection's endpoint (any implementation of the session contract).
    pub fn bind_with(config: Config, acceptor: Box<dyn Acceptor>) -> io::Result<Server> {
        Server::bind_services(Services::open(config)?, acceptor)
    }

    /// Binds the listener for services already open (say, on another
    /// storage than the disk).
    pub fn bind_services(svc: Services, acceptor: Box<dyn Acceptor>) -> io::Result<Server> {
        let listen = svc.config.listen;
        let max_connections = admission::connection_cap(svc.config.max_connections);
        let poll = Poll::new()?;
        let mut listener = TcpListener::bind(listen)?;
        poll.registry().register(&mut listener, listeners::token(0), Interest::READABLE)?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        let addr = listener.local_addr()?;
        let ftp = svc.config.ftp.listen;
        let jobs = work::Jobs::new(crate::worker::JobPool::start(waker.clone())?);
        let mut server = Server {
            poll,
            addr,
            listeners: vec![Listener { socket: Some(listener), addr, acceptor }],
            ftp_addr: None,
            conns: Slab::new(),
            svc,
            timers: Timers::default(),
            ready: VecDeque::new(),
            scratch: vec![0u8; SCRATCH_LEN].into_boxed_slice(),
            next_session: 1,
            stop: Arc::new(AtomicBool::new(false)),
            waker,
            accept_paused_until: None,
            waiting: Vec::new(),
            jobs,
            per_ip: HashMap::new(),
            max_connections,
            signals: None,
            grace_deadline: None,
            spare_fd: std::fs::File::open("/dev/null").ok(),
            turn: 0,
            turn_budget: MAX_BUDGET,
        };
        // The FTP front end, when configured: a second listener in the same
        // loop, over the same services.
        if let Some(at) = ftp {
            let acceptor = crate::ftp::session::FtpAcceptor::new(&server.svc)?;
            server.ftp_addr = Some(server.add_listener(at, Box::new(acceptor))?);
        }
        Ok(server)
    }

    /// Handles SIGINT and SIGTERM (graceful shutdown) and SIGHUP (reopen the
    /// audit logs) inside the event loop. The binary calls this; an embedded
    /// server may use its [`ShutdownHandle`] instead.
    pub fn handle_signals(&mut self) -> io::Result<()> {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
        let mut signals = signal_hook_mio::v1_0::Signals::new([SIGINT, SIGTERM, SIGHUP])?;
        self.poll.registry().register(&mut signals, SIGNALS, Interest::READABLE)?;
        self.signals = Some(signals);
        Ok(())
    }

    /// The connection cap in force (the configured one, lowered to fit the
    /// process's descriptor limit).
    pub fn max_connections(&self) -> usize {
        self.max_connections
    }

    /// The bound address (useful with port 0).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.addr)
    }

    /// The FTP front end's bound address, when it is on.
    pub fn ftp_addr(&self) -> Option<SocketAddr> {
        self.ftp_addr
    }

    /// A handle that stops [`Server::run`] from another thread.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle { stop: self.stop.clone(), waker: self.waker.clone() }
    }

    /// Runs the server on a background thread (for tests, benchmarks and
    /// embedding). Dropping the returned handle stops it and waits.
    pub fn spawn(self) -> io::Result<RunningServer> {
        let (addr, ftp_addr) = (self.local_addr()?, self.ftp_addr);
        let handle = self.shutdown_handle();
        let thread = std::thread::Builder::new().name("mioftpd".into()).spawn(move || self.run())?;
        Ok(RunningServer { addr, ftp_addr, handle, thread: Some(thread) })
    }

    /// Runs the event loop until shut down. Shutdown (a signal or the
    /// handle) is graceful: no new connections, idle sessions are told and
    /// closed, transfers in flight get until the grace period ends.
    pub fn run(mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(1024);
        log::info!("listening on {} (connection cap {})", self.addr, self.max_connections);
        if let Some(ftp) = self.ftp_addr {
            log::info!("FTP front end listening on {ftp}");
        }
        let mut turns = turns::Turns::new(Instant::now()); // loop-turn timing, logged at debug level
        loop {
            let now = Instant::now();
            if self.stop.load(Ordering::SeqCst) && self.grace_deadline.is_none() {
                self.begin_shutdown(now);
            }
            if let Some(deadline) = self.grace_deadline {
                if self.conns.is_empty() || now >= deadline {
                    break;
                }
            }
            let timeout = self.poll_timeout(now);
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue; // a signal; just poll again
                }
                return Err(e);
            }
            let now = Instant::now();
            self.turn += 1;
            // Connections still busy from the last turn share this one.
            self.turn_budget = turn_share(self.ready.len());
            for event in events.iter() {
                match event.token() {
                    // The stop flag, or finished jobs: both are read below.
                    WAKER => {}
                    SIGNALS => self.on_signals(),
                    token => {
                        if let Some(i) = listeners::index(token) {
                            self.accept(i, now);
                            continue;
                        }
                        let (key, ch) = split(token);
                        if ch != Channel::CONTROL {
                            self.channel_event(key, ch, event, now);
                            continue;
                        }
                        // Events for tokens already closed are ignored.
                        let Some(conn) = self.conns.get_mut(key) else { continue };
                        if event.is_readable() || event.is_read_closed() || event.is_error() {
                            conn.ready.can_read = true;
                        }
                        if event.is_writable() || event.is_write_closed() || event.is_error() {
                            conn.ready.can_write = true;
                        }
                        if conn.session.is_bulk() {
                            // Transfers go after the short requests of this
                            // turn, so a `dir` is not stuck behind them.
                            if !conn.queued {
                                conn.queued = true;
                                self.ready.push_back(key);
                            }
                            continue;
                        }
                        self.drive(key, now);
                    }
                }
            }
            self.complete_jobs(now);
            self.run_ready(now);
            self.fire_timers(now);
            if self.accept_paused_until.is_some_and(|t| t <= now) {
                self.accept_paused_until = None;
                for i in 0..self.listeners.len() {
                    self.accept(i, now);
                }
            }
            turns.end(now);
        }
        self.finish(Instant::now());
        Ok(())
    }

    fn poll_timeout(&self, now: Instant) -> Option<Duration> {
        if !self.ready.is_empty() {
            return Some(Duration::ZERO);
        }
        let next = [self.timers.next(), self.accept_paused_until, self.grace_deadline].into_iter().flatten().min();
        next.map(|t| t.saturating_duration_since(now))
    }

    /// Moves one connection forward, then files it: ready list, interest, timer.
    fn drive(&mut self, key: usize, now: Instant) {
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        conn.driven_turn = self.turn;
        let mut budget = Budget::new(self.turn_budget);
        let control = conn.pump(&mut self.svc, &mut self.scratch, now, &mut budget);
        if let Pumped::Close(reason) = control {
            return self.close(key, reason, now);
        }
        let data = self.pump_channels(key, &mut budget, now);
        if let Pumped::Close(reason) = data {
            return self.close(key, reason, now);
        }
        let Some(conn) = self.conns.get_mut(key) else { return };
        if (control == Pumped::Again || data == Pumped::Again) && !conn.queued {
            conn.queued = true;
            self.ready.push_back(key);
        }
        if self.serve_requests(key, now) {
            return; // the connection was closed or replaced and driven again
        }
        let Some(conn) = self.conns.get_mut(key) else { return };
        let wanted = conn.wanted_interest();
        if wanted != conn.interest {
            if let Err(e) = self.poll.registry().reregister(&mut conn.stream, token(key, Channel::CONTROL), wanted) {
                log::error!("session {}: reregister: {e}", conn.session.id());
                return self.close(key, CloseReason::PeerClosed, now);
            }
            conn.interest = wanted;
        }
        if conn.session.is_waiting() && !conn.waiting {
            conn.waiting = true;
            self.waiting.push(key);
        }
        let deadline = conn.deadline();
        if conn.timer != deadline {
            match deadline {
                Some(t) => self.timers.set(key, conn.timer, t),
                None => {
                    if let Some(old) = conn.timer {
                        self.timers.remove(key, old);
                    }
                }
            }
            conn.timer = deadline;
        }
    }

    /// Continues the connections queued before this pass. Ones that queue
    /// themselves again wait for the next turn, after fresh events.
    fn run_ready(&mut self, now: Instant) {
        for _ in 0..self.ready.len() {
            let Some(key) = self.ready.pop_front() else {
                break;
            };
            // The key may have been closed (and even reused) meanwhile;
            // driving a connection with nothing to do is harmless.
            let Some(conn) = self.conns.get_mut(key) else { continue };
            if conn.driven_turn == self.turn {
                // Already had its share this turn: next turn.
                self.ready.push_back(key);
                continue;
            }
            conn.queued = false;
            self.drive(key, now);
        }
    }

    fn fire_timers(&mut self, now: Instant) {
        while let Some(key) = self.timers.pop_due(now) {
            let Some(conn) = self.conns.get_mut(key) else {
                continue;
            };
            conn.timer = None;
            if self.expire_channels(key, now) {
                // A data channel did not open in time; the endpoint heard.
                self.drive(key, now);
                continue;
            }
            let Some(conn) = self.conns.get_mut(key) else { continue };
            if conn.session.poll_timeout().is_none_or(|t| t > now) {
                // The deadline moved while the timer was queued; re-file it.
                self.drive(key, now);
                continue;
            }
            conn.session.handle_timeout(now, &mut self.svc);
            let goes_on = conn.session.continues_after_timeout() && !conn.session.is_closed();
            if goes_on && conn.session.poll_timeout().is_some_and(|t| t > now) {
                // A timer of the endpoint's own (FTP's delayed 530), not
                // its end: it goes on, with its next deadline filed.
                self.drive(key, now);
                continue;
            }
            // One best-effort flush of the timeout notice, then close: a peer
            // that is not reading must not keep the connection alive.
            let mut budget = Budget::new(MAX_BUDGET);
            conn.ready.can_write = true;
            let _ = conn.pump(&mut self.svc, &mut self.scratch, now, &mut budget);
            self.close(key, CloseReason::Timeout, now);
        }
    }

    /// The one way out: tells the session, deregisters, frees the slot.
    fn close(&mut self, key: usize, reason: CloseReason, now: Instant) {
        if !self.conns.contains(key) {
            return;
        }
        let mut conn = self.conns.remove(key);
        if conn.admitted {
            self.release_ip(conn.session.peer().ip());
        }
        if let Some(t) = conn.timer {
            self.timers.remove(key, t);
        }
        let _ = self.poll.registry().deregister(&mut conn.stream);
        for chan in conn.chans.iter_mut().flatten() {
            chan.deregister(self.poll.registry());
        }
        log::debug!("session {}: closed ({reason:?})", conn.session.id());
        match conn.job {
            // The endpoint hears the job's end first, then the close.
            Some(tag) => self.orphan(tag, conn.session, reason),
            None => conn.session.on_close(reason, now, &mut self.svc),
        }
    }
}

#[cfg(test)]
mod tests;
