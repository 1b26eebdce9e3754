//! The PROXY protocol (HAProxy's, v1 text and v2 binary) at the start of a
//! connection, sans-IO: the driver feeds the bytes received so far and gets
//! a [`Step`] back; this module never reads a socket or a clock.
//!
//! The policy is fixed by [`ProxyReader::for_peer`]: a peer inside
//! `--proxy-from` is a trusted balancer and MUST start with a header (a
//! connection from it without one is refused, so a misconfigured balancer
//! cannot make every client look like the balancer); any other peer MUST NOT
//! send one (so a client cannot forge its address), and its first bytes are
//! only sniffed for the two signatures, never consumed.
//!
//! Framing is done here and bounded before any parsing: a v1 line is at most
//! 107 bytes (the spec's limit), a v2 header at most 16 + [`MAX_V2_PAYLOAD`]
//! bytes, refused as soon as its declared length is read. A complete header
//! is then parsed by the `ppp` crate. The real client address then replaces
//! the socket's peer for the audit logs, per-IP caps, the throttle and FTP's
//! data-port peer check; the driver bounds the wait with the handshake deadline.

use crate::netaddr::CidrList;
use ppp::v2;
use std::net::{IpAddr, SocketAddr};

/// The v1 signature, with its mandatory space.
pub const V1_PREFIX: &[u8] = b"PROXY ";
/// The v2 signature.
pub const V2_SIGNATURE: &[u8; 12] = b"\r\n\r\n\0\r\nQUIT\n";
/// Longest v1 header, CRLF included (the spec's figure).
pub const V1_MAX: usize = 107;
/// Fixed part of a v2 header: signature, version/command, family, length.
pub const V2_FIXED: usize = 16;
/// Largest v2 payload (addresses + TLVs) accepted. HAProxy's own TLVs
/// (ALPN, authority, unique id, SSL details) fit easily; the format allows
/// 65535, which would let a peer make us buffer 64 KiB before saying anything.
pub const MAX_V2_PAYLOAD: usize = 1024;

/// What the bytes seen so far amount to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Not decided yet: read more (within the handshake deadline).
    NeedMore,
    /// A header naming the real client. Drop `consumed` bytes; the rest
    /// belongs to the session.
    Done { peer: SocketAddr, consumed: usize },
    /// A valid header that carries no client address (v2 `LOCAL`, v1
    /// `UNKNOWN`, v2 `UNSPEC` or a UNIX-socket family): keep the socket's
    /// own peer. Drop `consumed` bytes.
    Local { consumed: usize },
    /// An untrusted peer whose first bytes are not a PROXY header: nothing is
    /// consumed, every byte goes to the session as usual.
    NoHeader,
    /// Refuse the connection (and record why).
    Error(ProxyError),
}

/// Why a connection was refused at the PROXY stage. `Copy`, with a stable
/// name for logs and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ProxyError {
    /// A trusted balancer's connection did not start with a header.
    #[error("a connection from a --proxy-from address must start with a PROXY header")]
    Missing,
    /// A peer outside `--proxy-from` sent a header.
    #[error("PROXY header from an address not in --proxy-from")]
    Untrusted,
    /// A v1 line with no CRLF within 107 bytes, or a v2 length over the limit.
    #[error("PROXY header too long")]
    TooLong,
    /// The header is not well formed.
    #[error("malformed PROXY header: {0}")]
    Malformed(&'static str),
}

impl ProxyError {
    /// A stable snake_case name (for the audit `reason` and a metric label).
    pub fn as_str(self) -> &'static str {
        match self {
            ProxyError::Missing => "proxy_missing",
            ProxyError::Untrusted => "proxy_untrusted",
            ProxyError::TooLong => "proxy_too_long",
            ProxyError::Malformed(_) => "proxy_malformed",
        }
    }
}

/// The PROXY stage of one connection. Stateless apart from the trust
/// decision: the driver feeds the whole buffer received so far each time
/// (it is at most 16 + [`MAX_V2_PAYLOAD`] bytes before a decision).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProxyReader {
    trusted: bool,
}

impl ProxyReader {
    /// The reader for a connection whose socket peer is `peer`: trusted if
    /// `peer` is in `from` (an empty list trusts no one, and then every
    /// header is refused).
    pub fn for_peer(peer: IpAddr, from: &CidrList) -> ProxyReader {
        ProxyReader { trusted: from.contains(peer) }
    }

    pub fn new(trusted: bool) -> ProxyReader {
        ProxyReader { trusted }
    }

    pub fn trusted(&self) -> bool {
        self.trusted
    }

    /// Decides on the bytes received so far (all of them, from the first).
    pub fn feed(&self, buf: &[u8]) -> Step {
        if self.trusted { read_header(buf) } else { sniff(buf) }
    }
}

