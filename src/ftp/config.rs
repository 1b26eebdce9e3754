//! The FTP front end's settings (`--ftp-*`), part of the server's
//! [`crate::config::Config`]. The front end is off unless `listen` is set.

use super::addr::PortRange;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

/// Default passive port range: 1,000 ports, enough for as many transfers
/// being set up at once (each PASV holds one port until its one accept).
pub const DEFAULT_PASSIVE_PORTS: PortRange = PortRange { first: 50_000, last: 50_999 };

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FtpConfig {
    /// Where the FTP control listener binds; `None`: no FTP front end.
    pub listen: Option<SocketAddr>,
    /// The ports PASV and EPSV listen on, tried in a random order.
    pub passive_ports: PortRange,
    /// The IPv4 address PASV announces instead of the control connection's
    /// local one (a server behind NAT).
    pub masquerade: Option<Ipv4Addr>,
    /// Whether PORT and EPRT are allowed (still only to the client's own
    /// address, on a port >= 1024).
    pub active: bool,
    /// Allow USER/PASS over connections that are not loopback (the password
    /// then crosses the network in clear).
    pub allow_plain_login: bool,
    /// How long a data connection may take to arrive (passive) or connect
    /// (active) after PASV/EPSV/PORT/EPRT.
    pub data_connect_timeout: Duration,
    /// A failed PASS is answered after this long (a timer, not a sleep).
    pub login_failure_delay: Duration,
    /// How long a verified password is remembered in memory, so the next
    /// login of the same user with the same password skips PBKDF2.
    /// `Duration::ZERO` turns the cache off. See docs/FTP.md §1.2.
    pub login_cache_ttl: Duration,
}

impl Default for FtpConfig {
    fn default() -> Self {
        FtpConfig {
            listen: None,
            passive_ports: DEFAULT_PASSIVE_PORTS,
            masquerade: None,
            active: false,
            allow_plain_login: false,
            data_connect_timeout: Duration::from_secs(30),
            login_failure_delay: Duration::from_secs(1),
            login_cache_ttl: Duration::from_secs(60),
        }
    }
}
