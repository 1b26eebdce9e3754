//! The mio driver: one thread, one `Poll`, a listener and a `Slab` of
//! connections whose keys are their tokens.
//!
//! Each loop turn: poll with the next deadline (or zero if the ready list has
//! work) as timeout; drive every connection that got an event; continue the
//! connections queued on the ready list by an earlier turn; fire due timers.
//! Driving a connection is bounded by a byte budget, so one busy peer cannot
//! starve the others. There is one way out for a connection, [`Server::close`].

mod admission;
mod conn;
mod timers;

use crate::config::Config;
use crate::services::Services;
use crate::session::CloseReason;
use conn::{Conn, Pumped};
use mio::net::TcpListener;
use mio::{Events, Interest, Poll, Token, Waker};
use slab::Slab;
use std::collections::{HashMap, VecDeque};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use timers::Timers;

const LISTENER: Token = Token(usize::MAX - 1);
const WAKER: Token = Token(usize::MAX - 2);
const SIGNALS: Token = Token(usize::MAX - 3);

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

/// A per-turn byte allowance for one connection.
#[derive(Debug)]
pub struct Budget(usize);

impl Budget {
    /// The allowance when `busy` connections share a turn.
    pub fn for_turn(busy: usize) -> Budget {
        Budget((TURN_BYTES / busy.max(1)).clamp(MIN_BUDGET, MAX_BUDGET))
    }
    /// Bytes left.
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

/// Stops a running server from another thread.
#[derive(Clone)]
pub struct ShutdownHandle {
    stop: Arc<AtomicBool>,
    waker: Arc<Waker>,
}

impl ShutdownHandle {
    /// Asks the server to stop; `run` returns soon after.
    pub fn shutdown(&self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.waker.wake();
    }
}

/// A server running on its own thread; stops when dropped.
pub struct RunningServer {
    pub addr: SocketAddr,
    handle: ShutdownHandle,
    thread: Option<std::thread::JoinHandle<io::Result<()>>>,
}

impl RunningServer {
    /// Stops the server and returns how its loop ended.
    pub fn stop(mut self) -> io::Result<()> {
        self.stop_inner()
    }

    fn stop_inner(&mut self) -> io::Result<()> {
        self.handle.shutdown();
        match self.thread.take().map(|t| t.join()) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(io::Error::other("the server thread panicked")),
            None => Ok(()),
        }
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        let _ = self.stop_inner();
    }
}

/// The server: bind with [`Server::bind`], then [`Server::run`].
pub struct Server {
    poll: Poll,
    /// `None` once shutdown has begun: new connections are refused.
    listener: Option<TcpListener>,
    addr: SocketAddr,
    conns: Slab<Conn>,
    svc: Services,
    timers: Timers,
    ready: VecDeque<usize>,
    scratch: Box<[u8]>,
    next_session: u64,
    stop: Arc<AtomicBool>,
    waker: Arc<Waker>,
    accept_paused_until: Option<Instant>,
    /// Connections whose session waits for a user's usage scan.
    waiting: Vec<usize>,
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
    /// Opens the data root and binds the listener.
    pub fn bind(config: Config) -> io::Result<Server> {
        Server::bind_services(Services::open(config)?)
    }

    /// Binds the listener for services already open (say, on another
    /// storage than the disk).
    pub fn bind_services(svc: Services) -> io::Result<Server> {
        let listen = svc.config.listen;
        let max_connections = admission::connection_cap(svc.config.max_connections);
        let poll = Poll::new()?;
        let mut listener = TcpListener::bind(listen)?;
        poll.registry().register(&mut listener, LISTENER, Interest::READABLE)?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        Ok(Server {
            poll,
            addr: listener.local_addr()?,
            listener: Some(listener),
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
            per_ip: HashMap::new(),
            max_connections,
            signals: None,
            grace_deadline: None,
            spare_fd: std::fs::File::open("/dev/null").ok(),
            turn: 0,
            turn_budget: MAX_BUDGET,
        })
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

    /// A handle that stops [`Server::run`] from another thread.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle { stop: self.stop.clone(), waker: self.waker.clone() }
    }

    /// Runs the server on a background thread (for tests, benchmarks and
    /// embedding). Dropping the returned handle stops it and waits.
    pub fn spawn(self) -> io::Result<RunningServer> {
        let addr = self.local_addr()?;
        let handle = self.shutdown_handle();
        let thread = std::thread::Builder::new().name("mioftpd".into()).spawn(move || self.run())?;
        Ok(RunningServer { addr, handle, thread: Some(thread) })
    }

