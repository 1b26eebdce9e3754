//! What the FTP listener (`--ftp-listen`) starts for each connection: an
//! [`FtpSession`], on a socket with `SO_OOBINLINE` set, so that an ABOR sent
//! as TCP urgent data (as Python's ftplib and others send it, RFC 959
//! §4.1.3) stays in the byte stream where the line decoder finds it,
//! instead of being taken out of band and lost. A connection refused at
//! admission gets `421` instead of the native protocol's error frame.

use super::FtpSession;
use crate::services::Services;
use crate::session::{Acceptor, Endpoint};
use std::io;
use std::net::SocketAddr;
use std::os::fd::BorrowedFd;
use std::time::Instant;

/// The FTP front end's acceptor.
pub struct FtpAcceptor {
    /// The listener's address, the local address when the driver does not
    /// give one.
    listen: SocketAddr,
}

impl FtpAcceptor {
    pub fn new(svc: &Services) -> io::Result<FtpAcceptor> {
        let listen = svc.config.ftp.listen.ok_or_else(|| io::Error::other("the FTP front end is not configured"))?;
        Ok(FtpAcceptor { listen })
    }
}

impl Acceptor for FtpAcceptor {
    fn start(&mut self, id: u64, peer: SocketAddr, now: Instant, svc: &Services) -> io::Result<Box<dyn Endpoint>> {
        Ok(Box::new(FtpSession::new(id, peer, self.listen, now, svc)))
    }

    fn start_at(
        &mut self,
        id: u64,
        peer: SocketAddr,
        local: SocketAddr,
        now: Instant,
        svc: &Services,
    ) -> io::Result<Box<dyn Endpoint>> {
        Ok(Box::new(FtpSession::new(id, peer, local, now, svc)))
    }

    fn configure(&self, socket: BorrowedFd<'_>) -> io::Result<()> {
        rustix::net::sockopt::set_socket_oobinline(socket, true).map_err(io::Error::from)
    }

    fn busy_reply(&self, message: &str) -> Vec<u8> {
        // 421: the server closes the connection after it (RFC 959).
        crate::ftp::reply::Reply::new(421, format!("Too many connections; try again later ({message}).")).to_bytes()
    }
}
