//! One connection as the driver holds it: a non-blocking socket, its
//! readiness, the endpoint that owns every protocol byte, and the data
//! channels the endpoint asked for (`super::channels`). Plus the
//! driver's bookkeeping (registered interest, timer, ready-list and
//! waiting-list membership); no protocol state lives here.

use super::channels::Chan;
use super::pump::{self, Pumped, Readiness};
use crate::services::Services;
use crate::session::{Budget, Channel, Endpoint};
use mio::Interest;
use mio::net::TcpStream;
use std::time::Instant;

pub struct Conn {
    pub stream: TcpStream,
    pub session: Box<dyn Endpoint>,
    pub ready: Readiness,
    /// Interest currently registered with the poller.
    pub interest: Interest,
    /// Deadline currently in the timer set.
    pub timer: Option<Instant>,
    /// Whether the key is already in the ready list.
    pub queued: bool,
    /// Whether the key is in the server's list of endpoints waiting for a job.
    pub waiting: bool,
    /// The tag of this connection's job in flight on the worker pool.
    pub job: Option<u64>,
    /// The loop turn in which the connection was last driven.
    pub driven_turn: u64,
    /// Counted in the per-IP table (false while a preamble runs).
    pub admitted: bool,
    /// Data channels 1.. (FTP), opened at the endpoint's request.
    pub chans: [Option<Chan>; Channel::MAX as usize - 1],
    /// The listener (index) that accepted the connection.
    pub listener: usize,
}

impl Conn {
    pub fn new(stream: TcpStream, session: Box<dyn Endpoint>, admitted: bool, listener: usize) -> Conn {
        Conn {
            stream,
            session,
            ready: Readiness::fresh(),
            interest: Interest::READABLE,
            timer: None,
            queued: false,
            waiting: false,
            job: None,
            driven_turn: 0,
            admitted,
            chans: Default::default(),
            listener,
        }
    }

    /// The next instant the driver must act for this connection: the
    /// endpoint's deadline, or a channel's deadline to open.
    pub fn deadline(&self) -> Option<Instant> {
        let chans = self.chans.iter().flatten().filter_map(Chan::deadline);
        self.session.poll_timeout().into_iter().chain(chans).min()
    }

    /// The interest the control connection's state calls for.
    pub fn wanted_interest(&self) -> Interest {
        pump::interest(&*self.session, Channel::CONTROL, &self.stream)
    }

    /// Moves the control connection's bytes (see [`pump::pump`]).
    pub fn pump(&mut self, svc: &mut Services, scratch: &mut [u8], now: Instant, budget: &mut Budget) -> Pumped {
        pump::pump(&mut *self.session, Channel::CONTROL, &mut self.stream, &mut self.ready, scratch, budget, now, svc)
    }
}