    /// Runs the event loop until shut down. Shutdown (a signal or the
    /// handle) is graceful: no new connections, idle sessions are told and
    /// closed, transfers in flight get until the grace period ends.
    pub fn run(mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(1024);
        log::info!("listening on {} (connection cap {})", self.addr, self.max_connections);
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
            self.turn_budget = Budget::for_turn(self.ready.len()).left();
            for event in events.iter() {
                match event.token() {
                    LISTENER => self.accept(now),
                    WAKER => {} // the loop reads the flag
                    SIGNALS => self.on_signals(),
                    Token(key) => {
                        // Events for tokens already closed are ignored.
                        let Some(conn) = self.conns.get_mut(key) else { continue };
                        if event.is_readable() || event.is_read_closed() || event.is_error() {
                            conn.can_read = true;
                        }
                        if event.is_writable() || event.is_write_closed() || event.is_error() {
                            conn.can_write = true;
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
            self.run_ready(now);
            self.run_scans(now);
            self.fire_timers(now);
            if self.accept_paused_until.is_some_and(|t| t <= now) {
                self.accept_paused_until = None;
                self.accept(now);
            }
        }
        self.finish(Instant::now());
        Ok(())
    }

    fn on_signals(&mut self) {
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
    fn begin_shutdown(&mut self, now: Instant) {
        let grace = self.svc.config.shutdown_grace;
        self.grace_deadline = Some(now + grace);
        if let Some(mut listener) = self.listener.take() {
            let _ = self.poll.registry().deregister(&mut listener);
        }
        let keys: Vec<usize> = self.conns.iter().map(|(k, _)| k).collect();
        log::info!("shutdown: {} connection(s) open, grace {grace:?}", keys.len());
        for key in keys {
            if let Some(conn) = self.conns.get_mut(key) {
                conn.session.begin_shutdown();
                conn.can_write = true;
            }
            self.drive(key, now);
        }
    }

    fn poll_timeout(&self, now: Instant) -> Option<Duration> {
        if !self.ready.is_empty() || self.svc.users.scanning() {
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
        let mut budget = Budget(self.turn_budget);
        match conn.pump(&mut self.svc, &mut self.scratch, now, &mut budget) {
            Pumped::Close(reason) => return self.close(key, reason, now),
            Pumped::Again if !conn.queued => {
                conn.queued = true;
                self.ready.push_back(key);
            }
            _ => {}
        }
        let wanted = conn.wanted_interest();
        if wanted != conn.interest {
            if let Err(e) = self.poll.registry().reregister(&mut conn.stream, Token(key), wanted) {
                log::error!("session {}: reregister: {e}", conn.session.id());
                return self.close(key, CloseReason::PeerClosed, now);
            }
            conn.interest = wanted;
        }
        if conn.session.is_waiting() && !conn.waiting {
            conn.waiting = true;
            self.waiting.push(key);
        }
        let deadline = conn.session.deadline(&self.svc);
        if conn.timer != Some(deadline) {
            self.timers.set(key, conn.timer, deadline);
            conn.timer = Some(deadline);
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

    /// Advances usage scans a bounded step, then lets sessions that waited
    /// for a finished scan continue.
    fn run_scans(&mut self, now: Instant) {
        if !self.svc.users.scanning() || !self.svc.users.tick(crate::users::SCAN_BUDGET) {
            return;
        }
        for key in std::mem::take(&mut self.waiting) {
            let Some(conn) = self.conns.get_mut(key) else { continue };
            conn.waiting = false;
            conn.session.resume(now, &mut self.svc);
            self.drive(key, now);
        }
    }

    fn fire_timers(&mut self, now: Instant) {
        while let Some(key) = self.timers.pop_due(now) {
            let Some(conn) = self.conns.get_mut(key) else {
                continue;
            };
            conn.timer = None;
            if conn.session.deadline(&self.svc) > now {
                // The deadline moved while the timer was queued; re-file it.
                self.drive(key, now);
                continue;
            }
            conn.session.on_timeout(now, &mut self.svc);
            // One best-effort flush of the timeout notice, then close: a peer
            // that is not reading must not keep the connection alive.
            let mut budget = Budget(MAX_BUDGET);
            conn.can_write = true;
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
        let ip = conn.session.peer().ip();
        if let Some(n) = self.per_ip.get_mut(&ip) {
            *n -= 1;
            if *n == 0 {
                self.per_ip.remove(&ip);
            }
        }
        conn.session.on_close(reason, now, &mut self.svc);
        if let Some(t) = conn.timer {
            self.timers.remove(key, t);
        }
        let _ = self.poll.registry().deregister(&mut conn.stream);
        log::debug!("session {}: closed ({reason:?})", conn.session.id());
    }

    /// Cuts whatever is still open (their partials stay resumable and get
    /// `incomplete` records), then flushes the logs.
    fn finish(&mut self, now: Instant) {
        let keys: Vec<usize> = self.conns.iter().map(|(k, _)| k).collect();
        if !keys.is_empty() {
            log::info!("shutdown: grace period over; cutting {} connection(s)", keys.len());
        }
        for key in keys {
            self.close(key, CloseReason::Shutdown, now);
        }
        self.svc.audit.sync();
        log::info!("server stopped");
    }
}