/// Whether `buf` could still become `sig` (a prefix of it, or all of it and more).
fn may_be(buf: &[u8], sig: &[u8]) -> Match {
    let n = buf.len().min(sig.len());
    if buf[..n] != sig[..n] {
        Match::No
    } else if buf.len() >= sig.len() {
        Match::Yes
    } else {
        Match::Maybe
    }
}

#[derive(PartialEq)]
enum Match {
    No,
    Maybe,
    Yes,
}

/// An untrusted peer: refuse a header, pass anything else through.
fn sniff(buf: &[u8]) -> Step {
    match (may_be(buf, V1_PREFIX), may_be(buf, V2_SIGNATURE)) {
        (Match::Yes, _) | (_, Match::Yes) => Step::Error(ProxyError::Untrusted),
        (Match::No, Match::No) => Step::NoHeader,
        _ => Step::NeedMore,
    }
}

/// A trusted balancer: a header is mandatory.
fn read_header(buf: &[u8]) -> Step {
    match (may_be(buf, V1_PREFIX), may_be(buf, V2_SIGNATURE)) {
        (Match::Yes, _) => read_v1(buf),
        (_, Match::Yes) => read_v2(buf),
        (Match::No, Match::No) => Step::Error(ProxyError::Missing),
        _ => Step::NeedMore,
    }
}

fn read_v1(buf: &[u8]) -> Step {
    let window = &buf[..buf.len().min(V1_MAX)];
    let Some(cr) = window.windows(2).position(|w| w == b"\r\n") else {
        // A lone CR or LF inside the line is malformed; otherwise wait.
        if window.contains(&b'\n') || window[..window.len().saturating_sub(1)].contains(&b'\r') {
            return Step::Error(ProxyError::Malformed("v1 line must end with CRLF"));
        }
        return if buf.len() >= V1_MAX { Step::Error(ProxyError::TooLong) } else { Step::NeedMore };
    };
    if buf[..cr].iter().any(|&b| b == b'\r' || b == b'\n') {
        // The crate would take a lone CR for a separator; the spec does not.
        return Step::Error(ProxyError::Malformed("v1 line must end with CRLF"));
    }
    let consumed = cr + 2;
    match ppp::v1::Header::try_from(&buf[..consumed]) {
        Ok(header) => match header.addresses {
            ppp::v1::Addresses::Tcp4(a) => done(IpAddr::V4(a.source_address), a.source_port, consumed),
            ppp::v1::Addresses::Tcp6(a) => done(IpAddr::V6(a.source_address), a.source_port, consumed),
            // The spec: UNKNOWN means "use the connection's own addresses".
            ppp::v1::Addresses::Unknown => Step::Local { consumed },
        },
        Err(_) => Step::Error(ProxyError::Malformed("v1 header does not parse")),
    }
}

fn read_v2(buf: &[u8]) -> Step {
    if buf.len() < V2_FIXED {
        return Step::NeedMore;
    }
    let payload = usize::from(u16::from_be_bytes([buf[14], buf[15]]));
    if payload > MAX_V2_PAYLOAD {
        // Refused before waiting for it (bounded buffering).
        return Step::Error(ProxyError::TooLong);
    }
    if buf[12] >> 4 != 2 {
        return Step::Error(ProxyError::Malformed("v2 version is not 2"));
    }
    let consumed = V2_FIXED + payload;
    if buf.len() < consumed {
        return Step::NeedMore;
    }
    let header = match v2::Header::try_from(&buf[..consumed]) {
        Ok(h) => h,
        Err(_) => return Step::Error(ProxyError::Malformed("v2 header does not parse")),
    };
    if header.tlvs().any(|t| t.is_err()) {
        return Step::Error(ProxyError::Malformed("v2 TLVs overrun the header"));
    }
    match (header.command, header.addresses) {
        (v2::Command::Local, _) => Step::Local { consumed },
        (v2::Command::Proxy, _) if header.protocol == v2::Protocol::Datagram => {
            Step::Error(ProxyError::Malformed("v2 header describes a datagram connection"))
        }
        (v2::Command::Proxy, v2::Addresses::IPv4(a)) => done(IpAddr::V4(a.source_address), a.source_port, consumed),
        (v2::Command::Proxy, v2::Addresses::IPv6(a)) => done(IpAddr::V6(a.source_address), a.source_port, consumed),
        // UNSPEC or a UNIX socket on the balancer's side: no client IP to use.
        (v2::Command::Proxy, v2::Addresses::Unspecified | v2::Addresses::Unix(_)) => Step::Local { consumed },
    }
}

/// A `Done`, with an IPv4-mapped source turned into plain IPv4 so logs and
/// keys show one form.
fn done(ip: IpAddr, port: u16, consumed: usize) -> Step {
    Step::Done { peer: SocketAddr::new(ip.to_canonical(), port), consumed }
}

#[cfg(test)]
#[path = "proxy_tests.rs"]
mod tests;
